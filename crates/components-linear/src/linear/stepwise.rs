//! Stepwise feature selection (FATE's `stepwise_param` of HeteroLR, HeteroLinR and
//! HeteroPoisson): models are trained on subsets of the guest's and the host's features,
//! scored by AIC or BIC at the arbiter, and the best subset of each step is the start of
//! the next.
//!
//! Every party walks the same steps. A model is named by its mask, the host's features
//! then the guest's as `0`/`1`. Step 0 trains the full model (`backward`, `both`) or
//! records the intercept-only model (`forward`, scored by the guest only, as FATE). Each
//! later step trains every model one feature away from the current mask (dropping one:
//! backward; adding one: forward; both: both) that was not trained before; the arbiter
//! scores each by `k·dfe + 2·n·loss` (LinR: `k·dfe + n·ln(2·loss)`, FATE's `IC_Approx`),
//! with `k = 2` (AIC) or `ln n` (BIC), `dfe` the features in the mask plus the
//! intercept, `loss` the model's final loss; it sends the best mask to the parties.
//! Stepwise stops when the mask does not change, is the full model, reaches `nvmin` or
//! `nvmax`, or after `max_step` steps. Each party then keeps the best mask's model and
//! scores the training data with it.
//!
//! The models are trained without validation data (as FATE's steps) and one after the
//! other, each under the run id `step<n>.model<m>`. One host, binary labels for
//! HeteroLR, no warm start.

use std::collections::HashMap;

use fateflow_domain::{Party, Role};
use fateflow_federation::FederationExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dataset::Dataset;
use super::param::Task;
use super::train::{fit_arbiter, fit_guest, fit_host, FitResult, Roles};
use super::Fitting;
use crate::context::{Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;

/// The information criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Score {
    Aic,
    Bic,
}

/// FATE's `StepwiseParam` when `need_stepwise` is true.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepwiseParam {
    pub(crate) score: Score,
    pub(crate) direction: &'static str,
    pub(crate) max_step: usize,
    pub(crate) nvmin: usize,
    pub(crate) nvmax: Option<usize>,
}

impl StepwiseParam {
    /// `stepwise_param`, `None` unless `need_stepwise`.
    pub(crate) fn parse(p: &Params<'_>) -> Result<Option<StepwiseParam>> {
        let Some(sp) = p.object("stepwise_param")? else {
            return Ok(None);
        };
        if !sp.bool("need_stepwise", false)? {
            return Ok(None);
        }
        let lower = |key: &str, default: &str, allowed: &[&'static str]| -> Result<&'static str> {
            let v = sp.str(key, default)?.to_ascii_lowercase();
            allowed.iter().copied().find(|a| *a == v).ok_or_else(|| {
                Error::param(
                    sp.name(key),
                    format!("`{v}` is not one of {}", allowed.join(", ")),
                )
            })
        };
        let score = match lower("score_name", "AIC", &["aic", "bic"])? {
            "bic" => Score::Bic,
            _ => Score::Aic,
        };
        let direction = lower("direction", "both", &["forward", "backward", "both"])?;
        lower("mode", "hetero", &["hetero"])?;
        lower("role", "guest", &["guest", "host", "arbiter"])?;
        let positive = |key: &str, default: i64| -> Result<usize> {
            match sp.int(key, default)? {
                n if n > 0 => Ok(n as usize),
                n => Err(Error::param(
                    sp.name(key),
                    format!("expected a positive integer, found {n}"),
                )),
            }
        };
        let max_step = positive("max_step", 10)?;
        let nvmin = positive("nvmin", 2)?;
        if nvmin < 2 {
            return Err(Error::param(
                sp.name("nvmin"),
                format!("must be at least 2, found {nvmin}"),
            ));
        }
        let nvmax = match sp.value("nvmax") {
            None | Some(Value::Null) => None,
            Some(_) => Some(positive("nvmax", 0)?),
        };
        if let Some(max) = nvmax {
            if nvmin > max {
                return Err(Error::param(
                    sp.name("nvmax"),
                    format!("must be at least nvmin ({nvmin}), found {max}"),
                ));
            }
        }
        Ok(Some(StepwiseParam {
            score,
            direction,
            max_step,
            nvmin,
            nvmax,
        }))
    }

    fn forward(&self) -> bool {
        self.direction != "backward"
    }

    fn backward(&self) -> bool {
        self.direction != "forward"
    }
}

/// What a party tells the others about its training data.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DataInfo {
    rows: usize,
    features: usize,
    anonymous: Vec<String>,
}

