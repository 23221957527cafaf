//! The DSL: components, their inputs and outputs (reference §4.1, §4.2).
//!
//! Parsing collects every problem instead of stopping at the first one.

use crate::error::Report;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fmt;

/// Which DSL dialect a job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DslVersion {
    /// FATE ≤ 1.6: data enters through `args`, conf has `role_parameters`.
    V1,
    /// FATE 1.7+: data enters through a `Reader` component.
    V2,
}

impl DslVersion {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            DslVersion::V1 => 1,
            DslVersion::V2 => 2,
        }
    }
}

/// The data input keys FATE components accept.
pub const DATA_INPUT_KEYS: &[&str] = &[
    "data",
    "train_data",
    "validate_data",
    "test_data",
    "eval_data",
];

/// `<component>.<output name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputRef {
    /// Upstream component.
    pub component: String,
    /// One of its output names.
    pub name: String,
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.component, self.name)
    }
}

/// Where a data input comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataRef {
    /// An upstream component's data output.
    Output(OutputRef),
    /// DSL v1: `args.<name>`, a table named per party in `role_parameters`.
    Args(String),
    /// A predict DSL: `pipeline.<component>.<model>`-style references never name data,
    /// but models do; see [`Inputs::model`].
    Pipeline(OutputRef),
}

impl fmt::Display for DataRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataRef::Output(o) => o.fmt(f),
            DataRef::Args(a) => write!(f, "args.{a}"),
            DataRef::Pipeline(o) => write!(f, "pipeline.{o}"),
        }
    }
}

/// A component's inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Data inputs by key (`data`, `train_data`, ...), in DSL order.
    pub data: Vec<(String, Vec<DataRef>)>,
    /// Models of the same module (`input.model`).
    pub model: Vec<DataRef>,
    /// Models of other modules used as side information (`input.isometric_model`).
    pub isometric_model: Vec<DataRef>,
    /// Caches (`input.cache`).
    pub cache: Vec<DataRef>,
}

impl Inputs {
    /// Every upstream component this component depends on, without repeats.
    pub fn upstream(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self
            .data
            .iter()
            .flat_map(|(_, refs)| refs.iter())
            .chain(&self.model)
            .chain(&self.isometric_model)
            .chain(&self.cache);
        for r in all {
            if let DataRef::Output(o) = r {
                if !out.contains(&o.component.as_str()) {
                    out.push(&o.component);
                }
            }
        }
        out
    }
}

/// A component's outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    /// Data output names.
    pub data: Vec<String>,
    /// Model output names (FATE allows one).
    pub model: Vec<String>,
    /// Cache output names.
    pub cache: Vec<String>,
}

/// One component of a DSL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// The component name (the key in `components`).
    pub name: String,
    /// The module, with aliases resolved to FATE's canonical name when known.
    pub module: String,
    /// Inputs.
    pub input: Inputs,
    /// Outputs.
    pub output: Outputs,
    /// `need_deploy` as written; `None` when absent.
    pub need_deploy: Option<bool>,
    /// `provider` as written.
    pub provider: Option<String>,
}

/// A parsed DSL: components in the order they were written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsl {
    /// The components.
    pub components: Vec<ComponentSpec>,
    /// Top-level `provider`, if any.
    pub provider: Option<String>,
}

impl Dsl {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The DSL back as FATE JSON.
    pub fn to_json(&self) -> Value {
        let mut comps = Map::new();
        for c in &self.components {
            let mut obj = Map::new();
            obj.insert("module".into(), json!(c.module));
            let mut input = Map::new();
            if !c.input.data.is_empty() {
                let data: Map<String, Value> = c
                    .input
                    .data
                    .iter()
                    .map(|(k, refs)| (k.clone(), refs_json(refs)))
                    .collect();
                input.insert("data".into(), Value::Object(data));
            }
            for (key, refs) in [
                ("model", &c.input.model),
                ("isometric_model", &c.input.isometric_model),
                ("cache", &c.input.cache),
            ] {
                if !refs.is_empty() {
                    input.insert(key.into(), refs_json(refs));
                }
            }
            if !input.is_empty() {
                obj.insert("input".into(), Value::Object(input));
            }
            let mut output = Map::new();
            for (key, names) in [
                ("data", &c.output.data),
                ("model", &c.output.model),
                ("cache", &c.output.cache),
            ] {
                if !names.is_empty() {
                    output.insert(key.into(), json!(names));
                }
            }
            if !output.is_empty() {
                obj.insert("output".into(), Value::Object(output));
            }
            if let Some(nd) = c.need_deploy {
                obj.insert("need_deploy".into(), json!(nd));
            }
            if let Some(p) = &c.provider {
                obj.insert("provider".into(), json!(p));
            }
            comps.insert(c.name.clone(), Value::Object(obj));
        }
        let mut top = Map::new();
        top.insert("components".into(), Value::Object(comps));
        if let Some(p) = &self.provider {
            top.insert("provider".into(), json!(p));
        }
        Value::Object(top)
    }
}

