package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/workflows"
)

// cluster is what every scenario of a test run shares: the worker binary,
// a PostgreSQL server of its own, and a Temporal server persisted in SQLite
// (the dev stack's), which can be restarted with its workflows. Each
// scenario has its own PostgreSQL schema, task queue, tenant and provider.
type cluster struct {
	workerBin string
	tmp       string
	pg        *privatePostgres

	mu       sync.RWMutex
	cfg      devstack.Config
	stack    *devstack.Stack
	hostPort string
	drop     func()
	logFile  *os.File
}

var (
	setupOnce sync.Once
	shared    *cluster
	setupErr  error
)

// setup starts the shared cluster once per test process.
func setup(t *testing.T) *cluster {
	t.Helper()
	setupOnce.Do(func() { shared, setupErr = startCluster() })
	if setupErr != nil {
		t.Fatalf("chaos setup: %v", setupErr)
	}
	return shared
}

func teardown() {
	if shared != nil {
		shared.stop()
	}
}

func startCluster() (*cluster, error) {
	tmp, err := os.MkdirTemp("", "syncloop-chaos-")
	if err != nil {
		return nil, err
	}
	c := &cluster{tmp: tmp}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	began := time.Now()
	if c.pg, err = startPrivatePostgres(); err != nil {
		return nil, fmt.Errorf("start the suite's PostgreSQL: %w", err)
	}
	// Every store, schema and worker of this test process uses it.
	if err := os.Setenv("TEST_DATABASE_URL", c.pg.url()); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "chaos: PostgreSQL (in %s) up at 127.0.0.1:%d in %s\n", c.pg.dir, c.pg.port, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	if c.workerBin, err = buildWorker(tmp); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "chaos: built the worker in %s\n", time.Since(began).Round(time.Millisecond))

	// The dev stack needs a database of its own; its in-process worker
	// polls a queue no loop uses, so every cycle runs in a child worker.
	st, drop, err := testenv.NewSchemaStore(context.Background())
	if err != nil {
		return nil, err
	}
	c.drop = drop
	var schema string
	if err := st.Pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, err
	}
	if c.logFile, err = os.Create(filepath.Join(tmp, "stack.log")); err != nil {
		return nil, err
	}
	c.cfg = devstack.Config{
		DataDir:           filepath.Join(tmp, "temporal"),
		DatabaseURL:       withSearchPath(testenv.TestURL(), schema),
		TaskQueue:         "chaos-devstack-idle",
		Logger:            slog.New(slog.NewTextHandler(c.logFile, &slog.HandlerOptions{Level: slog.LevelWarn})),
		TemporalLogLevel:  slog.LevelError,
		Demo:              democrm.Options{Size: -1},
		SkipSeed:          true,
		WatcherEvery:      24 * time.Hour,
		WatcherOptions:    workflows.WatcherOptions{Retention: 100_000},
		WorkerStopTimeout: time.Millisecond,
	}
	began = time.Now()
	if err := c.startStack(context.Background()); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "chaos: Temporal (SQLite in %s) up at %s in %s\n", c.cfg.DataDir, c.hostPort, time.Since(began).Round(time.Millisecond))
	ok = true
	return c, nil
}

func (c *cluster) startStack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, c.cfg)
	if err != nil {
		return fmt.Errorf("start Temporal (dev stack): %w", err)
	}
	hp := s.Addresses().Temporal
	_, port, err := net.SplitHostPort(hp)
	if err != nil {
		_ = s.Stop()
		return err
	}
	// Restarts must come back on the same port: the workers keep dialling it.
	c.cfg.TemporalPort, _ = strconv.Atoi(port)
	c.stack, c.hostPort = s, hp
	return nil
}

func (c *cluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stack != nil {
		_ = c.stack.Stop()
		c.stack = nil
	}
	if c.drop != nil {
		c.drop()
		c.drop = nil
	}
	if c.logFile != nil {
		_ = c.logFile.Close()
	}
	if c.pg != nil {
		c.pg.stop()
		c.pg = nil
	}
	if c.tmp != "" {
		_ = os.RemoveAll(c.tmp)
	}
}

// client returns the current Temporal client (a new one after a restart).
func (c *cluster) client() client.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stack.Client
}

// restartTemporal stops the Temporal server, keeps it down for `down`, and
// starts it again on the same SQLite file and port.
func (c *cluster) restartTemporal(down time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stack.Stop(); err != nil {
		return fmt.Errorf("stop Temporal: %w", err)
	}
	time.Sleep(down)
	var err error
	for range 3 { // the port may linger for a moment
		if err = c.startStack(context.Background()); err == nil {
			return nil
		}
		time.Sleep(2 * time.Second)
	}
	return err
}

