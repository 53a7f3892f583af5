package devstack_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/internal/testcheck"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/workflows"
)

func TestMain(m *testing.M) {
	if err := testenv.EnsurePostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// env is what one test's stacks share: a data directory, a PostgreSQL
// schema, fixed ports and a demo dataset that is the same on every start.
type env struct {
	t        *testing.T
	ctx      context.Context
	cfg      devstack.Config
	db       *pgxpool.Pool // the test's own view of the schema
	demoBase time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	schema := fmt.Sprintf("devstack_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin, err := pgx.Connect(ctx, testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.TestURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	dbURL := withSearchPath(t, testenv.TestURL(), schema)
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = devstack.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, ctx: ctx, db: db, demoBase: time.Now().UTC().Truncate(time.Second)}
	e.cfg = devstack.Config{
		DataDir:      filepath.Join(t.TempDir(), ".data"), // not there yet: Start creates it
		TemporalPort: ports[0],
		UIPort:       ports[1],
		APIAddr:      "127.0.0.1:" + strconv.Itoa(ports[2]),
		DemoAddr:     "127.0.0.1:" + strconv.Itoa(ports[3]),
		DatabaseURL:  dbURL,
		Logger:       slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo})),
		// No churn: the dataset only depends on Seed and the clock, so a
		// restarted stack serves exactly the same records.
		Demo: democrm.Options{Size: 150, Seed: 7},
		// Small pages, committed two at a time: a cycle has progress to
		// resume from after a few pages.
		PageSize:  25,
		BatchSize: 50,
		LoopOptions: workflows.LoopOptions{
			HeartbeatTimeout: 3 * time.Second, RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second,
		},
		// Cancel running activities at once on Stop: the test wants to cut
		// a cycle in half.
		WorkerStopTimeout: time.Millisecond,
		// Stored credentials decrypt, as with SYNCLOOP_SECRET_KEY.
		SecretKey: base64.StdEncoding.EncodeToString([]byte("devstack-test-key-32-bytes-long!")),
	}
	return e
}

func withSearchPath(t *testing.T, raw, schema string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// start starts a stack whose demo CRM's clock starts at the same instant
// every time, so its seeded records are identical across restarts.
func (e *env) start() *devstack.Stack {
	e.t.Helper()
	cfg := e.cfg
	cfg.Demo.Now = clockFrom(e.demoBase)
	began := time.Now()
	s, err := devstack.Start(e.ctx, cfg)
	if err != nil {
		e.t.Fatalf("start the dev stack: %v", err)
	}
	e.t.Cleanup(func() { _ = s.Stop() })
	e.t.Logf("stack up in %s:\n%s", time.Since(began).Round(time.Millisecond), s.Addresses())
	return s
}

// with returns a copy of e that reports to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// clockFrom returns a clock that reads base on its first call and then
// advances in real time.
func clockFrom(base time.Time) func() time.Time {
	var mu sync.Mutex
	var t0 time.Time
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if t0.IsZero() {
			t0 = time.Now()
			return base
		}
		return base.Add(time.Since(t0))
	}
}

type cycleRow struct {
	seq    int
	status string
	pages  int
	done   bool
}

func (e *env) cycles(k model.ObjectKey) []cycleRow {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `
		SELECT c.seq, c.status, c.retrieve_pages, c.retrieve_done
		FROM sync_cycles c JOIN integration_objects o ON o.id = c.object_id
		WHERE o.tenant = $1 AND o.provider = $2 AND o.object_type = $3
		ORDER BY c.seq`, k.Tenant, k.Provider, k.ObjectType)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c cycleRow, err error) {
		err = r.Scan(&c.seq, &c.status, &c.pages, &c.done)
		return c, err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds or the test's time runs out.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) waitCycleCompleted(k model.ObjectKey, seq int, timeout time.Duration) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf("cycle #%d of %s to complete", seq, k), timeout, func() bool {
		for _, c := range e.cycles(k) {
			if c.seq == seq {
				if c.status == string(model.StatusFailed) || c.status == string(model.StatusPartiallyCompleted) {
					e.t.Fatalf("cycle #%d of %s ended %s", seq, k, c.status)
				}
				return c.status == string(model.StatusCompleted)
			}
		}
		return false
	})
}