fn refs_json(refs: &[DataRef]) -> Value {
    Value::Array(refs.iter().map(|r| Value::String(r.to_string())).collect())
}

/// The components of a DSL as written, duplicates kept: `serde_json::Value` would
/// silently keep only the last of two components with the same name.
#[derive(Debug, Default)]
pub(crate) struct RawComponents(pub(crate) Vec<(String, Value)>);

impl<'de> Deserialize<'de> for RawComponents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawComponents;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of components")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(RawComponents(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct RawDslTop {
    components: Option<RawComponents>,
}

/// Reads the components of a DSL text, keeping duplicate names.
pub(crate) fn raw_components_from_str(text: &str) -> Result<Option<Vec<(String, Value)>>, String> {
    match serde_json::from_str::<RawDslTop>(text) {
        Ok(top) => Ok(top.components.map(|c| c.0)),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a DSL given as components (duplicates kept) and the top-level object.
/// Parses a DSL v2 given as JSON on its own (a stored training or inference DSL),
/// with every problem of its structure reported.
pub fn parse_dsl_value(top: &Value) -> Result<Dsl, crate::Errors> {
    let mut report = Report::default();
    let dsl = parse_dsl(top, None, DslVersion::V2, &mut report);
    if report.errors.is_empty() {
        Ok(dsl)
    } else {
        Err(crate::Errors(report.errors))
    }
}

pub(crate) fn parse_dsl(
    top: &Value,
    raw: Option<Vec<(String, Value)>>,
    version: DslVersion,
    report: &mut Report,
) -> Dsl {
    let mut dsl = Dsl {
        provider: top
            .get("provider")
            .and_then(Value::as_str)
            .map(String::from),
        ..Dsl::default()
    };
    let Some(obj) = top.as_object() else {
        report.job(
            "dsl",
            format!(
                "expected a JSON object, found {}",
                crate::module::describe_value(top)
            ),
        );
        return dsl;
    };
    let entries: Vec<(String, Value)> = match raw {
        Some(e) => e,
        None => match obj.get("components") {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(other) => {
                report.job(
                    "dsl.components",
                    format!(
                        "expected an object of components, found {}",
                        crate::module::describe_value(other)
                    ),
                );
                return dsl;
            }
            None => {
                report.job(
                    "dsl.components",
                    "missing; expected an object of components",
                );
                return dsl;
            }
        },
    };
    if entries.is_empty() {
        report.job("dsl.components", "the DSL has no components");
    }
    if entries.len() > MAX_COMPONENTS {
        report.job(
            "dsl.components",
            format!(
                "{} components; a job holds at most {MAX_COMPONENTS}",
                entries.len()
            ),
        );
        return dsl;
    }
    let mut seen = std::collections::HashSet::new();
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            report.cpn(
                &name,
                "components",
                "duplicate component name; each component needs its own name",
            );
            continue;
        }
        if let Some(c) = parse_component(&name, &value, version, report) {
            dsl.components.push(c);
        }
    }
    dsl
}

/// The most components one DSL may hold (FATE's largest example jobs have about 30).
pub const MAX_COMPONENTS: usize = 500;

fn parse_component(
    name: &str,
    v: &Value,
    version: DslVersion,
    report: &mut Report,
) -> Option<ComponentSpec> {
    let Some(obj) = v.as_object() else {
        report.cpn(
            name,
            "",
            format!(
                "expected an object, found {}",
                crate::module::describe_value(v)
            ),
        );
        return None;
    };
    if name.contains('.') {
        report.cpn(name, "name", "a component name must contain no `.`");
    } else if let Err(e) = crate::ident::check(crate::ident::IdKind::Component, name) {
        // Component names become log directories and task ids.
        report.cpn(name, "name", e.to_string());
    }
    let module = match obj.get("module") {
        Some(Value::String(m)) => match crate::module::lookup(m) {
            Some(info) => info.name.to_string(),
            None => {
                let hint = crate::module::closest(m)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                report.cpn(name, "module", format!("unknown module `{m}`{hint}"));
                m.clone()
            }
        },
        Some(other) => {
            report.cpn(
                name,
                "module",
                format!(
                    "expected a module name string, found {}",
                    crate::module::describe_value(other)
                ),
            );
            String::new()
        }
        None => {
            report.cpn(
                name,
                "module",
                "missing; expected a module name such as \"HeteroLR\"",
            );
            String::new()
        }
    };
    let input = match obj.get("input") {
        None | Some(Value::Null) => Inputs::default(),
        Some(Value::Object(inp)) => parse_inputs(name, inp, version, report),
        Some(other) => {
            report.cpn(
                name,
                "input",
                format!(
                    "expected an object, found {}",
                    crate::module::describe_value(other)
                ),
            );
            Inputs::default()
        }
    };
    // FATE's warm start (a model input together with `train_data` continues training)
    // is accepted here; a model of another module is refused by the job's input checks
    // ("input.model takes a model of the same module"), and HeteroLR / HeteroLinR check
    // the model itself (features, one-vs-rest, epochs) when the task runs.
    let output = match obj.get("output") {
        None | Some(Value::Null) => Outputs::default(),
        Some(Value::Object(out)) => Outputs {
            data: string_list(name, "output.data", out.get("data"), report),
            model: string_list(name, "output.model", out.get("model"), report),
            cache: string_list(name, "output.cache", out.get("cache"), report),
        },
        Some(other) => {
            report.cpn(
                name,
                "output",
                format!(
                    "expected an object, found {}",
                    crate::module::describe_value(other)
                ),
            );
            Outputs::default()
        }
    };
    let need_deploy = match obj.get("need_deploy") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            report.cpn(
                name,
                "need_deploy",
                format!(
                    "expected true or false, found {}",
                    crate::module::describe_value(other)
                ),
            );
            None
        }
    };
    Some(ComponentSpec {
        name: name.to_string(),
        module,
        input,
        output,
        need_deploy,
        provider: obj
            .get("provider")
            .and_then(Value::as_str)
            .map(String::from),
    })
}

