//! Warm start, as FATE 1.11.4: a HeteroLR / HeteroLinR with both a model input and
//! `train_data` continues training from that model. Every party loads its own model:
//! the weights (the guest's intercept with them) and `iters`, from which the epoch
//! counter continues up to this component's `max_iter`, so the learning-rate decay
//! goes on where it stopped. As in FATE, the optimizer's state, the loss history and
//! `is_converged` start afresh, and the guest's `fit_intercept` is the model's.
//!
//! The arbiter has no data inputs, so it cannot tell a warm start from predict mode:
//! the guest tells it (and the hosts, which check their own model against it) with
//! one message before anything else. What is refused: a model of another module,
//! one-vs-rest (a one-vs-rest model, or a label with more than two classes),
//! cross-validation, and training data whose features are not the model's.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::module_of;
use super::{ovr_classes, Dataset, LinearModelParam, LinearParam, Task, Warm};
use crate::context::{Metric, ModelInput, TaskContext};
use crate::error::{Error, Result};

/// The variable (and tag) of the guest's word on what its model input is for.
pub(super) const MODEL_INPUT_USE: &str = "model_input_use";

/// What the guest does with its model input, sent to the hosts (warm start only) and
/// the arbiter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum ModelInputUse {
    /// Predict mode (no `train_data`).
    Predict,
    /// Warm start from epoch `start`.
    Warm { start: usize },
    /// The guest refused the warm start, for `reason`.
    Refused { reason: String },
}

/// The refusal for a model input that is not of this component's module.
pub(super) fn other_module_model(ctx: &TaskContext<'_>, task: Task) -> Error {
    let given: Vec<String> = ctx
        .inputs
        .model
        .iter()
        .map(|m| format!("{}.{} (a {} model)", m.component, m.alias, m.model.module))
        .collect();
    Error::param(
        "input.model",
        format!(
            "{} ({}): the model input {} is not a {} model; a {} continues (warm start) \
             or predicts only from a model of its own module",
            ctx.component,
            module_of(ctx, task),
            given.join(", "),
            module_of(ctx, task),
            module_of(ctx, task)
        ),
    )
}

fn refuse(ctx: &TaskContext<'_>, task: Task, field: &str, reason: String) -> Error {
    Error::param(
        field,
        format!(
            "{} ({}): warm start refused: {reason}",
            ctx.component,
            module_of(ctx, task)
        ),
    )
}

/// This party's model input, parsed.
fn own_model<'c>(
    ctx: &'c TaskContext<'_>,
    task: Task,
) -> Result<(&'c ModelInput, LinearModelParam)> {
    let input = ctx
        .models_of(module_of(ctx, task))
        .next()
        .ok_or_else(|| other_module_model(ctx, task))?;
    let model: LinearModelParam =
        serde_json::from_value(input.model.param.clone()).map_err(|e| Error::InvalidModel {
            component: input.component.clone(),
            alias: input.alias.clone(),
            module: input.model.module.clone(),
            reason: format!("not a {} model: {e}", module_of(ctx, task)),
        })?;
    if model.need_one_vs_rest {
        return Err(refuse(
            ctx,
            task,
            "input.model",
            format!(
                "{}.{} is a one-vs-rest model; continuing one-vs-rest training is not \
                 supported (train it from scratch)",
                input.component, input.alias
            ),
        ));
    }
    Ok((input, model))
}

/// The model's weights in the order of `header`, the training data's features; refused
/// unless the two have the same features.
fn weights_for(
    ctx: &TaskContext<'_>,
    task: Task,
    input: &ModelInput,
    model: &LinearModelParam,
    train: &Dataset,
) -> Result<Vec<f64>> {
    let ours: BTreeSet<&str> = train.header.iter().map(String::as_str).collect();
    let theirs: BTreeSet<&str> = model.header.iter().map(String::as_str).collect();
    let missing: Vec<&str> = theirs.difference(&ours).copied().collect();
    let extra: Vec<&str> = ours.difference(&theirs).copied().collect();
    if !missing.is_empty() || !extra.is_empty() || ours.len() != train.header.len() {
        let list = |v: &[&str]| {
            let shown: Vec<&str> = v.iter().take(5).copied().collect();
            let more = v.len().saturating_sub(shown.len());
            let mut s = shown.join(", ");
            if more > 0 {
                s.push_str(&format!(" and {more} more"));
            }
            if s.is_empty() {
                s.push_str("none");
            }
            s
        };
        return Err(refuse(
            ctx,
            task,
            "input.model",
            format!(
                "the features of train_data ({}, {} columns) are not those of the model \
                 {}.{} ({} columns): missing from train_data: {}; not in the model: {}",
                train.table,
                train.header.len(),
                input.component,
                input.alias,
                model.header.len(),
                list(&missing),
                list(&extra)
            ),
        ));
    }
    train
        .header
        .iter()
        .map(|h| {
            model
                .weight
                .get(h)
                .copied()
                .ok_or_else(|| Error::InvalidModel {
                    component: input.component.clone(),
                    alias: input.alias.clone(),
                    module: input.model.module.clone(),
                    reason: format!("feature `{h}` is in the header but has no weight"),
                })
        })
        .collect()
}

