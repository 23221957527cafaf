//! `LocalBaseline`: a plain logistic regression on one party's own features and labels,
//! no federation: the baseline a federated model should beat.
//!
//! FATE 1.x passes `model_opts` to scikit-learn's `LogisticRegression`; here the same
//! options define the same objective, minimised by our own L-BFGS:
//!
//! - binary, or `multi_class` `ovr` (one binary model per class, class against the
//!   rest): `C · Σ logloss + ½‖w‖²` per model (`penalty` `l2`), or `C · Σ logloss`
//!   (`penalty` `none`); the intercept is not penalised;
//! - `multi_class` `multinomial` (and `auto` above two classes unless `solver` is
//!   `liblinear`, as scikit-learn decides): the softmax loss over all classes at once.
//!
//! `tol` stops when the largest gradient component is at most `tol` (scipy's `pgtol`),
//! `max_iter` bounds the iterations; `is_converged` is `iters < max_iter`, as FATE
//! reports it. Every `solver` is accepted and fitted this way (the log says so), so a run
//! stopped early by a small `max_iter` differs from scikit-learn's; converged runs reach
//! the same optimum. Options with no effect on a deterministic fit (`random_state`,
//! `verbose`, `n_jobs`, `warm_start` without an earlier fit) are accepted; `penalty` `l1`
//! and `elasticnet`, `dual`, `class_weight` and `intercept_scaling` other than 1 are
//! refused, naming the option.
//!
//! The table is copied once to the task's scratch space and every pass reads it block by
//! block (the linear family's `Dataset`), so memory does not grow with the rows.
//!
//! Outputs: the predictions of the training rows (FATE's prediction columns; binary:
//! `predict_score` the probability of the larger class; several classes: the probability
//! of each in `predict_detail`), FATE's `LRModelMeta` / `LRModelParam` (several classes:
//! `one_vs_rest_result`, one weight set per class), and the summary
//! (`coef`, `intercept`, `is_converged`, `iters`, `one_vs_rest`). With a
//! `LocalBaseline` model among the model inputs and `test_data`, the model predicts.

use std::collections::BTreeMap;

use fateflow_domain::module::Kind::{Bool, Number, Object, Str};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param, OBJ};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, ComponentModel, TaskContext};
use crate::error::{Error, Result};
use crate::linear::dataset::Dataset;
use crate::linear::{LinearModelParam, OneVsRestResult, SingleModel};
use crate::params::Params;
use crate::predict_output::{class_key, multi_class_row, DataType, PredictRow, PredictWriter};

/// The module name recorded in the model.
pub const MODULE: &str = "LocalBaseline";

const LOCAL_BASELINE_PARAMS: &[Param] = &[
    param("model_name", Str, "\"LogisticRegression\"", true),
    param("model_opts", Object, "null", true),
    param("predict_param", Object, OBJ, true),
    param("predict_param.threshold", Number, "0.5", true),
    param("need_run", Bool, "true", true),
];

/// `LocalBaseline`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[LOCAL_BASELINE_PARAMS],
    conditions: &[],
    supported: &[("model_name", &["LogisticRegression"])],
};

/// Rows per block read from the scratch copy.
const BLOCK_ROWS: usize = 8192;

/// Gradient pairs kept by L-BFGS (scipy's default `maxcor`).
const HISTORY: usize = 10;

/// How the classes are modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiClass {
    /// `auto`: scikit-learn's choice by solver and class count.
    Auto,
    /// One binary model per class.
    Ovr,
    /// One softmax model.
    Multinomial,
}

/// `model_opts`, scikit-learn's `LogisticRegression` arguments, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOpts {
    /// `penalty`: `l2` (true) or `none` (false).
    pub l2: bool,
    /// The text of `penalty`, as FATE's meta records it.
    pub penalty: String,
    /// `tol`.
    pub tol: f64,
    /// `C`.
    pub c: f64,
    /// `fit_intercept`.
    pub fit_intercept: bool,
    /// `solver`.
    pub solver: String,
    /// `max_iter`.
    pub max_iter: usize,
    /// `multi_class`.
    pub multi_class: MultiClass,
}

