// Package workflows holds syncloop's deterministic code: the per-object
// SyncLoop (syncloop.go: the loop and its wait; handlers.go: signals,
// updates and the query; cycle.go: one cycle; publish.go: status, search
// attributes and UI details; backoff.go: how long to wait) and the Watcher
// (watcher.go). No I/O here: activities do that. The replay fixtures in
// testdata are the compatibility contract (docs/ARCHITECTURE.md).
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// Stable names (DESIGN.md, Interfaces).
const (
	SyncLoopWorkflow = "SyncLoop"
	DefaultTaskQueue = "syncloop"

	SignalSetInterval = "set-interval"
	SignalTrigger     = "trigger"
	SignalPause       = "pause"
	SignalResume      = "resume"
	QueryStatus       = "status"

	// Internal (not part of the stable contract): the watcher and control
	// use them.
	// SignalWake makes a loop re-check its state now (after `sync on`).
	SignalWake = "wake"
	// SignalSyncOff tells a loop that `sync off` is in force, so its state,
	// query and SyncState show it at once instead of at its next cycle.
	SignalSyncOff = "sync-off"
	// UpdateCancelCycle cancels the running cycle (restart --force); the
	// cycle is recorded Failed with the given reason and the loop goes on.
	UpdateCancelCycle = "cancel-cycle"
)

// Loop states, as reported by the status query and the SyncState search
// attribute.
const (
	StateIdle    = "idle"
	StateRunning = "running"
	StatePaused  = "paused"
	StateBackoff = "backoff"
	// StateDisabled: the whole sync is off (`sync off`); the loop starts no
	// cycle until it is turned on again.
	StateDisabled = "disabled"
	// StateFailing: the last cycle failed with an auth or config error
	// that retrying cannot fix (versionHoldFailing). The loop calls the
	// provider again only when triggered (changing the connection triggers
	// its objects) or at a daily re-check (failingRecheck).
	StateFailing = "failing"
)

// Search attributes (stable names).
var (
	SATenant        = temporal.NewSearchAttributeKeyKeyword("SyncTenant")
	SAProvider      = temporal.NewSearchAttributeKeyKeyword("SyncProvider")
	SAObjectType    = temporal.NewSearchAttributeKeyKeyword("SyncObjectType")
	SAState         = temporal.NewSearchAttributeKeyKeyword("SyncState")
	SALastSuccessAt = temporal.NewSearchAttributeKeyTime("SyncLastSuccessAt")
	SANextRunAt     = temporal.NewSearchAttributeKeyTime("SyncNextRunAt")
)

// ObjectSearchAttributes are set when a loop starts, so operators can list
// loops by tenant, provider and object type.
func ObjectSearchAttributes(k model.ObjectKey) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SATenant.ValueSet(k.Tenant), SAProvider.ValueSet(k.Provider), SAObjectType.ValueSet(k.ObjectType),
		SAState.ValueSet(StateIdle))
}

// SetIntervalRequest is the payload of the set-interval signal and update.
type SetIntervalRequest struct {
	Interval string `json:"interval"`
}

// TriggerRequest is the payload of the trigger signal and update.
type TriggerRequest struct {
	Reason string `json:"reason,omitempty"`
	// Trigger overrides the recorded trigger ("restart", "watcher");
	// empty means "manual".
	Trigger model.Trigger `json:"trigger,omitempty"`
}

// Empty is the payload of pause and resume.
type Empty struct{}

// CancelCycleRequest is the payload of cancel-cycle.
type CancelCycleRequest struct {
	Reason string `json:"reason"`
}

// LoopInput starts (or continues) a SyncLoop.
type LoopInput struct {
	Object model.ObjectKey `json:"object"`
	// Interval as operators write it ("3h"); empty means the default.
	Interval string `json:"interval,omitempty"`
	Paused   bool   `json:"paused,omitempty"`
	// LastCycleEndedAt is when the object's previous cycle ended (from
	// sync_cycles) for a loop started again after it stopped; zero runs a
	// cycle at once.
	LastCycleEndedAt time.Time `json:"last_cycle_ended_at,omitzero"`
	// FirstTrigger is recorded on the first cycle of a fresh loop.
	FirstTrigger model.Trigger `json:"first_trigger,omitempty"`
	Options      LoopOptions   `json:"options,omitzero"`
	// Carried is the state crossing continue-as-new.
	Carried *CarriedState `json:"carried,omitempty"`
	// Known is what PostgreSQL knows of the object's earlier cycles, for a
	// loop started again (by the watcher, a restart, or a new worker): its
	// status and search attributes start from it instead of from nothing.
	// It does not change when the next cycle runs (LastCycleEndedAt does).
	Known *KnownHistory `json:"known,omitempty"`
}

