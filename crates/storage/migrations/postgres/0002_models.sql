-- Pipeline models (FATE's t_machine_learning_model_info and t_pipeline_component_meta).
-- One model_info row per party per model version: a training job's model (parent = 1)
-- or a deployed child of it (parent = 0). The component models are copied into
-- pipeline_component rows, so a deployed model never changes when its training job
-- is rerun.

CREATE TABLE model_info (
    model_id                       TEXT          NOT NULL,
    model_version                  TEXT          NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    job_id                         TEXT          NOT NULL,
    roles                          TEXT          NOT NULL,
    initiator_role                 TEXT          NOT NULL,
    initiator_party_id             BIGINT        NOT NULL,
    train_dsl                      TEXT          NOT NULL,
    train_runtime_conf             TEXT          NOT NULL,
    runtime_conf_on_party          TEXT          NOT NULL,
    inference_dsl                  TEXT          NOT NULL,
    fate_version                   TEXT          NOT NULL,
    parent                         BIGINT        NOT NULL,
    parent_info                    TEXT          NOT NULL DEFAULT '{}',
    loaded_times                   BIGINT        NOT NULL DEFAULT 0,
    imported                       BIGINT        NOT NULL DEFAULT 0,
    size                           BIGINT        NOT NULL DEFAULT 0,
    description                    TEXT          NOT NULL DEFAULT '',
    archive_sha256                 TEXT,
    archive_from_ip                TEXT,
    create_time                    BIGINT        NOT NULL,
    update_time                    BIGINT        NOT NULL,
    PRIMARY KEY (role, party_id, model_id, model_version)
);
CREATE INDEX model_info_version ON model_info (model_version);

CREATE TABLE pipeline_component (
    model_id                       TEXT          NOT NULL,
    model_version                  TEXT          NOT NULL,
    role                           TEXT          NOT NULL,
    party_id                       BIGINT        NOT NULL,
    component_name                 TEXT          NOT NULL,
    model_alias                    TEXT          NOT NULL,
    component_module               TEXT          NOT NULL,
    model                          TEXT          NOT NULL,
    create_time                    BIGINT        NOT NULL,
    PRIMARY KEY (model_id, model_version, role, party_id, component_name, model_alias)
);
