//! `wstap replay` and `wstap serve`: arguments to configuration, output.

use super::args::{ReplayArgs, ServeArgs};
use super::check;
use crate::replay::output::{EXIT_INTERRUPTED, Progress, exit_status, summary_table, write_junit, write_reports};
use crate::replay::runner::{RunConfig, Stopped, run_until};
use crate::replay::{Settings, catalogue};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs `wstap replay`.
pub async fn run(mut args: ReplayArgs) -> Result<ExitCode> {
    if let Some(url) = &args.against {
        return super::against::run(&args, url).await;
    }
    let agent = args.agent.clone().unwrap_or_else(|| "client".to_owned());
    let faults = match super::faults::plan(&args.faults)? {
        super::faults::Faults::Help => {
            super::faults::print_help();
            return Ok(ExitCode::SUCCESS);
        }
        super::faults::Faults::Plan(plan) => plan,
    };
    if let Some((i, rule)) =
        faults.rules().iter().enumerate().find(|(_, r)| r.dir != crate::wire::Direction::ServerToClient)
    {
        let spec = crate::escape::quoted(&rule.spec);
        bail!("fault rule {} ({spec}) is c2s: replay plays the server, so only s2c rules apply", i + 1);
    }
    super::faults::announce(&faults);
    if let Some(path) = args.paths.iter().find(|p| !p.exists()) {
        let shown = path.display();
        let hint = match looks_like_a_pattern(path) {
            true => format!("; if {shown} is a case pattern, give one comma-separated list: --cases 7.1.1,{shown}"),
            false => String::new(),
        };
        bail!("{shown}: no such file or directory (expected a scenario, a recording or a directory of them){hint}");
    }
    let (mut exclude_agent, mut fail_by_drop) = Default::default();
    if let Some(file) = &args.spec {
        let spec = super::spec::load(file).map_err(anyhow::Error::msg)?;
        let url = spec.listen.map(|_| "\"url\" is used by serve only; replay gives each case its own port".to_owned());
        for warning in spec.warnings.iter().chain(&url) {
            eprintln!("wstap: warning: {}: {}", file.display(), crate::escape::line(warning));
        }
        args.report = args.report.or(spec.outdir);
        (args.cases, args.exclude) = (spec.cases, spec.exclude);
        (exclude_agent, fail_by_drop) = (spec.exclude_agent, spec.fail_by_drop.unwrap_or(false));
    }
    let all = match args.paths.is_empty() {
        true => catalogue::shipped(),
        false => catalogue::load_paths(&args.paths, args.timing)?,
    };
    let cases = catalogue::select(all, &args.cases, &args.exclude).map_err(anyhow::Error::msg)?;
    if cases.is_empty() {
        bail!("no case selected (check PATH, --cases and --exclude)");
    }
    // exclude-agent-cases: not run for this agent, numbers unchanged.
    let (excluded, cases): (Vec<_>, Vec<_>) =
        cases.into_iter().partition(|c| exclude_agent.excludes(&agent, &c.scenario.id));
    if cases.is_empty() {
        bail!("every selected case is excluded for agent {} (exclude-agent-cases)", crate::escape::quoted(&agent));
    }
    // Every output is checked before the first case, not after the last.
    if let Some(dir) = &args.report {
        check::writable_dir(dir, "--report")?;
    }
    if let Some(file) = &args.junit {
        check::writable_file(file, "--junit")?;
    }
    let record_dir = match (&args.record_dir, &args.report) {
        (Some(dir), _) => Some(prepare(dir, "--record-dir")?),
        (None, Some(report)) => Some(prepare(&report.join("recordings"), "--report (its recordings/)")?),
        (None, None) => None,
    };
    let mut settings = Settings::new(agent.clone());
    settings.record_dir = record_dir;
    settings.faults = faults;
    settings.fail_by_drop = fail_by_drop;
    let mut config = RunConfig::new(settings);
    config.client = args.client.clone();
    config.jobs = args.jobs.max(1);
    config.connect_timeout = args.connect_timeout;
    if let Some(addr) = args.listen {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (--listen)"))?;
        let bound = listener.local_addr()?;
        config.host = bound.ip();
        let scheme = if args.tls.tls { "wss" } else { "ws" };
        eprintln!("wstap: every case waits on {scheme}://{bound}/ (any path); connect once per case");
        let acceptor = crate::accept::Acceptor::new(listener, "replay");
        config.fixed = Some(std::sync::Arc::new(tokio::sync::Mutex::new(acceptor)));
    }
    config.tls = tls_for(&args.tls, &config.host.to_string())?;
    let total = cases.len();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new(total)));
    let shown = progress.clone();
    let outcome = run_until(cases, &config, super::shutdown_signal(), move |run| {
        let text = shown.lock().unwrap_or_else(|e| e.into_inner()).case_done(run);
        eprint!("{text}");
    })
    .await;
    eprint!("{}", progress.lock().unwrap_or_else(|e| e.into_inner()).finish());
    if let Some(Stopped::ClientCannotRun(why)) = &outcome.stopped {
        let client = args.client.as_deref().unwrap_or_default();
        bail!("the client command cannot run ({why}); no case was judged: --client {}", crate::escape::quoted(client));
    }
    let (runs, not_run) = (&outcome.runs, &outcome.not_run);
    print!("{}", summary_table(runs, not_run, &excluded));
    if let Some(dir) = &args.report {
        write_reports(dir, runs).with_context(|| format!("writing reports into {}", dir.display()))?;
        eprintln!("wstap: reports in {}", dir.display());
    }
    if let Some(file) = &args.junit {
        write_junit(file, &agent, runs, not_run, &excluded).with_context(|| format!("writing {}", file.display()))?;
    }
    if outcome.stopped == Some(Stopped::Interrupted) {
        eprintln!("wstap: interrupted; {} of {total} cases not run", not_run.len());
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::from(exit_status(runs)))
}

