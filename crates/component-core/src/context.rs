//! What a component gets from the executor: its task, inputs, tables and tracker.

use std::collections::BTreeMap;

use fateflow_domain::{PartyId, Role};
use fateflow_tables::{TableId, TableStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// A table by `(namespace, name)`, as it travels between the executor and components.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    /// The namespace.
    pub namespace: String,
    /// The table name.
    pub name: String,
}

impl TableRef {
    /// A reference to `namespace.name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        TableRef {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The validated table id of the tables crate. Names that break its naming rules
    /// are reported as an invalid `parameter`.
    pub fn to_id(&self, parameter: &str) -> Result<TableId> {
        TableId::new(&self.namespace, &self.name)
            .map_err(|e| Error::param(parameter, e.to_string()))
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

impl From<&TableId> for TableRef {
    fn from(id: &TableId) -> Self {
        TableRef::new(id.namespace(), id.name())
    }
}

/// A component's model: its parameters (fitted values) and meta (settings), each typed by
/// the component and stored as JSON, like FATE's `<Module>Param` / `<Module>Meta` pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentModel {
    /// The canonical module name that produced the model (`"DataTransform"`).
    pub module: String,
    /// Fitted values (FATE's `...Param` protobuf).
    pub param: Value,
    /// Settings the model was fitted with (FATE's `...Meta` protobuf).
    pub meta: Value,
}

impl ComponentModel {
    /// A model of `module` from its typed param and meta.
    pub fn from_parts(
        module: &str,
        param: &impl Serialize,
        meta: &impl Serialize,
    ) -> ComponentModel {
        ComponentModel {
            module: module.into(),
            param: serde_json::to_value(param).expect("the model param serializes"),
            meta: serde_json::to_value(meta).expect("the model meta serializes"),
        }
    }

    /// The typed param and meta; the error says which part does not parse.
    pub fn parts<P: serde::de::DeserializeOwned, M: serde::de::DeserializeOwned>(
        &self,
    ) -> std::result::Result<(P, M), ModelError> {
        let param =
            serde_json::from_value(self.param.clone()).map_err(|source| ModelError::Parse {
                part: "model param",
                source,
            })?;
        let meta =
            serde_json::from_value(self.meta.clone()).map_err(|source| ModelError::Parse {
                part: "model meta",
                source,
            })?;
        Ok((param, meta))
    }
}

/// Why a stored [`ComponentModel`] cannot be read. Components report it as
/// [`Error::InvalidModel`], which names the input model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A part does not deserialize into the component's type.
    #[error("the {part} does not parse: {source}")]
    Parse {
        /// The part (`model param`, `model meta`, `binning model param`).
        part: &'static str,
        /// The cause, naming the field.
        #[source]
        source: serde_json::Error,
    },
    /// A field names a column the model's header does not have.
    #[error("{field} names `{column}`, which is not in the model's header")]
    NotInHeader {
        /// The field (`final_left_cols`).
        field: &'static str,
        /// The column.
        column: String,
    },
    /// A list that must match the header one to one has another length.
    #[error("{field} has {found} names but header has {expected} columns")]
    HeaderLength {
        /// The field (`header_anonymous`).
        field: &'static str,
        /// Its length.
        found: usize,
        /// The header's length.
        expected: usize,
    },
}

/// A model input of a task: the upstream component, the model's alias and the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInput {
    /// The component that produced it (`"data_transform_0"`).
    pub component: String,
    /// The model's alias (the DSL output model name, `"model"`).
    pub alias: String,
    /// The model.
    pub model: ComponentModel,
}

/// The resolved inputs of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskInputs {
    /// Data inputs by DSL key (`data`, `train_data`, `validate_data`, ...).
    pub data: BTreeMap<String, Vec<TableRef>>,
    /// `model` inputs (predict / transform mode).
    pub model: Vec<ModelInput>,
    /// `isometric_model` inputs (warm start, stepwise).
    pub isometric_model: Vec<ModelInput>,
}

impl TaskInputs {
    /// The first table under the first of `keys` that has one.
    pub fn first_table(&self, keys: &[&str]) -> Option<&TableRef> {
        keys.iter()
            .find_map(|k| self.data.get(*k).and_then(|tables| tables.first()))
    }
}

/// A FATE metric: a named list of `(key, value)` points plus a meta object
/// (`{"metric_type": "DATA_TRANSFORM", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric namespace (`"train"`, `"reader_namespace"`).
    pub namespace: String,
    /// The metric name.
    pub name: String,
    /// The points.
    pub data: Vec<(Value, Value)>,
    /// The metric meta.
    pub meta: Value,
}

/// The executor's bookkeeping for one task. Components report through it and never
/// touch the metadata store themselves.
pub trait Tracker: Send + Sync {
    /// Records a metric.
    fn log_metric(&self, metric: Metric) -> Result<()>;
    /// Records that output `data_name` of the task is `table`.
    fn save_output_data(&self, data_name: &str, table: &TableRef) -> Result<()>;
    /// Stores the task's model under `alias`.
    fn save_model(&self, alias: &str, model: &ComponentModel) -> Result<()>;
    /// Sets the task's summary (shown by `flow tracking get-summary`).
    fn set_summary(&self, summary: Value) -> Result<()>;
    /// Reports progress in percent.
    fn progress(&self, percent: u8);
    /// A log line for the user; the executor writes it to the task log.
    fn info(&self, line: &str);
}

