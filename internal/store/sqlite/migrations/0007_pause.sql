-- Pause that frees memory (issue 14): where a paused sandbox's memory is
-- (resident or on-disk, NULL when not paused), since when, the size of
-- its image on disk, and when the tiered pause moves it to disk; the
-- per-sandbox delay of that move, and the organisation's defaults.
ALTER TABLE sandboxes ADD COLUMN pause_memory TEXT;
ALTER TABLE sandboxes ADD COLUMN pause_since TEXT;
ALTER TABLE sandboxes ADD COLUMN pause_size_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sandboxes ADD COLUMN pause_release_at TEXT;
ALTER TABLE sandboxes ADD COLUMN pause_release_after_seconds INTEGER;
CREATE INDEX sandboxes_state_pause_release ON sandboxes (state, pause_release_at)
    WHERE pause_release_at IS NOT NULL;

ALTER TABLE organization_settings ADD COLUMN pause_memory TEXT;
ALTER TABLE organization_settings ADD COLUMN pause_release_after_seconds INTEGER;
