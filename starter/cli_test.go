package main

// These tests run the syncloop CLI in-process, exactly as main() does
// (newRoot, ExecuteContext, exitCode, oneLine), against real PostgreSQL (a
// schema of the package's own, selected with search_path in DATABASE_URL),
// an in-process Temporal server, and a worker that syncs from the demo CRM
// over HTTP, so loops really run.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/internal/testtemporal"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

var (
	// testStore is a store on the package's schema, for assertions.
	testStore *store.Store
	// temporalClient talks to the package's Temporal server.
	temporalClient client.Client
	// databaseURL is DATABASE_URL as the CLI sees it.
	databaseURL string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "starter tests: "+format+"\n", args...)
		return 1
	}
	ctx := context.Background()
	if err := testenv.EnsurePostgres(); err != nil {
		return fail("%v", err)
	}

	// A schema of our own; the CLI selects it with search_path.
	schema := fmt.Sprintf("cli_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin, err := pgx.Connect(ctx, testenv.TestURL())
	if err != nil {
		return fail("connect to PostgreSQL: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		return fail("create schema: %v", err)
	}
	admin.Close(ctx)
	defer func() {
		c, err := pgx.Connect(context.Background(), testenv.TestURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	}()
	u, err := url.Parse(testenv.TestURL())
	if err != nil {
		return fail("parse test URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	databaseURL = u.String()

	st, err := store.Open(ctx, databaseURL)
	if err != nil {
		return fail("open store on schema %s: %v", schema, err)
	}
	defer st.Close()
	testStore = st

	ts, err := testtemporal.Temporal(ctx)
	if err != nil {
		return fail("start Temporal: %v", err)
	}
	defer ts.Stop()

	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	c := ts.NewClientWithOptions(client.Options{Logger: quiet})
	defer c.Close()
	temporalClient = c

	hs := httptest.NewServer(democrm.NewServer(democrm.Options{Size: 20, Seed: 7}))
	defer hs.Close()

	queue := fmt.Sprintf("cli-test-%d", time.Now().UnixNano())
	cfg := config.Default()
	cfg.TaskQueue, cfg.DemoURL = queue, hs.URL
	wk, err := wiring.New(cfg, c, ts.GetDefaultNamespace(), st, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), wiring.Options{})
	if err != nil {
		return fail("build worker: %v", err)
	}
	if err := wk.Worker.Start(); err != nil {
		return fail("start worker: %v", err)
	}
	defer wk.Stop()

	// The CLI's connections. A missing config file keeps a developer's
	// Temporal profile out of the tests.
	for _, name := range []string{"TEMPORAL_API_KEY", "TEMPORAL_PROFILE", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH",
		"TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME"} {
		os.Unsetenv(name)
	}
	os.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(os.TempDir(), fmt.Sprintf("no-such-temporal-%d.toml", time.Now().UnixNano())))
	os.Setenv("DATABASE_URL", databaseURL)
	os.Setenv("TEMPORAL_ADDRESS", ts.GetFrontendHostPort())
	os.Setenv("TEMPORAL_NAMESPACE", ts.GetDefaultNamespace())
	os.Setenv("SYNCLOOP_TASK_QUEUE", queue)

	code := m.Run()

	// Stop whatever loops tests left behind before the server goes.
	if objs, err := st.ListObjects(ctx); err == nil {
		for _, o := range objs {
			_ = c.TerminateWorkflow(ctx, o.Key.WorkflowID(), "", "tests over")
		}
	}
	return code
}

// result is one CLI run.
type result struct {
	err       error
	code      int    // exitCode(err), 0 on success
	msg       string // oneLine(err): what main prints after "syncloop: "
	out, eout string
	took      time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, err %q, stdout %q, stderr %q", r.code, r.err, r.out, r.eout)
}

// cli runs the command line in-process exactly as main does.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	root := newRoot()
	var out, eout bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&eout)
	root.SetArgs(append([]string{}, args...)) // never nil: nil means os.Args
	start := time.Now()
	err := root.ExecuteContext(ctx)
	r := result{err: err, out: out.String(), eout: eout.String(), took: time.Since(start)}
	if err != nil {
		r.code, r.msg = exitCode(err), oneLine(err)
	}
	return r
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := cli(t, args...)
	if r.err != nil {
		t.Fatalf("syncloop %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// uniqueTenant gives each test its own tenant: workflow IDs are
// namespace-wide.
func uniqueTenant(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e8)
}

// dbState is what bad input must not change.
type dbState struct {
	objects, cycles, records int
	interval                 time.Duration
	paused                   bool
}

func snapshot(t *testing.T, existing model.ObjectKey) dbState {
	t.Helper()
	ctx := context.Background()
	var s dbState
	if err := testStore.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM integration_objects), (SELECT count(*) FROM sync_cycles), (SELECT count(*) FROM records)`).
		Scan(&s.objects, &s.cycles, &s.records); err != nil {
		t.Fatal(err)
	}
	o, err := testStore.GetObject(ctx, existing)
	if err != nil {
		t.Fatalf("existing object %s: %v", existing, err)
	}
	s.interval, s.paused = o.Interval, o.Paused
	return s
}

// assertNoLoop checks that no workflow was ever started for the object.
func assertNoLoop(t *testing.T, k model.ObjectKey) {
	t.Helper()
	_, err := temporalClient.DescribeWorkflowExecution(context.Background(), k.WorkflowID(), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("workflow %s: describe returned %v; want NotFound (bad input must start nothing)", k.WorkflowID(), err)
	}
}

func mustKey(t *testing.T, s string) model.ObjectKey {
	t.Helper()
	k, err := model.ParseObjectKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBadInputFailsWithOneLineFixAndChangesNothing(t *testing.T) {
	tenant := uniqueTenant("bad")
	existing := mustKey(t, tenant+"/demo/accounts") // a row without a loop
	unknown := mustKey(t, tenant+"/demo/contacts")  // never added
	fresh := mustKey(t, tenant+"/demo/notes")       // what bad adds try to add
	if _, _, err := testStore.AddObject(context.Background(), store.NewObject{Key: existing, Interval: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testStore.DeleteObject(context.Background(), existing) })

	const (
		usage    = 2
		notFound = 3
	)
	type badCase struct {
		args []string
		code int
		want []string // every one must be in the message
	}
	var cases []badCase
	add := func(code int, want []string, args ...string) {
		cases = append(cases, badCase{args: args, code: code, want: want})
	}

	idFix := []string{"e.g. acme/salesforce/accounts"}
	badIDs := []string{"ACME/x/y", "a/b", "a/b/c/d", "", "a//c", "a/b/c d", "sync/a/b/c"}
	for _, id := range badIDs {
		for _, verb := range []string{"show", "pause", "resume", "sync-now", "remove"} {
			add(usage, idFix, "objects", verb, id)
		}
		add(usage, idFix, "objects", "add", id)
		add(usage, idFix, "objects", "add", id, "--interval", "30m")
		add(usage, idFix, "objects", "set-interval", id, "30m")
	}

	notFoundFix := []string{"not found", "`syncloop objects add " + unknown.String() + "`", "objects list"}
	add(notFound, notFoundFix, "objects", "show", unknown.String())
	add(notFound, notFoundFix, "objects", "show", unknown.String(), "--json")
	add(notFound, notFoundFix, "objects", "set-interval", unknown.String(), "30m")
	add(notFound, notFoundFix, "objects", "pause", unknown.String())
	add(notFound, notFoundFix, "objects", "resume", unknown.String())
	add(notFound, notFoundFix, "objects", "sync-now", unknown.String())
	add(notFound, notFoundFix, "objects", "sync-now", unknown.String(), "--reason", "why not")
	add(notFound, notFoundFix, "objects", "remove", unknown.String())

	intervalFix := []string{"between 1m and 7d"}
	for _, iv := range []string{"0", "-5m", "10y", "abc", "", " ", "59s", "8d", "7d1s", "1.5", "30", "366d", "d"} {
		add(usage, intervalFix, "objects", "add", fresh.String(), "--interval", iv)
		add(usage, intervalFix, "objects", "add", fresh.String(), "--interval="+iv)
		add(usage, intervalFix, "objects", "add", existing.String(), "--interval="+iv)
		add(usage, intervalFix, "objects", "set-interval", existing.String(), "--", iv)
		add(usage, intervalFix, "objects", "set-interval", unknown.String(), "--", iv)
		if !strings.HasPrefix(iv, "-") {
			add(usage, intervalFix, "objects", "set-interval", existing.String(), iv)
		}
	}
	// Without "--", cobra reads a negative interval as flags; it must
	// still be a usage error that says where to look.
	add(usage, []string{"--help"}, "objects", "set-interval", existing.String(), "-5m")

	countFix := []string{"e.g. `syncloop objects"}
	add(usage, countFix, "objects", "add")
	add(usage, countFix, "objects", "add", fresh.String(), unknown.String())
	add(usage, countFix, "objects", "list", "extra")
	add(usage, countFix, "objects", "show")
	add(usage, countFix, "objects", "show", existing.String(), unknown.String())
	add(usage, countFix, "objects", "set-interval")
	add(usage, countFix, "objects", "set-interval", existing.String())
	add(usage, countFix, "objects", "set-interval", existing.String(), "30m", "45m")
	add(usage, countFix, "objects", "pause")
	add(usage, countFix, "objects", "pause", existing.String(), unknown.String())
	add(usage, countFix, "objects", "resume")
	add(usage, countFix, "objects", "sync-now")
	add(usage, countFix, "objects", "sync-now", existing.String(), unknown.String())
	add(usage, countFix, "objects", "remove")
	add(usage, countFix, "objects", "remove", existing.String(), unknown.String())
	add(usage, []string{"e.g. `syncloop status`"}, "status", "extra")

	flagFix := []string{"unknown flag", "--help"}
	add(usage, flagFix, "objects", "add", fresh.String(), "--bogus")
	add(usage, flagFix, "objects", "add", fresh.String(), "--intervall", "30m")
	add(usage, flagFix, "objects", "list", "--bogus")
	add(usage, flagFix, "objects", "show", existing.String(), "--bogus")
	add(usage, flagFix, "objects", "set-interval", existing.String(), "30m", "--bogus")
	add(usage, flagFix, "objects", "pause", existing.String(), "--bogus")
	add(usage, flagFix, "objects", "resume", existing.String(), "--bogus")
	add(usage, flagFix, "objects", "sync-now", existing.String(), "--bogus")
	add(usage, flagFix, "objects", "remove", existing.String(), "--bogus")
	add(usage, flagFix, "status", "--bogus")
	add(usage, []string{"--help"}, "objects", "add", fresh.String(), "--interval")
	add(usage, []string{"--help"}, "objects", "list", "--json=maybe")
	add(usage, []string{"--help"}, "status", "--json=maybe")
	add(usage, []string{"--help"}, "objects", "show", existing.String(), "--cycles", "abc")

	cyclesFix := []string{"--cycles", "use 0 to 1000"}
	add(usage, cyclesFix, "objects", "show", existing.String(), "--cycles", "-1")
	add(usage, cyclesFix, "objects", "show", existing.String(), "--cycles=-1")
	add(usage, cyclesFix, "objects", "show", existing.String(), "--cycles", "1001")
	add(usage, cyclesFix, "objects", "show", unknown.String(), "--cycles", "-1")

	// The reason is checked on a real object, after the lookup, before the
	// loop is touched.
	add(usage, []string{"shorten it"}, "objects", "sync-now", existing.String(), "--reason", strings.Repeat("x", 501))

	before := snapshot(t, existing)
	for _, c := range cases {
		name := strings.ReplaceAll(strings.Join(c.args, " "), tenant, "T")
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			r := cli(t, c.args...)
			if r.err == nil {
				t.Fatalf("succeeded; want exit %d: %s", c.code, r)
			}
			if r.code != c.code {
				t.Errorf("exit code %d; want %d: %s", r.code, c.code, r)
			}
			if strings.TrimSpace(r.msg) == "" || strings.ContainsAny(r.err.Error(), "\r\n") {
				t.Errorf("message %q is not exactly one non-empty line", r.err.Error())
			}
			for _, w := range c.want {
				if !strings.Contains(r.msg, w) {
					t.Errorf("message %q does not contain %q (the fix)", r.msg, w)
				}
			}
			if r.out != "" || r.eout != "" {
				t.Errorf("printed output on failure (main prints the one line itself): stdout %q, stderr %q", r.out, r.eout)
			}
			if after := snapshot(t, existing); after != before {
				t.Errorf("database changed: before %+v, after %+v", before, after)
			}
		})
	}
	for _, k := range []model.ObjectKey{existing, unknown, fresh} {
		assertNoLoop(t, k)
	}
	if _, err := testStore.GetObject(context.Background(), fresh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("object %s after bad adds: %v; want not found", fresh, err)
	}
}

