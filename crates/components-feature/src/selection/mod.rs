//! `HeteroFeatureSelection`: drop feature columns by a cascade of filters, fit then
//! transform. Guest and hosts each filter their own columns; for IV filters the guest
//! (which holds every IV, its hosts' under anonymous names) decides for the hosts too.
//!
//! # Fit (no `HeteroFeatureSelection` model among the task's model inputs)
//!
//! Parameters and defaults are FATE 1.x `FeatureSelectionParam`'s:
//!
//! - `select_col_indexes` (`-1`, every feature column) and `select_names` (`[]`): the
//!   columns the filters judge, indexes into the feature columns (label excluded) plus
//!   names. Unselected columns are always kept. `use_anonymous` (false): `select_names`
//!   and the manual filter's names are this party's anonymous names,
//!   `<role>_<party_id>_x<index>`.
//! - `filter_methods` (`["manually"]`): applied in list order, each to the selected
//!   columns the previous ones left, so a percentile is of the remaining columns.
//!   `iv_filter` and `statistic_filter` with a list of `metrics` run once per metric.
//!   Every filter keeps at least one of the columns it judges (FATE's rule): when its
//!   rule keeps none, the best one by its value (the first for `manually`) stays.
//!
//! The filters (each party runs the same list on its own columns):
//!
//! - `manually` (`manually_param`: `filter_out_indexes`, `filter_out_names`, or
//!   `left_col_indexes`, `left_col_names`, not both kinds): drops the listed columns, or
//!   every judged column not listed as left (an empty left list keeps none).
//! - `unique_value` (`unique_param.eps`, 1e-5): drops columns with `max − min < eps`
//!   (a column without values counts as constant), as FATE ≤ 1.4 (1.5+ compares the
//!   standard deviation with `eps`).
//! - `coefficient_of_variation_value_thres` (`variance_coe_param.value_threshold`,
//!   1.0): drops columns with `|stddev / mean| < value_threshold`.
//! - `outlier_cols` (`outlier_param`: `percentile` 1.0, `upper_threshold` 1.0): drops
//!   columns whose `percentile` quantile is above `upper_threshold` (FATE 1.5+; ≤ 1.4
//!   also dropped those equal to it).
//! - `percentage_value` (`percentage_value_param.upper_pct`, 1.0, at least 0.1): drops
//!   columns where one value (to 8 decimals; missing cells count as one value) fills more
//!   than `ceil(rows · upper_pct)` rows.
//! - `statistic_filter` (`statistic_param`, FATE's `CommonFilterParam`: `metrics`
//!   `mean`, `filter_type` `threshold` | `top_k` | `top_percentile`, `threshold` 1,
//!   `take_high` true): metrics `count`, `sum`, `mean`, `stddev` (or `std`), `median`,
//!   `min`, `max`, `variance`, `coefficient_of_variance`, `missing_count`,
//!   `missing_ratio`, `skewness`, `kurtosis` and quantiles `<q>%`. `threshold` keeps
//!   values `>=` it (`<=` with `take_high` false); `top_k` keeps the `threshold` best;
//!   `top_percentile` the `ceil(threshold · n)` best of the n judged columns, ties in
//!   column order.
//! - `iv_filter` (`iv_param`: the same fields, `metrics` `iv` only, `take_high` true
//!   only, plus `host_thresholds` (null: the guest's threshold; a number; or one number
//!   per host, in host order), `select_federated` true, `mul_class_merge_type`
//!   `average` | `max` | `min`): judges by the IVs of the `HeteroFeatureBinning` model among the task's
//!   `isometric_model` inputs (every party needs it). With `select_federated` the guest
//!   pools its columns and every host's (in that order) and applies the rule once,
//!   `host_thresholds` giving the host columns' thresholds, then keeps at least one
//!   column per party; without it the guest judges its own columns and hosts keep
//!   theirs. The guest's parameters decide (a host's `select_federated` and thresholds
//!   are not used).
//! - the deprecated `iv_value_thres` (`iv_value_param`: `value_threshold` 0.0,
//!   `host_thresholds`, `local_only` false), `iv_top_k` (`iv_top_k_param`: `k` 10,
//!   `local_only`) and `iv_percentile` (`iv_percentile_param`: `percentile_threshold`
//!   1.0, `local_only`): IV `>= value_threshold` (FATE 1.5+; ≤ 1.4 kept `>`), top k,
//!   and percentile keeping every column at least as good as the `ceil(p · n)`-th best,
//!   ties kept (FATE ≤ 1.4's rule; its docstring says floor, its code keeps ceil);
//!   `local_only` is `select_federated = false`.
//!
//! - `hetero_sbt_filter` and `hetero_fast_sbt_filter` (`sbt_param`: the fields of
//!   `statistic_param`, `metrics` `feature_importance` only, `take_high` true only):
//!   judge by the feature importances of the `HeteroSecureBoost` model among the
//!   task's `isometric_model` inputs, `model_name` `hetero_sbt` for the first,
//!   `hetero_fast_sbt_layered` or `hetero_fast_sbt_mix` (not both) for the second. As
//!   in FATE they are not federated: each party judges its own columns by its own copy
//!   of the model (the guest skips the entries of host features, a host reads its
//!   `hostLocal` ones; a column without an entry has importance 0, a selected column the
//!   model was not trained on fails); `select_federated` and `host_thresholds` are
//!   accepted and, as in FATE, have no effect. The run's `filter_name` is the method.
//!
//! - `psi_filter` (`psi_param`: the fields of `statistic_param`, `metrics` `psi` only,
//!   `take_high` false only): judges each party's own columns by their `total_score` in
//!   the `PSI` model among the `isometric_model` inputs (one; a selected column without
//!   a score fails); not federated, as in FATE.
//!
//! - `vif_filter` (`vif_param`: the fields of `statistic_param`, `metrics` `vif` only,
//!   `take_high` false by default, `threshold` 5.0): judges each party's own columns by
//!   the `local_vif` of the `HeteroPearson` model among the `isometric_model` inputs (a
//!   column without variance has VIF NaN and is dropped by a threshold); local, as in
//!   FATE (`host_thresholds` and `select_federated` are accepted and unused, as there).
//! - `correlation_filter` (`correlation_param`: `sort_metric` `iv` only, `threshold` 0.1,
//!   `select_federated` true): needs the `HeteroFeatureBinning` and `HeteroPearson`
//!   models among the `isometric_model` inputs. The guest orders its judged columns (and,
//!   with `select_federated`, the first host's, by anonymous name) by IV from high to
//!   low; each column not yet dropped drops every column whose `|corr|` with it is above
//!   `threshold` (its own party's by the local matrix, the other party's by the
//!   cross-party matrix). A dropped column's value is the correlation that dropped it, a
//!   kept one's 0; the keep-one rule keeps the lowest. Without `select_federated` the
//!   hosts keep all their columns.
//!
//! FATE's `homo_sbt_filter` needs a model of a module this implementation does not
//! have: it fails naming `filter_methods[i]`.
//!
//! ## IV filters across parties
//!
//! Every party first sends nothing but the positions of its IV filters (a host to the
//! guest, which checks they agree). Then, per IV filter run, each host sends the
//! anonymous names of the columns it has left to judge (from its binning model's
//! `header_anonymous`), and the guest answers each host with the names it keeps. Hosts
//! never see an IV; the guest never sees a host's real column names. A party that fails
//! tells the others only the kind of its error, so that they stop at once instead of
//! waiting.
//!
//! # Transform (a `HeteroFeatureSelection` model is among the model inputs)
//!
//! The model's kept columns are kept, nothing is refitted and no other party is
//! contacted; every kept column must be in the data (a missing one fails naming it).
//! Transforming the fitting data reproduces the fit's output.
//!
//! # Outputs
//!
//! - Output data (first output data name, default `data`): the input's sids, label and
//!   kept feature columns (in their order), values copied bit for bit, same partitions.
//! - Model (first output model name, default `model`): a [`FeatureSelectionModel`] (see
//!   [`model`] for its JSON); in transform mode the input model unchanged.
//! - Summary (fit): per filter run (FATE's `filter_name`, `_1`, `_2`... for repeats)
//!   `last_col_nums`, `left_col_nums`, `left_col_names`, `removed_col_names` over all
//!   this party's feature columns, and `all` for the whole selection.
//! - Metric (fit): namespace `train`, name `feature_selection`, one point per filter run
//!   (its name, the columns left after it), meta `{"metric_type": "FEATURE_SELECTION",
//!   "original_col_nums", "left_col_nums"}`.
//!
//! # Memory
//!
//! The table is never held whole. The statistics take one pass, record batch by record
//! batch (moments, extremes, missing counts, value frequencies); quantiles (`median`,
//! `<q>%`, `outlier_cols`) are then found exactly, the value of rank `ceil(q · n)` as a
//! sort would give it, by a radix search over the values' order keys: at most four more
//! passes, 512 KB of counters per column and quantile, no column held. The value
//! frequencies of `percentage_value` grow with the number of distinct values (rounded
//! to 8 decimals): beyond half the task's memory budget the fit fails naming them. The
//! output is written record batch by record batch.
//!
//! Departures from FATE: statistic filters are computed from the party's data, as FATE
//! ≤ 1.4's filters did (FATE 1.5+ requires a `DataStatistics` isometric model for
//! `unique_value`, `coefficient_of_variation_value_thres`, `outlier_cols` and
//! `statistic_filter` and fails without one; that module does not exist here, and its
//! values are these: missing cells left out, population variance, quantiles of rank
//! `ceil(q · n)`); ties in top-k / top-percentile go to the earlier column (FATE's order
//! among equal values is numpy's unspecified one); the keep-one rule of `manually` keeps
//! the first column (FATE picks one at random) and that of `percentage_value` the least
//! dominated one (FATE: the first); an index or name that is not a feature column fails
//! (FATE ignores it); a guest column
//! without IV, or a host column without IV in `host_results`, fails (FATE fails for the
//! first and counts the second as IV 0); with no column selected every column is kept
//! (FATE picks a random column to judge).
//!
//! A multi-class binning model (its `multi_class_result`) gives each column one IV per
//! label class; the IV filters judge by their merge, FATE's `_merge_iv`: `average` (the
//! default, and the deprecated IV filters') the mean over the classes, `max` the
//! maximum, and `min` the maximum too, as FATE 1.11 computes it (its `min` branch calls
//! `np.maximum`).

