-- +goose Up
-- The fields an object syncs, in the provider's spelling (NULL: the
-- provider's default list, decided by its catalogue at each cycle).
ALTER TABLE integration_objects ADD COLUMN fields text[]
    CHECK (fields IS NULL OR cardinality(fields) BETWEEN 1 AND 1000);

-- +goose Down
ALTER TABLE integration_objects DROP COLUMN fields;