/// A model's mask: the host's features, then the guest's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mask {
    host: Vec<bool>,
    guest: Vec<bool>,
}

impl Mask {
    fn key(&self) -> String {
        self.host
            .iter()
            .chain(&self.guest)
            .map(|&b| if b { '1' } else { '0' })
            .collect()
    }

    fn of_key(key: &str, j_host: usize) -> Mask {
        let bits: Vec<bool> = key.chars().map(|c| c == '1').collect();
        Mask {
            host: bits[..j_host.min(bits.len())].to_vec(),
            guest: bits[j_host.min(bits.len())..].to_vec(),
        }
    }

    fn count(&self) -> usize {
        self.host.iter().chain(&self.guest).filter(|&&b| b).count()
    }

    fn is_full(&self) -> bool {
        self.host.iter().chain(&self.guest).all(|&b| b)
    }
}

/// Masks with one set bit of `m` cleared, leaving at least one set.
fn drop_one(m: &[bool]) -> Vec<Vec<bool>> {
    (0..m.len())
        .filter(|&i| m[i])
        .map(|i| {
            let mut n = m.to_vec();
            n[i] = false;
            n
        })
        .filter(|n| n.iter().any(|&b| b))
        .collect()
}

/// Masks with one clear bit of `m` set.
fn add_one(m: &[bool]) -> Vec<Vec<bool>> {
    (0..m.len())
        .filter(|&i| !m[i])
        .map(|i| {
            let mut n = m.to_vec();
            n[i] = true;
            n
        })
        .collect()
}

/// The candidate masks of step `step` from `current`, in FATE's order.
fn candidates(sw: &StepwiseParam, step: usize, current: &Mask) -> Vec<Mask> {
    let mut out = Vec::new();
    let around = |out: &mut Vec<Mask>, host: Vec<Vec<bool>>, guest: Vec<Vec<bool>>| {
        out.extend(host.into_iter().map(|h| Mask {
            host: h,
            guest: current.guest.clone(),
        }));
        out.extend(guest.into_iter().map(|g| Mask {
            host: current.host.clone(),
            guest: g,
        }));
    };
    if sw.backward() {
        if step == 0 {
            out.push(current.clone());
        } else {
            around(&mut out, drop_one(&current.host), drop_one(&current.guest));
        }
    }
    if sw.forward() {
        if current.count() == 0 {
            if step == 0 {
                out.push(current.clone());
            } else {
                for h in add_one(&current.host) {
                    for g in add_one(&current.guest) {
                        out.push(Mask {
                            host: h.clone(),
                            guest: g,
                        });
                    }
                }
            }
        } else {
            around(&mut out, add_one(&current.host), add_one(&current.guest));
        }
    }
    out
}

/// FATE's `check_stop`.
fn should_stop(sw: &StepwiseParam, step: usize, new: &Mask, old: &Mask) -> bool {
    if step == 0 {
        return false;
    }
    if new == old || new.is_full() {
        return true;
    }
    let (n_new, n_old) = (new.count(), old.count());
    if n_new == sw.nvmin && n_old >= sw.nvmin {
        return true;
    }
    if let Some(max) = sw.nvmax {
        if n_new == max && n_old <= max {
            return true;
        }
    }
    step >= sw.max_step
}

/// The criterion of a model with `dfe` degrees of freedom and final `loss` on `n` rows.
fn criterion(task: Task, score: Score, n: usize, dfe: usize, loss: f64) -> f64 {
    let k = match score {
        Score::Aic => 2.0,
        Score::Bic => (n as f64).ln(),
    };
    match task {
        // FATE's `IC_Approx` for linear regression.
        Task::Linear => k * dfe as f64 + n as f64 * (2.0 * loss).ln(),
        _ => k * dfe as f64 + 2.0 * n as f64 * loss,
    }
}

/// The intercept-only model's loss, as FATE computes it with scikit-learn: half the
/// mean squared error around the mean (LinR, Poisson), or the log loss of predicting
/// the majority class outright, probabilities clipped at 1e-15 (LR).
fn intercept_only_loss(task: Task, y: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    match task {
        Task::Logistic => {
            let ones = y.iter().filter(|&&v| v == 1.0).count() as f64;
            let minority = ones.min(n - ones);
            minority / n * -(1e-15f64.ln())
        }
        _ => {
            let mean = y.iter().sum::<f64>() / n;
            y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n / 2.0
        }
    }
}

