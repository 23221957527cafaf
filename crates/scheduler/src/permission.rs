//! Who may use what at this site: a partner that commands a job here (the job's
//! initiator) must hold a grant for every component module of the job and for every
//! table the job reads at this site (FATE's permission hook, with its `component` and
//! `dataset` checks both on). Parties hosted by this site are never checked.
//!
//! The check runs at `create` and again at every command that makes work happen
//! (resources, start, task create/start, rerun) and for the data plane, so a revoked
//! grant stops the next step of a running job too. Results are cached per job until a
//! grant changes.

use crate::controller::{PartyController, Refusal};
use fateflow_domain::module::lookup_ignore_case;
use fateflow_domain::{Job, Party, PartyId};
use fateflow_storage::{Grant, MetadataStore};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// FATE's retcode for a failed permission check.
pub const PERMISSION_RETCODE: i32 = 108;

/// What a job needs from the party that commands it at one party of this site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every component module of the job, lowercase canonical names.
    pub modules: BTreeSet<String>,
    /// Tables of this party the job reads, `(namespace, name)`.
    pub datasets: BTreeSet<(String, String)>,
}

impl Requirements {
    /// What `job` needs at `party`: every module of its DSL (FATE checks them all,
    /// wherever they run) and the tables its readers (and DSL v1's `args.data`) name
    /// for this party.
    pub fn of(job: &Job, party: Party) -> Self {
        let mut out = Requirements::default();
        for c in &job.dsl.components {
            out.modules.insert(canonical_module(&c.module));
        }
        for plan in job.plan() {
            let reader = lookup_ignore_case(&plan.module).is_some_and(|m| m.is_reader);
            for pt in plan.parties.iter().filter(|pt| pt.party == party) {
                if reader {
                    if let Some(t) = pt.parameters.get("table") {
                        out.add_table(t);
                    }
                }
                for t in pt.args_tables.values() {
                    out.add_table(t);
                }
            }
        }
        out
    }