pub mod model;
pub(crate) mod param;

mod filters;

use std::collections::{BTreeMap, HashMap};

use fateflow_domain::{Party, Role};
use fateflow_federation::{Federation, FederationExt};
use fateflow_tables::{TableId, TableInfo, TableOrigin, TableSchema, WriteMode};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, Metric, ModelInput, TableRef, TaskContext};
use crate::error::{Error, ErrorKind, Result};
use crate::table_io::feature_header;
use crate::table_io::open_first_input;
use crate::table_io::percent;

use filters::{keep_one, select, ColumnStats, Needs, RankSearch};
pub use model::FeatureSelectionModel;
use model::{
    BinningView, FilterResult, HostFeatureValues, HostLeftCols, LeftCols, ModelMeta, ModelParam,
    ModelView, SbtView, BINNING_MODULE, MODULE, SBT_MODULE,
};
use param::{
    CorrelationRule, FilterKind, HostThresholds, IvRule, MergeType, Metric as StatMetric, Rule,
    SbtRule, Select, SelectionParam, Step,
};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// FATE's `HeteroFeatureSelection` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroFeatureSelection;

impl Component for HeteroFeatureSelection {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let input = Input::open(ctx)?;
        match ctx.models_of(MODULE).next() {
            Some(model) => transform(ctx, &input, model),
            None => {
                let mut link = Link::new(ctx)?;
                let result = fit(ctx, &input, &mut link);
                if let Err(e) = &result {
                    link.abort(e);
                }
                result
            }
        }
    }
}

/// The input table.
struct Input {
    id: TableId,
    info: TableInfo,
    rows: u64,
    /// The feature columns (label excluded), in order.
    header: Vec<String>,
    /// Each feature's position among the table's columns.
    positions: Vec<usize>,
}

impl Input {
    fn open(ctx: &TaskContext<'_>) -> Result<Self> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        let header = feature_header(&info.schema);
        let positions = header
            .iter()
            .map(|c| {
                info.schema
                    .column_index(c)
                    .expect("a feature is a header column")
            })
            .collect();
        Ok(Input {
            id,
            info,
            rows,
            header,
            positions,
        })
    }
}

/// A message between guest and hosts: a value, or the news that the sender failed
/// (only the kind of its error, never the cause).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply<T> {
    Ok(T),
    Failed { kind: String },
}

const PLAN: &str = "selection_plan";
const PLAN_ACK: &str = "selection_plan_ack";
const SELECT_COLS: &str = "host_select_cols";
const LEFT_COLS: &str = "result_left_cols";
const PLAN_TAG: &str = "plan";

/// Who this party talks to.
enum Peers<'a> {
    /// A guest without hosts: nobody.
    Alone,
    Guest {
        fed: &'a dyn Federation,
        hosts: Vec<Party>,
    },
    Host {
        fed: &'a dyn Federation,
        guest: Party,
    },
}

/// The data plane of a fit, and how far the exchange got (so that a failure can be
/// told on the key the other side waits on next).
struct Link<'a> {
    peers: Peers<'a>,
    /// The tags of the IV filter runs, in order.
    iv_tags: Vec<String>,
    plan_done: bool,
    /// How many IV runs this party has sent its part of.
    iv_done: usize,
}

fn party_name(p: Party) -> String {
    format!("{} {}", p.role, p.party_id)
}

fn failed(p: Party, kind: &str) -> Error {
    Error::PartyFailed {
        party: party_name(p),
        kind: ErrorKind::from_name(kind),
    }
}

impl<'a> Link<'a> {
    fn new(ctx: &'a TaskContext<'_>) -> Result<Self> {
        let peers = match ctx.role {
            Role::Guest => {
                let hosts = ctx.parties_of(Role::Host);
                if hosts.is_empty() {
                    Peers::Alone
                } else {
                    Peers::Guest {
                        fed: ctx.federation()?,
                        hosts,
                    }
                }
            }
            Role::Host => {
                let guest = ctx
                    .parties_of(Role::Guest)
                    .first()
                    .copied()
                    .ok_or_else(|| {
                        Error::param("role", "HeteroFeatureSelection at a host needs a guest")
                    })?;
                Peers::Host {
                    fed: ctx.federation()?,
                    guest,
                }
            }
            other => {
                return Err(Error::param(
                    "role",
                    format!("HeteroFeatureSelection runs at guest and hosts, not at the {other}"),
                ))
            }
        };
        Ok(Link {
            peers,
            iv_tags: Vec::new(),
            plan_done: false,
            iv_done: 0,
        })
    }

    fn hosts(&self) -> &[Party] {
        match &self.peers {
            Peers::Guest { hosts, .. } => hosts,
            _ => &[],
        }
    }

    /// Host and guest agree on where the IV filter runs are (`labels`).
    fn handshake(&mut self, labels: &[String]) -> Result<()> {
        match &self.peers {
            Peers::Alone => {}
            Peers::Host { fed, guest } => {
                fed.remote(PLAN, PLAN_TAG, &Reply::Ok(labels), &[*guest])?;
                self.plan_done = true;
                match fed.get::<Reply<()>>(PLAN_ACK, PLAN_TAG, *guest)? {
                    Reply::Ok(()) => {}
                    Reply::Failed { kind } => return Err(failed(*guest, &kind)),
                }
            }
            Peers::Guest { fed, hosts } => {
                for &h in hosts {
                    match fed.get::<Reply<Vec<String>>>(PLAN, PLAN_TAG, h)? {
                        Reply::Failed { kind } => return Err(failed(h, &kind)),
                        Reply::Ok(theirs) if theirs != labels => {
                            return Err(Error::param(
                                "filter_methods",
                                format!(
                                    "{} runs IV filters at [{}] but the guest at [{}]: every \
                                     party must list its IV filters at the same places",
                                    party_name(h),
                                    theirs.join(", "),
                                    labels.join(", ")
                                ),
                            ))
                        }
                        Reply::Ok(_) => {}
                    }
                }
                fed.remote(PLAN_ACK, PLAN_TAG, &Reply::<()>::Ok(()), hosts)?;
                self.plan_done = true;
            }
        }
        Ok(())
    }

    /// Host: sends the anonymous names it judges in IV run `tag`, returns those the
    /// guest keeps.
    fn host_exchange(&mut self, tag: &str, names: &[String]) -> Result<Vec<String>> {
        let Peers::Host { fed, guest } = &self.peers else {
            unreachable!("host_exchange at a host only");
        };
        fed.remote(SELECT_COLS, tag, &Reply::Ok(names), &[*guest])?;
        self.iv_done += 1;
        match fed.get::<Reply<Vec<String>>>(LEFT_COLS, tag, *guest)? {
            Reply::Ok(kept) => Ok(kept),
            Reply::Failed { kind } => Err(failed(*guest, &kind)),
        }
    }

    /// Guest: every host's anonymous names to judge in IV run `tag`, in host order.
    fn guest_collect(&self, tag: &str) -> Result<Vec<Vec<String>>> {
        let Peers::Guest { fed, hosts } = &self.peers else {
            return Ok(Vec::new());
        };
        hosts
            .iter()
            .map(
                |&h| match fed.get::<Reply<Vec<String>>>(SELECT_COLS, tag, h)? {
                    Reply::Ok(names) => Ok(names),
                    Reply::Failed { kind } => Err(failed(h, &kind)),
                },
            )
            .collect()
    }

    /// Guest: tells each host the names it keeps in IV run `tag`.
    fn guest_reply(&mut self, tag: &str, kept: &[Vec<String>]) -> Result<()> {
        if let Peers::Guest { fed, hosts } = &self.peers {
            for (&h, names) in hosts.iter().zip(kept) {
                fed.remote(LEFT_COLS, tag, &Reply::Ok(names), &[h])?;
            }
        }
        self.iv_done += 1;
        Ok(())
    }

    /// Tells the other side, on the key it waits on next, that this party failed.
    fn abort(&self, e: &Error) {
        let msg = Reply::<()>::Failed {
            kind: e.kind().as_str().into(),
        };
        let next_iv = self.iv_tags.get(self.iv_done);
        // Best effort: the failure itself is what the task reports.
        let _ = match &self.peers {
            Peers::Alone => Ok(()),
            Peers::Host { fed, guest } => match (self.plan_done, next_iv) {
                (false, _) => fed.remote(PLAN, PLAN_TAG, &msg, &[*guest]),
                (true, Some(tag)) => fed.remote(SELECT_COLS, tag, &msg, &[*guest]),
                (true, None) => Ok(()),
            },
            Peers::Guest { fed, hosts } => match (self.plan_done, next_iv) {
                (false, _) => fed.remote(PLAN_ACK, PLAN_TAG, &msg, hosts),
                (true, Some(tag)) => fed.remote(LEFT_COLS, tag, &msg, hosts),
                (true, None) => Ok(()),
            },
        };
    }
}

