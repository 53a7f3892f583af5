-- +goose Up
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
    status             text NOT NULL CHECK (status IN ('Queued', 'Processing', 'Failed', 'Partially_Completed', 'Completed')),
    full_sync          boolean NOT NULL DEFAULT false,
    cursor_before      timestamptz,
    cursor_after       timestamptz,
    queued_at          timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    ended_at           timestamptz,
    -- Retrieve progress, committed with each staged page: a retried
    -- Retrieve resumes from here, so no page is staged twice.
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

CREATE TABLE records (
    object_id   bigint NOT NULL REFERENCES integration_objects(id) ON DELETE CASCADE,
    external_id text NOT NULL,
    data        jsonb NOT NULL,
    -- md5 of the canonical jsonb text: decides new/changed/unchanged.
    hash        bytea NOT NULL,
    modified_at timestamptz,
    deleted_at  timestamptz,
    cycle_seq   integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_id, external_id)
);

-- Pages retrieved but not yet processed. Rows are deleted in the same
-- transaction that applies them to records, so processing is exactly-once.
CREATE TABLE staged_records (
    id          bigserial PRIMARY KEY,
    cycle_id    bigint NOT NULL REFERENCES sync_cycles(id) ON DELETE CASCADE,
    page        integer NOT NULL,
    external_id text NOT NULL DEFAULT '',
    modified_at timestamptz,
    deleted     boolean NOT NULL DEFAULT false,
    data        jsonb,
    -- raw and reject_reason are set when the payload could not be staged
    -- as JSON; such rows end in rejected_records.
    raw           text,
    reject_reason text NOT NULL DEFAULT ''
);
CREATE INDEX staged_records_cycle ON staged_records (cycle_id, id);

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
    kind       text NOT NULL,
    message    text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

-- +goose Down
DROP TABLE notifications, rejected_records, staged_records, records, sync_cycles, integration_objects, connections, settings;
