-- Waits: changes parked until a record they need is linked (a deal's account not
-- handed over yet, an invoice whose order is not linked to its deal yet). One wait
-- per record and flow; woken (re-queued) when the awaited link is recorded, and
-- dead-lettered only when the deadline passes.
CREATE TABLE concord_wait (
    flow            TEXT    NOT NULL,
    system          TEXT    NOT NULL,
    entity          TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    await_system    TEXT    NOT NULL,
    await_entity    TEXT    NOT NULL,
    await_id        TEXT    NOT NULL,
    await_in        TEXT    NOT NULL,
    await_in_entity TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    event_id        INTEGER NOT NULL,
    since           INTEGER NOT NULL,
    deadline        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    woken_at        INTEGER,
    PRIMARY KEY (flow, system, entity, external_id)
) WITHOUT ROWID;

CREATE INDEX concord_wait_await_idx ON concord_wait (await_system, await_entity, await_id);
CREATE INDEX concord_wait_deadline_idx ON concord_wait (deadline);

-- Dead letters: one open letter per record and flow (a new cause supersedes the
-- old one), closed when the record later syncs; attempts add up.
ALTER TABLE concord_dead_letter ADD COLUMN cause TEXT NOT NULL DEFAULT '';
ALTER TABLE concord_dead_letter ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE concord_dead_letter ADD COLUMN updated_at INTEGER;
ALTER TABLE concord_dead_letter ADD COLUMN resolved_at INTEGER;
ALTER TABLE concord_dead_letter ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE concord_dead_letter ADD COLUMN auto_retries INTEGER NOT NULL DEFAULT 0;

UPDATE concord_dead_letter SET updated_at = created_at;
UPDATE concord_dead_letter SET resolved_at = retried_at, resolution = 'retried' WHERE retried_at IS NOT NULL;
UPDATE concord_dead_letter SET resolved_at = created_at, resolution = 'superseded'
 WHERE resolved_at IS NULL AND id NOT IN (
   SELECT max(id) FROM concord_dead_letter WHERE resolved_at IS NULL GROUP BY flow, system, entity, external_id);

CREATE UNIQUE INDEX concord_dead_letter_open_idx
    ON concord_dead_letter (flow, system, entity, external_id) WHERE resolved_at IS NULL;