/// The federation tag of an IV run: its place in `filter_methods` (and `metrics`), the
/// same at every party whatever their other filters expand to.
fn iv_tag(step: &Step) -> String {
    format!(
        "filter_{}_{}",
        step.position,
        step.metric_index.unwrap_or(0)
    )
}

/// This party's anonymous name of feature `i` (FATE's `<role>_<party_id>_x<i>`).
fn anonymous(ctx: &TaskContext<'_>, i: usize) -> String {
    format!("{}_{}_x{i}", ctx.role, ctx.party_id)
}

/// The binning model among the isometric inputs, read for the IV filters.
struct Binning {
    view: BinningView,
    component: String,
    alias: String,
    /// Host: real name → anonymous name.
    to_anonymous: HashMap<String, String>,
}

impl Binning {
    fn bad(&self, reason: String) -> Error {
        Error::InvalidModel {
            component: self.component.clone(),
            alias: self.alias.clone(),
            module: BINNING_MODULE.into(),
            reason,
        }
    }

    fn load(ctx: &TaskContext<'_>, first_iv: &Step) -> Result<Self> {
        let mut found = ctx
            .inputs
            .isometric_model
            .iter()
            .filter(|m| crate::context::canonical_module(&m.model.module) == BINNING_MODULE);
        let Some(input) = found.next() else {
            let hint = if ctx.models_of(BINNING_MODULE).next().is_some() {
                " (a HeteroFeatureBinning model is among the `model` inputs: give it as `isometric_model`)"
            } else {
                ""
            };
            return Err(Error::MissingInput {
                component: MODULE.into(),
                what: format!(
                    "a HeteroFeatureBinning model among its `isometric_model` inputs for {} \
                     ({}){hint}",
                    first_iv.label(),
                    first_iv.method
                ),
            });
        };
        if let Some(other) = found.next() {
            return Err(Error::InvalidModel {
                component: other.component.clone(),
                alias: other.alias.clone(),
                module: other.model.module.clone(),
                reason: format!(
                    "a second HeteroFeatureBinning model (the first is `{}` of component `{}`); \
                     give one",
                    input.alias, input.component
                ),
            });
        }
        let bad = |reason| Error::InvalidModel {
            component: input.component.clone(),
            alias: input.alias.clone(),
            module: BINNING_MODULE.into(),
            reason,
        };
        let view =
            BinningView::from_component_model(&input.model).map_err(|e| bad(e.to_string()))?;
        if let Some(m) = &view.multi_class_result {
            if m.labels.is_empty()
                || m.results.len() != m.labels.len()
                || m.host_results.values().any(|h| h.len() != m.labels.len())
            {
                return Err(bad(format!(
                    "multi_class_result has {} labels but results for another number of classes",
                    m.labels.len()
                )));
            }
        }
        let to_anonymous = view
            .header
            .iter()
            .cloned()
            .zip(view.header_anonymous.iter().cloned())
            .collect();
        Ok(Binning {
            view,
            component: input.component.clone(),
            alias: input.alias.clone(),
            to_anonymous,
        })
    }

    /// The IV of this party's column `c` (with a multi-class model, the classes' IVs
    /// merged as `merge` says).
    fn own_iv(&self, c: &str, merge: MergeType) -> Result<f64> {
        let missing = || {
            self.bad(format!(
                "column `{c}` has no binning_result, so the IV filters cannot judge it \
                 (bin it, or leave it out of select_col_indexes / select_names)"
            ))
        };
        let no_iv = || {
            self.bad(format!(
                "the binning_result of column `{c}` has no finite iv"
            ))
        };
        match &self.view.multi_class_result {
            None => {
                let col = self.view.binning_result.get(c).ok_or_else(missing)?;
                finite(col.iv).ok_or_else(no_iv)
            }
            Some(m) => {
                let ivs = m
                    .results
                    .iter()
                    .map(|r| finite(r.get(c).ok_or_else(missing)?.iv).ok_or_else(no_iv))
                    .collect::<Result<Vec<f64>>>()?;
                Ok(merge_ivs(&ivs, merge))
            }
        }
    }

    /// The IV the guest holds for `host`'s column `anonymous` (merged over the classes of
    /// a multi-class model).
    fn host_iv(&self, host: Party, anonymous: &str, merge: MergeType) -> Result<f64> {
        let party = host.party_id.to_string();
        let no_host = || {
            self.bad(format!(
                "host_results has no entry for host {}",
                host.party_id
            ))
        };
        let no_column = || {
            self.bad(format!(
                "host_results of host {} has no column `{anonymous}`",
                host.party_id
            ))
        };
        let no_iv = || {
            self.bad(format!(
                "host_results of host {}: column `{anonymous}` has no finite iv",
                host.party_id
            ))
        };
        match &self.view.multi_class_result {
            None => {
                let results = self.view.host_results.get(&party).ok_or_else(no_host)?;
                let col = results.get(anonymous).ok_or_else(no_column)?;
                finite(col.iv).ok_or_else(no_iv)
            }
            Some(m) => {
                let classes = m.host_results.get(&party).ok_or_else(no_host)?;
                let ivs = classes
                    .iter()
                    .map(|r| finite(r.get(anonymous).ok_or_else(no_column)?.iv).ok_or_else(no_iv))
                    .collect::<Result<Vec<f64>>>()?;
                Ok(merge_ivs(&ivs, merge))
            }
        }
    }
}

/// A SecureBoost model among the isometric inputs, read for the SecureBoost filters.
struct SbtModel {
    component: String,
    alias: String,
    model_name: String,
    /// This party's columns → importance (see [`SbtView::importances`]).
    importances: BTreeMap<String, f64>,
}

impl SbtModel {
    fn bad(&self, reason: String) -> Error {
        Error::InvalidModel {
            component: self.component.clone(),
            alias: self.alias.clone(),
            module: SBT_MODULE.into(),
            reason,
        }
    }

    /// Every SecureBoost model among the isometric inputs; as FATE, two with the same
    /// `model_name` are an error.
    fn load_all(ctx: &TaskContext<'_>) -> Result<Vec<SbtModel>> {
        let mut out: Vec<SbtModel> = Vec::new();
        for input in ctx
            .inputs
            .isometric_model
            .iter()
            .filter(|m| crate::context::canonical_module(&m.model.module) == SBT_MODULE)
        {
            let bad = |reason: String| Error::InvalidModel {
                component: input.component.clone(),
                alias: input.alias.clone(),
                module: input.model.module.clone(),
                reason,
            };
            let view =
                SbtView::from_component_model(&input.model).map_err(|e| bad(e.to_string()))?;
            if let Some(first) = out.iter().find(|m| m.model_name == view.model_name) {
                return Err(bad(format!(
                    "a second SecureBoost model with model_name `{}` (the first is `{}` of \
                     component `{}`); give one",
                    view.model_name, first.alias, first.component
                )));
            }
            let importances = view.importances().map_err(bad)?;
            out.push(SbtModel {
                component: input.component.clone(),
                alias: input.alias.clone(),
                model_name: view.model_name,
                importances,
            });
        }
        Ok(out)
    }

    /// The model `step` reads: the one whose `model_name` it accepts.
    fn pick<'m>(models: &'m [SbtModel], step: &Step, rule: &SbtRule) -> Result<&'m SbtModel> {
        let found: Vec<&SbtModel> = models
            .iter()
            .filter(|m| rule.model_names.contains(&m.model_name.as_str()))
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::MissingInput {
                component: MODULE.into(),
                what: format!(
                    "a SecureBoost model with model_name {} among its `isometric_model` inputs \
                     for {} ({}){}",
                    rule.model_names.join(" or "),
                    step.label(),
                    step.method,
                    if models.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (the SecureBoost models given have model_name {})",
                            models
                                .iter()
                                .map(|m| m.model_name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            }),
            [_, second, ..] => Err(second.bad(format!(
                "{} reads one fast SecureBoost model, layered or mix, not both",
                step.method
            ))),
        }
    }

    /// Judges this party's `columns` by their importances.
    fn judge(&self, columns: &[&str], rule: &Rule) -> Result<Outcome> {
        let values = columns
            .iter()
            .map(|c| self.importance(c))
            .collect::<Result<Vec<f64>>>()?;
        Ok(Outcome::judged(values, rule))
    }

    /// The importance of this party's column `c`; a column the model was not trained on
    /// fails, as in FATE.
    fn importance(&self, c: &str) -> Result<f64> {
        self.importances.get(c).copied().ok_or_else(|| {
            self.bad(format!(
                "column `{c}` is not in feature_name_fid_mapping, so the SecureBoost filter \
                 cannot judge it (leave it out of select_col_indexes / select_names)"
            ))
        })
    }
}

/// The PSI model among the isometric inputs, read for the PSI filter.
struct PsiScores {
    component: String,
    alias: String,
    /// Feature → its PSI.
    scores: BTreeMap<String, f64>,
}

