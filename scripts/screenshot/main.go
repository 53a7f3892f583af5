// Command screenshot takes the README's picture: a SyncLoop workflow's
// history in the Temporal Web UI of a running dev stack, shot with headless
// Chromium through the DevTools protocol (chromedp). scripts/screenshot.sh
// starts the stack and runs it; it lives in its own module so that the main
// module does not depend on chromedp.
//
//	screenshot ports N      prints N free TCP ports on 127.0.0.1
//	screenshot shoot [flags] waits for cycles, then takes the picture
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: screenshot ports N | screenshot shoot [flags] (-h for the flags)")
	}
	var err error
	switch os.Args[1] {
	case "ports":
		err = ports(os.Args[2:])
	case "shoot":
		err = shoot(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want ports or shoot", os.Args[1])
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "screenshot: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "screenshot: "+format+"\n", args...)
}

// ports prints n distinct free ports, one a line. They are free when
// printed; the dev stack binds them right after.
func ports(args []string) error {
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 || n > 16 {
			return fmt.Errorf("ports: %q is not a count (1-16)", args[0])
		}
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

type shootOptions struct {
	api, ui, namespace, object, tenant string
	cycles                             int
	timeout                            time.Duration
	out, chromium                      string
	width, height                      int
}

func shoot(args []string) error {
	var o shootOptions
	fs := flag.NewFlagSet("screenshot shoot", flag.ContinueOnError)
	fs.StringVar(&o.api, "api", "http://127.0.0.1:8080", "base URL of the syncloop REST API")
	fs.StringVar(&o.ui, "ui", "http://localhost:8233", "base URL of the Temporal Web UI")
	fs.StringVar(&o.namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&o.tenant, "tenant", "demo", "tenant whose loops are listed (search attribute SyncTenant)")
	fs.StringVar(&o.object, "object", "demo/demo/accounts", "object whose SyncLoop history is shown")
	fs.IntVar(&o.cycles, "cycles", 2, "completed cycles to wait for before the picture")
	fs.DurationVar(&o.timeout, "timeout", 8*time.Minute, "give up after this long")
	fs.StringVar(&o.out, "out", "docs/ui-history.png", "PNG file to write")
	fs.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "Chromium binary")
	fs.IntVar(&o.width, "width", 1400, "viewport width (CSS pixels; the PNG is 1x)")
	fs.IntVar(&o.height, "height", 900, "viewport height")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(o.chromium); err != nil {
		return fmt.Errorf("no Chromium at %s: apt-get install -y chromium", o.chromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	if err := waitCycles(ctx, o); err != nil {
		return err
	}
	wfID, runID, err := findRun(ctx, o)
	if err != nil {
		return err
	}
	page := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history",
		strings.TrimSuffix(o.ui, "/"), url.PathEscape(o.namespace), url.PathEscape(wfID), url.PathEscape(runID))
	logf("opening %s", page)
	png, err := capture(ctx, o, page)
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.out, png, 0o644); err != nil {
		return err
	}
	logf("wrote %s (%d bytes)", o.out, len(png))
	return nil
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// waitCycles polls the REST API until the object has o.cycles completed
// cycles, so that its history has a few retrieve/finish/timer rounds.
func waitCycles(ctx context.Context, o shootOptions) error {
	u := strings.TrimSuffix(o.api, "/") + "/sync/v1/objects/" + o.object + "/cycles?limit=50"
	logf("waiting for %d completed cycles of %s (about a minute each)", o.cycles, o.object)
	var last error
	lastDone := -1
	for {
		var body struct {
			Cycles []struct {
				Status string `json:"status"`
			} `json:"cycles"`
		}
		err := getJSON(ctx, u, &body)
		if err == nil {
			done := 0
			for _, c := range body.Cycles {
				if c.Status == "Completed" {
					done++
				}
			}
			if done != lastDone {
				logf("%s: %d completed cycles", o.object, done)
				lastDone = done
			}
			if done >= o.cycles {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out waiting for %d completed cycles of %s (last error: %v)", o.cycles, o.object, last)
			}
			return fmt.Errorf("timed out waiting for %d completed cycles of %s", o.cycles, o.object)
		case <-time.After(2 * time.Second):
		}
	}
}

// findRun asks the UI server's HTTP API for the tenant's workflows and
// returns the object's SyncLoop workflow ID and run ID.
func findRun(ctx context.Context, o shootOptions) (workflowID, runID string, err error) {
	q := url.Values{"query": {fmt.Sprintf("SyncTenant=%q", o.tenant)}}
	u := fmt.Sprintf("%s/api/v1/namespaces/%s/workflows?%s", strings.TrimSuffix(o.ui, "/"), url.PathEscape(o.namespace), q.Encode())
	var body struct {
		Executions []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
				RunID      string `json:"runId"`
			} `json:"execution"`
			Type struct {
				Name string `json:"name"`
			} `json:"type"`
			Status string `json:"status"`
		} `json:"executions"`
	}
	if err := getJSON(ctx, u, &body); err != nil {
		return "", "", fmt.Errorf("list the workflows through the UI server: %w", err)
	}
	want := "sync/" + o.object
	var names []string
	for _, e := range body.Executions {
		names = append(names, e.Execution.WorkflowID)
		if e.Execution.WorkflowID == want && e.Type.Name == "SyncLoop" {
			logf("workflow %s run %s (%s)", want, e.Execution.RunID, e.Status)
			return want, e.Execution.RunID, nil
		}
	}
	return "", "", fmt.Errorf("no SyncLoop workflow %s among tenant %s's workflows %q", want, o.tenant, names)
}

