package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// CycleInput is a whole cycle as one local activity (RunCycle): the start
// of its row, the retrieval within a budget, and its end.
type CycleInput struct {
	Start StartCycleInput `json:"start"`
	// MaxPages and MaxDuration are RetrieveLocal's budget.
	MaxPages    int           `json:"max_pages,omitempty"`
	MaxDuration time.Duration `json:"max_duration,omitempty"`
}

// CycleResult is what RunCycle did. Finished set: the cycle is recorded
// and there is nothing left to do. Otherwise the workflow goes on from
// where it stopped, as after a RetrieveLocal: the rest of the listing in
// Retrieve (Retrieve.Unfinished), the failure's retry or record (Failure),
// or the FinishCycle that could not be written.
type CycleResult struct {
	Start    store.CycleStart   `json:"start"`
	Retrieve RetrieveResult     `json:"retrieve"`
	Failure  *RetrieveFailure   `json:"failure,omitempty"`
	Finished *FinishCycleResult `json:"finished,omitempty"`
}

// RetrieveFailure is a failed retrieval carried in a result (a local
// activity that returns an error returns nothing else, and the workflow
// needs the cycle it started): what the workflow's retry logic reads from
// an activity error.
type RetrieveFailure struct {
	Type           string        `json:"type"`
	Message        string        `json:"message"`
	NonRetryable   bool          `json:"non_retryable,omitempty"`
	NextRetryDelay time.Duration `json:"next_retry_delay,omitempty"`
}

// Err is the failure as the activity error it was.
func (f *RetrieveFailure) Err() error {
	return temporal.NewApplicationErrorWithOptions(f.Message, f.Type, temporal.ApplicationErrorOptions{
		NonRetryable: f.NonRetryable, NextRetryDelay: f.NextRetryDelay,
	})
}

// retrieveFailure carries a retrieval's error in a result.
func retrieveFailure(err error) *RetrieveFailure {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return &RetrieveFailure{Type: app.Type(), Message: app.Message(), NonRetryable: app.NonRetryable(), NextRetryDelay: app.NextRetryDelay()}
	}
	return &RetrieveFailure{Type: "error", Message: err.Error()}
}

// Known is what RunCycle knows of a row StartCycle has just inserted (or
// adopted from Queued), so that the retrieval need not read it: its
// progress (nothing retrieved yet) and the object as StartCycle read it
// under the lock (nil: it did not).
type Known struct {
	Progress store.RetrieveProgress
	Object   *store.Object
}

// CycleSteps are the three calls RunCycle makes. Retrieve's known
// argument is what a row just started is known to be, or nil for a
// resumed row, whose progress is read from it. RunCycle uses the
// activities' own; the workflow's tests give it their fakes, so they run
// this same composition.
type CycleSteps struct {
	Start    func(context.Context, StartCycleInput) (store.CycleStart, error)
	Retrieve func(context.Context, RetrieveLocalInput, *Known) (RetrieveResult, error)
	Finish   func(context.Context, FinishCycleInput) (FinishCycleResult, error)
}

// RunCycle is the whole quiet cycle in one local activity: StartCycle,
// RetrieveLocal and, when the listing ended within the budget, FinishCycle
// with the steps the workflow would have recorded (model.RetrievedSteps).
// One marker in the history instead of three, and one trip through the
// worker's local-activity machinery. It fails only when the cycle could
// not be started (or was cancelled): the workflow then starts it with
// StartCycle, whose retries and error types it knows, and the key makes
// that the same row.
func (a *Activities) RunCycle(ctx context.Context, in CycleInput) (CycleResult, error) {
	return RunCycleSteps(ctx, in, CycleSteps{Start: a.StartCycle, Retrieve: a.retrieveLocal, Finish: a.FinishCycle})
}

// RunCycleSteps is RunCycle with the given steps.
func RunCycleSteps(ctx context.Context, in CycleInput, do CycleSteps) (CycleResult, error) {
	start, err := do.Start(ctx, in.Start)
	if err != nil {
		return CycleResult{}, err
	}
	out := CycleResult{Start: start}
	var known *Known
	if !start.Resumed {
		// A row StartCycle has just inserted (or adopted from Queued) has
		// retrieved nothing yet: one round trip saved (two with the object).
		known = &Known{Progress: store.RetrieveProgress{Full: start.Full}, Object: start.Object}
	}
	rr, err := do.Retrieve(ctx, RetrieveLocalInput{
		RetrieveInput: RetrieveInput{CycleID: start.CycleID, Object: in.Start.Object, Cursor: start.Cursor},
		MaxPages:      in.MaxPages, MaxDuration: in.MaxDuration,
	}, known)
	switch {
	case ctx.Err() != nil:
		return CycleResult{}, ctx.Err()
	case err != nil:
		// As from a failed RetrieveLocal: the error, no result (the row
		// has what was applied).
		out.Failure = retrieveFailure(err)
		return out, nil
	}
	out.Retrieve = rr
	if rr.Unfinished {
		return out, nil
	}
	steps, errText := model.RetrievedSteps(rr.StartedAt, rr.EndedAt, rr.Pages, rr.Records, rr.Counts.Rejected)
	fin, err := do.Finish(ctx, FinishCycleInput{
		CycleID: start.CycleID, Status: model.StepsStatus(steps), Steps: steps, Error: errText, Object: in.Start.Object,
	})
	if err != nil {
		// The cycle's work is stored; the workflow records its end.
		activity.GetLogger(ctx).Warn("could not record the end of the cycle; the workflow retries it", "cycle", start.CycleID, "error", err)
		return out, nil
	}
	out.Finished = &fin
	return out, nil
}
