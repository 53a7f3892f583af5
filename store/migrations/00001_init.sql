-- +goose Up
-- syncloop's schema. The project has not been released, so this single
-- migration describes it whole; later changes get migrations of their own.
-- Migrate refuses databases made by the development builds that had more
-- (and different) migrations before this one.

-- Key/value switches shared by every process, e.g. the global sync on/off.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Provider connections. Credentials are stored encrypted (secret) and only
-- decrypted inside activities.
CREATE TABLE connections (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
    provider   text NOT NULL,
    base_url   text NOT NULL DEFAULT '',
    secret     bytea,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE integration_objects (
    id               bigserial PRIMARY KEY,
    tenant           text NOT NULL CHECK (tenant ~ '^[a-z0-9_-]{1,64}$'),
    provider         text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,64}$'),
    object_type      text NOT NULL CHECK (object_type ~ '^[a-z0-9_-]{1,64}$'),
    connection       text REFERENCES connections(name),
    interval_seconds integer NOT NULL DEFAULT 10800 CHECK (interval_seconds BETWEEN 60 AND 604800),
    enabled          boolean NOT NULL DEFAULT true,
    paused           boolean NOT NULL DEFAULT false,
    -- Incremental cursor: moves only in the transaction that stores the
    -- records it covers. NULL means "never synced": the next cycle is full.
    cursor           timestamptz,
    last_success_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- Per-object stale threshold (NULL: the watcher's default) and the open
    -- stale and failing episodes, so each notification is sent once per
    -- episode.
    stale_after_seconds integer CHECK (stale_after_seconds > 0),
    stale_since         timestamptz,
    failing_since       timestamptz,
    -- The churn back-off's longer interval while it holds (NULL: none).
    effective_interval_seconds integer,
    UNIQUE (tenant, provider, object_type)
);

CREATE TABLE sync_cycles (
    id                 bigserial PRIMARY KEY,
    object_id          bigint NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
    seq                integer NOT NULL,
    -- Idempotency key of the StartCycle call (workflow run + cycle number),
    -- so a retried StartCycle never creates a second row.
    cycle_key          text NOT NULL UNIQUE,
    trigger            text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'restart', 'watcher')),
    -- model.Status.
    status             text NOT NULL CHECK (status IN ('Queued', 'Processing', 'Failed', 'Partially_Completed', 'Completed')),
    -- store.CycleMode, how the cycle lists and applies records:
    --   incremental    records modified since the cursor;
    --   full_fresh     a full listing into an object without any records:
    --                  every row is new, so pages are COPYed into records;
    --   full_snapshot  a full listing over live records: once it is
    --                  complete, live records it did not see are deleted;
    --   full_upsert    a full listing over tombstones only: upserted,
    --                  nothing to delete.
    mode               text NOT NULL CHECK (mode IN ('incremental', 'full_fresh', 'full_snapshot', 'full_upsert')),
    cursor_before      timestamptz,
    cursor_after       timestamptz,
    queued_at          timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    ended_at           timestamptz,
    -- Retrieve progress, committed with each group of applied pages: a
    -- retried Retrieve resumes from here, so no page is applied twice.
    retrieve_pages     integer NOT NULL DEFAULT 0,
    retrieve_records   integer NOT NULL DEFAULT 0,
    retrieve_token     text NOT NULL DEFAULT '',
    retrieve_cursor    timestamptz,
    retrieve_done      boolean NOT NULL DEFAULT false,
    records_new        integer NOT NULL DEFAULT 0,
    records_changed    integer NOT NULL DEFAULT 0,
    records_unchanged  integer NOT NULL DEFAULT 0,
    records_deleted    integer NOT NULL DEFAULT 0,
    records_rejected   integer NOT NULL DEFAULT 0,
    steps              jsonb NOT NULL DEFAULT '[]',
    error              text NOT NULL DEFAULT '',
    workflow_id        text NOT NULL DEFAULT '',
    run_id             text NOT NULL DEFAULT '',
    UNIQUE (object_id, seq)
);
CREATE INDEX sync_cycles_object_started ON sync_cycles (object_id, seq DESC);
CREATE INDEX sync_cycles_open ON sync_cycles (object_id) WHERE status IN ('Queued', 'Processing');

CREATE TABLE records (
    object_id   bigint NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
    external_id text NOT NULL,
    data        jsonb NOT NULL,
    -- md5 of the payload as received, whitespace removed: decides
    -- new/changed/unchanged.
    hash        bytea NOT NULL,
    modified_at timestamptz,
    deleted_at  timestamptz,
    cycle_seq   integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_id, external_id)
);

-- The ids a full_snapshot cycle has seen, until its last group of pages
-- deletes the live records not among them.
CREATE TABLE resync_seen (
    cycle_id    bigint NOT NULL REFERENCES sync_cycles(id) ON DELETE CASCADE,
    external_id text NOT NULL,
    PRIMARY KEY (cycle_id, external_id)
);

CREATE TABLE rejected_records (
    id          bigserial PRIMARY KEY,
    object_id   bigint NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
    cycle_seq   integer NOT NULL,
    external_id text NOT NULL DEFAULT '',
    reason      text NOT NULL,
    payload     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_records_object ON rejected_records (object_id, id);

CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    object_id  bigint REFERENCES integration_objects(id) ON DELETE CASCADE,
    -- The object's "tenant/provider/object_type", for messages.
    object     text NOT NULL DEFAULT '',
    kind       text NOT NULL,
    message    text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX notifications_unsent ON notifications (id) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE notifications, rejected_records, resync_seen, records, sync_cycles, integration_objects, connections, settings;
