-- Health: each serve process writes its heartbeat here every few seconds, a
-- real write that fails when the store is not writable (a full disk, a
-- read-only file, a revoked grant), so that /readyz can say so.
CREATE TABLE concord_heartbeat (
    node TEXT        PRIMARY KEY,
    at   TIMESTAMPTZ NOT NULL
);
