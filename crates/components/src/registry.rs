//! The components this crate implements, by FATE module name.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::binning::HeteroFeatureBinning;
use crate::context::{canonical_module, Component};
use crate::data_split::DataSplit;
use crate::data_transform::DataTransform;
use crate::evaluation::Evaluation;
use crate::feature_scale::FeatureScale;
use crate::intersection::Intersection;
use crate::linear::{HeteroLR, HeteroLinR};
use crate::reader::Reader;
use crate::sample::FederatedSample;
use crate::selection::HeteroFeatureSelection;
use crate::union::Union;

/// Components by canonical FATE module name.
pub struct Registry {
    components: BTreeMap<&'static str, Box<dyn Component>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("modules", &self.components.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// Every component of this crate. A new component is one line here.
    fn builtin() -> Self {
        let mut r = Registry {
            components: BTreeMap::new(),
        };
        r.add("Reader", Reader);
        r.add("DataTransform", DataTransform);
        r.add("FeatureScale", FeatureScale);
        r.add("Evaluation", Evaluation);
        r.add("Intersection", Intersection);
        r.add("HeteroDataSplit", DataSplit);
        r.add("Union", Union);
        r.add("FederatedSample", FederatedSample);
        r.add("HeteroLR", HeteroLR);
        r.add("HeteroLinR", HeteroLinR);
        r.add("HeteroFeatureBinning", HeteroFeatureBinning);
        r.add("HeteroFeatureSelection", HeteroFeatureSelection);
        r
    }

    fn add(&mut self, module: &'static str, component: impl Component + 'static) {
        debug_assert_eq!(
            canonical_module(module),
            module,
            "register components under FATE's canonical module name"
        );
        self.components.insert(module, Box::new(component));
    }

    /// The component for `module`, resolving aliases (`DataIO` → `DataTransform`).
    pub fn get(&self, module: &str) -> Option<&dyn Component> {
        self.components
            .get(canonical_module(module))
            .map(|c| c.as_ref())
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
                "DataTransform",
                "Evaluation",
                "FeatureScale",
                "FederatedSample",
                "HeteroDataSplit",
                "HeteroFeatureBinning",
                "HeteroFeatureSelection",
                "HeteroLR",
                "HeteroLinR",
                "Intersection",
                "Reader",
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
        assert!(r.get("HeteroSecureBoost").is_none());
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
