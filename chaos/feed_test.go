package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testcheck"
	"github.com/syncloop/syncloop/model"
)

// feedFollower follows one object's change feed from the beginning, as
// `syncloop records --follow` does, through every kill of the scenario,
// and rebuilds the object from the entries.
type feedFollower struct {
	mu      sync.Mutex
	rebuilt map[string][]byte
	last    model.FeedPosition
	entries int
	bad     []string // entries out of order or repeated
	cancel  context.CancelFunc
	done    chan error
}

func (e *env) followFeed(o *object) *feedFollower {
	ctx, cancel := context.WithCancel(e.ctx)
	f := &feedFollower{rebuilt: map[string][]byte{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- e.svc().FollowRecords(ctx, o.key, nil, control.FollowOptions{Limit: 500, Poll: time.Second}, func(p control.FeedPage) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, en := range p.Records {
				if pos := en.Position; pos.XID < f.last.XID || (pos.XID == f.last.XID && pos.ExternalID <= f.last.ExternalID) {
					f.bad = append(f.bad, fmt.Sprintf("%+v after %+v", pos, f.last))
				}
				f.last = en.Position
				f.entries++
				if en.Kind == model.FeedDeleted {
					delete(f.rebuilt, en.ExternalID)
				} else {
					f.rebuilt[en.ExternalID] = en.Data
				}
			}
			return nil
		})
	}()
	return f
}

// verifyFeed waits until the follower's rebuild equals the object's live
// records and reports every difference (and every repeated or
// out-of-order entry) as a mismatch.
func (e *env) verifyFeed(o *object, f *feedFollower) {
	e.t.Helper()
	var diff string
	deadline := time.Now().Add(time.Minute)
	for {
		diff = f.differences(e.liveRecords(o))
		if diff == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.cancel()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	bad := len(f.bad)
	if diff != "" {
		bad++
		e.t.Errorf("%s: the feed follower's rebuild differs from records: %s", o.key, diff)
	}
	if len(f.bad) > 0 {
		e.t.Errorf("%s: feed entries out of order or repeated: %v", o.key, testcheck.Sample(f.bad))
	}
	e.rep.add(func(r *scenarioReport) { r.Mismatches += bad })
	e.rep.note("change feed: a follower read %d entries through every kill and rebuilt %d records; %d out of order or repeated", f.entries, len(f.rebuilt), len(f.bad))
}

func (f *feedFollower) differences(want map[string][]byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var missing, extra, differ []string
	for id, w := range want {
		switch g, ok := f.rebuilt[id]; {
		case !ok:
			missing = append(missing, id)
		case !testcheck.JSONEqual(g, w):
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
	return fmt.Sprintf("missing %v, extra %v, different %v", testcheck.Sample(missing), testcheck.Sample(extra), testcheck.Sample(differ))
}

// liveRecords is the object's live rows of records.
func (e *env) liveRecords(o *object) map[string][]byte {
	out := map[string][]byte{}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	rows, err := e.st.Pool.Query(ctx, `SELECT external_id, data FROM records WHERE object_id = $1 AND deleted_at IS NULL`, o.id)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var data []byte
		if rows.Scan(&id, &data) == nil {
			out[id] = data
		}
	}
	return out
}