    fn add_table(&mut self, t: &Value) {
        let get = |k: &str| {
            t.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (namespace, name) = (get("namespace"), get("name"));
        if !name.is_empty() {
            self.datasets.insert((namespace, name));
        }
    }

    /// The tables as `namespace.name`, comma-separated (for the audit log).
    pub fn datasets_text(&self) -> String {
        self.datasets
            .iter()
            .map(|(ns, n)| format!("{ns}.{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What `grants` leave uncovered: modules, then tables.
    pub fn missing(&self, grants: &[Grant]) -> (Vec<String>, Vec<(String, String)>) {
        let all_modules = grants.contains(&Grant::all_components());
        let all_tables = grants.contains(&Grant::all_datasets());
        let modules = self
            .modules
            .iter()
            .filter(|m| !all_modules && !grants.contains(&Grant::Component { name: (*m).clone() }))
            .cloned()
            .collect();
        let tables = self
            .datasets
            .iter()
            .filter(|(ns, n)| {
                !all_tables
                    && !grants.contains(&Grant::Dataset {
                        namespace: ns.clone(),
                        name: n.clone(),
                    })
            })
            .cloned()
            .collect();
        (modules, tables)
    }
}

/// A module's name as grants store it: the canonical name in lowercase (`DataIO` and
/// `dataio` are `datatransform`); an unknown module keeps its own name, lowercased.
pub fn canonical_module(name: &str) -> String {
    lookup_ignore_case(name)
        .map(|m| m.name)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The refusal for missing grants: FATE's 108, naming the party, what is missing and
/// the command that grants it.
pub fn refusal(
    src: PartyId,
    at: Party,
    modules: &[String],
    tables: &[(String, String)],
) -> Refusal {
    let mut lacks = Vec::new();
    if !modules.is_empty() {
        lacks.push(format!("component {}", modules.join(", ")));
    }
    if !tables.is_empty() {
        let names: Vec<String> = tables.iter().map(|(ns, n)| format!("{ns}.{n}")).collect();
        lacks.push(format!("dataset {}", names.join(", ")));
    }
    let mut grant = serde_json::Map::new();
    grant.insert("party_id".into(), Value::from(src));
    if !modules.is_empty() {
        grant.insert("component".into(), Value::from(modules.join(",")));
    }
    if !tables.is_empty() {
        grant.insert(
            "dataset".into(),
            Value::Array(
                tables
                    .iter()
                    .map(|(ns, n)| serde_json::json!({"namespace": ns, "name": n}))
                    .collect(),
            ),
        );
    }
    Refusal {
        retcode: PERMISSION_RETCODE,
        message: format!(
            "permission check failed at {at}: party {src} has no grant for {}. \
             The operator of party {} can grant it with `flow privilege grant -c <file>` \
             where the file holds {}",
            lacks.join(" and "),
            at.party_id,
            Value::Object(grant)
        ),
    }
}

/// What a check decided, with what it looked at (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Tables of this site the job reads, `namespace.name`, comma-separated.
    pub datasets: String,
    /// `Err` when the partner lacks a grant.
    pub outcome: Result<(), Refusal>,
}

type CacheKey = (String, PartyId);

/// The permission checks of a site.
pub struct PermissionGate {
    enabled: bool,
    store: Arc<dyn MetadataStore>,
    /// Bumped on every grant change; cached decisions of older generations are stale.
    generation: AtomicU64,
    cache: Mutex<HashMap<CacheKey, (u64, Decision)>>,
}

impl std::fmt::Debug for PermissionGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionGate")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl PermissionGate {
    /// A gate reading grants from `store`; `enabled: false` allows everything (FATE's
    /// default, `fateflow server --permission off`).
    pub fn new(store: Arc<dyn MetadataStore>, enabled: bool) -> Self {
        Self {
            enabled,
            store,
            generation: AtomicU64::new(0),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether checks are on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Forget cached decisions (call after any grant change).
    pub fn grants_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (u64, Decision)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks a parsed job at one party of this site for the party that commands it.
    pub async fn check_job(
        &self,
        job: &Job,
        src: PartyId,
        at: Party,
    ) -> Result<Decision, fateflow_storage::Error> {
        let req = Requirements::of(job, at);
        let datasets = req.datasets_text();
        if !self.enabled {
            return Ok(Decision {
                datasets,
                outcome: Ok(()),
            });
        }
        let grants: Vec<Grant> = self
            .store
            .query_permissions(Some(src))
            .await?
            .into_iter()
            .map(|g| g.grant)
            .collect();
        let (modules, tables) = req.missing(&grants);
        let outcome = if modules.is_empty() && tables.is_empty() {
            Ok(())
        } else {
            Err(refusal(src, at, &modules, &tables))
        };
        Ok(Decision { datasets, outcome })
    }

    /// Checks a job this site holds at `at` (a copy created by a partner's `create`):
    /// the job's initiator must still hold its grants. A job initiated here, or one not
    /// held, passes (the caller's own checks refuse unknown jobs).
    pub async fn check_stored_job(
        &self,
        controller: &PartyController,
        job_id: &str,
        at: Party,
    ) -> Result<Decision, crate::Error> {
        let generation = self.generation.load(Ordering::SeqCst);
        let key = (job_id.to_string(), at.party_id);
        if let Some((g, d)) = self.lock().get(&key) {
            if *g == generation {
                return Ok(d.clone());
            }
        }
        let allowed = |datasets: String| Decision {
            datasets,
            outcome: Ok(()),
        };
        let Some(row) = self.store.get_job(job_id, at.role, at.party_id).await? else {
            return Ok(allowed(String::new()));
        };
        if controller.hosts(row.initiator_party_id) {
            return Ok(allowed(String::new()));
        }
        let job = controller
            .parsed_jobs()
            .get(job_id, &row.dsl, &row.runtime_conf)
            .map_err(|e| crate::Error::Invalid(format!("job {job_id}: {e}")))?;
        let decision = self.check_job(&job, row.initiator_party_id, at).await?;
        let mut cache = self.lock();
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key, (generation, decision.clone()));
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_domain::{Catalog, Role};

    const DSL: &str = r#"{"components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {"module": "DataIO", "input": {"data": {"data": ["reader_0.data"]}}, "output": {"data": ["data"]}},
        "intersection_0": {"module": "Intersection", "input": {"data": {"data": ["data_transform_0.data"]}}, "output": {"data": ["data"]}}
    }}"#;
    const CONF: &str = r#"{"dsl_version": 2,
        "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": [9999], "host": [10000, 10001]},
        "component_parameters": {"role": {
            "guest": {"0": {"reader_0": {"table": {"namespace": "experiment", "name": "g"}}}},
            "host": {"0": {"reader_0": {"table": {"namespace": "experiment", "name": "h0"}}},
                     "1": {"reader_0": {"table": {"namespace": "other", "name": "h1"}}}}
        }}}"#;

    fn job() -> Job {
        Job::parse_str(DSL, CONF, Catalog::NAMES_ONLY).unwrap()
    }

    fn host(id: u64) -> Party {
        Party {
            role: Role::Host,
            party_id: id,
        }
    }

    #[test]
    fn a_job_needs_every_module_and_only_this_partys_tables() {
        let r = Requirements::of(&job(), host(10001));
        assert_eq!(
            r.modules.iter().map(String::as_str).collect::<Vec<_>>(),
            ["datatransform", "intersection", "reader"]
        );
        assert_eq!(r.datasets_text(), "other.h1");
        assert_eq!(
            Requirements::of(&job(), host(10000)).datasets_text(),
            "experiment.h0"
        );
    }

    #[test]
    fn grants_cover_by_name_alias_or_wildcard() {
        let r = Requirements::of(&job(), host(10000));
        let cpn = |n: &str| Grant::Component { name: n.into() };
        let ds = Grant::Dataset {
            namespace: "experiment".into(),
            name: "h0".into(),
        };
        let (m, t) = r.missing(&[cpn("reader"), cpn(&canonical_module("dataio"))]);
        assert_eq!(m, ["intersection"]);
        assert_eq!(t, [("experiment".to_string(), "h0".to_string())]);
        let (m, t) = r.missing(&[Grant::all_components(), ds]);
        assert!(m.is_empty() && t.is_empty());
        let (m, t) = r.missing(&[Grant::all_components(), Grant::all_datasets()]);
        assert!(m.is_empty() && t.is_empty());
        // Another table of the same namespace does not cover it.
        let (_, t) = r.missing(&[Grant::Dataset {
            namespace: "experiment".into(),
            name: "g".into(),
        }]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn the_refusal_names_party_module_table_and_the_grant_to_give() {
        let r = refusal(
            9999,
            host(10000),
            &["heterolr".into()],
            &[("experiment".into(), "h0".into())],
        );
        assert_eq!(r.retcode, 108);
        for needle in [
            "party 9999",
            "host:10000",
            "component heterolr",
            "dataset experiment.h0",
            "flow privilege grant",
        ] {
            assert!(r.message.contains(needle), "{needle} not in {}", r.message);
        }
        // The grant to give is a request body as it stands.
        let body: Value = serde_json::from_str(r.message.rsplit("holds ").next().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"party_id": 9999, "component": "heterolr",
                "dataset": [{"namespace": "experiment", "name": "h0"}]})
        );
    }
}
