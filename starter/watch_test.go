package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/workflows"
)

// slowDemo gives the test a demo CRM of its own, serving only notes (n
// records) and waiting delay before each answer, and a worker of its own
// that asks for pages of 5 records and commits groups of 10 pages, on a
// task queue of its own that the CLI uses for the rest of the test.
func slowDemo(t *testing.T, notes int, delay time.Duration) *democrm.Server {
	t.Helper()
	srv := democrm.NewServer(democrm.Options{Size: -1, Sizes: map[string]int{"notes": notes}, Seed: 11})
	srv.SetFault(func(democrm.RequestLog) democrm.Fault { return democrm.Fault{Delay: delay} })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	queue := fmt.Sprintf("cli-watch-%d", time.Now().UnixNano())
	cfg := config.Default()
	cfg.TaskQueue, cfg.DemoURL, cfg.PageSize, cfg.BatchSize = queue, hs.URL, 5, 50
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	wk, err := wiring.New(cfg, temporalClient, os.Getenv("TEMPORAL_NAMESPACE"), testStore, quiet, wiring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wk.Worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Stop)
	t.Setenv("SYNCLOOP_TASK_QUEUE", queue)
	return srv
}

// lockedBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cliContext runs the command line in-process as main does, under ctx,
// writing stdout to out.
func cliContext(ctx context.Context, out *lockedBuffer, args ...string) error {
	root := newRoot()
	var eout bytes.Buffer
	root.SetOut(out)
	root.SetErr(&eout)
	root.SetArgs(append([]string{}, args...))
	return root.ExecuteContext(ctx)
}

var progressRE = regexp.MustCompile(`^cycle #(\d+) \(\w+\) running [^:]+: (\d+) pages?, (\d+) records?`)

// watchLines splits --watch output into its lines (progress lines are
// redrawn after a carriage return).
func watchLines(out string) []string {
	var lines []string
	for _, l := range strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// progressPages returns the page counts of cycle seq's progress lines.
func progressPages(lines []string, seq int) []int {
	var pages []int
	for _, l := range lines {
		m := progressRE.FindStringSubmatch(l)
		if m == nil || m[1] != strconv.Itoa(seq) {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		pages = append(pages, n)
	}
	return pages
}

// TestWatchShowsCommittedProgress: a cycle of 200 pages that takes several
// seconds shows its pages moving every second in `objects show --watch`
// (read from the page groups' commits, not from the throttled heartbeat),
// and `objects show --json` (the REST object view) carries the same.
func TestWatchShowsCommittedProgress(t *testing.T) {
	slowDemo(t, 1000, 25*time.Millisecond) // 200 pages of 5: over 5 s
	k := mustKey(t, uniqueTenant("watch")+"/demo/notes")
	mustRun(t, "objects", "add", k.String(), "--interval", "1h")
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(context.Background(), k.WorkflowID(), "", "test over") })

	// Meanwhile, the object view's progress.
	done := make(chan struct{})
	var viewMu sync.Mutex
	viewPages := map[int]bool{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(700 * time.Millisecond):
			}
			r := cli(t, "objects", "show", k.String(), "--json", "--cycles", "0")
			var v control.ObjectView
			if r.err != nil || json.Unmarshal([]byte(r.out), &v) != nil {
				continue
			}
			if l := v.Loop; l != nil && l.CurrentCycle != nil && l.CurrentCycle.Progress != nil {
				viewMu.Lock()
				viewPages[l.CurrentCycle.Progress.Pages] = true
				viewMu.Unlock()
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out lockedBuffer
	start := time.Now()
	err := cliContext(ctx, &out, "objects", "show", k.String(), "--watch")
	took := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("show --watch: %v; output %q", err, out.String())
	}
	t.Logf("show --watch output: %q", out.String())
	lines := watchLines(out.String())
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "cycle #1 Completed in ") {
		t.Fatalf("show --watch took %s, output %q; want it to end with cycle #1's Completed line", took, out.String())
	}
	if !strings.Contains(lines[len(lines)-1], "1000 new") {
		t.Errorf("final line %q; want 1000 new records", lines[len(lines)-1])
	}
	pages := progressPages(lines, 1)
	distinct := 0
	for i, n := range pages {
		if i > 0 && n < pages[i-1] {
			t.Errorf("page counts went backwards: %v", pages)
			break
		}
		if n > 0 && n < 200 && (i == 0 || n != pages[i-1]) {
			distinct++
		}
	}
	if distinct < 3 {
		t.Errorf("show --watch over %s showed page counts %v; want at least 3 distinct ones between 0 and 200, increasing (output %q)", took, pages, out.String())
	}
	viewMu.Lock()
	defer viewMu.Unlock()
	moving := 0
	for n := range viewPages {
		if n > 0 && n < 200 {
			moving++
		}
	}
	if moving == 0 {
		t.Errorf("show --json during the cycle showed current-cycle pages %v; want a committed count between 0 and 200", viewPages)
	}
}

// TestWatchWaitsForTheNextCycle: with no cycle running, --watch says what
// it waits for and when the next run is due, follows the cycle a sync-now
// starts a second later to its end, and Ctrl-C stops a wait cleanly.
func TestWatchWaitsForTheNextCycle(t *testing.T) {
	slowDemo(t, 100, 20*time.Millisecond)
	k := mustKey(t, uniqueTenant("watchidle")+"/demo/notes")
	mustRun(t, "objects", "add", k.String(), "--interval", "1h")
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(context.Background(), k.WorkflowID(), "", "test over") })
	waitCompleted(t, k, 1, 30*time.Second)
	waitFor(t, "the loop to be idle", 10*time.Second, func() bool {
		r := cli(t, "objects", "show", k.String(), "--json", "--cycles", "0")
		var v control.ObjectView
		return r.err == nil && json.Unmarshal([]byte(r.out), &v) == nil && v.State == workflows.StateIdle
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- cliContext(ctx, &out, "objects", "show", k.String(), "--watch") }()
	time.Sleep(time.Second)
	select {
	case err := <-errc:
		t.Fatalf("show --watch with no cycle running returned at once (%v): %q; want it to wait for the next cycle", err, out.String())
	default:
	}
	if s := out.String(); !strings.Contains(s, "waiting for the next one") || !strings.Contains(s, "due ") {
		t.Errorf("show --watch while idle printed %q; want what it waits for and when the next run is due", s)
	}
	mustRun(t, "objects", "sync-now", k.String())
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("show --watch: %v; output %q", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("show --watch did not end 30s after sync-now: %q", out.String())
	}
	t.Logf("show --watch output: %q", out.String())
	lines := watchLines(out.String())
	if !strings.HasPrefix(lines[len(lines)-1], "cycle #2 Completed in ") {
		t.Errorf("show --watch printed %q; want it to follow cycle #2 to its Completed line", out.String())
	}

	// Ctrl-C while waiting: a clean exit, at once.
	ictx, interrupt := context.WithCancel(context.Background())
	var out2 lockedBuffer
	go func() { errc <- cliContext(ictx, &out2, "objects", "show", k.String(), "--watch") }()
	waitFor(t, "--watch to wait", 10*time.Second, func() bool { return strings.Contains(out2.String(), "waiting for the next one") })
	interrupt()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("show --watch after Ctrl-C: %v; want a clean exit", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("show --watch did not stop 5s after Ctrl-C: %q", out2.String())
	}
}
