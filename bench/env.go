package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/store"
)

// env is one benchmark's world: a fresh Temporal server (in process on
// SQLite, or temporalpg on PostgreSQL), a fresh PostgreSQL schema for
// syncloop, and (optionally) a worker process.
type env struct {
	srv    temporalServer
	store  *store.Store
	schema string
	drop   func()
	// histories caches run histories read after the measurement.
	histories map[string][]*historypb.HistoryEvent
}

func newEnv(ctx context.Context, be backend) (*env, error) {
	// PostgreSQL first: NewSchemaStore starts it if it is down, and
	// temporalpg needs it.
	st, drop, err := testenv.NewSchemaStore(ctx)
	if err != nil {
		return nil, err
	}
	var schema string
	if err := st.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		drop()
		return nil, err
	}
	srv, err := startTemporal(ctx, be)
	if err != nil {
		drop()
		return nil, err
	}
	return &env{srv: srv, store: st, schema: schema, drop: drop}, nil
}

func (e *env) client() client.Client { return e.srv.Client() }
func (e *env) namespace() string     { return e.srv.Namespace() }

func (e *env) close() {
	e.drop()
	e.srv.Stop()
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
		"TEMPORAL_ADDRESS="+e.srv.HostPort(),
		"TEMPORAL_NAMESPACE="+e.namespace(),
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

// profile starts (on) or ends the worker's CPU profile when
// BENCH_WORKER_CPUPROFILE_DIR is set (see bench/worker).
func (w *workerProc) profile(on bool) {
	dir := os.Getenv("BENCH_WORKER_CPUPROFILE_DIR")
	if dir == "" {
		return
	}
	// SIGUSR1 ends a process that does not handle it: wait for the
	// worker's handler.
	ready := filepath.Join(dir, fmt.Sprintf("ready-%d", w.cmd.Process.Pid))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log.Printf("worker %d: no profile (not bench/worker?)", w.cmd.Process.Pid)
			return
		}
	}
	if on {
		_ = w.cmd.Process.Signal(syscall.SIGUSR1)
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGUSR2)
	// Wait for the profile to be complete (bench/worker renames it then):
	// a worker stopped while it writes leaves an unreadable file.
	partial := filepath.Join(dir, fmt.Sprintf("worker-%d-*.pprof.partial", w.cmd.Process.Pid))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m, _ := filepath.Glob(partial); len(m) == 0 {
			return
		}
	}
	log.Printf("worker %d: its profile was not complete after 30 s", w.cmd.Process.Pid)
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

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times (100
// on every Linux the benchmark runs on).
const clockTicks = 100

// cpu returns the worker's CPU seconds so far (user + system), read from
// /proc while it runs; 0 if it cannot be read.
func (w *workerProc) cpu() float64 { return procCPU(w.cmd.Process.Pid) }

// procCPU is a process's CPU seconds so far (user + system), from
// /proc/<pid>/stat; 0 if it cannot be read.
func procCPU(pid int) float64 {
	cpu, _, _ := procStat(pid)
	return cpu
}

// procStat reads a process's CPU seconds (user + system), those of its
// children it has waited for, and its command name from
// /proc/<pid>/stat; comm is "" if it cannot be read.
func procStat(pid int) (cpu, children float64, comm string) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, ""
	}
	// The command name (field 2, in parentheses) may hold spaces: count
	// from its ")".
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	j := strings.IndexByte(s, '(')
	if i < 0 || j < 0 || j > i {
		return 0, 0, ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, ""
	}
	ticks := func(k int) float64 { v, _ := strconv.ParseFloat(f[k], 64); return v / clockTicks }
	// Fields 14 and 15 (utime, stime), 16 and 17 (cutime, cstime).
	return ticks(11) + ticks(12), ticks(13) + ticks(14), s[j+1 : i]
}

// postgresCPU is the CPU seconds so far of every PostgreSQL process on
// this machine (the postmaster, its background processes and every
// connection's backend, with the backends that exited: the postmaster
// waits for them, so their CPU is its children's), and whether any was
// found.
func postgresCPU() (float64, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	var total float64
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cpu, children, comm := procStat(pid); comm == "postgres" {
			total += cpu + children
			found = true
		}
	}
	return total, found
}

// freeAddr returns a free loopback host:port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
