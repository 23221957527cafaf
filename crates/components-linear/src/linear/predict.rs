//! Scoring with a hetero linear model: each host sends `x_h·w_h` in plaintext for the
//! rows the guest names, and the guest adds its own part (spec §6.5).

use std::collections::HashMap;

use fateflow_domain::Party;
use fateflow_federation::FederationExt;

use super::Dataset;
use crate::context::TaskContext;
use crate::error::{Error, Result};

/// Guest: `x_g·w_g + b + Σ_hosts x_h·w_h` for every row of `data` (in its order).
pub(crate) fn guest_scores(
    ctx: &TaskContext<'_>,
    hosts: &[Party],
    data: &Dataset,
    w: &[f64],
    intercept: f64,
    tag: &str,
) -> Result<Vec<f64>> {
    let fed = ctx.federation()?;
    fed.remote("predict_sids", tag, &data.sids, hosts)?;
    let mut scores: Vec<f64> = (0..data.n())
        .map(|i| data.x(i).iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + intercept)
        .collect();
    for host in hosts {
        let theirs: Vec<f64> = fed.get("host_scores", tag, *host)?;
        if theirs.len() != scores.len() || theirs.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(
                "host_scores",
                format!(
                    "{host} sent {} scores for {} rows (or a non-finite one)",
                    theirs.len(),
                    scores.len()
                ),
            ));
        }
        for (s, t) in scores.iter_mut().zip(theirs) {
            *s += t;
        }
    }
    Ok(scores)
}

/// Host: answers the guest's [`guest_scores`] request with `x_h·w_h` for the named rows.
pub(crate) fn host_scores(
    ctx: &TaskContext<'_>,
    data: &Dataset,
    w: &[f64],
    tag: &str,
) -> Result<()> {
    let fed = ctx.federation()?;
    let guest = ctx
        .parties_of(fateflow_domain::Role::Guest)
        .first()
        .copied()
        .ok_or_else(|| Error::param("role", "scoring needs a guest"))?;
    let sids: Vec<String> = fed.get("predict_sids", tag, guest)?;
    let index: HashMap<&str, usize> = data
        .sids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let scores = sids
        .iter()
        .map(|s| {
            let i = *index.get(s.as_str()).ok_or_else(|| Error::InvalidValue {
                table: data.table.clone(),
                sid: s.clone(),
                column: data.sid_name.clone(),
                reason: "the guest asked for a score of a sample this host does not have; intersect the data first".into(),
            })?;
            Ok(data.x(i).iter().zip(w).map(|(x, w)| x * w).sum::<f64>())
        })
        .collect::<Result<Vec<f64>>>()?;
    fed.remote("host_scores", tag, &scores, &[guest])?;
    Ok(())
}

/// The logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}
