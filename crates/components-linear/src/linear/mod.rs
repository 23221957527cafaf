//! `HeteroLR` and `HeteroLinR`: vertical logistic and linear regression on Paillier
//! encryption, with or without an arbiter (spec §6). See [`train`] for the protocol.
//!
//! # Inputs and outputs
//!
//! - Fit: `train_data` (or `data`) at guest and hosts, optional `validate_data` (scored
//!   into the output after the train rows; a validate row whose id is already a train
//!   row is dropped, as FATE's `union` keeps the first). The arbiter has no data.
//! - Predict: a model input from this module, and `test_data` (or `data`).
//! - Warm start: a model input from this module and `train_data` (FATE's rule; the
//!   arbiter, which has no data, learns which from the guest): training continues from
//!   the model's weights and `iters` up to `max_iter` ([`warm`]).
//! - Guest output data: one row per sample in the [`predict_output`](crate::predict_output)
//!   layout (`label`, `predict_result`, `predict_score`, `type`, then the
//!   `predict_detail.<key>` columns: LR `0`, `1`; LinR `label`; one-vs-rest one per
//!   class). Hosts and the arbiter output no data (as in FATE).
//! - Model at every party: `param` = `{iters, loss_history, is_converged, header,
//!   weight: {feature: w}, intercept, best_iteration, need_one_vs_rest}` (the guest's
//!   intercept; 0 at hosts), `meta` = the training settings.
//!
//! # One-vs-rest (HeteroLR, FATE's `multi_class: "ovr"`, its only value)
//!
//! When the guest's training label has more than two distinct values, HeteroLR trains
//! one binary model per class, in ascending class order, as FATE's `HeteroOneVsRest`:
//! the guest sends the number of classes to the hosts and the arbiter (always, 2 for a
//! binary label), and model `i` relabels the train and validate data `1` for class `i`,
//! `0` otherwise, and runs the whole binary protocol (own key, optimizer state, seeded
//! init and batches, validation and early stopping with metric names
//! `model_<i>.iteration_<epoch>`; no `train/loss` metric, as FATE). Labels must be
//! integers (FATE's `int()` of the classes), at most 1000 classes. Scoring asks the
//! hosts once per model; a row's `predict_result` is the class of the highest sigmoid
//! score (the first on a tie), `predict_score` that score (not normalised), and
//! `predict_detail.<class>` each class's score. The model has `need_one_vs_rest: true`,
//! empty top-level weights and `one_vs_rest_result: {completed_models: [SingleModel],
//! one_vs_rest_classes}` (hosts and arbiter: classes `"0"`..`"k-1"`); the summary maps
//! each class to its model's summary with `one_vs_rest: true`. In cross-validation each
//! fold trains one-vs-rest on its own classes and logs `cv/accuracy`.
//! - Metrics: `train/loss` per epoch (guest and arbiter), `cv/<metric>` per fold, and
//!   per validation round the single-value metrics of the train and validate data
//!   (namespace `train`/`validate`, name `iteration_<epoch>`, one point per metric).
//!
//! # Callbacks (FATE 1.11's `callback_param`)
//!
//! `EarlyStopping` or `PerformanceEvaluate` run FATE's validation strategy: after each
//! epoch `validation_freqs` names, the guest scores the train data and the validate data
//! with the hosts and records `metrics` (FATE's defaults: auc, ks or rmse, mae). With
//! `early_stopping_rounds`, FATE's performance recorder watches those of the validate
//! data (of the train data without validate rows), or only the first with
//! `use_first_metric_only`; training stops once a metric has not improved for that many
//! validations, and every party keeps the model of that metric's best epoch (without a
//! stop, of the first metric's), whose epoch becomes `iters` and `best_iteration`.
//! The deprecated top-level keys act as `callback_param` with `PerformanceEvaluate`.
//! `ModelCheckpoint` is accepted at FATE's default `save_freq` (1) and said so in the
//! task log: no per-epoch checkpoint is kept (deploying one is refused by the server),
//! the final model is FATE's; another `save_freq` is refused.
//!
//! `cv_param.need_cv`: k-fold cross-validation instead of one fit, no model. The output
//! (`history_value_type: score`, FATE's default) holds each sample's prediction from the
//! fold that left it out (type `validate`; FATE lists every fold's train and validate
//! predictions under ids `<id>#fold<n>#<type>`); with `instance` every fold's train and
//! validate rows themselves under those ids, at guest and hosts, as FATE; with
//! `output_fold_history: false` the input data, as FATE.
//!
//! # Batches and optimizers
//!
//! `batch_size` below the row count cuts the data into batches (`batch_strategy: full`,
//! shuffled once with `shuffle`, the same every epoch) or draws one random batch per
//! epoch (`random`, as FATE's `RandomBatchDataGenerator`). FATE's batch masking
//! (`masked_rate`, which hides the batch's ids among others from the hosts without
//! changing the result) is not implemented: the hosts learn each batch's ids.
//! `optimizer: sqn` runs FATE's stochastic quasi-Newton (`sqn_param`) and needs an
//! arbiter; see [`train`].

pub(crate) mod dataset;
pub(crate) mod init;
pub(crate) mod optimizer;
pub(crate) mod param;
pub(crate) mod predict;
mod sshe;
mod stepwise;
pub(crate) mod train;
mod warm;

use std::collections::BTreeMap;
use std::sync::Arc;

use fateflow_crypto::paillier::{Ciphertext, Keypair, PrivateKey, PublicKey};

use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use fateflow_tables::Frame;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::{Component, ComponentModel, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::evaluation::metrics;
use crate::predict_output::{
    self, class_key, DataType, PredictRow, PredictWriter, BINARY_DETAIL_KEYS, REGRESSION_DETAIL_KEY,
};
use crate::rng::SplitMix;

use dataset::Dataset;
use param::LinearParam;
pub use param::Task;
use predict::{guest_scores, host_scores, sigmoid, HostWeights};
use train::{fit_arbiter, fit_guest, fit_host, FitResult, Roles, Run, Warm};
use warm::{
    arbiter_warm, guest_warm, host_warm, log_init_iter, other_module_model, ModelInputUse,
    MODEL_INPUT_USE,
};

/// FATE's `HeteroLR`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroLR;

/// FATE's `HeteroLinR`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroLinR;

impl Component for HeteroLR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run(ctx, Task::Logistic)
    }
}

impl Component for HeteroLinR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run(ctx, Task::Linear)
    }
}

/// FATE's `HeteroPoisson`: Poisson regression with a log link, the guest's optional
/// exposure column as an offset (`log(exposure)`), an arbiter and one host.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroPoisson;

impl Component for HeteroPoisson {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run(ctx, Task::Poisson)
    }
}

/// FATE's `HeteroSSHELR`: logistic regression between the guest and one host on
/// secret shares, without an arbiter (see [`sshe`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroSSHELR;

impl Component for HeteroSSHELR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run_module(ctx, Task::Logistic, true)
    }
}

/// FATE's `HeteroSSHELinR`: linear regression between the guest and one host on
/// secret shares, without an arbiter.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroSSHELinR;

impl Component for HeteroSSHELinR {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        run_module(ctx, Task::Linear, true)
    }
}

