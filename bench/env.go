package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/internal/testtemporal"
	"github.com/syncloop/syncloop/store"
)

// env is one benchmark's world: an in-process Temporal server, a fresh
// PostgreSQL schema, and (optionally) a worker process.
type env struct {
	ts     *temporaltest.TestServer
	store  *store.Store
	schema string
	drop   func()
}

func newEnv(ctx context.Context) (*env, error) {
	ts, err := testtemporal.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	st, drop, err := testenv.NewSchemaStore(ctx)
	if err != nil {
		ts.Stop()
		return nil, err
	}
	var schema string
	if err := st.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, err
	}
	return &env{ts: ts, store: st, schema: schema, drop: drop}, nil
}

func (e *env) close() {
	e.drop()
	e.ts.Stop()
}

// workerProc is the syncloop worker as its own process, so its CPU time
// and peak memory are its own.
type workerProc struct {
	cmd *exec.Cmd
}

// buildWorker compiles a worker main package (./worker or ./bench/worker).
func buildWorker(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(filepath.Dir(pkg+"/x"))+"-"+fmt.Sprint(len(pkg)))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build worker: %v: %s", err, out)
	}
	return bin, nil
}

func (e *env) startWorker(bin, queue, demoURL string, extraEnv ...string) (*workerProc, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"SYNCLOOP_DEMO_URL="+demoURL,
		"TEMPORAL_ADDRESS="+e.ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+e.ts.GetDefaultNamespace(),
		"DATABASE_URL="+testenv.TestURL()+"&search_path="+e.schema,
		"SYNCLOOP_TASK_QUEUE="+queue,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	logf, err := os.CreateTemp("", "bench-worker-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &workerProc{cmd: cmd}, nil
}

// stop ends the worker and returns its CPU seconds and peak RSS in MiB.
func (w *workerProc) stop() (cpu float64, peakMiB float64) {
	peakMiB = w.peakRSS()
	_ = w.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
	if st := w.cmd.ProcessState; st != nil {
		cpu = (st.UserTime() + st.SystemTime()).Seconds()
	}
	return cpu, peakMiB
}

// peakRSS reads VmHWM (the high-water mark of resident memory).
func (w *workerProc) peakRSS() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// serve starts an HTTP server on a free loopback port.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
