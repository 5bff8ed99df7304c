-- An organisation may turn warm pools off for its creates (issue 15):
-- 0 makes each boot cold; NULL lets the server's pools serve them.
ALTER TABLE organization_settings ADD COLUMN use_pools INTEGER;
