//! HeteroLR on a label with more than two classes. FATE switches to one-vs-rest; we do
//! not implement that yet, so the guest refuses with a user error instead of training a
//! binary model on four classes and reporting success.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::registry;
use common::{context, MemoryHub, RecordingTracker};
use common::{temp_store, upload};
use fateflow_component_core::{Error, ErrorKind, Result, TableRef};
use fateflow_domain::{Catalog, Job, Role};
use fateflow_tables::{read_all, write_frame, LocalTableStore, TableId, WriteMode};
use serde_json::{json, Value};

const GUEST: u64 = 9999;
const HOST: u64 = 10000;

/// `table` with `label` as the label column, as DataTransform outputs it.
fn labeled(store: &LocalTableStore, table: &TableRef, label: Option<&str>) -> TableRef {
    let id = TableId::new(&table.namespace, &table.name).unwrap();
    let mut frame = read_all(store, &id).unwrap();
    if let Some(l) = label {
        frame = frame.with_label(l).unwrap();
    }
    let name = format!("{}_l", table.name);
    let out = TableId::new(&table.namespace, &name).unwrap();
    write_frame(store, &out, &frame, 4, WriteMode::Replace).unwrap();
    TableRef::new(&table.namespace, name)
}

/// Runs the guest's HeteroLR task alone (a host and an arbiter are in the job's roles;
/// the guest must refuse before it sends them anything).
fn run_guest(store: &LocalTableStore, params: Value, train: &TableRef) -> Result<()> {
    let hub = MemoryHub::with_timeout(std::time::Duration::from_secs(2));
    let fed = hub.party(Role::Guest, GUEST);
    let tracker = RecordingTracker::new();
    let mut c = context("hetero_lr_0", "HeteroLR", params, store, &tracker);
    c.role = Role::Guest;
    c.party_id = GUEST;
    c.roles = BTreeMap::from([
        (Role::Guest, vec![GUEST]),
        (Role::Host, vec![HOST]),
        (Role::Arbiter, vec![HOST]),
    ]);
    c.federation = Some(&fed);
    c.inputs
        .data
        .insert("train_data".into(), vec![train.clone()]);
    registry().get("HeteroLR").unwrap().run(&c)
}

fn assert_multi_class_refusal(r: Result<()>, classes: &str) {
    let e = r.expect_err("HeteroLR must refuse a multi-class label");
    assert_eq!(e.kind(), ErrorKind::User, "{e}");
    assert!(matches!(e, Error::InvalidParameter { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("HeteroLR: the label of table")
            && msg.contains(classes)
            && msg.contains("multi-class (one-vs-rest) HeteroLR is not supported yet"),
        "{msg}"
    );
}

#[test]
fn three_classes_are_refused_two_are_not() {
    let (_dir, store) = temp_store();
    let mut csv = String::from("id,y,x0,x1\n");
    for i in 0..30 {
        let y = i % 3;
        csv.push_str(&format!("{i},{y},{}.5,{}\n", i % 7, (i * 13) % 5));
    }
    let raw = upload(&store, "three_classes", &csv);
    let t = labeled(&store, &raw, Some("y"));
    let params = json!({"max_iter": 2, "init_param": {"init_method": "zeros"}});
    assert_multi_class_refusal(
        run_guest(&store, params.clone(), &t),
        "has 3 classes (0, 1, 2)",
    );

    // Two classes other than 0/1 still train (FATE maps 1 to positive, the rest to
    // negative); the guest gets past the check and waits for its host.
    let two = csv.replace(",2,", ",0,");
    let raw = upload(&store, "two_classes", &two);
    let t = labeled(&store, &raw, Some("y"));
    let e = run_guest(&store, params, &t).expect_err("no host is running");
    assert!(!e.to_string().contains("classes"), "{e}");
}

/// The schemas of the modules FATE's linear examples use.
fn catalog() -> Catalog {
    Catalog::new(&[
        fateflow_components_data::SCHEMAS,
        fateflow_components_linear::SCHEMAS,
        fateflow_components_eval::SCHEMAS,
    ])
}

fn fate_examples() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fate-examples");
    dir.is_dir().then_some(dir)
}

/// FATE's own `hetero_lr_ovr_validate` job (vehicle_scale, four classes): accepted at
/// submit, its `callback_param` (early stopping) included; the guest's task then refuses
/// the four-class label.
#[test]
fn fates_hetero_lr_ovr_validate_is_never_a_binary_success() {
    let Some(root) = fate_examples() else {
        eprintln!(
            "SKIPPED: ../shared/fate-examples (FATE 1.11's example jobs) is not next to \
             the repository"
        );
        return;
    };
    let folder = root.join("dsl/v2/hetero_logistic_regression");
    let dsl = std::fs::read_to_string(folder.join("hetero_lr_ovr_validate_dsl.json")).unwrap();
    let conf_text =
        std::fs::read_to_string(folder.join("hetero_lr_ovr_validate_conf.json")).unwrap();
    let job = Job::parse_str(&dsl, &conf_text, catalog()).expect("accepted with its callbacks");
    let plan = job.plan();
    let lr_plan = plan.iter().find(|p| p.component == "hetero_lr_0").unwrap();
    let guest = lr_plan
        .parties
        .iter()
        .find(|p| p.party.role == Role::Guest)
        .unwrap();

    // The guest's data as the testsuite uploads it (head, id first), label `y`.
    let (_dir, store) = temp_store();
    let text = std::fs::read_to_string(root.join("data/vehicle_scale_hetero_guest.csv")).unwrap();
    let raw = upload(&store, "vehicle_scale_hetero_guest", &text);
    let t = labeled(&store, &raw, Some("y"));
    assert_multi_class_refusal(
        run_guest(&store, Value::Object(guest.parameters.clone()), &t),
        "has 4 classes (0, 1, 2, 3)",
    );
}
