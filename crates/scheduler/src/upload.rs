//! Uploads as FATE records them: a finished one-component job (`upload_0`, module
//! `Upload`) at role `local`, with one task whose parameters are the upload conf plus
//! `upload_count`. `flow data upload-history` and `job query` read these rows.

use crate::initiator::Scheduler;
use crate::Error;
use fateflow_domain::{Party, PartyId, Role, Status};
use fateflow_storage::{JobRecord, TaskRecord};
use serde_json::{json, Map, Value};

/// The component name of an upload job.
pub const UPLOAD_COMPONENT: &str = "upload_0";

/// One upload that finished: what its job and task rows record.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadDone {
    /// The uploading party (the conf's `party_id`, 0 when absent).
    pub party_id: PartyId,
    /// The upload conf as the client sent it (`namespace`, `table_name`, `head`, ...).
    pub conf: Map<String, Value>,
    /// Rows written.
    pub count: i64,
    /// When the upload started and ended (ms since the epoch).
    pub started: i64,
    /// When it ended.
    pub ended: i64,
}

impl UploadDone {
    /// The job row: already `success`, at role `local`.
    fn job(&self, job_id: &str) -> JobRecord {
        let party_id = self.party_id;
        let party = Party {
            role: Role::Local,
            party_id,
        };
        let dsl = json!({"components": {UPLOAD_COMPONENT: {"module": "Upload", "output": {"data": ["data"]}}}});
        let runtime_conf = json!({
            "dsl_version": 2,
            "initiator": {"role": "local", "party_id": party_id},
            "role": {"local": [party_id]},
            "component_parameters": {"role": {"local": {"0": {UPLOAD_COMPONENT: self.conf}}}},
        });
        let mut job = JobRecord::new(
            job_id,
            Role::Local,
            party_id,
            party,
            dsl,
            runtime_conf,
            json!({}),
            json!({"local": [party_id]}),
            self.started,
        );
        job.status = Status::Success;
        job.progress = 100;
        job.tag = "job_end".into();
        job.start_time = Some(self.started);
        job.end_time = Some(self.ended);
        job.elapsed = Some(self.ended - self.started);
        job
    }

    /// The task row: the conf plus `upload_count` as its parameters.
    fn task(&self, job_id: &str) -> TaskRecord {
        let mut params = self.conf.clone();
        params.insert("upload_count".into(), json!(self.count));
        TaskRecord {
            job_id: job_id.into(),
            task_id: fateflow_domain::ids::task_id(job_id, UPLOAD_COMPONENT),
            task_version: 0,
            role: Role::Local,
            party_id: self.party_id,
            component_name: UPLOAD_COMPONENT.into(),
            component_module: "Upload".into(),
            initiator_role: Role::Local,
            initiator_party_id: self.party_id,
            federated_mode: "SINGLE".into(),
            federated_status_collect_type: "PUSH".into(),
            status: Status::Success,
            party_status: Status::Success,
            status_code: None,
            auto_retries: 0,
            auto_retry_delay: 1,
            run_on_this_party: true,
            worker_id: None,
            cmd: None,
            run_ip: None,
            run_port: None,
            run_pid: None,
            provider_info: json!({}),
            component_parameters: Value::Object(params),
            engine_conf: json!({}),
            kill_status: false,
            error_report: None,
            error_kind: None,
            heartbeat_time: None,
            create_time: self.started,
            update_time: self.ended,
            start_time: Some(self.started),
            end_time: Some(self.ended),
            elapsed: Some(self.ended - self.started),
            version: 0,
        }
    }
}

impl Scheduler {
    /// Records a finished upload as its job and task rows; returns the new job id.
    pub async fn record_upload(&self, up: &UploadDone) -> Result<String, Error> {
        let job_id = self.new_job_id();
        self.store.insert_job(&up.job(&job_id)).await?;
        self.store.insert_task(&up.task(&job_id)).await?;
        Ok(job_id)
    }
}
