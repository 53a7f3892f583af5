package model

import "time"

// Step is one entry of a cycle's steps array in sync_cycles.steps, as the
// seeds define it.
type Step struct {
	Name          string     `json:"name"`
	Status        Status     `json:"status"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	BatchesOK     int        `json:"batches_ok"`
	BatchesFailed int        `json:"batches_failed"`
	Records       int        `json:"records"`
	Error         string     `json:"error,omitempty"`
}

// Step names.
const (
	StepRetrieve = "Retrieve"
	StepProcess  = "Process"
)

// RetrievedSteps are the steps of a cycle whose retrieval ended without an
// error: Retrieve (pages fetched) and Process (pages applied), which run
// interleaved from started to ended. Rejected records make Process
// Partially_Completed, and the second result is then the cycle's error.
// The workflow and the one-activity cycle both build a cycle's steps here,
// so a cycle is recorded the same way whichever of them finishes it.
func RetrievedSteps(started, ended time.Time, pages, records, rejected int) ([]Step, string) {
	step := func(name string) Step {
		return Step{Name: name, Status: StatusCompleted, StartedAt: &started, EndedAt: &ended, BatchesOK: pages, Records: records}
	}
	retrieve, process := step(StepRetrieve), step(StepProcess)
	if rejected > 0 {
		process.Status, process.Error = StatusPartiallyCompleted, Plural(rejected, "record")+" rejected (see rejected_records)"
	}
	return []Step{retrieve, process}, process.Error
}

// StepsStatus is a cycle's status from its steps (CombineStatuses).
func StepsStatus(steps []Step) Status {
	statuses := make([]Status, len(steps))
	for i, s := range steps {
		statuses[i] = s.Status
	}
	return CombineStatuses(statuses...)
}

// Counts are a cycle's record counts. Every retrieved record is counted
// in exactly one of New, Changed, Unchanged, Rejected, TombstonesUnknown
// and Deleted − DeletedUnlisted (see Accounted):
//   - New: inserted;
//   - Changed: rewritten: its content hash differed, or it was deleted
//     and is live again;
//   - Unchanged: nothing written — same content, an older version than
//     the stored one (a re-read overlap, or a stale tombstone), or
//     superseded by a newer copy of the same record in the same group;
//   - Deleted: records this cycle deleted: retrieved tombstones of live
//     records, plus DeletedUnlisted, the live records a complete full
//     listing did not include (those were not retrieved);
//   - Rejected: stored in rejected_records instead;
//   - TombstonesUnknown: tombstones of records that were not live here
//     (never synced, or already deleted): nothing to delete.
type Counts struct {
	Retrieved         int `json:"retrieved"`
	New               int `json:"new"`
	Changed           int `json:"changed"`
	Unchanged         int `json:"unchanged"`
	Deleted           int `json:"deleted"`
	Rejected          int `json:"rejected"`
	TombstonesUnknown int `json:"tombstones_unknown"`
	DeletedUnlisted   int `json:"deleted_unlisted"`
}

// Written is how many record rows a cycle wrote.
func (c Counts) Written() int { return c.New + c.Changed + c.Deleted }

// Accounted is how many retrieved records the buckets account for; it
// equals Retrieved for every cycle.
func (c Counts) Accounted() int {
	return c.New + c.Changed + c.Unchanged + c.Rejected + c.TombstonesUnknown + c.Deleted - c.DeletedUnlisted
}
