package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// nextCursorOf returns the cursor of records' last stderr line.
func nextCursorOf(t *testing.T, stderr string) (cursor string, more bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	rest, ok := strings.CutPrefix(last, "next cursor: ")
	if !ok {
		t.Fatalf("stderr %q does not end with the next cursor", stderr)
	}
	cursor, _, more = strings.Cut(rest, " ")
	if _, err := model.DecodeFeedCursor(cursor); err != nil {
		t.Fatalf("next cursor %q: %v", cursor, err)
	}
	return cursor, more
}

// jsonEntries decodes records --json output, one entry a line.
func jsonEntries(t *testing.T, out string) []store.FeedEntry {
	t.Helper()
	var entries []store.FeedEntry
	for line := range strings.Lines(out) {
		var e store.FeedEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.ExternalID == "" {
			t.Fatalf("records --json line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

func TestRecordsCommand(t *testing.T) {
	k := mustKey(t, uniqueTenant("records")+"/demo/notes")
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(context.Background(), k.WorkflowID(), "", "test over") })

	// Bad input: exit 2 (3 for an unknown object), one line, before
	// anything is read.
	for _, bad := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"records"}, 2, "expects one object ID"},
		{[]string{"records", "BAD/x/y"}, 2, "[a-z0-9_-]{1,64}"},
		{[]string{"records", k.String(), "--limit", "0"}, 2, "--limit 0 is out of range: use 1 to 1000"},
		{[]string{"records", k.String(), "--limit", "many"}, 2, "invalid argument"},
		{[]string{"records", k.String(), "--after", "nonsense"}, 2, "--after: the cursor is malformed"},
		{[]string{"records", k.String(), "--folow"}, 2, "unknown flag"},
		{[]string{"records", k.String()}, 3, "not found"},
	} {
		r := cli(t, bad.args...)
		if r.code != bad.code || !strings.Contains(r.msg, bad.says) || strings.Contains(r.msg, "\n") {
			t.Errorf("syncloop %s: %s; want exit %d saying %q", strings.Join(bad.args, " "), r, bad.code, bad.says)
		}
	}

	demo := slowDemo(t, 20, 0)
	mustRun(t, "objects", "add", k.String(), "--interval", "1h")
	waitCompleted(t, k, 1, 30*time.Second)

	// Pages of 7 until caught up: the 20 records, each once, all new.
	seen := map[string]bool{}
	var cursor string
	waitFor(t, "the first sync in records", 30*time.Second, func() bool {
		args := []string{"records", k.String(), "--limit", "7", "--json"}
		if cursor != "" {
			args = append(args, "--after", cursor)
		}
		r := mustRun(t, args...)
		for _, e := range jsonEntries(t, r.out) {
			if seen[e.ExternalID] || e.Kind != model.FeedNew || e.Cycle != 1 {
				t.Fatalf("entry %+v (seen before: %v)", e, seen[e.ExternalID])
			}
			seen[e.ExternalID] = true
		}
		var more bool
		cursor, more = nextCursorOf(t, r.eout)
		return len(seen) == 20 && !more
	})
	// A cursor of another object is refused.
	other, _ := model.DecodeFeedCursor(cursor)
	other.ObjectID += 1000
	if r := cli(t, "records", k.String(), "--after", other.Encode()); r.code != 2 || !strings.Contains(r.msg, "another object") {
		t.Errorf("records with another object's cursor: %s", r)
	}
	// The table.
	r := mustRun(t, "records", k.String(), "--limit", "3")
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "KIND") || !strings.HasPrefix(lines[1], "new ") {
		t.Errorf("records table = %q; want a header and 3 entries", r.out)
	}
	t.Logf("records --limit 3:\n%s%s", r.out, r.eout)
	if r := mustRun(t, "records", k.String(), "--after", cursor); !strings.Contains(r.out, "no changes after this cursor yet") {
		t.Errorf("records after the last entry printed %q", r.out)
	}

	// --follow from the cursor: the next cycle's changes arrive (woken by
	// NOTIFY), and Ctrl-C ends it cleanly with the cursor to resume from.
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var out, errOut lockedBuffer
	errc := make(chan error, 1)
	go func() {
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs([]string{"records", k.String(), "--after", cursor, "--follow", "--json", "--limit", "2"})
		errc <- root.ExecuteContext(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	deleted := demo.Delete("notes", 2)
	changed := demo.Change("notes", 3)
	added := demo.Add("notes", 1)
	mustRun(t, "objects", "sync-now", k.String())
	waitFor(t, "records --follow to print the 6 changes", 30*time.Second, func() bool {
		return strings.Count(out.String(), "\n") >= 6
	})
	interrupt()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("records --follow after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("records --follow did not stop 10s after Ctrl-C")
	}
	kinds := map[string]model.FeedKind{}
	for _, e := range jsonEntries(t, out.String()) {
		kinds[e.ExternalID] = e.Kind
	}
	want := map[string]model.FeedKind{}
	for _, id := range deleted {
		want[id] = model.FeedDeleted
	}
	for _, id := range changed {
		want[id] = model.FeedChanged
	}
	for _, id := range added {
		want[id] = model.FeedNew
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("records --follow printed %v; want %v", kinds, want)
	}
	resume, _ := nextCursorOf(t, errOut.String())
	if r := mustRun(t, "records", k.String(), "--after", resume, "--json"); r.out != "" {
		t.Errorf("records after the followed cursor printed %q; want nothing", r.out)
	}
}
