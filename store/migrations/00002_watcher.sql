-- +goose Up
-- Per-object thresholds (NULL = the global default) and the open stale
-- episode, so a `stale` notification is sent once per episode.
ALTER TABLE integration_objects
    ADD COLUMN stale_after_seconds integer CHECK (stale_after_seconds > 0),
    ADD COLUMN stale_since timestamptz,
    ADD COLUMN failing_since timestamptz,
    -- The churn back-off's longer interval while it holds (NULL: none).
    ADD COLUMN effective_interval_seconds integer;

ALTER TABLE notifications
    ADD COLUMN object text NOT NULL DEFAULT '',
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text NOT NULL DEFAULT '';
CREATE INDEX notifications_unsent ON notifications (id) WHERE sent_at IS NULL;
CREATE INDEX sync_cycles_open ON sync_cycles (object_id) WHERE status IN ('Queued', 'Processing');

-- +goose Down
DROP INDEX sync_cycles_open;
DROP INDEX notifications_unsent;
ALTER TABLE notifications DROP COLUMN object, DROP COLUMN attempts, DROP COLUMN last_error;
ALTER TABLE integration_objects DROP COLUMN stale_after_seconds, DROP COLUMN stale_since, DROP COLUMN failing_since, DROP COLUMN effective_interval_seconds;
