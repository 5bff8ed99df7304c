-- Secrets every replica must share (issue 17): the key that signs port
-- URLs and compat tokens. The first replica to start chooses each; a
-- one-server store kept it in <data-dir>/proxy-secret.
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
