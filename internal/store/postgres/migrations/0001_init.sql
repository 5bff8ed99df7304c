-- The whole schema as of SQLite's 0009, in PostgreSQL's types: times are
-- timestamptz (microseconds), lists and maps jsonb, IDs and names text in
-- the "C" collation so that they sort and compare byte by byte as SQLite
-- does, whatever the database's locale.

CREATE TABLE organizations (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id              text COLLATE "C" PRIMARY KEY,
    organization_id text COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    hash            text NOT NULL UNIQUE,
    prefix          text NOT NULL,
    admin           boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);

CREATE INDEX api_keys_organization ON api_keys (organization_id);

-- sandboxes.organization_id has no foreign key: sandbox.Store is usable on
-- its own (the lifecycle does not create organisations). version is the
-- compare-and-set of every update: an UPDATE names the version it read,
-- and the row lock PostgreSQL takes makes a concurrent one, from any
-- replica, re-check it and match nothing.
CREATE TABLE sandboxes (
    id                          text COLLATE "C" PRIMARY KEY,
    name                        text COLLATE "C" NOT NULL,
    organization_id             text COLLATE "C" NOT NULL,
    image                       text NOT NULL,
    template                    text NOT NULL,
    runtime                     text NOT NULL,
    entrypoint                  jsonb NOT NULL,
    env                         jsonb NOT NULL,
    metadata                    jsonb NOT NULL,
    cpu                         double precision NOT NULL,
    memory_mb                   bigint NOT NULL,
    disk_mb                     bigint NOT NULL,
    pids                        bigint NOT NULL,
    internet                    boolean NOT NULL,
    allow_cidrs                 jsonb NOT NULL,
    deny_cidrs                  jsonb NOT NULL,
    public_ports                jsonb NOT NULL,
    auto_resume                 boolean NOT NULL,
    state                       text NOT NULL,
    desired_state               text NOT NULL,
    state_reason                text NOT NULL,
    timeout_seconds             bigint,
    expires_at                  timestamptz,
    auto_stop_minutes           integer NOT NULL,
    auto_archive_minutes        integer NOT NULL,
    auto_delete_minutes         integer NOT NULL,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    started_at                  timestamptz,
    last_activity_at            timestamptz NOT NULL,
    version                     bigint NOT NULL,
    pause_memory                text,
    pause_since                 timestamptz,
    pause_size_bytes            bigint NOT NULL DEFAULT 0,
    pause_release_at            timestamptz,
    pause_release_after_seconds bigint
);

-- A name is taken only while its sandbox is not deleted, so that a deleted
-- sandbox's record can stay readable while its name is reused. In the "C"
-- collation it also serves the name-prefix filter (LIKE 'p%').
CREATE UNIQUE INDEX sandboxes_live_name ON sandboxes (organization_id, name)
    WHERE state <> 'deleted';

-- The list order (newest first) within an organisation.
CREATE INDEX sandboxes_organization_created ON sandboxes (organization_id, created_at DESC, id DESC);

-- Purge of old deleted records, auto-archive, auto-delete, stale
-- transitions: a state and a time.
CREATE INDEX sandboxes_state_updated ON sandboxes (state, updated_at);

CREATE INDEX sandboxes_state_expires ON sandboxes (state, expires_at)
    WHERE expires_at IS NOT NULL;

CREATE INDEX sandboxes_state_pause_release ON sandboxes (state, pause_release_at)
    WHERE pause_release_at IS NOT NULL;

-- The metadata filter (metadata @> '{"k": "v"}').
CREATE INDEX sandboxes_metadata ON sandboxes USING gin (metadata jsonb_path_ops);

CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sandbox_id text COLLATE "C" NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL,
    type       text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    cause      text NOT NULL,
    message    text NOT NULL
);

CREATE INDEX events_sandbox ON events (sandbox_id, id);

-- organization_settings override the server's defaults for sandboxes
-- created in one organisation; a NULL column keeps the server's default.
CREATE TABLE organization_settings (
    organization_id             text COLLATE "C" PRIMARY KEY,
    timeout_seconds             bigint,
    auto_stop_minutes           integer,
    auto_archive_minutes        integer,
    auto_delete_minutes         integer,
    pause_memory                text,
    pause_release_after_seconds bigint,
    default_runtime             text,
    updated_at                  timestamptz NOT NULL
);

-- organization_quotas cap what one organisation's sandboxes hold together;
-- a NULL column keeps the server's default, -1 is no limit.
CREATE TABLE organization_quotas (
    organization_id         text COLLATE "C" PRIMARY KEY,
    sandboxes               bigint,
    cpu                     double precision,
    memory_mb               bigint,
    disk_mb                 bigint,
    image_max_compressed_mb bigint,
    image_max_unpacked_mb   bigint,
    updated_at              timestamptz NOT NULL
);

-- webhooks.secret is kept in clear: it signs every delivery.
CREATE TABLE webhooks (
    id              text COLLATE "C" PRIMARY KEY,
    organization_id text COLLATE "C" NOT NULL,
    url             text NOT NULL,
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE INDEX webhooks_organization ON webhooks (organization_id, created_at);

-- webhook_deliveries copies what it sends from the event, so that a
-- delivery outlives the purge of its sandbox.
CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    organization_id text COLLATE "C" NOT NULL,
    sandbox_id      text COLLATE "C" NOT NULL,
    sandbox_name    text NOT NULL,
    time            timestamptz NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    cause           text NOT NULL,
    message         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    done_at         timestamptz, -- delivered, or given up
    delivered       boolean NOT NULL DEFAULT false
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE done_at IS NULL;

CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at)
    WHERE done_at IS NOT NULL;

-- webhook_attempts records each attempt to send a delivery; the
-- dispatcher keeps the newest 50 per webhook (webhook.AttemptsKept).
CREATE TABLE webhook_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    delivery_id bigint NOT NULL,
    event       text NOT NULL,
    sandbox_id  text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    attempt     integer NOT NULL,
    time        timestamptz NOT NULL,
    status_code integer NOT NULL,
    error       text NOT NULL,
    latency_us  bigint NOT NULL,
    outcome     text NOT NULL
);

CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
