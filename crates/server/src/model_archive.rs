//! The zip archive of one party's pipeline model (`flow model export` / `import`).
//!
//! Layout (our own: FATE's archives hold protobuf buffers, ours JSON):
//!
//! - `pipeline.json`: the model-info fields (FATE's names, no `f_` prefix), a `format`
//!   marker, and the list of component models with the file of each;
//! - `components/<component>/<alias>.json`: one component model each.
//!
//! Reading trusts nothing in the archive: entry names must be exactly `pipeline.json`
//! or `components/<name>/<alias>.json` with names of letters, digits, `_` and `-`;
//! directories, links, encrypted entries, duplicates and unlisted files are refused;
//! every entry is read with a byte limit whatever size it declares, and the whole with
//! another. Nothing is written to disk.

use fateflow_domain::Role;
use fateflow_storage::{ModelInfoRecord, PipelineComponentRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

/// The `format` marker of `pipeline.json`.
pub const FORMAT: &str = "fateflow-rs/pipeline-model/1";
/// At most this many entries.
pub const MAX_ENTRIES: usize = 4096;
/// At most this many bytes in one entry, once inflated.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// At most this many bytes in all entries, once inflated.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a zip archive, or a damaged one.
    #[error("not a readable zip archive: {0}")]
    Zip(String),
    /// An entry that has no place in a model archive.
    #[error("archive entry `{name}` refused: {why}")]
    Entry {
        /// The entry's name as stored.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// The content does not describe a model.
    #[error("{0}")]
    Content(String),
}

/// One component model as listed in `pipeline.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ComponentEntry {
    component_name: String,
    model_alias: String,
    module: String,
    file: String,
}

/// `pipeline.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pipeline {
    format: String,
    model_id: String,
    model_version: String,
    role: Role,
    party_id: u64,
    job_id: String,
    roles: Value,
    initiator_role: Role,
    initiator_party_id: u64,
    train_dsl: Value,
    train_runtime_conf: Value,
    runtime_conf_on_party: Value,
    inference_dsl: Value,
    fate_version: String,
    parent: bool,
    parent_info: Value,
    #[serde(default)]
    description: String,
    components: Vec<ComponentEntry>,
}

/// What an archive holds.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The model-info fields as exported (key, times and counters to be set by the
    /// importer).
    pub info: ModelInfoRecord,
    /// Its component models.
    pub components: Vec<PipelineComponentRecord>,
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn component_file(component: &str, alias: &str) -> String {
    format!("components/{component}/{alias}.json")
}

/// Packs a model and its components into a zip archive (deflated).
pub fn pack(
    info: &ModelInfoRecord,
    components: &[PipelineComponentRecord],
) -> Result<Vec<u8>, ArchiveError> {
    let mut entries = Vec::new();
    for c in components {
        if !is_safe_name(&c.component_name) || !is_safe_name(&c.model_alias) {
            return Err(ArchiveError::Content(format!(
                "component `{}` model `{}`: names must be letters, digits, `_` or `-` to be archived",
                c.component_name, c.model_alias
            )));
        }
        entries.push(ComponentEntry {
            component_name: c.component_name.clone(),
            model_alias: c.model_alias.clone(),
            module: c.module.clone(),
            file: component_file(&c.component_name, &c.model_alias),
        });
    }
    let pipeline = Pipeline {
        format: FORMAT.into(),
        model_id: info.model_id.clone(),
        model_version: info.model_version.clone(),
        role: info.role,
        party_id: info.party_id,
        job_id: info.job_id.clone(),
        roles: info.roles.clone(),
        initiator_role: info.initiator_role,
        initiator_party_id: info.initiator_party_id,
        train_dsl: info.train_dsl.clone(),
        train_runtime_conf: info.train_runtime_conf.clone(),
        runtime_conf_on_party: info.runtime_conf_on_party.clone(),
        inference_dsl: info.inference_dsl.clone(),
        fate_version: info.fate_version.clone(),
        parent: info.parent,
        parent_info: info.parent_info.clone(),
        description: info.description.clone(),
        components: entries,
    };
    let zerr = |e: zip::result::ZipError| ArchiveError::Zip(e.to_string());
    let ierr = |e: std::io::Error| ArchiveError::Zip(e.to_string());
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    w.start_file("pipeline.json", opts).map_err(zerr)?;
    let text =
        serde_json::to_vec_pretty(&pipeline).map_err(|e| ArchiveError::Content(e.to_string()))?;
    w.write_all(&text).map_err(ierr)?;
    for (c, e) in components.iter().zip(&pipeline.components) {
        w.start_file(e.file.as_str(), opts).map_err(zerr)?;
        let text =
            serde_json::to_vec(&c.model).map_err(|e| ArchiveError::Content(e.to_string()))?;
        w.write_all(&text).map_err(ierr)?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

/// What an entry name may be.
enum Slot {
    Pipeline,
    Component,
}

/// The slot of entry `name`, or [`ArchiveError::Entry`] saying why it has none.
fn classify(name: &str) -> Result<Slot, ArchiveError> {
    if name == "pipeline.json" {
        return Ok(Slot::Pipeline);
    }
    let refuse = |why: &str| {
        Err(ArchiveError::Entry {
            name: name.into(),
            why: why.into(),
        })
    };
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["components", cpn, file] if is_safe_name(cpn) => match file.strip_suffix(".json") {
            Some(alias) if is_safe_name(alias) => Ok(Slot::Component),
            _ => refuse("expected components/<component>/<alias>.json"),
        },
        _ if name.contains("..") || name.starts_with('/') || name.contains('\\') => {
            refuse("a path leaving the archive")
        }
        _ => refuse(
            "not a file of a model archive (pipeline.json or components/<component>/<alias>.json)",
        ),
    }
}

fn read_limited(r: &mut impl Read, name: &str, left: &mut u64) -> Result<Vec<u8>, ArchiveError> {
    let cap = MAX_ENTRY_BYTES.min(*left);
    let mut buf = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ArchiveError::Entry {
            name: name.into(),
            why: format!("cannot be read: {e}"),
        })?;
    if buf.len() as u64 > cap {
        return Err(ArchiveError::Entry {
            name: name.into(),
            why: if cap < MAX_ENTRY_BYTES {
                format!("the archive inflates beyond {MAX_TOTAL_BYTES} bytes")
            } else {
                format!("inflates beyond {MAX_ENTRY_BYTES} bytes")
            },
        });
    }
    *left -= buf.len() as u64;
    Ok(buf)
}

