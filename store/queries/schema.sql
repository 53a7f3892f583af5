-- Queries of start-up (store.go).

-- name: SchemaState
-- Tables are looked up along the search_path, as goose and the store do.
SELECT current_database() AS database, coalesce(current_schema(), '') AS schema,
    to_regclass('goose_db_version') IS NOT NULL AS goose,
    -- sync_cycles of another shape: made before the migrations were squashed.
    (to_regclass('sync_cycles') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = to_regclass('sync_cycles') AND attname = 'mode' AND NOT attisdropped)) AS older_shape;

-- name: UnknownMigrations
-- Only while goose_db_version exists (SchemaState). Versions this build
-- does not have (@latest is its newest), or a version 2 without the
-- columns of 00002_change_feed.sql: a development build's migrations.
SELECT EXISTS (SELECT 1 FROM goose_db_version WHERE version_id > @latest)
    OR (EXISTS (SELECT 1 FROM goose_db_version WHERE version_id = 2 AND is_applied)
        AND NOT EXISTS (SELECT 1 FROM pg_attribute
            WHERE attrelid = to_regclass('records') AND attname = 'change_xid' AND NOT attisdropped));