const SOLVERS: &[&str] = &[
    "lbfgs",
    "newton-cg",
    "newton-cholesky",
    "liblinear",
    "sag",
    "saga",
];

impl ModelOpts {
    fn parse(opts: &Map<String, Value>) -> Result<Self> {
        let name = |k: &str| format!("model_opts.{k}");
        let num = |k: &str, default: f64| -> Result<f64> {
            match opts.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v.as_f64().ok_or_else(|| {
                    Error::param(
                        name(k),
                        format!("expected a number, found {}", describe_value(v)),
                    )
                }),
            }
        };
        let text = |k: &str, default: &str| -> Result<String> {
            match opts.get(k) {
                None => Ok(default.into()),
                Some(Value::Null) => Ok("none".into()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(v) => Err(Error::param(
                    name(k),
                    format!("expected a string, found {}", describe_value(v)),
                )),
            }
        };
        let flag = |k: &str, default: bool| -> Result<bool> {
            match opts.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(v) => Err(Error::param(
                    name(k),
                    format!("expected true or false, found {}", describe_value(v)),
                )),
            }
        };
        const KNOWN: &[&str] = &[
            "penalty",
            "dual",
            "tol",
            "C",
            "fit_intercept",
            "intercept_scaling",
            "class_weight",
            "random_state",
            "solver",
            "max_iter",
            "multi_class",
            "verbose",
            "warm_start",
            "n_jobs",
            "l1_ratio",
        ];
        if let Some(k) = opts.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(Error::param(
                name(k),
                format!(
                    "not an option of LogisticRegression (options: {})",
                    KNOWN.join(", ")
                ),
            ));
        }
        let penalty = text("penalty", "l2")?;
        let l2 = match penalty.to_ascii_lowercase().as_str() {
            "l2" => true,
            "none" => false,
            other => {
                return Err(Error::Unsupported {
                    parameter: name("penalty"),
                    value: other.into(),
                    supported: "l2, none".into(),
                })
            }
        };
        if flag("dual", false)? {
            return Err(Error::Unsupported {
                parameter: name("dual"),
                value: "true".into(),
                supported: "false".into(),
            });
        }
        if num("intercept_scaling", 1.0)? != 1.0 {
            return Err(Error::Unsupported {
                parameter: name("intercept_scaling"),
                value: opts["intercept_scaling"].to_string(),
                supported: "1".into(),
            });
        }
        if opts.get("class_weight").is_some_and(|v| !v.is_null()) {
            return Err(Error::Unsupported {
                parameter: name("class_weight"),
                value: opts["class_weight"].to_string(),
                supported: "null".into(),
            });
        }
        let c = num("C", 1.0)?;
        if c.is_nan() || c <= 0.0 {
            return Err(Error::param(
                name("C"),
                format!("expected a positive number, found {c}"),
            ));
        }
        let tol = num("tol", 1e-4)?;
        if tol.is_nan() || tol < 0.0 {
            return Err(Error::param(
                name("tol"),
                format!("expected a number ≥ 0, found {tol}"),
            ));
        }
        let max_iter = num("max_iter", 100.0)?;
        if !(max_iter >= 1.0 && max_iter == max_iter.trunc()) {
            return Err(Error::param(
                name("max_iter"),
                format!("expected a positive integer, found {max_iter}"),
            ));
        }
        let solver = text("solver", "lbfgs")?;
        if !SOLVERS.contains(&solver.as_str()) {
            return Err(Error::param(
                name("solver"),
                format!(
                    "`{solver}` is not a solver (solvers: {})",
                    SOLVERS.join(", ")
                ),
            ));
        }
        let multi_class = match text("multi_class", "auto")?.as_str() {
            "auto" => MultiClass::Auto,
            "ovr" => MultiClass::Ovr,
            "multinomial" if solver == "liblinear" => {
                return Err(Error::param(
                    name("multi_class"),
                    "liblinear does not fit multinomial models (scikit-learn's rule)",
                ))
            }
            "multinomial" => MultiClass::Multinomial,
            other => {
                return Err(Error::param(
                    name("multi_class"),
                    format!("`{other}` is not one of auto, ovr, multinomial"),
                ))
            }
        };
        Ok(ModelOpts {
            l2,
            penalty,
            tol,
            c,
            fit_intercept: flag("fit_intercept", true)?,
            solver,
            max_iter: max_iter as usize,
            multi_class,
        })
    }

    /// Whether `classes` classes are fitted as one softmax model.
    fn multinomial(&self, classes: usize) -> bool {
        match self.multi_class {
            MultiClass::Multinomial => true,
            MultiClass::Ovr => false,
            MultiClass::Auto => classes > 2 && self.solver != "liblinear",
        }
    }
}