/// The fitted model, FATE's `LRModelParam` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModelParam {
    /// Epochs run (0 for a one-vs-rest model: see its sub-models).
    pub iters: usize,
    /// Loss per epoch (empty at hosts with several hosts, and for one-vs-rest).
    pub loss_history: Vec<f64>,
    /// Whether the stop criterion was met.
    pub is_converged: bool,
    /// Feature names, in weight order.
    pub header: Vec<String>,
    /// Weight per feature (empty for one-vs-rest).
    pub weight: BTreeMap<String, f64>,
    /// The intercept (guest; 0 elsewhere and for one-vs-rest).
    pub intercept: f64,
    /// The epoch of the best validation score, with early stopping.
    pub best_iteration: Option<usize>,
    /// HeteroLR trained one model per class (the guest's label had more than two
    /// classes): they are in `one_vs_rest_result`.
    pub need_one_vs_rest: bool,
    /// FATE's `one_vs_rest_result`, with `need_one_vs_rest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_vs_rest_result: Option<OneVsRestResult>,
    /// SSHE `encrypted_reveal_in_host`, at the host: its weights under the guest's key
    /// (`weight` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_weight: Option<BTreeMap<String, EncryptedWeight>>,
    /// SSHE `encrypted_reveal_in_host`, at the guest: the site-local table that keeps
    /// the key the host's scores come under (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_key_table: Option<String>,
}

/// One host weight under the guest's Paillier key: the ring value (`fraction_bits`
/// fraction bits, two's complement mod 2^128, possibly plus 2^128) as a ciphertext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptedWeight {
    /// The ciphertext, decimal.
    pub cipher_text: String,
    /// The guest's public key.
    pub public_key: EncryptedWeightKey,
    /// Fraction bits of the plaintext.
    pub fraction_bits: u32,
}

/// FATE's `CipherPublicKey`: the modulus, decimal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptedWeightKey {
    /// `n`.
    pub n: String,
}

/// FATE's `OneVsRestResult`: one binary model per class, class `c` against the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneVsRestResult {
    /// One model per class, in the order of `one_vs_rest_classes`.
    pub completed_models: Vec<SingleModel>,
    /// The classes as strings: the guest's label values (FATE's `str(label)`); at hosts
    /// and the arbiter, which never see labels, `"0"` to `"k-1"`.
    pub one_vs_rest_classes: Vec<String>,
}

/// FATE's `SingleModel`: one binary model of a one-vs-rest model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleModel {
    /// Epochs run.
    pub iters: usize,
    /// Loss per epoch.
    pub loss_history: Vec<f64>,
    /// Whether the stop criterion was met.
    pub is_converged: bool,
    /// Weight per feature.
    pub weight: BTreeMap<String, f64>,
    /// The intercept (guest; 0 elsewhere).
    pub intercept: f64,
    /// Feature names, in weight order.
    pub header: Vec<String>,
    /// The epoch of the best validation score, with early stopping.
    pub best_iteration: Option<usize>,
    /// As [`LinearModelParam::encrypted_weight`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_weight: Option<BTreeMap<String, EncryptedWeight>>,
    /// As [`LinearModelParam::guest_key_table`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_key_table: Option<String>,
}

/// FATE's `consts.MAX_CLASSNUM`: a classification label with more classes is refused.
const MAX_CLASSES: usize = 1000;

fn run(ctx: &TaskContext<'_>, task: Task) -> Result<()> {
    run_module(ctx, task, false)
}

