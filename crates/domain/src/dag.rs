//! The component graph: topological order, downstream sets, and predict DSLs.

use crate::dsl::{ComponentSpec, DataRef, Dsl, Inputs, OutputRef, Outputs};

/// The graph has a cycle through these components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

/// Edges `(upstream index, downstream index)` of a DSL; references to unknown
/// components are ignored (validation reports them).
pub fn edges(dsl: &Dsl) -> Vec<(usize, usize)> {
    let index_of = |name: &str| dsl.components.iter().position(|c| c.name == name);
    let mut out = Vec::new();
    for (j, c) in dsl.components.iter().enumerate() {
        for up in c.input.upstream() {
            if let Some(i) = index_of(up) {
                out.push((i, j));
            }
        }
    }
    out
}

/// A topological order of the components (indices into `dsl.components`). Among
/// components that are ready at the same time, the one written first comes first,
/// so the order is stable.
pub fn topological_order(dsl: &Dsl) -> Result<Vec<usize>, Cycle> {
    let n = dsl.components.len();
    let edges = edges(dsl);
    let mut indegree = vec![0usize; n];
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in &edges {
        indegree[b] += 1;
        succ[a].push(b);
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &succ[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    Err(Cycle(find_cycle(dsl, &succ, &left)))
}

/// Names the components of one cycle among the nodes left over by Kahn's algorithm.
fn find_cycle(dsl: &Dsl, succ: &[Vec<usize>], left: &[bool]) -> Vec<String> {
    let Some(start) = left.iter().position(|&l| l) else {
        return Vec::new();
    };
    // Every leftover node has a leftover predecessor; walk predecessors until a repeat.
    let n = succ.len();
    let mut pred = vec![None; n];
    for a in 0..n {
        for &b in &succ[a] {
            if left[a] && left[b] {
                pred[b] = Some(a);
            }
        }
    }
    let mut seen = vec![false; n];
    let mut cur = start;
    while !seen[cur] {
        seen[cur] = true;
        match pred[cur] {
            Some(p) => cur = p,
            None => break,
        }
    }
    let mut cycle = vec![cur];
    let mut node = pred[cur];
    while let Some(p) = node {
        if p == cur {
            break;
        }
        cycle.push(p);
        node = pred[p];
    }
    cycle.reverse();
    cycle
        .into_iter()
        .map(|i| dsl.components[i].name.clone())
        .collect()
}

/// The component and every component downstream of it, in topological order: what a
/// rerun from `component` runs again. `None` when the component is unknown.
pub fn downstream_of(dsl: &Dsl, component: &str) -> Option<Vec<String>> {
    let start = dsl.components.iter().position(|c| c.name == component)?;
    let edges = edges(dsl);
    let mut marked = vec![false; dsl.components.len()];
    marked[start] = true;
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        for &(a, b) in &edges {
            if a == i && !marked[b] {
                marked[b] = true;
                stack.push(b);
            }
        }
    }
    let order = topological_order(dsl).ok()?;
    Some(
        order
            .into_iter()
            .filter(|&i| marked[i])
            .map(|i| dsl.components[i].name.clone())
            .collect(),
    )
}

/// Whether a training component goes into the predict DSL when no list is given:
/// `need_deploy` when written; otherwise readers, intersections and every component
/// with a model output.
pub fn deploys_by_default(c: &ComponentSpec) -> bool {
    c.need_deploy.unwrap_or_else(|| {
        !c.output.model.is_empty()
            || crate::module::lookup(&c.module).is_some_and(|m| m.deploy_without_model)
    })
}

/// Why a predict DSL could not be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// A component in the list is not in the training DSL.
    #[error("component `{0}` is not in the training DSL")]
    UnknownComponent(String),
    /// The training DSL has a cycle.
    #[error("the training DSL has a cycle through {0:?}")]
    Cycle(Vec<String>),
    /// Nothing would be deployed.
    #[error("no component to deploy")]
    Empty,
}

/// Derives the predict DSL from a training DSL (reference §10, `/job/dsl/generate`).
///
/// For each deployed component, in training order: the module stays; data inputs from
/// a deployed upstream stay, inputs from a component that is not deployed are
/// replaced by that component's own data inputs (followed up to a deployed one);
/// `train_data` becomes `test_data` and `validate_data` is dropped; a component with
/// a model output, or a model input, reads `pipeline.<component>.<model>`; isometric
/// models are dropped; only data outputs remain.
pub fn predict_dsl(train: &Dsl, deploy: Option<&[String]>) -> Result<Dsl, DeployError> {
    let selected: Vec<String> = match deploy {
        Some(list) => {
            for name in list {
                if train.component(name).is_none() {
                    return Err(DeployError::UnknownComponent(name.clone()));
                }
            }
            list.to_vec()
        }
        None => train
            .components
            .iter()
            .filter(|c| deploys_by_default(c))
            .map(|c| c.name.clone())
            .collect(),
    };
    if selected.is_empty() {
        return Err(DeployError::Empty);
    }
    let order = topological_order(train).map_err(|c| DeployError::Cycle(c.0))?;
    let is_deployed = |name: &str| selected.iter().any(|s| s == name);

    let mut out = Dsl {
        components: Vec::new(),
        provider: train.provider.clone(),
    };
    for i in order {
        let c = &train.components[i];
        if !is_deployed(&c.name) {
            continue;
        }
        let mut data: Vec<(String, Vec<DataRef>)> = Vec::new();
        for (key, refs) in &c.input.data {
            let key = match key.as_str() {
                "validate_data" => continue,
                "train_data" => "test_data",
                other => other,
            };
            let mut resolved = Vec::new();
            for r in refs {
                resolve_deployed(train, r, &is_deployed, &mut resolved, 0);
            }
            if resolved.is_empty() {
                continue;
            }
            match data.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => v.extend(resolved),
                None => data.push((key.to_string(), resolved)),
            }
        }
        let model = if let Some(alias) = c.output.model.first() {
            vec![DataRef::Pipeline(OutputRef {
                component: c.name.clone(),
                name: alias.clone(),
            })]
        } else {
            c.input
                .model
                .iter()
                .filter_map(|r| match r {
                    DataRef::Output(o) => Some(DataRef::Pipeline(o.clone())),
                    DataRef::Pipeline(_) => Some(r.clone()),
                    DataRef::Args(_) => None,
                })
                .collect()
        };
        out.components.push(ComponentSpec {
            name: c.name.clone(),
            module: c.module.clone(),
            input: Inputs {
                data,
                model,
                isometric_model: Vec::new(),
                cache: Vec::new(),
            },
            output: Outputs {
                data: c.output.data.clone(),
                model: Vec::new(),
                cache: Vec::new(),
            },
            need_deploy: None,
            provider: c.provider.clone(),
        });
    }
    Ok(out)
}

fn resolve_deployed(
    train: &Dsl,
    r: &DataRef,
    is_deployed: &dyn Fn(&str) -> bool,
    out: &mut Vec<DataRef>,
    depth: usize,
) {
    let DataRef::Output(o) = r else {
        if !out.contains(r) {
            out.push(r.clone());
        }
        return;
    };
    if is_deployed(&o.component) {
        if !out.contains(r) {
            out.push(r.clone());
        }
        return;
    }
    if depth > train.components.len() {
        return;
    }
    if let Some(up) = train.component(&o.component) {
        for (key, refs) in &up.input.data {
            if key == "validate_data" {
                continue;
            }
            for r in refs {
                resolve_deployed(train, r, is_deployed, out, depth + 1);
            }
        }
    }
}
