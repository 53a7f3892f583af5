package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/model"
)

// CycleMode is how a cycle lists and applies records (sync_cycles.mode).
type CycleMode string

const (
	// ModeIncremental lists the records modified since the cursor.
	ModeIncremental CycleMode = "incremental"
	// ModeFullFresh is the first full listing of an object without any
	// records: every row is new, so pages are COPYed into records.
	ModeFullFresh CycleMode = "full_fresh"
	// ModeFullSnapshot is a full listing over live records: once it is
	// complete, the live records it did not see are deleted.
	ModeFullSnapshot CycleMode = "full_snapshot"
	// ModeFullUpsert is a full listing over an object whose records are
	// all tombstones: upserted, with nothing to delete.
	ModeFullUpsert CycleMode = "full_upsert"
)

// Full reports whether the cycle lists everything (no cursor).
func (m CycleMode) Full() bool { return m != ModeIncremental }

// modeArgs passes the modes to the statements that choose one.
func modeArgs() pgx.NamedArgs {
	return pgx.NamedArgs{"incremental": string(ModeIncremental), "full_fresh": string(ModeFullFresh),
		"full_snapshot": string(ModeFullSnapshot), "full_upsert": string(ModeFullUpsert)}
}

// openStatuses are the statuses of a cycle that has not finished.
var openStatuses = []string{string(model.StatusQueued), string(model.StatusProcessing)}

// finalStatuses are the statuses of a finished cycle.
var finalStatuses = []string{string(model.StatusFailed), string(model.StatusPartiallyCompleted), string(model.StatusCompleted)}

var (
	sqlLockObjectForCycle        = query("LockObjectForCycle")
	sqlLockObjectToStart         = query("LockObjectToStart")
	sqlStartCycleAtOnce          = query("StartCycleAtOnce")
	sqlCycleStartState           = query("CycleStartState")
	sqlAbandonOpenCycles         = query("AbandonOpenCycles")
	sqlInsertCycle               = query("InsertCycle")
	sqlQueuedCycle               = query("QueuedCycle")
	sqlQueueCycle                = query("QueueCycle")
	sqlAdoptQueuedCycle          = query("AdoptQueuedCycle")
	sqlFinishCycle               = query("FinishCycle")
	sqlOpenFailingEpisode        = query("OpenFailingEpisode")
	sqlInsertFailingNotification = query("InsertFailingNotification")
	sqlGetCycle                  = query("GetCycle")
	sqlListCycles                = query("ListCycles")
	sqlLatestCycles              = query("LatestCycles")
	sqlNewestCycle               = query("NewestCycle")
	sqlRecordCounts              = query("RecordCounts")
	sqlAllRecordCounts           = query("AllRecordCounts")
	sqlObjectsWithOpenCycles     = query("ObjectsWithOpenCycles")
	sqlCloseOpenCycles           = query("CloseOpenCycles")
)

// StartCycleParams identifies a cycle start. Key makes the call idempotent.
type StartCycleParams struct {
	Object     model.ObjectKey
	Key        string
	Trigger    model.Trigger
	WorkflowID string
	RunID      string
}

// CycleStart is what a cycle needs to know about its object.
type CycleStart struct {
	CycleID   int64      `json:"cycle_id"`
	ObjectID  int64      `json:"object_id"`
	Seq       int        `json:"seq"`
	Full      bool       `json:"full"`
	Cursor    *time.Time `json:"cursor,omitempty"`
	Abandoned int        `json:"abandoned"`
	// Resumed: the row was already there under this key, started by an
	// earlier attempt of the same call (a worker that died mid-task).
	Resumed bool `json:"resumed,omitempty"`
	// Object is the object as the common start read it, under the lock
	// (nil when it took the transaction): the cycle's retrieval uses it
	// instead of reading it again. Not part of the activity's result.
	Object *Object `json:"-"`
}

// startedRow is what StartCycle reads back of a cycle row.
type startedRow struct {
	ID           int64      `db:"id"`
	Seq          int        `db:"seq"`
	Mode         CycleMode  `db:"mode"`
	CursorBefore *time.Time `db:"cursor_before"`
}

