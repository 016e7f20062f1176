-- Webhook events are recognised as repeated deliveries by a key built from what
-- the sender guarantees (for HubSpot: a hash of the event without its
-- attemptNumber), not by the sender's event id alone, which HubSpot does not
-- promise to be unique. Events the receiver cannot route are stored with the
-- reason in skipped. SQLite cannot drop a table constraint: the table is rebuilt.
CREATE TABLE concord_webhook_event_003 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    system      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    skipped     TEXT,
    body        BLOB,
    received_at INTEGER NOT NULL,
    UNIQUE (system, dedup_key)
);
INSERT INTO concord_webhook_event_003 (id, system, event_id, dedup_key, entity, record_id, body, received_at)
    SELECT id, system, event_id, event_id, entity, record_id, body, received_at FROM concord_webhook_event;
DROP TABLE concord_webhook_event;
ALTER TABLE concord_webhook_event_003 RENAME TO concord_webhook_event;

-- Records announced by webhook whose job has not started yet, per leg: a new
-- announcement of a record listed here queues nothing (its job will read the
-- record's latest values). The job removes its ids before it reads them.
CREATE TABLE concord_announced (
    leg       TEXT    NOT NULL,
    record_id TEXT    NOT NULL,
    queued_at INTEGER NOT NULL,
    PRIMARY KEY (leg, record_id)
);