/// Every `LocalBaseline` parameter, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalBaselineParam {
    /// `model_opts`.
    pub opts: ModelOpts,
    /// `predict_param.threshold`.
    pub threshold: f64,
}

impl LocalBaselineParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let model = p.get_str("model_name")?;
        if !model.eq_ignore_ascii_case("LogisticRegression") {
            return Err(Error::Unsupported {
                parameter: "model_name".into(),
                value: model.into(),
                supported: "LogisticRegression".into(),
            });
        }
        let opts = match p.value("model_opts") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(v) => {
                return Err(Error::param(
                    "model_opts",
                    format!(
                        "expected an object of LogisticRegression options, found {}",
                        describe_value(v)
                    ),
                ))
            }
        };
        let predict = p.object_or_empty("predict_param")?;
        let threshold = predict.float("threshold", 0.5)?;
        Ok(LocalBaselineParam {
            opts: ModelOpts::parse(&opts)?,
            threshold,
        })
    }
}

/// FATE's `LRModelMeta` as LocalBaseline fills it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// `model_opts.penalty`.
    pub penalty: String,
    /// `model_opts.tol`.
    pub tol: f64,
    /// `model_opts.fit_intercept`.
    pub fit_intercept: bool,
    /// `model_opts.solver`.
    pub optimizer: String,
    /// More than two classes.
    pub need_one_vs_rest: bool,
    /// `model_opts.max_iter`.
    pub max_iter: usize,
    /// `{"threshold": ...}`.
    pub predict_param: Value,
    /// Ours: whether the classes were fitted as one softmax model (`predict_proba` then
    /// takes the softmax; otherwise the normalised sigmoids, as scikit-learn).
    #[serde(default)]
    pub multinomial: bool,
}

/// FATE's `LocalBaseline` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalBaseline;

