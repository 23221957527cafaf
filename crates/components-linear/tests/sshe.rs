//! HeteroSSHELR / HeteroSSHELinR (two parties, secret shares, no arbiter) against
//! plaintext gradient descent and against HeteroLR.

mod common;

use common::parties::*;
use common::temp_store;
use fateflow_component_core::memory::MemoryBudget;
use fateflow_component_core::ComponentModel;
use serde_json::{json, Value};

/// Trains `module` between guest and host (no arbiter) on `train_data`, every party
/// succeeding; the outcome and the guest's and host's models.
fn trained(
    memory: MemoryBudget,
    store: &fateflow_tables::LocalTableStore,
    module: &str,
    params: Value,
    g: &fateflow_component_core::TableRef,
    h: &fateflow_component_core::TableRef,
) -> (Outcome, ComponentModel, ComponentModel) {
    let (out, results) = run_parties_in(
        memory,
        store,
        module,
        params.clone(),
        ("train_data", g),
        ("train_data", h),
        false,
        None,
    );
    for r in &results {
        assert!(r.is_ok(), "{module} {params}: {r:?}");
    }
    let (_, gm) = out.guest.models().pop().unwrap();
    let (_, hm) = out.host.models().pop().unwrap();
    (out, gm, hm)
}

fn weights(model: &ComponentModel) -> (Vec<f64>, f64) {
    let header: Vec<String> = serde_json::from_value(model.param["header"].clone()).unwrap();
    let w = header
        .iter()
        .map(|h| model.param["weight"][h].as_f64().unwrap())
        .collect();
    (w, model.param["intercept"].as_f64().unwrap_or(0.0))
}

fn losses(model: &ComponentModel) -> Vec<f64> {
    serde_json::from_value(model.param["loss_history"].clone()).unwrap()
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

/// Both reveal modes of SSHE-LR follow plain full-batch SGD on FATE's Taylor loss:
/// weights and every epoch's loss.
#[test]
fn sshe_lr_follows_plaintext_sgd_in_both_modes() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let (x_g, x_h, y, _) = plain_rows(&store, &g, &h);
    let (wg, wh, plain_losses) = plain_descent(&x_g, &x_h, &y, None, Plain::Logistic, 0.15, 0.0, 5);
    for reveal in [true, false] {
        let params = json!({
            "penalty": "None", "optimizer": "sgd", "learning_rate": 0.15, "max_iter": 5,
            "tol": 0.0, "init_param": {"init_method": "zeros"},
            "encrypt_param": {"key_length": 1024}, "reveal_every_iter": reveal
        });
        // A 1 MB budget: blocks of 64 rows (569 rows, 9 blocks).
        let (_, gm, hm) = trained(
            MemoryBudget::from_mb(1),
            &store,
            "HeteroSSHELR",
            params,
            &g,
            &h,
        );
        let (w, b) = weights(&gm);
        close(
            &w,
            &wg[..wg.len() - 1],
            1e-4,
            &format!("guest (reveal {reveal})"),
        );
        assert!((b - wg[wg.len() - 1]).abs() < 1e-4, "intercept {b}");
        close(
            &weights(&hm).0,
            &wh,
            1e-4,
            &format!("host (reveal {reveal})"),
        );
        close(
            &losses(&gm),
            &plain_losses,
            1e-5,
            &format!("loss (reveal {reveal})"),
        );
        assert_eq!(gm.module, "HeteroSSHELR");
        assert_eq!(gm.meta["reveal_strategy"], "respectively");
    }
}

/// SSHE-LinR without revealing: weights and loss of plain SGD on least squares, with
/// L2 on every weight (the intercept included, as FATE's share update).
#[test]
fn sshe_linr_not_revealed_follows_plaintext_sgd() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "student_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "student_hetero_host.csv", None);
    let (x_g, x_h, y, _) = plain_rows(&store, &g, &h);
    let (wg, wh, plain_losses) = plain_descent(&x_g, &x_h, &y, None, Plain::Linear, 0.01, 0.0, 5);
    let params = json!({
        "penalty": "None", "optimizer": "sgd", "learning_rate": 0.01, "max_iter": 5,
        "tol": 0.0, "init_param": {"init_method": "zeros"},
        "encrypt_param": {"key_length": 1024}
    });
    let (_, gm, hm) = trained(
        MemoryBudget::default(),
        &store,
        "HeteroSSHELinR",
        params,
        &g,
        &h,
    );
    let (w, b) = weights(&gm);
    close(&w, &wg[..wg.len() - 1], 1e-4, "guest");
    assert!((b - wg[wg.len() - 1]).abs() < 1e-4, "intercept {b}");
    close(&weights(&hm).0, &wh, 1e-4, "host");
    // Losses in the thousands: a relative bound.
    let scaled: Vec<f64> = plain_losses.iter().map(|l| l * 1e-3).collect();
    let got: Vec<f64> = losses(&gm).iter().map(|l| l * 1e-3).collect();
    close(&got, &scaled, 1e-6, "loss");
}