fn common_checks(ctx: &TaskContext<'_>, task: Task, param: &LinearParam) -> Result<()> {
    if param.cv.is_some() {
        return Err(refuse(
            ctx,
            task,
            "cv_param.need_cv",
            "cross-validation with a model input is not supported".into(),
        ));
    }
    Ok(())
}

/// The guest's warm start: the loaded weights (intercept last when the model fitted
/// one) and the model's `fit_intercept`, which FATE keeps over the parameter.
pub(super) fn guest_warm(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    train: &Dataset,
) -> Result<(Warm, bool)> {
    common_checks(ctx, task, param)?;
    let (input, model) = own_model(ctx, task)?;
    if task == Task::Logistic {
        if let Some(classes) = ovr_classes(train)? {
            return Err(refuse(
                ctx,
                task,
                "train_data",
                format!(
                    "the label of {} has {} classes (one-vs-rest); continuing one-vs-rest \
                     training is not supported",
                    train.table,
                    classes.len()
                ),
            ));
        }
    }
    let mut weights = weights_for(ctx, task, input, &model, train)?;
    let fit_intercept = input
        .model
        .meta
        .get("fit_intercept")
        .and_then(Value::as_bool)
        .unwrap_or(param.fit_intercept);
    if fit_intercept != param.fit_intercept {
        ctx.tracker.info(&format!(
            "warm start: fit_intercept {fit_intercept} from the model input (the \
             parameter says {}), as FATE loads it from the model",
            param.fit_intercept
        ));
    }
    if fit_intercept {
        weights.push(model.intercept);
    }
    Ok((
        Warm {
            start: model.iters,
            weights,
        },
        fit_intercept,
    ))
}

/// A host's warm start from its own model, which must be at the guest's epoch.
pub(super) fn host_warm(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    train: &Dataset,
    start: usize,
) -> Result<Warm> {
    common_checks(ctx, task, param)?;
    let (input, model) = own_model(ctx, task)?;
    same_start(ctx, task, input, &model, start)?;
    Ok(Warm {
        start,
        weights: weights_for(ctx, task, input, &model, train)?,
    })
}

/// The arbiter's warm start: no weights; its own model, when it has one, must be at
/// the guest's epoch.
pub(super) fn arbiter_warm(ctx: &TaskContext<'_>, task: Task, start: usize) -> Result<Warm> {
    if ctx.models_of(module_of(ctx, task)).next().is_some() {
        let (input, model) = own_model(ctx, task)?;
        same_start(ctx, task, input, &model, start)?;
    }
    Ok(Warm {
        start,
        weights: Vec::new(),
    })
}

fn same_start(
    ctx: &TaskContext<'_>,
    task: Task,
    input: &ModelInput,
    model: &LinearModelParam,
    start: usize,
) -> Result<()> {
    if model.iters != start {
        return Err(refuse(
            ctx,
            task,
            "input.model",
            format!(
                "this party's model {}.{} ran {} epochs but the guest's ran {start}: the \
                 model inputs are not of one training",
                input.component, input.alias, model.iters
            ),
        ));
    }
    Ok(())
}

/// FATE's `callback_warm_start_init_iter`: the `train/init_iter` metric.
pub(super) fn log_init_iter(ctx: &TaskContext<'_>, start: usize) -> Result<()> {
    ctx.log_metric(Metric {
        namespace: "train".into(),
        name: "init_iter".into(),
        data: vec![("init_iter".into(), start.into())],
        meta: json!({"metric_type": "init_iter", "unit_name": "iters"}),
    })
}