/// Everything a component run needs. Built by the executor for one (task, version, party).
pub struct TaskContext<'a> {
    /// The job id.
    pub job_id: String,
    /// The component's name in the DSL (`"data_transform_0"`).
    pub component: String,
    /// The canonical module name (`"DataTransform"`).
    pub module: String,
    /// The task id.
    pub task_id: String,
    /// The task version (0 for the first run, +1 per rerun).
    pub task_version: u32,
    /// This party's role.
    pub role: Role,
    /// This party's id.
    pub party_id: PartyId,
    /// The component's parameters, already merged for this party.
    pub parameters: serde_json::Map<String, Value>,
    /// The resolved inputs.
    pub inputs: TaskInputs,
    /// Output data names from the DSL, in order (`["data"]`).
    pub output_data_names: Vec<String>,
    /// Output model names from the DSL, in order (`["model"]`).
    pub output_model_names: Vec<String>,
    /// Output cache names from the DSL (`output.cache`), in order; empty for most
    /// components. A cache is written and recorded like output data under its name, and
    /// a downstream `input.cache` reaches the component as the data input `cache`.
    pub output_cache_names: Vec<String>,
    /// The party's table store.
    pub tables: &'a dyn TableStore,
    /// The executor's tracker.
    pub tracker: &'a dyn Tracker,
    /// The job's parties by role, in position order (who the hosts and arbiter are).
    pub roles: BTreeMap<Role, Vec<PartyId>>,
    /// The data plane to the other parties of this task; `None` outside a federated
    /// run (unit tests, single-party jobs).
    pub federation: Option<&'a dyn fateflow_federation::Federation>,
    /// What the task may hold in memory; components size their row blocks from it.
    pub memory: crate::memory::MemoryBudget,
}

impl std::fmt::Debug for TaskContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("job_id", &self.job_id)
            .field("component", &self.component)
            .field("module", &self.module)
            .field("task_id", &self.task_id)
            .field("task_version", &self.task_version)
            .field("role", &self.role)
            .field("party_id", &self.party_id)
            .field("parameters", &self.parameters)
            .field("inputs", &self.inputs)
            .field("output_data_names", &self.output_data_names)
            .field("output_model_names", &self.output_model_names)
            .field("tables", &self.tables)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl TaskContext<'_> {
    /// Where output `data_name` of this task is stored: namespace
    /// `output_data_<task_id>_<task_version>` (FATE's), name
    /// `<data_name>_<role>_<party_id>`, so that parties sharing one table store
    /// (a standalone site) never overwrite each other's outputs.
    pub fn output_table(&self, data_name: &str) -> TableRef {
        TableRef::new(
            format!("output_data_{}_{}", self.task_id, self.task_version),
            format!("{data_name}_{}_{}", self.role, self.party_id),
        )
    }

    /// The data plane, or an error naming this component when there is none.
    pub fn federation(&self) -> Result<&dyn fateflow_federation::Federation> {
        self.federation.ok_or_else(|| Error::MissingInput {
            component: self.module.clone(),
            what: "the data plane to the other parties".into(),
        })
    }

    /// The parties of `role`, in position order.
    pub fn parties_of(&self, role: Role) -> Vec<fateflow_domain::Party> {
        self.roles
            .get(&role)
            .map(|ids| {
                ids.iter()
                    .map(|&party_id| fateflow_domain::Party { role, party_id })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first output data name, or `default` when the DSL declares none.
    pub fn first_output_data_name<'s>(&'s self, default: &'s str) -> &'s str {
        self.output_data_names
            .first()
            .map(String::as_str)
            .unwrap_or(default)
    }

    /// The first output model name, or `default` when the DSL declares none.
    pub fn first_output_model_name<'s>(&'s self, default: &'s str) -> &'s str {
        self.output_model_names
            .first()
            .map(String::as_str)
            .unwrap_or(default)
    }

    /// The model inputs produced by `module` (after resolving aliases such as `DataIO`).
    pub fn models_of(&self, module: &str) -> impl Iterator<Item = &ModelInput> + '_ {
        let canonical = canonical_module(module).to_owned();
        self.inputs
            .model
            .iter()
            .filter(move |m| canonical_module(&m.model.module) == canonical)
    }

    /// Records a metric.
    pub fn log_metric(&self, metric: Metric) -> Result<()> {
        self.tracker.log_metric(metric)
    }
}

/// FATE's canonical name of `module`, resolving aliases (`DataIO` → `DataTransform`).
/// Unknown names are returned unchanged.
pub fn canonical_module(module: &str) -> &str {
    fateflow_domain::module::lookup(module).map_or(module, |m| m.name)
}

/// A FATE component. Components are synchronous: they run inside a task process.
pub trait Component: Send + Sync {
    /// Runs the task. Outputs are written to the context's table store and recorded
    /// through its tracker. Not called when the component's `need_run` is false.
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_resolve_aliases() {
        assert_eq!(canonical_module("DataIO"), "DataTransform");
        assert_eq!(canonical_module("DataTransform"), "DataTransform");
        assert_eq!(canonical_module("Nope"), "Nope");
    }

    #[test]
    fn table_ref_validates_names() {
        assert!(TableRef::new("ns", "t").to_id("table").is_ok());
        let e = TableRef::new("ns", "../t").to_id("table").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid parameter `table`"),
            "{e}"
        );
    }

    #[test]
    fn first_table_follows_key_order() {
        let mut inputs = TaskInputs::default();
        inputs
            .data
            .insert("train_data".into(), vec![TableRef::new("a", "b")]);
        assert_eq!(
            inputs.first_table(&["data", "train_data"]),
            Some(&TableRef::new("a", "b"))
        );
        assert_eq!(inputs.first_table(&["data"]), None);
    }
}
