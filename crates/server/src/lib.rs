//! The `fateflow` binary's library: subcommands and their wiring.

pub mod api;
pub mod board;
pub mod cli;
pub mod cluster;
mod demo;
pub mod federation;
pub mod gc;
pub mod launchers;
pub mod model_archive;
pub mod output;
pub mod run_job;
pub mod serving;
pub mod site;
mod validate;

use output::outln;
use std::process::ExitCode;

/// Runs one subcommand.
pub fn run(cmd: cli::Command) -> anyhow::Result<ExitCode> {
    owner_only_umask();
    match cmd {
        cli::Command::Validate { dsl, conf, json } => validate::run(&dsl, &conf, json),
        cli::Command::Demo {
            examples,
            data_dir,
            keep,
        } => demo::run(&examples, data_dir, keep),
        cli::Command::Run {
            dsl,
            conf,
            uploads,
            file_root,
            data_dir,
            timeout,
            json,
        } => run_job::run(run_job::RunOptions {
            dsl,
            conf,
            uploads,
            file_root,
            data_dir,
            timeout,
            json,
        }),
        cli::Command::Server(args) => {
            init_tracing();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = rt.block_on(async {
                let site =
                    site::Site::start_with_gateway(args.site.clone(), args.gateway.clone()).await?;
                outln!("fateflow listening on http://{}", site.addr())?;
                site.wait().await
            });
            // A blocking call still running (a slow disk, a long upload) does not keep
            // a drained server from exiting.
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            served?;
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Gc {
            data_dir,
            older_than_days,
            dry_run,
        } => gc::run(&gc::GcOptions {
            data_dir,
            older_than_days,
            dry_run,
        }),
        cli::Command::Cert { out, name } => {
            let (cert, key, fp) = fateflow_gateway::generate_identity(&out, &name)?;
            outln!("certificate: {}", cert.display())?;
            outln!("key:         {}", key.display())?;
            outln!("fingerprint: {fp}")?;
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Task {
            action: cli::TaskAction::Run { spec },
        } => {
            let code = fateflow_executor::run_task(&spec);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Files and directories this process creates are its owner's only (the data dir's
/// database, tables, logs, job files, spills, keys); task processes inherit it.
pub fn owner_only_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
