//! FATE 1.11's own example jobs (`../shared/fate-examples/dsl/v2`, outside the
//! repository) against the parameter policy: every DSL/conf pair of a testsuite whose
//! modules are all ones we implement is either accepted, or refused only for the reasons
//! listed below, each a parameter we do not implement yet (so this list documents what
//! we refuse and why). A new refusal, or a listed refusal that went away, fails the test.

use fateflow_components::CATALOG;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fateflow_domain::Job;
use serde_json::Value;

/// Refused examples: `folder/task`, what we do not implement, and the refused keys as
/// `component.key` (every error must say "not supported yet"). A conf block naming a
/// component the DSL lacks is accepted with a warning, as FATE does (issue 17).
const REFUSED: &[(&str, &str, &[&str])] = &[];

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fate-examples/dsl/v2");
    dir.is_dir().then_some(dir)
}

/// (folder, task) → (dsl text, conf text) for every testsuite task with both files.
fn pairs(root: &Path) -> BTreeMap<(String, String), (String, String)> {
    let mut out = BTreeMap::new();
    let mut folders: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().to_string();
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let f = e.path();
            if !f.to_string_lossy().ends_with("testsuite.json") {
                continue;
            }
            let suite: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let Some(tasks) = suite.get("tasks").and_then(Value::as_object) else {
                continue;
            };
            for (task, t) in tasks {
                let (Some(dsl), Some(conf)) = (
                    t.get("dsl").and_then(Value::as_str),
                    t.get("conf").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let (Ok(dsl), Ok(mut conf)) = (
                    std::fs::read_to_string(folder.join(dsl)),
                    std::fs::read_to_string(folder.join(conf)),
                ) else {
                    continue;
                };
                // A task with deps is a predict job: fate_test sets its job type and fills in
                // the model its training job deployed.
                if t.get("deps").is_some() {
                    if let Ok(mut v) = serde_json::from_str::<Value>(&conf) {
                        let common = &mut v["job_parameters"]["common"];
                        if common.get("job_type").is_none() {
                            common["job_type"] = Value::from("predict");
                        }
                        for key in ["model_id", "model_version"] {
                            if common
                                .get(key)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .is_empty()
                            {
                                common[key] = Value::from(format!("{key}_of_{}", t["deps"]));
                            }
                        }
                        conf = v.to_string();
                    }
                }
                out.insert((name.clone(), task.clone()), (dsl, conf));
            }
        }
    }
    out
}

/// Whether every component of the DSL is a module we implement.
fn only_our_modules(dsl: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(dsl) else {
        return false;
    };
    let Some(cpns) = v.get("components").and_then(Value::as_object) else {
        return false;
    };
    cpns.values().all(|c| {
        c.get("module")
            .and_then(Value::as_str)
            .is_some_and(|m| CATALOG.schema(m).is_some())
    })
}

#[test]
fn fate_examples_are_accepted_or_refused_only_for_unimplemented_parameters() {
    let Some(root) = corpus() else {
        eprintln!(
            "SKIPPED: ../shared/fate-examples/dsl/v2 (FATE 1.11's example jobs) is not \
             next to the repository"
        );
        return;
    };
    let mut problems = Vec::new();
    let mut seen = 0;
    let mut listed_seen: Vec<String> = Vec::new();
    for ((folder, task), (dsl, conf)) in pairs(&root) {
        if !only_our_modules(&dsl) {
            continue;
        }
        seen += 1;
        let id = format!("{folder}/{task}");
        let expected = REFUSED.iter().find(|(name, _, _)| *name == id);
        if expected.is_some() {
            listed_seen.push(id.clone());
        }
        match (Job::parse_str(&dsl, &conf, CATALOG), expected) {
            (Ok(_), None) => println!("accepted  {id}"),
            (Ok(_), Some(_)) => problems.push(format!(
                "{id}: accepted, but listed as refused (update REFUSED)"
            )),
            (Err(e), None) => problems.push(format!("{id}: refused: {e}")),
            (Err(e), Some((_, why, keys))) => {
                let mut got = Vec::new();
                for err in e.iter() {
                    let cpn = err.component.clone().unwrap_or_default();
                    if err.message.contains("not supported yet") {
                        got.push(format!("{cpn}.{}", err.field));
                    } else {
                        problems.push(format!("{id}: refused for another reason: {err}"));
                    }
                }
                got.sort();
                got.dedup();
                let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                want.sort();
                if got == want {
                    println!("refused   {id}: {why}");
                } else {
                    problems.push(format!("{id}: refused for {got:?}, listed {want:?}\n{e}"));
                }
            }
        }
    }
    for (id, _, _) in REFUSED {
        if !listed_seen.iter().any(|seen| seen == id) {
            problems.push(format!("{id}: listed in REFUSED but not in the corpus"));
        }
    }
    println!("{seen} example jobs use only modules we implement");
    assert!(seen > 0, "no example job found under {}", root.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every job shipped in `examples/jobs/` and `bench/jobs/` (with the values its script
/// puts in) is accepted, with no warning about its parameters, unless it uses a module
/// this build does not implement (`homo_lr`): then that is its only refusal.
#[test]
fn shipped_example_jobs_are_accepted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut n = 0;
    for dir in ["examples/jobs", "bench/jobs"] {
        let mut jobs: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.join("dsl.json").is_file())
            .collect();
        jobs.sort();
        for job in jobs {
            // The bench confs are templates its scripts fill in (bench/*.sh).
            let read = |f: &str| {
                std::fs::read_to_string(job.join(f))
                    .unwrap()
                    .replace("KEY", "1024")
                    .replace("ITERS", "5")
                    .replace("DATASET", "breast")
                    .replace("METHOD", "ecdh")
                    .replace("TREES", "3")
                    .replace("DEPTH", "3")
                    .replace("EPOCHS", "1")
                    .replace("ROWS", "1000")
                    .replace("REVEAL", "false")
            };
            match Job::parse_str(&read("dsl.json"), &read("conf.json"), CATALOG) {
                Ok(j) => assert!(
                    !j.warnings.iter().any(|w| w.contains("parameter")),
                    "{}: {:?}",
                    job.display(),
                    j.warnings
                ),
                Err(e)
                    if e.iter().all(|e| {
                        e.field == "module" && e.message.contains("is not supported yet")
                    }) => {}
                Err(e) => panic!("{}: {e}", job.display()),
            }
            n += 1;
        }
    }
    assert!(n >= 9, "only {n} shipped jobs found");
}
