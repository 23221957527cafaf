-- Metadata of one FATE-Flow site. Column names follow FATE's t_* tables without
-- the f_ prefix. Times are milliseconds since the epoch; JSON is stored as text.

CREATE TABLE job (
    job_id                 TEXT    NOT NULL,
    role                   TEXT    NOT NULL,
    party_id               INTEGER NOT NULL,
    is_initiator           INTEGER NOT NULL DEFAULT 0,
    initiator_role         TEXT    NOT NULL,
    initiator_party_id     INTEGER NOT NULL,
    user_id                TEXT    NOT NULL DEFAULT '',
    name                   TEXT    NOT NULL DEFAULT '',
    description            TEXT    NOT NULL DEFAULT '',
    tag                    TEXT    NOT NULL DEFAULT '',
    dsl                    TEXT    NOT NULL,
    runtime_conf           TEXT    NOT NULL,
    runtime_conf_on_party  TEXT    NOT NULL,
    train_runtime_conf     TEXT    NOT NULL DEFAULT '{}',
    roles                  TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    status_code            INTEGER,
    progress               INTEGER NOT NULL DEFAULT 0,
    ready_signal           INTEGER NOT NULL DEFAULT 0,
    ready_time             INTEGER,
    cancel_signal          INTEGER NOT NULL DEFAULT 0,
    cancel_time            INTEGER,
    rerun_signal           INTEGER NOT NULL DEFAULT 0,
    cores                  INTEGER NOT NULL DEFAULT 0,
    memory                 INTEGER NOT NULL DEFAULT 0,
    remaining_cores        INTEGER NOT NULL DEFAULT 0,
    remaining_memory       INTEGER NOT NULL DEFAULT 0,
    resource_in_use        INTEGER NOT NULL DEFAULT 0,
    apply_resource_time    INTEGER,
    return_resource_time   INTEGER,
    model_id               TEXT    NOT NULL DEFAULT '',
    model_version          TEXT    NOT NULL DEFAULT '',
    error_report           TEXT,
    create_time            INTEGER NOT NULL,
    update_time            INTEGER NOT NULL,
    start_time             INTEGER,
    end_time               INTEGER,
    elapsed                INTEGER,
    PRIMARY KEY (job_id, role, party_id)
);
CREATE INDEX job_status ON job (status, is_initiator);
CREATE INDEX job_create_time ON job (create_time);

CREATE TABLE task (
    job_id                         TEXT    NOT NULL,
    task_id                        TEXT    NOT NULL,
    task_version                   INTEGER NOT NULL,
    role                           TEXT    NOT NULL,
    party_id                       INTEGER NOT NULL,
    component_name                 TEXT    NOT NULL,
    component_module               TEXT    NOT NULL,
    initiator_role                 TEXT    NOT NULL,
    initiator_party_id             INTEGER NOT NULL,
    federated_mode                 TEXT    NOT NULL DEFAULT 'SINGLE',
    federated_status_collect_type  TEXT    NOT NULL DEFAULT 'PUSH',
    status                         TEXT    NOT NULL,
    party_status                   TEXT    NOT NULL,
    status_code                    INTEGER,
    auto_retries                   INTEGER NOT NULL DEFAULT 0,
    auto_retry_delay               INTEGER NOT NULL DEFAULT 1,
    run_on_this_party              INTEGER NOT NULL DEFAULT 1,
    worker_id                      TEXT,
    cmd                            TEXT,
    run_ip                         TEXT,
    run_port                       INTEGER,
    run_pid                        INTEGER,
    provider_info                  TEXT    NOT NULL DEFAULT '{}',
    component_parameters           TEXT    NOT NULL DEFAULT '{}',
    engine_conf                    TEXT    NOT NULL DEFAULT '{}',
    kill_status                    INTEGER NOT NULL DEFAULT 0,
    error_report                   TEXT,
    heartbeat_time                 INTEGER,
    create_time                    INTEGER NOT NULL,
    update_time                    INTEGER NOT NULL,
    start_time                     INTEGER,
    end_time                       INTEGER,
    elapsed                        INTEGER,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
);
CREATE INDEX task_party_status ON task (party_status);

CREATE TABLE storage_table_meta (
    namespace          TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    address            TEXT    NOT NULL DEFAULT '{}',
    engine             TEXT    NOT NULL DEFAULT 'STANDALONE',
    store_type         TEXT    NOT NULL DEFAULT 'PARQUET',
    partitions         INTEGER NOT NULL DEFAULT 1,
    id_delimiter       TEXT    NOT NULL DEFAULT ',',
    have_head          INTEGER NOT NULL DEFAULT 1,
    extend_sid         INTEGER NOT NULL DEFAULT 0,
    schema_json        TEXT    NOT NULL DEFAULT '{}',
    count              INTEGER NOT NULL DEFAULT 0,
    part_of_data       TEXT    NOT NULL DEFAULT '[]',
    origin             TEXT    NOT NULL DEFAULT 'upload',
    disable            INTEGER NOT NULL DEFAULT 0,
    description        TEXT    NOT NULL DEFAULT '',
    create_time        INTEGER NOT NULL,
    update_time        INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE tracking_metric (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id             TEXT    NOT NULL,
    component_name     TEXT    NOT NULL,
    task_id            TEXT    NOT NULL,
    task_version       INTEGER NOT NULL,
    role               TEXT    NOT NULL,
    party_id           INTEGER NOT NULL,
    metric_namespace   TEXT    NOT NULL,
    metric_name        TEXT    NOT NULL,
    data               TEXT    NOT NULL,
    meta               TEXT    NOT NULL,
    create_time        INTEGER NOT NULL
);
CREATE INDEX tracking_metric_task ON tracking_metric (job_id, component_name, role, party_id);

CREATE TABLE tracking_output_data_info (
    job_id             TEXT    NOT NULL,
    component_name     TEXT    NOT NULL,
    task_id            TEXT    NOT NULL,
    task_version       INTEGER NOT NULL,
    data_name          TEXT    NOT NULL,
    role               TEXT    NOT NULL,
    party_id           INTEGER NOT NULL,
    table_namespace    TEXT    NOT NULL,
    table_name         TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    create_time        INTEGER NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, data_name, role, party_id)
);

CREATE TABLE component_summary (
    job_id             TEXT    NOT NULL,
    component_name     TEXT    NOT NULL,
    task_id            TEXT    NOT NULL,
    task_version       INTEGER NOT NULL,
    role               TEXT    NOT NULL,
    party_id           INTEGER NOT NULL,
    summary            TEXT    NOT NULL,
    create_time        INTEGER NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
);

CREATE TABLE component_model (
    job_id             TEXT    NOT NULL,
    component_name     TEXT    NOT NULL,
    task_id            TEXT    NOT NULL,
    task_version       INTEGER NOT NULL,
    role               TEXT    NOT NULL,
    party_id           INTEGER NOT NULL,
    model_alias        TEXT    NOT NULL,
    module             TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    create_time        INTEGER NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id, model_alias)
);

CREATE TABLE engine_registry (
    engine_name        TEXT    NOT NULL PRIMARY KEY,
    cores              INTEGER NOT NULL,
    memory             INTEGER NOT NULL,
    remaining_cores    INTEGER NOT NULL,
    remaining_memory   INTEGER NOT NULL,
    nodes              INTEGER NOT NULL DEFAULT 1,
    update_time        INTEGER NOT NULL
);
