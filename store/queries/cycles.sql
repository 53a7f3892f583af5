-- Queries of sync_cycles (cycles.go). Statuses and modes are parameters
-- (model.Status, store.CycleMode); the migration's CHECK constraints list
-- the values. Every query that returns cycles selects the columns of
-- cycleRow.

-- name: LockObjectForCycle
-- Serialises the cycle rows of one object (StartCycle, QueueCycle), and
-- reads the global on/off switch (as SyncEnabled does) in the same round
-- trip.
SELECT id, cursor, coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = @key), true) AS enabled
FROM integration_objects
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type
FOR UPDATE;

-- name: LockObjectToStart
-- StartCycle's common start, first of two statements sent together (one
-- round trip, one implicit transaction: see startAtOnce): locks the
-- object as LockObjectForCycle does, and reads it as GetObject does, so
-- the cycle's retrieval need not read it again.
SELECT id, tenant, provider, object_type, coalesce(connection, '') AS connection, interval_seconds,
    enabled, paused, cursor, last_success_at, created_at, updated_at, fields, webhook_kinds,
    coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = @key), true) AS sync_enabled
FROM integration_objects
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type
FOR UPDATE;

-- name: StartCycleAtOnce
-- The second statement: its snapshot is taken once LockObjectToStart
-- holds the lock, as CycleStartState's is. It inserts the row as
-- InsertCycle does, but only in the common case: sync is on, no row has
-- this key (an earlier attempt), and the object has no Processing or
-- Queued row. Otherwise it inserts nothing, and StartCycle runs its
-- transaction, which handles those cases.
INSERT INTO sync_cycles (object_id, seq, cycle_key, trigger, status, mode, cursor_before, started_at, workflow_id, run_id)
SELECT o.id, coalesce((SELECT max(seq) FROM sync_cycles WHERE object_id = o.id), 0) + 1, @cycle_key, @trigger, @processing,
    CASE
        WHEN o.cursor IS NOT NULL THEN @incremental
        WHEN NOT EXISTS (SELECT 1 FROM records WHERE object_id = o.id) THEN @full_fresh
        WHEN EXISTS (SELECT 1 FROM records WHERE object_id = o.id AND deleted_at IS NULL) THEN @full_snapshot
        ELSE @full_upsert
    END,
    o.cursor, now(), @workflow_id, @run_id
FROM integration_objects o
WHERE o.tenant = @tenant AND o.provider = @provider AND o.object_type = @object_type
    AND coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = @key), true)
    AND NOT EXISTS (SELECT 1 FROM sync_cycles WHERE cycle_key = @cycle_key)
    AND NOT EXISTS (SELECT 1 FROM sync_cycles WHERE object_id = o.id AND status IN (@processing, @queued))
RETURNING id, seq, mode, cursor_before;

-- name: CycleStartState
-- Read after the lock (a fresh snapshot: every writer of an object's open
-- rows holds it): the row an earlier attempt with this key started, and
-- whether the object has Processing or Queued rows, so that the common
-- start (none of them) is one INSERT.
SELECT k.id AS key_id, k.seq AS key_seq, k.mode AS key_mode, k.cursor_before AS key_cursor_before,
    EXISTS (SELECT 1 FROM sync_cycles WHERE object_id = @object_id AND status = @processing) AS open,
    EXISTS (SELECT 1 FROM sync_cycles WHERE object_id = @object_id AND status = @queued) AS queued
FROM (SELECT) AS one LEFT JOIN sync_cycles k ON k.cycle_key = @cycle_key;

-- name: AbandonOpenCycles
-- Their loop was restarted: only one loop per object can exist. (A
-- Queued row is not abandoned: the cycle starting now takes it over.)
UPDATE sync_cycles SET status = @failed, ended_at = now(),
    error = 'abandoned: the loop restarted before this cycle finished'
WHERE object_id = @object_id AND status = @processing;

-- name: QueuedCycle
SELECT id, seq, mode, cursor_before FROM sync_cycles WHERE object_id = @object_id AND status = @queued;

-- name: QueueCycle
-- A cycle that will begin shortly: a sync-now buffered behind the running
-- one. Its mode is decided when it starts (AdoptQueuedCycle).
INSERT INTO sync_cycles (object_id, seq, cycle_key, trigger, status, mode)
SELECT @object_id, coalesce(max(seq), 0) + 1, @cycle_key, @trigger, @queued, @incremental
FROM sync_cycles WHERE object_id = @object_id
RETURNING id, seq, mode, cursor_before;

-- name: AdoptQueuedCycle
-- The cycle starting now is the one that was queued: same row, same seq.
UPDATE sync_cycles SET status = @processing, cycle_key = @cycle_key, trigger = @trigger,
    mode = CASE
        WHEN @cursor::timestamptz IS NOT NULL THEN @incremental
        WHEN NOT EXISTS (SELECT 1 FROM records WHERE object_id = @object_id) THEN @full_fresh
        WHEN EXISTS (SELECT 1 FROM records WHERE object_id = @object_id AND deleted_at IS NULL) THEN @full_snapshot
        ELSE @full_upsert
    END,
    cursor_before = @cursor, started_at = now(), workflow_id = @workflow_id, run_id = @run_id
WHERE object_id = @object_id AND status = @queued
RETURNING id, seq, mode, cursor_before;

