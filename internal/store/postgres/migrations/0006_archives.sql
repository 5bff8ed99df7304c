-- Archived sandboxes' packed files, in the database so that every replica
-- reads the archives any of them wrote. Each blob is a large object
-- (pg_largeobject) that its key's row names; Put and Delete change the
-- row and the object in one transaction, so no object outlives its row.
CREATE TABLE archives (
    key        text PRIMARY KEY,
    object     oid NOT NULL,
    size       bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
