-- Several servers per site: the scheduler lease with its fencing epoch, and the
-- registry of running server instances. Times are the database's clock, in ms.
CREATE TABLE scheduler_lease (
    name VARCHAR(64) PRIMARY KEY,
    holder VARCHAR(128) NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE server_instance (
    instance_id VARCHAR(128) PRIMARY KEY,
    slot BIGINT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    address TEXT NOT NULL,
    pid BIGINT NOT NULL,
    version TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
