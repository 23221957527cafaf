//! What a party does with the initiator's commands: create, resources, start, stop,
//! task versions and starts (the task spec), the end of a job row and of a copy.

use super::*;

impl PartyController {
    pub(super) async fn create_job(
        &self,
        job_id: &str,
        party: Party,
        dsl: Value,
        runtime_conf: Value,
        train_runtime_conf: Option<Value>,
    ) -> CmdResult {
        let job = self
            .parsed
            .get(job_id, &dsl, &runtime_conf)
            .map_err(|e| Refusal::new(103, e.to_string()))?;
        let predict = job.conf.common_job_parameters.job_type == fateflow_domain::JobType::Predict;
        // A predict job's model must be deployed here; components whose models this
        // party does not hold (an arbiter's) have nothing to predict with and pass.
        let mut idle = Vec::new();
        if predict {
            let (Some(model_id), Some(model_version)) = (
                job.conf.common_job_parameters.model_id.clone(),
                job.conf.common_job_parameters.model_version.clone(),
            ) else {
                return Err(Refusal::new(
                    103,
                    "a predict job needs job_parameters.common.model_id and model_version",
                ));
            };
            idle = self
                .predict_model_check(party, &job, &model_id, &model_version)
                .await?;
        }
        let params = job.conf.job_parameters_for(party);
        let (need_cores, need_memory) = job_resource_need(party.role, &params);
        let limit_cores =
            (self.config.cores as f64 * self.config.max_cores_percent_per_job).floor() as i64;
        if need_cores > limit_cores {
            return Err(Refusal::new(
                103,
                format!(
                    "the job can never fit at {party}: it needs {need_cores} cores (task_cores {} * task_parallelism {}), \
                     and max cores per job is {limit_cores} base on (cores {} * max_cores_percent_per_job {}); \
                     lower task_cores or raise the site's cores",
                    params.task_cores, params.task_parallelism, self.config.cores, self.config.max_cores_percent_per_job
                ),
            ));
        }
        if need_memory > self.config.memory {
            return Err(Refusal::new(
                103,
                format!(
                    "the job can never fit at {party}: it needs {need_memory} MB of memory, and max memory per job is {} MB",
                    self.config.memory
                ),
            ));
        }
        let now = now_ms();
        let mut record = JobRecord::new(
            job_id,
            party.role,
            party.party_id,
            job.conf.initiator,
            dsl,
            runtime_conf.clone(),
            json!({"job_parameters": params, "role": party.role, "party_id": party.party_id}),
            json!(job.conf.roles),
            now,
        );
        if predict {
            record.model_id = job
                .conf
                .common_job_parameters
                .model_id
                .clone()
                .unwrap_or_default();
            record.model_version = job
                .conf
                .common_job_parameters
                .model_version
                .clone()
                .unwrap_or_default();
        } else {
            let parties: Vec<Party> = job.parties();
            record.model_id = fateflow_domain::ids::model_id(&parties);
            record.model_version = job_id.to_string();
        }
        record.train_runtime_conf = train_runtime_conf.unwrap_or(runtime_conf);
        match self.store.insert_job(&record).await {
            Ok(()) => {}
            Err(fateflow_storage::Error::AlreadyExists(_)) => return Ok(json!({"created": false})),
            Err(e) => return Err(e.into()),
        }
        let dir = self
            .config
            .job_dir(job_id)
            .map_err(|e| Refusal::new(101, format!("job_id: {e}")))?;
        if let Err(e) = write_job_files(&dir, &record) {
            tracing::warn!(job_id, error = %e, "could not write job files");
        }
        let mut components = serde_json::Map::new();
        for plan in job.plan() {
            for pt in plan.parties.iter().filter(|p| p.party == party) {
                let mut pt = pt.clone();
                if idle.contains(&plan.component) {
                    pt.need_run = false;
                }
                let pt = &pt;
                let task = new_task(
                    job_id,
                    &plan.component,
                    &plan.module,
                    0,
                    party,
                    &job,
                    pt,
                    params.auto_retries,
                    now,
                );
                match self.store.insert_task(&task).await {
                    Ok(()) | Err(fateflow_storage::Error::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                components.insert(plan.component.clone(), json!({"need_run": pt.need_run}));
            }
        }
        Ok(json!({"components": components}))
    }

    pub(super) async fn apply_resource(&self, job_id: &str, party: Party) -> CmdResult {
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
            .ok_or_else(|| Refusal::new(102, format!("job {job_id} not found at {party}")))?;
        let params = job_params_of(&job);
        let (need_cores, need_memory) = job_resource_need(party.role, &params);
        let engine = SiteConfig::engine_name(party.party_id);
        if job.resource_in_use {
            return Ok(json!({"applied": true}));
        }
        // Resources are the party's, counted once per job: a role row of a party that
        // already holds the job's share (guest and host[1] at one party) takes only
        // what its own need adds, usually nothing.
        let _guard = self.resources.lock().await;
        let (held_cores, held_memory) = self.held_by_other_roles(job_id, party).await?;
        let cores = (need_cores - held_cores).max(0);
        let memory = (need_memory - held_memory).max(0);
        if self
            .store
            .apply_job_resource(
                &engine,
                job_id,
                party.role,
                party.party_id,
                cores,
                memory,
                now_ms(),
            )
            .await?
        {
            Ok(json!({"applied": true}))
        } else {
            let left = self
                .store
                .get_engine(&engine)
                .await?
                .map(|e| e.remaining_cores)
                .unwrap_or(0);
            Err(Refusal::new(
                103,
                format!("not enough resources at {party}: need {cores} cores, {left} free"),
            ))
        }
    }

    /// Cores and memory the job's other role rows at this party hold.
    async fn held_by_other_roles(&self, job_id: &str, party: Party) -> Result<(i64, i64), Refusal> {
        let (rows, _) = self
            .store
            .query_jobs(&JobFilter {
                job_id: Some(job_id.into()),
                party_id: Some(party.party_id),
                ..Default::default()
            })
            .await?;
        Ok(rows
            .iter()
            .filter(|j| j.role != party.role && j.resource_in_use)
            .fold((0, 0), |(c, m), j| (c + j.cores, m + j.memory)))
    }

    /// Whether a job row holds no share of its own because another role row of the
    /// same party holds the job's cores for both (its tasks run on that share).
    fn shares_another_roles_cores(job: &JobRecord, task_cores: i64) -> bool {
        job.resource_in_use && task_cores > 0 && job.cores == 0
    }

    pub(super) async fn sync_job_status(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: Option<String>,
    ) -> CmdResult {
        let now = now_ms();
        let changed = if status.is_end() {
            self.end_job_row(job_id, party, status, reason, now).await?
        } else {
            self.store
                .update_job_status(job_id, party.role, party.party_id, status, now)
                .await?
        };
        Ok(json!({"changed": changed}))
    }

    /// Moves a job row to its final status with its end time, elapsed time, progress
    /// and reason in the same update, so nobody reads an ended job without them; the
    /// job's resources come back. Returns whether the row changed.
    pub(super) async fn end_job_row(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: Option<String>,
        now: i64,
    ) -> Result<bool, Refusal> {
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?;
        let update = end_update(job.as_ref(), status, reason, now);
        let changed = self
            .store
            .update_job_status_with(job_id, party.role, party.party_id, status, &update, now)
            .await?;
        if changed {
            self.return_job_resource(job_id, party, now).await?;
        }
        Ok(changed)
    }

    pub(super) async fn return_job_resource(
        &self,
        job_id: &str,
        party: Party,
        now: i64,
    ) -> Result<(), Refusal> {
        let _guard = self.resources.lock().await;
        self.store
            .return_job_resource(
                &SiteConfig::engine_name(party.party_id),
                job_id,
                party.role,
                party.party_id,
                now,
            )
            .await?;
        Ok(())
    }

    pub(super) async fn create_task_version(
        &self,
        job_id: &str,
        party: Party,
        component: &str,
        version: i64,
        auto_retries: i64,
    ) -> CmdResult {
        let (tasks, _) = self
            .store
            .query_tasks(&TaskFilter {
                job_id: Some(job_id.into()),
                component_name: Some(component.into()),
                role: Some(party.role),
                party_id: Some(party.party_id),
                latest_only: true,
                ..Default::default()
            })
            .await?;
        let Some(prev) = tasks.into_iter().next() else {
            return Err(Refusal::new(
                101,
                format!("no task of {component} at {party}"),
            ));
        };
        if prev.task_version >= version {
            return Ok(json!({"created": false}));
        }
        let now = now_ms();
        let task = TaskRecord {
            task_version: version,
            status: Status::Waiting,
            party_status: Status::Waiting,
            status_code: None,
            auto_retries,
            worker_id: None,
            cmd: None,
            run_ip: None,
            run_port: None,
            run_pid: None,
            kill_status: false,
            error_report: None,
            error_kind: None,
            heartbeat_time: None,
            create_time: now,
            update_time: now,
            start_time: None,
            end_time: None,
            elapsed: None,
            ..prev
        };
        match self.store.insert_task(&task).await {
            Ok(()) | Err(fateflow_storage::Error::AlreadyExists(_)) => Ok(json!({"created": true})),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn start_task(
        &self,
        job_id: &str,
        party: Party,
        component: &str,
        version: i64,
    ) -> CmdResult {
        let key = task_key(job_id, component, version, party);
        let task = self.store.get_task(&key).await?.ok_or_else(|| {
            Refusal::new(
                101,
                format!("task {} v{version} not found at {party}", key.task_id),
            )
        })?;
        if task.party_status != Status::Waiting {
            return Ok(json!({"started": false, "party_status": task.party_status}));
        }
        // Of several servers, only the scheduler lease's holder runs tasks: its
        // successor knows to retry them if it dies.
        if !self.leading() {
            return Err(Refusal::new(
                500,
                "this server of the site does not hold the scheduler lease, so it starts no task; the holder does (GET /v1/cluster/status)",
            ));
        }
        // A copy that ended (reconciled, timed out) launches nothing, whoever asks.
        self.refuse_start_of_ended(job_id, party).await?;
        let need_run = task
            .component_parameters
            .get("need_run")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let now = now_ms();
        if !need_run {
            self.store
                .update_task_party_status(&key, Status::Pass, now)
                .await?;
            self.store
                .update_task(
                    &key,
                    &TaskUpdate {
                        start_time: Some(now),
                        end_time: Some(now),
                        elapsed: Some(0),
                        ..Default::default()
                    },
                    now,
                )
                .await?;
            self.notify_initiator(job_id);
            return Ok(json!({"started": false, "party_status": "pass"}));
        }
        let job = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
            .ok_or_else(|| Refusal::new(102, format!("job {job_id} not found at {party}")))?;
        let params = job_params_of(&job);
        let (task_cores, task_memory) = task_resource_need(party.role, &params);
        if !Self::shares_another_roles_cores(&job, task_cores)
            && !self
                .store
                .apply_task_resource(job_id, party.role, party.party_id, task_cores, task_memory)
                .await?
        {
            self.beyond_share
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(job_id, component, %party, "task started beyond the job's resource share");
        }
        let mut spec = match self.task_spec(&job, &task, &params).await {
            Ok(spec) => spec,
            Err(e) => {
                // A spec the job's own DSL and conf cannot make is the user's to fix
                // (no retry); a store or damaged job is ours.
                let message = e.to_string();
                self.fail_task_as(&key, &message, Some(e.kind())).await?;
                return Ok(json!({"started": false, "party_status": "failed", "error": message}));
            }
        };
        spec.token = match TaskToken::generate() {
            Ok(t) => t,
            Err(e) => {
                let message = format!("could not start the task process: {e}");
                self.fail_task_as(&key, &message, Some(ErrorKind::Internal))
                    .await?;
                return Ok(json!({"started": false, "party_status": "failed", "error": message}));
            }
        };
        // The token acts from before the process starts, so its first report is taken.
        lock(&self.live).insert(
            key.clone(),
            LiveTask {
                component: task.component_name.clone(),
                token: Some(spec.token.clone()),
                handle: None,
                running_seen: None,
            },
        );
        // Running first, so a fast task's own reports find the row in `running`. A
        // refusal here is the fence: this server lost the lease meanwhile.
        if !self
            .store
            .update_task_party_status(&key, Status::Running, now)
            .await?
        {
            lock(&self.live).remove(&key);
            return Ok(json!({"started": false, "party_status": "unchanged"}));
        }
        self.store
            .update_task(
                &key,
                &TaskUpdate {
                    start_time: Some(now),
                    heartbeat_time: Some(now),
                    ..Default::default()
                },
                now,
            )
            .await?;
        match self.launcher.launch(&spec).await {
            Ok(launched) => {
                // Unless the process already exited (and its entry went with it).
                if let Some(live) = lock(&self.live).get_mut(&key) {
                    live.handle = Some(launched.handle(&key.task_id));
                }
                let update = TaskUpdate {
                    run_pid: launched.pid,
                    cmd: Some(launched.cmd),
                    worker_id: Some(launched.worker_id),
                    // A local process runs on this machine; a pod has no fixed address.
                    run_ip: launched.pid.map(|_| "127.0.0.1".into()),
                    ..Default::default()
                };
                self.store.update_task(&key, &update, now_ms()).await?;
                Ok(json!({"started": true, "pid": launched.pid}))
            }
            Err(e) => {
                lock(&self.live).remove(&key);
                // No binary, no fork: this site's trouble, retried.
                let message = format!("could not start the task process: {e}");
                self.fail_task_as(&key, &message, Some(ErrorKind::Internal))
                    .await?;
                Ok(json!({"started": false, "party_status": "failed", "error": message}))
            }
        }
    }

    pub(super) async fn task_spec(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        params: &fateflow_domain::JobParameters,
    ) -> Result<TaskSpec, Error> {
        let parsed = self
            .parsed
            .get(&job.job_id, &job.dsl, &job.runtime_conf)
            .map_err(|e| {
                Error::Corrupt(format!("stored job {} no longer parses: {e}", job.job_id))
            })?;
        let spec = parsed.dsl.component(&task.component_name).ok_or_else(|| {
            Error::Corrupt(format!("component {} not in the DSL", task.component_name))
        })?;
        let party = Party {
            role: task.role,
            party_id: task.party_id,
        };
        let index = parsed.conf.index_of(party).unwrap_or(0);
        let plan = parsed.plan();
        let args = plan
            .iter()
            .find(|p| p.component == task.component_name)
            .and_then(|p| p.parties.iter().find(|pt| pt.party == party))
            .map(|pt| pt.args_tables.clone())
            .unwrap_or_default();
        let mut data_inputs: BTreeMap<String, Vec<TableRefSpec>> = BTreeMap::new();
        for (key, refs) in &spec.input.data {
            let mut tables = Vec::new();
            for r in refs {
                // An upstream that does not run here (`need_run: false`) passes its
                // `data` input on as its output, as FATE's `pass_data` does.
                let mut r = r;
                while let DataRef::Output(o) = r {
                    let passed = plan.iter().any(|p| {
                        p.component == o.component
                            && p.parties.iter().any(|pt| pt.party == party && !pt.need_run)
                    });
                    let through = passed
                        .then(|| parsed.dsl.component(&o.component))
                        .flatten()
                        .and_then(|c| c.input.data.iter().find(|(k, _)| k == "data"))
                        .and_then(|(_, refs)| refs.first());
                    match through {
                        Some(next) => r = next,
                        None => break,
                    }
                }
                match r {
                    DataRef::Output(o) => {
                        // An upstream that does not run at this party (an arbiter's
                        // intersection) gives it no data, as in FATE.
                        let runs_here = plan.iter().any(|p| {
                            p.component == o.component
                                && p.parties.iter().any(|pt| pt.party == party && pt.need_run)
                        });
                        if !runs_here {
                            continue;
                        }
                        let outputs = self
                            .store
                            .query_output_data(&job.job_id, &o.component, task.role, task.party_id)
                            .await?;
                        // An upstream that wrote no data here at all (an arbiter's
                        // HeteroLR) gives none; one that wrote others but not this
                        // name is an error.
                        if outputs.is_empty() {
                            continue;
                        }
                        let found = outputs.iter().find(|d| d.data_name == o.name).ok_or_else(|| {
                            Error::Invalid(format!("input `{r}` of {}: component {} left no output `{}` at {party}", task.component_name, o.component, o.name))
                        })?;
                        tables.push(TableRefSpec {
                            namespace: found.table_namespace.clone(),
                            name: found.table_name.clone(),
                        });
                    }
                    DataRef::Args(a) => {
                        let t = args.get(a).ok_or_else(|| {
                            Error::Invalid(format!(
                                "no table given for args.{a} at {party} (party index {index})"
                            ))
                        })?;
                        let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
                        let namespace = t
                            .get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        tables.push(TableRefSpec {
                            namespace: namespace.into(),
                            name: name.into(),
                        });
                    }
                    DataRef::Pipeline(_) => {
                        return Err(Error::Invalid(format!(
                        "input `{r}` of {}: `pipeline.*` names a model; it belongs in input.model",
                        task.component_name
                    )))
                    }
                }
            }
            if !tables.is_empty() {
                data_inputs.insert(key.clone(), tables);
            }
        }
        // `input.cache`: an upstream's cache output, which it recorded like output
        // data under the cache's name; the component reads it as the data input `cache`.
        let mut caches = Vec::new();
        for r in &spec.input.cache {
            let DataRef::Output(o) = r else {
                return Err(Error::Invalid(format!(
                    "input.cache `{r}` of {}: a cache input names `<component>.<cache>`",
                    task.component_name
                )));
            };
            let outputs = self
                .store
                .query_output_data(&job.job_id, &o.component, task.role, task.party_id)
                .await?;
            let found = outputs
                .iter()
                .find(|d| d.data_name == o.name)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "input.cache `{r}` of {}: component {} left no cache `{}` at {party}",
                        task.component_name, o.component, o.name
                    ))
                })?;
            caches.push(TableRefSpec {
                namespace: found.table_namespace.clone(),
                name: found.table_name.clone(),
            });
        }
        if !caches.is_empty() {
            data_inputs.insert("cache".into(), caches);
        }
        let mut model_inputs = Vec::new();
        let mut isometric_model_inputs = Vec::new();
        for (list, out) in [
            (&spec.input.model, &mut model_inputs),
            (&spec.input.isometric_model, &mut isometric_model_inputs),
        ] {
            for r in list.iter() {
                let o = match r {
                    DataRef::Output(o) => o,
                    DataRef::Pipeline(o) => {
                        out.push(self.pipeline_model_input(job, task, o, r).await?);
                        continue;
                    }
                    DataRef::Args(_) => {
                        return Err(Error::Invalid(format!("model input `{r}`: a model input names a component's model, not `args`")));
                    }
                };
                let models = self
                    .store
                    .query_component_models(&job.job_id, &o.component, task.role, task.party_id)
                    .await?;
                // Some parties (a host without labels) legitimately have no model.
                if let Some(m) = models.iter().find(|m| m.model_alias == o.name) {
                    out.push(ModelSpec {
                        component: o.component.clone(),
                        alias: o.name.clone(),
                        module: m.module.clone(),
                        model: m.model.clone(),
                    });
                }
            }
        }
        let parameters = task
            .component_parameters
            .as_object()
            .cloned()
            .unwrap_or_default();
        if fateflow_domain::module::lookup(&task.component_module).map(|m| m.name)
            == Some("ModelLoader")
        {
            model_inputs.push(self.model_loader_input(task, &parameters).await?);
        }
        Ok(TaskSpec {
            job_id: job.job_id.clone(),
            component: task.component_name.clone(),
            module: task.component_module.clone(),
            task_id: task.task_id.clone(),
            task_version: task.task_version,
            role: task.role,
            party_id: task.party_id,
            parameters,
            data_inputs,
            model_inputs,
            isometric_model_inputs,
            output_data: spec.output.data.clone(),
            output_model: spec.output.model.clone(),
            output_cache: spec.output.cache.clone(),
            data_dir: self.config.data_dir.clone(),
            log_dir: self
                .config
                .task_log_dir(&job.job_id, task.role, task.party_id, &task.component_name)
                .map_err(|e| Error::Corrupt(format!("task log dir: {e}")))?,
            server: self.server.get().cloned().unwrap_or_default(),
            task_cores: params.task_cores,
            task_memory_mb: if params.task_memory > 0 {
                params.task_memory
            } else {
                self.config.task_memory_mb
            },
            computing_partitions: params.computing_partitions.unwrap_or(params.task_cores),
            roles: parsed.conf.roles.clone(),
            // A party may compute far longer than any fixed bound before it sends (one
            // HeteroLR epoch over 10M rows takes about 17 minutes on 2 cores), and a
            // party that fails or dies ends the job through the scheduler: a `get` waits
            // as long as the job may run.
            federation_timeout_s: params.timeout.max(1),
            token: TaskToken::default(),
        })
    }

