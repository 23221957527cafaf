-- Permission grants per source party (FATE's casbin policy, as rows) and the
-- append-only, hash-chained audit log of what partners asked of this site.

CREATE TABLE permission_grant (
    src_party_id BIGINT NOT NULL,
    -- 'component' (name: a lowercase canonical module or '*') or 'dataset'
    -- (namespace and name, or '*' and '*').
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('component', 'dataset')),
    namespace VARCHAR(128) NOT NULL DEFAULT '',
    name VARCHAR(128) NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (src_party_id, kind, namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    -- 'received' (a partner's command), 'sent' (ours to a partner), 'operator'
    -- (a permission change made at this site).
    direction VARCHAR(16) NOT NULL,
    party_id BIGINT NOT NULL,
    role VARCHAR(16) NOT NULL DEFAULT '',
    local_party_id BIGINT NOT NULL DEFAULT 0,
    fingerprint TEXT NOT NULL,
    command TEXT NOT NULL,
    job_id VARCHAR(128) NOT NULL DEFAULT '',
    datasets LONGTEXT NOT NULL,
    decision VARCHAR(16) NOT NULL,
    detail LONGTEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX audit_log_job ON audit_log (job_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log is append-only';
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log is append-only';

-- One row that every append locks (SELECT ... FOR UPDATE) before it reads the last
-- entry, so appends from several servers are serialised and never fork the chain.
CREATE TABLE audit_chain_lock (id BIGINT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO audit_chain_lock (id) VALUES (1);
