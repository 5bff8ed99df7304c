-- Auto-pause (issue 14): pause a running sandbox after this many idle
-- minutes, counted like auto-stop from last_activity_at; 0 is off.
ALTER TABLE sandboxes ADD COLUMN auto_pause_minutes INTEGER NOT NULL DEFAULT 0;
