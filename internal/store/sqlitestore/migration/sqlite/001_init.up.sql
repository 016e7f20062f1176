-- Concord store, SQLite dialect. Times are INTEGER unix microseconds (UTC);
-- durations are INTEGER nanoseconds.

-- Links have no surrogate key and no list index: every index costs on the
-- engine's hot write path, and listing links is rare.
CREATE TABLE concord_link (
    entity      TEXT    NOT NULL,
    concord_id  TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (system, entity, external_id)
) WITHOUT ROWID;

-- Named so that lookups by concord id can say INDEXED BY: without statistics
-- SQLite may prefer a prefix scan of the primary key over 1000 IN probes.
CREATE UNIQUE INDEX concord_link_concord_idx ON concord_link (entity, concord_id, system);

CREATE TABLE concord_event (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    flow           TEXT    NOT NULL,
    entity         TEXT    NOT NULL,
    source_system  TEXT    NOT NULL,
    source_id      TEXT    NOT NULL,
    target_system  TEXT    NOT NULL,
    target_id      TEXT    NOT NULL,
    concord_id     TEXT    NOT NULL,
    config_version TEXT    NOT NULL,
    snapshot       BLOB,
    plan           BLOB,
    response       BLOB,
    outcome        TEXT    NOT NULL,
    error          TEXT    NOT NULL,
    attempt        INTEGER NOT NULL,
    replay         INTEGER NOT NULL,
    started_at     INTEGER,
    duration_ns    INTEGER NOT NULL
);

CREATE INDEX concord_event_flow_idx ON concord_event (flow, id);
CREATE INDEX concord_event_outcome_idx ON concord_event (outcome, id);
CREATE INDEX concord_event_source_idx ON concord_event (source_id);

CREATE TABLE concord_cursor (
    flow         TEXT    NOT NULL,
    system       TEXT    NOT NULL,
    entity       TEXT    NOT NULL,
    cursor_value TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (flow, system, entity)
) WITHOUT ROWID;

CREATE TABLE concord_fingerprint (
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (flow, system, entity, external_id)
) WITHOUT ROWID;

CREATE TABLE concord_quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    snapshot    BLOB,
    created_at  INTEGER NOT NULL,
    released_at INTEGER
);

-- One open entry per record.
CREATE UNIQUE INDEX concord_quarantine_open_idx
    ON concord_quarantine (flow, system, entity, external_id) WHERE released_at IS NULL;
CREATE INDEX concord_quarantine_list_idx
    ON concord_quarantine (created_at, id) WHERE released_at IS NULL;

CREATE TABLE concord_dead_letter (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    flow        TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    snapshot    BLOB,
    reason      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    event_id    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    retried_at  INTEGER
);

CREATE INDEX concord_dead_letter_flow_idx ON concord_dead_letter (flow, id);
