-- An organisation's default runtime (issue 16): what its creates that
-- name no runtime get; NULL takes the server's default.
ALTER TABLE organization_settings ADD COLUMN default_runtime TEXT;