/// The module this task runs: `task`'s, or its SSHE variant.
pub(crate) fn module_of(ctx: &TaskContext<'_>, task: Task) -> &'static str {
    match (ctx.module.as_str(), task) {
        ("HeteroSSHELR", Task::Logistic) => "HeteroSSHELR",
        ("HeteroSSHELinR", Task::Linear) => "HeteroSSHELinR",
        _ => task.module(),
    }
}

fn run_module(ctx: &TaskContext<'_>, task: Task, sshe: bool) -> Result<()> {
    let mut param = LinearParam::parse_for(task, sshe, &ctx.parameters)?;
    let roles = Roles::of(ctx, task)?;
    if param.callbacks.checkpoint {
        ctx.tracker.info(
            "callback ModelCheckpoint: per-epoch checkpoints are not kept by this server \
             (deploying a checkpoint is refused); the final model is saved as usual",
        );
    }
    // FATE: a model input with `train_data` is a warm start, without it predict mode.
    let training = ctx.inputs.data.contains_key("train_data");
    if !ctx.inputs.model.is_empty() {
        match ctx.role {
            // The arbiter has no data inputs: the guest tells it which of the two.
            Role::Arbiter => {
                let from_guest: ModelInputUse =
                    ctx.federation()?
                        .get(MODEL_INPUT_USE, MODEL_INPUT_USE, roles.guest)?;
                return match from_guest {
                    ModelInputUse::Predict => {
                        ctx.tracker
                            .info("predict mode: nothing to do at the arbiter");
                        Ok(())
                    }
                    ModelInputUse::Refused { reason } => Err(Error::param(
                        "input.model",
                        format!("the guest refused the warm start: {reason}"),
                    )),
                    ModelInputUse::Warm { start } => {
                        let warm = arbiter_warm(ctx, task, start)?;
                        log_init_iter(ctx, start)?;
                        fit_arbiter_side(ctx, task, &param, &roles, Some(&warm))
                    }
                };
            }
            _ if !training => {
                if ctx.role == Role::Guest {
                    if let Some(arbiter) = roles.arbiter {
                        ctx.federation()?.remote(
                            MODEL_INPUT_USE,
                            MODEL_INPUT_USE,
                            &ModelInputUse::Predict,
                            &[arbiter],
                        )?;
                    }
                }
                let model = ctx
                    .models_of(module_of(ctx, task))
                    .next()
                    .ok_or_else(|| other_module_model(ctx, task))?;
                let invalid = |reason: String| Error::InvalidModel {
                    component: model.component.clone(),
                    alias: model.alias.clone(),
                    module: model.model.module.clone(),
                    reason,
                };
                let p: LinearModelParam = serde_json::from_value(model.model.param.clone())
                    .map_err(|e| invalid(format!("not a {} model: {e}", module_of(ctx, task))))?;
                let mut scorer = Scorer::of_model(&p).map_err(invalid)?;
                if ctx.role == Role::Guest {
                    scorer.load_keys(ctx, &p)?;
                }
                return predict_mode(ctx, task, &param, &roles, &p, &scorer, &model.model.meta);
            }
            _ => {}
        }
    }
    if ctx.role == Role::Arbiter {
        return fit_arbiter_side(ctx, task, &param, &roles, None);
    }
    let with_exposure = |d: Dataset| match (&param.exposure_colname, ctx.role) {
        (Some(name), Role::Guest) => Ok(exposure_or_one(ctx, d, name)),
        _ => Ok::<_, Error>(d),
    };
    let train =
        Dataset::read(ctx, &["train_data", "data"])?.ok_or_else(|| Error::MissingInput {
            component: module_of(ctx, task).into(),
            what: "training data (input key `train_data`)".into(),
        })?;
    let train = with_exposure(train)?;
    if train.n() == 0 {
        return Err(Error::EmptyTable {
            table: train.table.clone(),
            component: module_of(ctx, task).into(),
        });
    }
    let validate = Dataset::read(ctx, &["validate_data"])?
        .map(with_exposure)
        .transpose()?;
    ctx.tracker.info(&format!(
        "{} at {}: {} rows × {} features; {} host(s), {}; key {} bits",
        module_of(ctx, task),
        ctx.role,
        train.n(),
        train.k,
        roles.hosts.len(),
        if roles.arbiter.is_some() {
            "with arbiter"
        } else {
            "without arbiter"
        },
        param.key_length
    ));
    let warm = if ctx.inputs.model.is_empty() {
        None
    } else {
        let warm = match ctx.role {
            Role::Guest => {
                let prepared = guest_warm(ctx, task, &param, &train);
                let mut others = roles.hosts.clone();
                others.extend(roles.arbiter);
                let signal = match &prepared {
                    Ok((w, _)) => ModelInputUse::Warm { start: w.start },
                    Err(e) => ModelInputUse::Refused {
                        reason: e.to_string(),
                    },
                };
                ctx.federation()?
                    .remote(MODEL_INPUT_USE, MODEL_INPUT_USE, &signal, &others)?;
                let (w, fit_intercept) = prepared?;
                param.fit_intercept = fit_intercept;
                w
            }
            _ => {
                let from_guest: ModelInputUse =
                    ctx.federation()?
                        .get(MODEL_INPUT_USE, MODEL_INPUT_USE, roles.guest)?;
                match from_guest {
                    ModelInputUse::Warm { start } => host_warm(ctx, task, &param, &train, start)?,
                    ModelInputUse::Refused { reason } => {
                        return Err(Error::param(
                            "input.model",
                            format!("the guest refused the warm start: {reason}"),
                        ))
                    }
                    ModelInputUse::Predict => {
                        return Err(Error::param(
                            "input.model",
                            format!(
                                "{} ({}): this party has train_data and a model input (a warm \
                                 start) but the guest has no train_data (predict mode)",
                                ctx.component,
                                module_of(ctx, task)
                            ),
                        ))
                    }
                }
            }
        };
        log_init_iter(ctx, warm.start)?;
        ctx.tracker.info(&format!(
            "warm start from epoch {} of the model input, up to max_iter {}",
            warm.start, param.max_iter
        ));
        Some(warm)
    };
    let param = param;
    if let Some(cv) = param.cv {
        return cross_validate(ctx, task, &param, &roles, &train, cv);
    }
    if let Some(sw) = &param.stepwise {
        let fitting = Fitting {
            ctx,
            task,
            param: &param,
            roles: &roles,
            warm: warm.as_ref(),
        };
        return stepwise::run(&fitting, sw, Some(&train));
    }
    if param.callbacks.early_stopping().is_some() && validate.is_none() {
        return Err(Error::MissingInput {
            component: module_of(ctx, task).into(),
            what:
                "validation data (input key `validate_data`): early stopping needs it, as in FATE \
                   (\"validate data is needed when early stopping is enabled\")"
                    .into(),
        });
    }
    let fitting = Fitting {
        ctx,
        task,
        param: &param,
        roles: &roles,
        warm: warm.as_ref(),
    };
    match ctx.role {
        Role::Guest => {
            // FATE unions train and validate predictions keeping the first value of a
            // repeated id: validate rows already in the training data are dropped.
            let validate = match &validate {
                Some(v) => Some(without_sids_of(v, &train)?),
                None => None,
            };
            let trained = fitting.guest("fit", &train, validate.as_ref(), true)?;
            let scorer = trained.scorer(train.k);
            let mut out = PredictWriter::create(
                ctx,
                &train.sid_name,
                &train.table,
                &scorer.detail_keys(task),
            )?;
            let mut push = |rows| out.push_all(rows);
            scorer.guest_rows(&fitting, &train, "final.train", DataType::Train, &mut push)?;
            if let Some(v) = &validate {
                scorer.guest_rows(&fitting, v, "final.validate", DataType::Validate, &mut push)?;
            }
            out.finish()?;
            let classes = trained
                .classes
                .as_ref()
                .map(|cs| cs.iter().map(|&c| class_key(c)).collect());
            save(ctx, task, &param, &train.header, &trained.fits, classes)
        }
        Role::Host => {
            let fits = fitting.host("fit", &train, validate.as_ref())?;
            let models: Vec<HostWeights> = fits.iter().map(FitResult::host_weights).collect();
            host_rows(ctx, &train, &models, "final.train")?;
            if let Some(v) = &validate {
                host_rows(ctx, v, &models, "final.validate")?;
            }
            let fits: Vec<(FitResult, Option<Value>)> =
                fits.into_iter().map(|f| (f, None)).collect();
            let classes = index_classes(fits.len());
            save(ctx, task, &param, &train.header, &fits, classes)
        }
        Role::Arbiter => unreachable!("handled above"),
        other => Err(Error::param(
            "role",
            format!("{} does not run at {other}", module_of(ctx, task)),
        )),
    }
}

/// The guest's predictions of `train` by one trained model, as the task's output data.
fn write_guest_predictions(fitting: &Fitting<'_>, train: &Dataset, fit: &FitResult) -> Result<()> {
    let trained = GuestTrained {
        classes: None,
        fits: vec![(fit.clone(), None)],
    };
    let scorer = trained.scorer(train.k);
    let mut out = PredictWriter::create(
        fitting.ctx,
        &train.sid_name,
        &train.table,
        &scorer.detail_keys(fitting.task),
    )?;
    let mut push = |rows| out.push_all(rows);
    scorer.guest_rows(fitting, train, "final.train", DataType::Train, &mut push)?;
    out.finish()
}

/// A host's or the arbiter's class names for `models` models: none for one model,
/// `"0"` to `"k-1"` for one-vs-rest (they only learn the number of classes).
fn index_classes(models: usize) -> Option<Vec<String>> {
    (models > 1).then(|| (0..models).map(|i| i.to_string()).collect())
}

/// The guest's classes when HeteroLR needs one-vs-rest (more than two distinct labels,
/// as FATE decides), in ascending order; `None` for a binary label.
fn ovr_classes(train: &Dataset) -> Result<Option<Vec<f64>>> {
    if !train.has_label() {
        return Ok(None);
    }
    // `+ 0.0` makes -0 and 0 one class; past MAX_CLASSES the count is all that matters.
    let mut distinct = std::collections::BTreeSet::new();
    // The first label that is not an integer, for the message.
    let mut not_integer: Option<(usize, f64)> = None;
    train.for_each_label(|i, v| {
        if distinct.len() <= MAX_CLASSES {
            distinct.insert((v + 0.0).to_bits());
        }
        if not_integer.is_none() && (!v.is_finite() || v.fract() != 0.0) {
            not_integer = Some((i, v));
        }
        Ok(())
    })?;
    let mut classes: Vec<f64> = distinct.into_iter().map(f64::from_bits).collect();
    if classes.len() <= 2 {
        return Ok(None);
    }
    classes.sort_by(f64::total_cmp);
    let label_error = |reason: String| Error::InvalidParameter {
        parameter: "label".into(),
        reason: format!("HeteroLR: the label of table {}: {reason}", train.table),
    };
    if classes.len() > MAX_CLASSES {
        return Err(label_error(format!(
            "more than {MAX_CLASSES} classes; FATE's classification allows at most {MAX_CLASSES}"
        )));
    }
    if let Some((i, v)) = not_integer {
        return Err(label_error(format!(
            "sample `{}` has label {v}; one-vs-rest (more than two classes: {} here) needs \
             integer labels, as FATE converts its classes with int()",
            train.sid(i),
            classes.len()
        )));
    }
    Ok(Some(classes))
}

/// One training of a component's model (the whole data, or one CV fold) at any role:
/// a binary or regression model, or with more than two classes at the guest one binary
/// model per class (FATE's `HeteroOneVsRest`). The guest tells the hosts and the
/// arbiter the number of classes first (HeteroLR only, as FATE syncs it), and sub-model
/// `i` runs the whole binary protocol under the run id `<run>.model_<i>`: its own key,
/// optimizer, batches and seed, like FATE's deep copy of the untrained classifier.
struct Fitting<'f> {
    ctx: &'f TaskContext<'f>,
    task: Task,
    param: &'f LinearParam,
    roles: &'f Roles,
    /// Warm start (binary and regression models only).
    warm: Option<&'f Warm>,
}

