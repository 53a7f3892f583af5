package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
)

// BenchmarkWatcherReconcile measures one watcher reconcile at 1,000 and
// 10,000 objects: the Temporal calls it makes and its wall time, both for
// the first run (every loop missing: one start per object) and for the
// steady state (every loop running: one visibility page per 1000 loops).
//
//	go test -run '^$' -bench WatcherReconcile -benchtime 1x ./e2e/
func BenchmarkWatcherReconcile(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st, drop, err := testenv.NewSchemaStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer drop()
			tenant := fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6)
			if _, err := st.Pool.Exec(ctx, `INSERT INTO integration_objects (tenant, provider, object_type)
				SELECT $1, 'demo', 'o' || g FROM generate_series(1, $2) g`, tenant, n); err != nil {
				b.Fatal(err)
			}
			c := temporal.GetDefaultClient()
			// No worker polls this queue: loops start and wait, which is all
			// reconcile needs to see.
			svc := &control.Service{Store: st, Client: c, Namespace: temporal.GetDefaultNamespace(), TaskQueue: "bench-" + tenant}
			w := &activities.Watcher{Store: st, Temporal: c, Namespace: svc.Namespace, TaskQueue: svc.TaskQueue, Loops: svc}
			for i := 0; i < b.N; i++ {
				start := time.Now()
				cold, err := w.Reconcile(ctx)
				if err != nil || len(cold.Started) != n {
					b.Fatalf("first reconcile: started %d of %d: %v %v", len(cold.Started), n, err, cold.Failed)
				}
				coldTime := time.Since(start)
				// Visibility is eventually consistent: wait until it lists them all.
				deadline := time.Now().Add(5 * time.Minute)
				for {
					running, _, err := svc.RunningLoops(ctx)
					if err == nil && countTenant(running, tenant) >= n {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("visibility lists %d of %d loops", countTenant(running, tenant), n)
					}
					time.Sleep(time.Second)
				}
				start = time.Now()
				steady, err := w.Reconcile(ctx)
				if err != nil || len(steady.Started) != 0 {
					b.Fatalf("steady reconcile started %d: %v", len(steady.Started), err)
				}
				b.ReportMetric(float64(cold.Calls), "calls/first-run")
				b.ReportMetric(float64(steady.Calls), "calls/steady-run")
				b.ReportMetric(float64(coldTime.Milliseconds()), "ms/first-run")
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/steady-run")
				for wid := range running(ctx, svc) {
					if len(wid) > 0 && containsTenant(wid, tenant) {
						_ = c.TerminateWorkflow(ctx, wid, "", "benchmark over")
					}
				}
			}
		})
	}
}

func running(ctx context.Context, svc *control.Service) map[string]string {
	m, _, _ := svc.RunningLoops(ctx)
	return m
}

func containsTenant(wid, tenant string) bool {
	return len(wid) > 5+len(tenant) && wid[5:5+len(tenant)] == tenant
}

func countTenant(m map[string]string, tenant string) int {
	n := 0
	for wid := range m {
		if containsTenant(wid, tenant) {
			n++
		}
	}
	return n
}
