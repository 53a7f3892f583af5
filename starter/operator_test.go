package main

// What operators see is exactly true: counts in the list, a CLI on another
// database than the worker's, the override a refusal names, an add that
// changes nothing, and plurals.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// addSynced adds an object through the CLI and waits for its first
// Completed cycle; cleanup stops its loop and deletes it.
func addSynced(t *testing.T, prefix string, interval string) model.ObjectKey {
	t.Helper()
	k := mustKey(t, uniqueTenant(prefix)+"/demo/accounts")
	t.Cleanup(func() {
		_ = temporalClient.TerminateWorkflow(context.Background(), k.WorkflowID(), "", "test over")
		_ = testStore.DeleteObject(context.Background(), k)
	})
	mustRun(t, "objects", "add", k.String(), "--interval", interval)
	waitCompleted(t, k, 1, 30*time.Second)
	return k
}

// TestListCountsRecords: `objects list --json` carries each object's real
// record counts, the same as `objects show`.
func TestListCountsRecords(t *testing.T) {
	k := addSynced(t, "count", "30m")
	var shown control.ObjectView
	if err := json.Unmarshal([]byte(mustRun(t, "objects", "show", k.String(), "--json").out), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Records != 20 {
		t.Fatalf("show --json: %d records; want the demo CRM's 20", shown.Records)
	}
	var objs []control.ObjectView
	if err := json.Unmarshal([]byte(mustRun(t, "objects", "list", "--json").out), &objs); err != nil {
		t.Fatal(err)
	}
	v := findObject(objs, k.String())
	if v == nil {
		t.Fatalf("list --json has no %s", k)
	}
	if v.Records != shown.Records || v.DeletedRecords != shown.DeletedRecords {
		t.Errorf("list --json: %d records, %d deleted; show says %d, %d", v.Records, v.DeletedRecords, shown.Records, shown.DeletedRecords)
	}
}

// otherDatabase points the CLI at a fresh schema: a database the worker
// does not use.
func otherDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("other_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin, err := pgx.Connect(ctx, testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.TestURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(testenv.TestURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Setenv("DATABASE_URL", u.String())
	return schema
}

// TestOtherDatabaseIsNoticed: a CLI on another database than the worker's
// must not answer "not found" (or "no objects yet") for objects whose
// loops run: it says to point DATABASE_URL at the worker's database.
func TestOtherDatabaseIsNoticed(t *testing.T) {
	k := addSynced(t, "otherdb", "30m")
	schema := otherDatabase(t)

	for _, args := range [][]string{
		{"objects", "show", k.String()},
		{"objects", "pause", k.String()},
		{"objects", "remove", k.String()},
	} {
		r := cli(t, args...)
		if r.err == nil {
			t.Fatalf("%s on another database succeeded: %s", strings.Join(args, " "), r)
		}
		for _, w := range []string{"loop " + k.WorkflowID() + " is running", "search_path=" + schema, "point DATABASE_URL at the worker's database"} {
			if !strings.Contains(r.msg, w) {
				t.Errorf("%s: message %q lacks %q", strings.Join(args, " "), r.msg, w)
			}
		}
		if strings.Contains(r.msg, "objects add") || strings.ContainsAny(r.err.Error(), "\r\n") {
			t.Errorf("%s: message %q: want one line, not the advice to add the object", strings.Join(args, " "), r.err.Error())
		}
	}
	for _, args := range [][]string{{"objects", "list"}, {"objects", "list", "--json"}} {
		r := cli(t, args...)
		if r.err == nil {
			t.Fatalf("%s on another database succeeded: %s", strings.Join(args, " "), r)
		}
		for _, w := range []string{"has no objects", "is running", "search_path=" + schema, "point DATABASE_URL at the worker's database"} {
			if !strings.Contains(r.msg, w) {
				t.Errorf("%s: message %q lacks %q", strings.Join(args, " "), r.msg, w)
			}
		}
	}
	// The loop was left alone.
	desc, err := temporalClient.DescribeWorkflowExecution(context.Background(), k.WorkflowID(), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus().String() != "Running" {
		t.Errorf("loop after the commands on another database: %v (%v); want running", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
}

// openCycle gives an object without a loop a cycle in progress.
func openCycle(t *testing.T, prefix string) model.ObjectKey {
	t.Helper()
	ctx := context.Background()
	k := mustKey(t, uniqueTenant(prefix)+"/demo/accounts")
	if _, _, err := testStore.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testStore.DeleteObject(context.Background(), k) })
	if _, err := testStore.StartCycle(ctx, store.StartCycleParams{Object: k, Key: "open-" + k.Tenant, Trigger: model.TriggerManual}); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRestartRefusalNamesTheCallersOverride: the CLI says --force (REST
// says force=true, see api), in the right number.
func TestRestartRefusalNamesTheCallersOverride(t *testing.T) {
	k := openCycle(t, "force")
	r := cli(t, "objects", "restart", k.String())
	if r.err == nil {
		t.Fatalf("restart with a running cycle succeeded: %s", r)
	}
	if r.code != 4 || !strings.Contains(r.msg, "retry with --force to cancel it") || strings.Contains(r.msg, "force=true") {
		t.Errorf("restart refused: exit %d, message %q; want exit 4 and `retry with --force to cancel it`", r.code, r.msg)
	}

	svc := &control.Service{Store: testStore}
	_, err := svc.Restart(context.Background(), false)
	ce, ok := err.(*control.ConflictError)
	if !ok {
		t.Fatalf("Restart with one running cycle: %v; want a ConflictError", err)
	}
	if ce.Reason != "1 cycle is running" || strings.Contains(ce.Error(), "force") {
		t.Errorf("Restart reason %q; want the neutral %q", ce.Reason, "1 cycle is running")
	}
	if got, want := ce.Fix("force=true"), "1 cycle is running; retry with force=true to cancel it"; got != want {
		t.Errorf("Fix = %q; want %q", got, want)
	}
}

// TestAddExistingWithOtherIntervalSaysSo: adding an existing object with
// another --interval keeps the old one (exit 0), and says so on stderr,
// naming set-interval.
func TestAddExistingWithOtherIntervalSaysSo(t *testing.T) {
	k := mustKey(t, uniqueTenant("readd")+"/demo/accounts")
	t.Cleanup(func() {
		_ = temporalClient.TerminateWorkflow(context.Background(), k.WorkflowID(), "", "test over")
		_ = testStore.DeleteObject(context.Background(), k)
	})
	if r := mustRun(t, "objects", "add", k.String(), "--interval", "30m"); r.eout != "" {
		t.Errorf("first add printed on stderr: %q", r.eout)
	}
	r := mustRun(t, "objects", "add", k.String(), "--interval", "2h")
	if !strings.Contains(r.out, "already exists (every 30m)") {
		t.Errorf("second add stdout %q", r.out)
	}
	for _, w := range []string{"2h", "30m", "not applied", "`syncloop objects set-interval " + k.String() + " 2h`"} {
		if !strings.Contains(r.eout, w) {
			t.Errorf("second add stderr %q lacks %q", r.eout, w)
		}
	}
	if n := strings.Count(r.eout, "\n"); n != 1 {
		t.Errorf("second add stderr %q: want one line", r.eout)
	}
	if o, err := testStore.GetObject(context.Background(), k); err != nil || o.Interval != 30*time.Minute {
		t.Errorf("object after the second add: %v (%v); want 30m kept", o.Interval, err)
	}
	// Fields and webhook kinds asked of an existing object are not applied
	// either, and it says which command changes them.
	r = mustRun(t, "objects", "add", k.String(), "--fields", "name", "--webhook-kinds", "none")
	for _, w := range []string{"fields were not applied", "set-fields", "webhook kinds were not applied", "set-webhook-kinds"} {
		if !strings.Contains(r.eout, w) {
			t.Errorf("add with fields and kinds: stderr %q lacks %q", r.eout, w)
		}
	}
	if o, err := testStore.GetObject(context.Background(), k); err != nil || o.Fields != nil || o.WebhookKinds != nil {
		t.Errorf("object after the add with fields: %v %v (%v); want them unchanged", o.Fields, o.WebhookKinds, err)
	}
	for _, args := range [][]string{{"objects", "add", k.String()}, {"objects", "add", k.String(), "--interval", "30m"}} {
		if r := mustRun(t, args...); r.eout != "" {
			t.Errorf("%s printed on stderr: %q (nothing was asked to change)", strings.Join(args, " "), r.eout)
		}
	}
}

// TestArgumentCountPlural: "(got 1 argument)", "(got 2 arguments)".
func TestArgumentCountPlural(t *testing.T) {
	for args, want := range map[string]string{
		"objects list extra":  "(got 1 argument)",
		"objects show a b":    "(got 2 arguments)",
		"objects show":        "(got 0 arguments)",
		"status extra":        "(got 1 argument)",
		"objects add a/b/c d": "(got 2 arguments)",
	} {
		r := cli(t, strings.Fields(args)...)
		if r.code != 2 || !strings.Contains(r.msg, want) {
			t.Errorf("syncloop %s: exit %d, message %q; want exit 2 and %q", args, r.code, r.msg, want)
		}
	}
	if got := model.Plural(1, "page") + ", " + model.Plural(0, "record") + ", " + model.Plural(int64(3), "record"); got != "1 page, 0 records, 3 records" {
		t.Errorf("plural: %q", got)
	}
}
