-- Queries of the live path: Retrieve applies groups of pages to records
-- (pipeline.go).

-- name: GetRetrieveProgress
SELECT retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, mode
FROM sync_cycles WHERE id = @id;

-- name: AsyncCommit
-- A lost commit loses the pages with their progress: they are fetched again.
SET LOCAL synchronous_commit = off;

-- name: ProcessingCycle
SELECT c.object_id, c.seq, c.mode, o.tenant || '/' || o.provider || '/' || o.object_type AS object
FROM sync_cycles c JOIN integration_objects o ON o.id = c.object_id
WHERE c.id = @id AND c.status = @processing;

-- name: LockProcessingCycle
-- NO KEY UPDATE: it orders a cycle's batches (as RecordProgress's UPDATE
-- would) without waiting for the key-share locks that a later batch's
-- resync_seen rows hold on the cycle row while that batch waits for this
-- one to commit — FOR UPDATE would wait for it: a deadlock PostgreSQL
-- cannot see, since the later batch waits in Go.
SELECT id FROM sync_cycles WHERE id = @id AND status = @processing FOR NO KEY UPDATE;

-- name: ApplyRecords
-- Applies rows passed as parallel arrays, in the server: invalid ones go to
-- rejected_records, the newest version per id is upserted (skipping equal
-- hashes; an older version never overwrites a newer row) or tombstoned, and
-- a snapshot remembers the ids it saw. A row that really changes takes the
-- transaction's id as its feed position (change_xid); one that becomes
-- live again after a deletion is also "created" again (created_xid).
-- Every CTE and the final SELECT see records as it was before the
-- statement, so tombstones_unknown counts the tombstones of ids that were
-- not live. The caller counts the rest as unchanged.
WITH batch AS (
    SELECT u.id, u.external_id, u.modified_at, u.deleted, u.data_text::jsonb AS data, u.raw, u.reject_reason, u.hash
    FROM unnest(@external_ids::text[], @modified_at::timestamptz[], @deleted::boolean[], @data::text[],
            @raw::text[], @reject_reasons::text[], @hashes::bytea[])
        WITH ORDINALITY AS u(external_id, modified_at, deleted, data_text, raw, reject_reason, hash, id)
), checked AS (
    SELECT *, CASE
        WHEN reject_reason <> '' THEN reject_reason
        WHEN external_id = '' THEN 'record has no id'
        WHEN data IS NULL OR jsonb_typeof(data) <> 'object' THEN 'payload is not a JSON object'
        ELSE '' END AS reason
    FROM batch
), rejected AS (
    INSERT INTO rejected_records (object_id, cycle_seq, external_id, reason, payload)
    SELECT @object_id, @seq, external_id, reason, coalesce(raw, data::text, '') FROM checked WHERE reason <> ''
    RETURNING 1
), latest AS (
    SELECT DISTINCT ON (external_id) external_id, modified_at, deleted, data, hash
    FROM checked WHERE reason = ''
    ORDER BY external_id, modified_at DESC NULLS LAST, id DESC
), seen AS (
    INSERT INTO resync_seen (cycle_id, external_id)
    SELECT @cycle_id, external_id FROM latest WHERE @snapshot::boolean AND NOT deleted
    ON CONFLICT DO NOTHING
    RETURNING 1
), upserted AS (
    INSERT INTO records AS r (object_id, external_id, data, hash, modified_at, cycle_seq)
    SELECT @object_id, external_id, data, hash, modified_at, @seq FROM latest WHERE NOT deleted
    ON CONFLICT (object_id, external_id) DO UPDATE
        SET data = excluded.data, hash = excluded.hash, modified_at = excluded.modified_at,
            deleted_at = NULL, cycle_seq = excluded.cycle_seq, updated_at = now(), change_xid = pg_current_xact_id(),
            created_xid = CASE WHEN r.deleted_at IS NULL THEN r.created_xid ELSE pg_current_xact_id() END
        WHERE (r.hash <> excluded.hash OR r.deleted_at IS NOT NULL)
            AND (r.modified_at IS NULL OR excluded.modified_at IS NULL OR excluded.modified_at >= r.modified_at)
    RETURNING (xmax = 0) AS inserted
), tombstoned AS (
    UPDATE records r SET deleted_at = now(), updated_at = now(), cycle_seq = @seq,
        modified_at = coalesce(l.modified_at, r.modified_at), change_xid = pg_current_xact_id()
    FROM latest l
    WHERE l.deleted AND r.object_id = @object_id AND r.external_id = l.external_id AND r.deleted_at IS NULL
        AND (r.modified_at IS NULL OR l.modified_at IS NULL OR l.modified_at >= r.modified_at)
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch)::int AS records,
    (SELECT count(*) FROM rejected)::int AS rejected,
    (SELECT count(*) FROM upserted WHERE inserted)::int AS new,
    (SELECT count(*) FROM upserted WHERE NOT inserted)::int AS changed,
    (SELECT count(*) FROM tombstoned)::int AS deleted,
    (SELECT count(*) FROM latest l WHERE l.deleted AND NOT EXISTS (
        SELECT 1 FROM records r WHERE r.object_id = @object_id AND r.external_id = l.external_id AND r.deleted_at IS NULL
    ))::int AS tombstones_unknown;

