-- Mapping changes. The mapping of each leg that its linked records were last
-- brought in line with (the first sync, a finished resync, a schedule pass), so
-- that plan can say when it changed; and one resync per leg (the latest): how far
-- it queued the leg's linked records, and how many its batches compared and changed.
CREATE TABLE concord_leg_mapping (
    leg         TEXT        PRIMARY KEY,
    fingerprint TEXT        NOT NULL,
    description TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE concord_resync (
    leg         TEXT        PRIMARY KEY,
    mapping     TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    total       BIGINT      NOT NULL DEFAULT 0,
    after_id    TEXT        NOT NULL DEFAULT '',
    queued      BIGINT      NOT NULL DEFAULT 0,
    queued_all  BOOLEAN     NOT NULL DEFAULT FALSE,
    compared    BIGINT      NOT NULL DEFAULT 0,
    changed     BIGINT      NOT NULL DEFAULT 0,
    finished_at TIMESTAMPTZ
);
