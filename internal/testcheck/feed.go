package testcheck

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// FeedRebuild is what a change-feed consumer makes of the entries it
// reads: the object rebuilt by applying them in order, and every entry
// that came out of order or twice (its position not after the last one).
// Safe for one writer and concurrent readers.
type FeedRebuild struct {
	mu      sync.Mutex
	rebuilt map[string]json.RawMessage
	last    model.FeedPosition
	entries int
	bad     []string
}

// Apply applies a page of feed entries.
func (f *FeedRebuild) Apply(entries []store.FeedEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rebuilt == nil {
		f.rebuilt = map[string]json.RawMessage{}
	}
	for _, e := range entries {
		// External ids compare bytewise in the tests' C collation.
		if pos := e.Position; pos.XID < f.last.XID || (pos.XID == f.last.XID && pos.ExternalID <= f.last.ExternalID) {
			f.bad = append(f.bad, fmt.Sprintf("%+v after %+v", pos, f.last))
		}
		f.last = e.Position
		f.entries++
		if e.Kind == model.FeedDeleted {
			delete(f.rebuilt, e.ExternalID)
		} else {
			f.rebuilt[e.ExternalID] = e.Data
		}
	}
}

// Entries, Records and OutOfOrder are the counts so far, and the entries
// out of order or repeated.
func (f *FeedRebuild) Entries() int { f.mu.Lock(); defer f.mu.Unlock(); return f.entries }
func (f *FeedRebuild) Records() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.rebuilt) }
func (f *FeedRebuild) OutOfOrder() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

// Differences compares the rebuilt object with want (id → JSON): "" when
// they are the same.
func (f *FeedRebuild) Differences(want map[string]json.RawMessage) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var missing, extra, differ []string
	for id, w := range want {
		switch g, ok := f.rebuilt[id]; {
		case !ok:
			missing = append(missing, id)
		case !JSONEqual(g, w):
			differ = append(differ, id)
		}
	}
	for id := range f.rebuilt {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(differ) == 0 {
		return ""
	}
	return fmt.Sprintf("rebuilt %d records from %d entries vs %d: missing %v, extra %v, different %v",
		len(f.rebuilt), f.entries, len(want), Sample(missing), Sample(extra), Sample(differ))
}
