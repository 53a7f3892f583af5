-- +goose Up
-- A fresh cycle is the first full sync of an object with no rows at all in
-- records: its pages can be COPYed straight into records (every row is
-- new), which is how an initial load reaches COPY speed.
ALTER TABLE sync_cycles ADD COLUMN fresh boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE sync_cycles DROP COLUMN fresh;