impl Component for LocalBaseline {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        if let Some(input) = ctx.models_of(MODULE).next() {
            let invalid = |reason: String| Error::InvalidModel {
                component: input.component.clone(),
                alias: input.alias.clone(),
                module: MODULE.into(),
                reason,
            };
            let (param, meta): (LinearModelParam, ModelMeta) =
                input.model.parts().map_err(|e| invalid(e.to_string()))?;
            let fitted = Fitted::of_model(&param, &meta).map_err(invalid)?;
            let data =
                Dataset::read(ctx, &["test_data", "data", "train_data"])?.ok_or_else(|| {
                    Error::MissingInput {
                        component: MODULE.into(),
                        what: "data to predict (input key `test_data`)".into(),
                    }
                })?;
            let data = data.select(&param.header)?;
            predict(ctx, &data, &fitted, DataType::Test)?;
            return ctx
                .tracker
                .save_model(ctx.first_output_model_name("model"), &input.model);
        }
        let param = LocalBaselineParam::parse(&ctx.parameters)?;
        let data =
            Dataset::read(ctx, &["train_data", "data"])?.ok_or_else(|| Error::MissingInput {
                component: MODULE.into(),
                what: "training data (input key `train_data`)".into(),
            })?;
        if data.n() == 0 {
            return Err(Error::EmptyTable {
                table: data.table.clone(),
                component: MODULE.into(),
            });
        }
        if !data.has_label() {
            return Err(Error::MissingInput {
                component: MODULE.into(),
                what: format!(
                    "a label column in {} (DataTransform with `with_label: true`; a party without labels sets `need_run: false`)",
                    data.table
                ),
            });
        }
        let mut classes: Vec<f64> = Vec::new();
        data.for_each_label(|_, y| {
            if !classes.contains(&y) {
                if classes.len() == 1000 {
                    return Err(Error::param(
                        "train_data",
                        format!("the label of {} has more than 1000 classes", data.table),
                    ));
                }
                classes.push(y);
            }
            Ok(())
        })?;
        classes.sort_by(f64::total_cmp);
        if classes.len() < 2 {
            return Err(Error::param(
                "train_data",
                format!(
                    "the label of {} has one class only; a classifier needs two",
                    data.table
                ),
            ));
        }
        let o = &param.opts;
        let multinomial = o.multinomial(classes.len());
        ctx.tracker.info(&format!(
            "local_baseline: logistic regression on {} ({} rows × {} features, {} classes, {}), penalty {}, C {}, solver {} (fitted with L-BFGS), max_iter {}, tol {}",
            data.table,
            data.n(),
            data.k,
            classes.len(),
            if multinomial { "multinomial" } else if classes.len() > 2 { "one vs rest" } else { "binary" },
            o.penalty,
            o.c,
            o.solver,
            o.max_iter,
            o.tol
        ));
        let (rows, iters) = if multinomial {
            fit_multinomial(&data, &classes, o)?
        } else if classes.len() == 2 {
            let (w, iters) = fit_binary(&data, classes[1], o)?;
            (vec![w], iters)
        } else {
            let mut rows = Vec::with_capacity(classes.len());
            let mut iters = 0;
            for &c in &classes {
                let (w, it) = fit_binary(&data, c, o)?;
                rows.push(w);
                iters = iters.max(it);
            }
            (rows, iters)
        };
        let fitted = Fitted {
            // Two classes in one softmax were folded into one binary row.
            multinomial: multinomial && classes.len() > 2,
            classes: classes.clone(),
            rows,
            iters,
            k: data.k,
            threshold: param.threshold,
        };
        predict(ctx, &data, &fitted, DataType::Train)?;
        let (model_param, summary) = fitted.model(&data.header, o);
        let meta = ModelMeta {
            penalty: o.penalty.clone(),
            tol: o.tol,
            fit_intercept: o.fit_intercept,
            optimizer: o.solver.clone(),
            need_one_vs_rest: classes.len() > 2,
            max_iter: o.max_iter,
            predict_param: json!({"threshold": param.threshold}),
            multinomial: fitted.multinomial,
        };
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &ComponentModel::from_parts(MODULE, &model_param, &meta),
        )?;
        ctx.tracker.set_summary(summary)
    }
}

/// A fitted model: one weight row (features, then the intercept) per class (one row in
/// total for a binary model: the larger class against the smaller).
#[derive(Debug, Clone, PartialEq)]
struct Fitted {
    classes: Vec<f64>,
    rows: Vec<Vec<f64>>,
    iters: usize,
    multinomial: bool,
    k: usize,
    threshold: f64,
}