// TestAddWithUnknownConnection: a connection that does not exist is bad
// input too; it must fail in one line and leave nothing behind.
func TestAddWithUnknownConnection(t *testing.T) {
	tenant := uniqueTenant("conn")
	k := mustKey(t, tenant+"/demo/accounts")
	var before int
	if err := testStore.Pool.QueryRow(context.Background(), `SELECT count(*) FROM integration_objects`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "objects", "add", k.String(), "--connection", "no-such-connection")
	if r.err == nil {
		t.Fatalf("add with an unknown connection succeeded: %s", r)
	}
	if strings.ContainsAny(r.err.Error(), "\r\n") {
		t.Errorf("message %q is not one line", r.err.Error())
	}
	if r.code != 2 || !strings.Contains(r.msg, "no-such-connection") || !strings.Contains(r.msg, "--connection") {
		t.Errorf("exit %d, message %q; want exit 2 naming the connection and the fix", r.code, r.msg)
	}
	var after int
	if err := testStore.Pool.QueryRow(context.Background(), `SELECT count(*) FROM integration_objects`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("integration_objects: %d rows before, %d after", before, after)
	}
	assertNoLoop(t, k)
}

// TestAddOfAnObjectNoConnectorHas: an unknown provider or object type is
// refused before anything is written: exit 2, one line naming the fix.
func TestAddOfAnObjectNoConnectorHas(t *testing.T) {
	tenant := uniqueTenant("catalogue")
	for id, want := range map[string]string{
		tenant + "/foo/accounts": "use one of demo, hubspot, salesforce",
		tenant + "/demo/widgets": "use one of accounts, contacts",
	} {
		r := cli(t, "objects", "add", id)
		if r.code != 2 || r.err == nil || strings.ContainsAny(r.err.Error(), "\r\n") || !strings.Contains(r.msg, want) {
			t.Errorf("objects add %s: exit %d, message %q; want exit 2 and one line with %q", id, r.code, r.msg, want)
		}
		k := mustKey(t, id)
		if _, err := testStore.GetObject(context.Background(), k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("object %s after the refused add: %v; want not found", k, err)
		}
		assertNoLoop(t, k)
	}
}

