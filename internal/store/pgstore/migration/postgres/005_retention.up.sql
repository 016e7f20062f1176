-- Retention. A schedule flow's pass no longer writes an event per record it found
-- unchanged: it adds its counts to one summary row per flow and pass, opened when
-- the pass starts (Engine.StartSweep) and updated by every piece of the pass.
CREATE TABLE concord_sweep (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow       TEXT        NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    compared   BIGINT      NOT NULL DEFAULT 0,
    unchanged  BIGINT      NOT NULL DEFAULT 0,
    changed    BIGINT      NOT NULL DEFAULT 0
);

CREATE INDEX concord_sweep_flow_idx ON concord_sweep (flow, id);
