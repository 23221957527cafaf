-- Several servers per site: the scheduler lease with its fencing epoch, and the
-- registry of running server instances. Times are the database's clock, in ms.
CREATE TABLE scheduler_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE server_instance (
    instance_id TEXT PRIMARY KEY,
    slot INTEGER NOT NULL UNIQUE,
    host TEXT NOT NULL,
    address TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