// StartCycle inserts the cycle row as Processing with the next seq. Cycles
// of the object still open under another key are closed as Failed first:
// their loop was restarted, and only one loop per object can exist.
func (s *Store) StartCycle(ctx context.Context, p StartCycleParams) (CycleStart, error) {
	out, started, err := s.startAtOnce(ctx, p)
	if err != nil {
		return out, fmt.Errorf("start cycle for %s: %w", p.Object, err)
	}
	if started {
		return out, nil
	}
	// Anything else (an earlier attempt with this key, an open or queued
	// row) takes the transaction: BEGIN, the lock, the state, what the
	// state calls for, COMMIT.
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		obj, err := lockObjectForCycle(ctx, tx, p.Object)
		if err != nil {
			return err
		}
		out.ObjectID = obj.ID
		if !obj.Enabled {
			return ErrSyncDisabled
		}
		started := func(r startedRow) {
			out.CycleID, out.Seq, out.Full, out.Cursor = r.ID, r.Seq, r.Mode.Full(), r.CursorBefore
		}
		st, err := one(ctx, tx, sqlCycleStartState, pgx.NamedArgs{"object_id": obj.ID, "cycle_key": p.Key,
			"processing": string(model.StatusProcessing), "queued": string(model.StatusQueued)}, pgx.RowToStructByName[cycleStartState])
		if err != nil {
			return err
		}
		// A retried call (same key) returns its row and closes nothing: the
		// cycle it started may be finished and a newer one open by now.
		if st.KeyID != nil {
			started(startedRow{ID: *st.KeyID, Seq: *st.KeySeq, Mode: *st.KeyMode, CursorBefore: st.KeyCursorBefore})
			out.Resumed = true
			return nil
		}
		if st.Open {
			abandoned, err := exec(ctx, tx, sqlAbandonOpenCycles, pgx.NamedArgs{
				"object_id": obj.ID, "failed": string(model.StatusFailed), "processing": string(model.StatusProcessing),
			})
			if err != nil {
				return err
			}
			out.Abandoned = int(abandoned)
		}
		args := with(modeArgs(), pgx.NamedArgs{
			"object_id": obj.ID, "cycle_key": p.Key, "trigger": string(p.Trigger), "processing": string(model.StatusProcessing),
			"cursor": obj.Cursor, "workflow_id": p.WorkflowID, "run_id": p.RunID,
		})
		// A queued cycle (a sync-now that waited behind the last one) is
		// this one: it keeps its row and seq.
		var r startedRow
		err = ErrNotFound
		if st.Queued {
			r, err = one(ctx, tx, sqlAdoptQueuedCycle, with(args, pgx.NamedArgs{"queued": string(model.StatusQueued)}), pgx.RowToStructByName[startedRow])
		}
		if errors.Is(err, ErrNotFound) {
			r, err = one(ctx, tx, sqlInsertCycle, args, pgx.RowToStructByName[startedRow])
		}
		if err != nil {
			return err
		}
		started(r)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("start cycle for %s: %w", p.Object, err)
	}
	return out, nil
}

// startAtOnce is StartCycle's common start (sync on, no earlier attempt
// with this key, no Processing or Queued row) in one round trip: the lock
// (LockObjectToStart, which also reads the object) and the conditional
// INSERT (StartCycleAtOnce) are sent together in one pipeline. PostgreSQL
// runs the statements of a pipeline up to its Sync as one implicit
// transaction (docs "Message Flow: Pipelining"), so the lock is held until
// the row is written, and under READ COMMITTED the INSERT takes its
// snapshot after the lock is granted: it sees every row a writer that
// held the lock before it committed. started is false when the INSERT
// wrote nothing because the start is not the common one.
func (s *Store) startAtOnce(ctx context.Context, p StartCycleParams) (out CycleStart, started bool, err error) {
	args := with(with(keyArgs(p.Object), modeArgs()), pgx.NamedArgs{
		"key": settingSyncEnabled, "cycle_key": p.Key, "trigger": string(p.Trigger), "workflow_id": p.WorkflowID, "run_id": p.RunID,
		"processing": string(model.StatusProcessing), "queued": string(model.StatusQueued),
	})
	lockArgs := with(keyArgs(p.Object), pgx.NamedArgs{"key": settingSyncEnabled})
	b := &pgx.Batch{}
	b.Queue(sqlLockObjectToStart, pgx.StrictNamedArgs(lockArgs))
	b.Queue(sqlStartCycleAtOnce, pgx.StrictNamedArgs(args))
	br := s.Pool.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = dbError(cerr)
		}
	}()
	obj, err := collectOne(br, pgx.RowToStructByName[lockedToStart])
	if err != nil {
		return out, false, err
	}
	o := obj.object()
	out.ObjectID, out.Object = o.ID, &o
	r, err := collectOne(br, pgx.RowToStructByName[startedRow])
	switch {
	case errors.Is(err, ErrNotFound) && !obj.SyncEnabled:
		return out, false, ErrSyncDisabled
	case errors.Is(err, ErrNotFound):
		return CycleStart{}, false, nil
	case err != nil:
		return out, false, err
	}
	out.CycleID, out.Seq, out.Full, out.Cursor = r.ID, r.Seq, r.Mode.Full(), r.CursorBefore
	return out, true, nil
}