// assertRecordsMatch checks that the object's live records are exactly the
// demo CRM's live records.
func (e *env) assertRecordsMatch(k model.ObjectKey, want map[string]json.RawMessage) {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `
		SELECT r.external_id, r.data FROM records r JOIN integration_objects o ON o.id = r.object_id
		WHERE o.tenant = $1 AND o.provider = $2 AND o.object_type = $3 AND r.deleted_at IS NULL`,
		k.Tenant, k.Provider, k.ObjectType)
	if err != nil {
		e.t.Fatal(err)
	}
	got := map[string][]byte{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			e.t.Fatal(err)
		}
		got[id] = data
	}
	if rows.Err() != nil {
		e.t.Fatal(rows.Err())
	}
	if len(want) == 0 {
		e.t.Fatalf("the demo CRM has no %s", k.ObjectType)
	}
	var bad []string
	for id, w := range want {
		if g, ok := got[id]; !ok || !testcheck.JSONEqual(g, w) {
			bad = append(bad, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		e.t.Fatalf("%s: %d records in PostgreSQL, %d at the provider; %d differ, e.g. %v", k, len(got), len(want), len(bad), bad[:min(5, len(bad))])
	}
}

// uiGet calls the Web UI server's HTTP API the way the browser does.
func uiGet(t *testing.T, ctx context.Context, base, path string, into any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: not JSON (%v): %.300s", path, err, body)
	}
}

// apiDo calls the REST API and decodes its JSON answer.
func apiDo(t *testing.T, ctx context.Context, method, u string, wantStatus int, into any) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"reason":"devstack test"}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %s, want %d: %s", method, u, resp.Status, wantStatus, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: not JSON: %v: %.300s", method, u, err, b)
		}
	}
}

// payload is a Temporal Payload in the UI API's JSON (proto3 JSON: bytes
// are base64).
type payload struct {
	Metadata map[string]string `json:"metadata"`
	Data     string            `json:"data"`
}