-- name: CheckPayload
-- Fails with PostgreSQL's data exception if jsonb refuses the text.
SELECT @payload::text::jsonb IS NOT NULL;

-- name: InsertRejected
INSERT INTO rejected_records (object_id, cycle_seq, external_id, reason, payload)
VALUES (@object_id, @seq, @external_id, @reason, @payload);

-- name: RecordProgress
-- Only if no other attempt applied these pages first (@expect_pages is the
-- committed count the caller resumed from).
UPDATE sync_cycles SET retrieve_pages = retrieve_pages + @pages,
    retrieve_records = retrieve_records + @records, retrieve_token = @token,
    retrieve_cursor = coalesce(@cursor, retrieve_cursor), retrieve_done = @done
WHERE id = @id AND retrieve_pages = @expect_pages AND NOT retrieve_done
RETURNING retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, mode;

-- name: AddCounts
UPDATE sync_cycles SET records_new = records_new + @new, records_changed = records_changed + @changed,
    records_unchanged = records_unchanged + @unchanged, records_deleted = records_deleted + @deleted,
    records_rejected = records_rejected + @rejected,
    records_tombstones_unknown = records_tombstones_unknown + @tombstones_unknown,
    records_deleted_unlisted = records_deleted_unlisted + @deleted_unlisted
WHERE id = @id;

-- name: DeleteUnseen
-- A complete snapshot listing: the live records it did not see are gone.
UPDATE records r SET deleted_at = now(), updated_at = now(), cycle_seq = @seq, change_xid = pg_current_xact_id()
WHERE r.object_id = @object_id AND r.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.cycle_id = @cycle_id AND s.external_id = r.external_id);

-- name: ForgetSeen
DELETE FROM resync_seen WHERE cycle_id = @cycle_id;

-- name: MoveCursorAfter
-- The listing is complete: the cycle's cursor_after, and the object's
-- cursor and last success. An incremental cursor never moves backwards
-- (the overlap window may hold only older records); greatest ignores
-- NULLs. No row: nothing listed and nothing known (it stays a full sync).
WITH c AS (
    UPDATE sync_cycles SET cursor_after = greatest(cursor_before, retrieve_cursor)
    WHERE id = @id
    RETURNING cursor_after
)
UPDATE integration_objects o SET cursor = c.cursor_after, last_success_at = now(), updated_at = now()
FROM c WHERE o.id = @object_id AND c.cursor_after IS NOT NULL
RETURNING c.cursor_after;

-- name: RestartAsSnapshot
-- retrieve_records and the counts go on adding up over both listings: what
-- the first one applied stays applied, and counted.
UPDATE sync_cycles SET mode = @full_snapshot, retrieve_pages = 0,
    retrieve_token = '', retrieve_cursor = NULL, retrieve_done = false
WHERE id = @id AND status = @processing;

-- name: CycleMode
SELECT mode FROM sync_cycles WHERE id = @id;

-- name: BatchPosition
-- The feed position of the transaction's last change of the object (NULL
-- external_id: it changed nothing), for the change notification.
SELECT pg_current_xact_id() AS xid, max(external_id) AS external_id
FROM records WHERE object_id = @object_id AND change_xid = pg_current_xact_id();

-- name: NotifyChanges
-- Delivered to LISTEN syncloop_changes when the transaction commits.
SELECT pg_notify('syncloop_changes', @payload::text);

-- name: FinishEmptyListing
-- The last page of an incremental listing brought no record (a quiet
-- cycle): its progress, cursor_after and the object's cursor in one
-- statement instead of ApplyPages' transaction. The right-hand sides see
-- the row before the update, so cursor_after is greatest(cursor_before,
-- the new retrieve_cursor), as in MoveCursorAfter. No row: the cycle is
-- not an open incremental one at this page (ApplyPages says which).
WITH c AS (
    UPDATE sync_cycles SET retrieve_pages = retrieve_pages + @pages, retrieve_token = '',
        retrieve_cursor = coalesce(@cursor, retrieve_cursor), retrieve_done = true,
        cursor_after = greatest(cursor_before, coalesce(@cursor, retrieve_cursor))
    WHERE id = @id AND status = @processing AND mode = @incremental
        AND retrieve_pages = @expect_pages AND NOT retrieve_done
    RETURNING object_id, retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, mode, cursor_after
), moved AS (
    UPDATE integration_objects o SET cursor = c.cursor_after, last_success_at = now(), updated_at = now()
    FROM c WHERE o.id = c.object_id AND c.cursor_after IS NOT NULL
)
SELECT retrieve_pages, retrieve_records, retrieve_token, retrieve_cursor, retrieve_done, mode,
    cursor_after IS NOT NULL AS cursor_moved
FROM c;