    /// A predict task's `pipeline.<component>.<model>` input: this party's copy of the
    /// component model in the job's deployed model.
    pub(super) async fn pipeline_model_input(
        &self,
        job: &JobRecord,
        task: &TaskRecord,
        o: &fateflow_domain::dsl::OutputRef,
        r: &DataRef,
    ) -> Result<ModelSpec, Error> {
        let key = fateflow_storage::ModelKey {
            model_id: job.model_id.clone(),
            model_version: job.model_version.clone(),
            role: task.role,
            party_id: task.party_id,
        };
        let held = self.store.model_components(&key).await?;
        let m = held
            .into_iter()
            .find(|m| m.component_name == o.component && m.model_alias == o.name)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "model input `{r}` of {}: {key} holds no model `{}` of component {}",
                    task.component_name, o.name, o.component
                ))
            })?;
        Ok(ModelSpec {
            component: o.component.clone(),
            alias: o.name.clone(),
            module: m.module,
            model: m.model,
        })
    }

    /// A `ModelLoader` task's model: this party's copy of component `component_name`
    /// (alias `model_alias`, or its only one) in pipeline model `model_id` /
    /// `model_version`, as FATE-Flow's ModelLoader reads it.
    pub(super) async fn model_loader_input(
        &self,
        task: &TaskRecord,
        parameters: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ModelSpec, Error> {
        let text = |k: &str| -> Result<String, Error> {
            match parameters.get(k) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => Err(Error::Invalid(format!(
                    "ModelLoader `{}`: parameter `{k}` is missing or empty; give the model_id, \
                     model_version and component_name of a trained model (`flow job query` \
                     shows a job's f_model_id and f_model_version)",
                    task.component_name
                ))),
            }
        };
        let key = fateflow_storage::ModelKey {
            model_id: text("model_id")?,
            model_version: text("model_version")?,
            role: task.role,
            party_id: task.party_id,
        };
        let component = text("component_name")?;
        let alias = parameters
            .get("model_alias")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty());
        let held = self.store.model_components(&key).await?;
        if held.is_empty() {
            return Err(Error::Invalid(format!(
                "ModelLoader `{}`: no model {key} here (a training job saves its model at \
                 every party when it succeeds)",
                task.component_name
            )));
        }
        let of_component: Vec<_> = held
            .iter()
            .filter(|m| m.component_name == component)
            .collect();
        let chosen = match alias {
            Some(a) => of_component.iter().find(|m| m.model_alias == a).copied(),
            None => of_component.first().copied(),
        };
        let m = chosen.ok_or_else(|| {
            let mut names: Vec<String> = held
                .iter()
                .map(|m| format!("{}.{}", m.component_name, m.model_alias))
                .collect();
            names.sort();
            Error::Invalid(format!(
                "ModelLoader `{}`: model {key} holds no component model `{component}`{}; it \
                 holds {}",
                task.component_name,
                alias.map_or(String::new(), |a| format!(" with alias `{a}`")),
                names.join(", ")
            ))
        })?;
        Ok(ModelSpec {
            component: m.component_name.clone(),
            alias: m.model_alias.clone(),
            module: m.module.clone(),
            model: m.model.clone(),
        })
    }

    /// A task the party will not start (its initiator lost a permission grant): it
    /// fails with `message` as a user error, so the initiator learns why and does not
    /// retry it by itself. A task that is not waiting is left as it is.
    pub async fn refuse_task_start(
        &self,
        job_id: &str,
        party: Party,
        component: &str,
        task_version: i64,
        message: &str,
    ) -> Result<(), Refusal> {
        let key = task_key(job_id, component, task_version, party);
        match self.store.get_task(&key).await? {
            Some(t) if t.party_status == Status::Waiting => {
                self.fail_task_as(&key, message, Some(ErrorKind::User))
                    .await
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn fail_task(&self, key: &TaskKey, message: &str) -> Result<(), Refusal> {
        self.fail_task_as(key, message, None).await
    }

    /// Fails a task with `message` and, when known, the kind of its error (auto-retry
    /// skips a `user` error).
    pub(super) async fn fail_task_as(
        &self,
        key: &TaskKey,
        message: &str,
        kind: Option<ErrorKind>,
    ) -> Result<(), Refusal> {
        let now = now_ms();
        let task = self.store.get_task(key).await?;
        let start = task.as_ref().and_then(|t| t.start_time).unwrap_or(now);
        // The reason before the status, so no round sees a failure without its cause.
        self.store
            .update_task(
                key,
                &TaskUpdate {
                    error_report: Some(message.to_string()),
                    error_kind: kind,
                    end_time: Some(now),
                    elapsed: Some(now - start),
                    ..Default::default()
                },
                now,
            )
            .await?;
        if task
            .as_ref()
            .is_some_and(|t| t.party_status == Status::Waiting)
        {
            self.store
                .update_task_party_status(key, Status::Running, now)
                .await?;
        }
        self.store
            .update_task_party_status(key, Status::Failed, now)
            .await?;
        self.notify_initiator(&key.job_id);
        Ok(())
    }

    pub(super) async fn stop_task(&self, key: &TaskKey, status: Status, reason: &str) -> CmdResult {
        let Some(task) = self.store.get_task(key).await? else {
            return Ok(json!({"stopped": false}));
        };
        let now = now_ms();
        // Record the stop before killing: the exit watcher must find the task ended,
        // not mistake the kill for a crash.
        let error_report = (task.error_report.is_none() && !task.party_status.is_end())
            .then(|| reason.to_string());
        self.store
            .update_task(
                key,
                &TaskUpdate {
                    kill_status: Some(true),
                    error_report,
                    ..Default::default()
                },
                now,
            )
            .await?;
        let mut changed = false;
        // waiting -> canceled is not a task transition: a task that never ran stays
        // waiting and the job's status says why.
        if !task.party_status.is_end() && task.party_status != Status::Waiting {
            changed = self
                .store
                .update_task_party_status(key, status, now)
                .await?;
        }
        if changed {
            let update = TaskUpdate {
                end_time: Some(now),
                elapsed: task.start_time.map(|s| now - s),
                ..Default::default()
            };
            self.store.update_task(key, &update, now).await?;
        }
        let mut killed = false;
        if let Some(handle) = handle_of(&task) {
            if task.party_status == Status::Running {
                killed = self
                    .launcher
                    .kill(&handle)
                    .await
                    .map_err(|e| Refusal::new(100, e.to_string()))?;
            }
        }
        // The process launched for it dies too, whatever its row says.
        killed |= self.kill_launched(key).await;
        Ok(json!({"killed": killed, "changed": changed}))
    }

    pub(super) async fn stop_job(
        &self,
        job_id: &str,
        party: Party,
        status: Status,
        reason: &str,
    ) -> CmdResult {
        let tasks = latest_party_tasks(self.store.as_ref(), job_id, party).await?;
        let mut details = serde_json::Map::new();
        for t in tasks.iter().filter(|t| !t.party_status.is_end()) {
            let r = self.stop_task(&t.key(), status, reason).await?;
            details.insert(t.component_name.clone(), r);
        }
        // Every process launched for the job at this party dies, whatever its task row
        // says: a row can be ended (or forged) while its process lives on.
        let launched: Vec<TaskKey> = lock(&self.live)
            .keys()
            .filter(|k| k.job_id == job_id && k.role == party.role && k.party_id == party.party_id)
            .cloned()
            .collect();
        for k in &launched {
            if self.kill_launched(k).await {
                tracing::warn!(job_id, task_id = %k.task_id, %party, "stop killed a task process whose row was already ended");
            }
        }
        let now = now_ms();
        if !self
            .end_job_row(job_id, party, status, Some(reason.to_string()), now)
            .await?
        {
            self.return_job_resource(job_id, party, now).await?;
        }
        Ok(Value::Object(details))
    }

    pub(super) async fn return_task_resource(
        &self,
        job_id: &str,
        party: Party,
    ) -> Result<(), Refusal> {
        if let Some(job) = self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
        {
            let (c, m) = task_resource_need(party.role, &job_params_of(&job));
            if Self::shares_another_roles_cores(&job, c) {
                return Ok(());
            }
            self.store
                .return_task_resource(job_id, party.role, party.party_id, c, m)
                .await?;
        }
        Ok(())
    }
}

/// The columns a job row gets with its final status.
pub(super) fn end_update(
    job: Option<&JobRecord>,
    status: Status,
    reason: Option<String>,
    now: i64,
) -> JobUpdate {
    let start = job.map(|j| j.start_time.unwrap_or(j.create_time));
    let success = status == Status::Success;
    JobUpdate {
        end_time: Some(now),
        elapsed: start.map(|s| now - s),
        tag: Some("job_end".into()),
        error_report: if success { None } else { reason },
        progress: success.then_some(100),
        ..Default::default()
    }
}

pub(super) fn write_job_files(dir: &std::path::Path, job: &JobRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, v: &Value| {
        std::fs::write(
            dir.join(name),
            serde_json::to_vec_pretty(v).unwrap_or_default(),
        )
    };
    write("job_dsl.json", &job.dsl)?;
    write("job_runtime_conf.json", &job.runtime_conf)?;
    let party_dir = dir.join(job.role.as_str()).join(job.party_id.to_string());
    std::fs::create_dir_all(&party_dir)?;
    std::fs::write(
        party_dir.join("job_runtime_on_party_conf.json"),
        serde_json::to_vec_pretty(&job.runtime_conf_on_party).unwrap_or_default(),
    )
}

/// Copies of jobs initiated by another site (see [`crate::reconcile`]).
impl PartyController {
    /// Refuses to start a job whose copy here already ended (its resource hold timed
    /// out, or it was ended after its initiator ended or lost it).
    pub(super) async fn refuse_start_of_ended(
        &self,
        job_id: &str,
        party: Party,
    ) -> Result<(), Refusal> {
        match self
            .store
            .get_job(job_id, party.role, party.party_id)
            .await?
        {
            Some(job) if job.status.is_end() => Err(Refusal::new(
                100,
                format!(
                    "job {job_id} at {party} already ended ({}): {}",
                    job.status,
                    job.error_report.as_deref().unwrap_or("no reason recorded")
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Ends this site's copy of a job with `status`, provided its row is still as the
    /// caller read it (`seen`): a start, rerun or any other command that came in
    /// between wins. Unfinished tasks are stopped, the reason recorded and the job's
    /// resources returned. Returns whether the copy ended.
    pub async fn end_copy(
        &self,
        seen: &JobRecord,
        status: Status,
        reason: &str,
    ) -> Result<bool, Refusal> {
        let job_id = seen.job_id.as_str();
        let party = Party {
            role: seen.role,
            party_id: seen.party_id,
        };
        let now = now_ms();
        // Status, reason and end time in one update: nobody reads the ended copy
        // without them.
        let update = end_update(Some(seen), status, Some(reason.to_string()), now);
        if !self
            .store
            .update_job_status_from(seen, status, &update, now)
            .await?
        {
            return Ok(false);
        }
        let tasks = latest_party_tasks(self.store.as_ref(), job_id, party).await?;
        for t in tasks.iter().filter(|t| !t.party_status.is_end()) {
            if let Err(e) = self.stop_task(&t.key(), status, reason).await {
                tracing::warn!(job_id, task_id = %t.task_id, error = %e.message, "stopping a task of an ended copy failed");
            }
        }
        self.return_job_resource(job_id, party, now).await?;
        self.notify_initiator(job_id);
        Ok(true)
    }
}