// text decodes a json/plain payload holding a string.
func (p *payload) text(t *testing.T) string {
	t.Helper()
	if p == nil {
		return ""
	}
	enc, err := base64.StdEncoding.DecodeString(p.Metadata["encoding"])
	if err != nil || string(enc) != "json/plain" {
		t.Fatalf("payload encoding %q (%v), want json/plain", enc, err)
	}
	raw, err := base64.StdEncoding.DecodeString(p.Data)
	if err != nil {
		t.Fatalf("payload data is not base64: %v", err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("payload %s is not a JSON string: %v", raw, err)
	}
	return s
}

type historyEvent struct {
	EventID      string `json:"eventId"`
	UserMetadata *struct {
		Summary *payload `json:"summary"`
	} `json:"userMetadata"`
	ActivityTaskScheduled *json.RawMessage `json:"activityTaskScheduledEventAttributes"`
	TimerStarted          *json.RawMessage `json:"timerStartedEventAttributes"`
}

func (ev historyEvent) summary(t *testing.T) string {
	if ev.UserMetadata == nil {
		return ""
	}
	return ev.UserMetadata.Summary.text(t)
}

func key(objectType string) model.ObjectKey {
	return model.ObjectKey{Tenant: devstack.DemoTenant, Provider: "demo", ObjectType: objectType}
}

func TestStackUIAndRestartMidCycle(t *testing.T) {
	e := newEnv(t)
	began := time.Now()
	s1 := e.start()

	// A first start adds the demo tenant and its loops sync at once.
	var seeded []model.ObjectKey
	for _, r := range devstack.DefaultObjects() {
		seeded = append(seeded, r.Key)
	}
	if !reflect.DeepEqual(s1.Seeded, seeded) {
		t.Fatalf("seeded %v, want %v", s1.Seeded, seeded)
	}
	for _, k := range seeded {
		e.waitCycleCompleted(k, 1, 90*time.Second)
	}
	t.Logf("first cycles completed %s after start", time.Since(began).Round(time.Millisecond))

	ui := s1.Addresses().UI
	t.Run("UI lists the loops by search attribute", func(t *testing.T) {
		e := e.with(t)
		q := url.Values{"query": {fmt.Sprintf("SyncTenant = %q", devstack.DemoTenant)}}
		want := map[string]bool{}
		for _, k := range seeded {
			want[k.WorkflowID()] = true
		}
		var got map[string]string
		e.waitFor("the UI to list the demo loops", 30*time.Second, func() bool {
			var list struct {
				Executions []struct {
					Execution struct {
						WorkflowID string `json:"workflowId"`
					} `json:"execution"`
					Type struct {
						Name string `json:"name"`
					} `json:"type"`
				} `json:"executions"`
			}
			uiGet(t, e.ctx, ui, "/api/v1/namespaces/default/workflows?"+q.Encode(), &list)
			got = map[string]string{}
			for _, x := range list.Executions {
				got[x.Execution.WorkflowID] = x.Type.Name
			}
			return len(got) == len(want)
		})
		for id := range want {
			if got[id] != workflows.SyncLoopWorkflow {
				t.Errorf("workflow %s: type %q in the UI's list, want %s (list: %v)", id, got[id], workflows.SyncLoopWorkflow, got)
			}
		}
	})

	t.Run("UI shows activity and timer summaries", func(t *testing.T) {
		e := e.with(t)
		k := key("accounts")
		// "cycle #1: retrieve all accounts (initial full sync)", or with the
		// verb of the loop version at hand ("retrieve and apply").
		wantActivity := regexp.MustCompile(`^cycle #1: retrieve[a-z ]* all accounts \(initial full sync\)$`)
		var activities, timers []string
		e.waitFor("the accounts loop to arm its timer", 30*time.Second, func() bool {
			var hist struct {
				History struct {
					Events []historyEvent `json:"events"`
				} `json:"history"`
			}
			uiGet(t, e.ctx, ui, "/api/v1/namespaces/default/workflows/"+url.PathEscape(k.WorkflowID())+"/history", &hist)
			activities, timers = nil, nil
			for _, ev := range hist.History.Events {
				switch {
				case ev.ActivityTaskScheduled != nil:
					activities = append(activities, ev.summary(t))
				case ev.TimerStarted != nil:
					timers = append(timers, ev.summary(t))
				}
			}
			return slices.ContainsFunc(activities, wantActivity.MatchString) && slices.ContainsFunc(timers, func(s string) bool {
				return strings.HasPrefix(s, "sleep 1m until ")
			})
		})
		t.Logf("activity summaries: %q; timer summaries: %q", activities, timers)
	})

	// The worker is wired like worker/main.go: it decrypts a stored
	// connection's credentials, and serves /metrics.
	sealed := model.ObjectKey{Tenant: "sealed", Provider: "demo", ObjectType: "users"}
	if _, err := s1.Service.AddConnection(e.ctx, control.NewConnection{Name: "sealed-demo", Provider: "demo", BaseURL: s1.Addresses().Demo, Token: "t0ken"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s1.Service.Add(e.ctx, control.AddRequest{Key: sealed, Interval: time.Hour, Connection: "sealed-demo"}); err != nil {
		t.Fatal(err)
	}
	e.waitCycleCompleted(sealed, 1, 60*time.Second)
	t.Run("worker serves /metrics", func(t *testing.T) {
		u := s1.Addresses().Metrics
		if u == "" {
			t.Fatal("the stack serves no /metrics")
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
		for _, want := range []string{`syncloop_cycles_total{object_type="accounts",provider="demo",status="Completed"}`, "syncloop_records_synced_total{", "temporal_"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %s has no %s:\n%.2000s", u, want, body)
			}
		}
	})

	// Cut a full sync in half: a new object whose pages, after the second,
	// take a while; stop the whole stack while its Retrieve is running.
	notes := key("notes")
	s1.Demo.SetFault(func(r democrm.RequestLog) democrm.Fault {
		if r.ObjectType == notes.ObjectType && r.After != "" {
			return democrm.Fault{Delay: 1500 * time.Millisecond}
		}
		return democrm.Fault{}
	})
	if _, _, err := s1.Service.Add(e.ctx, control.AddRequest{Key: notes, Interval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the notes cycle to be half-way", 60*time.Second, func() bool {
		c := e.cycles(notes)
		return len(c) == 1 && c[0].status == string(model.StatusProcessing) && c[0].pages >= 2
	})
	stopped := time.Now()
	if err := s1.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stack stopped in %s", time.Since(stopped).Round(time.Millisecond))
	if c := e.cycles(notes); len(c) != 1 || c[0].status != string(model.StatusProcessing) || c[0].done {
		t.Fatalf("after the stop, notes cycles are %+v; want cycle #1 still Processing with Retrieve unfinished", c)
	}
	before := map[model.ObjectKey][]cycleRow{}
	for _, k := range append(seeded, notes) {
		before[k] = e.cycles(k)
	}

	// Start again on the same data directory and schema.
	restarted := time.Now()
	s2 := e.start()
	if len(s2.Seeded) != 0 {
		t.Fatalf("a restart added objects %v; it must leave them alone", s2.Seeded)
	}
	e.waitCycleCompleted(notes, 1, 60*time.Second)
	t.Logf("the interrupted cycle completed %s after the restart", time.Since(restarted).Round(time.Millisecond))
	// It resumed where it was cut off: the new CRM was never asked for the
	// first page of notes again.
	var notesRequests []democrm.RequestLog
	for _, r := range s2.Demo.Requests() {
		if r.ObjectType == notes.ObjectType {
			notesRequests = append(notesRequests, r)
		}
	}
	if len(notesRequests) == 0 || notesRequests[0].After == "" {
		t.Errorf("after the restart the notes Retrieve started over (requests %+v); it should resume from the committed page", notesRequests)
	}

	// The other loops go on too: a sync-now through the REST API runs the
	// next cycle of accounts.
	api := s2.Addresses().API
	var health struct {
		Status string `json:"status"`
	}
	apiDo(t, e.ctx, http.MethodGet, api+"/healthz", http.StatusOK, &health)
	if health.Status != "ok" {
		t.Errorf("GET /healthz: status %q, want ok", health.Status)
	}
	accounts := key("accounts")
	next := len(e.cycles(accounts)) + 1
	apiDo(t, e.ctx, http.MethodPost, api+"/sync/v1/objects/demo/demo/accounts/trigger", http.StatusAccepted, nil)
	e.waitCycleCompleted(accounts, next, 60*time.Second)

	for _, k := range append(seeded, notes) {
		// The same loop (workflow ID) is still running.
		desc, err := s2.Client.DescribeWorkflowExecution(e.ctx, k.WorkflowID(), "")
		if err != nil {
			t.Fatalf("describe %s after the restart: %v", k.WorkflowID(), err)
		}
		if st := desc.GetWorkflowExecutionInfo().GetStatus().String(); st != "Running" {
			t.Errorf("%s is %s after the restart, want Running", k.WorkflowID(), st)
		}
		// Cycle numbers continue: 1..n, no gaps, no duplicates, and the
		// cycles seen before the stop are still there.
		cycles := e.cycles(k)
		for i, c := range cycles {
			if c.seq != i+1 {
				t.Fatalf("%s: cycle seqs %v are not 1..%d", k, seqs(cycles), len(cycles))
			}
		}
		if len(cycles) < len(before[k]) {
			t.Fatalf("%s: %d cycles before the stop, %d after", k, len(before[k]), len(cycles))
		}
		// Records are exactly the (re-seeded, identical) demo dataset.
		e.assertRecordsMatch(k, s2.Demo.Snapshot(k.ObjectType))
	}
	if err := s2.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

func seqs(cs []cycleRow) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.seq
	}
	return out
}

// testWriter sends log lines to the test log (shown with -v or on
// failure), and drops those that arrive after the test ended.
type testWriter struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, mu: new(sync.Mutex), done: new(bool)}
	t.Cleanup(func() { w.mu.Lock(); *w.done = true; w.mu.Unlock() })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// A taken port or an unreachable database fails Start at once, with a
// message that says what to change.
func TestStartErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	base := devstack.Config{
		DataDir:     t.TempDir(),
		DatabaseURL: testenv.TestURL(),
		Logger:      slog.New(slog.NewTextHandler(newTestWriter(t), nil)),
	}
	for _, tc := range []struct {
		name      string
		change    func(*devstack.Config)
		wantParts []string
	}{
		{"Temporal port in use", func(c *devstack.Config) { c.TemporalPort = takenPort },
			[]string{"Temporal frontend", strconv.Itoa(takenPort), "in use", devstack.FlagTemporalPort, devstack.EnvTemporalPort}},
		{"UI port in use", func(c *devstack.Config) { c.UIPort = takenPort },
			[]string{"Web UI", strconv.Itoa(takenPort), "in use", devstack.FlagUIPort, devstack.EnvUIPort}},
		{"API address in use", func(c *devstack.Config) { c.APIAddr = taken.Addr().String() },
			[]string{"REST API", taken.Addr().String(), "in use", devstack.FlagAPIAddr, devstack.EnvAPIAddr}},
		{"demo address in use", func(c *devstack.Config) { c.DemoAddr = taken.Addr().String() },
			[]string{"demo CRM", "in use", devstack.FlagDemoAddr, devstack.EnvDemoAddr}},
		{"PostgreSQL unreachable", func(c *devstack.Config) { c.DatabaseURL = "postgres://postgres@127.0.0.1:1/nothing?sslmode=disable" },
			[]string{"postgres://postgres@127.0.0.1:1/nothing", "docker compose up -d postgres", "DATABASE_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			s, err := devstack.Start(ctx, cfg)
			if err == nil {
				_ = s.Stop()
				t.Fatal("Start succeeded")
			}
			t.Logf("error: %v", err)
			for _, part := range tc.wantParts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %q", err, part)
				}
			}
			// Nothing was started, so the data directory has no database.
			if _, statErr := os.Stat(filepath.Join(cfg.DataDir, "temporal.db")); statErr == nil {
				t.Errorf("a failed start created %s", filepath.Join(cfg.DataDir, "temporal.db"))
			}
		})
	}
}
