package chaos

import (
	"context"
	"encoding/json"
	"time"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/testcheck"
)

// feedFollower follows one object's change feed from the beginning, as
// `syncloop records --follow` does, through every kill of the scenario,
// and rebuilds the object from the entries.
type feedFollower struct {
	testcheck.FeedRebuild
	cancel context.CancelFunc
	done   chan error
}

func (e *env) followFeed(o *object) *feedFollower {
	ctx, cancel := context.WithCancel(e.ctx)
	f := &feedFollower{cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- e.svc().FollowRecords(ctx, o.key, nil, control.FollowOptions{Limit: 500, Poll: time.Second}, func(p control.FeedPage) error {
			f.Apply(p.Records)
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
		diff = f.Differences(e.liveRecords(o))
		if diff == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.cancel()
	<-f.done
	outOfOrder := f.OutOfOrder()
	bad := len(outOfOrder)
	if diff != "" {
		bad++
		e.t.Errorf("%s: the feed follower's rebuild differs from records: %s", o.key, diff)
	}
	if len(outOfOrder) > 0 {
		e.t.Errorf("%s: feed entries out of order or repeated: %v", o.key, testcheck.Sample(outOfOrder))
	}
	e.rep.add(func(r *scenarioReport) { r.Mismatches += bad })
	e.rep.note("change feed: a follower read %d entries through every kill and rebuilt %d records; %d out of order or repeated", f.Entries(), f.Records(), len(outOfOrder))
}

// liveRecords is the object's live rows of records.
func (e *env) liveRecords(o *object) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
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
