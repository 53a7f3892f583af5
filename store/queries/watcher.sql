-- Queries of the watcher's steps and of notifications (watcher.go).

-- name: PruneCycles
-- Finished cycles beyond the newest @keep of each object.
DELETE FROM sync_cycles c USING (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY object_id ORDER BY seq DESC) AS rn FROM sync_cycles) ranked
    WHERE rn > @keep) old
WHERE c.id = old.id AND c.status = ANY(@final_statuses::text[]);

-- name: OpenStaleEpisodes
-- Objects without a successful sync for @factor x interval (or their own
-- stale_after_seconds) open an episode, with one notification each.
WITH opened AS (
    UPDATE integration_objects SET stale_since = now()
    WHERE enabled AND NOT paused AND stale_since IS NULL
        AND coalesce(last_success_at, created_at) < now() - make_interval(secs => coalesce(stale_after_seconds, @factor * interval_seconds))
    RETURNING id, tenant || '/' || provider || '/' || object_type AS key, last_success_at,
        coalesce(stale_after_seconds, @factor * interval_seconds) AS threshold)
INSERT INTO notifications (object_id, object, kind, message, details)
SELECT id, key, 'stale',
    key || ': no successful sync since ' || coalesce(to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'it was added')
        || ' (threshold ' || threshold || 's)',
    jsonb_build_object('last_success_at', last_success_at, 'threshold_seconds', threshold)
FROM opened
RETURNING object;

-- name: CloseStaleEpisodes
-- Stale objects that synced since their episode opened close it, with a
-- `recovered` notification each.
WITH closed AS (
    UPDATE integration_objects o SET stale_since = NULL
    FROM (SELECT id, stale_since AS since FROM integration_objects
          WHERE stale_since IS NOT NULL AND last_success_at > stale_since FOR UPDATE) prev
    WHERE o.id = prev.id
    RETURNING o.id, o.tenant || '/' || o.provider || '/' || o.object_type AS key, o.last_success_at, prev.since)
INSERT INTO notifications (object_id, object, kind, message, details)
SELECT id, key, 'recovered', key || ': synced again after being stale since ' || to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    jsonb_build_object('last_success_at', last_success_at, 'stale_since', since)
FROM closed
RETURNING object;

-- name: PendingNotifications
SELECT id FROM notifications WHERE sent_at IS NULL ORDER BY id LIMIT @limit;

-- name: GetNotification
-- With its object's webhook kinds (NULL: the worker's).
SELECT n.id, n.kind, n.object, n.message, n.details, n.created_at, n.sent_at, n.attempts, n.last_error, o.webhook_kinds
FROM notifications n LEFT JOIN integration_objects o ON o.id = n.object_id WHERE n.id = @id;

-- name: ListNotifications
SELECT n.id, n.kind, n.object, n.message, n.details, n.created_at, n.sent_at, n.attempts, n.last_error, o.webhook_kinds
FROM notifications n LEFT JOIN integration_objects o ON o.id = n.object_id ORDER BY n.id DESC LIMIT @limit;

-- name: NotificationSent
UPDATE notifications SET sent_at = now(), attempts = attempts + 1, last_error = '' WHERE id = @id;

-- name: NotificationFailed
UPDATE notifications SET attempts = attempts + 1, last_error = @error WHERE id = @id;

-- name: StaleCount
SELECT count(*) FROM integration_objects WHERE stale_since IS NOT NULL;

-- name: FindCycleCompleted
-- The cycle.completed notification of a cycle, if one was recorded (a
-- retried FinishCycle finds it instead of adding a second).
SELECT id FROM notifications
WHERE kind = 'cycle.completed' AND object_id = @object_id AND details->>'cycle_id' = @cycle_id::text;

-- name: CycleCompletedWanted
-- Whether the object's webhook posts cycle.completed: its own kinds, or
-- the worker's (@global).
SELECT coalesce('cycle.completed' = ANY(webhook_kinds), @global::boolean) FROM integration_objects WHERE id = @object_id;

-- name: InsertCycleCompleted
INSERT INTO notifications (object_id, object, kind, message, details)
SELECT o.id, o.tenant || '/' || o.provider || '/' || o.object_type, 'cycle.completed', @message, @details::jsonb
FROM integration_objects o WHERE o.id = @object_id
RETURNING id;

-- name: FeedEnd
-- An object's newest feed position: where a reader that has seen
-- everything up to now resumes.
SELECT change_xid::text AS xid, external_id FROM records
WHERE object_id = @object_id ORDER BY change_xid DESC, external_id DESC LIMIT 1;
