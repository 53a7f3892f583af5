-- +goose Up
-- Content hashes are computed by the worker over the payload as received
-- (instead of md5 of the jsonb text in SQL): cheaper, and the same for
-- both ways of applying records.
ALTER TABLE staged_records ADD COLUMN hash bytea;

-- +goose Down
ALTER TABLE staged_records DROP COLUMN hash;