// The page is driven with small scripts: the history's rows are table rows,
// and the UI renders each summary (markdown) in an iframe of its own.
const (
	// historyShown: the event table is there with summaries of the cycles.
	historyShown = `(() => {
  const rows = document.querySelectorAll('tr[data-testid="event-summary-row"]');
  const summaries = [...document.querySelectorAll('iframe[title="Summary"]')].map(f => {
    try { return f.contentDocument.body.innerText; } catch (e) { return ""; }
  });
  return rows.length >= 4 && summaries.some(s => s.includes("cycle #"));
})()`
	// compactShown: the Compact view, which groups each timer's and each
	// activity's events into one row and leaves out the workflow tasks.
	compactShown = `(() => {
  const rows = [...document.querySelectorAll('tr[data-testid="event-summary-row"]')];
  return rows.length >= 4 && !rows.some(r => r.innerText.includes("Workflow Task"));
})()`
	// clickCompact switches the history to the Compact view.
	clickCompact = `(() => {
  const b = [...document.querySelectorAll("button")].find(b => b.innerText.trim() === "Compact");
  if (!b) return false;
  b.click();
  return true;
})()`
	// foldInput folds the workflow input's JSON to one line ({…}), as its
	// fold marker does, so that more of the history fits.
	foldInput = `(() => {
  const h = [...document.querySelectorAll("h3")].find(e => e.innerText.trim() === "Input");
  let box = h && h.parentElement;
  while (box && !box.querySelector(".cm-foldGutter")) box = box.parentElement;
  const m = box && [...box.querySelectorAll('.cm-foldGutter span[title="Fold line"]')][0];
  if (!m) return false;
  const r = m.getBoundingClientRect();
  for (const type of ["mousedown", "mouseup", "click"]) {
    m.dispatchEvent(new MouseEvent(type, {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));
  }
  return true;
})()`
)

// capture opens page in headless Chromium and returns a PNG of the
// viewport once the history is rendered: Compact view, input folded.
func capture(ctx context.Context, o shootOptions, page string) ([]byte, error) {
	profile, err := os.MkdirTemp("", "syncloop-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(o.chromium),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(o.width, o.height),
		// The machine may have no network but loopback: nothing in the
		// background may try to reach the internet.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-device-scale-factor", "1"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	var png []byte
	var compact, folded bool
	err = chromedp.Run(bctx,
		chromedp.EmulateViewport(int64(o.width), int64(o.height)),
		chromedp.Navigate(page),
		waitFor(historyShown, "the event history with the cycles' summaries"),
		chromedp.Evaluate(clickCompact, &compact),
		chromedp.ActionFunc(func(ctx context.Context) error {
			if !compact {
				logf("no Compact button (another UI version?): the picture shows every event")
				return nil
			}
			return waitFor(compactShown+" && "+historyShown, "the Compact view of the history").Do(ctx)
		}),
		chromedp.Evaluate(foldInput, &folded),
		// Let the summaries' frames, the fold and fonts settle.
		chromedp.Sleep(1500*time.Millisecond),
		waitFor(historyShown, "the event history after switching views"),
		chromedp.CaptureScreenshot(&png),
	)
	if err != nil {
		return nil, fmt.Errorf("Chromium: %w", err)
	}
	if !folded {
		logf("could not fold the workflow input (another UI version?): the picture shows it whole")
	}
	return png, nil
}

// waitFor polls the page until the script cond is true, and fails with
// the page's text if it is not within a minute.
func waitFor(cond, what string) chromedp.ActionFunc {
	return func(ctx context.Context) error {
		deadline := time.Now().Add(time.Minute)
		for {
			var ok bool
			if err := chromedp.Evaluate(cond, &ok).Do(ctx); err != nil {
				return err
			}
			if ok {
				return nil
			}
			if time.Now().After(deadline) {
				var text string
				_ = chromedp.Evaluate(`document.body ? document.body.innerText : ""`, &text).Do(ctx)
				if len(text) > 2000 {
					text = text[:2000] + "…"
				}
				return errors.New(what + " did not show within a minute; the page shows:\n" + text)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}
