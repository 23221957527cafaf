//! `CacheLoader` (FATE-Flow's): hands another job's intersection cache to this job, as
//! its cache output, for a downstream `input.cache`.
//!
//! Parameters (FATE-Flow's `CacheLoaderParam`): `job_id`, `component_name` and
//! `cache_name` name the cache; `cache_key` (FATE-Flow's cache registry) is not
//! implemented. Each party finds its own copy of the cache in its table store: the
//! table that component's latest task version wrote under the cache's name
//! (`output_data_<job_id>_<component>_<version>` / `<cache_name>_<role>_<party_id>`), and
//! records it, unchanged and uncopied, as this task's cache output. The table must hold
//! an intersection cache written by this party's role.

use super::cache;
use crate::context::{Component, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use fateflow_domain::module::Kind::{Any, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};
use serde_json::{Map, Value};

const CACHE_LOADER_PARAMS: &[Param] = &[
    param("cache_key", Any, "null", false),
    param("job_id", Str, "null", true),
    param("component_name", Str, "null", true),
    param("cache_name", Str, "null", true),
    param(
        "need_run",
        fateflow_domain::module::Kind::Bool,
        "true",
        true,
    ),
];

/// `CacheLoader`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "CacheLoader",
    params: &[CACHE_LOADER_PARAMS],
    conditions: &[],
    supported: &[],
};

/// Task versions probed for the cache, from the highest down.
const MAX_VERSION: u32 = 255;

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct CacheLoader;

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CacheLoaderParam {
    pub job_id: String,
    pub component_name: String,
    pub cache_name: String,
}

impl CacheLoaderParam {
    /// Parses and checks the parameters: each of the three names must be given.
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let need = |key: &str| -> Result<String> {
            match p.opt_str(key)? {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => Err(Error::param(
                    key,
                    "CacheLoader needs it: job_id, component_name and cache_name name the \
                     cache to load (cache_key is not supported)",
                )),
            }
        };
        Ok(CacheLoaderParam {
            job_id: need("job_id")?,
            component_name: need("component_name")?,
            cache_name: need("cache_name")?,
        })
    }
}

/// The table holding this party's copy of the cache, the latest task version's.
pub(crate) fn locate(ctx: &TaskContext<'_>, p: &CacheLoaderParam) -> Result<TableRef> {
    let task_id = fateflow_domain::ids::task_id(&p.job_id, &p.component_name);
    let name = format!("{}_{}_{}", p.cache_name, ctx.role, ctx.party_id);
    for version in (0..=MAX_VERSION).rev() {
        let table = TableRef::new(format!("output_data_{task_id}_{version}"), name.clone());
        let Ok(id) = table.to_id("job_id") else {
            return Err(Error::param(
                "job_id",
                format!(
                    "`{}` and component `{}` do not name a table",
                    p.job_id, p.component_name
                ),
            ));
        };
        if ctx.tables.exists(&id).map_err(|e| Error::table(&id, e))? {
            return Ok(table);
        }
    }
    Err(Error::param(
        "job_id",
        format!(
            "no cache `{}` of component {} in job {} at {} {}",
            p.cache_name, p.component_name, p.job_id, ctx.role, ctx.party_id
        ),
    ))
}

impl Component for CacheLoader {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let p = CacheLoaderParam::parse(&ctx.parameters)?;
        let table = locate(ctx, &p)?;
        let (method, role) = cache::describe(ctx, &table)?;
        if role != ctx.role {
            return Err(Error::param(
                "job_id",
                format!(
                    "the cache {}.{} was written by a {role}, not a {}",
                    table.namespace, table.name, ctx.role
                ),
            ));
        }
        let name = cache::output_name(ctx).to_owned();
        ctx.tracker.save_output_data(&name, &table)?;
        ctx.tracker.info(&format!(
            "loaded the {method} intersection cache `{}` of {} in job {} as `{name}`",
            p.cache_name, p.component_name, p.job_id
        ));
        Ok(())
    }
}
