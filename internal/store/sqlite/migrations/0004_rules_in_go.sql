-- Lifecycle rules live in Go (internal/sandbox), not in the schema: the
-- store filters by the states and settings each query names, and queues
-- webhook deliveries itself in the transaction that records an event.

-- The trigger's job is done by insertEvent, for the events
-- sandbox.Event.Announced names.
DROP TRIGGER events_queue_webhooks;

-- sandboxes_expires named the states an expiry skips; the expiry lookup
-- now takes the states it applies in, one index range per state.
DROP INDEX sandboxes_expires;
CREATE INDEX sandboxes_state_expires ON sandboxes (state, expires_at)
    WHERE expires_at IS NOT NULL;

-- sandboxes_auto_stop named which setting turns auto-stop on; the lookup
-- now takes it, and the running sandboxes it reads are found through
-- sandboxes_state_updated. Dropping it also spares every activity touch
-- an index write.
DROP INDEX sandboxes_auto_stop;