impl PsiScores {
    /// The one `PSI` model among the isometric inputs.
    fn load(ctx: &TaskContext<'_>) -> Result<PsiScores> {
        let mut found =
            ctx.inputs.isometric_model.iter().filter(|m| {
                crate::context::canonical_module(&m.model.module) == crate::psi::MODULE
            });
        let input = found.next().ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "a PSI model among its `isometric_model` inputs for psi_filter".into(),
        })?;
        let bad = |reason: String| Error::InvalidModel {
            component: input.component.clone(),
            alias: input.alias.clone(),
            module: input.model.module.clone(),
            reason,
        };
        if let Some(second) = found.next() {
            return Err(bad(format!(
                "a second PSI model (`{}` of component `{}`); psi_filter reads one",
                second.alias, second.component
            )));
        }
        let model = crate::psi::PsiModel::from_component_model(&input.model)
            .map_err(|e| bad(e.to_string()))?;
        Ok(PsiScores {
            component: input.component.clone(),
            alias: input.alias.clone(),
            scores: model.param.total_score,
        })
    }

    /// The PSI of column `c`; a column the model has no score for fails.
    fn score(&self, c: &str) -> Result<f64> {
        self.scores
            .get(c)
            .copied()
            .ok_or_else(|| Error::InvalidModel {
                component: self.component.clone(),
                alias: self.alias.clone(),
                module: crate::psi::MODULE.into(),
                reason: format!(
                "column `{c}` has no PSI score, so psi_filter cannot judge it (leave it out of \
                 select_col_indexes / select_names)"
            ),
            })
    }

    /// Judges this party's `columns` by their PSI.
    fn judge(&self, columns: &[&str], rule: &Rule) -> Result<Outcome> {
        let values = columns
            .iter()
            .map(|c| self.score(c))
            .collect::<Result<Vec<f64>>>()?;
        Ok(Outcome::judged(values, rule))
    }
}

/// The `HeteroPearson` model among the isometric inputs, read for the VIF and correlation
/// filters.
struct Pearson {
    component: String,
    alias: String,
    model: crate::pearson::PearsonModel,
    /// This party's columns in the model (rows of `local_corr`, entries of `local_vif`).
    names: Vec<String>,
}

impl Pearson {
    fn bad(&self, reason: String) -> Error {
        Error::InvalidModel {
            component: self.component.clone(),
            alias: self.alias.clone(),
            module: crate::pearson::model::MODULE.into(),
            reason,
        }
    }

    /// The one `HeteroPearson` model among the isometric inputs.
    fn load(ctx: &TaskContext<'_>, step: &Step) -> Result<Pearson> {
        let mut found = ctx.inputs.isometric_model.iter().filter(|m| {
            crate::context::canonical_module(&m.model.module) == crate::pearson::model::MODULE
        });
        let input = found.next().ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: format!(
                "a HeteroPearson model among its `isometric_model` inputs for {} ({})",
                step.label(),
                step.method
            ),
        })?;
        let bad = |reason: String| Error::InvalidModel {
            component: input.component.clone(),
            alias: input.alias.clone(),
            module: input.model.module.clone(),
            reason,
        };
        if let Some(second) = found.next() {
            return Err(bad(format!(
                "a second HeteroPearson model (`{}` of component `{}`); give one",
                second.alias, second.component
            )));
        }
        let model = crate::pearson::PearsonModel::from_component_model(&input.model)
            .map_err(|e| bad(e.to_string()))?;
        let names = model.param.names.clone();
        let k = names.len();
        if model.param.local_corr.len() != k * k {
            return Err(bad(format!(
                "local_corr has {} entries for {k} columns",
                model.param.local_corr.len()
            )));
        }
        Ok(Pearson {
            component: input.component.clone(),
            alias: input.alias.clone(),
            model,
            names,
        })
    }

    fn position(&self, c: &str) -> Result<usize> {
        self.names.iter().position(|n| n == c).ok_or_else(|| {
            self.bad(format!(
                "column `{c}` is not among the model's columns, so the filter cannot judge it \
                 (leave it out of select_col_indexes / select_names)"
            ))
        })
    }

    /// The VIF of column `c`.
    fn vif(&self, c: &str) -> Result<f64> {
        let i = self.position(c)?;
        self.model
            .param
            .local_vif
            .get(i)
            .copied()
            .ok_or_else(|| self.bad("the model has no local_vif (calc_local_vif was false)".into()))
    }

    /// Judges this party's `columns` by their VIF.
    fn judge_vif(&self, columns: &[&str], rule: &Rule) -> Result<Outcome> {
        let values = columns
            .iter()
            .map(|c| self.vif(c))
            .collect::<Result<Vec<f64>>>()?;
        Ok(Outcome::judged(values, rule))
    }

    /// The cross-party matrix (guest × host) and the host's anonymous columns.
    fn cross(&self) -> Result<(&[f64], &[String])> {
        let p = &self.model.param;
        let host = p.all_names.get(1).map(|n| n.names.as_slice());
        match host {
            Some(h) if p.corr.len() == p.shapes.first().copied().unwrap_or(0) * h.len() => {
                Ok((&p.corr, h))
            }
            _ => Err(self.bad(
                "the model has no cross-party correlation (cross_parties was false), which \
                 correlation_filter needs with select_federated"
                    .into(),
            )),
        }
    }
}

/// FATE's order of the correlation filter: by IV from high to low, ties the later
/// column first (numpy's reversed stable argsort).
fn by_iv_descending(values: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    idx.reverse();
    idx
}

/// Records in `filtered` every column of `names` with `|corr| > threshold` not yet in it
/// (the first value seen), skipping `current` when `is_local`.
fn filter_correlated(
    corr: impl Iterator<Item = f64>,
    names: &[String],
    current: &str,
    is_local: bool,
    threshold: f64,
    filtered: &mut BTreeMap<String, f64>,
) {
    for (v, name) in corr.zip(names) {
        if v.abs() > threshold && !(is_local && name == current) && !filtered.contains_key(name) {
            filtered.insert(name.clone(), v);
        }
    }
}

fn finite(iv: Option<f64>) -> Option<f64> {
    iv.filter(|v| v.is_finite())
}

/// FATE's `_merge_iv` for one column: the first class's IV, then each next class's
/// folded in (maximum for `max` and, as FATE 1.11 does, for `min` too; sum for
/// `average`, divided by the number of classes at the end).
fn merge_ivs(ivs: &[f64], merge: MergeType) -> f64 {
    let mut v = ivs[0];
    for &x in &ivs[1..] {
        v = match merge {
            MergeType::Max | MergeType::Min => v.max(x),
            MergeType::Average => v + x,
        };
    }
    if merge == MergeType::Average {
        v /= ivs.len() as f64;
    }
    v
}

/// What one filter run decided about this party's judged columns.
struct Outcome {
    kept: Vec<bool>,
    values: Option<Vec<f64>>,
    /// Where the keep-one rule kept a column.
    kept_one: Option<usize>,
    host_values: Vec<HostFeatureValues>,
    host_left: Vec<HostLeftCols>,
    /// Lines for the log (per host decisions).
    notes: Vec<String>,
}

impl Outcome {
    /// A local decision by one value per column and `rule`, one threshold for all.
    fn judged(values: Vec<f64>, rule: &Rule) -> Self {
        let thresholds = match rule.select {
            Select::Threshold(t) => vec![t; values.len()],
            _ => Vec::new(),
        };
        let kept = select(&values, &thresholds, rule);
        Outcome::local(kept, Some(values), rule.take_high)
    }