/// A trained model of a step, as each party keeps it.
struct Trained {
    fit: Option<FitResult>,
    /// The arbiter's (or, for the intercept-only model, the guest's) loss and criterion.
    score: Option<(f64, f64)>,
}

/// Runs stepwise at this party (`train`: the guest's or host's data; none at the
/// arbiter) and saves the best model and, at guest and host, its predictions.
pub(crate) fn run(
    fitting: &Fitting<'_>,
    sw: &StepwiseParam,
    train: Option<&Dataset>,
) -> Result<()> {
    let (ctx, task, param, roles) = (fitting.ctx, fitting.task, fitting.param, fitting.roles);
    let fed = ctx.federation()?;
    let (Some(arbiter), [host]) = (roles.arbiter, roles.hosts.as_slice()) else {
        return Err(Error::param(
            "stepwise_param.need_stepwise",
            "stepwise needs one host and an arbiter (the arbiter scores the models), as FATE",
        ));
    };
    let host = *host;
    if fitting.warm.is_some() {
        return Err(Error::param(
            "stepwise_param.need_stepwise",
            "stepwise does not continue from a model input (warm start)",
        ));
    }
    // Who we are and what the others hold.
    let me = DataInfo {
        rows: train.map_or(0, Dataset::n),
        features: train.map_or(0, |t| t.k),
        anonymous: (0..train.map_or(0, |t| t.k))
            .map(|i| format!("{}_{}_x{i}", ctx.role, ctx.party_id))
            .collect(),
    };
    let tag = "stepwise";
    let (guest_info, host_info) = match ctx.role {
        Role::Guest => {
            if task == Task::Logistic && super::ovr_classes(train.expect("guest data"))?.is_some() {
                return Err(Error::param(
                    "stepwise_param.need_stepwise",
                    "stepwise with HeteroLR needs a binary label; this one has more than two classes",
                ));
            }
            fed.remote("guest_data_info", tag, &me, &[host, arbiter])?;
            let h: DataInfo = fed.get("host_data_info", tag, host)?;
            (me, h)
        }
        Role::Host => {
            fed.remote("host_data_info", tag, &me, &[roles.guest, arbiter])?;
            let g: DataInfo = fed.get("guest_data_info", tag, roles.guest)?;
            (g, me)
        }
        _ => {
            let h: DataInfo = fed.get("host_data_info", tag, host)?;
            let g: DataInfo = fed.get("guest_data_info", tag, roles.guest)?;
            (g, h)
        }
    };
    // FATE counts the rows of the party itself (the host's at the arbiter).
    let n = match ctx.role {
        Role::Arbiter => host_info.rows,
        _ => train.map_or(0, Dataset::n),
    };
    let (j_host, j_guest) = (host_info.features, guest_info.features);
    let start = sw.backward();
    let mut mask = Mask {
        host: vec![start; j_host],
        guest: vec![start; j_guest],
    };
    ctx.tracker.info(&format!(
        "stepwise ({}, {}, max_step {}, nvmin {}, nvmax {}): {j_guest} guest and {j_host} host features, {n} rows",
        match sw.score {
            Score::Aic => "AIC",
            Score::Bic => "BIC",
        },
        sw.direction,
        sw.max_step,
        sw.nvmin,
        sw.nvmax.map_or("none".into(), |v| v.to_string())
    ));
    let mut trained: HashMap<String, Trained> = HashMap::new();
    let mut summary = serde_json::Map::new();
    let mut step = 0;
    while step <= sw.max_step {
        let mut step_models = vec![mask.key()];
        let mut n_model = 0;
        for cand in candidates(sw, step, &mask) {
            let key = cand.key();
            if !step_models.contains(&key) {
                step_models.push(key.clone());
            }
            if trained.contains_key(&key) {
                continue;
            }
            // Forward from nothing: the intercept-only model is scored, not trained.
            if cand.count() == 0 {
                let score = match (ctx.role, param.fit_intercept) {
                    (Role::Guest, true) => {
                        let mut y = Vec::new();
                        train.expect("guest data").for_each_label(|_, v| {
                            y.push(v);
                            Ok(())
                        })?;
                        let loss = intercept_only_loss(task, &y);
                        Some((loss, criterion(task, sw.score, n, 1, loss)))
                    }
                    _ => None,
                };
                trained.insert(key, Trained { fit: None, score });
                continue;
            }
            let run_id = format!("step{step}.model{n_model}");
            n_model += 1;
            ctx.tracker.info(&format!(
                "stepwise step {step}, model {n_model}: mask {key} ({} features)",
                cand.count()
            ));
            let r = fitting.run(run_id, None, (0, 1));
            let (fit, score) = match ctx.role {
                Role::Guest => {
                    let data = train.expect("guest data").masked(&cand.guest);
                    (fit_guest(&r, &data, None)?, None)
                }
                Role::Host => {
                    let data = train.expect("host data").masked(&cand.host);
                    (fit_host(&r, &data)?, None)
                }
                _ => {
                    let fit = fit_arbiter(&r)?;
                    let loss = *fit.loss_history.last().ok_or_else(|| {
                        Error::param(
                            "stepwise_param.need_stepwise",
                            "the arbiter has no loss to score the model with",
                        )
                    })?;
                    let dfe = cand.count() + usize::from(param.fit_intercept);
                    let ic = criterion(task, sw.score, n, dfe, loss);
                    if !ic.is_finite() {
                        return Err(Error::param(
                            "stepwise_param.score_name",
                            format!(
                                "model {key} has criterion {ic} (loss {loss}); stepwise stopped"
                            ),
                        ));
                    }
                    (fit, Some((loss, ic)))
                }
            };
            trained.insert(
                key,
                Trained {
                    fit: Some(fit),
                    score,
                },
            );
        }
        // Forward step 0: the intercept-only model is recorded and the next step starts.
        if mask.count() == 0 && step == 0 {
            record_step(
                ctx,
                sw,
                step,
                &mask,
                &trained,
                &guest_info,
                &host_info,
                n,
                train,
                &mut summary,
            )?;
            step += 1;
            continue;
        }
        let best_key = sync_best(ctx, arbiter, roles, step, &step_models, &trained)?;
        let best = Mask::of_key(&best_key, j_host);
        if best.host.len() != j_host || best.guest.len() != j_guest {
            return Err(Error::param(
                "stepwise",
                format!("{arbiter} sent mask {best_key} for {j_host} + {j_guest} features"),
            ));
        }
        let old = std::mem::replace(&mut mask, best);
        if should_stop(sw, step, &mask, &old) {
            break;
        }
        record_step(
            ctx,
            sw,
            step,
            &mask,
            &trained,
            &guest_info,
            &host_info,
            n,
            train,
            &mut summary,
        )?;
        step += 1;
    }
    let key = mask.key();
    let fit = trained
        .remove(&key)
        .and_then(|t| t.fit)
        .ok_or_else(|| Error::param("stepwise", format!("no trained model for mask {key}")))?;
    ctx.tracker.info(&format!(
        "stepwise chose mask {key}: {} of {} features",
        mask.count(),
        j_host + j_guest
    ));
    finish(fitting, train, &mask, fit, summary)
}