fn le16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?).into())
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)).ok()
}

/// The entry names of the central directory, as stored. The `zip` crate keys entries
/// by name and keeps one of each, so duplicates are found here, before it reads.
fn central_names(bytes: &[u8]) -> Result<Vec<Vec<u8>>, ArchiveError> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const CDH: &[u8] = b"PK\x01\x02";
    let bad = |why: &str| ArchiveError::Zip(why.to_string());
    // The end record is 22 bytes plus a comment of at most 64 KiB.
    let floor = bytes.len().saturating_sub(22 + 0xFFFF);
    let eocd = (floor..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(EOCD))
        .ok_or_else(|| bad("no end of central directory record"))?;
    let total = le16(bytes, eocd + 10).ok_or_else(|| bad("truncated end record"))?;
    let size = le32(bytes, eocd + 12).ok_or_else(|| bad("truncated end record"))?;
    if total == 0xFFFF || size == 0xFFFF_FFFF {
        return Err(bad("zip64 archives are not accepted"));
    }
    if total > MAX_ENTRIES {
        return Err(ArchiveError::Content(format!(
            "{total} entries; a model archive has at most {MAX_ENTRIES}"
        )));
    }
    let mut at = eocd
        .checked_sub(size)
        .ok_or_else(|| bad("the central directory does not fit"))?;
    let mut names = Vec::with_capacity(total);
    for _ in 0..total {
        let head = bytes
            .get(at..at + 46)
            .filter(|h| h.starts_with(CDH))
            .ok_or_else(|| bad("damaged central directory"))?;
        let (n, e, c) = (
            le16(head, 28).unwrap_or(0),
            le16(head, 30).unwrap_or(0),
            le16(head, 32).unwrap_or(0),
        );
        let name = bytes
            .get(at + 46..at + 46 + n)
            .ok_or_else(|| bad("damaged central directory"))?;
        names.push(name.to_vec());
        at += 46 + n + e + c;
    }
    Ok(names)
}