/// Sample weights multiply each row's error, as a weighted plaintext descent.
#[test]
fn sshe_linr_weights_the_errors() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "student_hetero_guest.csv", Some("y"));
    let g = with_weights(&store, &g, |i| 0.5 + (i % 3) as f64);
    let h = labeled(&store, "student_hetero_host.csv", None);
    let (x_g, x_h, y, w) = plain_rows(&store, &g, &h);
    let (wg, wh, _) = plain_descent(&x_g, &x_h, &y, w.as_deref(), Plain::Linear, 0.01, 0.0, 4);
    for reveal in [true, false] {
        let params = json!({
            "penalty": "None", "optimizer": "sgd", "learning_rate": 0.01, "max_iter": 4,
            "tol": 0.0, "init_param": {"init_method": "zeros"},
            "encrypt_param": {"key_length": 1024}, "reveal_every_iter": reveal
        });
        let (_, gm, hm) = trained(
            MemoryBudget::default(),
            &store,
            "HeteroSSHELinR",
            params,
            &g,
            &h,
        );
        let (wgot, b) = weights(&gm);
        close(&wgot, &wg[..wg.len() - 1], 1e-4, "guest");
        assert!((b - wg[wg.len() - 1]).abs() < 1e-4, "intercept {b}");
        close(&weights(&hm).0, &wh, 1e-4, "host");
    }
}

/// SSHE-LR with reveal_every_iter and rmsprop reaches HeteroLR's AUC on breast.
#[test]
fn sshe_lr_matches_heterolr_auc() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let params = |sshe: bool| -> Value {
        let mut p = json!({
            "penalty": "L2", "alpha": 0.01, "optimizer": "rmsprop", "learning_rate": 0.15,
            "max_iter": 30, "init_param": {"init_method": "zeros"},
            "encrypt_param": {"key_length": 1024}
        });
        if sshe {
            p["reveal_every_iter"] = true.into();
        }
        p
    };
    let mut aucs = Vec::new();
    for (module, arbiter) in [("HeteroLR", true), ("HeteroSSHELR", false)] {
        let (out, results) = run_parties(
            &store,
            module,
            params(module != "HeteroLR"),
            ("train_data", &g),
            ("train_data", &h),
            arbiter,
            None,
        );
        for r in &results {
            assert!(r.is_ok(), "{module}: {r:?}");
        }
        let (_, labels, scores) = predictions(&store, &out.guest);
        aucs.push(auc_ks(&labels, &scores).0);
    }
    assert!(
        (aucs[0] - aucs[1]).abs() <= 0.005,
        "HeteroLR {} vs SSHE {}",
        aucs[0],
        aucs[1]
    );
}

#[test]
fn sshe_refuses_what_fate_refuses() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let refused = |module: &str, p: Value, key: &str| {
        let (_, results) = run_parties(
            &store,
            module,
            p.clone(),
            ("train_data", &g),
            ("train_data", &h),
            false,
            None,
        );
        let e = results[0].as_ref().unwrap_err().to_string();
        assert!(e.contains(key), "{module} {p}: {e}");
    };
    refused(
        "HeteroSSHELR",
        json!({"reveal_every_iter": true, "reveal_strategy": "encrypted_reveal_in_host"}),
        "reveal_strategy",
    );
    refused("HeteroSSHELR", json!({"optimizer": "rmsprop"}), "optimizer");
    refused(
        "HeteroSSHELinR",
        json!({"optimizer": "nesterov_momentum_sgd"}),
        "optimizer",
    );
    refused("HeteroSSHELR", json!({"penalty": "L1"}), "penalty");
    refused(
        "HeteroSSHELR",
        json!({"callback_param": {"callbacks": ["PerformanceEvaluate"], "validation_freqs": 1}}),
        "validation_freqs",
    );
}