// KnownHistory is the object's cycle history as sync_cycles has it.
type KnownHistory struct {
	// Cycles is the newest cycle's number.
	Cycles        int        `json:"cycles"`
	LastCycle     *CycleInfo `json:"last_cycle,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
}

// KnownFrom builds a loop's KnownHistory from the object's newest cycle
// row (nil if it has none) and its last successful sync.
func KnownFrom(newest *store.Cycle, lastSuccessAt *time.Time) *KnownHistory {
	if newest == nil && lastSuccessAt == nil {
		return nil
	}
	k := &KnownHistory{LastSuccessAt: lastSuccessAt}
	if c := newest; c != nil {
		var started time.Time
		if c.StartedAt != nil {
			started = *c.StartedAt
		}
		k.Cycles, k.LastCycle = c.Seq, cycleInfoFrom(*c, started, c.EndedAt)
	}
	return k
}

// LoopOptions tune retries and history size; zero values mean defaults.
// Tests shorten them.
type LoopOptions struct {
	RetrieveAttempts   int           `json:"retrieve_attempts,omitempty"`
	RetryInitial       time.Duration `json:"retry_initial,omitempty"`
	RetryMax           time.Duration `json:"retry_max,omitempty"`
	HeartbeatTimeout   time.Duration `json:"heartbeat_timeout,omitempty"`
	FailureBackoffBase time.Duration `json:"failure_backoff_base,omitempty"`
	// HistoryCap forces continue-as-new past this many events even if the
	// server does not suggest it yet; 0 is the default (localHistoryCap,
	// or 10,000 for runs from before versionLocalCycle).
	HistoryCap int `json:"history_cap,omitempty"`
	// CyclesPerRun, if positive, continues as new after that many cycles in
	// one run. 1 reproduces the "one run per cycle" pattern (Airbyte's
	// connection manager) that the benchmarks compare against.
	CyclesPerRun int `json:"cycles_per_run,omitempty"`
	// AlignToInterval, for measurements only, times every scheduled
	// cycle after the first to the next multiple of the interval since
	// the Unix epoch, as a Temporal Schedule with `Every` fires, instead
	// of an interval after the previous cycle's end, and does not spread
	// (SpreadWait): loops started together stay bunched. The benchmark
	// runs it to tell what spreading costs the worker from what the loop
	// itself costs.
	AlignToInterval bool `json:"align_to_interval,omitempty"`

	// The local budget of a cycle (versionLocalCycle): RetrieveLocal
	// fetches no page after LocalPages pages or LocalBudget; the rest of
	// the cycle continues in a regular Retrieve activity. The budget keeps
	// a workflow task well inside its 10 s timeout, so the task needs no
	// heartbeat (which would cost events).
	LocalPages  int           `json:"local_pages,omitempty"`
	LocalBudget time.Duration `json:"local_budget,omitempty"`

	// Churn back-off (seed: "every three hours → once a day"): when
	// ChurnCycles incremental cycles in a row rewrite more than
	// ChurnThreshold of the object's records, the effective interval
	// doubles, up to ChurnCap; each calm cycle halves it back.
	ChurnThreshold float64       `json:"churn_threshold,omitempty"`
	ChurnCycles    int           `json:"churn_cycles,omitempty"`
	ChurnCap       time.Duration `json:"churn_cap,omitempty"`

	// FailingRecheck is how long after a cycle that failed with an auth or
	// config error the held loop tries again by itself (default
	// failingRecheck, 24h; versionHoldFailing).
	FailingRecheck time.Duration `json:"failing_recheck,omitempty"`
}

func (o LoopOptions) withDefaults() LoopOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.RetrieveAttempts <= 0 {
		o.RetrieveAttempts = 8
	}
	def(&o.RetryInitial, time.Second)
	def(&o.RetryMax, time.Minute)
	def(&o.HeartbeatTimeout, time.Minute)
	def(&o.FailureBackoffBase, time.Minute)
	if o.LocalPages <= 0 {
		o.LocalPages = 5
	}
	def(&o.LocalBudget, 3*time.Second)
	if o.ChurnThreshold <= 0 {
		o.ChurnThreshold = 0.5
	}
	if o.ChurnCycles <= 0 {
		o.ChurnCycles = 3
	}
	def(&o.ChurnCap, 24*time.Hour)
	def(&o.FailingRecheck, failingRecheck)
	return o
}

// CarriedState is the small state a loop hands to its next run. The
// cursor is not here: it lives in PostgreSQL with the records it covers.
type CarriedState struct {
	Cycles              int             `json:"cycles"`
	LastCycle           *CycleInfo      `json:"last_cycle,omitempty"`
	ConsecutiveFailures int             `json:"consecutive_failures"`
	PendingTrigger      *TriggerRequest `json:"pending_trigger,omitempty"`
	LastSuccessAt       *time.Time      `json:"last_success_at,omitempty"`
	// EffectiveInterval is set while the churn back-off is in force.
	EffectiveInterval time.Duration `json:"effective_interval,omitempty"`
	ChurnStreak       int           `json:"churn_streak,omitempty"`
	BackoffReason     string        `json:"backoff_reason,omitempty"`
	// LocalCycles: this loop's cycles run in one workflow task
	// (versionLocalCycle), decided by an earlier run.
	LocalCycles bool `json:"local_cycles,omitempty"`
	// OneActivityCycles: this loop's cycles start as one local activity,
	// RunCycle (versionCycleActivity), decided by an earlier run.
	OneActivityCycles bool `json:"one_activity_cycles,omitempty"`
	// Spread: the loop has run its second cycle, so the spread of its
	// start (SpreadWait) is behind it.
	Spread bool `json:"spread,omitempty"`
	// Failing is set while the loop is held after a cycle that failed with
	// an auth or config error (versionHoldFailing): that error type
	// (activities.ErrTypeAuth or ErrTypeConfig). The failing cycle is
	// LastCycle. A loop started again without it (by the watcher, a
	// restart) does not know of the hold: its first cycle is a re-check,
	// and a failure there holds it again.
	Failing string `json:"failing,omitempty"`
}

// CycleInfo summarises one cycle for the status query.
type CycleInfo struct {
	Seq       int           `json:"seq"`
	Trigger   model.Trigger `json:"trigger"`
	Status    model.Status  `json:"status"`
	Full      bool          `json:"full_sync"`
	StartedAt time.Time     `json:"started_at"`
	EndedAt   *time.Time    `json:"ended_at,omitempty"`
	Counts    model.Counts  `json:"counts"`
	Steps     []model.Step  `json:"steps,omitempty"`
	Error     string        `json:"error,omitempty"`
	// Progress of a running cycle, filled in by control from the pages and
	// records each page group commits to the cycle row (and the attempt and
	// last failure from Temporal); the workflow itself does not see them.
	Progress *CycleProgress `json:"progress,omitempty"`
}

// CycleProgress is how far a running cycle's Retrieve has got.
type CycleProgress struct {
	Pages         int       `json:"pages"`
	Records       int       `json:"records"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Attempt       int32     `json:"attempt"`
	LastFailure   string    `json:"last_failure,omitempty"`
}

