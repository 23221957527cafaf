-- Metadata of one FATE-Flow site. Column names follow FATE's t_* tables without
-- the f_ prefix. Times are milliseconds since the epoch; JSON is stored as text.
-- PostgreSQL form of ../0001_init.sql: integers (flags too) are BIGINT.

CREATE TABLE job (
    job_id                         TEXT          NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    is_initiator                   BIGINT        NOT NULL DEFAULT 0,
    initiator_role                 TEXT          NOT NULL,
    initiator_party_id             BIGINT        NOT NULL,
    user_id                        TEXT          NOT NULL DEFAULT '',
    name                           TEXT          NOT NULL DEFAULT '',
    description                    TEXT          NOT NULL DEFAULT '',
    tag                            TEXT          NOT NULL DEFAULT '',
    dsl                            TEXT          NOT NULL,
    runtime_conf                   TEXT          NOT NULL,
    runtime_conf_on_party          TEXT          NOT NULL,
    train_runtime_conf             TEXT          NOT NULL DEFAULT '{}',
    roles                          TEXT          NOT NULL,
    status                         TEXT          NOT NULL,
    status_code                    BIGINT,
    progress                       BIGINT        NOT NULL DEFAULT 0,
    ready_signal                   BIGINT        NOT NULL DEFAULT 0,
    ready_time                     BIGINT,
    cancel_signal                  BIGINT        NOT NULL DEFAULT 0,
    cancel_time                    BIGINT,
    rerun_signal                   BIGINT        NOT NULL DEFAULT 0,
    cores                          BIGINT        NOT NULL DEFAULT 0,
    memory                         BIGINT        NOT NULL DEFAULT 0,
    remaining_cores                BIGINT        NOT NULL DEFAULT 0,
    remaining_memory               BIGINT        NOT NULL DEFAULT 0,
    resource_in_use                BIGINT        NOT NULL DEFAULT 0,
    apply_resource_time            BIGINT,
    return_resource_time           BIGINT,
    model_id                       TEXT          NOT NULL DEFAULT '',
    model_version                  TEXT          NOT NULL DEFAULT '',
    error_report                   TEXT,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    start_time                     BIGINT,
    end_time                       BIGINT,
    elapsed                        BIGINT,
    PRIMARY KEY (job_id, role, party_id)
);
CREATE INDEX job_status ON job (status, is_initiator);
CREATE INDEX job_create_time ON job (create_time);

CREATE TABLE task (
    job_id                         TEXT          NOT NULL,
    task_id                        TEXT          NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    component_name                 TEXT          NOT NULL,
    component_module               TEXT          NOT NULL,
    initiator_role                 TEXT          NOT NULL,
    initiator_party_id             BIGINT        NOT NULL,
    federated_mode                 TEXT          NOT NULL DEFAULT 'SINGLE',
    federated_status_collect_type  TEXT          NOT NULL DEFAULT 'PUSH',
    status                         TEXT          NOT NULL,
    party_status                   TEXT          NOT NULL,
    status_code                    BIGINT,
    auto_retries                   BIGINT        NOT NULL DEFAULT 0,
    auto_retry_delay               BIGINT        NOT NULL DEFAULT 1,
    run_on_this_party              BIGINT        NOT NULL DEFAULT 1,
    worker_id                      TEXT,
    cmd                            TEXT,
    run_ip                         TEXT,
    run_port                       BIGINT,
    run_pid                        BIGINT,
    provider_info                  TEXT          NOT NULL DEFAULT '{}',
    component_parameters           TEXT          NOT NULL DEFAULT '{}',
    engine_conf                    TEXT          NOT NULL DEFAULT '{}',
    kill_status                    BIGINT        NOT NULL DEFAULT 0,
    error_report                   TEXT,
    heartbeat_time                 BIGINT,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    start_time                     BIGINT,
    end_time                       BIGINT,
    elapsed                        BIGINT,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
);
CREATE INDEX task_party_status ON task (party_status);

CREATE TABLE storage_table_meta (
    namespace                      TEXT          NOT NULL,
    name                           TEXT          NOT NULL,
    address                        TEXT          NOT NULL DEFAULT '{}',
    engine                         TEXT          NOT NULL DEFAULT 'STANDALONE',
    store_type                     TEXT          NOT NULL DEFAULT 'PARQUET',
    partitions                     BIGINT        NOT NULL DEFAULT 1,
    id_delimiter                   TEXT          NOT NULL DEFAULT ',',
    have_head                      BIGINT        NOT NULL DEFAULT 1,
    extend_sid                     BIGINT        NOT NULL DEFAULT 0,
    schema_json                    TEXT          NOT NULL DEFAULT '{}',
    count                          BIGINT        NOT NULL DEFAULT 0,
    part_of_data                   TEXT          NOT NULL DEFAULT '[]',
    origin                         TEXT          NOT NULL DEFAULT 'upload',
    disable                        BIGINT        NOT NULL DEFAULT 0,
    description                    TEXT          NOT NULL DEFAULT '',
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE tracking_metric (
    id                             BIGINT        GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    job_id                         TEXT          NOT NULL,
    component_name                 TEXT          NOT NULL,
    task_id                        TEXT          NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    metric_namespace               TEXT          NOT NULL,
    metric_name                    TEXT          NOT NULL,
    data                           TEXT          NOT NULL,
    meta                           TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL
);
CREATE INDEX tracking_metric_task ON tracking_metric (job_id, component_name, role, party_id);

CREATE TABLE tracking_output_data_info (
    job_id                         TEXT          NOT NULL,
    component_name                 TEXT          NOT NULL,
    task_id                        TEXT          NOT NULL,
    task_version                   BIGINT        NOT NULL,
    data_name                      TEXT          NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    table_namespace                TEXT          NOT NULL,
    table_name                     TEXT          NOT NULL,
    description                    TEXT          NOT NULL DEFAULT '',
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, data_name, role, party_id)
);

CREATE TABLE component_summary (
    job_id                         TEXT          NOT NULL,
    component_name                 TEXT          NOT NULL,
    task_id                        TEXT          NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    summary                        TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
);

CREATE TABLE component_model (
    job_id                         TEXT          NOT NULL,
    component_name                 TEXT          NOT NULL,
    task_id                        TEXT          NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    model_alias                    TEXT          NOT NULL,
    module                         TEXT          NOT NULL,
    model                          TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id, model_alias)
);

CREATE TABLE engine_registry (
    engine_name                    TEXT          NOT NULL PRIMARY KEY,
    cores                          BIGINT        NOT NULL,
    memory                         BIGINT        NOT NULL,
    remaining_cores                BIGINT        NOT NULL,
    remaining_memory               BIGINT        NOT NULL,
    nodes                          BIGINT        NOT NULL DEFAULT 1,
    update_time                    BIGINT        NOT NULL
);
