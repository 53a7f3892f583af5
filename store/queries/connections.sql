-- Queries of connections and settings (connections.go, settings.go).

-- name: GetConnection
SELECT name, provider, base_url, secret FROM connections WHERE name = @name;

-- name: AddConnection
-- No row is inserted when the name is taken.
INSERT INTO connections (name, provider, base_url, secret) VALUES (@name, @provider, @base_url, @secret)
ON CONFLICT (name) DO NOTHING;

-- name: ListConnections
-- Never the secret, only whether there is one.
SELECT c.name, c.provider, c.base_url, c.secret IS NOT NULL AS has_secret, c.created_at,
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
