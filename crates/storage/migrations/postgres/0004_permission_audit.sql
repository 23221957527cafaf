-- Permission grants per source party (FATE's casbin policy, as rows) and the
-- append-only, hash-chained audit log of what partners asked of this site.

CREATE TABLE permission_grant (
    src_party_id                   BIGINT        NOT NULL,
    -- 'component' (name: a lowercase canonical module or '*') or 'dataset'
    -- (namespace and name, or '*' and '*').
    kind                           TEXT          NOT NULL CHECK (kind IN ('component', 'dataset')),
    namespace                      TEXT          NOT NULL DEFAULT '',
    name                           TEXT          NOT NULL,
    granted_at                     BIGINT        NOT NULL,
    PRIMARY KEY (src_party_id, kind, namespace, name)
);

CREATE TABLE audit_log (
    seq                            BIGINT        PRIMARY KEY,
    time                           BIGINT        NOT NULL,
    -- 'received' (a partner's command), 'sent' (ours to a partner), 'operator'
    -- (a permission change made at this site).
    direction                      TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    role                           TEXT          NOT NULL DEFAULT '',
    local_party_id                 BIGINT        NOT NULL DEFAULT 0,
    fingerprint                    TEXT          NOT NULL DEFAULT '',
    command                        TEXT          NOT NULL,
    job_id                         TEXT          NOT NULL DEFAULT '',
    datasets                       TEXT          NOT NULL DEFAULT '',
    decision                       TEXT          NOT NULL,
    detail                         TEXT          NOT NULL DEFAULT '',
    body_sha256                    TEXT          NOT NULL DEFAULT '',
    prev_hash                      TEXT          NOT NULL,
    hash                           TEXT          NOT NULL
);
CREATE INDEX audit_log_job ON audit_log (job_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- One row that every append locks (SELECT ... FOR UPDATE) before it reads the last
-- entry, so appends from several servers are serialised and never fork the chain.
CREATE TABLE audit_chain_lock (id BIGINT PRIMARY KEY);
INSERT INTO audit_chain_lock (id) VALUES (1);