/// What the guest trained in one run.
struct GuestTrained {
    /// One-vs-rest: the class of each model.
    classes: Option<Vec<f64>>,
    /// Per model: its fit and its validation summary.
    fits: Vec<(FitResult, Option<Value>)>,
}

impl GuestTrained {
    fn scorer(&self, k: usize) -> Scorer {
        Scorer {
            classes: self.classes.clone(),
            models: self
                .fits
                .iter()
                .map(|(f, _)| {
                    (
                        f.weights[..k.min(f.weights.len())].to_vec(),
                        f.weights.get(k).copied().unwrap_or(0.0),
                    )
                })
                .collect(),
            encrypted: self.fits.iter().map(|(f, _)| f.encrypted.clone()).collect(),
            keys: self.fits.iter().map(|(f, _)| f.guest_key.clone()).collect(),
        }
    }
}

impl Fitting<'_> {
    fn run<'r>(
        &'r self,
        run: String,
        validate_host: Option<&'r Dataset>,
        part: (usize, usize),
    ) -> Run<'r> {
        Run {
            ctx: self.ctx,
            task: self.task,
            param: self.param,
            roles: self.roles,
            run,
            validate_host,
            log_loss: part.1 == 1,
            part,
            warm: self.warm,
        }
    }

    /// Hosts and the arbiter: the number of models the guest says to train (1 unless
    /// one-vs-rest).
    fn models_to_train(&self, run: &str) -> Result<usize> {
        if self.task != Task::Logistic {
            return Ok(1);
        }
        let n: usize = self
            .ctx
            .federation()?
            .get("class_num", run, self.roles.guest)?;
        if n > MAX_CLASSES {
            return Err(Error::param(
                "class_num",
                format!(
                    "{} says the label has {n} classes; at most {MAX_CLASSES} are allowed",
                    self.roles.guest
                ),
            ));
        }
        Ok(if n > 2 { n } else { 1 })
    }

    /// The guest's side; `validation`: run the validation strategy (not in CV).
    fn guest(
        &self,
        run: &str,
        train: &Dataset,
        validate: Option<&Dataset>,
        validation: bool,
    ) -> Result<GuestTrained> {
        let classes = match self.task {
            Task::Logistic => ovr_classes(train)?,
            Task::Linear | Task::Poisson => None,
        };
        if self.task == Task::Logistic {
            let n = classes.as_ref().map_or(2, Vec::len);
            let mut others = self.roles.hosts.clone();
            others.extend(self.roles.arbiter);
            self.ctx
                .federation()?
                .remote("class_num", run, &n, &others)?;
        }
        let fits = match &classes {
            None => {
                vec![self.guest_one(run.to_string(), "", train, validate, validation, (0, 1))?]
            }
            Some(cs) => {
                let k = cs.len();
                self.ctx.tracker.info(&format!(
                    "the label has {k} classes ({}): one-vs-rest, {k} binary models",
                    cs.iter()
                        .map(|&c| class_key(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let mut fits = Vec::with_capacity(k);
                for (i, &c) in cs.iter().enumerate() {
                    self.ctx.tracker.info(&format!(
                        "one-vs-rest model {i}: class {} against the rest",
                        class_key(c)
                    ));
                    let t = train.relabelled(c);
                    let v = validate.map(|v| v.relabelled(c));
                    fits.push(self.guest_one(
                        format!("{run}.model_{i}"),
                        &format!("model_{i}."),
                        &t,
                        v.as_ref(),
                        validation,
                        (i, k),
                    )?);
                }
                fits
            }
        };
        Ok(GuestTrained { classes, fits })
    }

    /// One binary or regression model at the guest, with FATE's validation strategy
    /// (metric names prefixed with `prefix`, FATE's `model_<i>.` for one-vs-rest).
    fn guest_one(
        &self,
        run: String,
        prefix: &str,
        train: &Dataset,
        validate: Option<&Dataset>,
        validation: bool,
        part: (usize, usize),
    ) -> Result<(FitResult, Option<Value>)> {
        let r = self.run(run, None, part);
        if !validation {
            return Ok((fit_guest(&r, train, None)?, None));
        }
        let (task, param, roles) = (self.task, self.param, self.roles);
        let mut summary = ValidationSummary {
            prefix: prefix.to_string(),
            ..ValidationSummary::default()
        };
        let mut validator = |ctx: &TaskContext<'_>,
                             tag: &str,
                             epoch: usize,
                             w: &[f64]|
         -> Result<Vec<(&'static str, f64)>> {
            let metrics = &param.callbacks.metrics;
            let rows = score_rows(
                ctx,
                task,
                param,
                roles,
                train,
                w,
                &format!("{tag}.train"),
                DataType::Train,
            )?;
            let mut eval = summary.record(ctx, task, metrics, DataType::Train, epoch, &rows)?;
            if let Some(v) = validate {
                let rows = score_rows(
                    ctx,
                    task,
                    param,
                    roles,
                    v,
                    w,
                    &format!("{tag}.validate"),
                    DataType::Validate,
                )?;
                if !rows.is_empty() {
                    eval = summary.record(ctx, task, metrics, DataType::Validate, epoch, &rows)?;
                }
            }
            Ok(eval)
        };
        let fit = fit_guest(&r, train, Some(&mut validator))?;
        Ok((fit, summary.into_json()))
    }

    /// A host's side: one fit, or one per class.
    fn host(
        &self,
        run: &str,
        train: &Dataset,
        validate: Option<&Dataset>,
    ) -> Result<Vec<FitResult>> {
        match self.models_to_train(run)? {
            1 => Ok(vec![fit_host(
                &self.run(run.to_string(), validate, (0, 1)),
                train,
            )?]),
            k => (0..k)
                .map(|i| {
                    fit_host(
                        &self.run(format!("{run}.model_{i}"), validate, (i, k)),
                        train,
                    )
                })
                .collect(),
        }
    }

    /// The arbiter's side: one fit, or one per class.
    fn arbiter(&self, run: &str) -> Result<Vec<FitResult>> {
        match self.models_to_train(run)? {
            1 => Ok(vec![fit_arbiter(&self.run(run.to_string(), None, (0, 1)))?]),
            k => (0..k)
                .map(|i| fit_arbiter(&self.run(format!("{run}.model_{i}"), None, (i, k))))
                .collect(),
        }
    }
}

/// The guest's view of a model for scoring: one (binary or regression) or one per
/// class, each as feature weights and intercept.
struct Scorer {
    classes: Option<Vec<f64>>,
    models: Vec<(Vec<f64>, f64)>,
    /// Per model, SSHE `encrypted_reveal_in_host`: the host's encrypted weights (at
    /// the host) or the key its scores come under (at the guest).
    encrypted: Vec<Option<(PublicKey, Vec<Ciphertext>)>>,
    keys: Vec<Option<Arc<Keypair>>>,
}

impl Scorer {
    /// The scorer of a stored model (hosts: the intercepts are 0).
    fn of_model(model: &LinearModelParam) -> std::result::Result<Scorer, String> {
        let weights = |weight: &BTreeMap<String, f64>| -> Vec<f64> {
            model
                .header
                .iter()
                .map(|h| weight.get(h).copied().unwrap_or(0.0))
                .collect()
        };
        if !model.need_one_vs_rest {
            return Ok(Scorer {
                classes: None,
                models: vec![(weights(&model.weight), model.intercept)],
                encrypted: vec![encrypted_weights(
                    &model.header,
                    model.encrypted_weight.as_ref(),
                )?],
                keys: vec![None],
            });
        }
        let ovr = model
            .one_vs_rest_result
            .as_ref()
            .ok_or("need_one_vs_rest is true but one_vs_rest_result is missing")?;
        let classes: Vec<f64> = ovr
            .one_vs_rest_classes
            .iter()
            .map(|c| {
                c.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.fract() == 0.0)
                    .ok_or_else(|| {
                        format!(
                            "one_vs_rest_classes: class {c:?} is not an integer (FATE loads \
                             the classes with int())"
                        )
                    })
            })
            .collect::<std::result::Result<_, _>>()?;
        if classes.len() < 3 || classes.len() != ovr.completed_models.len() {
            return Err(format!(
                "one_vs_rest_result has {} classes and {} models; expected the same number, \
                 at least 3",
                classes.len(),
                ovr.completed_models.len()
            ));
        }
        Ok(Scorer {
            classes: Some(classes),
            models: ovr
                .completed_models
                .iter()
                .map(|m| (weights(&m.weight), m.intercept))
                .collect(),
            encrypted: ovr
                .completed_models
                .iter()
                .map(|m| encrypted_weights(&model.header, m.encrypted_weight.as_ref()))
                .collect::<std::result::Result<_, _>>()?,
            keys: vec![None; ovr.completed_models.len()],
        })
    }

    /// The guest's keys of an `encrypted_reveal_in_host` model, from this site's tables.
    fn load_keys(&mut self, ctx: &TaskContext<'_>, model: &LinearModelParam) -> Result<()> {
        let tables: Vec<Option<&String>> = match &model.one_vs_rest_result {
            Some(ovr) if model.need_one_vs_rest => ovr
                .completed_models
                .iter()
                .map(|m| m.guest_key_table.as_ref())
                .collect(),
            _ => vec![model.guest_key_table.as_ref()],
        };
        self.keys = tables
            .into_iter()
            .map(|t| t.map(|t| sshe::load_key(ctx, t).map(Arc::new)).transpose())
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// The host's part of model `i` for scoring.
    fn host_weights(&self, i: usize) -> HostWeights {
        match self.encrypted.get(i).cloned().flatten() {
            Some((key, cts)) => HostWeights::Encrypted { key, cts },
            None => HostWeights::Plain(self.models[i].0.clone()),
        }
    }

    fn key(&self, i: usize) -> Option<&PrivateKey> {
        self.keys
            .get(i)
            .and_then(|k| k.as_deref())
            .map(|k| &k.private)
    }

    /// The `predict_detail` keys of this model's output.
    fn detail_keys(&self, task: Task) -> Vec<String> {
        match (&self.classes, task) {
            (Some(cs), _) => cs.iter().map(|&c| class_key(c)).collect(),
            (None, Task::Logistic) => BINARY_DETAIL_KEYS.iter().map(|k| k.to_string()).collect(),
            (None, Task::Linear | Task::Poisson) => vec![REGRESSION_DETAIL_KEY.to_string()],
        }
    }

    /// Guest: scores `data` with every model and the hosts (one exchange per model,
    /// tagged `<tag>.model_<i>` for one-vs-rest), handing the rows to `out` block by
    /// block; returns the number of rows.
    fn guest_rows(
        &self,
        f: &Fitting<'_>,
        data: &Dataset,
        tag: &str,
        data_type: DataType,
        out: &mut dyn FnMut(Vec<PredictRow>) -> Result<()>,
    ) -> Result<usize> {
        let hosts = &f.roles.hosts;
        let Some(classes) = &self.classes else {
            let (w, b) = self
                .models
                .first()
                .ok_or_else(|| Error::param("model", "the model holds no weights to score with"))?;
            guest_scores(
                f.ctx,
                hosts,
                data,
                w,
                *b,
                tag,
                self.key(0),
                &mut |start, block, scores| {
                    out(rows_from_scores(
                        f.task,
                        f.param.threshold,
                        data,
                        start,
                        block,
                        &scores,
                        data_type,
                    )?)
                },
            )?;
            return Ok(data.n());
        };
        // One-vs-rest: every model's scores (8 bytes per row and model), then the rows.
        let mut per_model = Vec::with_capacity(self.models.len());
        for (i, (w, b)) in self.models.iter().enumerate() {
            let mut all = Vec::with_capacity(data.n());
            guest_scores(
                f.ctx,
                hosts,
                data,
                w,
                *b,
                &format!("{tag}.model_{i}"),
                self.key(i),
                &mut |_, _, scores| {
                    all.extend(scores);
                    Ok(())
                },
            )?;
            per_model.push(all);
        }
        let mut probs = vec![0.0; per_model.len()];
        for (start, end) in data.spans(dataset::READ_BLOCK_ROWS) {
            let block = data.range(start, end)?;
            let sids = data.sid_range(start, end)?;
            let rows = sids
                .into_iter()
                .enumerate()
                .map(|(p, sid)| {
                    for (q, s) in probs.iter_mut().zip(&per_model) {
                        *q = sigmoid(s[start + p]);
                    }
                    let label = block.y.as_ref().map_or(f64::NAN, |y| y[p]);
                    predict_output::multi_class_row(sid, label, classes, &probs, data_type)
                })
                .collect();
            out(rows)?;
        }
        Ok(data.n())
    }
}

/// A host model's encrypted weights in `header` order, parsed.
fn encrypted_weights(
    header: &[String],
    weights: Option<&BTreeMap<String, EncryptedWeight>>,
) -> std::result::Result<Option<(PublicKey, Vec<Ciphertext>)>, String> {
    let Some(weights) = weights else {
        return Ok(None);
    };
    let mut key: Option<PublicKey> = None;
    let mut cts = Vec::with_capacity(header.len());
    for h in header {
        let w = weights
            .get(h)
            .ok_or_else(|| format!("encrypted_weight has no entry for feature `{h}`"))?;
        if w.fraction_bits != sshe::F {
            return Err(format!(
                "encrypted_weight `{h}` has {} fraction bits; this server reads {}",
                w.fraction_bits,
                sshe::F
            ));
        }
        let n: fateflow_crypto::Integer = w
            .public_key
            .n
            .parse()
            .map_err(|e| format!("encrypted_weight `{h}`: public key: {e}"))?;
        if key.as_ref().is_none_or(|k| *k.n() != n) {
            if key.is_some() {
                return Err("encrypted_weight: the weights are under different keys".into());
            }
            key = Some(PublicKey::from_modulus(n).map_err(|e| format!("encrypted_weight: {e}"))?);
        }
        let c: fateflow_crypto::Integer = w
            .cipher_text
            .parse()
            .map_err(|e| format!("encrypted_weight `{h}`: cipher_text: {e}"))?;
        cts.push(Ciphertext::from_integer(c));
    }
    match key {
        Some(k) => Ok(Some((k, cts))),
        None => Ok(None),
    }
}

/// Host: answers the guest's scoring of `data` for each of its models (one, or one per
/// class, as [`Scorer::guest_rows`] asks).
fn host_rows(
    ctx: &TaskContext<'_>,
    data: &Dataset,
    models: &[HostWeights],
    tag: &str,
) -> Result<()> {
    match models {
        [w] => host_scores(ctx, data, w, tag),
        _ => {
            for (i, w) in models.iter().enumerate() {
                host_scores(ctx, data, w, &format!("{tag}.model_{i}"))?;
            }
            Ok(())
        }
    }
}

fn fit_arbiter_side(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    warm: Option<&Warm>,
) -> Result<()> {
    if roles.arbiter.is_none() {
        return Err(Error::param(
            "role",
            "an arbiter task in a job without an arbiter",
        ));
    }
    let fitting = Fitting {
        ctx,
        task,
        param,
        roles,
        warm,
    };
    if let Some(cv) = param.cv {
        for fold in 0..cv.n_splits {
            fitting.arbiter(&format!("cv{fold}"))?;
        }
        return Ok(());
    }
    if let Some(sw) = &param.stepwise {
        return stepwise::run(&fitting, sw, None);
    }
    let fits: Vec<(FitResult, Option<Value>)> = fitting
        .arbiter("fit")?
        .into_iter()
        .map(|f| (f, None))
        .collect();
    let classes = index_classes(fits.len());
    save(ctx, task, param, &[], &fits, classes)
}

/// Scores `data` with the guest weights `w` (intercept last when fitted) and the hosts
/// (validation: the rows are kept for the metrics).
#[allow(clippy::too_many_arguments)]
fn score_rows(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    data: &Dataset,
    w: &[f64],
    tag: &str,
    data_type: DataType,
) -> Result<Vec<PredictRow>> {
    let intercept = if param.fit_intercept && w.len() > data.k {
        w[data.k]
    } else {
        0.0
    };
    let mut rows = Vec::with_capacity(data.n());
    guest_scores(
        ctx,
        &roles.hosts,
        data,
        &w[..data.k],
        intercept,
        tag,
        None,
        &mut |start, block, scores| {
            rows.extend(rows_from_scores(
                task,
                param.threshold,
                data,
                start,
                block,
                &scores,
                data_type,
            )?);
            Ok(())
        },
    )?;
    Ok(rows)
}

/// The prediction rows of the block of `data` at `start` from its scores.
fn rows_from_scores(
    task: Task,
    threshold: f64,
    data: &Dataset,
    start: usize,
    block: &dataset::Block,
    scores: &[f64],
    data_type: DataType,
) -> Result<Vec<PredictRow>> {
    let sids = data.sid_range(start, start + scores.len())?;
    Ok(sids
        .into_iter()
        .zip(scores)
        .enumerate()
        .map(|(p, (sid, &s))| {
            let label = block.y.as_ref().map_or(f64::NAN, |y| y[p]);
            match task {
                Task::Logistic => {
                    predict_output::binary_row(sid, label, sigmoid(s), threshold, data_type)
                }
                Task::Linear => predict_output::regression_row(sid, label, s, data_type),
                // exp(wx) times the exposure (FATE's `exp(wx_g + wx_h) * exposure`).
                Task::Poisson => {
                    let exposure = block.e.as_ref().map_or(1.0, |e| e[p]);
                    predict_output::regression_row(sid, label, s.exp() * exposure, data_type)
                }
            }
        })
        .collect())
}

/// The rows of `data` whose ids are not in `train`.
fn without_sids_of(data: &Dataset, train: &Dataset) -> Result<Dataset> {
    let known = predict::sid_index(train)?;
    let mut rows = Vec::new();
    for (start, end) in data.spans(dataset::READ_BLOCK_ROWS) {
        for (p, sid) in data.sid_range(start, end)?.iter().enumerate() {
            if !known.contains_key(sid) {
                rows.push(start + p);
            }
        }
    }
    Ok(data.subset(&rows))
}

/// FATE's validation summary: per namespace (`train`, `validate`), per metric, the
/// values of every validation round.
#[derive(Debug, Default)]
struct ValidationSummary {
    /// Before `iteration_<epoch>` in metric names: FATE's `model_<i>.` for the
    /// sub-models of one-vs-rest.
    prefix: String,
    values: BTreeMap<&'static str, Vec<(&'static str, Vec<f64>)>>,
}

impl ValidationSummary {
    /// Computes FATE's single-value `metrics` of `rows`, records each as FATE's
    /// evaluation does during training (namespace `train`/`validate`, name
    /// `iteration_<epoch>`, one point per metric, rounded to 6 digits), and returns them.
    fn record(
        &mut self,
        ctx: &TaskContext<'_>,
        task: Task,
        metrics: &[&'static str],
        data_type: DataType,
        epoch: usize,
        rows: &[PredictRow],
    ) -> Result<Vec<(&'static str, f64)>> {
        let namespace: &'static str = match data_type {
            DataType::Validate => "validate",
            _ => "train",
        };
        let name = format!("{}iteration_{epoch}", self.prefix);
        let mut out = Vec::with_capacity(metrics.len());
        for &metric in metrics {
            let value =
                single_value_metric(task, metric, rows).ok_or_else(|| Error::InvalidParameter {
                    parameter: "metrics".into(),
                    reason: format!(
                        "{metric} of the {namespace} data at epoch {epoch} is undefined \
                         (the label has a single class)"
                    ),
                })?;
            ctx.log_metric(Metric {
                namespace: namespace.into(),
                name: name.clone(),
                data: vec![(metric.into(), round6(value).into())],
                meta: json!({"name": name, "metric_type": "EVALUATION_SUMMARY"}),
            })?;
            let per_metric = self.values.entry(namespace).or_default();
            match per_metric.iter_mut().find(|(m, _)| *m == metric) {
                Some((_, v)) => v.push(value),
                None => per_metric.push((metric, vec![value])),
            }
            out.push((metric, value));
        }
        Ok(out)
    }

    fn into_json(self) -> Option<Value> {
        if self.values.is_empty() {
            return None;
        }
        let mut out = serde_json::Map::new();
        for (ns, per_metric) in self.values {
            let m: serde_json::Map<String, Value> = per_metric
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            out.insert(ns.to_string(), Value::Object(m));
        }
        Some(Value::Object(out))
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// One of FATE's single-value metrics of `rows` (`None` when undefined).
fn single_value_metric(task: Task, metric: &str, rows: &[PredictRow]) -> Option<f64> {
    let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
    match task {
        Task::Logistic => {
            let labels: Vec<bool> = labels.iter().map(|&l| l == 1.0).collect();
            let scores: Vec<f64> = rows.iter().map(|r| r.predict_score).collect();
            metrics::binary_by_name(metric, &labels, &scores)
        }
        Task::Linear | Task::Poisson => {
            let pred: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            metrics::regression_by_name(metric, &labels, &pred)
        }
    }
}

/// LR: AUC (higher is better); LinR: RMSE (lower is better).
fn validation_metric(task: Task, rows: &[PredictRow]) -> (&'static str, f64, bool) {
    match task {
        Task::Logistic => {
            let labels: Vec<bool> = rows.iter().map(|r| r.label == 1.0).collect();
            let scores: Vec<f64> = rows.iter().map(|r| r.predict_score).collect();
            (
                "auc",
                metrics::auc(&labels, &scores).unwrap_or(f64::NAN),
                true,
            )
        }
        Task::Linear | Task::Poisson => {
            let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
            let pred: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
            (
                "rmse",
                metrics::root_mean_squared_error(&labels, &pred),
                false,
            )
        }
    }
}

fn write_predictions(
    ctx: &TaskContext<'_>,
    source: &Dataset,
    detail_keys: &[String],
    rows: Vec<PredictRow>,
) -> Result<()> {
    predict_output::write_rows(ctx, &source.sid_name, &source.table, detail_keys, rows)
}

/// `a`'s rows then `b`'s (same columns).
fn append_frames(table: &str, a: Frame, b: Frame) -> Result<Frame> {
    let label = a.label_name().map(str::to_owned);
    let columns = a.columns().to_vec();
    let mut sids = a.sids().to_vec();
    sids.extend_from_slice(b.sids());
    let mut values: Vec<f64> = a.rows().flatten().copied().collect();
    values.extend(b.rows().flatten().copied());
    let invalid = |e: fateflow_tables::Error| Error::InvalidValue {
        table: table.into(),
        sid: String::new(),
        column: String::new(),
        reason: format!("the fold history could not be built: {e}"),
    };
    let frame = Frame::new(a.sid_name(), columns, sids, values).map_err(invalid)?;
    match label {
        Some(l) => frame.with_label(l).map_err(invalid),
        None => Ok(frame),
    }
}

/// One fit as FATE's `SingleModel` (`header` empty at the arbiter; the guest's
/// intercept follows its feature weights).
fn single_model(
    header: &[String],
    fit: &FitResult,
    guest_key_table: Option<String>,
) -> SingleModel {
    SingleModel {
        iters: fit.iters,
        loss_history: fit.loss_history.clone(),
        is_converged: fit.converged,
        weight: header
            .iter()
            .cloned()
            .zip(fit.weights.iter().copied())
            .collect(),
        intercept: fit.weights.get(header.len()).copied().unwrap_or(0.0),
        header: header.to_vec(),
        best_iteration: fit.best_iteration,
        encrypted_weight: fit.encrypted.as_ref().map(|(key, cts)| {
            header
                .iter()
                .cloned()
                .zip(cts.iter().map(|c| EncryptedWeight {
                    cipher_text: c.as_integer().to_string(),
                    public_key: EncryptedWeightKey {
                        n: key.n().to_string(),
                    },
                    fraction_bits: sshe::F,
                }))
                .collect()
        }),
        guest_key_table,
    }
}

/// SSHE `encrypted_reveal_in_host`: keeps the guest's key of model `i` in a table of
/// this site (never in the model) and returns the table's name.
fn keep_guest_key(ctx: &TaskContext<'_>, fit: &FitResult, i: usize) -> Result<Option<String>> {
    let Some(kp) = &fit.guest_key else {
        return Ok(None);
    };
    let name = format!("{}_{}_{i}", ctx.job_id, ctx.component);
    sshe::store_key(ctx, SSHE_KEY_NAMESPACE, &name, kp)?;
    Ok(Some(format!("{SSHE_KEY_NAMESPACE}.{name}")))
}

/// Where the guest keeps the keys of `encrypted_reveal_in_host` models.
const SSHE_KEY_NAMESPACE: &str = "fateflow_sshe_keys";

/// A fit's summary, as the binary model's.
fn fit_summary(fit: &FitResult, validation_metrics: Option<&Value>) -> Value {
    let mut summary = json!({
        "iters": fit.iters,
        "loss_history": fit.loss_history,
        "is_converged": fit.converged,
        "best_iteration": fit.best_iteration,
    });
    if let Some(v) = validation_metrics {
        summary["validation_metrics"] = v.clone();
    }
    summary
}

/// Saves the model of `fits` (one fit; or with `classes`, one per class: a one-vs-rest
/// model) and the task summary (one-vs-rest: per class the fit's summary with
/// `one_vs_rest: true`, as FATE).
fn save(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    header: &[String],
    fits: &[(FitResult, Option<Value>)],
    classes: Option<Vec<String>>,
) -> Result<()> {
    let mut meta = param.meta(task);
    let (model, summary) = match classes {
        None => {
            let (fit, validation) = fits
                .first()
                .ok_or_else(|| Error::param("model", "no model was trained"))?;
            let m = single_model(header, fit, keep_guest_key(ctx, fit, 0)?);
            let model = LinearModelParam {
                iters: m.iters,
                loss_history: m.loss_history,
                is_converged: m.is_converged,
                header: m.header,
                weight: m.weight,
                intercept: m.intercept,
                best_iteration: m.best_iteration,
                need_one_vs_rest: false,
                one_vs_rest_result: None,
                encrypted_weight: m.encrypted_weight,
                guest_key_table: m.guest_key_table,
            };
            (model, fit_summary(fit, validation.as_ref()))
        }
        Some(classes) => {
            let mut summary = serde_json::Map::new();
            for (class, (fit, validation)) in classes.iter().zip(fits) {
                let mut s = fit_summary(fit, validation.as_ref());
                s["one_vs_rest"] = json!(true);
                summary.insert(class.clone(), s);
            }
            meta["need_one_vs_rest"] = json!(true);
            let model = LinearModelParam {
                iters: 0,
                loss_history: Vec::new(),
                is_converged: false,
                header: header.to_vec(),
                weight: BTreeMap::new(),
                intercept: 0.0,
                best_iteration: None,
                need_one_vs_rest: true,
                one_vs_rest_result: Some(OneVsRestResult {
                    completed_models: fits
                        .iter()
                        .enumerate()
                        .map(|(i, (f, _))| Ok(single_model(header, f, keep_guest_key(ctx, f, i)?)))
                        .collect::<Result<_>>()?,
                    one_vs_rest_classes: classes,
                }),
                encrypted_weight: None,
                guest_key_table: None,
            };
            (model, Value::Object(summary))
        }
    };
    let param_json =
        serde_json::to_value(&model).map_err(|e| Error::tracker("serialize the model", e))?;
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &ComponentModel {
            module: module_of(ctx, task).into(),
            param: param_json,
            meta,
        },
    )?;
    ctx.tracker.set_summary(summary)?;
    for (i, (fit, _)) in fits.iter().enumerate() {
        let which = if fits.len() > 1 {
            format!(" (one-vs-rest model {i})")
        } else {
            String::new()
        };
        ctx.tracker.info(&format!(
            "{} done{which}: {} epochs, converged: {}, last loss: {}",
            module_of(ctx, task),
            fit.iters,
            fit.converged,
            fit.loss_history
                .last()
                .map_or("n/a".into(), |l| format!("{l:.6}"))
        ));
    }
    ctx.tracker.progress(100);
    Ok(())
}

/// `data` with its exposure column `name` set apart (HeteroPoisson at the guest); a
/// table without it keeps every feature and an exposure of 1, as FATE, said in the log.
fn exposure_or_one(ctx: &TaskContext<'_>, data: Dataset, name: &str) -> Dataset {
    match data.with_exposure(name) {
        Some(d) => {
            ctx.tracker.info(&format!(
                "exposure_colname: column `{name}` of {} is the exposure (offset log(exposure))",
                d.table
            ));
            d
        }
        None => {
            ctx.tracker.info(&format!(
                "warning: exposure_colname `{name}` is not a feature of {} ({}); every row's exposure is 1, as FATE does",
                data.table,
                data.header.join(", ")
            ));
            data
        }
    }
}

fn predict_mode(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    model: &LinearModelParam,
    scorer: &Scorer,
    meta: &Value,
) -> Result<()> {
    if ctx.role == Role::Arbiter {
        ctx.tracker
            .info("predict mode: nothing to do at the arbiter");
        return Ok(());
    }
    let data = Dataset::read(ctx, &["test_data", "data", "validate_data", "train_data"])?
        .ok_or_else(|| Error::MissingInput {
            component: module_of(ctx, task).into(),
            what: "data to predict (input key `test_data`)".into(),
        })?;
    // Poisson: the model's exposure column, at the guest.
    let data = match meta.get("exposure_colname").and_then(Value::as_str) {
        Some(name) if ctx.role == Role::Guest && !name.is_empty() => {
            exposure_or_one(ctx, data, name)
        }
        _ => data,
    }
    .select(&model.header)?;
    let mut param = param.clone();
    if let Some(t) = meta.get("threshold").and_then(Value::as_f64) {
        param.threshold = t;
    }
    let fitting = Fitting {
        ctx,
        task,
        param: &param,
        roles,
        warm: None,
    };
    match ctx.role {
        Role::Guest => {
            let mut out =
                PredictWriter::create(ctx, &data.sid_name, &data.table, &scorer.detail_keys(task))?;
            let mut push = |rows| out.push_all(rows);
            let n = scorer.guest_rows(&fitting, &data, "predict", DataType::Test, &mut push)?;
            out.finish()?;
            ctx.tracker.info(&format!(
                "predicted {n} rows{}",
                if scorer.classes.is_some() {
                    format!(" with {} one-vs-rest models", scorer.models.len())
                } else {
                    String::new()
                }
            ));
        }
        _ => {
            let models: Vec<HostWeights> = (0..scorer.models.len())
                .map(|i| scorer.host_weights(i))
                .collect();
            host_rows(ctx, &data, &models, "predict")?;
        }
    }
    ctx.tracker.progress(100);
    Ok(())
}

fn cross_validate(
    ctx: &TaskContext<'_>,
    task: Task,
    param: &LinearParam,
    roles: &Roles,
    data: &Dataset,
    cv: param::CvParam,
) -> Result<()> {
    let fed = ctx.federation()?;
    // Cross-validation holds every id (and each fold's predictions) in memory.
    let sids = data.sid_range(0, data.n())?;
    // The guest deals the folds and tells the hosts which samples each fold tests.
    let folds: Vec<Vec<String>> = if ctx.role == Role::Guest {
        let mut order: Vec<usize> = (0..data.n()).collect();
        if cv.shuffle {
            SplitMix::seeded(Some(cv.random_seed)).shuffle(&mut order);
        }
        let mut folds = vec![Vec::new(); cv.n_splits];
        for (pos, i) in order.into_iter().enumerate() {
            folds[pos % cv.n_splits].push(sids[i].clone());
        }
        fed.remote("cv_folds", "cv", &folds, &roles.hosts)?;
        folds
    } else {
        fed.get("cv_folds", "cv", roles.guest)?
    };
    let index: std::collections::HashMap<&str, usize> = sids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let fitting = Fitting {
        ctx,
        task,
        param,
        roles,
        warm: None,
    };
    // Per fold: its detail keys and rows (a fold may miss a class of another fold).
    let mut fold_rows: Vec<(Vec<String>, Vec<PredictRow>)> = Vec::new();
    let mut per_fold = Vec::new();
    for (fold, test_sids) in folds.iter().enumerate() {
        let test: std::collections::HashSet<&str> = test_sids.iter().map(String::as_str).collect();
        let train_rows: Vec<usize> = (0..data.n())
            .filter(|&i| !test.contains(sids[i].as_str()))
            .collect();
        let test_rows: Vec<usize> = test_sids
            .iter()
            .map(|s| {
                index
                    .get(s.as_str())
                    .copied()
                    .ok_or_else(|| Error::InvalidValue {
                        table: data.table.clone(),
                        sid: s.clone(),
                        column: data.sid_name.clone(),
                        reason:
                            "a cross-validation sample of the guest is not in this party's data"
                                .into(),
                    })
            })
            .collect::<Result<_>>()?;
        let train = data.subset(&train_rows);
        let test = data.subset(&test_rows);
        let run = format!("cv{fold}");
        let tag = format!("cv{fold}.score");
        if ctx.role == Role::Guest {
            let trained = fitting.guest(&run, &train, None, false)?;
            let scorer = trained.scorer(train.k);
            let mut rows = Vec::new();
            scorer.guest_rows(&fitting, &test, &tag, DataType::Validate, &mut |r| {
                rows.extend(r);
                Ok(())
            })?;
            let (name, value) = match &scorer.classes {
                None => {
                    let (name, value, _) = validation_metric(task, &rows);
                    (name, value)
                }
                Some(_) => {
                    let labels: Vec<f64> = rows.iter().map(|r| r.label).collect();
                    let predicted: Vec<f64> = rows.iter().map(|r| r.predict_result).collect();
                    (
                        "accuracy",
                        metrics::multi_class(&labels, &predicted).accuracy,
                    )
                }
            };
            ctx.log_metric(Metric {
                namespace: "cv".into(),
                name: name.into(),
                data: vec![(fold.into(), value.into())],
                meta: json!({"metric_type": "CV_EVALUATE", "unit_name": "fold"}),
            })?;
            ctx.tracker.info(&format!("fold {fold}: {name} {value:.6}"));
            per_fold.push((name, value));
            fold_rows.push((scorer.detail_keys(task), rows));
        } else {
            let fits = fitting.host(&run, &train, None)?;
            let models: Vec<HostWeights> = fits.iter().map(FitResult::host_weights).collect();
            host_rows(ctx, &test, &models, &tag)?;
        }
    }
    match cv.history {
        param::FoldHistory::Score => {}
        param::FoldHistory::Off => crate::table_io::write_output_frame(ctx, &data.to_frame()?)?,
        param::FoldHistory::Instance => {
            let mut parts = Vec::with_capacity(2 * folds.len());
            for (fold, test_sids) in folds.iter().enumerate() {
                let test: std::collections::HashSet<&str> =
                    test_sids.iter().map(String::as_str).collect();
                let train_rows: Vec<usize> = (0..data.n())
                    .filter(|&i| !test.contains(sids[i].as_str()))
                    .collect();
                let test_rows: Vec<usize> = test_sids
                    .iter()
                    .filter_map(|s| index.get(s.as_str()).copied())
                    .collect();
                for (rows, kind) in [(train_rows, "train"), (test_rows, "validate")] {
                    parts.push((data.subset(&rows), format!("#fold{fold}#{kind}")));
                }
            }
            let mut frame: Option<Frame> = None;
            for (part, suffix) in parts {
                let f = part.to_frame_with(|s| s + &suffix)?;
                frame = Some(match frame {
                    None => f,
                    Some(acc) => append_frames(&data.table, acc, f)?,
                });
            }
            if let Some(frame) = frame {
                crate::table_io::write_output_frame(ctx, &frame)?;
            }
        }
    }
    if ctx.role == Role::Guest {
        let name = per_fold.first().map_or("metric", |p| p.0);
        let values: Vec<f64> = per_fold.iter().map(|p| p.1).collect();
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        ctx.tracker
            .set_summary(json!({"cv": {name: values, "mean": mean}}))?;
        if cv.history == param::FoldHistory::Score {
            let (keys, rows) = merge_detail(fold_rows);
            write_predictions(ctx, data, &keys, rows)?;
        }
    }
    ctx.tracker.progress(100);
    Ok(())
}

/// The rows of every fold under the union of their detail keys (first-seen order), a
/// key a fold lacks holding NaN in its rows.
fn merge_detail(folds: Vec<(Vec<String>, Vec<PredictRow>)>) -> (Vec<String>, Vec<PredictRow>) {
    let mut keys: Vec<String> = Vec::new();
    for (fold_keys, _) in &folds {
        for k in fold_keys {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (fold_keys, rows) in folds {
        if fold_keys == keys {
            out.extend(rows);
            continue;
        }
        let at: Vec<Option<usize>> = keys
            .iter()
            .map(|k| fold_keys.iter().position(|f| f == k))
            .collect();
        out.extend(rows.into_iter().map(|mut r| {
            r.detail = at
                .iter()
                .map(|p| p.map_or(f64::NAN, |p| r.detail[p]))
                .collect();
            r
        }));
    }
    (keys, out)
}
