-- The console: an event found by the target's record id as well as the
-- source's, and counts of events per minute, flow and outcome for its charts.
-- The counts are appended with each batch of events (one row per minute, flow
-- and outcome of the batch, never updated: concurrent batches never wait on
-- each other) and summed when read.
CREATE INDEX concord_event_target_idx ON concord_event (target_id);

CREATE TABLE concord_event_count (
    minute  BIGINT NOT NULL, -- unix seconds of the minute's start
    flow    TEXT   NOT NULL,
    outcome TEXT   NOT NULL,
    n       BIGINT NOT NULL
);
CREATE INDEX concord_event_count_minute_idx ON concord_event_count (minute);

INSERT INTO concord_event_count (minute, flow, outcome, n)
SELECT (floor(extract(epoch FROM started_at) / 60) * 60)::bigint, flow, outcome, COUNT(*)
FROM concord_event WHERE started_at IS NOT NULL
GROUP BY 1, 2, 3;