-- name: InsertCycle
-- The next seq of the object. The mode: incremental when there is a
-- cursor; otherwise a full listing that is COPYed into an empty object
-- (full_fresh), deletes what it does not see over live records
-- (full_snapshot), or upserts over tombstones only (full_upsert).
INSERT INTO sync_cycles (object_id, seq, cycle_key, trigger, status, mode, cursor_before, started_at, workflow_id, run_id)
SELECT @object_id, coalesce(max(seq), 0) + 1, @cycle_key, @trigger, @processing,
    CASE
        WHEN @cursor::timestamptz IS NOT NULL THEN @incremental
        WHEN NOT EXISTS (SELECT 1 FROM records WHERE object_id = @object_id) THEN @full_fresh
        WHEN EXISTS (SELECT 1 FROM records WHERE object_id = @object_id AND deleted_at IS NULL) THEN @full_snapshot
        ELSE @full_upsert
    END,
    @cursor, now(), @workflow_id, @run_id
FROM sync_cycles WHERE object_id = @object_id
RETURNING id, seq, mode, cursor_before;

-- name: FinishCycle
-- Only an open cycle: a closed one (finished, or abandoned) keeps its row.
-- A cycle that moved the cursor (so did not fail with an auth/config
-- error, @failing) also closes the object's failing episode, if one is
-- open.
WITH c AS (
    UPDATE sync_cycles SET status = @status, steps = @steps, error = @error, ended_at = coalesce(ended_at, now())
    WHERE id = @id AND status = ANY(@open_statuses::text[])
    RETURNING id, object_id, seq, trigger, status, mode, cursor_before, cursor_after, started_at, ended_at,
        retrieve_pages, retrieve_records, records_new, records_changed, records_unchanged, records_deleted, records_rejected,
        records_tombstones_unknown, records_deleted_unlisted, steps, error
), episode AS (
    UPDATE integration_objects o SET failing_since = NULL FROM c
    WHERE o.id = c.object_id AND c.cursor_after IS NOT NULL AND @failing = '' AND o.failing_since IS NOT NULL
)
SELECT * FROM c;

-- name: OpenFailingEpisode
-- No row when the episode is already open: one notification per episode.
UPDATE integration_objects SET failing_since = now()
WHERE id = @object_id AND failing_since IS NULL
RETURNING tenant || '/' || provider || '/' || object_type;

-- name: InsertFailingNotification
INSERT INTO notifications (object_id, object, kind, message, details)
VALUES (@object_id, @object, 'failing', @message,
    jsonb_build_object('cycle', @seq::int, 'error_type', @error_type::text, 'error', @error::text));

-- name: GetCycle
SELECT id, object_id, seq, trigger, status, mode, cursor_before, cursor_after, started_at, ended_at,
    retrieve_pages, retrieve_records, records_new, records_changed, records_unchanged, records_deleted, records_rejected,
    records_tombstones_unknown, records_deleted_unlisted, steps, error
FROM sync_cycles WHERE id = @id;

-- name: ListCycles
SELECT id, object_id, seq, trigger, status, mode, cursor_before, cursor_after, started_at, ended_at,
    retrieve_pages, retrieve_records, records_new, records_changed, records_unchanged, records_deleted, records_rejected,
    records_tombstones_unknown, records_deleted_unlisted, steps, error
FROM sync_cycles WHERE object_id = @object_id ORDER BY seq DESC LIMIT @limit;

-- name: LatestCycles
SELECT DISTINCT ON (object_id)
    id, object_id, seq, trigger, status, mode, cursor_before, cursor_after, started_at, ended_at,
    retrieve_pages, retrieve_records, records_new, records_changed, records_unchanged, records_deleted, records_rejected,
    records_tombstones_unknown, records_deleted_unlisted, steps, error
FROM sync_cycles ORDER BY object_id, seq DESC;

-- name: NewestCycle
-- The most recently started cycle of any object, with its object's key.
SELECT c.id, c.object_id, c.seq, c.trigger, c.status, c.mode, c.cursor_before, c.cursor_after, c.started_at, c.ended_at,
    c.retrieve_pages, c.retrieve_records, c.records_new, c.records_changed, c.records_unchanged, c.records_deleted,
    c.records_rejected, c.records_tombstones_unknown, c.records_deleted_unlisted, c.steps, c.error, o.tenant, o.provider, o.object_type
FROM sync_cycles c JOIN integration_objects o ON o.id = c.object_id
WHERE c.started_at IS NOT NULL -- a Queued cycle has not been executed yet
ORDER BY c.id DESC LIMIT 1;

-- name: RecordCounts
SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
FROM records WHERE object_id = @object_id;

-- name: AllRecordCounts
-- Every object's live and deleted record counts in one pass (objects
-- without records have no row).
SELECT object_id, count(*) FILTER (WHERE deleted_at IS NULL) AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
FROM records GROUP BY object_id;

-- name: ObjectsWithOpenCycles
SELECT DISTINCT o.tenant, o.provider, o.object_type
FROM sync_cycles c JOIN integration_objects o ON o.id = c.object_id
WHERE c.status = ANY(@open_statuses::text[])
ORDER BY 1, 2, 3;

-- name: CloseOpenCycles
UPDATE sync_cycles c SET status = @failed, ended_at = now(), error = @error
FROM integration_objects o
WHERE o.id = c.object_id AND o.tenant = @tenant AND o.provider = @provider AND o.object_type = @object_type
    AND c.status = ANY(@open_statuses::text[]);
