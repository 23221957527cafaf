//! Test helpers: a [`Tracker`] that records every call, and a context builder.
//!
//! Used by this crate's tests and reusable by the executor's.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use fateflow_domain::Role;
use fateflow_tables::TableStore;
use serde_json::Value;

use crate::context::{ComponentModel, Metric, TableRef, TaskContext, TaskInputs, Tracker};
use crate::error::Result;

/// One call made on a [`RecordingTracker`].
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// [`Tracker::log_metric`].
    Metric(Metric),
    /// [`Tracker::save_output_data`].
    OutputData {
        /// The data name.
        data_name: String,
        /// The table.
        table: TableRef,
    },
    /// [`Tracker::save_model`].
    Model {
        /// The alias.
        alias: String,
        /// The model.
        model: ComponentModel,
    },
    /// [`Tracker::set_summary`].
    Summary(Value),
    /// [`Tracker::progress`].
    Progress(u8),
    /// [`Tracker::info`].
    Info(String),
}

/// A [`Tracker`] that records every call in order and never fails.
#[derive(Debug, Default)]
pub struct RecordingTracker {
    calls: Mutex<Vec<Call>>,
}

impl RecordingTracker {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        // A panicking test thread must not hide the calls from the others.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, call: Call) {
        self.lock().push(call);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
    }

    /// The metrics logged, in order.
    pub fn metrics(&self) -> Vec<Metric> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Metric(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// The metric `namespace`/`name`, if logged.
    pub fn metric(&self, namespace: &str, name: &str) -> Option<Metric> {
        self.metrics()
            .into_iter()
            .find(|m| m.namespace == namespace && m.name == name)
    }

    /// The output data recorded, as `(data name, table)`.
    pub fn output_data(&self) -> Vec<(String, TableRef)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::OutputData { data_name, table } => Some((data_name, table)),
                _ => None,
            })
            .collect()
    }

    /// The models saved, as `(alias, model)`.
    pub fn models(&self) -> Vec<(String, ComponentModel)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Model { alias, model } => Some((alias, model)),
                _ => None,
            })
            .collect()
    }

    /// The last summary set.
    pub fn summary(&self) -> Option<Value> {
        self.calls().into_iter().rev().find_map(|c| match c {
            Call::Summary(s) => Some(s),
            _ => None,
        })
    }

    /// The progress values reported, in order.
    pub fn progress_values(&self) -> Vec<u8> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Progress(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The info lines, in order.
    pub fn info_lines(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Info(l) => Some(l),
                _ => None,
            })
            .collect()
    }
}

impl Tracker for RecordingTracker {
    fn log_metric(&self, metric: Metric) -> Result<()> {
        self.push(Call::Metric(metric));
        Ok(())
    }

    fn save_output_data(&self, data_name: &str, table: &TableRef) -> Result<()> {
        self.push(Call::OutputData {
            data_name: data_name.to_owned(),
            table: table.clone(),
        });
        Ok(())
    }

    fn save_model(&self, alias: &str, model: &ComponentModel) -> Result<()> {
        self.push(Call::Model {
            alias: alias.to_owned(),
            model: model.clone(),
        });
        Ok(())
    }

    fn set_summary(&self, summary: Value) -> Result<()> {
        self.push(Call::Summary(summary));
        Ok(())
    }

    fn progress(&self, percent: u8) {
        self.push(Call::Progress(percent));
    }

    fn info(&self, line: &str) {
        self.push(Call::Info(line.to_owned()));
    }
}

/// A [`TaskContext`] for tests: job `test_job`, task `<component>_task`, version 0,
/// guest 9999, output data `["data"]` and output model `["model"]`. Adjust the public
/// fields as needed.
pub fn context<'a>(
    component: &str,
    module: &str,
    parameters: Value,
    tables: &'a dyn TableStore,
    tracker: &'a dyn Tracker,
) -> TaskContext<'a> {
    let parameters = match parameters {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => panic!("parameters must be a JSON object, got {other}"),
    };
    TaskContext {
        job_id: "test_job".into(),
        component: component.into(),
        module: module.into(),
        task_id: format!("test_job_{component}"),
        task_version: 0,
        role: Role::Guest,
        party_id: 9999,
        parameters,
        inputs: TaskInputs::default(),
        output_data_names: vec!["data".into()],
        output_model_names: vec!["model".into()],
        tables,
        tracker,
        roles: BTreeMap::from([(Role::Guest, vec![9999])]),
        federation: None,
    }
}
