-- Concord store, PostgreSQL dialect. Times are TIMESTAMPTZ (microseconds, UTC);
-- durations are BIGINT nanoseconds.

-- Links have no surrogate key and no list index: every index costs on the
-- engine's hot write path, and listing links is rare.
CREATE TABLE concord_link (
    entity      TEXT        NOT NULL,
    concord_id  TEXT        NOT NULL,
    system      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT concord_link_concord_key PRIMARY KEY (entity, concord_id, system),
    CONSTRAINT concord_link_external_key UNIQUE (system, entity, external_id)
);

CREATE TABLE concord_event (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow           TEXT        NOT NULL,
    entity         TEXT        NOT NULL,
    source_system  TEXT        NOT NULL,
    source_id      TEXT        NOT NULL,
    target_system  TEXT        NOT NULL,
    target_id      TEXT        NOT NULL,
    concord_id     TEXT        NOT NULL,
    config_version TEXT        NOT NULL,
    snapshot       BYTEA,
    plan           BYTEA,
    response       BYTEA,
    outcome        TEXT        NOT NULL,
    error          TEXT        NOT NULL,
    attempt        INTEGER     NOT NULL,
    replay         BIGINT      NOT NULL,
    started_at     TIMESTAMPTZ,
    duration_ns    BIGINT      NOT NULL
);

CREATE INDEX concord_event_flow_idx ON concord_event (flow, id);
CREATE INDEX concord_event_outcome_idx ON concord_event (outcome, id);
CREATE INDEX concord_event_source_idx ON concord_event (source_id);

CREATE TABLE concord_cursor (
    flow         TEXT        NOT NULL,
    system       TEXT        NOT NULL,
    entity       TEXT        NOT NULL,
    cursor_value TEXT        NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow, system, entity)
);

CREATE TABLE concord_fingerprint (
    flow        TEXT        NOT NULL,
    system      TEXT        NOT NULL,
    entity      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    hash        TEXT        NOT NULL,
    version     TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow, system, entity, external_id)
);

CREATE TABLE concord_quarantine (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow        TEXT        NOT NULL,
    system      TEXT        NOT NULL,
    entity      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    field       TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    snapshot    BYTEA,
    created_at  TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ
);

-- One open entry per record.
CREATE UNIQUE INDEX concord_quarantine_open_idx
    ON concord_quarantine (flow, system, entity, external_id) WHERE released_at IS NULL;
CREATE INDEX concord_quarantine_list_idx
    ON concord_quarantine (created_at, id) WHERE released_at IS NULL;

CREATE TABLE concord_dead_letter (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow        TEXT        NOT NULL,
    entity      TEXT        NOT NULL,
    system      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    snapshot    BYTEA,
    reason      TEXT        NOT NULL,
    attempts    INTEGER     NOT NULL,
    event_id    BIGINT      NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    retried_at  TIMESTAMPTZ
);

CREATE INDEX concord_dead_letter_flow_idx ON concord_dead_letter (flow, id);
