-- webhook_attempts records each attempt to send a delivery: when, which
-- event, the receiver's status (0: no answer) or the error, how long it
-- took, and what became of the delivery. The dispatcher keeps the newest
-- 50 per webhook (webhook.AttemptsKept); they go with their webhook.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    delivery_id INTEGER NOT NULL,
    event       TEXT NOT NULL,
    sandbox_id  TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    time        TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL,
    latency_us  INTEGER NOT NULL,
    outcome     TEXT NOT NULL
);

CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);