/// The arbiter picks the step's best model by criterion (the first of equals, in the
/// step's order) and tells the parties; they receive it.
fn sync_best(
    ctx: &TaskContext<'_>,
    arbiter: Party,
    roles: &Roles,
    step: usize,
    step_models: &[String],
    trained: &HashMap<String, Trained>,
) -> Result<String> {
    let fed = ctx.federation()?;
    let tag = format!("stepwise.step{step}");
    if ctx.role == Role::Arbiter {
        let best = step_models
            .iter()
            .filter_map(|k| trained.get(k).and_then(|t| t.score).map(|(_, ic)| (k, ic)))
            .fold(None::<(&String, f64)>, |best, (k, ic)| match best {
                Some((_, b)) if b <= ic => best,
                _ => Some((k, ic)),
            })
            .map(|(k, _)| k.clone())
            .ok_or_else(|| Error::param("stepwise", format!("step {step} scored no model")))?;
        let mut to = vec![roles.guest];
        to.extend(roles.hosts.iter().copied());
        fed.remote("step_best", &tag, &best, &to)?;
        Ok(best)
    } else {
        Ok(fed.get("step_best", &tag, arbiter)?)
    }
}

/// FATE's `stepwise_<n>` metric (its meta says what the step chose) and summary entry.
#[allow(clippy::too_many_arguments)]
fn record_step(
    ctx: &TaskContext<'_>,
    sw: &StepwiseParam,
    step: usize,
    mask: &Mask,
    trained: &HashMap<String, Trained>,
    guest_info: &DataInfo,
    host_info: &DataInfo,
    n: usize,
    train: Option<&Dataset>,
    summary: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let t = trained.get(&mask.key());
    let (loss, ic) = match t.and_then(|t| t.score) {
        Some((l, i)) => (json!(l), json!(i)),
        None => (Value::Null, Value::Null),
    };
    let mut meta = json!({
        "metric_type": "STEPWISE",
        "host_mask": mask.host,
        "guest_mask": mask.guest,
        "score_name": match sw.score { Score::Aic => "aic", Score::Bic => "bic" },
        "number_in": mask.count(),
        "direction": sw.direction,
        "n_count": n,
        "host_features_anonym": host_info.anonymous,
        "guest_features_anonym": guest_info.anonymous,
        "loss": loss,
        "current_ic_val": ic,
    });
    let step_summary = match (ctx.role, train) {
        (Role::Arbiter, _) | (_, None) => json!({"loss": loss, "ic_val": ic}),
        (role, Some(data)) => {
            let own = if role == Role::Guest {
                &mask.guest
            } else {
                &mask.host
            };
            let names = |m: &[bool], names: &[String]| -> Vec<String> {
                m.iter()
                    .zip(names)
                    .filter(|(b, _)| **b)
                    .map(|(_, n)| n.clone())
                    .collect()
            };
            meta["all_features"] = json!(data.header);
            meta["to_enter"] = json!(own
                .iter()
                .zip(&data.header)
                .filter(|(b, _)| !**b)
                .map(|(_, n)| n)
                .collect::<Vec<_>>());
            let kept = names(own, &data.header);
            if let Some(fit) = t.and_then(|t| t.fit.as_ref()) {
                let weight: serde_json::Map<String, Value> = kept
                    .iter()
                    .zip(&fit.weights)
                    .map(|(n, w)| (n.clone(), json!(w)))
                    .collect();
                meta["weight"] = Value::Object(weight);
                meta["header"] = json!(kept);
                meta["intercept"] = json!(fit.weights.get(kept.len()).copied().unwrap_or(0.0));
            } else {
                // The intercept-only model (FATE's scikit-learn model has intercept 0).
                meta["weight"] = json!({});
                meta["header"] = json!([]);
                meta["intercept"] = json!(0.0);
            }
            let (guest_features, host_features) = if role == Role::Guest {
                (kept, names(&mask.host, &host_info.anonymous))
            } else {
                (names(&mask.guest, &guest_info.anonymous), kept)
            };
            json!({"guest_features": guest_features, "host_features": host_features})
        }
    };
    let name = format!("stepwise_{step}");
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: name.clone(),
        data: vec![(json!(name), json!(step as f64))],
        meta,
    })?;
    summary.insert(format!("step_{step}"), step_summary);
    Ok(())
}

