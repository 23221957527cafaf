//! A host's features for online inference from a table of its site: the columns a
//! model reads, indexed by sample id, built when the model is loaded.

use fateflow_tables::{read_blocks, LocalTableStore, TableId};
use std::collections::HashMap;

/// Bytes an index may take (ids, values and map overhead, estimated); a larger table
/// is refused at load rather than exhausting the server.
const MAX_INDEX_BYTES: usize = 2 << 30;

/// Feature values by sample id.
pub(super) struct LocalIndex {
    columns: HashMap<String, usize>,
    rows: HashMap<String, Box<[f64]>>,
}

impl LocalIndex {
    /// Reads `namespace.name` once, keeping the columns in `needed`. A needed column
    /// the table lacks, a text table, or a table too large for memory is refused.
    pub(super) fn build(
        tables: &LocalTableStore,
        namespace: &str,
        name: &str,
        needed: &[String],
    ) -> Result<Self, String> {
        let id = TableId::new(namespace, name).map_err(|e| e.to_string())?;
        let blocks = read_blocks(tables, &id, 65_536)
            .map_err(|e| format!("table {namespace}.{name}: {e}"))?;
        let header: Vec<String> = blocks.schema().header.clone();
        let mut at = Vec::with_capacity(needed.len());
        let mut missing = Vec::new();
        for n in needed {
            match header.iter().position(|h| h == n) {
                Some(i) => at.push(i),
                None => missing.push(n.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "table {namespace}.{name} has no column {} (its columns: {})",
                missing.join(", "),
                header.join(", ")
            ));
        }
        let mut rows = HashMap::new();
        let mut bytes = 0usize;
        for block in blocks {
            let block = block.map_err(|e| format!("table {namespace}.{name}: {e}"))?;
            let cols: Vec<usize> = at
                .iter()
                .map(|&i| block.column_index(&header[i]).unwrap_or(usize::MAX))
                .collect();
            for (r, sid) in block.sids().iter().enumerate() {
                let row = block.row(r);
                let values: Box<[f64]> = cols
                    .iter()
                    .map(|&c| row.get(c).copied().unwrap_or(f64::NAN))
                    .collect();
                bytes += sid.len() + 8 * values.len() + 64;
                if bytes > MAX_INDEX_BYTES {
                    return Err(format!(
                        "table {namespace}.{name} needs more than {} MiB in memory for online features; serve a smaller table",
                        MAX_INDEX_BYTES >> 20
                    ));
                }
                rows.insert(sid.clone(), values);
            }
        }
        let columns = needed
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Ok(LocalIndex { columns, rows })
    }

    /// How many ids.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// One id's values.
    pub(super) fn get(&self, id: &str) -> Option<&[f64]> {
        self.rows.get(id).map(|b| &**b)
    }

    /// A feature of a row `get` returned (NaN for a missing value: trees send it their
    /// split's way, linear models fill it or refuse it); `None` when the table has no
    /// such column.
    pub(super) fn value(&self, row: &[f64], feature: &str) -> Option<f64> {
        row.get(*self.columns.get(feature)?).copied()
    }
}