/// Runs `wstap serve` until /stopServer, SIGINT or SIGTERM.
pub async fn serve(mut args: ServeArgs) -> Result<ExitCode> {
    let (mut exclude_agent, mut fail_by_drop) = Default::default();
    if let Some(file) = &args.spec {
        let spec = super::spec::load(file).map_err(anyhow::Error::msg)?;
        for warning in &spec.warnings {
            eprintln!("wstap: warning: {}: {}", file.display(), crate::escape::line(warning));
        }
        args.listen = spec.listen.unwrap_or(args.listen);
        args.report = spec.outdir.unwrap_or(args.report);
        (args.cases, args.exclude) = (spec.cases, spec.exclude);
        (exclude_agent, fail_by_drop) = (spec.exclude_agent, spec.fail_by_drop.unwrap_or(false));
    }
    let all = match args.scenarios.is_empty() {
        true => catalogue::shipped(),
        false => catalogue::load_paths(&args.scenarios, Default::default())?,
    };
    let cases = catalogue::select(all, &args.cases, &args.exclude).map_err(anyhow::Error::msg)?;
    check::writable_dir(&args.report, "--report")?;
    let mut settings = Settings::new("");
    settings.record_dir = args.record_dir.as_deref().map(|d| prepare(d, "--record-dir")).transpose()?;
    (settings.exclude_agent, settings.fail_by_drop) = (exclude_agent, fail_by_drop);
    let server = crate::replay::serve::Server::bind(args.listen, cases, settings, args.report.clone())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = server.with_tls(tls_for(&args.tls, &args.listen.ip().to_string())?);
    let scheme = if args.tls.tls { "wss" } else { "ws" };
    eprintln!("wstap: serving {} cases on {scheme}://{}/", server.case_count(), server.local_addr()?);
    for (number, id) in server.numbering() {
        eprintln!("wstap:   case={number} -> {}", crate::escape::line(&id));
    }
    let ended = server.run(super::shutdown_signal()).await;
    let passed = ended.results.iter().filter(|r| crate::replay::passed(r)).count();
    let failed = ended.results.len() - passed;
    eprintln!("wstap: {} case run(s): {passed} passed, {failed} failed", ended.results.len());
    if !ended.interrupted {
        return Ok(ExitCode::SUCCESS);
    }
    if !ended.results.is_empty() {
        crate::report::write_report_dir(&args.report, &ended.results)
            .with_context(|| format!("writing reports into {}", args.report.display()))?;
        eprintln!("wstap: interrupted; reports of {} case run(s) in {}", ended.results.len(), args.report.display());
    } else {
        eprintln!("wstap: interrupted; no case had run, no reports written");
    }
    Ok(ExitCode::from(EXIT_INTERRUPTED))
}

/// True for a PATH that reads like a case ID or pattern (`7.3.1`, `7.1*`).
fn looks_like_a_pattern(path: &Path) -> bool {
    let text = path.to_string_lossy();
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '*')
}

/// A directory for observed recordings: created and checked writable.
fn prepare(dir: &Path, what: &str) -> Result<PathBuf> {
    check::writable_dir(dir, what)?;
    Ok(dir.to_path_buf())
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