impl Fitted {
    fn of_model(p: &LinearModelParam, meta: &ModelMeta) -> std::result::Result<Fitted, String> {
        let row = |weight: &BTreeMap<String, f64>,
                   intercept: f64|
         -> std::result::Result<Vec<f64>, String> {
            let mut r = Vec::with_capacity(p.header.len() + 1);
            for h in &p.header {
                r.push(
                    *weight
                        .get(h)
                        .ok_or_else(|| format!("no weight for `{h}`"))?,
                );
            }
            r.push(intercept);
            Ok(r)
        };
        let threshold = meta
            .predict_param
            .get("threshold")
            .and_then(Value::as_f64)
            .unwrap_or(0.5);
        match &p.one_vs_rest_result {
            Some(ovr) => {
                let classes = ovr
                    .one_vs_rest_classes
                    .iter()
                    .map(|c| {
                        c.parse::<f64>()
                            .map_err(|_| format!("class `{c}` is not a number"))
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let rows = ovr
                    .completed_models
                    .iter()
                    .map(|m| row(&m.weight, m.intercept))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Fitted {
                    classes,
                    rows,
                    iters: 0,
                    multinomial: meta.multinomial,
                    k: p.header.len(),
                    threshold,
                })
            }
            None => Ok(Fitted {
                classes: vec![0.0, 1.0],
                rows: vec![row(&p.weight, p.intercept)?],
                iters: p.iters,
                multinomial: false,
                k: p.header.len(),
                threshold,
            }),
        }
    }

    /// The probability of each class (binary: of the larger class only).
    fn proba(&self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        let z = |r: &[f64]| dot(&r[..self.k], x) + r[self.k];
        if self.rows.len() == 1 {
            out.push(sigmoid(z(&self.rows[0])));
            return;
        }
        out.extend(self.rows.iter().map(|r| z(r)));
        if self.multinomial {
            softmax(out);
        } else {
            out.iter_mut().for_each(|v| *v = sigmoid(*v));
            let s: f64 = out.iter().sum();
            if s > 0.0 {
                out.iter_mut().for_each(|v| *v /= s);
            }
        }
    }

    fn model(&self, header: &[String], o: &ModelOpts) -> (LinearModelParam, Value) {
        let converged = self.iters < o.max_iter;
        let weights = |r: &[f64]| -> BTreeMap<String, f64> {
            header
                .iter()
                .cloned()
                .zip(r[..self.k].iter().copied())
                .collect()
        };
        let intercept = |r: &[f64]| if o.fit_intercept { r[self.k] } else { 0.0 };
        if self.rows.len() == 1 {
            let r = &self.rows[0];
            let p = LinearModelParam {
                iters: self.iters,
                loss_history: Vec::new(),
                is_converged: converged,
                header: header.to_vec(),
                weight: weights(r),
                intercept: intercept(r),
                best_iteration: None,
                need_one_vs_rest: false,
                encrypted_weight: None,
                guest_key_table: None,
                one_vs_rest_result: None,
            };
            let summary = json!({
                "coef": weights(r),
                "intercept": intercept(r),
                "is_converged": converged,
                "iters": self.iters,
                "one_vs_rest": false,
            });
            return (p, summary);
        }
        let mut summary = Map::new();
        let completed_models = self
            .rows
            .iter()
            .zip(&self.classes)
            .map(|(r, &c)| {
                summary.insert(
                    class_key(c),
                    json!({"coef": weights(r), "intercept": intercept(r), "is_converged": converged, "iters": self.iters}),
                );
                SingleModel {
                    iters: self.iters,
                    loss_history: Vec::new(),
                    is_converged: converged,
                    weight: weights(r),
                    intercept: intercept(r),
                    header: header.to_vec(),
                    best_iteration: None,
                    encrypted_weight: None,
                    guest_key_table: None,
                }
            })
            .collect();
        summary.insert("one_vs_rest".into(), json!(true));
        let p = LinearModelParam {
            iters: self.iters,
            loss_history: Vec::new(),
            is_converged: converged,
            header: header.to_vec(),
            weight: BTreeMap::new(),
            intercept: 0.0,
            best_iteration: None,
            encrypted_weight: None,
            guest_key_table: None,
            need_one_vs_rest: true,
            one_vs_rest_result: Some(OneVsRestResult {
                completed_models,
                one_vs_rest_classes: self.classes.iter().map(|&c| class_key(c)).collect(),
            }),
        };
        (p, Value::Object(summary))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn softmax(z: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    z.iter_mut().for_each(|v| *v /= s);
}

/// Writes the predictions of every row of `data`.
fn predict(ctx: &TaskContext<'_>, data: &Dataset, m: &Fitted, kind: DataType) -> Result<()> {
    let binary = m.rows.len() == 1;
    let keys: Vec<String> = if binary {
        vec!["0".into(), "1".into()]
    } else {
        m.classes.iter().map(|&c| class_key(c)).collect()
    };
    let mut out = PredictWriter::create(ctx, &data.sid_name, &data.table, &keys)?;
    let mut p = Vec::new();
    for (start, end) in data.spans(BLOCK_ROWS) {
        let block = data.range(start, end)?;
        let sids = data.sid_range(start, end)?;
        for (i, sid) in sids.into_iter().enumerate() {
            let label = block.y.as_ref().map_or(f64::NAN, |y| y[i]);
            m.proba(block.x(i), &mut p);
            let row = if binary {
                let score = p[0];
                PredictRow {
                    sid,
                    label,
                    predict_result: if score > m.threshold {
                        m.classes[1]
                    } else {
                        m.classes[0]
                    },
                    predict_score: score,
                    data_type: kind,
                    detail: vec![1.0 - score, score],
                }
            } else {
                multi_class_row(sid, label, &m.classes, &p, kind)
            };
            out.push(row)?;
        }
    }
    out.finish()
}

/// Objective and gradient of a problem over the data, evaluated by one pass.
trait Objective {
    fn dim(&self) -> usize;
    fn eval(&self, w: &[f64], grad: &mut [f64]) -> Result<f64>;
}

/// Binary logistic loss of `class` against the rest.
struct Binary<'a> {
    data: &'a Dataset,
    positive: f64,
    c: f64,
    l2: bool,
    intercept: bool,
}

impl Objective for Binary<'_> {
    fn dim(&self) -> usize {
        self.data.k + 1
    }

    fn eval(&self, w: &[f64], g: &mut [f64]) -> Result<f64> {
        let k = self.data.k;
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        for (start, end) in self.data.spans(BLOCK_ROWS) {
            let block = self.data.range(start, end)?;
            let y = block.y.as_ref().expect("labelled");
            for (i, &label) in y.iter().enumerate() {
                let x = block.x(i);
                let z = dot(&w[..k], x) + if self.intercept { w[k] } else { 0.0 };
                let t = if label == self.positive { 1.0 } else { 0.0 };
                // logloss = softplus(z) − t·z; its derivative σ(z) − t.
                loss += softplus(z) - t * z;
                let d = sigmoid(z) - t;
                for (gj, xj) in g[..k].iter_mut().zip(x) {
                    *gj += d * xj;
                }
                if self.intercept {
                    g[k] += d;
                }
            }
        }
        loss *= self.c;
        g.iter_mut().for_each(|v| *v *= self.c);
        if self.l2 {
            for j in 0..k {
                loss += 0.5 * w[j] * w[j];
                g[j] += w[j];
            }
        }
        Ok(loss)
    }
}

/// Softmax loss over `classes`, weights class-major (features, then intercept).
struct Softmax<'a> {
    data: &'a Dataset,
    classes: &'a [f64],
    c: f64,
    l2: bool,
    intercept: bool,
}

