-- An organisation's own caps on one image import or pull, in MB (issue
-- 23): NULL keeps the server's (--image-max-*-mb); where both are set the
-- smaller applies.
ALTER TABLE organization_quotas ADD COLUMN image_max_compressed_mb INTEGER;
ALTER TABLE organization_quotas ADD COLUMN image_max_unpacked_mb INTEGER;
