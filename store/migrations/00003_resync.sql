-- +goose Up
-- A snapshot cycle is a full listing of an object that already has
-- records: once it completes without error, records it did not see are
-- deleted (a full resync after the provider's deleted-records window ran
-- out, or any full sync over existing data).
ALTER TABLE sync_cycles ADD COLUMN snapshot boolean NOT NULL DEFAULT false;

-- The ids a snapshot cycle has seen, until its last batch uses them.
CREATE TABLE resync_seen (
    cycle_id    bigint NOT NULL REFERENCES sync_cycles(id) ON DELETE CASCADE,
    external_id text NOT NULL,
    PRIMARY KEY (cycle_id, external_id)
);

-- +goose Down
DROP TABLE resync_seen;
ALTER TABLE sync_cycles DROP COLUMN snapshot;
