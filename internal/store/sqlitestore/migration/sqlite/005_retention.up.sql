-- Retention. A schedule flow's pass no longer writes an event per record it found
-- unchanged: it adds its counts to one summary row per flow and pass, opened when
-- the pass starts (Engine.StartSweep) and updated by every piece of the pass.
CREATE TABLE concord_sweep (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    flow       TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    compared   INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    changed    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX concord_sweep_flow_idx ON concord_sweep (flow, id);