    fn local(mut kept: Vec<bool>, values: Option<Vec<f64>>, take_high: bool) -> Self {
        let kept_one = keep_one(&mut kept, values.as_deref(), take_high);
        Outcome {
            kept,
            values,
            kept_one,
            host_values: Vec::new(),
            host_left: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Everything a fit works with.
struct Fit<'c, 'a> {
    ctx: &'c TaskContext<'a>,
    input: &'c Input,
    stats: Vec<Option<ColumnStats>>,
    binning: Option<Binning>,
    sbt: Vec<SbtModel>,
    psi: Option<PsiScores>,
    pearson: Option<Pearson>,
}

impl Fit<'_, '_> {
    fn no_statistic(&self, column: usize, metric: StatMetric) -> Error {
        Error::NoStatistic {
            table: self.input.id.to_string(),
            column: self.input.header[column].clone(),
            statistic: metric.statistic(),
            parameter: "filter_methods",
        }
    }

    fn stats(&self, column: usize) -> &ColumnStats {
        self.stats[column]
            .as_ref()
            .expect("statistics are computed for every selected column")
    }

    fn run_step(
        &self,
        link: &mut Link<'_>,
        step: &Step,
        tag: &str,
        candidates: &[usize],
    ) -> Result<Outcome> {
        let header = &self.input.header;
        match &step.kind {
            FilterKind::Manually(m) => {
                let out = m.filtered_out(header)?;
                let kept = candidates.iter().map(|c| !out.contains(c)).collect();
                Ok(Outcome::local(kept, None, true))
            }
            FilterKind::PercentageValue { upper_pct } => {
                let limit = (self.input.rows as f64 * upper_pct).ceil() as u64;
                let counts: Vec<u64> = candidates
                    .iter()
                    .map(|&c| self.stats(c).mode_count())
                    .collect();
                let kept = counts.iter().map(|&n| n <= limit).collect();
                let shares = counts
                    .iter()
                    .map(|&n| n as f64 / self.input.rows as f64)
                    .collect();
                Ok(Outcome::local(kept, Some(shares), false))
            }
            FilterKind::Statistic { metric, rule } => {
                let values = candidates
                    .iter()
                    .map(|&c| {
                        self.stats(c)
                            .metric(*metric)
                            .ok_or_else(|| self.no_statistic(c, *metric))
                    })
                    .collect::<Result<Vec<f64>>>()?;
                Ok(Outcome::judged(values, rule))
            }
            FilterKind::Sbt(sbt) => {
                let names: Vec<&str> = candidates.iter().map(|&c| header[c].as_str()).collect();
                SbtModel::pick(&self.sbt, step, sbt)?.judge(&names, &sbt.rule)
            }
            FilterKind::Psi(rule) => {
                let names: Vec<&str> = candidates.iter().map(|&c| header[c].as_str()).collect();
                self.psi
                    .as_ref()
                    .expect("loaded when there is a PSI filter")
                    .judge(&names, rule)
            }
            FilterKind::Vif(rule) => {
                let names: Vec<&str> = candidates.iter().map(|&c| header[c].as_str()).collect();
                self.pearson
                    .as_ref()
                    .expect("loaded when there is a VIF filter")
                    .judge_vif(&names, rule)
            }
            FilterKind::Correlation(rule) => match self.ctx.role {
                Role::Host => self.host_exchange(link, tag, candidates),
                _ => self.guest_correlation(link, rule, tag, candidates),
            },
            FilterKind::Iv(iv) => {
                let binning = self
                    .binning
                    .as_ref()
                    .expect("loaded when there are IV filters");
                match self.ctx.role {
                    Role::Host => self.host_iv(link, binning, tag, candidates),
                    _ => self.guest_iv(link, binning, iv, tag, candidates),
                }
            }
        }
    }

    fn host_iv(
        &self,
        link: &mut Link<'_>,
        binning: &Binning,
        tag: &str,
        candidates: &[usize],
    ) -> Result<Outcome> {
        let names: Vec<String> = candidates
            .iter()
            .map(|&c| binning.to_anonymous[&self.input.header[c]].clone())
            .collect();
        let kept_names = link.host_exchange(tag, &names)?;
        for n in &kept_names {
            if !names.contains(n) {
                let guest = self.ctx.parties_of(Role::Guest)[0];
                return Err(Error::Federation(fateflow_federation::Error::Decode {
                    name: LEFT_COLS.into(),
                    from: guest,
                    detail: format!("the guest kept `{n}`, which this host did not offer"),
                }));
            }
        }
        let kept = names.iter().map(|n| kept_names.contains(n)).collect();
        Ok(Outcome {
            kept,
            values: None,
            kept_one: None,
            host_values: Vec::new(),
            host_left: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Host side of a correlation run: offers its candidates' anonymous names and keeps
    /// those the guest keeps.
    fn host_exchange(
        &self,
        link: &mut Link<'_>,
        tag: &str,
        candidates: &[usize],
    ) -> Result<Outcome> {
        let names: Vec<String> = candidates.iter().map(|&c| anonymous(self.ctx, c)).collect();
        let kept_names = link.host_exchange(tag, &names)?;
        if let Some(n) = kept_names.iter().find(|n| !names.contains(n)) {
            let guest = self.ctx.parties_of(Role::Guest)[0];
            return Err(Error::Federation(fateflow_federation::Error::Decode {
                name: LEFT_COLS.into(),
                from: guest,
                detail: format!("the guest kept `{n}`, which this host did not offer"),
            }));
        }
        let kept = names.iter().map(|n| kept_names.contains(n)).collect();
        Ok(Outcome {
            kept,
            values: None,
            kept_one: None,
            host_values: Vec::new(),
            host_left: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Guest side of FATE's correlation filter.
    fn guest_correlation(
        &self,
        link: &mut Link<'_>,
        rule: &CorrelationRule,
        tag: &str,
        candidates: &[usize],
    ) -> Result<Outcome> {
        let header = &self.input.header;
        let binning = self
            .binning
            .as_ref()
            .expect("loaded for correlation_filter");
        let pearson = self
            .pearson
            .as_ref()
            .expect("loaded for correlation_filter");
        let host_names = link.guest_collect(tag)?;
        let hosts = link.hosts().to_vec();
        let own_names: Vec<String> = candidates.iter().map(|&c| header[c].clone()).collect();
        let mut ivs: Vec<f64> = own_names
            .iter()
            .map(|c| binning.own_iv(c, MergeType::Average))
            .collect::<Result<_>>()?;
        let mut columns: Vec<(bool, String)> =
            own_names.iter().map(|n| (false, n.clone())).collect();
        // FATE pairs the model's host with the first host.
        let federated = rule.select_federated && !hosts.is_empty();
        let cross = if federated {
            let host = hosts[0];
            let (corr, _) = pearson.cross()?;
            let expected = format!("({},{})", host.role, host.party_id);
            if pearson.model.param.parties.get(1) != Some(&expected) {
                return Err(pearson.bad(format!(
                    "its host is {:?}, not the job's first host {expected}",
                    pearson.model.param.parties.get(1)
                )));
            }
            for n in &host_names[0] {
                ivs.push(binning.host_iv(host, n, MergeType::Average)?);
                columns.push((true, n.clone()));
            }
            Some(corr)
        } else {
            None
        };
        let guest_cols = &pearson.names;
        let m2 = pearson.cross().map(|(_, h)| h.len()).unwrap_or(0);
        let mut filtered: BTreeMap<String, f64> = BTreeMap::new();
        let mut host_filtered: BTreeMap<String, f64> = BTreeMap::new();
        for i in by_iv_descending(&ivs) {
            let (is_host, name) = &columns[i];
            if filtered.contains_key(name) {
                continue;
            }
            let k = guest_cols.len();
            if !is_host {
                let row = pearson.position(name)?;
                let local = &pearson.model.param.local_corr[row * k..(row + 1) * k];
                filter_correlated(
                    local.iter().copied(),
                    guest_cols,
                    name,
                    true,
                    rule.threshold,
                    &mut filtered,
                );
                if let Some(corr) = cross {
                    let (_, host_cols) = pearson.cross()?;
                    filter_correlated(
                        corr[row * m2..(row + 1) * m2].iter().copied(),
                        host_cols,
                        name,
                        false,
                        rule.threshold,
                        &mut host_filtered,
                    );
                }
            } else {
                let (corr, host_cols) = pearson.cross()?;
                let col = host_cols.iter().position(|h| h == name).ok_or_else(|| {
                    pearson.bad(format!("host column `{name}` is not in the model"))
                })?;
                filter_correlated(
                    (0..k).map(|r| corr[r * m2 + col]),
                    guest_cols,
                    name,
                    false,
                    rule.threshold,
                    &mut filtered,
                );
            }
        }
        let kept: Vec<bool> = own_names
            .iter()
            .map(|n| !filtered.contains_key(n))
            .collect();
        let values: Vec<f64> = own_names
            .iter()
            .map(|n| filtered.get(n).copied().unwrap_or(0.0))
            .collect();
        let mut out = Outcome::local(kept, Some(values), false);
        let mut replies = Vec::with_capacity(hosts.len());
        for (k, (&h, names)) in hosts.iter().zip(&host_names).enumerate() {
            if !(federated && k == 0) {
                replies.push(names.clone());
                continue;
            }
            let mut kept: Vec<bool> = names
                .iter()
                .map(|n| !host_filtered.contains_key(n))
                .collect();
            let forced = keep_one(&mut kept, None, false);
            let kept_names: Vec<String> = names
                .iter()
                .zip(&kept)
                .filter(|(_, &k)| k)
                .map(|(n, _)| n.clone())
                .collect();
            out.notes.push(format!(
                "host {}: kept {} of {} judged columns{}",
                h.party_id,
                kept_names.len(),
                names.len(),
                forced.map_or(String::new(), |i| format!(
                    " ({} kept so that one is left)",
                    names[i]
                ))
            ));
            out.host_values.push(HostFeatureValues {
                party_id: h.party_id.to_string(),
                feature_values: names
                    .iter()
                    .map(|n| (n.clone(), host_filtered.get(n).copied().unwrap_or(0.0)))
                    .collect(),
            });
            out.host_left.push(HostLeftCols {
                party_id: h.party_id.to_string(),
                left_cols: LeftCols::new(names.clone(), |n| kept_names.iter().any(|k| k == n)),
            });
            replies.push(kept_names);
        }
        if !federated && !hosts.is_empty() {
            out.notes
                .push("hosts keep all their columns (select_federated is false)".into());
        }
        link.guest_reply(tag, &replies)?;
        Ok(out)
    }

    fn guest_iv(
        &self,
        link: &mut Link<'_>,
        binning: &Binning,
        iv: &IvRule,
        tag: &str,
        candidates: &[usize],
    ) -> Result<Outcome> {
        let own: Vec<f64> = candidates
            .iter()
            .map(|&c| binning.own_iv(&self.input.header[c], iv.merge))
            .collect::<Result<_>>()?;
        let host_names = link.guest_collect(tag)?;
        let hosts = link.hosts().to_vec();
        let rule = iv.rule;
        let guest_threshold = match rule.select {
            Select::Threshold(t) => t,
            _ => 0.0,
        };
        if !iv.select_federated || hosts.is_empty() {
            let kept = select(&own, &vec![guest_threshold; own.len()], &rule);
            let mut out = Outcome::local(kept, Some(own), rule.take_high);
            link.guest_reply(tag, &host_names)?;
            if !hosts.is_empty() {
                out.notes
                    .push("hosts keep all their columns (select_federated is false)".into());
            }
            return Ok(out);
        }
        let host_thresholds: Vec<f64> = match &iv.host_thresholds {
            None => vec![guest_threshold; hosts.len()],
            Some(HostThresholds::All(t)) => vec![*t; hosts.len()],
            Some(HostThresholds::PerHost(v)) if v.len() == hosts.len() => v.clone(),
            Some(HostThresholds::PerHost(v)) => {
                return Err(Error::param(
                    &iv.host_thresholds_parameter,
                    format!(
                        "{} thresholds given for {} hosts: give one per host",
                        v.len(),
                        hosts.len()
                    ),
                ))
            }
        };
        let mut values = own.clone();
        let mut thresholds = vec![guest_threshold; own.len()];
        let mut host_values = Vec::with_capacity(hosts.len());
        for ((&h, names), &t) in hosts.iter().zip(&host_names).zip(&host_thresholds) {
            let v = names
                .iter()
                .map(|n| binning.host_iv(h, n, iv.merge))
                .collect::<Result<Vec<f64>>>()?;
            values.extend_from_slice(&v);
            thresholds.extend(std::iter::repeat_n(t, v.len()));
            host_values.push(v);
        }
        let pooled = select(&values, &thresholds, &rule);
        let (own_kept, mut rest) = pooled.split_at(own.len());
        let mut out = Outcome::local(own_kept.to_vec(), Some(own), rule.take_high);
        let mut replies = Vec::with_capacity(hosts.len());
        for ((&h, names), v) in hosts.iter().zip(&host_names).zip(&host_values) {
            let (mine, later) = rest.split_at(names.len());
            rest = later;
            let mut kept = mine.to_vec();
            let forced = keep_one(&mut kept, Some(v), rule.take_high);
            let kept_names: Vec<String> = names
                .iter()
                .zip(&kept)
                .filter(|(_, &k)| k)
                .map(|(n, _)| n.clone())
                .collect();
            out.notes.push(format!(
                "host {}: kept {} of {} judged columns{}",
                h.party_id,
                kept_names.len(),
                names.len(),
                forced.map_or(String::new(), |i| format!(
                    " ({} kept so that one is left)",
                    names[i]
                ))
            ));
            out.host_values.push(HostFeatureValues {
                party_id: h.party_id.to_string(),
                feature_values: names.iter().cloned().zip(v.iter().copied()).collect(),
            });
            out.host_left.push(HostLeftCols {
                party_id: h.party_id.to_string(),
                left_cols: LeftCols::new(names.clone(), |n| kept_names.iter().any(|k| k == n)),
            });
            replies.push(kept_names);
        }
        link.guest_reply(tag, &replies)?;
        Ok(out)
    }
}

/// Bytes of one distinct value in the frequency maps of `percentage_value`.
const MODE_ENTRY_BYTES: u64 = 48;

/// Calls `f` with the selected columns' values of every record batch of the table,
/// partition by partition; `progress` maps the fraction read to a percentage.
fn for_each_batch(
    ctx: &TaskContext<'_>,
    input: &Input,
    mut f: impl FnMut(&[&[f64]]) -> Result<()>,
    progress: impl Fn(u32) -> u8,
) -> Result<()> {
    let partitions = input.info.partitions;
    for partition in 0..partitions {
        let batches = ctx
            .tables
            .read_partition(&input.id, partition)
            .map_err(|e| Error::table(&input.id, e))?;
        for batch in batches {
            let batch = batch.map_err(|e| Error::table(&input.id, e))?;
            let (_, columns) = fateflow_tables::batch_columns(&input.info.schema, &batch)
                .map_err(|e| Error::table(&input.id, e))?;
            f(&columns)?;
        }
        ctx.tracker
            .progress(progress(u32::from(percent(partition + 1, partitions))));
    }
    Ok(())
}

/// The statistics the local filters need, for the selected columns: one streaming pass
/// (record batch by record batch) for the moments, extremes, missing counts and value
/// frequencies; quantiles (`quantiles`, each `q` in `[0, 1]`) exactly by rank, with
/// [`RankSearch`] passes over the data (at most four, 512 KB per column and quantile)
/// instead of holding the columns. The value frequencies of `percentage_value` grow
/// with the distinct values: beyond half the task's memory budget they fail naming it.
fn statistics(
    ctx: &TaskContext<'_>,
    input: &Input,
    selected: &[usize],
    needs: Needs,
    quantiles: &[f64],
) -> Result<Vec<Option<ColumnStats>>> {
    let mut stats: Vec<Option<ColumnStats>> = vec![None; input.header.len()];
    for &c in selected {
        stats[c] = Some(ColumnStats::default());
    }
    for_each_batch(
        ctx,
        input,
        |columns| {
            for &c in selected {
                if let Some(s) = stats[c].as_mut() {
                    for &v in columns[input.positions[c]] {
                        s.add(v, needs);
                    }
                }
            }
            if needs.modes {
                let distinct: u64 = stats.iter().flatten().map(|s| s.distinct() as u64).sum();
                ctx.memory.check(
                    MODULE,
                    &format!(
                        "the value frequencies of percentage_value ({distinct} distinct values so far in {} columns)",
                        selected.len()
                    ),
                    2 * distinct * MODE_ENTRY_BYTES,
                )?;
            }
            Ok(())
        },
        |p| (p * 30 / 100) as u8,
    )?;
    if !needs.values || quantiles.is_empty() {
        return Ok(stats);
    }
    let start = std::time::Instant::now();
    // (column, q, search)
    let mut searches: Vec<(usize, f64, RankSearch)> = Vec::new();
    for &c in selected {
        let s = stats[c].as_ref().expect("a selected column");
        for &q in quantiles {
            if let Some(rank) = s.quantile_rank(q) {
                searches.push((c, q, RankSearch::new(rank)));
            }
        }
    }
    ctx.memory.check(
        MODULE,
        "the counters of the quantile searches",
        searches.len() as u64 * (8 << 16),
    )?;
    let mut passes = 0;
    while searches.iter().any(|(_, _, s)| s.found().is_none()) {
        passes += 1;
        for_each_batch(
            ctx,
            input,
            |columns| {
                searches.par_iter_mut().for_each(|(c, _, search)| {
                    if search.found().is_some() {
                        return;
                    }
                    for &v in columns[input.positions[*c]] {
                        if !v.is_nan() {
                            search.add(v);
                        }
                    }
                });
                Ok(())
            },
            |p| (30 + passes * 2 + p * 2 / 100) as u8,
        )?;
        searches.iter_mut().for_each(|(_, _, s)| s.end_pass());
    }
    for (c, q, search) in searches {
        if let (Some(s), Some(v)) = (stats[c].as_mut(), search.found()) {
            s.set_quantile(q, v);
        }
    }
    ctx.tracker.info(&format!(
        "feature_selection: {} quantiles of {} columns found exactly in {passes} more passes over the data in {:.1} s",
        quantiles.len(),
        selected.len(),
        start.elapsed().as_secs_f64()
    ));
    Ok(stats)
}

fn fit(ctx: &TaskContext<'_>, input: &Input, link: &mut Link<'_>) -> Result<()> {
    let mut param = SelectionParam::parse(&ctx.parameters)?;
    if param.use_anonymous {
        // FATE: with use_anonymous, manual filters name columns by anonymous name too.
        for step in &mut param.steps {
            if let FilterKind::Manually(m) = &mut step.kind {
                m.use_real_names(&input.header, |i| anonymous(ctx, i))?;
            }
        }
    }
    let steps = &param.steps;
    link.iv_tags = steps.iter().filter(|s| s.is_iv()).map(iv_tag).collect();
    let header = &input.header;
    let selected = param.selected(header, |i| anonymous(ctx, i))?;
    ctx.tracker.info(&format!(
        "feature_selection: fitting on {} ({} rows), {} of {} feature columns selected, filters: {}",
        input.id,
        input.rows,
        selected.len(),
        header.len(),
        if param.filter_methods.is_empty() {
            "none".into()
        } else {
            param.filter_methods.join(", ")
        }
    ));
    if selected.is_empty() {
        ctx.tracker
            .info("feature_selection: no column is selected, every column is kept");
    }
    // Check what can be checked before any party waits for another.
    for s in steps {
        if let FilterKind::Manually(m) = &s.kind {
            m.filtered_out(header)?;
        }
    }
    let binning = match steps.iter().find(|s| s.is_iv()) {
        None => None,
        Some(first) => {
            let b = Binning::load(ctx, first)?;
            if ctx.role == Role::Host {
                for &c in &selected {
                    if !b.to_anonymous.contains_key(&header[c]) {
                        return Err(b.bad(format!(
                            "selected column `{}` is not in the binning model's header, so the \
                             IV filters cannot judge it (bin it, or leave it out of \
                             select_col_indexes / select_names)",
                            header[c]
                        )));
                    }
                }
            }
            Some(b)
        }
    };
    let sbt = if steps.iter().any(|s| matches!(s.kind, FilterKind::Sbt(_))) {
        SbtModel::load_all(ctx)?
    } else {
        Vec::new()
    };
    for s in steps {
        if let FilterKind::Sbt(rule) = &s.kind {
            let model = SbtModel::pick(&sbt, s, rule)?;
            for &c in &selected {
                model.importance(&header[c])?;
            }
        }
    }
    let psi = if steps.iter().any(|s| matches!(s.kind, FilterKind::Psi(_))) {
        let scores = PsiScores::load(ctx)?;
        for &c in &selected {
            scores.score(&header[c])?;
        }
        Some(scores)
    } else {
        None
    };
    let pearson = match steps
        .iter()
        .find(|s| matches!(s.kind, FilterKind::Vif(_) | FilterKind::Correlation(_)))
    {
        None => None,
        Some(first) => {
            let p = Pearson::load(ctx, first)?;
            for s in steps {
                let vif = matches!(s.kind, FilterKind::Vif(_));
                let guest_corr =
                    matches!(s.kind, FilterKind::Correlation(_)) && ctx.role == Role::Guest;
                if vif || guest_corr {
                    for &c in &selected {
                        p.position(&header[c])?;
                        if vif {
                            p.vif(&header[c])?;
                        }
                    }
                }
            }
            Some(p)
        }
    };
    let mut needs = Needs::default();
    let mut quantiles: Vec<f64> = Vec::new();
    let mut any_stat = false;
    for s in steps {
        match &s.kind {
            FilterKind::Statistic { metric, .. } => {
                any_stat = true;
                needs.values |= metric.needs_values();
                match metric {
                    StatMetric::Median => quantiles.push(0.5),
                    StatMetric::Quantile(q) => quantiles.push(*q),
                    _ => {}
                }
            }
            FilterKind::PercentageValue { .. } => {
                any_stat = true;
                needs.modes = true;
            }
            _ => {}
        }
    }
    let stats = if any_stat && !selected.is_empty() {
        {
            quantiles.sort_by(f64::total_cmp);
            quantiles.dedup_by(|a, b| a.to_bits() == b.to_bits());
            statistics(ctx, input, &selected, needs, &quantiles)?
        }
    } else {
        vec![None; header.len()]
    };
    // Only where the IV runs are: their settings are the guest's.
    let labels: Vec<String> = steps
        .iter()
        .filter(|s| s.is_iv())
        .map(Step::label)
        .collect();
    link.handshake(&labels)?;

    let fit = Fit {
        ctx,
        input,
        stats,
        binning,
        sbt,
        psi,
        pearson,
    };
    let mut left = vec![true; header.len()];
    let mut results = Vec::with_capacity(steps.len());
    let mut summary = Map::new();
    let mut points = Vec::with_capacity(steps.len());
    for (k, step) in steps.iter().enumerate() {
        let candidates: Vec<usize> = selected.iter().copied().filter(|&c| left[c]).collect();
        let original: Vec<String> = (0..header.len())
            .filter(|&c| left[c])
            .map(|c| header[c].clone())
            .collect();
        let outcome = fit.run_step(link, step, &iv_tag(step), &candidates)?;
        let mut removed = Vec::new();
        for (&c, &kept) in candidates.iter().zip(&outcome.kept) {
            if !kept {
                left[c] = false;
                removed.push(header[c].clone());
            }
        }
        let kept_count = outcome.kept.iter().filter(|&&k| k).count();
        ctx.tracker.info(&format!(
            "feature_selection: {} {}: kept {kept_count} of {} judged columns{}{}",
            step.label(),
            step.name,
            candidates.len(),
            if removed.is_empty() {
                String::new()
            } else {
                format!(", removed {}", removed.join(", "))
            },
            outcome.kept_one.map_or(String::new(), |i| format!(
                " ({} kept so that one is left)",
                header[candidates[i]]
            ))
        ));
        for note in &outcome.notes {
            ctx.tracker.info(&format!(
                "feature_selection: {} {}: {note}",
                step.label(),
                step.name
            ));
        }
        let left_names: Vec<String> = (0..header.len())
            .filter(|&c| left[c])
            .map(|c| header[c].clone())
            .collect();
        let mut key = step.name.clone();
        let mut repeat = 0;
        while summary.contains_key(&key) {
            repeat += 1;
            key = format!("{}_{repeat}", step.name);
        }
        summary.insert(
            key,
            json!({
                "last_col_nums": original.len(),
                "left_col_nums": left_names.len(),
                "left_col_names": left_names,
                "removed_col_names": removed,
            }),
        );
        points.push((json!(step.name), json!(left_names.len())));
        let values = outcome.values.map_or_else(BTreeMap::new, |v| {
            candidates
                .iter()
                .map(|&c| header[c].clone())
                .zip(v)
                .collect()
        });
        results.push(FilterResult {
            filter_name: step.name.clone(),
            filter_method: step.method.clone(),
            select_cols: candidates.iter().map(|&c| header[c].clone()).collect(),
            feature_values: values,
            left_cols: LeftCols::new(original, |c| left_names.iter().any(|l| l == c)),
            host_feature_values: outcome.host_values,
            host_left_cols: outcome.host_left,
        });
        ctx.tracker
            .progress((40 + 20 * (k + 1) / steps.len().max(1)) as u8);
    }

    let kept: Vec<usize> = (0..header.len()).filter(|&c| left[c]).collect();
    let model = FeatureSelectionModel {
        param: ModelParam {
            header: header.clone(),
            results,
            final_left_cols: LeftCols::new(header.clone(), |c| {
                kept.iter().any(|&k| header[k] == c)
            }),
        },
        meta: ModelMeta {
            filter_methods: param.filter_methods.clone(),
            cols: selected.iter().map(|&c| header[c].clone()).collect(),
            need_run: true,
            filter_metas: steps.iter().map(|s| s.meta.clone()).collect(),
        },
    };
    let output = write_output(ctx, input, &kept)?;
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &model.to_component_model(),
    )?;
    let left_names: Vec<String> = kept.iter().map(|&c| header[c].clone()).collect();
    summary.insert(
        "all".into(),
        json!({
            "last_col_nums": header.len(),
            "left_col_nums": kept.len(),
            "left_col_names": left_names,
            "removed_col_names": (0..header.len()).filter(|c| !left[*c]).map(|c| header[c].clone()).collect::<Vec<_>>(),
        }),
    );
    ctx.log_metric(Metric {
        namespace: "train".into(),
        name: "feature_selection".into(),
        data: points,
        meta: json!({
            "metric_type": "FEATURE_SELECTION",
            "original_col_nums": header.len(),
            "left_col_nums": kept.len(),
        }),
    })?;
    ctx.tracker.set_summary(Value::Object(summary))?;
    ctx.tracker.info(&format!(
        "feature_selection: kept {} of {} feature columns; wrote {} rows to {output}",
        kept.len(),
        header.len(),
        input.rows
    ));
    Ok(())
}

fn transform(ctx: &TaskContext<'_>, input: &Input, model_input: &ModelInput) -> Result<()> {
    let view =
        ModelView::from_component_model(&model_input.model).map_err(|e| Error::InvalidModel {
            component: model_input.component.clone(),
            alias: model_input.alias.clone(),
            module: model_input.model.module.clone(),
            reason: e.to_string(),
        })?;
    let mut kept = view
        .kept()
        .into_iter()
        .map(|c| {
            input
                .header
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| Error::MissingColumn {
                    table: input.id.to_string(),
                    column: c.to_owned(),
                    why: format!(
                        "kept by model `{}` of component `{}`",
                        model_input.alias, model_input.component
                    ),
                })
        })
        .collect::<Result<Vec<usize>>>()?;
    kept.sort_unstable();
    ctx.tracker.info(&format!(
        "feature_selection: transforming {} ({} rows) with model `{}` of component `{}`: \
         keeping {} of {} feature columns",
        input.id,
        input.rows,
        model_input.alias,
        model_input.component,
        kept.len(),
        input.header.len()
    ));
    let output = write_output(ctx, input, &kept)?;
    ctx.tracker
        .save_model(ctx.first_output_model_name("model"), &model_input.model)?;
    ctx.tracker.info(&format!(
        "feature_selection: wrote {} rows to {output}",
        input.rows
    ));
    Ok(())
}

/// Writes the sids, the label and the `kept` features (feature positions, sorted) of
/// every row, partition by partition, copying the values as they are.
fn write_output(ctx: &TaskContext<'_>, input: &Input, kept: &[usize]) -> Result<TableRef> {
    let schema = &input.info.schema;
    let kept_positions: Vec<usize> = kept.iter().map(|&c| input.positions[c]).collect();
    let columns: Vec<usize> = (0..schema.header.len())
        .filter(|j| !schema.is_feature(&schema.header[*j]) || kept_positions.contains(j))
        .collect();
    let out_schema = TableSchema {
        sid: schema.sid.clone(),
        header: columns.iter().map(|&j| schema.header[j].clone()).collect(),
        label_name: schema.label_name.clone(),
        weight_name: schema.weight_name.clone(),
    };
    let projection: Vec<usize> = std::iter::once(0)
        .chain(columns.iter().map(|j| j + 1))
        .collect();
    let data_name = ctx.first_output_data_name("data");
    let output = ctx.output_table(data_name);
    let dest = output.to_id("output table")?;
    let info = TableInfo {
        schema: out_schema.clone(),
        origin: TableOrigin::Output,
        layout: fateflow_tables::RowLayout::Columns,
        ..input.info.clone()
    };
    let arrow_schema = out_schema.arrow_schema();
    let mut stage = ctx
        .tables
        .begin_write(&dest, &info)
        .map_err(|e| Error::table(&dest, e))?;
    let partitions = input.info.partitions;
    for partition in 0..partitions {
        let batches = ctx
            .tables
            .read_partition(&input.id, partition)
            .map_err(|e| Error::table(&input.id, e))?;
        for batch in batches {
            let batch = batch.map_err(|e| Error::table(&input.id, e))?;
            let arrow = |e| Error::table(&dest, fateflow_tables::Error::from(e));
            let projected = batch.project(&projection).map_err(arrow)?;
            let out = arrow_array::RecordBatch::try_new(
                arrow_schema.clone(),
                projected.columns().to_vec(),
            )
            .map_err(arrow)?;
            stage
                .write(partition, &out)
                .map_err(|e| Error::table(&dest, e))?;
        }
        ctx.tracker
            .progress((60 + u32::from(percent(partition + 1, partitions)) * 40 / 100) as u8);
    }
    stage
        .commit(WriteMode::Replace, input.rows)
        .map_err(|e| Error::table(&dest, e))?;
    ctx.tracker.save_output_data(data_name, &output)?;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ComponentModel;

    #[test]
    fn correlation_order_and_marking_follow_fate() {
        // Reversed stable argsort: ties put the later column first.
        assert_eq!(by_iv_descending(&[0.5, 0.9, 0.5, 0.1]), vec![1, 2, 0, 3]);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut filtered = BTreeMap::new();
        // Row of `a`: itself 1.0 (skipped), b 0.7 (dropped), c NaN (never above).
        filter_correlated(
            [1.0, -0.7, f64::NAN].into_iter(),
            &names,
            "a",
            true,
            0.5,
            &mut filtered,
        );
        assert_eq!(filtered, BTreeMap::from([("b".to_string(), -0.7)]));
        // The first value seen is kept.
        filter_correlated(
            [0.9, 0.9, 0.2].into_iter(),
            &names,
            "x",
            false,
            0.5,
            &mut filtered,
        );
        assert_eq!(filtered["b"], -0.7);
        assert_eq!(filtered["a"], 0.9);
    }

    fn pearson_model(names: &[&str], vif: &[f64]) -> Pearson {
        let k = names.len();
        let model = crate::pearson::PearsonModel {
            param: crate::pearson::model::ModelParam {
                party: "(guest,9999)".into(),
                parties: vec!["(guest,9999)".into()],
                shape: k,
                shapes: vec![k],
                names: names.iter().map(|s| s.to_string()).collect(),
                corr: Vec::new(),
                local_corr: vec![0.0; k * k],
                all_names: Vec::new(),
                anonymous_map: Vec::new(),
                model_name: "HeteroPearson".into(),
                local_vif: vif.to_vec(),
            },
            meta: Default::default(),
        };
        Pearson {
            component: "hetero_pearson_0".into(),
            alias: "model".into(),
            names: model.param.names.clone(),
            model,
        }
    }

    #[test]
    fn the_vif_filter_keeps_low_vif_and_drops_nan() {
        let p = pearson_model(&["a", "b", "c", "d"], &[1.2, 7.0, f64::NAN, 4.9]);
        let rule = Rule {
            select: Select::Threshold(5.0),
            take_high: false,
        };
        let out = p.judge_vif(&["a", "b", "c", "d"], &rule).unwrap();
        assert_eq!(out.kept, vec![true, false, false, true]);
        let e = p
            .judge_vif(&["zz"], &rule)
            .err()
            .expect("unknown column")
            .to_string();
        assert!(e.contains("zz"), "{e}");
        // Nothing passing keeps the lowest.
        let out = p.judge_vif(&["b"], &rule).unwrap();
        assert_eq!(out.kept, vec![true]);
    }

    fn sbt(model_name: &str, entries: Value, mapping: &[&str]) -> SbtModel {
        let m = ComponentModel {
            module: SBT_MODULE.into(),
            param: json!({
                "model_name": model_name,
                "feature_importances": entries,
                "feature_name_fid_mapping": mapping.iter().enumerate()
                    .map(|(i, n)| (i.to_string(), json!(n))).collect::<Map<_, _>>(),
            }),
            meta: json!({}),
        };
        SbtModel {
            component: "sbt_0".into(),
            alias: "model".into(),
            model_name: model_name.into(),
            importances: SbtView::from_component_model(&m)
                .unwrap()
                .importances()
                .unwrap(),
        }
    }

    /// The guest's copy: its own a..e (d and e never split on) and two host features.
    #[test]
    fn the_psi_filter_keeps_stable_columns_and_names_unscored_ones() {
        let scores = PsiScores {
            component: "psi_0".into(),
            alias: "model".into(),
            scores: BTreeMap::from([("a".into(), 0.05), ("b".into(), 0.3), ("c".into(), 0.1)]),
        };
        let rule = Rule {
            select: Select::Threshold(0.1),
            take_high: false,
        };
        let out = scores.judge(&["a", "b", "c"], &rule).unwrap();
        assert_eq!(out.kept, [true, false, true]);
        assert_eq!(out.values, Some(vec![0.05, 0.3, 0.1]));
        let top = Rule {
            select: Select::TopK(1),
            take_high: false,
        };
        assert_eq!(
            scores.judge(&["a", "b", "c"], &top).unwrap().kept,
            [true, false, false]
        );
        let Err(e) = scores.judge(&["a", "d"], &rule) else {
            panic!("an unscored column is judged")
        };
        let e = e.to_string();
        assert!(e.contains("`d`") && e.contains("psi_0"), "{e}");
    }

    fn guest_model() -> SbtModel {
        let e = |site: &str, fid: i64, imp: f64| json!({"sitename": site, "fid": fid, "importance": imp});
        sbt(
            "hetero_sbt",
            json!([
                e("host:10000", 0, 12.0),
                e("guest:9999", 2, 6.0),
                e("guest:9999", 0, 3.0),
                e("host:10000", 3, 2.0),
                e("guest:9999", 1, 3.0)
            ]),
            &["a", "b", "c", "d", "e"],
        )
    }

    fn judged(
        m: &SbtModel,
        cols: &[&str],
        select: Select,
        take_high: bool,
    ) -> (Vec<String>, Vec<f64>) {
        let out = m.judge(cols, &Rule { select, take_high }).unwrap();
        let kept = cols
            .iter()
            .zip(&out.kept)
            .filter(|(_, &k)| k)
            .map(|(c, _)| c.to_string())
            .collect();
        (kept, out.values.unwrap())
    }

    #[test]
    fn guest_judges_its_own_columns_by_importance() {
        let m = guest_model();
        let all = ["a", "b", "c", "d", "e"];
        let (kept, values) = judged(&m, &all, Select::Threshold(3.0), true);
        assert_eq!(
            values,
            [3.0, 3.0, 6.0, 0.0, 0.0],
            "host entries skipped, unused 0"
        );
        assert_eq!(kept, ["a", "b", "c"], "threshold is inclusive");
        assert_eq!(
            judged(&m, &all, Select::Threshold(3.0), false).0,
            ["a", "b", "d", "e"]
        );
        assert_eq!(
            judged(&m, &all, Select::TopK(2), true).0,
            ["a", "c"],
            "ties in column order"
        );
        assert_eq!(judged(&m, &all, Select::TopK(1), false).0, ["d"]);
        // ceil(0.5 · 5) = 3.
        assert_eq!(
            judged(&m, &all, Select::TopPercentile(0.5), true).0,
            ["a", "b", "c"]
        );
        assert_eq!(
            judged(&m, &all, Select::TopPercentile(0.5), false).0,
            ["a", "d", "e"]
        );
        // Only what is judged counts: the best of b, d, e.
        assert_eq!(judged(&m, &["b", "d", "e"], Select::TopK(1), true).0, ["b"]);
    }

    #[test]
    fn nothing_passing_keeps_the_best_one() {
        let m = guest_model();
        let out = m
            .judge(
                &["a", "c", "d"],
                &Rule {
                    select: Select::Threshold(10.0),
                    take_high: true,
                },
            )
            .unwrap();
        assert_eq!(out.kept, [false, true, false]);
        assert_eq!(out.kept_one, Some(1));
        let out = m
            .judge(
                &["a", "c", "d"],
                &Rule {
                    select: Select::Threshold(-1.0),
                    take_high: false,
                },
            )
            .unwrap();
        assert_eq!(out.kept, [false, false, true]);
    }

    #[test]
    fn host_judges_its_local_entries() {
        let e =
            |fid: i64, imp: f64| json!({"sitename": "hostLocal", "fid": fid, "importance": imp});
        let m = sbt(
            "hetero_fast_sbt_layered",
            json!([e(2, 5.0), e(0, 1.0)]),
            &["h0", "h1", "h2"],
        );
        let cols = ["h0", "h1", "h2"];
        let (kept, values) = judged(&m, &cols, Select::Threshold(1.0), true);
        assert_eq!(values, [1.0, 0.0, 5.0]);
        assert_eq!(kept, ["h0", "h2"]);
        assert_eq!(judged(&m, &cols, Select::TopK(1), true).0, ["h2"]);
        assert_eq!(
            judged(&m, &cols, Select::TopPercentile(0.1), false).0,
            ["h1"]
        );
        let e = m.judge(
            &["x9"],
            &Rule {
                select: Select::TopK(1),
                take_high: true,
            },
        );
        assert!(e
            .err()
            .unwrap()
            .to_string()
            .contains("`x9` is not in feature_name_fid_mapping"));
    }

    #[test]
    fn each_filter_picks_its_model_by_name() {
        let step = |method: &str| {
            let p = SelectionParam::parse(json!({"filter_methods": [method]}).as_object().unwrap())
                .unwrap();
            p.steps.into_iter().next().unwrap()
        };
        let rule = |s: &Step| match &s.kind {
            FilterKind::Sbt(r) => r.clone(),
            other => panic!("{other:?}"),
        };
        let (std, fast) = (step("hetero_sbt_filter"), step("hetero_fast_sbt_filter"));
        let models = vec![
            sbt("hetero_fast_sbt_mix", json!([]), &["a"]),
            sbt("hetero_sbt", json!([]), &["a"]),
        ];
        let picked = SbtModel::pick(&models, &std, &rule(&std)).unwrap();
        assert_eq!(picked.model_name, "hetero_sbt");
        let picked = SbtModel::pick(&models, &fast, &rule(&fast)).unwrap();
        assert_eq!(picked.model_name, "hetero_fast_sbt_mix");
        let e = SbtModel::pick(&models[..1], &std, &rule(&std))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("model_name hetero_sbt ")
                && e.contains("have model_name hetero_fast_sbt_mix"),
            "{e}"
        );
        let both = vec![
            sbt("hetero_fast_sbt_layered", json!([]), &["a"]),
            sbt("hetero_fast_sbt_mix", json!([]), &["a"]),
        ];
        let e = SbtModel::pick(&both, &fast, &rule(&fast))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("layered or mix, not both"), "{e}");
    }
}
