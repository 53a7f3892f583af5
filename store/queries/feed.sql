-- Queries of the change feed (feed.go). An entry's position is the
-- records row's (change_xid, external_id); kinds are parameters
-- (model.FeedKind).

-- name: ReadFeed
-- The entries after a position, in position order, among the transactions
-- that can no longer commit: change_xid below the xmin of the statement's
-- snapshot (every transaction with a smaller id has committed or aborted).
-- A transaction still in flight may hold a smaller id than one that
-- already committed; hiding both until the older one ends is what keeps a
-- reader from moving its cursor past changes that are yet to appear.
-- An entry is new when the row was created (or made live again) after the
-- position asked for. Deleted entries carry no data.
SELECT external_id, change_xid AS xid,
    CASE WHEN deleted_at IS NOT NULL THEN @deleted::text
        WHEN (created_xid, external_id) > (@after_xid::xid8, @after_external_id::text) THEN @new::text
        ELSE @changed::text END AS kind,
    CASE WHEN deleted_at IS NULL THEN data END AS data,
    modified_at, deleted_at, updated_at AS synced_at, cycle_seq
FROM records
WHERE object_id = @object_id
    AND (change_xid, external_id) > (@after_xid::xid8, @after_external_id::text)
    AND change_xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY change_xid, external_id
LIMIT @limit;
