-- Queries of connections and settings (connections.go, settings.go).

-- name: GetConnection
SELECT name, provider, base_url, secret, auth_kind, token_url, secret_version,
    token_expires_at, refreshed_at, refresh_outcome, refresh_error, created_at, updated_at
FROM connections WHERE name = @name;

-- name: LockConnection
-- GetConnection under the row lock: a token refresh holds it until it has
-- written the new secret, so refreshes of one connection take turns.
SELECT name, provider, base_url, secret, auth_kind, token_url, secret_version,
    token_expires_at, refreshed_at, refresh_outcome, refresh_error, created_at, updated_at
FROM connections WHERE name = @name FOR UPDATE;

-- name: PutConnection
-- Inserts a connection, or replaces one of the same provider (a new
-- secret version, no refresh history). Returns nothing when the name is
-- taken by another provider's connection.
INSERT INTO connections (name, provider, base_url, secret, auth_kind, token_url)
VALUES (@name, @provider, @base_url, @secret, @auth_kind, @token_url)
ON CONFLICT (name) DO UPDATE SET
    base_url = excluded.base_url, secret = excluded.secret, auth_kind = excluded.auth_kind,
    token_url = excluded.token_url, secret_version = connections.secret_version + 1,
    token_expires_at = NULL, refreshed_at = NULL, refresh_outcome = NULL, refresh_error = '',
    updated_at = now()
WHERE connections.provider = excluded.provider
RETURNING (xmax <> 0) AS replaced,
    coalesce((SELECT array_agg(o.tenant || '/' || o.provider || '/' || o.object_type ORDER BY o.id)
        FROM integration_objects o WHERE o.connection = @name), '{}') AS objects;

-- name: StoreRefreshedToken
-- A refresh's new secret; only over the version it read.
UPDATE connections SET secret = @secret, secret_version = secret_version + 1,
    base_url = CASE WHEN @base_url::text = '' THEN base_url ELSE @base_url::text END,
    token_expires_at = @expires_at, refreshed_at = now(), refresh_outcome = 'ok', refresh_error = '',
    updated_at = now()
WHERE name = @name AND secret_version = @version;

-- name: RecordRefreshFailure
UPDATE connections SET refreshed_at = now(), refresh_outcome = @outcome, refresh_error = @error
WHERE name = @name AND secret_version = @version;

-- name: ListConnections
-- Never the secret, only whether there is one.
SELECT c.name, c.provider, c.base_url, c.secret IS NOT NULL AS has_secret, c.created_at,
    c.auth_kind, c.token_url, c.token_expires_at, c.refreshed_at, c.refresh_outcome, c.refresh_error, c.updated_at,
    coalesce(array_agg(o.tenant || '/' || o.provider || '/' || o.object_type ORDER BY o.id)
        FILTER (WHERE o.id IS NOT NULL), '{}') AS objects
FROM connections c LEFT JOIN integration_objects o ON o.connection = c.name
GROUP BY c.name
ORDER BY c.name;

-- name: DeleteConnection
DELETE FROM connections WHERE name = @name;

-- name: SyncEnabled
-- The global on/off switch; on when never set.
SELECT coalesce((SELECT value = 'true'::jsonb FROM settings WHERE key = @key), true);

-- name: SetSyncEnabled
INSERT INTO settings (key, value) VALUES (@key, to_jsonb(@enabled::boolean))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now();
