//! The commands: one module per noun, one file per verb.

pub mod audit;
pub mod component;
pub mod data;
pub mod init;
pub mod job;
pub mod model;
pub mod privilege;
pub mod server;
pub mod table;
pub mod task;
pub mod tracking;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::clients::{Envelope, FlowClient};
use crate::settings::{self, Endpoint, Overrides};
use crate::{output, Command, Exit, GlobalArgs, UsageError};

/// The roles FATE's `flow` accepts for `-r`.
pub const ROLES: [&str; 4] = ["local", "guest", "arbiter", "host"];

/// The statuses FATE's `flow` accepts for `-s`.
pub const STATUSES: [&str; 8] = [
    "success", "failed", "running", "waiting", "timeout", "canceled", "partial", "deleted",
];

/// Looks up an environment variable.
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// What every command may need: flags and a view of the environment.
pub struct Context {
    overrides: Overrides,
    env: EnvLookup,
}

impl Context {
    /// A context reading the real process environment.
    pub fn from_process(global: &GlobalArgs) -> Self {
        Self::new(global.overrides(), Box::new(|k| std::env::var(k).ok()))
    }

    /// A context with an explicit environment, for tests.
    pub fn new(overrides: Overrides, env: EnvLookup) -> Self {
        Self { overrides, env }
    }

    /// The command-line overrides.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The settings file location.
    pub fn settings_path(&self) -> Result<PathBuf> {
        settings::settings_path(&*self.env)
    }

    /// The server to talk to, from the settings file, `FATE_FLOW_ADDR` and flags.
    pub fn endpoint(&self) -> Result<Endpoint> {
        let path = self.settings_path()?;
        let stored = settings::load(&path)?;
        let addr = (self.env)(settings::ADDR_ENV);
        settings::resolve(stored.as_ref(), addr.as_deref(), &self.overrides, &path)
    }

    /// A client for the configured server.
    pub fn client(&self) -> Result<FlowClient> {
        Ok(FlowClient::new(self.endpoint()?)?)
    }
}

/// Runs one command.
pub fn run(command: Command, ctx: &Context) -> Result<Exit> {
    match command {
        Command::Init(args) => init::run(args, ctx),
        Command::Data(cmd) => data::run(cmd, ctx),
        Command::Table(cmd) => table::run(cmd, ctx),
        Command::Job(cmd) => job::run(cmd, ctx),
        Command::Model(cmd) => model::run(cmd, ctx),
        Command::Task(cmd) => task::run(cmd, ctx),
        Command::Tracking(cmd) => tracking::run(cmd, ctx),
        Command::Component(cmd) => component::run(cmd, ctx),
        Command::Server(cmd) => server::run(cmd, ctx),
        Command::Privilege(cmd) => privilege::run(cmd, ctx),
        Command::Audit(cmd) => audit::run(cmd, ctx),
    }
}

/// Prints a response like FATE's `flow` and maps its retcode onto the exit code.
pub fn print_envelope(envelope: &Envelope) -> Result<Exit> {
    print_json(&envelope.body)?;
    Ok(exit_for(envelope))
}

/// Exit code for a response.
pub fn exit_for(envelope: &Envelope) -> Exit {
    if envelope.is_success() {
        Exit::Success
    } else {
        Exit::Failure
    }
}

/// Prints pretty JSON on stdout.
pub fn print_json(value: &Value) -> Result<()> {
    output::print(&format!("{}\n", output::json(value)))
}

/// Reads a JSON file given on the command line; problems are usage errors.
pub fn read_json_file(path: &Path, what: &str) -> Result<Value> {
    let text = fs::read_to_string(path)
        .map_err(|err| UsageError::new(format!("cannot read {what} {}: {err}", path.display())))?;
    serde_json::from_str(&text).map_err(|err| {
        UsageError::new(format!(
            "{what} {} is not valid JSON: {err}",
            path.display()
        ))
        .into()
    })
}

/// Reads a JSON file that must hold an object.
pub fn read_json_object(path: &Path, what: &str) -> Result<serde_json::Map<String, Value>> {
    match read_json_file(path, what)? {
        Value::Object(map) => Ok(map),
        _ => Err(
            UsageError::new(format!("{what} {} must hold a JSON object", path.display())).into(),
        ),
    }
}

/// An absolute form of `path` without resolving symlinks (Python's `os.path.abspath`).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// Extracts a `.tar.gz` into `dest`, refusing entries that would escape it.
pub fn extract_tar_gz(archive: &Path, dest: &Path) -> Result<()> {
    let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.unpack(dest)
        .with_context(|| format!("extracting {} into {}", archive.display(), dest.display()))
}

/// Saves a server attachment into `out_dir` as `archive_name`, extracts it into
/// `out_dir/<archive_name without .tar.gz>`, removes the archive, and prints
/// FATE's success message.
pub fn download_and_extract(
    out_dir: &Path,
    archive_name: &str,
    fetch: impl FnOnce(&Path) -> Result<crate::clients::Download>,
) -> Result<Exit> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out_dir = absolute(out_dir)?;
    let archive = out_dir.join(archive_name);
    let extract_dir = out_dir.join(archive_name.trim_end_matches(".tar.gz"));
    match fetch(&archive)? {
        crate::clients::Download::Envelope(envelope) => print_envelope(&envelope),
        crate::clients::Download::Saved { .. } => {
            let extracted = extract_tar_gz(&archive, &extract_dir);
            // The archive is a temporary: remove it whether or not extraction worked.
            let _ = fs::remove_file(&archive);
            extracted?;
            let directory = extract_dir.display().to_string();
            print_json(&serde_json::json!({
                "retcode": 0,
                "directory": directory,
                "retmsg": format!("download successfully, please check {directory} directory"),
            }))?;
            Ok(Exit::Success)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn extracts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.gz");
        fs::write(
            &archive,
            tar_gz(&[
                ("guest/9999/INFO.log", b"hello"),
                ("fate_flow_schedule.log", b"x"),
            ]),
        )
        .unwrap();
        let out = dir.path().join("out");
        extract_tar_gz(&archive, &out).unwrap();
        assert_eq!(fs::read(out.join("guest/9999/INFO.log")).unwrap(), b"hello");
    }

    #[test]
    fn download_and_extract_removes_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_gz(&[("x.csv", b"id,y\n1,0\n")]);
        let exit = download_and_extract(dir.path(), "job_1_log.tar.gz", |dest| {
            fs::write(dest, &bytes).unwrap();
            Ok(crate::clients::Download::Saved {
                bytes: bytes.len() as u64,
            })
        })
        .unwrap();
        assert_eq!(exit, Exit::Success);
        assert!(!dir.path().join("job_1_log.tar.gz").exists());
        assert_eq!(
            fs::read(dir.path().join("job_1_log/x.csv")).unwrap(),
            b"id,y\n1,0\n"
        );
    }

    #[test]
    fn bad_json_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        fs::write(&path, "{nope").unwrap();
        let err = read_json_file(&path, "conf").unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        let err = read_json_file(&dir.path().join("missing.json"), "conf").unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
    }
}
