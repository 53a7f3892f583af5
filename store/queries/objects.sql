-- Queries of integration_objects (objects.go, watcher.go). Every query that
-- returns objects selects the columns of objectRow.

-- name: AddObject
-- Inserts the object unless its key exists (then no row comes back).
INSERT INTO integration_objects (tenant, provider, object_type, interval_seconds, connection, fields, webhook_kinds)
VALUES (@tenant, @provider, @object_type, @interval_seconds, nullif(@connection::text, ''), @fields::text[], @webhook_kinds::text[])
ON CONFLICT (tenant, provider, object_type) DO NOTHING
RETURNING id, tenant, provider, object_type, coalesce(connection, '') AS connection, interval_seconds,
    enabled, paused, cursor, last_success_at, created_at, updated_at, fields, webhook_kinds;

-- name: GetObject
SELECT id, tenant, provider, object_type, coalesce(connection, '') AS connection, interval_seconds,
    enabled, paused, cursor, last_success_at, created_at, updated_at, fields, webhook_kinds
FROM integration_objects
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: ListObjects
SELECT id, tenant, provider, object_type, coalesce(connection, '') AS connection, interval_seconds,
    enabled, paused, cursor, last_success_at, created_at, updated_at, fields, webhook_kinds
FROM integration_objects
ORDER BY tenant, provider, object_type;

-- name: SetInterval
UPDATE integration_objects SET interval_seconds = @interval_seconds, updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: SetPaused
UPDATE integration_objects SET paused = @paused, updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: SaveLoopSettings
UPDATE integration_objects SET interval_seconds = @interval_seconds, paused = @paused, updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: SetEffectiveInterval
-- NULL: no back-off.
UPDATE integration_objects SET effective_interval_seconds = @interval_seconds, updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: DeleteObject
-- Cycles, records and rejected records go with it (ON DELETE CASCADE).
DELETE FROM integration_objects
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: EnabledObjectsPage
-- Keyset pagination: constant cost per page at any size.
SELECT id, tenant, provider, object_type, coalesce(connection, '') AS connection, interval_seconds,
    enabled, paused, cursor, last_success_at, created_at, updated_at, fields, webhook_kinds
FROM integration_objects
WHERE enabled AND id > @after
ORDER BY id
LIMIT @page_size;

-- name: OverdueObjects
-- Enabled, unpaused objects with no cycle start for longer than their
-- interval (the churn back-off's, if any) plus the grace period.
SELECT o.id, o.tenant, o.provider, o.object_type, coalesce(o.connection, '') AS connection, o.interval_seconds,
    o.enabled, o.paused, o.cursor, o.last_success_at, o.created_at, o.updated_at, o.fields, o.webhook_kinds,
    last.started_at AS last_start,
    extract(epoch FROM now() - (coalesce(last.started_at, o.created_at)
        + make_interval(secs => coalesce(o.effective_interval_seconds, o.interval_seconds))))::float8 AS overdue_seconds
FROM integration_objects o
LEFT JOIN LATERAL (SELECT started_at FROM sync_cycles c WHERE c.object_id = o.id AND c.started_at IS NOT NULL ORDER BY seq DESC LIMIT 1) last ON true
WHERE o.enabled AND NOT o.paused
    AND coalesce(last.started_at, o.created_at)
        + make_interval(secs => coalesce(o.effective_interval_seconds, o.interval_seconds) + @grace_seconds::float8) < now()
-- Objects in a failing episode come last: a loop held after an auth or
-- config failure waits a day for its re-check by design, and a revoked
-- connection's many objects must not use up the watcher's describe budget
-- before real stalls are looked at (the watcher skips held loops).
ORDER BY (o.failing_since IS NOT NULL), overdue_seconds DESC
LIMIT @limit;

-- name: SetFields
-- A new field list; the cursor goes so that the next cycle is a full one
-- that reads every record with it.
UPDATE integration_objects SET fields = @fields::text[], cursor = NULL, updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;

-- name: SetWebhookKinds
-- NULL: the worker's SYNCLOOP_WEBHOOK_KINDS.
UPDATE integration_objects SET webhook_kinds = @webhook_kinds::text[], updated_at = now()
WHERE tenant = @tenant AND provider = @provider AND object_type = @object_type;