impl Objective for Softmax<'_> {
    fn dim(&self) -> usize {
        (self.data.k + 1) * self.classes.len()
    }

    fn eval(&self, w: &[f64], g: &mut [f64]) -> Result<f64> {
        let k = self.data.k;
        let width = k + 1;
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        let mut z = vec![0.0; self.classes.len()];
        for (start, end) in self.data.spans(BLOCK_ROWS) {
            let block = self.data.range(start, end)?;
            let y = block.y.as_ref().expect("labelled");
            for (i, &label) in y.iter().enumerate() {
                let x = block.x(i);
                for (c, zc) in z.iter_mut().enumerate() {
                    let r = &w[c * width..(c + 1) * width];
                    *zc = dot(&r[..k], x) + if self.intercept { r[k] } else { 0.0 };
                }
                let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                let t = self
                    .classes
                    .iter()
                    .position(|&c| c == label)
                    .expect("a class");
                loss += lse - z[t];
                for (c, &zc) in z.iter().enumerate() {
                    let d = (zc - lse).exp() - if c == t { 1.0 } else { 0.0 };
                    let gr = &mut g[c * width..(c + 1) * width];
                    for (gj, xj) in gr[..k].iter_mut().zip(x) {
                        *gj += d * xj;
                    }
                    if self.intercept {
                        gr[k] += d;
                    }
                }
            }
        }
        loss *= self.c;
        g.iter_mut().for_each(|v| *v *= self.c);
        if self.l2 {
            for c in 0..self.classes.len() {
                for j in 0..k {
                    let wj = w[c * width + j];
                    loss += 0.5 * wj * wj;
                    g[c * width + j] += wj;
                }
            }
        }
        Ok(loss)
    }
}