/// Saves the chosen model and, at guest and host, scores the training data with it.
fn finish(
    fitting: &Fitting<'_>,
    train: Option<&Dataset>,
    mask: &Mask,
    fit: FitResult,
    steps: serde_json::Map<String, Value>,
) -> Result<()> {
    let ctx = fitting.ctx;
    let own = match ctx.role {
        Role::Guest => Some(&mask.guest),
        Role::Host => Some(&mask.host),
        _ => None,
    };
    let data = match (train, own) {
        (Some(t), Some(m)) => Some(t.masked(m)),
        _ => None,
    };
    let header: Vec<String> = data.as_ref().map_or_else(Vec::new, |d| d.header.clone());
    match (&data, ctx.role) {
        (Some(d), Role::Guest) => super::write_guest_predictions(fitting, d, &fit)?,
        (Some(d), Role::Host) => super::host_rows(ctx, d, &[fit.host_weights()], "final.train")?,
        _ => {}
    }
    let summary = super::fit_summary(&fit, None);
    super::save(
        ctx,
        fitting.task,
        fitting.param,
        &header,
        &[(fit, None)],
        None,
    )?;
    let mut merged = match summary {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    merged.extend(steps);
    ctx.tracker.set_summary(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(direction: &'static str) -> StepwiseParam {
        StepwiseParam {
            score: Score::Aic,
            direction,
            max_step: 10,
            nvmin: 2,
            nvmax: None,
        }
    }

    #[test]
    fn candidates_follow_fates_generators() {
        let full = Mask {
            host: vec![true, true],
            guest: vec![true],
        };
        assert_eq!(candidates(&sw("backward"), 0, &full), vec![full.clone()]);
        // Step 1 backward: drop one host feature at a time; the guest's only one stays.
        let keys: Vec<String> = candidates(&sw("backward"), 1, &full)
            .iter()
            .map(Mask::key)
            .collect();
        assert_eq!(keys, ["011", "101"]);
        let empty = Mask {
            host: vec![false, false],
            guest: vec![false],
        };
        assert_eq!(candidates(&sw("forward"), 0, &empty), vec![empty.clone()]);
        let keys: Vec<String> = candidates(&sw("forward"), 1, &empty)
            .iter()
            .map(Mask::key)
            .collect();
        assert_eq!(keys, ["101", "011"]);
        let some = Mask {
            host: vec![true, false],
            guest: vec![false],
        };
        let keys: Vec<String> = candidates(&sw("both"), 2, &some)
            .iter()
            .map(Mask::key)
            .collect();
        // Backward drops nothing (each party keeps one), forward adds one.
        assert_eq!(keys, ["110", "101"]);
    }

    #[test]
    fn criteria_and_stops_as_fate() {
        assert_eq!(
            criterion(Task::Logistic, Score::Aic, 100, 3, 0.5),
            6.0 + 100.0
        );
        let bic = criterion(Task::Poisson, Score::Bic, 100, 3, 0.5);
        assert!((bic - (3.0 * 100f64.ln() + 100.0)).abs() < 1e-12);
        let linr = criterion(Task::Linear, Score::Aic, 10, 2, 0.5);
        assert!((linr - 4.0).abs() < 1e-12, "ln(1) = 0: {linr}");
        let a = Mask {
            host: vec![true, true],
            guest: vec![true, true],
        };
        let b = Mask {
            host: vec![true, false],
            guest: vec![true, true],
        };
        let c = Mask {
            host: vec![true, false],
            guest: vec![true, false],
        };
        let p = sw("backward");
        assert!(!should_stop(&p, 0, &a, &a));
        assert!(should_stop(&p, 1, &a, &a), "unchanged");
        assert!(!should_stop(&p, 1, &b, &a));
        assert!(should_stop(&p, 2, &c, &b), "nvmin reached");
        assert!(should_stop(
            &StepwiseParam {
                max_step: 1,
                ..sw("backward")
            },
            1,
            &b,
            &a
        ));
        // The intercept-only losses.
        assert!((intercept_only_loss(Task::Linear, &[1.0, 3.0]) - 0.5).abs() < 1e-12);
        let lr = intercept_only_loss(Task::Logistic, &[1.0, 1.0, 1.0, 0.0]);
        assert!((lr - 0.25 * 34.538776394910684).abs() < 1e-9, "{lr}");
    }

    #[test]
    fn parameters_follow_fate() {
        let parse = |v: Value| {
            let map = v.as_object().unwrap().clone();
            StepwiseParam::parse(&Params::new(&map))
        };
        assert_eq!(parse(json!({})).unwrap(), None);
        assert_eq!(
            parse(json!({"stepwise_param": {"need_stepwise": false, "direction": "x"}})).unwrap(),
            None
        );
        let p = parse(json!({"stepwise_param": {"need_stepwise": true, "score_name": "BIC"}}))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.score, p.direction, p.max_step, p.nvmin),
            (Score::Bic, "both", 10, 2)
        );
        for (bad, key) in [
            (json!({"direction": "sideways"}), "direction"),
            (json!({"nvmin": 1}), "nvmin"),
            (json!({"nvmin": 3, "nvmax": 2}), "nvmax"),
            (json!({"max_step": 0}), "max_step"),
            (json!({"score_name": "aicc"}), "score_name"),
        ] {
            let mut sp = bad.as_object().unwrap().clone();
            sp.insert("need_stepwise".into(), json!(true));
            let e = parse(json!({"stepwise_param": sp}))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