// lockedToStart is what LockObjectToStart reads: the object and the
// global on/off switch.
type lockedToStart struct {
	objectRow
	SyncEnabled bool `db:"sync_enabled"`
}

// collectOne reads the next result of a batch as its only row
// (ErrNotFound if there is none).
func collectOne[T any](br pgx.BatchResults, fn pgx.RowToFunc[T]) (T, error) {
	rows, err := br.Query()
	if err != nil {
		var zero T
		return zero, dbError(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, fn)
	return v, dbError(err)
}

// cycleStartState is what StartCycle reads once it holds the lock.
type cycleStartState struct {
	KeyID           *int64     `db:"key_id"`
	KeySeq          *int       `db:"key_seq"`
	KeyMode         *CycleMode `db:"key_mode"`
	KeyCursorBefore *time.Time `db:"key_cursor_before"`
	Open            bool       `db:"open"`
	Queued          bool       `db:"queued"`
}

// lockedObject is what cycle bookkeeping reads of the object it locks.
type lockedObject struct {
	ID      int64      `db:"id"`
	Cursor  *time.Time `db:"cursor"`
	Enabled bool       `db:"enabled"` // the global on/off switch
}

// lockObjectForCycle locks the object's row: cycle rows of one object are
// written one transaction at a time (seq, the queued row).
func lockObjectForCycle(ctx context.Context, tx pgx.Tx, k model.ObjectKey) (lockedObject, error) {
	return one(ctx, tx, sqlLockObjectForCycle, with(keyArgs(k), pgx.NamedArgs{"key": settingSyncEnabled}), pgx.RowToStructByName[lockedObject])
}

// QueueCycleParams records a cycle that will begin shortly.
type QueueCycleParams struct {
	Object  model.ObjectKey
	Key     string // idempotency key of the call
	Trigger model.Trigger
}

// QueueCycle records a `Queued` cycle row for a sync-now buffered behind a
// running cycle, and returns its seq. An object has at most one queued
// cycle: a second call returns the first. The next StartCycle takes the
// row over (same seq) as Processing.
func (s *Store) QueueCycle(ctx context.Context, p QueueCycleParams) (int, error) {
	var seq int
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		obj, err := lockObjectForCycle(ctx, tx, p.Object)
		if err != nil {
			return err
		}
		queued := pgx.NamedArgs{"object_id": obj.ID, "queued": string(model.StatusQueued)}
		r, err := one(ctx, tx, sqlQueuedCycle, queued, pgx.RowToStructByName[startedRow])
		if errors.Is(err, ErrNotFound) {
			r, err = one(ctx, tx, sqlQueueCycle, with(queued, pgx.NamedArgs{"cycle_key": p.Key, "trigger": string(p.Trigger),
				"incremental": string(ModeIncremental)}), pgx.RowToStructByName[startedRow])
		}
		seq = r.Seq
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue a cycle for %s: %w", p.Object, err)
	}
	return seq, nil
}

// FinishCycleParams is a cycle's final state.
type FinishCycleParams struct {
	CycleID int64
	Status  model.Status
	Steps   []model.Step
	Error   string
	// Failing (auth, config) records a `failing` notification unless the
	// object's failing episode is already open.
	Failing string
}

