-- +goose Up
-- The change feed (store/feed.go): every records row carries the position
-- of its last real change, so readers can ask for what changed after a
-- cursor without a log table.
--
-- change_xid is the id of the transaction that last inserted, changed
-- (content hash differs), deleted or undeleted the row; an unchanged
-- record keeps it. created_xid is the transaction that inserted the row,
-- or made it live again after a deletion: the feed calls an entry "new"
-- when that happened after the reader's cursor.
--
-- pg_current_xact_id() is stable, so ADD COLUMN stores the migration's own
-- transaction id as the value of every existing row without rewriting the
-- table: existing records all sit at one position, in external id order,
-- and a reader starting from the beginning gets them as the current state.
-- Building the index reads the table once and holds writes to records
-- until it is done (about a second per million rows); reads go on.
ALTER TABLE records
    ADD COLUMN change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN created_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
-- The feed's order: (change_xid, external_id) per object.
CREATE INDEX records_feed ON records (object_id, change_xid, external_id);

-- Counts that add up: a retrieved tombstone of a record that was not live
-- (never synced, or already deleted) was counted as retrieved and in no
-- category; and the records a complete full listing deletes because it did
-- not include them are deleted without being retrieved (model.Counts).
ALTER TABLE sync_cycles
    ADD COLUMN records_tombstones_unknown integer NOT NULL DEFAULT 0,
    ADD COLUMN records_deleted_unlisted   integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sync_cycles DROP COLUMN records_tombstones_unknown, DROP COLUMN records_deleted_unlisted;
DROP INDEX records_feed;
ALTER TABLE records DROP COLUMN change_xid, DROP COLUMN created_xid;