/// `encrypted_reveal_in_host`: the host's model holds only ciphertexts, the guest's
/// model names the site table of its key (not the key), and scores, in training and in
/// a predict job, equal the plaintext model's.
#[test]
fn encrypted_reveal_in_host_scores_as_the_plaintext_model() {
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let (x_g, x_h, y, _) = plain_rows(&store, &g, &h);
    let (wg, wh, _) = plain_descent(&x_g, &x_h, &y, None, Plain::Logistic, 0.15, 0.0, 4);
    let params = json!({
        "penalty": "None", "optimizer": "sgd", "learning_rate": 0.15, "max_iter": 4,
        "tol": 0.0, "init_param": {"init_method": "zeros"},
        "encrypt_param": {"key_length": 1024}, "reveal_strategy": "encrypted_reveal_in_host"
    });
    let (out, gm, hm) = trained(
        MemoryBudget::default(),
        &store,
        "HeteroSSHELR",
        params.clone(),
        &g,
        &h,
    );
    assert_eq!(hm.param["weight"], json!({}));
    assert_eq!(
        hm.param["encrypted_weight"].as_object().unwrap().len(),
        wh.len()
    );
    assert!(gm.param["guest_key_table"]
        .as_str()
        .unwrap()
        .starts_with("fateflow_sshe_keys."));
    let text = gm.param.to_string() + &gm.meta.to_string();
    assert!(!text.contains("private"), "{text}");
    let (w, b) = weights(&gm);
    close(&w, &wg[..wg.len() - 1], 1e-4, "guest");
    assert!((b - wg[wg.len() - 1]).abs() < 1e-4);
    let plain: Vec<f64> = (0..y.len())
        .map(|i| {
            let z: f64 = x_g[i].iter().zip(&wg).map(|(x, w)| x * w).sum::<f64>()
                + wg[wg.len() - 1]
                + x_h[i].iter().zip(&wh).map(|(x, w)| x * w).sum::<f64>();
            1.0 / (1.0 + (-z).exp())
        })
        .collect();
    let (_, _, trained) = predictions(&store, &out.guest);
    close(&trained, &plain, 1e-4, "training output");
    // A predict job from the two models.
    let (out, results) = run_parties(
        &store,
        "HeteroSSHELR",
        params,
        ("test_data", &g),
        ("test_data", &h),
        false,
        Some((gm.clone(), hm.clone(), hm)),
    );
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let (_, _, predicted) = predictions(&store, &out.guest);
    close(&predicted, &trained, 1e-9, "predict job");
}

/// A guest whose data plane breaks after `left` messages, as if its process died.
struct Dropping {
    inner: common::MemoryFederation,
    left: std::sync::atomic::AtomicUsize,
}

impl fateflow_federation::Federation for Dropping {
    fn me(&self) -> fateflow_domain::Party {
        self.inner.me()
    }

    fn remote_bytes(
        &self,
        name: &str,
        tag: &str,
        value: &[u8],
        to: &[fateflow_domain::Party],
    ) -> fateflow_federation::Result<()> {
        if self.left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(fateflow_federation::Error::Timeout {
                name: name.into(),
                tag: tag.into(),
                from: self.me(),
                waited: std::time::Duration::ZERO,
            });
        }
        self.inner.remote_bytes(name, tag, value, to)
    }

    fn get_bytes(
        &self,
        name: &str,
        tag: &str,
        from: fateflow_domain::Party,
    ) -> fateflow_federation::Result<Vec<u8>> {
        self.inner.get_bytes(name, tag, from)
    }
}

/// The guest stops in the middle of training: the host's task fails once its wait
/// runs out, naming the guest and what it waited for.
#[test]
fn a_guest_that_drops_out_fails_the_host_naming_the_guest() {
    use fateflow_domain::Role;
    let (_dir, store) = temp_store();
    let g = labeled(&store, "breast_hetero_guest.csv", Some("y"));
    let h = labeled(&store, "breast_hetero_host.csv", None);
    let hub = common::MemoryHub::with_timeout(std::time::Duration::from_secs(3));
    let roles =
        std::collections::BTreeMap::from([(Role::Guest, vec![GUEST]), (Role::Host, vec![HOST])]);
    let params = json!({"max_iter": 5, "encrypt_param": {"key_length": 1024}});
    let trackers = (
        common::RecordingTracker::new(),
        common::RecordingTracker::new(),
    );
    let run = |role: Role,
               id: u64,
               data: &fateflow_component_core::TableRef,
               tracker: &common::RecordingTracker,
               fed: &dyn fateflow_federation::Federation| {
        let mut c = common::context("sshe_0", "HeteroSSHELR", params.clone(), &store, tracker);
        c.role = role;
        c.party_id = id;
        c.roles = roles.clone();
        c.federation = Some(fed);
        c.inputs
            .data
            .insert("train_data".into(), vec![data.clone()]);
        common::registry().get("HeteroSSHELR").unwrap().run(&c)
    };
    let guest_fed = Dropping {
        inner: hub.party(Role::Guest, GUEST),
        left: 20.into(),
    };
    let host_fed = hub.party(Role::Host, HOST);
    let results: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| run(Role::Guest, GUEST, &g, &trackers.0, &guest_fed));
        let b = s.spawn(|| run(Role::Host, HOST, &h, &trackers.1, &host_fed));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert!(results[0].is_err());
    let e = results[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("guest:9999") && e.contains("timed out"), "{e}");
}
