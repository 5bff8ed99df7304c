-- organization_quotas cap what one organisation's sandboxes hold together,
-- set by the platform admin; a NULL column keeps the server's default, -1
-- is no limit.
CREATE TABLE organization_quotas (
    organization_id TEXT PRIMARY KEY,
    sandboxes       INTEGER,
    cpu             REAL,
    memory_mb       INTEGER,
    disk_mb         INTEGER,
    updated_at      TEXT NOT NULL
);