fn string_list(cpn: &str, field: &str, v: Option<&Value>, report: &mut Report) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match it {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                other => {
                    report.cpn(
                        cpn,
                        format!("{field}[{i}]"),
                        format!(
                            "expected a non-empty string, found {}",
                            crate::module::describe_value(other)
                        ),
                    );
                    None
                }
            })
            .collect(),
        Some(other) => {
            report.cpn(
                cpn,
                field,
                format!(
                    "expected a list of strings, found {}",
                    crate::module::describe_value(other)
                ),
            );
            Vec::new()
        }
    }
}

fn parse_ref(
    cpn: &str,
    field: &str,
    s: &str,
    version: DslVersion,
    report: &mut Report,
) -> Option<DataRef> {
    if let Some(rest) = s.strip_prefix("pipeline.") {
        return match rest.split_once('.') {
            Some((c, n)) if !c.is_empty() && !n.is_empty() => Some(DataRef::Pipeline(OutputRef {
                component: c.into(),
                name: n.into(),
            })),
            _ => {
                report.cpn(
                    cpn,
                    field,
                    format!("`{s}` should read `pipeline.<component>.<model>`"),
                );
                None
            }
        };
    }
    match s.split_once('.') {
        Some(("args", a)) if !a.is_empty() => {
            if version == DslVersion::V2 {
                report.cpn(cpn, field, format!("`{s}`: `args.*` inputs belong to DSL v1; a v2 DSL reads data through a Reader component"));
            }
            Some(DataRef::Args(a.to_string()))
        }
        Some((c, n)) if !c.is_empty() && !n.is_empty() && !n.contains('.') => {
            Some(DataRef::Output(OutputRef {
                component: c.into(),
                name: n.into(),
            }))
        }
        _ => {
            report.cpn(
                cpn,
                field,
                format!("`{s}` should read `<component>.<output name>`"),
            );
            None
        }
    }
}

fn ref_list(
    cpn: &str,
    field: &str,
    v: &Value,
    version: DslVersion,
    report: &mut Report,
) -> Vec<DataRef> {
    string_list(cpn, field, Some(v), report)
        .iter()
        .enumerate()
        .filter_map(|(i, s)| parse_ref(cpn, &format!("{field}[{i}]"), s, version, report))
        .collect()
}

fn parse_inputs(
    cpn: &str,
    inp: &Map<String, Value>,
    version: DslVersion,
    report: &mut Report,
) -> Inputs {
    let mut inputs = Inputs::default();
    for (key, v) in inp {
        match key.as_str() {
            "data" => match v {
                Value::Object(data) => {
                    for (dkey, refs) in data {
                        let field = format!("input.data.{dkey}");
                        if !DATA_INPUT_KEYS.contains(&dkey.as_str()) {
                            report.cpn(
                                cpn,
                                &field,
                                format!(
                                    "unknown data input `{dkey}`; expected one of {}",
                                    DATA_INPUT_KEYS.join(", ")
                                ),
                            );
                            continue;
                        }
                        inputs
                            .data
                            .push((dkey.clone(), ref_list(cpn, &field, refs, version, report)));
                    }
                }
                other => report.cpn(
                    cpn,
                    "input.data",
                    format!(
                        "expected an object such as {{\"data\": [\"reader_0.data\"]}}, found {}",
                        crate::module::describe_value(other)
                    ),
                ),
            },
            "model" => inputs.model = ref_list(cpn, "input.model", v, version, report),
            "isometric_model" => {
                inputs.isometric_model = ref_list(cpn, "input.isometric_model", v, version, report)
            }
            "cache" => inputs.cache = ref_list(cpn, "input.cache", v, version, report),
            other => report.cpn(
                cpn,
                format!("input.{other}"),
                "unknown input kind; expected data, model, isometric_model or cache",
            ),
        }
    }
    inputs
}
