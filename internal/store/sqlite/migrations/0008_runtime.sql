-- A second runtime (issue 16): the driver each sandbox runs on, chosen at
-- create; '' is a sandbox made before there was a choice (oci).
ALTER TABLE sandboxes ADD COLUMN runtime TEXT NOT NULL DEFAULT '';
