package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/internal/testtemporal"
)

// The Temporal back-ends the benchmark runs against (-temporal).
const (
	// backendSQLite is temporaltest in the bench process: SQLite in
	// memory, one history shard.
	backendSQLite = "sqlite"
	// backendPostgres is bench/temporalpg as a child process: the local
	// PostgreSQL for persistence and SQL visibility.
	backendPostgres = "postgres"
)

// backend is which Temporal server an env starts; bin is the temporalpg
// binary (postgres only).
type backend struct {
	name string
	bin  string
}

// temporalServer is what the benchmark needs of a Temporal server.
type temporalServer interface {
	HostPort() string
	Namespace() string
	Client() client.Client
	// Actions is the server's `action` counter for the namespace so far,
	// by action_type.
	Actions(ctx context.Context) (map[string]int64, error)
	// CPU is the server process's CPU seconds so far; ok is false when
	// the server shares the bench's process (sqlite: the bench's own CPU
	// there is the server's and the demo provider's together).
	CPU() (seconds float64, ok bool)
	Stop()
}

func startTemporal(ctx context.Context, be backend) (temporalServer, error) {
	switch be.name {
	case backendSQLite:
		a := testtemporal.NewActions()
		ts, err := testtemporal.Temporal(ctx, testtemporal.WithActions(a))
		if err != nil {
			return nil, err
		}
		return &sqliteServer{ts: ts, actions: a}, nil
	case backendPostgres:
		return startPostgresServer(ctx, be.bin)
	}
	return nil, fmt.Errorf("unknown Temporal back-end %q (want %s or %s)", be.name, backendSQLite, backendPostgres)
}

type sqliteServer struct {
	ts      *temporaltest.TestServer
	actions *testtemporal.Actions
}

func (s *sqliteServer) HostPort() string      { return s.ts.GetFrontendHostPort() }
func (s *sqliteServer) Namespace() string     { return s.ts.GetDefaultNamespace() }
func (s *sqliteServer) Client() client.Client { return s.ts.GetDefaultClient() }
func (s *sqliteServer) Stop()                 { s.ts.Stop() }
func (s *sqliteServer) CPU() (float64, bool)  { return 0, false }
func (s *sqliteServer) Actions(context.Context) (map[string]int64, error) {
	return s.actions.Snapshot(s.Namespace()), nil
}

// postgresServer is bench/temporalpg running as a child process.
type postgresServer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	ready   struct{ Frontend, Namespace, Metrics string }
	client  client.Client
	logPath string
}

func startPostgresServer(ctx context.Context, bin string) (*postgresServer, error) {
	cmd := exec.Command(bin, "-database-url", testenv.TestURL())
	logf, err := os.CreateTemp("", "bench-temporalpg-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &postgresServer{cmd: cmd, stdin: stdin, logPath: logf.Name()}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		if !ok || json.Unmarshal([]byte(l), &s.ready) != nil || s.ready.Frontend == "" {
			s.Stop()
			return nil, fmt.Errorf("temporalpg did not start (%q); its log: %s", l, s.logTail())
		}
	case <-time.After(3 * time.Minute):
		s.Stop()
		return nil, fmt.Errorf("temporalpg not ready after 3m; its log: %s", s.logPath)
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: s.ready.Frontend, Namespace: s.ready.Namespace, Logger: quietSDKLogger{}})
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.client = c
	if err := control.EnsureSearchAttributes(ctx, c, s.ready.Namespace); err != nil {
		s.Stop()
		return nil, fmt.Errorf("register search attributes: %w", err)
	}
	return s, nil
}

func (s *postgresServer) HostPort() string      { return s.ready.Frontend }
func (s *postgresServer) Namespace() string     { return s.ready.Namespace }
func (s *postgresServer) Client() client.Client { return s.client }
func (s *postgresServer) CPU() (float64, bool)  { return procCPU(s.cmd.Process.Pid), true }

// Actions scrapes the server's Prometheus endpoint. Tally writes label
// values sanitized ("temporal-system" → "temporal_system").
func (s *postgresServer) Actions(ctx context.Context) (map[string]int64, error) {
	samples, err := scrape(ctx, s.ready.Metrics, testtemporal.ActionMetric)
	if err != nil {
		return nil, err
	}
	ns := promSanitize(s.ready.Namespace)
	out := map[string]int64{}
	for _, smp := range samples {
		if smp.labels[testtemporal.TagNamespace] == ns {
			out[smp.labels[testtemporal.TagActionType]] += int64(smp.value)
		}
	}
	return out, nil
}

// Stop closes temporalpg's stdin (it stops on EOF) and waits for it.
func (s *postgresServer) Stop() {
	if s.client != nil {
		s.client.Close()
	}
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = os.Remove(s.logPath)
}

func (s *postgresServer) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return strings.TrimSpace(string(data))
}

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the Prometheus endpoint and returns the samples whose
// metric name is one of names (or all, if names is empty).
func scrape(ctx context.Context, url string, names ...string) ([]promSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var out []promSample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s, ok := parsePromLine(sc.Text()); ok && (len(names) == 0 || slices.Contains(names, s.name)) {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// parsePromLine parses `name{k="v",...} value [timestamp]`.
func parsePromLine(line string) (promSample, bool) {
	if line == "" || line[0] == '#' {
		return promSample{}, false
	}
	s := promSample{labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return s, false
	} else {
		s.name, rest = line[:i], line[i:]
	}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, false
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			i := 0
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
					switch rest[i] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[i])
					}
					continue
				}
				val.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return s, false
			}
			s.labels[key] = val.String()
			rest = rest[i+1:]
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, false
	}
	s.value = v
	return s, true
}

// promSanitize is tally's Prometheus sanitizing of label values: only
// [a-zA-Z0-9_] survive, the rest become '_'.
func promSanitize(v string) string {
	b := []byte(v)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// quietSDKLogger drops the SDK client's logs.
type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}
