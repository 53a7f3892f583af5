package e2e

import (
	"encoding/json"
	"fmt"
	"github.com/syncloop/syncloop/control"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// TestCycleCompletedWebhookOncePerCycle: with cycle.completed among
// SYNCLOOP_WEBHOOK_KINDS, every cycle posts one signed cycle.completed
// (the receiver checks the HMAC) with its status, counts and the feed
// cursor at its end; reading the feed after a cycle's cursor returns
// exactly what the next cycle changed.
func TestCycleCompletedWebhookOncePerCycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 40, pageSize: 10, webhookKinds: append(activities.Kinds[:0:0], activities.Kinds...)})
	k, obj := h.add("contacts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)
	changed := h.demo.Change("contacts", 4)
	if _, err := h.svc.SyncNow(h.ctx, k, "second"); err != nil {
		t.Fatal(err)
	}
	h.waitCycles(obj, 2, time.Minute)
	if _, err := h.svc.SyncNow(h.ctx, k, "third, nothing changed"); err != nil {
		t.Fatal(err)
	}
	h.waitCycles(obj, 3, time.Minute)

	var events []store.CycleCompleted
	h.waitUntil("three cycle.completed webhooks", 30*time.Second, func() (bool, string) {
		events = events[:0]
		h.webhook.mu.Lock()
		defer h.webhook.mu.Unlock()
		ids := map[int64]bool{}
		for _, p := range h.webhook.got {
			if p.Object != k.String() || p.Kind != activities.KindCycleCompleted {
				continue
			}
			if ids[p.ID] {
				t.Errorf("notification %d delivered twice", p.ID)
			}
			ids[p.ID] = true
			var c store.CycleCompleted
			if err := json.Unmarshal(p.Details, &c); err != nil {
				t.Fatalf("cycle.completed details %s: %v", p.Details, err)
			}
			events = append(events, c)
		}
		return len(events) >= 3, fmt.Sprintf("%d so far (bad signatures %d)", len(events), h.webhook.bad)
	})
	time.Sleep(500 * time.Millisecond) // nothing more should come
	h.webhook.mu.Lock()
	bad := h.webhook.bad
	h.webhook.mu.Unlock()
	if len(events) != 3 || bad != 0 {
		t.Fatalf("got %d cycle.completed (%+v) and %d badly signed posts; want 3, all signed", len(events), events, bad)
	}
	for i, e := range events {
		if e.Seq != i+1 || e.Status != model.StatusCompleted || e.Cursor == "" {
			t.Errorf("cycle.completed #%d = %+v; want seq %d, Completed, with a feed cursor", i+1, e, i+1)
		}
	}
	if events[0].Counts.New != 40 || events[1].Counts.Changed != len(changed) || events[2].Counts.Written() != 0 {
		t.Errorf("counts %+v, %+v, %+v; want 40 new, then %d changed, then nothing", events[0].Counts, events[1].Counts, events[2].Counts, len(changed))
	}
	// The first cycle's cursor is where the second cycle's changes begin.
	cur, err := model.DecodeFeedCursor(events[0].Cursor)
	if err != nil {
		t.Fatal(err)
	}
	page, err := h.svc.Records(h.ctx, k, &cur, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(changed) {
		t.Errorf("feed after cycle #1's cursor: %d entries; want the %d records cycle #2 changed", len(page.Records), len(changed))
	}
	if cur3, err := model.DecodeFeedCursor(events[2].Cursor); err != nil {
		t.Fatal(err)
	} else if page, err := h.svc.Records(h.ctx, k, &cur3, 100); err != nil || len(page.Records) != 0 {
		t.Errorf("feed after the last cycle's cursor: %d entries (%v); want none", len(page.Records), err)
	}
}

// Webhook kinds per object: with the worker's default kinds (no
// cycle.completed), an object that asks for cycle.completed gets one per
// cycle, its neighbour none; switching the neighbour on (set-webhook-kinds)
// takes effect at its next cycle, and switching the first to none stops
// its posts.
func TestWebhookKindsPerObject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{size: 20})
	withKey := h.key("contacts")
	with, _, err := h.svc.Add(h.ctx, control.AddRequest{Key: withKey, Interval: time.Hour, WebhookKinds: []string{activities.KindCycleCompleted}})
	if err != nil {
		t.Fatal(err)
	}
	withoutKey, without := h.add("accounts", time.Hour)
	h.waitCycles(with, 1, time.Minute)
	h.waitCycles(without, 1, time.Minute)
	posted := func(k model.ObjectKey) int {
		h.webhook.mu.Lock()
		defer h.webhook.mu.Unlock()
		n := 0
		for _, p := range h.webhook.got {
			if p.Object == k.String() && p.Kind == activities.KindCycleCompleted {
				n++
			}
		}
		return n
	}
	h.waitUntil("the first cycle.completed", 30*time.Second, func() (bool, string) {
		return posted(withKey) == 1, fmt.Sprintf("%d posted", posted(withKey))
	})
	if n := posted(withoutKey); n != 0 {
		t.Fatalf("%d cycle.completed for an object using the worker's kinds (which have none)", n)
	}
	if _, err := h.svc.SetWebhookKinds(h.ctx, withoutKey, []string{activities.KindCycleCompleted}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SetWebhookKinds(h.ctx, withKey, []string{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SetWebhookKinds(h.ctx, withKey, []string{"cycle.started"}); err == nil || !strings.Contains(err.Error(), "cycle.started") {
		t.Fatalf("unknown kind: %v; want an input error naming it", err)
	}
	for _, k := range []model.ObjectKey{withKey, withoutKey} {
		if _, err := h.svc.SyncNow(h.ctx, k, "kinds changed"); err != nil {
			t.Fatal(err)
		}
	}
	h.waitCycles(with, 2, time.Minute)
	h.waitCycles(without, 2, time.Minute)
	h.waitUntil("the neighbour's cycle.completed", 30*time.Second, func() (bool, string) {
		return posted(withoutKey) == 1, fmt.Sprintf("%d posted", posted(withoutKey))
	})
	time.Sleep(500 * time.Millisecond)
	if n := posted(withKey); n != 1 {
		t.Fatalf("%d cycle.completed for the object switched to none; want still 1", n)
	}
}
