//! A deployed SecureBoost model's party part, one row at a time, for online inference.
//! The protocols are the batch predict's ([`super::predict`]) for a single row:
//!
//! - plain: each host sends, per tree, the set of leaves its own splits allow; the guest
//!   intersects them with its own and reaches one leaf per tree. A host learns nothing;
//!   the guest learns, per tree, which leaves the host's splits rule out.
//! - EINI (when the model was trained with `EINI_inference`, one host): the guest sends
//!   `lr·w` of every leaf its own splits allow, encrypted under its own key, 0 elsewhere;
//!   the host zeroes the leaves its splits rule out and returns the sums per score
//!   dimension (times a random factor with `EINI_random_mask`). The guest learns the
//!   score only, the host nothing.

use fateflow_crypto::paillier::{Encryptor, Keypair, PublicKey};
use serde_json::{Map, Value};

use super::fit::{add_leaves, Target};
use super::messages::{bytes_to_u64s, u64s_to_bytes};
use super::model::{SbtModelMeta, SbtModelParam};
use super::param::SbtParam;
use super::predict::{
    eini_decode, eini_entries, eini_mask, host_filter, host_sum, row_leaf_sets, set_offsets,
    EiniLayout,
};
use super::tree::{Owner, Tree};
use crate::predict_output::DataType;

/// Rows of EINI encryptions the guest's obfuscator table is sized for.
const OBFUSCATED_ROWS: usize = 64;

/// Which party's part this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The guest.
    Guest,
    /// The host at this position in the model's host list.
    Host(usize),
}

/// A row's result at the guest.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeOutcome {
    /// The probability of class 1 (binary), of the predicted class (multi-class), or
    /// the prediction (regression).
    pub score: f64,
    /// The predicted class (classification).
    pub label: Option<f64>,
    /// Per class probabilities (classification).
    pub probabilities: Vec<f64>,
}

/// What the guest keeps of a row while the hosts answer.
#[derive(Debug, Clone)]
pub struct GuestRow {
    sets: Vec<u64>,
    /// What the hosts need from the guest for this row (EINI's encrypted vector).
    pub to_hosts: Option<Vec<u8>>,
}

struct GuestPart {
    target: Target,
    init_score: Vec<f64>,
    learning_rate: f64,
    /// EINI's key, made when the model is loaded.
    keys: Option<Keypair>,
}

/// One party's servable SecureBoost part.
pub struct OnlineTrees {
    trees: Vec<Tree>,
    me: Owner,
    features: Vec<String>,
    zero_as_missing: bool,
    index: Vec<Vec<usize>>,
    words: Vec<usize>,
    per_row: usize,
    leaves: Vec<Vec<usize>>,
    entries: Vec<(usize, usize, usize)>,
    offsets: Vec<usize>,
    dims: usize,
    multi_output: bool,
    eini: bool,
    random_mask: bool,
    guest: Option<GuestPart>,
}

impl std::fmt::Debug for OnlineTrees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineTrees")
            .field("trees", &self.trees.len())
            .field("me", &self.me)
            .field("features", &self.features.len())
            .field("eini", &self.eini)
            .finish()
    }
}

