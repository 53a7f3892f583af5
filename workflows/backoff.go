package workflows

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/syncloop/syncloop/model"
)

// This file decides how long the loop waits: the interval from the last
// cycle's end, a shorter capped back-off after failed cycles, and the
// churn back-off that stretches the interval of an object whose every
// cycle rewrites most of its records.

// nextDue is when the next scheduled cycle is due: interval after the last
// cycle ended, sooner after failures (capped exponential backoff).
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
	wait, state := l.effectiveInterval(), StateIdle
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
