package workflows

import (
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/model"
)

// This file decides how long the loop waits: the interval from the last
// cycle's end, a shorter capped back-off after failed cycles, the hold
// after an auth or config failure (a daily re-check), and the churn
// back-off that stretches the interval of an object whose every cycle
// rewrites most of its records.

// failingRecheck is how long a loop held by an auth or config failure
// (versionHoldFailing) waits before it tries the provider again by
// itself: long enough not to hammer a provider with credentials that
// cannot work, short enough that a fix nobody told the loop about (a
// permission granted at the provider) is noticed within a day.
// LoopOptions.FailingRecheck overrides it.
const failingRecheck = 24 * time.Hour

// nextDue is when the next scheduled cycle is due: interval after the last
// cycle ended, sooner after failures (capped exponential backoff), or,
// while an auth or config failure holds the loop, a re-check a day after
// it.
func (l *loop) nextDue(now time.Time) (time.Time, string) {
	last := l.carried.LastCycle
	var ended time.Time
	if last != nil && last.EndedAt != nil {
		ended = *last.EndedAt
	} else if !l.in.LastCycleEndedAt.IsZero() {
		ended = l.in.LastCycleEndedAt
	} else {
		return now, StateIdle // never ran: run now
	}
	if l.carried.Failing != "" {
		// Held (versionHoldFailing): neither the interval nor the back-off
		// runs a cycle that cannot succeed; a trigger still runs one at once.
		return ended.Add(l.opts.FailingRecheck), StateFailing
	}
	wait, state := l.effectiveInterval(), StateIdle
	if l.opts.AlignToInterval && l.carried.ConsecutiveFailures == 0 {
		return alignUp(ended, wait), state
	}
	if last != nil && !l.carried.Spread {
		// The second cycle of the loop's life: spread (see SpreadWait).
		wait = SpreadWait(l.in.Object.WorkflowID(), wait)
	}
	if n := l.carried.ConsecutiveFailures; n > 0 {
		backoff := l.opts.FailureBackoffBase
		for i := 1; i < n && backoff < l.interval; i++ {
			backoff *= 2
		}
		if backoff < wait {
			wait, state = backoff, StateBackoff
		}
	}
	return ended.Add(wait), state
}

// alignUp is the first multiple of d since the Unix epoch after t
// (LoopOptions.AlignToInterval).
func alignUp(t time.Time, d time.Duration) time.Time {
	n := t.UnixNano()
	return time.Unix(0, (n/int64(d)+1)*int64(d)).In(t.Location())
}

// SpreadWait is how long a loop waits after the first cycle of its life
// (its start by `objects add`, the watcher or a restart; not a
// continue-as-new): a fixed fraction of the interval, from 0 up to the
// whole interval, taken from a hash of the workflow ID. Loops started
// together (a mass `objects add`, the watcher restarting every loop after
// an outage) run their first cycles at once, so nobody waits for a first
// sync, and are spread evenly over one interval from the second cycle on,
// instead of staying bunched forever (each cycle is due one interval
// after the previous one ended). Lag is measured against this due time:
// a cycle is due `interval` after the previous one ended, the second one
// SpreadWait after the first.
func SpreadWait(workflowID string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(workflowID))
	// 53 bits: an exact float64 in [0, 1).
	u := float64(h.Sum64()>>11) / float64(1<<53)
	return time.Duration(u * float64(interval)).Truncate(time.Millisecond)
}

// effectiveInterval is the interval in force: the configured one, or the
// churn back-off's longer one.
func (l *loop) effectiveInterval() time.Duration {
	if e := l.carried.EffectiveInterval; e > l.interval {
		return e
	}
	return l.interval
}

// adaptToChurn applies the churn back-off after an incremental cycle that
// wrote `written` record rows of an object that now has `live` records.
func (l *loop) adaptToChurn(written, live int) {
	o, c := l.opts, &l.carried
	eff := l.effectiveInterval()
	ratio := float64(written) / float64(max(live, 1))
	if ratio > o.ChurnThreshold {
		c.ChurnStreak++
		if c.ChurnStreak < o.ChurnCycles {
			return
		}
		c.ChurnStreak = 0
		next := min(eff*2, max(o.ChurnCap, l.interval))
		if next > eff {
			c.EffectiveInterval = next
			c.BackoffReason = fmt.Sprintf("%d cycles in a row rewrote more than %.0f%% of the records (last %.0f%%): interval backed off from %s to %s",
				o.ChurnCycles, o.ChurnThreshold*100, ratio*100, model.FormatInterval(l.interval), model.FormatInterval(next))
			l.dirty = true
		}
		return
	}
	c.ChurnStreak = 0
	if eff > l.interval {
		next := max(eff/2, l.interval)
		c.EffectiveInterval, c.BackoffReason = next, fmt.Sprintf("changes subsided (%.0f%% last cycle): returning toward %s, now %s",
			ratio*100, model.FormatInterval(l.interval), model.FormatInterval(next))
		if next == l.interval {
			c.EffectiveInterval, c.BackoffReason = 0, ""
		}
		l.dirty = true
	}
}

// resetChurn drops the churn back-off: an operator's explicit interval
// always wins over it.
func (l *loop) resetChurn() {
	if l.carried.EffectiveInterval != 0 || l.carried.ChurnStreak != 0 {
		l.carried.EffectiveInterval, l.carried.ChurnStreak, l.carried.BackoffReason = 0, 0, ""
		l.dirty = true
	}
}

// updateHold starts, keeps or ends the hold after a recorded cycle
// (versionHoldFailing). A cycle that failed with an auth or config error
// holds the loop until a trigger or the re-check runs a cycle that does
// not; a cycle an operator cancelled (restart --force) tells nothing about
// the credentials and leaves the hold as it was. The version is asked
// only where a hold begins, so a loop whose cycles do not fail that way
// records no marker (a quiet cycle stays as cheap as before).
func (l *loop) updateHold(ctx workflow.Context, out cycleOutcome) {
	switch {
	case out.byOperator:
	case out.failing == "":
		l.carried.Failing = ""
	case l.carried.Failing != "":
		// The re-check (or a trigger) failed the same way: still held. The
		// hold began under the version, so it is not asked again.
		l.carried.Failing = out.failing
	case workflow.GetVersion(ctx, versionHoldFailing, workflow.DefaultVersion, 1) == 1:
		l.carried.Failing = out.failing
	default:
		// Histories from before versionHoldFailing: the failure back-off.
	}
}

// holdText explains the hold: what the loop waits for and, when it is
// scheduled, its re-check.
func (l *loop) holdText(recheck *time.Time) string {
	what := "waiting for the connection to be changed"
	if l.carried.Failing == activities.ErrTypeConfig {
		what = "waiting for the object's configuration or its connection to be fixed"
	}
	s := fmt.Sprintf("failing (%s): %s", l.carried.Failing, what)
	if recheck != nil {
		s += "; re-check at " + recheck.UTC().Format(time.RFC3339)
	}
	return s
}
