-- Network: the deny list, the ports served without an API key, and
-- whether a request through the port proxy resumes a paused sandbox.
ALTER TABLE sandboxes ADD COLUMN deny_cidrs TEXT NOT NULL DEFAULT 'null'; -- JSON array or null
ALTER TABLE sandboxes ADD COLUMN public_ports TEXT NOT NULL DEFAULT 'null'; -- JSON array or null
ALTER TABLE sandboxes ADD COLUMN auto_resume INTEGER NOT NULL DEFAULT 0;
