//! Every family crate's components, by FATE module name.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fateflow_component_core::{canonical_module, Component, Components};

/// The family crates, each with its components.
const FAMILIES: &[Components] = &[
    fateflow_components_data::COMPONENTS,
    fateflow_components_feature::COMPONENTS,
    fateflow_components_linear::COMPONENTS,
    fateflow_components_tree::COMPONENTS,
    fateflow_components_eval::COMPONENTS,
];

/// Components by canonical FATE module name.
pub struct Registry {
    components: BTreeMap<&'static str, &'static dyn Component>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("modules", &self.components.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// Every family's components. A new family is one line in `FAMILIES`.
    fn builtin() -> Self {
        let mut components = BTreeMap::new();
        for &(module, component) in FAMILIES.iter().flat_map(|f| f.iter()) {
            debug_assert_eq!(
                canonical_module(module),
                module,
                "register components under FATE's canonical module name"
            );
            let previous = components.insert(module, component);
            debug_assert!(previous.is_none(), "{module} is registered twice");
        }
        Registry { components }
    }

    /// The component for `module`, resolving aliases (`DataIO` → `DataTransform`).
    pub fn get(&self, module: &str) -> Option<&dyn Component> {
        self.components.get(canonical_module(module)).copied()
    }

    /// Canonical names of the implemented modules, sorted.
    pub fn modules(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.components.keys().copied()
    }
}

/// The registry of every implemented component.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_and_aliases() {
        let r = registry();
        assert_eq!(
            r.modules().collect::<Vec<_>>(),
            [
                "CacheLoader",
                "ColumnExpand",
                "DataStatistics",
                "DataTransform",
                "Evaluation",
                "FeatureImputation",
                "FeatureScale",
                "FederatedSample",
                "FeldmanVerifiableSum",
                "HeteroDataSplit",
                "HeteroFeatureBinning",
                "HeteroFeatureSelection",
                "HeteroKmeans",
                "HeteroLR",
                "HeteroLinR",
                "HeteroPearson",
                "HeteroPoisson",
                "HeteroSSHELR",
                "HeteroSSHELinR",
                "HeteroSecureBoost",
                "HomoDataSplit",
                "Intersection",
                "LabelTransform",
                "LocalBaseline",
                "ModelLoader",
                "OneHotEncoder",
                "PSI",
                "PositiveUnlabeled",
                "Reader",
                "SampleWeight",
                "Scorecard",
                "SecureInformationRetrieval",
                "Union"
            ]
        );
        assert!(r.get("Reader").is_some());
        assert!(r.get("DataTransform").is_some());
        assert!(r.get("DataIO").is_some());
        assert!(r.get("FeatureScale").is_some());
        assert!(r.get("Evaluation").is_some());
        assert!(r.get("HeteroLR").is_some());
        assert!(r.get("HeteroFeatureBinning").is_some());
        assert!(r.get("HeteroSecureBoost").is_some());
        assert!(r.get("HeteroFastSecureBoost").is_some());
        assert!(r.get("HomoSecureBoost").is_none());
        assert!(r.get("reader").is_none());
    }

    #[test]
    fn every_module_is_known_to_the_domain() {
        for m in registry().modules() {
            assert!(
                fateflow_domain::module::lookup(m).is_some(),
                "{m} is not a module of fateflow-domain"
            );
        }
    }
}
