package main

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// ingestResult is one ingest run: a full sync of n records from the demo
// provider over HTTP into records, then an incremental cycle with 1%
// changed, and the raw COPY ceiling for the same rows, side by side.
type ingestResult struct {
	Records        int
	FullSeconds    float64
	FullRate       float64
	CopySeconds    float64
	CopyRate       float64
	IncrChanged    int
	IncrSeconds    float64
	IncrWritten    int
	WorkerPeakMiB  float64
	WorkerCPU      float64
	FractionOfCopy float64
}

func runIngest(ctx context.Context, bin string, n int, logf func(string, ...any)) (r ingestResult, err error) {
	r.Records = n
	e, err := newEnv(ctx, backend{name: backendSQLite})
	if err != nil {
		return r, err
	}
	defer e.close()
	logf("ingest %d: seeding the demo provider", n)
	srv := democrm.NewServer(democrm.Options{Size: -1, Seed: 1, Sizes: map[string]int{"accounts": n}})
	url, stopDemo, err := serve(srv)
	if err != nil {
		return r, err
	}
	defer stopDemo()
	// The ceiling is measured right before and right after the sync and
	// averaged, so load on the machine hits both sides alike.
	logf("ingest %d: raw COPY ceiling (before)", n)
	snapshot := srv.Snapshot("accounts")
	before, err := copyCeiling(ctx, e.store, snapshot, "bench_copy_before")
	if err != nil {
		return r, err
	}
	queue := fmt.Sprintf("bench-ingest-%d", n)
	w, err := e.startWorker(bin, queue, url)
	if err != nil {
		return r, err
	}
	defer func() { r.WorkerCPU, r.WorkerPeakMiB = w.stop() }()
	svc := &control.Service{Store: e.store, Client: e.client(), Namespace: e.namespace(), TaskQueue: queue}
	k := model.ObjectKey{Tenant: "bench", Provider: "demo", ObjectType: "accounts"}
	logf("ingest %d: full sync", n)
	w.profile(true)
	obj, _, err := svc.Add(ctx, control.AddRequest{Key: k, Interval: 24 * time.Hour})
	if err != nil {
		return r, err
	}
	full, err := waitCycle(ctx, e.store, obj.ID, 1, 30*time.Minute)
	if err != nil {
		return r, err
	}
	if full.Status != model.StatusCompleted || full.Counts.New != n {
		return r, fmt.Errorf("full sync: %s with %d new records; want Completed with %d (%s)", full.Status, full.Counts.New, n, full.Error)
	}
	w.profile(false)
	r.FullSeconds = full.EndedAt.Sub(*full.StartedAt).Seconds()
	for _, s := range full.Steps {
		if s.StartedAt != nil && s.EndedAt != nil {
			logf("ingest %d: step %s %.2fs (%d batches)", n, s.Name, s.EndedAt.Sub(*s.StartedAt).Seconds(), s.BatchesOK)
		}
	}
	r.FullRate = float64(n) / r.FullSeconds

	r.IncrChanged = max(n/100, 1)
	srv.Change("accounts", r.IncrChanged)
	logf("ingest %d: incremental cycle with %d changed", n, r.IncrChanged)
	if _, err := svc.SyncNow(ctx, k, "benchmark"); err != nil {
		return r, err
	}
	incr, err := waitCycle(ctx, e.store, obj.ID, 2, 10*time.Minute)
	if err != nil {
		return r, err
	}
	r.IncrSeconds = incr.EndedAt.Sub(*incr.StartedAt).Seconds()
	r.IncrWritten = incr.Counts.Written()

	logf("ingest %d: raw COPY ceiling (after)", n)
	after, err := copyCeiling(ctx, e.store, snapshot, "bench_copy_after")
	if err != nil {
		return r, err
	}
	r.CopySeconds = (before + after) / 2
	r.CopyRate = float64(n) / r.CopySeconds
	r.FractionOfCopy = r.FullRate / r.CopyRate
	return r, nil
}

// copyCeiling times a raw pgx CopyFrom of the same records into a table of
// the same shape as records (same columns, same primary key).
func copyCeiling(ctx context.Context, st *store.Store, snapshot map[string]json.RawMessage, table string) (float64, error) {
	if _, err := st.Pool.Exec(ctx, `CREATE TABLE `+table+` (LIKE records INCLUDING DEFAULTS INCLUDING INDEXES)`); err != nil {
		return 0, err
	}
	type row struct {
		id   string
		data []byte
	}
	rows := make([]row, 0, len(snapshot))
	for id, data := range snapshot {
		rows = append(rows, row{id, data})
	}
	now := time.Now()
	start := time.Now()
	_, err := st.Pool.CopyFrom(ctx, pgx.Identifier{table}, []string{"object_id", "external_id", "data", "hash", "modified_at", "cycle_seq"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			h := md5.Sum(rows[i].data)
			return []any{int64(1), rows[i].id, rows[i].data, h[:], now, 1}, nil
		}))
	return time.Since(start).Seconds(), err
}

// waitCycle waits for the object's cycle seq to end.
func waitCycle(ctx context.Context, st *store.Store, objectID int64, seq int, timeout time.Duration) (store.Cycle, error) {
	deadline := time.Now().Add(timeout)
	for {
		cycles, err := st.ListCycles(ctx, objectID, 1000)
		if err != nil {
			return store.Cycle{}, err
		}
		for _, c := range cycles {
			if c.Seq == seq && c.Status.Final() {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			return store.Cycle{}, fmt.Errorf("cycle #%d of object %d did not end within %s", seq, objectID, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
