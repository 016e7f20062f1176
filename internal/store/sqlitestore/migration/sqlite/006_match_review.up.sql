-- Match reviews: a record with no link whose best candidate in the target scored
-- between a flow's review and auto_link thresholds. Nothing is written until a
-- person accepts the pair (the records are linked) or rejects it (the pair is
-- never offered again for that record). One row per record and candidate.
CREATE TABLE concord_match_review (
    id            INTEGER PRIMARY KEY,
    flow          TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    entity        TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    target_system TEXT    NOT NULL,
    target_entity TEXT    NOT NULL,
    target_id     TEXT    NOT NULL,
    score         REAL    NOT NULL,
    match_key     TEXT    NOT NULL DEFAULT '',
    fields        BLOB,
    snapshot      BLOB,
    target        BLOB,
    state         TEXT    NOT NULL DEFAULT 'pending',
    event_id      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    decided_at    INTEGER
);

CREATE UNIQUE INDEX concord_match_review_pair_idx
    ON concord_match_review (flow, system, entity, external_id, target_id);
CREATE INDEX concord_match_review_state_idx ON concord_match_review (state, id);