impl OnlineTrees {
    /// The part from the component's stored model (`{"param", "meta"}`), the model's
    /// host parties in order, and the component's training parameters at this party.
    pub fn from_model(
        model: &Value,
        hosts: &[u64],
        side: Side,
        params: &Map<String, Value>,
    ) -> Result<Self, String> {
        let param: SbtModelParam =
            serde_json::from_value(model["param"].clone()).map_err(|e| format!("param: {e}"))?;
        let meta: SbtModelMeta =
            serde_json::from_value(model["meta"].clone()).map_err(|e| format!("meta: {e}"))?;
        let settings = SbtParam::parse(params).map_err(|e| e.to_string())?;
        let trees = param
            .trees_
            .iter()
            .map(|t| t.to_tree(hosts))
            .collect::<Result<Vec<_>, _>>()?;
        let features = (0..param.feature_name_fid_mapping.len())
            .map(|i| {
                param
                    .feature_name_fid_mapping
                    .get(&i.to_string())
                    .cloned()
                    .ok_or_else(|| format!("feature_name_fid_mapping has no feature {i}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let me = match side {
            Side::Guest => Owner::Guest,
            Side::Host(h) => Owner::Host(h),
        };
        for (t, tree) in trees.iter().enumerate() {
            for (n, o) in tree.nodes.iter().zip(&tree.owners) {
                if !n.is_leaf && *o == me && (n.fid < 0 || n.fid as usize >= features.len()) {
                    return Err(format!(
                        "tree {t} node {} splits on feature {} of {}",
                        n.id,
                        n.fid,
                        features.len()
                    ));
                }
            }
        }
        // FATE runs EINI for std and layered models; mix predicts in one round.
        let eini = settings.eini_inference && meta.boosting_strategy != "mix";
        if eini && hosts.len() != 1 {
            return Err(format!(
                "EINI_inference with {} hosts is not served online (the hosts would pass the \
                 vector between them; online, each host answers the guest only)",
                hosts.len()
            ));
        }
        let guest = match side {
            Side::Guest => {
                let target = Target::of_model(&param, &meta, settings.threshold)?;
                let keys = if eini {
                    Some(Keypair::generate(settings.key_length).map_err(|e| e.to_string())?)
                } else {
                    None
                };
                Some(GuestPart {
                    target,
                    init_score: param.init_score.clone(),
                    learning_rate: meta.learning_rate,
                    keys,
                })
            }
            Side::Host(_) => None,
        };
        let dims = guest
            .as_ref()
            .map(|g| g.target.loss.dim())
            .unwrap_or(param.init_score.len().max(1));
        let (offsets, per_row) = set_offsets(&trees);
        let entries = eini_entries(&trees, dims, param.multi_output);
        if let Some(keys) = guest.as_ref().and_then(|g| g.keys.as_ref()) {
            // The obfuscator table, built at load rather than on the first request,
            // sized for many requests' encryptions.
            keys.public
                .prepare_obfuscators(entries.len() * OBFUSCATED_ROWS);
        }
        Ok(OnlineTrees {
            index: trees.iter().map(Tree::leaf_index).collect(),
            words: trees.iter().map(Tree::words).collect(),
            leaves: trees.iter().map(Tree::leaves).collect(),
            entries,
            offsets,
            per_row,
            dims,
            multi_output: param.multi_output,
            trees,
            me,
            features,
            zero_as_missing: meta.zero_as_missing,
            eini,
            random_mask: settings.eini_random_mask,
            guest,
        })
    }

    /// This party's features, by index.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Whether the model is served with EINI.
    pub fn eini(&self) -> bool {
        self.eini
    }

    /// This party's reachable leaf sets for a row (`x` in [`Self::features`] order, NaN
    /// for a missing value).
    fn own_sets(&self, x: &[f64]) -> Vec<u64> {
        let mut out = vec![0u64; self.per_row];
        let value = |fid: usize| {
            let v = x.get(fid).copied().unwrap_or(f64::NAN);
            if self.zero_as_missing && v == 0.0 {
                f64::NAN
            } else {
                v
            }
        };
        row_leaf_sets(
            &self.trees,
            &self.index,
            &self.words,
            self.me,
            value,
            &mut out,
        );
        out
    }

    /// What the guest sends a host along with the rows (EINI: its public key).
    pub fn context(&self) -> Option<Value> {
        let keys = self.guest.as_ref()?.keys.as_ref()?;
        Some(serde_json::json!({
            "public_key": serde_json::to_value(&keys.public).unwrap_or(Value::Null),
            "random_mask": self.random_mask,
        }))
    }

    /// The guest's first step for a row.
    pub fn guest_begin(&self, x: &[f64]) -> Result<GuestRow, String> {
        let g = self.guest.as_ref().ok_or("not the guest's part")?;
        let sets = self.own_sets(x);
        let to_hosts = match &g.keys {
            None => None,
            Some(keys) => {
                let layout = EiniLayout {
                    trees: &self.trees,
                    leaves: &self.leaves,
                    entries: &self.entries,
                    offsets: &self.offsets,
                    multi_output: self.multi_output,
                };
                let per_dim_trees = if self.multi_output {
                    self.trees.len().max(1)
                } else {
                    (self.trees.len() / self.dims).max(1)
                };
                let plain = layout
                    .guest_plain(
                        &sets,
                        g.learning_rate,
                        &g.init_score,
                        per_dim_trees,
                        keys.public.n(),
                    )
                    .map_err(|e| e.to_string())?;
                let cts = keys
                    .private
                    .encrypt_raw_batch(&plain)
                    .map_err(|e| e.to_string())?;
                Some(crate::wire::encode_ciphers(&cts))
            }
        };
        Ok(GuestRow { sets, to_hosts })
    }

    /// A host's answer for a row: its leaf sets, or (EINI) the masked sums of the
    /// guest's vector `from_guest` under the public key in `context`.
    pub fn host_answer(
        &self,
        x: &[f64],
        from_guest: Option<&[u8]>,
        context: Option<&Value>,
    ) -> Result<Vec<u8>, String> {
        let sets = self.own_sets(x);
        if !self.eini {
            return Ok(u64s_to_bytes(&sets));
        }
        let (Some(bytes), Some(ctx)) = (from_guest, context) else {
            return Err("the model is served with EINI; the guest sent no encrypted vector".into());
        };
        let pk: PublicKey = serde_json::from_value(ctx["public_key"].clone())
            .map_err(|e| format!("the guest's public key: {e}"))?;
        let guest = fateflow_domain::Party {
            role: fateflow_domain::Role::Guest,
            party_id: 0,
        };
        let mut cts = crate::wire::decode_ciphers("sbt_eini_vec", guest, &pk, bytes)
            .map_err(|e| e.to_string())?;
        if cts.len() != self.entries.len() {
            return Err(format!(
                "an EINI vector of {} entries for a model of {}",
                cts.len(),
                self.entries.len()
            ));
        }
        host_filter(&self.entries, &self.offsets, &sets, &mut cts);
        let mask = self.random_mask || ctx["random_mask"].as_bool() == Some(true);
        let sums = host_sum(&pk, &self.entries, self.dims, &cts, &eini_mask(mask))
            .map_err(|e| e.to_string())?;
        let mut out = vec![u8::from(mask)];
        out.extend(crate::wire::encode_ciphers(&sums));
        Ok(out)
    }

    /// The guest's result for a row from every host's answer.
    pub fn guest_finish(&self, row: GuestRow, answers: &[&[u8]]) -> Result<TreeOutcome, String> {
        let g = self.guest.as_ref().ok_or("not the guest's part")?;
        let scores: Vec<f64> = match &g.keys {
            Some(keys) => {
                let [answer] = answers else {
                    return Err(format!("{} EINI answers for one host", answers.len()));
                };
                let (&masked, rest) = answer.split_first().ok_or("an empty EINI answer")?;
                let host = fateflow_domain::Party {
                    role: fateflow_domain::Role::Host,
                    party_id: 0,
                };
                let sums = crate::wire::decode_ciphers("sbt_eini_sum", host, &keys.public, rest)
                    .map_err(|e| e.to_string())?;
                if sums.len() != self.dims {
                    return Err(format!(
                        "{} EINI sums for {} dimensions",
                        sums.len(),
                        self.dims
                    ));
                }
                sums.iter()
                    .map(|s| eini_decode(keys, s, masked == 1))
                    .collect()
            }
            None => {
                let mut sets = row.sets;
                for a in answers {
                    let theirs = bytes_to_u64s(a)
                        .filter(|v| v.len() == sets.len())
                        .ok_or("leaf sets of the wrong size")?;
                    for (x, y) in sets.iter_mut().zip(theirs) {
                        *x &= y;
                    }
                }
                let mut leaves = Vec::with_capacity(self.trees.len());
                for (t, (&at, &w)) in self.offsets.iter().zip(&self.words).enumerate() {
                    let set = &sets[at..at + w];
                    let k = super::predict::only_leaf(set).ok_or_else(|| {
                        format!("tree {t}: leaf sets that do not meet in exactly one leaf")
                    })?;
                    leaves.push(self.leaves[t][k] as u32);
                }
                let mut scores = g.init_score.clone();
                add_leaves(
                    &mut scores,
                    &leaves,
                    &self.trees,
                    &g.target,
                    g.learning_rate,
                    0,
                );
                scores
            }
        };
        let r = g.target.row("", f64::NAN, &scores, DataType::Test);
        let classification = !g.target.classes.is_empty();
        Ok(TreeOutcome {
            score: r.predict_score,
            label: classification.then_some(r.predict_result),
            probabilities: if classification { r.detail } else { Vec::new() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One tree: the root splits on the host's feature at 1.5, its left child on the
    /// guest's at 0.5; leaves 3 (w 1.0), 4 (w −1.0) and 2 (w 0.5). `host` gives the
    /// host's copy (only its split value, no weights).
    fn model(host: bool, eini: bool, mask: bool) -> (Value, Map<String, Value>) {
        let node =
            |id: usize, site: &str, fid: i64, bid: f64, w: f64, leaf: bool, l: i64, r: i64| {
                json!({"id": id, "sitename": site, "fid": fid, "bid": bid,
                   "weight": if leaf && !host { vec![w] } else { vec![] },
                   "is_leaf": leaf, "left_nodeid": l, "right_nodeid": r, "missing_dir": 1})
            };
        let (hf, hb, gf, gb) = if host {
            (0, 1.5, -1, -1.0)
        } else {
            (-1, -1.0, 0, 0.5)
        };
        let tree = json!({
            "tree_": [
                node(0, "host:10000", hf, hb, 0.0, false, 1, 2),
                node(1, "guest:9999", gf, gb, 0.0, false, 3, 4),
                node(2, "guest:9999", -1, -1.0, 0.5, true, -1, -1),
                node(3, "guest:9999", -1, -1.0, 1.0, true, -1, -1),
                node(4, "guest:9999", -1, -1.0, -1.0, true, -1, -1),
            ],
            "split_maskdict": {}, "missing_dir_maskdict": {}
        });
        let param = json!({
            "tree_num": 1, "trees_": [tree], "init_score": [0.0], "losses": [], "tree_dim": 1,
            "num_classes": 2, "classes_": ["0", "1"], "feature_importances": [],
            "feature_name_fid_mapping": {"0": if host { "h0" } else { "g0" }},
            "best_iteration": -1, "tree_plan": [], "model_name": "hetero_sbt"
        });
        let meta = json!({
            "tree_meta": {}, "learning_rate": 0.1, "num_trees": 1, "quantile_meta": {},
            "objective_meta": {"objective": "cross_entropy", "param": []},
            "task_type": "classification", "n_iter_no_change": false, "tol": 0.0001,
            "use_missing": false, "zero_as_missing": false, "boosting_strategy": "std",
            "module": "HeteroSecureBoost"
        });
        let mut params = Map::new();
        params.insert("EINI_inference".into(), json!(eini));
        params.insert("EINI_random_mask".into(), json!(mask));
        params.insert("encrypt_param".into(), json!({"key_length": 1024}));
        (json!({"param": param, "meta": meta}), params)
    }

    fn score(eini: bool, g: f64, h: f64) -> f64 {
        score_with(eini, false, g, h)
    }

    fn score_with(eini: bool, mask: bool, g: f64, h: f64) -> f64 {
        let (gm, gp) = model(false, eini, mask);
        let (hm, hp) = model(true, eini, mask);
        let guest = OnlineTrees::from_model(&gm, &[10000], Side::Guest, &gp).unwrap();
        let host = OnlineTrees::from_model(&hm, &[10000], Side::Host(0), &hp).unwrap();
        assert_eq!(guest.eini(), eini);
        let row = guest.guest_begin(&[g]).unwrap();
        let answer = host
            .host_answer(&[h], row.to_hosts.as_deref(), guest.context().as_ref())
            .unwrap();
        let out = guest.guest_finish(row, &[&answer]).unwrap();
        assert_eq!(out.label, Some(if out.score > 0.5 { 1.0 } else { 0.0 }));
        out.score
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn each_path_scores_its_leaf_plainly_and_under_eini() {
        for eini in [false, true] {
            // host 1.0 ≤ 1.5 → left; guest 0.7 > 0.5 → right: leaf 4.
            let tol = if eini { 1e-9 } else { 1e-12 };
            let s = score(eini, 0.7, 1.0);
            assert!(
                (s - sigmoid(-0.1)).abs() <= tol,
                "eini {eini}: {s} vs {}",
                sigmoid(-0.1)
            );
            // guest 0.2 → leaf 3.
            assert!((score(eini, 0.2, 1.0) - sigmoid(0.1)).abs() <= tol);
            // host 2.0 → right: leaf 2, whatever the guest's value.
            assert!((score(eini, 0.2, 2.0) - sigmoid(0.05)).abs() <= tol);
        }
        // EINI's random mask scales the raw score by r in [1, 2), as in FATE.
        let p = score_with(true, true, 0.7, 1.0);
        let r = (p / (1.0 - p)).ln() / -0.1;
        assert!((1.0..2.0).contains(&r), "mask {r}");
    }

    #[test]
    fn answers_of_the_wrong_shape_are_refused() {
        let (gm, gp) = model(false, false, false);
        let guest = OnlineTrees::from_model(&gm, &[10000], Side::Guest, &gp).unwrap();
        let row = guest.guest_begin(&[0.7]).unwrap();
        let err = guest.guest_finish(row, &[&[1, 2, 3]]).unwrap_err();
        assert!(err.contains("wrong size"), "{err}");
        // A host that rules out every leaf.
        let row = guest.guest_begin(&[0.7]).unwrap();
        let err = guest.guest_finish(row, &[&0u64.to_le_bytes()]).unwrap_err();
        assert!(err.contains("exactly one leaf"), "{err}");
        // A model of another host.
        let err = OnlineTrees::from_model(&gm, &[10001], Side::Guest, &gp).unwrap_err();
        assert!(err.contains("host 10000"), "{err}");
    }
}