/// Reads and checks an archive made by [`pack`] (or by anyone: nothing is trusted).
pub fn unpack(bytes: &[u8]) -> Result<Unpacked, ArchiveError> {
    let names = central_names(bytes)?;
    let mut distinct = BTreeSet::new();
    for n in &names {
        if !distinct.insert(n.as_slice()) {
            return Err(ArchiveError::Entry {
                name: String::from_utf8_lossy(n).into_owned(),
                why: "appears twice".into(),
            });
        }
    }
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::Zip(e.to_string()))?;
    if zip.len() != names.len() {
        return Err(ArchiveError::Zip(format!(
            "the central directory lists {} entries, the archive reads as {}",
            names.len(),
            zip.len()
        )));
    }
    if zip.len() > MAX_ENTRIES {
        return Err(ArchiveError::Content(format!(
            "{} entries; a model archive has at most {MAX_ENTRIES}",
            zip.len()
        )));
    }
    let mut left = MAX_TOTAL_BYTES;
    let mut pipeline: Option<Vec<u8>> = None;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut seen = BTreeSet::new();
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Zip(format!("entry {i}: {e}")))?;
        let name = String::from_utf8(f.name_raw().to_vec()).map_err(|_| ArchiveError::Entry {
            name: String::from_utf8_lossy(f.name_raw()).into_owned(),
            why: "the name is not UTF-8".into(),
        })?;
        let refuse = |why: &str| ArchiveError::Entry {
            name: name.clone(),
            why: why.into(),
        };
        if f.encrypted() {
            return Err(refuse("encrypted entries are not accepted"));
        }
        if f.is_dir() {
            return Err(refuse("directories are not accepted"));
        }
        if f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(refuse("symbolic links are not accepted"));
        }
        let slot = classify(&name)?;
        if !seen.insert(name.clone()) {
            return Err(refuse("appears twice"));
        }
        let data = read_limited(&mut f, &name, &mut left)?;
        match slot {
            Slot::Pipeline => pipeline = Some(data),
            Slot::Component => {
                files.insert(name, data);
            }
        }
    }
    let pipeline =
        pipeline.ok_or_else(|| ArchiveError::Content("the archive has no pipeline.json".into()))?;
    let p: Pipeline = serde_json::from_slice(&pipeline)
        .map_err(|e| ArchiveError::Content(format!("pipeline.json: {e}")))?;
    if p.format != FORMAT {
        return Err(ArchiveError::Content(format!(
            "pipeline.json: format `{}`; expected `{FORMAT}`",
            p.format
        )));
    }
    let mut components = Vec::new();
    for c in &p.components {
        if c.file != component_file(&c.component_name, &c.model_alias) {
            return Err(ArchiveError::Content(format!(
                "pipeline.json: component `{}` model `{}` points at `{}`; expected `{}`",
                c.component_name,
                c.model_alias,
                c.file,
                component_file(&c.component_name, &c.model_alias)
            )));
        }
        let data = files.remove(&c.file).ok_or_else(|| {
            ArchiveError::Content(format!(
                "pipeline.json lists `{}`, which is missing",
                c.file
            ))
        })?;
        let model: Value = serde_json::from_slice(&data)
            .map_err(|e| ArchiveError::Content(format!("{}: {e}", c.file)))?;
        components.push(PipelineComponentRecord {
            component_name: c.component_name.clone(),
            model_alias: c.model_alias.clone(),
            module: c.module.clone(),
            model,
            create_time: 0,
        });
    }
    if let Some(extra) = files.keys().next() {
        return Err(ArchiveError::Entry {
            name: extra.clone(),
            why: "not listed in pipeline.json".into(),
        });
    }
    for (what, v) in [
        ("train_dsl", &p.train_dsl),
        ("train_runtime_conf", &p.train_runtime_conf),
        ("inference_dsl", &p.inference_dsl),
        ("roles", &p.roles),
    ] {
        if !v.is_object() {
            return Err(ArchiveError::Content(format!(
                "pipeline.json: `{what}` must be a JSON object"
            )));
        }
    }
    let size = components
        .iter()
        .map(|c| c.model.to_string().len() as i64)
        .sum();
    Ok(Unpacked {
        info: ModelInfoRecord {
            model_id: p.model_id,
            model_version: p.model_version,
            role: p.role,
            party_id: p.party_id,
            job_id: p.job_id,
            roles: p.roles,
            initiator_role: p.initiator_role,
            initiator_party_id: p.initiator_party_id,
            train_dsl: p.train_dsl,
            train_runtime_conf: p.train_runtime_conf,
            runtime_conf_on_party: p.runtime_conf_on_party,
            inference_dsl: p.inference_dsl,
            fate_version: p.fate_version,
            parent: p.parent,
            parent_info: p.parent_info,
            loaded_times: 0,
            imported: true,
            size,
            description: p.description,
            archive_sha256: None,
            archive_from_ip: None,
            create_time: 0,
            update_time: 0,
        },
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> ModelInfoRecord {
        ModelInfoRecord {
            model_id: "guest-9999#host-10000#model".into(),
            model_version: "202401010000000000000".into(),
            role: Role::Guest,
            party_id: 9999,
            job_id: "202401010000000000000".into(),
            roles: json!({"guest": [9999], "host": [10000]}),
            initiator_role: Role::Guest,
            initiator_party_id: 9999,
            train_dsl: json!({"components": {}}),
            train_runtime_conf: json!({"dsl_version": 2}),
            runtime_conf_on_party: json!({}),
            inference_dsl: json!({"components": {}}),
            fate_version: "1.11.4".into(),
            parent: false,
            parent_info: json!({"parent_model_version": "1"}),
            loaded_times: 3,
            imported: false,
            size: 0,
            description: String::new(),
            archive_sha256: None,
            archive_from_ip: None,
            create_time: 1,
            update_time: 1,
        }
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn round_trip_keeps_every_component() {
        let comps = vec![
            PipelineComponentRecord {
                component_name: "hetero_lr_0".into(),
                model_alias: "model".into(),
                module: "HeteroLR".into(),
                model: json!({"param": {"weight": {"x0": 0.5}}}),
                create_time: 5,
            },
            PipelineComponentRecord {
                component_name: "data_transform_0".into(),
                model_alias: "model".into(),
                module: "DataTransform".into(),
                model: json!({"param": {"header": ["x0"]}}),
                create_time: 5,
            },
        ];
        let bytes = pack(&info(), &comps).unwrap();
        let u = unpack(&bytes).unwrap();
        assert_eq!(u.components.len(), 2);
        assert_eq!(u.components[0].model, comps[0].model);
        assert_eq!(u.components[1].module, "DataTransform");
        assert_eq!(u.info.model_id, info().model_id);
        assert!(!u.info.parent);
        assert!(u.info.imported);
        assert_eq!(u.info.loaded_times, 0);
    }

    #[test]
    fn hostile_archives_are_refused_with_the_entry_named() {
        let p = pack(&info(), &[]).unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(&p[..])).unwrap();
        let mut pipeline = Vec::new();
        z.by_name("pipeline.json")
            .unwrap()
            .read_to_end(&mut pipeline)
            .unwrap();
        for (name, needle) in [
            ("../evil.json", "leaving"),
            ("/etc/passwd", "leaving"),
            ("components/../../x.json", "leaving"),
            ("components/a\\b/c.json", "leaving"),
            ("components/x/y.txt", "expected components"),
            ("notes.txt", "not a file of a model archive"),
        ] {
            let bytes = zip_of(&[("pipeline.json", &pipeline), (name, b"{}")]);
            let e = unpack(&bytes).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
        }
        let e = unpack(&zip_of(&[
            ("pipeline.json", &pipeline),
            ("components/a/b.json", b"{}"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("not listed"), "{e}");
        let e = unpack(b"PK\x03\x04 not really").unwrap_err().to_string();
        assert!(e.contains("zip"), "{e}");
        let e = unpack(&zip_of(&[("pipeline.json", b"{\"format\": 1}")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pipeline.json"), "{e}");
    }

    /// Renames an entry in the raw bytes (local header and central directory): the
    /// `zip` writer refuses duplicate names, so duplicates are made this way.
    fn rename_entry(mut bytes: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
        let (f, t) = (from.as_bytes(), to.as_bytes());
        assert_eq!(f.len(), t.len());
        let mut i = 0;
        while i + f.len() <= bytes.len() {
            if &bytes[i..i + f.len()] == f {
                bytes[i..i + f.len()].copy_from_slice(t);
                i += f.len();
            } else {
                i += 1;
            }
        }
        bytes
    }

    #[test]
    fn duplicate_entry_names_are_refused() {
        let comp = PipelineComponentRecord {
            component_name: "a".into(),
            model_alias: "m".into(),
            module: "HeteroLR".into(),
            model: json!({"v": 1}),
            create_time: 0,
        };
        let p = pack(&info(), &[comp]).unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(&p[..])).unwrap();
        let mut pipeline = Vec::new();
        z.by_name("pipeline.json")
            .unwrap()
            .read_to_end(&mut pipeline)
            .unwrap();
        assert!(unpack(&p).is_ok());
        // Two copies of the listed component model with different content.
        let two = zip_of(&[
            ("pipeline.json", &pipeline),
            ("components/a/m.json", b"{\"v\": 1}"),
            ("components/a/n.json", b"{\"v\": 2}"),
        ]);
        let dup = rename_entry(two, "components/a/n.json", "components/a/m.json");
        let e = unpack(&dup).unwrap_err().to_string();
        assert!(
            e.contains("components/a/m.json") && e.contains("appears twice"),
            "{e}"
        );
        // Two pipeline.json.
        let two = zip_of(&[("pipeline.json", &pipeline), ("pipelinf.json", b"{}")]);
        let e = unpack(&rename_entry(two, "pipelinf.json", "pipeline.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pipeline.json") && e.contains("twice"), "{e}");
    }

    #[test]
    fn an_entry_inflating_past_its_limit_is_refused() {
        // Compresses to a few kilobytes, inflates past the per-entry limit.
        let big = vec![b' '; (MAX_ENTRY_BYTES + 1) as usize];
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("pipeline.json", opts).unwrap();
        w.write_all(&big).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        assert!(bytes.len() < 1 << 20);
        let e = unpack(&bytes).unwrap_err().to_string();
        assert!(e.contains("inflates beyond"), "{e}");
    }
}
