-- +goose Up
-- The notification kinds an object's webhook posts (NULL: the worker's
-- SYNCLOOP_WEBHOOK_KINDS; an empty array: none).
ALTER TABLE integration_objects ADD COLUMN webhook_kinds text[]
    CHECK (webhook_kinds <@ ARRAY['stale', 'recovered', 'failing', 'cycle.completed']::text[]);

-- +goose Down
ALTER TABLE integration_objects DROP COLUMN webhook_kinds;
