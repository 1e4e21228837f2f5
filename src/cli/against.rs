//! `wstap replay REC.yaml --against URL`: each recording's client side
//! played to a real server ([`crate::replay::against`]), judged with the
//! fuzzingclient's engine ([`crate::replay::fuzz`]), with `replay`'s
//! outputs: progress, summary table, `--report`, `--junit`, and the exit
//! status of the verdicts.

use super::args::ReplayArgs;
use super::check;
use crate::replay::against::{self, AgainstUrl, Options};
use crate::replay::fuzz::{FuzzConfig, Server, run_servers};
use crate::replay::output::{EXIT_INTERRUPTED, Progress, exit_status, summary_table, write_junit, write_reports};
use crate::replay::{Case, Settings, catalogue};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// The agent name of the server under test unless `--agent` gives one.
pub const DEFAULT_AGENT: &str = "server";

/// Runs `wstap replay PATH... --against URL`.
pub async fn run(args: &ReplayArgs, url: &str) -> Result<ExitCode> {
    let url = AgainstUrl::parse(url).map_err(|e| anyhow::anyhow!("--against {e}"))?;
    let opts = Options { timing: args.timing, keep_masks: args.keep_masks };
    let mut all = Vec::new();
    for path in &args.paths {
        all.extend(load(path, opts, url.path.as_deref())?);
    }
    let cases = catalogue::select(all, &args.cases, &args.exclude).map_err(anyhow::Error::msg)?;
    if cases.is_empty() {
        bail!("no recording selected (check PATH, --cases and --exclude)");
    }
    if let Some(dir) = &args.report {
        check::writable_dir(dir, "--report")?;
    }
    if let Some(file) = &args.junit {
        check::writable_file(file, "--junit")?;
    }
    let record_dir = match (&args.record_dir, &args.report) {
        (Some(dir), _) => Some(prepared(dir.clone(), "--record-dir")?),
        (None, Some(report)) => Some(prepared(report.join("recordings"), "--report (its recordings/)")?),
        (None, None) => None,
    };
    let agent = args.agent.clone().unwrap_or_else(|| DEFAULT_AGENT.to_owned());
    let mut settings = Settings::new(agent.clone());
    settings.record_dir = record_dir;
    let tls = match url.upgrade.target.tls {
        false => None,
        true => {
            if args.insecure {
                eprintln!("wstap: warning: --insecure: the wss:// server's certificate is NOT verified");
            }
            let options =
                crate::tls::UpstreamOptions { extra_roots: args.ca.clone(), insecure: args.insecure, keylog: None };
            Some(crate::tls::UpstreamTls::new(&options).map_err(anyhow::Error::msg)?)
        }
    };
    let config = FuzzConfig { settings, jobs: args.jobs.max(1), tls };
    let server = Server { upgrade: url.upgrade.clone(), agent: Some(agent.clone()) };
    let total = cases.len();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new(total)));
    let shown = progress.clone();
    let (outcomes, interrupted) = run_servers(&[server], &cases, &config, super::shutdown_signal(), move |_, run| {
        let text = shown.lock().unwrap_or_else(|e| e.into_inner()).case_done(run);
        eprint!("{text}");
    })
    .await;
    eprint!("{}", progress.lock().unwrap_or_else(|e| e.into_inner()).finish());
    let (runs, not_run) = match outcomes.into_iter().next() {
        Some(outcome) => (outcome.runs, outcome.not_run),
        None => (Vec::new(), cases),
    };
    print!("{}", summary_table(&runs, &not_run, &[]));
    for run in &runs {
        if !run.passed() {
            let why = crate::replay::output::failure_message(&run.report);
            eprintln!("wstap: {} {why}", crate::escape::line(&run.report.id));
        }
        if let Some(saved) = &run.recording {
            eprintln!("wstap: {} observed: {}", crate::escape::line(&run.report.id), saved.display());
        }
    }
    if let Some(dir) = &args.report {
        write_reports(dir, &runs).with_context(|| format!("writing reports into {}", dir.display()))?;
        eprintln!("wstap: reports in {}", dir.display());
    }
    if let Some(file) = &args.junit {
        write_junit(file, &agent, &runs, &not_run, &[]).with_context(|| format!("writing {}", file.display()))?;
    }
    if interrupted {
        eprintln!("wstap: interrupted; {} of {total} recordings not run", not_run.len());
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::from(exit_status(&runs)))
}

/// The recordings at `path` (a file, or every `*.yaml` under a directory)
/// as cases against a server; a scenario among them is an error. `target`,
/// the URL's path if it has one, replaces each recorded request target.
fn load(path: &std::path::Path, opts: Options, target: Option<&str>) -> Result<Vec<Case>> {
    if !path.exists() {
        bail!("{}: no such file or directory (expected a recording or a directory of them)", path.display());
    }
    let files = if path.is_dir() { catalogue::yaml_files(path)? } else { vec![path.to_path_buf()] };
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        if !catalogue::is_recording(&text) {
            bail!(
                "{}: a scenario, not a recording (no `wstap_recording:` key): --against plays recordings; \
                 `wstap fuzz URL --scenarios PATH` plays scenarios to a server",
                file.display()
            );
        }
        let mut case = against::load(&file, opts)?;
        if let (Some(target), Some(request)) = (target, case.fixture.request.as_mut()) {
            request.target = target.to_owned();
        }
        cases.push(case);
    }
    Ok(cases)
}

/// A directory for observed recordings: created and checked writable.
fn prepared(dir: PathBuf, what: &str) -> Result<PathBuf> {
    check::writable_dir(&dir, what)?;
    Ok(dir)
}