// FinishCycle records the final status and steps. Counts were already
// accumulated by the batches that wrote them.
func (s *Store) FinishCycle(ctx context.Context, p FinishCycleParams) (Cycle, error) {
	if !p.Status.Final() {
		return Cycle{}, fmt.Errorf("finish cycle %d: status %q is not final", p.CycleID, p.Status)
	}
	steps, err := json.Marshal(p.Steps)
	if err != nil {
		return Cycle{}, err
	}
	args := pgx.NamedArgs{"id": p.CycleID, "status": string(p.Status), "steps": steps, "error": p.Error,
		"open_statuses": openStatuses, "failing": p.Failing}
	var c Cycle
	if p.Failing == "" {
		// The common end: one statement (no transaction).
		c, err = one(ctx, s.Pool, sqlFinishCycle, args, rowToCycle)
	} else {
		err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			var err error
			if c, err = one(ctx, tx, sqlFinishCycle, args, rowToCycle); err != nil {
				return err
			}
			return openFailingEpisode(ctx, tx, c, p.Failing)
		})
	}
	if errors.Is(err, ErrNotFound) {
		// Already closed (finished by an earlier attempt, or abandoned when
		// the loop restarted): keep what was recorded.
		return s.GetCycle(ctx, p.CycleID)
	}
	return c, err
}

// openFailingEpisode opens a failing episode (and its notification) on
// an auth/config failure, unless one is open. (A cycle that moves the
// cursor closes it: FinishCycleClosingEpisode.)
func openFailingEpisode(ctx context.Context, tx pgx.Tx, c Cycle, failing string) error {
	key, err := one(ctx, tx, sqlOpenFailingEpisode, pgx.NamedArgs{"object_id": c.ObjectID}, pgx.RowTo[string])
	if errors.Is(err, ErrNotFound) {
		return nil // episode already open: one notification per episode
	}
	if err != nil {
		return err
	}
	_, err = exec(ctx, tx, sqlInsertFailingNotification, pgx.NamedArgs{
		"object_id": c.ObjectID, "object": key,
		"message": fmt.Sprintf("%s: cycle #%d failed with a %s error that retrying cannot fix: %s", key, c.Seq, failing, c.Error),
		"seq":     c.Seq, "error_type": failing, "error": c.Error,
	})
	return err
}

// Cycle is one sync_cycles row. Its db tags name the columns that cycle
// queries select into it as they are (see cycleRow).
type Cycle struct {
	ID           int64         `json:"id" db:"id"`
	ObjectID     int64         `json:"object_id" db:"object_id"`
	Seq          int           `json:"seq" db:"seq"`
	Trigger      model.Trigger `json:"trigger" db:"trigger"`
	Status       model.Status  `json:"status" db:"status"`
	Full         bool          `json:"full_sync" db:"-"`
	CursorBefore *time.Time    `json:"cursor_before,omitempty" db:"cursor_before"`
	CursorAfter  *time.Time    `json:"cursor_after,omitempty" db:"cursor_after"`
	StartedAt    *time.Time    `json:"started_at,omitempty" db:"started_at"`
	EndedAt      *time.Time    `json:"ended_at,omitempty" db:"ended_at"`
	Pages        int           `json:"pages" db:"retrieve_pages"`
	Counts       model.Counts  `json:"counts" db:"-"`
	Steps        []model.Step  `json:"steps" db:"steps"`
	Error        string        `json:"error,omitempty" db:"error"`
}

// cycleRow is the columns every cycle query selects: Cycle's, and those
// that Full and Counts are made of.
type cycleRow struct {
	Cycle
	Mode      CycleMode `db:"mode"`
	Retrieved int       `db:"retrieve_records"`
	New       int       `db:"records_new"`
	Changed   int       `db:"records_changed"`
	Unchanged int       `db:"records_unchanged"`
	Deleted   int       `db:"records_deleted"`
	Rejected  int       `db:"records_rejected"`
	Unknown   int       `db:"records_tombstones_unknown"`
	Unlisted  int       `db:"records_deleted_unlisted"`
}

func (r cycleRow) cycle() Cycle {
	c := r.Cycle
	c.Full = r.Mode.Full()
	c.Counts = model.Counts{Retrieved: r.Retrieved, New: r.New, Changed: r.Changed, Unchanged: r.Unchanged,
		Deleted: r.Deleted, Rejected: r.Rejected, TombstonesUnknown: r.Unknown, DeletedUnlisted: r.Unlisted}
	return c
}

func rowToCycle(row pgx.CollectableRow) (Cycle, error) {
	r, err := pgx.RowToStructByName[cycleRow](row)
	return r.cycle(), err
}

