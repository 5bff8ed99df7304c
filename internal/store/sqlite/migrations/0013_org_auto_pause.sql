-- An organisation's default auto-pause, beside its default auto-stop:
-- NULL takes the server's --default-auto-pause-minutes.
ALTER TABLE organization_settings ADD COLUMN auto_pause_minutes INTEGER;
