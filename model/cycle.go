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

// Counts are a cycle's record counts.
type Counts struct {
	Retrieved int `json:"retrieved"`
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	Rejected  int `json:"rejected"`
}

// Written is how many record rows a cycle wrote.
func (c Counts) Written() int { return c.New + c.Changed + c.Deleted }