// ListCycles returns an object's newest cycles first.
func (s *Store) ListCycles(ctx context.Context, objectID int64, limit int) ([]Cycle, error) {
	return all(ctx, s.Pool, sqlListCycles, pgx.NamedArgs{"object_id": objectID, "limit": limit}, rowToCycle)
}

// GetCycle loads one cycle by id.
func (s *Store) GetCycle(ctx context.Context, id int64) (Cycle, error) {
	return one(ctx, s.Pool, sqlGetCycle, pgx.NamedArgs{"id": id}, rowToCycle)
}

// LatestCycles returns each object's newest cycle, by object id.
func (s *Store) LatestCycles(ctx context.Context) (map[int64]Cycle, error) {
	cycles, err := all(ctx, s.Pool, sqlLatestCycles, nil, rowToCycle)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Cycle, len(cycles))
	for _, c := range cycles {
		out[c.ObjectID] = c
	}
	return out, nil
}

// RecordCounts returns an object's live and deleted record counts.
func (s *Store) RecordCounts(ctx context.Context, objectID int64) (live, deleted int64, err error) {
	n, err := one(ctx, s.Pool, sqlRecordCounts, pgx.NamedArgs{"object_id": objectID}, pgx.RowToStructByName[struct {
		Live    int64 `db:"live"`
		Deleted int64 `db:"deleted"`
	}])
	return n.Live, n.Deleted, err
}

// RecordCount is an object's live and deleted record counts.
type RecordCount struct {
	ObjectID int64 `db:"object_id"`
	Live     int64 `db:"live"`
	Deleted  int64 `db:"deleted"`
}

// AllRecordCounts returns every object's record counts, by object id, in
// one query (an object without records is missing: zero counts).
func (s *Store) AllRecordCounts(ctx context.Context) (map[int64]RecordCount, error) {
	counts, err := all(ctx, s.Pool, sqlAllRecordCounts, nil, pgx.RowToStructByName[RecordCount])
	if err != nil {
		return nil, err
	}
	out := make(map[int64]RecordCount, len(counts))
	for _, c := range counts {
		out[c.ObjectID] = c
	}
	return out, nil
}

// ObjectsWithOpenCycles lists objects that have a cycle in progress.
func (s *Store) ObjectsWithOpenCycles(ctx context.Context) ([]model.ObjectKey, error) {
	// Running cycles only: a Queued one has not begun.
	return all(ctx, s.Pool, sqlObjectsWithOpenCycles, pgx.NamedArgs{"open_statuses": []string{string(model.StatusProcessing)}}, rowToKey)
}

func rowToKey(row pgx.CollectableRow) (model.ObjectKey, error) {
	r, err := pgx.RowToStructByName[struct {
		Tenant     string `db:"tenant"`
		Provider   string `db:"provider"`
		ObjectType string `db:"object_type"`
	}](row)
	return model.ObjectKey{Tenant: r.Tenant, Provider: r.Provider, ObjectType: r.ObjectType}, err
}

// CloseOpenCycles marks an object's open cycles Failed with reason (used
// when no loop is left to record them).
func (s *Store) CloseOpenCycles(ctx context.Context, k model.ObjectKey, reason string) error {
	_, err := exec(ctx, s.Pool, sqlCloseOpenCycles, with(keyArgs(k), pgx.NamedArgs{
		"failed": string(model.StatusFailed), "error": reason, "open_statuses": openStatuses,
	}))
	return err
}

// ObjectCycle is a cycle with its object's key.
type ObjectCycle struct {
	Object model.ObjectKey
	Cycle
}

// NewestCycle returns the most recently started cycle of any object.
func (s *Store) NewestCycle(ctx context.Context) (ObjectCycle, error) {
	r, err := one(ctx, s.Pool, sqlNewestCycle, nil, pgx.RowToStructByName[struct {
		cycleRow
		Tenant     string `db:"tenant"`
		Provider   string `db:"provider"`
		ObjectType string `db:"object_type"`
	}])
	if err != nil {
		return ObjectCycle{}, err
	}
	return ObjectCycle{Object: model.ObjectKey{Tenant: r.Tenant, Provider: r.Provider, ObjectType: r.ObjectType}, Cycle: r.cycle()}, nil
}