// waitCompleted waits for at least n Completed cycles of the object.
func waitCompleted(t *testing.T, k model.ObjectKey, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got int
		err := testStore.Pool.QueryRow(context.Background(), `
			SELECT count(*) FROM sync_cycles c JOIN integration_objects o ON o.id = c.object_id
			WHERE o.tenant = $1 AND o.provider = $2 AND o.object_type = $3 AND c.status = 'Completed'`,
			k.Tenant, k.Provider, k.ObjectType).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %d Completed cycles of %s (have %d)", timeout, n, k, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func findObject(objs []control.ObjectView, id string) *control.ObjectView {
	for i := range objs {
		if objs[i].Object == id {
			return &objs[i]
		}
	}
	return nil
}

func TestHappyPath(t *testing.T) {
	ctx := context.Background()
	tenant := uniqueTenant("happy")
	k := mustKey(t, tenant+"/demo/accounts")
	id := k.String()
	t.Cleanup(func() {
		_ = temporalClient.TerminateWorkflow(ctx, k.WorkflowID(), "", "test over")
		_ = testStore.DeleteObject(ctx, k)
	})

	r := mustRun(t, "objects", "add", id, "--interval", "30m")
	if !strings.Contains(r.out, "added "+id) || !strings.Contains(r.out, "every 30m") || !strings.Contains(r.out, k.WorkflowID()) {
		t.Errorf("add output %q; want it to say %s was added, every 30m, loop %s", r.out, id, k.WorkflowID())
	}
	obj, err := testStore.GetObject(ctx, k)
	if err != nil || obj.Interval != 30*time.Minute || obj.Paused {
		t.Fatalf("object after add: %+v, %v; want interval 30m, not paused", obj, err)
	}
	waitCompleted(t, k, 1, 30*time.Second)

	// list, as a table and as JSON.
	r = mustRun(t, "objects", "list")
	var row string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, id+" ") {
			row = l
		}
	}
	if !strings.HasPrefix(r.out, "OBJECT") || row == "" || !strings.Contains(row, "30m") || !strings.Contains(row, "#1 Completed") {
		t.Errorf("list output %q; want a header and a row for %s with 30m and #1 Completed", r.out, id)
	}
	r = mustRun(t, "objects", "list", "--json")
	var objs []control.ObjectView
	if err := json.Unmarshal([]byte(r.out), &objs); err != nil {
		t.Fatalf("list --json is not JSON (%v): %q", err, r.out)
	}
	if v := findObject(objs, id); v == nil || v.Interval != "30m" || !v.LoopRunning || v.Paused ||
		v.LastCycle == nil || v.LastCycle.Status != model.StatusCompleted || v.LastCycle.Seq != 1 {
		t.Errorf("list --json: %+v; want %s, 30m, loop running, last cycle #1 Completed", v, id)
	}

	// show, as text and as JSON.
	r = mustRun(t, "objects", "show", id)
	for _, w := range []string{"object", id, "interval", "30m", "records", "20 live, 0 deleted", "CYCLE", "#1", "Completed"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("show output lacks %q:\n%s", w, r.out)
		}
	}
	r = mustRun(t, "objects", "show", id, "--json")
	var v control.ObjectView
	if err := json.Unmarshal([]byte(r.out), &v); err != nil {
		t.Fatalf("show --json is not JSON (%v): %q", err, r.out)
	}
	if v.Object != id || v.Interval != "30m" || !v.LoopRunning || v.Loop == nil || v.Loop.Interval != "30m" ||
		len(v.Cycles) != 1 || v.Cycles[0].Status != model.StatusCompleted || v.Records != 20 {
		t.Errorf("show --json: %+v; want %s, 30m, running loop, one Completed cycle, 20 records", v, id)
	}
	r = mustRun(t, "objects", "show", id, "--cycles", "0", "--json")
	v = control.ObjectView{}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || len(v.Cycles) != 0 || v.LastCycle == nil {
		t.Errorf("show --cycles 0 --json: %+v (%v); want no cycle list but the last cycle", v, err)
	}

	// set-interval reaches the loop and the row.
	r = mustRun(t, "objects", "set-interval", id, "45m")
	if !strings.Contains(r.out, "interval set: "+id) || !strings.Contains(r.out, "interval 45m") {
		t.Errorf("set-interval output %q", r.out)
	}
	first, err := testStore.ListCycles(ctx, obj.ID, 1)
	if err != nil || len(first) != 1 || first[0].EndedAt == nil {
		t.Fatalf("first cycle: %+v (%v)", first, err)
	}
	wantNext := first[0].EndedAt.Add(45 * time.Minute)
	near := func(t2 *time.Time) bool {
		return t2 != nil && t2.Sub(wantNext).Abs() < 5*time.Second
	}
	if !strings.Contains(r.out, "next run "+wantNext.UTC().Format("2006-01-02T15:04")) {
		t.Errorf("set-interval output %q: next run is not 45m after the last cycle ended (%s)", r.out, wantNext.UTC().Format(time.RFC3339))
	}
	waitFor(t, "the loop to re-arm its timer 45m after the last cycle", 10*time.Second, func() bool {
		r := mustRun(t, "objects", "show", id, "--json")
		var v control.ObjectView
		return json.Unmarshal([]byte(r.out), &v) == nil && v.Loop != nil && v.Loop.Interval == "45m" && near(v.NextRunAt)
	})
	var secs int
	if err := testStore.Pool.QueryRow(ctx, `SELECT interval_seconds FROM integration_objects WHERE tenant = $1 AND provider = $2 AND object_type = $3`,
		k.Tenant, k.Provider, k.ObjectType).Scan(&secs); err != nil || secs != 2700 {
		t.Errorf("interval_seconds after set-interval 45m = %d (%v); want 2700", secs, err)
	}

	// pause and resume.
	r = mustRun(t, "objects", "pause", id)
	if !strings.Contains(r.out, "paused: "+id) || !strings.Contains(r.out, "state "+workflows.StatePaused) {
		t.Errorf("pause output %q", r.out)
	}
	if o, err := testStore.GetObject(ctx, k); err != nil || !o.Paused {
		t.Errorf("after pause: paused=%v (%v); want true", o.Paused, err)
	}
	r = mustRun(t, "objects", "show", id, "--json")
	v = control.ObjectView{}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || v.State != workflows.StatePaused || !v.Paused || v.Interval != "45m" {
		t.Errorf("show --json while paused: state %q paused %v interval %q (%v); want paused, 45m", v.State, v.Paused, v.Interval, err)
	}
	r = mustRun(t, "objects", "resume", id)
	if !strings.Contains(r.out, "resumed: "+id) {
		t.Errorf("resume output %q", r.out)
	}
	if strings.Contains(r.out, "state "+workflows.StatePaused) {
		t.Errorf("resume output still says paused: %q", r.out)
	}
	waitFor(t, "show to report the loop no longer paused", 10*time.Second, func() bool {
		r := mustRun(t, "objects", "show", id, "--json")
		var v control.ObjectView
		return json.Unmarshal([]byte(r.out), &v) == nil && v.LoopRunning && !v.Paused && v.State != workflows.StatePaused
	})
	if o, err := testStore.GetObject(ctx, k); err != nil || o.Paused {
		t.Errorf("after resume: paused=%v (%v); want false", o.Paused, err)
	}

	// sync-now runs a second cycle.
	r = mustRun(t, "objects", "sync-now", id, "--reason", "cli test")
	if !strings.Contains(r.out, "sync requested: "+id) {
		t.Errorf("sync-now output %q", r.out)
	}
	waitCompleted(t, k, 2, 30*time.Second)
	cycles, err := testStore.ListCycles(ctx, obj.ID, 10)
	if err != nil || len(cycles) != 2 || cycles[0].Seq != 2 || cycles[0].Trigger != model.TriggerManual {
		t.Errorf("cycles after sync-now: %+v (%v); want exactly 2, the newest manual", cycles, err)
	}

	// status, as text and as JSON.
	r = mustRun(t, "status")
	if !strings.Contains(r.out, "sync: on") || !strings.Contains(r.out, id) || !strings.Contains(r.out, "Completed") {
		t.Errorf("status output %q; want sync on and %s with its last status", r.out, id)
	}
	r = mustRun(t, "status", "--json")
	var st control.SyncStatus
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status --json is not JSON (%v): %q", err, r.out)
	}
	var entry *control.RunnerEntry
	for i := range st.ScheduledRunner {
		if st.ScheduledRunner[i].Object == id {
			entry = &st.ScheduledRunner[i]
		}
	}
	if !st.Enabled || entry == nil || entry.Interval != "45m" || entry.Paused || entry.LastStatus != "Completed" ||
		st.LastExecution == nil || st.GeneratedAt.IsZero() || st.ScheduledWatcher == nil {
		t.Errorf("status --json: %+v; want sync on, %s at 45m last Completed, a last execution and the watcher entry", st, id)
	}

	// Adding again is harmless and keeps the object as it is.
	r = mustRun(t, "objects", "add", id, "--interval", "2h")
	if !strings.Contains(r.out, id+" already exists") || !strings.Contains(r.out, "every 45m") {
		t.Errorf("second add output %q; want %s already exists, every 45m", r.out, id)
	}
	if o, err := testStore.GetObject(ctx, k); err != nil || o.ID != obj.ID || o.Interval != 45*time.Minute {
		t.Errorf("object after second add: %+v (%v); want the same row at 45m", o, err)
	}

	// remove stops the loop and deletes the row with its cycles.
	r = mustRun(t, "objects", "remove", id)
	if !strings.Contains(r.out, "removed "+id) {
		t.Errorf("remove output %q", r.out)
	}
	if _, err := testStore.GetObject(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("object after remove: %v; want not found", err)
	}
	var left int
	if err := testStore.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM sync_cycles WHERE object_id = $1) + (SELECT count(*) FROM records WHERE object_id = $1)`, obj.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("cycles and records left after remove: %d (%v)", left, err)
	}
	desc, err := temporalClient.DescribeWorkflowExecution(ctx, k.WorkflowID(), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("loop after remove: %v (%v); want terminated", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	if r := cli(t, "objects", "show", id); r.code != 3 {
		t.Errorf("show after remove: %s; want exit 3", r)
	}
	r = mustRun(t, "objects", "list", "--json")
	objs = nil
	if err := json.Unmarshal([]byte(r.out), &objs); err != nil || findObject(objs, id) != nil {
		t.Errorf("list --json after remove still has %s (%v): %q", id, err, r.out)
	}
}

func TestUnreachableTemporal(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	r := cli(t, "objects", "list")
	if r.err == nil {
		t.Fatalf("objects list with Temporal down succeeded: %s", r)
	}
	if r.took > 20*time.Second {
		t.Errorf("took %s to fail; want under 20s", r.took)
	}
	if r.code != 1 {
		t.Errorf("exit code %d; want 1: %s", r.code, r)
	}
	if strings.ContainsAny(r.err.Error(), "\r\n") {
		t.Errorf("message %q is not one line", r.err.Error())
	}
	for _, w := range []string{"127.0.0.1:1", "TEMPORAL_ADDRESS"} {
		if !strings.Contains(r.msg, w) {
			t.Errorf("message %q does not contain %q", r.msg, w)
		}
	}
	t.Logf("failed in %s: syncloop: %s", r.took.Round(time.Millisecond), r.msg)
}

func TestUnreachablePostgres(t *testing.T) {
	for _, u := range []string{
		"postgres://postgres@127.0.0.1:1/x?sslmode=disable",
		// The README's form: sslmode prefer tries twice, and pgx reports
		// each attempt on a line of its own.
		"postgres://postgres@127.0.0.1:1/x",
		"postgres://postgres:secret@127.0.0.1:1/x?sslmode=disable",
		"postgres://postgres@127.0.0.1:5432/x?sslmode=disable&connect_timeout=abc",
	} {
		t.Run(u, func(t *testing.T) {
			t.Setenv("DATABASE_URL", u)
			r := cli(t, "objects", "list")
			if r.err == nil {
				t.Fatalf("objects list with DATABASE_URL=%s succeeded: %s", u, r)
			}
			if r.took > 20*time.Second {
				t.Errorf("took %s to fail; want under 20s", r.took)
			}
			if r.code != 1 {
				t.Errorf("exit code %d; want 1: %s", r.code, r)
			}
			if strings.ContainsAny(r.err.Error(), "\r\n") {
				t.Errorf("message %q is not one line", r.err.Error())
			}
			want := []string{"DATABASE_URL"}
			if !strings.Contains(u, "connect_timeout") { // a malformed URL, not a refused connection
				want = append(want, "127.0.0.1:1", "connection refused", "docker compose up -d postgres")
			}
			for _, w := range want {
				if !strings.Contains(r.msg, w) {
					t.Errorf("message %q does not mention %q", r.msg, w)
				}
			}
			if strings.Contains(r.err.Error(), "secret") {
				t.Errorf("message %q leaks the password", r.err.Error())
			}
			t.Logf("failed in %s: syncloop: %s", r.took.Round(time.Millisecond), r.msg)
		})
	}
}

// TestUnknownCommand: a mistyped command is a usage mistake and must fail.
func TestUnknownCommand(t *testing.T) {
	t.Run("root", func(t *testing.T) {
		r := cli(t, "objecs", "list")
		if r.err == nil {
			t.Fatalf("an unknown command succeeded: %s", r)
		}
		if !strings.Contains(r.msg, `unknown command "objecs"`) {
			t.Errorf("message %q does not name the unknown command", r.msg)
		}
		if r.code != 2 || strings.ContainsAny(r.err.Error(), "\r\n") || !strings.Contains(r.msg, `did you mean "objects"`) {
			t.Errorf("exit %d, full message %q; want exit 2 and one line suggesting objects", r.code, r.err.Error())
		}
	})
	t.Run("objects", func(t *testing.T) {
		r := cli(t, "objects", "lst")
		if r.err == nil {
			t.Fatalf("`syncloop objects lst` succeeded; output %q", r.out)
		}
		if r.code != 2 || strings.ContainsAny(r.err.Error(), "\r\n") || !strings.Contains(r.msg, "lst") {
			t.Errorf("`objects lst`: %s; want exit 2 with one line naming the unknown command", r)
		}
	})
}

// TestSetupIsIdempotent: the namespace already has the search attributes
// (TestMain registered them), so setup reports that and changes nothing.
func TestSetupIsIdempotent(t *testing.T) {
	for i := 0; i < 2; i++ {
		r := mustRun(t, "setup")
		if !strings.Contains(r.out, "already has syncloop's search attributes") {
			t.Fatalf("setup output %q", r.out)
		}
	}
}
