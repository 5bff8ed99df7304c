-- Lifecycle automation: the reconciler's due-work lookups, per-organisation
-- defaults, and webhooks with their persisted deliveries.

-- Expiry: sandboxes with an expiry that is still to be applied.
CREATE INDEX sandboxes_expires ON sandboxes (expires_at)
    WHERE expires_at IS NOT NULL AND state NOT IN ('deleting', 'deleted');

-- Auto-stop: the running sandboxes whose CPU the reconciler samples.
CREATE INDEX sandboxes_auto_stop ON sandboxes (state, last_activity_at)
    WHERE auto_stop_minutes > 0;

-- Auto-archive, auto-delete and transitional deadlines use
-- sandboxes_state_updated (state, updated_at) from 0001.

-- organization_settings override the server's defaults for sandboxes
-- created in one organisation; a NULL column keeps the server's default.
CREATE TABLE organization_settings (
    organization_id      TEXT PRIMARY KEY,
    timeout_seconds      INTEGER,
    auto_stop_minutes    INTEGER,
    auto_archive_minutes INTEGER,
    auto_delete_minutes  INTEGER,
    updated_at           TEXT NOT NULL
);

-- webhooks.secret is kept in clear: it signs every delivery.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE INDEX webhooks_organization ON webhooks (organization_id, created_at);

-- webhook_deliveries copies what it sends from the event, so that a
-- delivery outlives the purge of its sandbox.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    organization_id TEXT NOT NULL,
    sandbox_id      TEXT NOT NULL,
    sandbox_name    TEXT NOT NULL,
    time            TEXT NOT NULL,
    from_state      TEXT NOT NULL,
    to_state        TEXT NOT NULL,
    cause           TEXT NOT NULL,
    message         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    done_at         TEXT, -- delivered, or given up
    delivered       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE done_at IS NULL;

CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at)
    WHERE done_at IS NOT NULL;

-- Every state event queues one delivery per webhook of the sandbox's
-- organisation in the transaction that records the event, so that a crash
-- can lose neither (at-least-once delivery).
CREATE TRIGGER events_queue_webhooks AFTER INSERT ON events WHEN NEW.type = 'state'
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, event_id, organization_id, sandbox_id, sandbox_name,
        time, from_state, to_state, cause, message, next_attempt_at)
    SELECT w.id, NEW.id, s.organization_id, s.id, s.name,
        NEW.time, NEW.from_state, NEW.to_state, NEW.cause, NEW.message, NEW.time
    FROM sandboxes s JOIN webhooks w ON w.organization_id = s.organization_id
    WHERE s.id = NEW.sandbox_id;
END;
