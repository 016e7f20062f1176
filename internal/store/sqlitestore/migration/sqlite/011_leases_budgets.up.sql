-- Several nodes on one store: a lease per piece of work only one node may do at
-- a time (a leg's poller, the periodic work), held by one node until it expires
-- unless renewed; and a token bucket per external account (its rate budget),
-- shared by every node. A SQLite store has one node: its leases are always its
-- own, and the tables keep the code the same.
CREATE TABLE concord_lease (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE concord_rate_bucket (
    bucket     TEXT    PRIMARY KEY,
    tokens     REAL    NOT NULL,
    updated_at INTEGER NOT NULL
);
