//! `wstap replay` and `wstap serve`: arguments to configuration, output.

use super::args::{ReplayArgs, ServeArgs};
use crate::replay::output::{exit_status, progress_line, summary_table, write_junit, write_reports};
use crate::replay::runner::{RunConfig, run_all};
use crate::replay::{Settings, catalogue};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `wstap replay`.
pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    let all = catalogue::load_paths(&args.paths, args.timing)?;
    let cases = catalogue::select(all, &args.cases, &args.exclude).map_err(anyhow::Error::msg)?;
    if cases.is_empty() {
        bail!("no case selected (check PATH, --cases and --exclude)");
    }
    let record_dir = args.record_dir.clone().or_else(|| args.report.as_ref().map(|d| d.join("recordings")));
    let mut settings = Settings::new(args.agent.clone());
    settings.record_dir = prepare(record_dir)?;
    let mut config = RunConfig::new(settings);
    config.client = args.client.clone();
    config.jobs = args.jobs.max(1);
    config.connect_timeout = args.connect_timeout;
    config.tls = tls_for(&args.tls, &config.host.to_string())?;
    let total = cases.len();
    let done = AtomicUsize::new(0);
    let runs = run_all(cases, &config, move |run| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        eprintln!("{}", progress_line(n, total, run));
    })
    .await;
    print!("{}", summary_table(&runs));
    if let Some(dir) = &args.report {
        write_reports(dir, &runs).with_context(|| format!("writing reports into {}", dir.display()))?;
        eprintln!("wstap: reports in {}", dir.display());
    }
    if let Some(file) = &args.junit {
        write_junit(file, &args.agent, &runs).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(ExitCode::from(exit_status(&runs)))
}

/// Runs `wstap serve` until /stopServer, SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let all = match args.scenarios.is_empty() {
        true => catalogue::shipped(),
        false => catalogue::load_paths(&args.scenarios, Default::default())?,
    };
    let cases = catalogue::select(all, &args.cases, &args.exclude).map_err(anyhow::Error::msg)?;
    let mut settings = Settings::new("");
    settings.record_dir = prepare(args.record_dir.clone())?;
    let server = crate::replay::serve::Server::bind(args.listen, cases, settings, args.report.clone())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = server.with_tls(tls_for(&args.tls, &args.listen.ip().to_string())?);
    let scheme = if args.tls.tls { "wss" } else { "ws" };
    eprintln!("wstap: serving {} cases on {scheme}://{}/", server.case_count(), server.local_addr()?);
    for (number, id) in server.numbering() {
        eprintln!("wstap:   case={number} -> {id}");
    }
    server.run(super::shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

fn prepare(dir: Option<PathBuf>) -> Result<Option<PathBuf>> {
    if let Some(d) = &dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    Ok(dir)
}

/// `--tls` for replay and serve: the certificate, and the key log.
fn tls_for(args: &super::args::TlsArgs, fallback: &str) -> Result<Option<crate::tls::ServerTls>> {
    if !args.tls && args.keylog.is_some() {
        bail!("--keylog needs --tls here: there is no TLS to log");
    }
    let keylog = if args.tls {
        crate::tls::KeyLogFile::from_flag_or_env(args.keylog.as_deref()).map_err(anyhow::Error::msg)?
    } else {
        None
    };
    super::server_tls(args, fallback, keylog)
}
