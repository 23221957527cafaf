-- Metadata of one FATE-Flow site. Column names follow FATE's t_* tables without
-- the f_ prefix. Times are milliseconds since the epoch; JSON is stored as text.
-- MySQL/MariaDB form of ../0001_init.sql: integers (flags too) are BIGINT, keys
-- VARCHAR, other text has no default (every insert sets it), and comparisons are
-- binary (utf8mb4_bin) as they are on SQLite.

CREATE TABLE job (
    job_id                         VARCHAR(128)  NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    is_initiator                   BIGINT        NOT NULL DEFAULT 0,
    initiator_role                 VARCHAR(16)   NOT NULL,
    initiator_party_id             BIGINT        NOT NULL,
    user_id                        TEXT          NOT NULL,
    name                           TEXT          NOT NULL,
    description                    TEXT          NOT NULL,
    tag                            TEXT          NOT NULL,
    dsl                            LONGTEXT      NOT NULL,
    runtime_conf                   LONGTEXT      NOT NULL,
    runtime_conf_on_party          LONGTEXT      NOT NULL,
    train_runtime_conf             LONGTEXT      NOT NULL,
    roles                          LONGTEXT      NOT NULL,
    status                         VARCHAR(16)   NOT NULL,
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
    model_id                       VARCHAR(255)  NOT NULL DEFAULT '',
    model_version                  VARCHAR(128)  NOT NULL DEFAULT '',
    error_report                   LONGTEXT,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    start_time                     BIGINT,
    end_time                       BIGINT,
    elapsed                        BIGINT,
    PRIMARY KEY (job_id, role, party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX job_status ON job (status, is_initiator);
CREATE INDEX job_create_time ON job (create_time);

CREATE TABLE task (
    job_id                         VARCHAR(128)  NOT NULL,
    task_id                        VARCHAR(300)  NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    component_name                 VARCHAR(128)  NOT NULL,
    component_module               TEXT          NOT NULL,
    initiator_role                 VARCHAR(16)   NOT NULL,
    initiator_party_id             BIGINT        NOT NULL,
    federated_mode                 TEXT          NOT NULL,
    federated_status_collect_type  TEXT          NOT NULL,
    status                         VARCHAR(16)   NOT NULL,
    party_status                   VARCHAR(16)   NOT NULL,
    status_code                    BIGINT,
    auto_retries                   BIGINT        NOT NULL DEFAULT 0,
    auto_retry_delay               BIGINT        NOT NULL DEFAULT 1,
    run_on_this_party              BIGINT        NOT NULL DEFAULT 1,
    worker_id                      TEXT,
    cmd                            LONGTEXT,
    run_ip                         TEXT,
    run_port                       BIGINT,
    run_pid                        BIGINT,
    provider_info                  LONGTEXT      NOT NULL,
    component_parameters           LONGTEXT      NOT NULL,
    engine_conf                    LONGTEXT      NOT NULL,
    kill_status                    BIGINT        NOT NULL DEFAULT 0,
    error_report                   LONGTEXT,
    heartbeat_time                 BIGINT,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    start_time                     BIGINT,
    end_time                       BIGINT,
    elapsed                        BIGINT,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX task_party_status ON task (party_status);

CREATE TABLE storage_table_meta (
    namespace                      VARCHAR(128)  NOT NULL,
    name                           VARCHAR(128)  NOT NULL,
    address                        LONGTEXT      NOT NULL,
    engine                         TEXT          NOT NULL,
    store_type                     TEXT          NOT NULL,
    partitions                     BIGINT        NOT NULL DEFAULT 1,
    id_delimiter                   TEXT          NOT NULL,
    have_head                      BIGINT        NOT NULL DEFAULT 1,
    extend_sid                     BIGINT        NOT NULL DEFAULT 0,
    schema_json                    LONGTEXT      NOT NULL,
    count                          BIGINT        NOT NULL DEFAULT 0,
    part_of_data                   LONGTEXT      NOT NULL,
    origin                         TEXT          NOT NULL,
    disable                        BIGINT        NOT NULL DEFAULT 0,
    description                    TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    PRIMARY KEY (namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE tracking_metric (
    id                             BIGINT        AUTO_INCREMENT PRIMARY KEY,
    job_id                         VARCHAR(128)  NOT NULL,
    component_name                 VARCHAR(128)  NOT NULL,
    task_id                        VARCHAR(300)  NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    metric_namespace               TEXT          NOT NULL,
    metric_name                    TEXT          NOT NULL,
    data                           LONGTEXT      NOT NULL,
    meta                           LONGTEXT      NOT NULL,
    create_time                    BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX tracking_metric_task ON tracking_metric (job_id, component_name, role, party_id);

CREATE TABLE tracking_output_data_info (
    job_id                         VARCHAR(128)  NOT NULL,
    component_name                 VARCHAR(128)  NOT NULL,
    task_id                        VARCHAR(300)  NOT NULL,
    task_version                   BIGINT        NOT NULL,
    data_name                      VARCHAR(128)  NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    table_namespace                TEXT          NOT NULL,
    table_name                     TEXT          NOT NULL,
    description                    TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, data_name, role, party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE component_summary (
    job_id                         VARCHAR(128)  NOT NULL,
    component_name                 VARCHAR(128)  NOT NULL,
    task_id                        VARCHAR(300)  NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    summary                        LONGTEXT      NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE component_model (
    job_id                         VARCHAR(128)  NOT NULL,
    component_name                 VARCHAR(128)  NOT NULL,
    task_id                        VARCHAR(300)  NOT NULL,
    task_version                   BIGINT        NOT NULL,
    role                           VARCHAR(16)   NOT NULL,
    party_id                       BIGINT        NOT NULL,
    model_alias                    VARCHAR(128)  NOT NULL,
    module                         TEXT          NOT NULL,
    model                          LONGTEXT      NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (job_id, task_id, task_version, role, party_id, model_alias)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE engine_registry (
    engine_name                    VARCHAR(64)   NOT NULL PRIMARY KEY,
    cores                          BIGINT        NOT NULL,
    memory                         BIGINT        NOT NULL,
    remaining_cores                BIGINT        NOT NULL,
    remaining_memory               BIGINT        NOT NULL,
    nodes                          BIGINT        NOT NULL DEFAULT 1,
    update_time                    BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