fn fit_binary(data: &Dataset, positive: f64, o: &ModelOpts) -> Result<(Vec<f64>, usize)> {
    let problem = Binary {
        data,
        positive,
        c: o.c,
        l2: o.l2,
        intercept: o.fit_intercept,
    };
    lbfgs(&problem, o.max_iter, o.tol)
}

/// One weight row per class (one row in all for two classes), and the iterations run.
fn fit_multinomial(
    data: &Dataset,
    classes: &[f64],
    o: &ModelOpts,
) -> Result<(Vec<Vec<f64>>, usize)> {
    let problem = Softmax {
        data,
        classes,
        c: o.c,
        l2: o.l2,
        intercept: o.fit_intercept,
    };
    let (w, iters) = lbfgs(&problem, o.max_iter, o.tol)?;
    let width = data.k + 1;
    let mut rows: Vec<Vec<f64>> = w.chunks(width).map(<[f64]>::to_vec).collect();
    if classes.len() == 2 {
        // Two classes in one softmax: the larger class's margin over the smaller.
        let diff = rows[1].iter().zip(&rows[0]).map(|(a, b)| a - b).collect();
        rows = vec![diff];
    }
    Ok((rows, iters))
}

/// Minimises `f` from zero by L-BFGS with a backtracking (Armijo) line search; stops
/// when the largest gradient component is at most `tol`, when the objective stops
/// decreasing (scipy's `factr` test at its default), or after `max_iter` iterations.
/// Returns the point and the iterations run.
fn lbfgs(f: &dyn Objective, max_iter: usize, tol: f64) -> Result<(Vec<f64>, usize)> {
    let n = f.dim();
    let mut x = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut fx = f.eval(&x, &mut g)?;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut iters = 0;
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    while iters < max_iter && max_abs(&g) > tol {
        // Two-loop recursion: d = −H·g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dot(y, s);
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push((a, rho));
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / max_abs(&g).max(1.0),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut d: Vec<f64> = q.into_iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from the gradient.
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            let f_new = f.eval(&x_new, &mut g_new)?;
            if f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
                let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
                if dot(&s, &y) > 1e-10 {
                    s_hist.push(s);
                    y_hist.push(y);
                    if s_hist.len() > HISTORY {
                        s_hist.remove(0);
                        y_hist.remove(0);
                    }
                }
                let decrease = (fx - f_new) / fx.abs().max(f_new.abs()).max(1.0);
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                fx = f_new;
                accepted = true;
                iters += 1;
                if decrease <= 2.220446049250313e-9 {
                    return Ok((x, iters));
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    Ok((x, iters))
}

#[cfg(test)]
mod tests;
