//! `flow data upload -c upload.json [--drop] [--verbose]`.
//!
//! The upload conf is FATE's (`file`, `head`, `partition`, `id_delimiter`,
//! `namespace`, `table_name`, `drop`, `extend_sid`, `use_local_data`, ...).
//! Like FATE's client we append `conf_path`, `drop` and `verbose` to it.
//! With `use_local_data` absent or 1 the file is read here and sent as the multipart
//! field `file`, and the conf travels as the whole (percent-encoded JSON) query string;
//! with `use_local_data: 0` the conf is the JSON body and the server reads `file`
//! from its own disk.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};

use crate::commands::{absolute, print_envelope, read_json_object, Context};
use crate::{pyjson, Exit, UsageError};

/// `flow data upload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upload conf (JSON).
    #[arg(short = 'c', long = "conf-path", value_name = "FILE")]
    pub conf_path: PathBuf,
    /// Replace the table if it already exists.
    #[arg(long)]
    pub drop: bool,
    /// Ask the server for verbose upload logs (sent as `verbose: 1`).
    #[arg(long)]
    pub verbose: bool,
}

/// Runs `flow data upload`.
pub fn run(args: Args, ctx: &Context) -> Result<Exit> {
    let conf_path = absolute(&args.conf_path)?;
    let mut conf = read_json_object(&conf_path, "upload conf")?;
    complete_conf(&mut conf, &conf_path, args.drop, args.verbose);
    let client = ctx.client()?;

    if !uses_local_data(&conf) {
        let envelope = client.data_upload_server_file(&Value::Object(conf))?;
        return print_envelope(&envelope);
    }

    let file = conf
        .get("file")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| UsageError::new("the upload conf has no \"file\""))?
        .to_string();
    let conf_dir = conf_path.parent().unwrap_or(Path::new("/"));
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(local) = resolve_data_file(&file, conf_dir, &cwd) else {
        return Err(UsageError::new(format!(
            "the data file {file:?} does not exist (looked relative to {} and {})",
            conf_dir.display(),
            cwd.display()
        ))
        .into());
    };

    let query = pyjson::to_string(&conf).context("encoding the upload conf")?;
    let started = Instant::now();
    let mut progress = ProgressLine::new(std::io::stderr().is_terminal());
    let envelope =
        client.upload_file(&query, &local, Box::new(move |s, t| progress.update(s, t)))?;
    let size = std::fs::metadata(&local).map(|m| m.len()).unwrap_or(0);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "uploaded {} ({}) in {secs:.1}s",
        local.display(),
        format_bytes(size)
    );
    print_envelope(&envelope)
}

/// Appends what FATE's client appends: the absolute `conf_path`, `drop` as 1/0 and
/// `verbose` as 1/0.
///
/// Unlike FATE's client, which always overwrites `drop` with the flag, a `drop: 1`
/// written in the conf is kept when `--drop` is not given.
pub fn complete_conf(conf: &mut Map<String, Value>, conf_path: &Path, drop: bool, verbose: bool) {
    conf.insert(
        "conf_path".into(),
        Value::String(conf_path.display().to_string()),
    );
    let drop = if drop {
        1
    } else {
        conf.get("drop").map_or(0, |v| i64::from(truthy(v)))
    };
    conf.insert("drop".into(), drop.into());
    conf.insert("verbose".into(), i64::from(verbose).into());
}

/// Whether the client sends the file (`use_local_data` absent or true).
pub fn uses_local_data(conf: &Map<String, Value>) -> bool {
    conf.get("use_local_data").is_none_or(truthy)
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !matches!(s.trim(), "" | "0" | "false" | "False"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Finds the data file: absolute as is; relative against the conf's directory first,
/// then the current directory.
pub fn resolve_data_file(file: &str, conf_dir: &Path, cwd: &Path) -> Option<PathBuf> {
    let path = Path::new(file);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    [conf_dir.join(path), cwd.join(path)]
        .into_iter()
        .find(|candidate| candidate.is_file())
}

/// A self-overwriting progress line on a terminal; silent otherwise.
struct ProgressLine {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
        }
    }

    fn update(&mut self, sent: u64, total: u64) {
        let this = self;
        if !this.enabled {
            return;
        }
        let done = sent >= total;
        let now = Instant::now();
        if !done
            && this
                .last
                .is_some_and(|l| now - l < Duration::from_millis(100))
        {
            return;
        }
        this.last = Some(now);
        let pct = (sent * 100).checked_div(total).unwrap_or(100);
        let rate = sent as f64 / this.started.elapsed().as_secs_f64().max(0.001);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r uploading {} / {} ({pct:>3}%)  {}/s   ",
            format_bytes(sent),
            format_bytes(total),
            format_bytes(rate as u64)
        );
        if done {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

/// `1536` → `1.5 KiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conf_gets_fate_client_keys_in_order() {
        let mut conf = obj(json!({"file": "a.csv", "head": 1, "partition": 4,
            "namespace": "experiment", "table_name": "t"}));
        complete_conf(&mut conf, Path::new("/tmp/up/upload.json"), true, false);
        assert_eq!(
            pyjson::to_string(&conf).unwrap(),
            r#"{"file": "a.csv", "head": 1, "partition": 4, "namespace": "experiment", "table_name": "t", "conf_path": "/tmp/up/upload.json", "drop": 1, "verbose": 0}"#
        );
    }

    #[test]
    fn drop_in_conf_is_kept_without_flag() {
        let mut conf = obj(json!({"drop": 1, "file": "a"}));
        complete_conf(&mut conf, Path::new("/c.json"), false, true);
        assert_eq!(conf["drop"], 1);
        assert_eq!(conf["verbose"], 1);
        let mut conf = obj(json!({"file": "a"}));
        complete_conf(&mut conf, Path::new("/c.json"), false, false);
        assert_eq!(conf["drop"], 0);
    }

    #[test]
    fn use_local_data_defaults_to_client_side() {
        assert!(uses_local_data(&obj(json!({}))));
        assert!(uses_local_data(&obj(json!({"use_local_data": 1}))));
        assert!(!uses_local_data(&obj(json!({"use_local_data": 0}))));
        assert!(!uses_local_data(&obj(json!({"use_local_data": "0"}))));
        assert!(!uses_local_data(&obj(json!({"use_local_data": false}))));
    }

    #[test]
    fn relative_files_try_conf_dir_then_cwd() {
        let root = tempfile::tempdir().unwrap();
        let conf_dir = root.path().join("conf");
        let cwd = root.path().join("cwd");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(cwd.join("only_cwd.csv"), "x").unwrap();
        std::fs::write(cwd.join("both.csv"), "x").unwrap();
        std::fs::write(conf_dir.join("both.csv"), "x").unwrap();
        assert_eq!(
            resolve_data_file("both.csv", &conf_dir, &cwd),
            Some(conf_dir.join("both.csv"))
        );
        assert_eq!(
            resolve_data_file("only_cwd.csv", &conf_dir, &cwd),
            Some(cwd.join("only_cwd.csv"))
        );
        assert_eq!(resolve_data_file("none.csv", &conf_dir, &cwd), None);
        let abs = cwd.join("only_cwd.csv");
        assert_eq!(
            resolve_data_file(abs.to_str().unwrap(), &conf_dir, &cwd),
            Some(abs)
        );
    }

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(12), "12 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
