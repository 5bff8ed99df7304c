-- Times are TEXT in UTC with nine fractional digits and a literal Z
-- (2006-01-02T15:04:05.000000000Z), so that text order is time order and
-- comparisons and ORDER BY work on the column as stored.

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    admin           INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);

CREATE INDEX api_keys_organization ON api_keys (organization_id);

-- sandboxes.organization_id has no foreign key: sandbox.Store is usable on
-- its own (the lifecycle does not create organisations), and organisations
-- are never deleted.
CREATE TABLE sandboxes (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    organization_id      TEXT NOT NULL,
    image                TEXT NOT NULL,
    template             TEXT NOT NULL,
    entrypoint           TEXT NOT NULL, -- JSON array or null
    env                  TEXT NOT NULL, -- JSON object or null
    metadata             TEXT NOT NULL, -- JSON object or null; filtered through sandbox_metadata
    cpu                  REAL NOT NULL,
    memory_mb            INTEGER NOT NULL,
    disk_mb              INTEGER NOT NULL,
    pids                 INTEGER NOT NULL,
    internet             INTEGER NOT NULL,
    allow_cidrs          TEXT NOT NULL, -- JSON array or null
    state                TEXT NOT NULL,
    desired_state        TEXT NOT NULL,
    state_reason         TEXT NOT NULL,
    timeout_seconds      INTEGER,
    expires_at           TEXT,
    auto_stop_minutes    INTEGER NOT NULL,
    auto_archive_minutes INTEGER NOT NULL,
    auto_delete_minutes  INTEGER NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    started_at           TEXT,
    last_activity_at     TEXT NOT NULL,
    version              INTEGER NOT NULL
);

-- A name is taken only while its sandbox is not deleted, so that a deleted
-- sandbox's record can stay readable while its name is reused.
CREATE UNIQUE INDEX sandboxes_live_name ON sandboxes (organization_id, name)
    WHERE state <> 'deleted';

-- The list order (newest first) within an organisation.
CREATE INDEX sandboxes_organization_created ON sandboxes (organization_id, created_at DESC, id DESC);

-- Purge of old deleted records.
CREATE INDEX sandboxes_state_updated ON sandboxes (state, updated_at);

-- sandbox_metadata mirrors sandboxes.metadata one row per key, written in
-- the same transaction, so that metadata filters are indexed lookups.
CREATE TABLE sandbox_metadata (
    sandbox_id TEXT NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (sandbox_id, key)
) WITHOUT ROWID;

CREATE INDEX sandbox_metadata_key_value ON sandbox_metadata (key, value);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sandbox_id TEXT NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    time       TEXT NOT NULL,
    type       TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    cause      TEXT NOT NULL,
    message    TEXT NOT NULL
);

CREATE INDEX events_sandbox ON events (sandbox_id, id);
