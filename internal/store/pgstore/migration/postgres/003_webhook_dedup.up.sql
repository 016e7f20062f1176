-- Webhook events are recognised as repeated deliveries by a key built from what
-- the sender guarantees (for HubSpot: a hash of the event without its
-- attemptNumber), not by the sender's event id alone, which HubSpot does not
-- promise to be unique. Events the receiver cannot route are stored with the
-- reason in skipped.
ALTER TABLE concord_webhook_event ADD COLUMN dedup_key TEXT;
UPDATE concord_webhook_event SET dedup_key = event_id;
ALTER TABLE concord_webhook_event ALTER COLUMN dedup_key SET NOT NULL;
ALTER TABLE concord_webhook_event ADD COLUMN skipped TEXT;
ALTER TABLE concord_webhook_event DROP CONSTRAINT concord_webhook_event_system_event_id_key;
ALTER TABLE concord_webhook_event ADD CONSTRAINT concord_webhook_event_system_dedup_key_key UNIQUE (system, dedup_key);

-- Records announced by webhook whose job has not started yet, per leg: a new
-- announcement of a record listed here queues nothing (its job will read the
-- record's latest values). The job removes its ids before it reads them.
CREATE TABLE concord_announced (
    leg       TEXT        NOT NULL,
    record_id TEXT        NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (leg, record_id)
);