// LoopStatus is the answer of the status query and of every update.
type LoopStatus struct {
	Object              string          `json:"object"`
	Interval            string          `json:"interval"`
	State               string          `json:"state"`
	NextRunAt           *time.Time      `json:"next_run_at,omitempty"`
	CurrentCycle        *CycleInfo      `json:"current_cycle,omitempty"`
	LastCycle           *CycleInfo      `json:"last_cycle,omitempty"`
	ConsecutiveFailures int             `json:"consecutive_failures"`
	PendingTrigger      *TriggerRequest `json:"pending_trigger,omitempty"`
	LastSuccessAt       *time.Time      `json:"last_success_at,omitempty"`
	Cycles              int             `json:"cycles"`
	// EffectiveInterval differs from Interval while the churn back-off
	// holds; BackoffReason says why.
	EffectiveInterval string `json:"effective_interval"`
	BackoffReason     string `json:"backoff_reason,omitempty"`
	// Failing is the error type (auth, config) holding the loop
	// (StateFailing, versionHoldFailing); NextRunAt is then its re-check.
	Failing string `json:"failing,omitempty"`
}

// cycleInfoFrom converts a cycle row (endedAt nil: not ended).
func cycleInfoFrom(c store.Cycle, startedAt time.Time, endedAt *time.Time) *CycleInfo {
	return &CycleInfo{Seq: c.Seq, Trigger: c.Trigger, Status: c.Status, Full: c.Full, StartedAt: startedAt,
		EndedAt: endedAt, Counts: c.Counts, Steps: c.Steps, Error: c.Error}
}

// The watcher (stable names).
const (
	WatcherWorkflow   = "Watcher"
	WatcherScheduleID = "syncloop-watcher"
)
