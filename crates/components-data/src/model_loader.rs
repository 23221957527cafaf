//! `ModelLoader` (FATE-Flow's): a component model of an earlier job's pipeline model,
//! offered to this job as this component's model output.
//!
//! Parameters as FATE-Flow 1.11's `ModelLoaderParam`: `model_id`, `model_version`,
//! `component_name` (required), `model_alias` (default: the component's only model),
//! `step_index` / `step_name` (checkpoints; refused: this build keeps no checkpoints),
//! `need_run`. The site resolves the model when it builds the task (each party reads
//! its own copy of the pipeline model) and hands it over as the task's model input; the
//! task saves it under its own output model name, keeping the module, so a downstream
//! `HeteroFeatureSelection` reads a loaded `HeteroFeatureBinning` model as its own.
//! Metric meta `model_loader/<component>-<alias>` (`COMPONENT_MODEL_INFO`) as FATE-Flow.

use fateflow_domain::module::Kind::{Bool, Int, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};
use serde_json::json;

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;

/// The module name.
pub const MODULE: &str = "ModelLoader";

const MODEL_LOADER_PARAMS: &[Param] = &[
    param("model_id", Str, "null", true),
    param("model_version", Str, "null", true),
    param("component_name", Str, "null", true),
    param("model_alias", Str, "null", true),
    param("step_index", Int, "null", false),
    param("step_name", Str, "null", false),
    param("need_run", Bool, "true", true),
];

/// `ModelLoader`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[MODEL_LOADER_PARAMS],
    conditions: &[],
    supported: &[],
};

/// FATE-Flow's `ModelLoader` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelLoader;

impl Component for ModelLoader {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let p = Params::with_schema(&ctx.parameters, &SCHEMA);
        let model_id = p.opt_str("model_id")?.unwrap_or_default();
        let model_version = p.opt_str("model_version")?.unwrap_or_default();
        let component_name = p.opt_str("component_name")?.unwrap_or_default();
        let loaded = ctx.inputs.model.first().ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: format!(
                "the model of component `{component_name}` in model {model_id} version {model_version} (the site resolves it when it starts the task)"
            ),
        })?;
        let alias = ctx.first_output_model_name("model");
        ctx.tracker.info(&format!(
            "model_loader: {} model `{}.{}` of {model_id} version {model_version} -> output model `{alias}`",
            loaded.model.module, loaded.component, loaded.alias
        ));
        ctx.tracker.log_metric(Metric {
            namespace: "model_loader".into(),
            name: format!("{}-{}", loaded.component, loaded.alias),
            data: Vec::new(),
            meta: json!({
                "metric_type": "COMPONENT_MODEL_INFO",
                "name": "component_model",
                "model_id": model_id,
                "model_version": model_version,
                "component_name": loaded.component,
                "model_alias": loaded.alias,
            }),
        })?;
        ctx.tracker.save_model(alias, &loaded.model)
    }
}
