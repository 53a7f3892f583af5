-- Queries of start-up (store.go).

-- name: SchemaState
-- Tables are looked up along the search_path, as goose and the store do.
SELECT current_database() AS database, coalesce(current_schema(), '') AS schema,
    to_regclass('goose_db_version') IS NOT NULL AS goose,
    -- sync_cycles of another shape: made before the migrations were squashed.
    (to_regclass('sync_cycles') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = to_regclass('sync_cycles') AND attname = 'mode' AND NOT attisdropped)) AS older_shape;

-- name: MigratedBeyondInit
-- Only while goose_db_version exists (SchemaState).
SELECT EXISTS (SELECT 1 FROM goose_db_version WHERE version_id > 1);