// buildWorker compiles ./worker once per test process.
func buildWorker(dir string) (string, error) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	bin := filepath.Join(dir, "syncloop-worker")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/syncloop/syncloop/worker")
	cmd.Dir = ".." // the module root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./worker: %v: %s", err, out)
	}
	return bin, nil
}

func withSearchPath(raw, schema string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// proc is a worker child process under a supervisor that restarts it when
// it exits (as systemd's Restart=always would), unless held.
type proc struct {
	name    string
	bin     string
	env     []string
	logPath string

	mu        sync.Mutex
	cond      *sync.Cond
	cmd       *exec.Cmd
	exited    chan struct{}
	killedPid int
	hold      bool
	closing   bool
	starts    int
	crashes   int
	done      chan struct{}
}

func startProc(name, bin, logPath string, env []string) *proc {
	p := &proc{name: name, bin: bin, env: env, logPath: logPath, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.supervise()
	return p
}

func (p *proc) supervise() {
	defer close(p.done)
	// Children get SIGKILL if this thread dies (the test binary panics on
	// its timeout, or is killed): no worker outlives the test. Pdeathsig
	// follows the creating thread, hence the lock.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer logf.Close()
	for {
		p.mu.Lock()
		for p.hold && !p.closing {
			p.cond.Wait()
		}
		if p.closing {
			p.mu.Unlock()
			return
		}
		cmd := exec.Command(p.bin)
		cmd.Env = p.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stdout, cmd.Stderr = logf, logf
		fmt.Fprintf(logf, "=== chaos: starting %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
		if err := cmd.Start(); err != nil {
			p.mu.Unlock()
			fmt.Fprintf(logf, "=== chaos: cannot start %s: %v\n", p.name, err)
			time.Sleep(time.Second)
			continue
		}
		exited := make(chan struct{})
		p.cmd, p.exited = cmd, exited
		p.starts++
		p.cond.Broadcast()
		p.mu.Unlock()

		err := cmd.Wait()
		close(exited)
		p.mu.Lock()
		p.cmd = nil
		killed := p.killedPid == cmd.Process.Pid
		if !killed && !p.closing {
			// Expected while Temporal or PostgreSQL is down at start-up.
			p.crashes++
		}
		closing := p.closing
		p.mu.Unlock()
		fmt.Fprintf(logf, "=== chaos: %s (pid %d) exited at %s: %v (killed by the test: %t)\n",
			p.name, cmd.Process.Pid, time.Now().Format(time.RFC3339Nano), err, killed)
		if closing {
			return
		}
		if killed {
			time.Sleep(between(50*time.Millisecond, 700*time.Millisecond))
		} else {
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// kill SIGKILLs the running process (and keeps it down if hold) and waits
// until it is gone. It reports false if no process was running.
func (p *proc) kill(hold bool) bool {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	if cmd == nil {
		p.mu.Unlock()
		return false
	}
	p.hold = p.hold || hold
	p.killedPid = cmd.Process.Pid
	err := cmd.Process.Signal(syscall.SIGKILL)
	p.mu.Unlock()
	if err != nil {
		return false
	}
	<-exited
	return true
}

// quit sends SIGQUIT: the Go runtime dumps every goroutine to the log and
// exits (the supervisor starts the worker again).
func (p *proc) quit() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	}
}

// running reports whether a process is up.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// resume lets the supervisor start the process again after kill(true).
func (p *proc) resume() {
	p.mu.Lock()
	p.hold = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// stop kills the process for good.
func (p *proc) stop() {
	p.mu.Lock()
	p.closing = true
	p.cond.Broadcast()
	if p.cmd != nil {
		p.killedPid = p.cmd.Process.Pid
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	p.mu.Unlock()
	<-p.done
}

func (p *proc) stats() (starts, crashes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.crashes
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// workerEnv is a worker's environment: the shared Temporal server, the
// scenario's schema, queue and provider, and no stray TEMPORAL_* settings
// from the caller's shell.
func workerEnv(hostPort, dbURL, queue, demoURL string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "SYNCLOOP_") || name == "DATABASE_URL" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"TEMPORAL_ADDRESS="+hostPort,
		"TEMPORAL_NAMESPACE="+devstack.DefaultNamespace,
		"DATABASE_URL="+dbURL,
		"SYNCLOOP_TASK_QUEUE="+queue,
		"SYNCLOOP_DEMO_URL="+demoURL,
		// The watcher would only add noise: no loop here ever stops.
		"SYNCLOOP_WATCHER_INTERVAL=24h",
		"SYNCLOOP_CYCLE_RETENTION=100000",
		// Several workers run on this host: no metrics port to fight over.
		"SYNCLOOP_METRICS_ADDR=off",
	)
}
