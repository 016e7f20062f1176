-- Raw webhook deliveries, one row per announced event: stored before the work is
-- queued, in the same transaction, and unique per (system, event_id) so that a
-- delivery the sender repeats is recognised and ignored.
CREATE TABLE concord_webhook_event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    system      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    body        BLOB,
    received_at INTEGER NOT NULL,
    UNIQUE (system, event_id)
);
