//! `wstap fuzz`: arguments (or Autobahn's fuzzingclient spec) to a run of
//! [`crate::replay::fuzz`], then the same outputs as `replay`: summary
//! table per server, progress, reports, JUnit, exit status.

use super::args::FuzzArgs;
use super::check;
use crate::replay::as_client::Upgrade;
use crate::replay::fuzz::{FuzzConfig, Server, run_servers};
use crate::replay::output::{EXIT_INTERRUPTED, Progress, exit_status, junit_xml_suites, summary_table, write_reports};
use crate::replay::{Case, CaseRun, Settings, catalogue};
use crate::scenario::select::CaseList;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs `wstap fuzz`.
pub async fn run(mut args: FuzzArgs) -> Result<ExitCode> {
    let mut named: Vec<(String, Option<String>)> = Vec::new();
    if let Some(file) = &args.spec {
        let spec = super::spec::load_client(file).map_err(anyhow::Error::msg)?;
        for warning in &spec.warnings {
            eprintln!("wstap: warning: {}: {}", file.display(), crate::escape::line(warning));
        }
        named = spec.servers;
        (args.cases, args.exclude) = (spec.cases, spec.exclude);
        args.report = args.report.or(spec.outdir);
    } else {
        if args.agent.len() > args.servers.len() {
            bail!(
                "{} --agent names for {} SERVER_URL(s): give at most one per server, in order",
                args.agent.len(),
                args.servers.len()
            );
        }
        let mut agents = args.agent.iter().cloned().map(Some);
        named.extend(args.servers.iter().map(|url| (url.clone(), agents.next().flatten())));
    }
    let servers = named
        .iter()
        .map(|(url, agent)| {
            Ok(Server { upgrade: Upgrade::for_url(url).map_err(anyhow::Error::msg)?, agent: agent.clone() })
        })
        .collect::<Result<Vec<Server>>>()?;
    if servers.is_empty() {
        bail!("no server to test: give SERVER_URL, or servers in --spec");
    }
    let cases = select(&args)?;
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
    let mut settings = Settings::new("");
    settings.record_dir = record_dir;
    let tls = match servers.iter().any(|s| s.upgrade.target.tls) {
        false => None,
        true => {
            if args.insecure {
                eprintln!("wstap: warning: --insecure: wss:// server certificates are NOT verified");
            }
            let options =
                crate::tls::UpstreamOptions { extra_roots: args.ca.clone(), insecure: args.insecure, keylog: None };
            Some(crate::tls::UpstreamTls::new(&options).map_err(anyhow::Error::msg)?)
        }
    };
    let config = FuzzConfig { settings, jobs: args.jobs.max(1), tls };
    let total = cases.len() * servers.len();
    let many = servers.len() > 1;
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new(total)));
    let shown = progress.clone();
    let (outcomes, interrupted) = run_servers(&servers, &cases, &config, super::shutdown_signal(), move |_, run| {
        let text = shown.lock().unwrap_or_else(|e| e.into_inner()).case_done(run);
        match many {
            true => eprint!("{} {text}", crate::escape::line(&run.report.agent)),
            false => eprint!("{text}"),
        }
    })
    .await;
    eprint!("{}", progress.lock().unwrap_or_else(|e| e.into_inner()).finish());
    for outcome in &outcomes {
        if many {
            println!("Server {}", crate::escape::line(&outcome.server.upgrade.url()));
        }
        print!("{}", summary_table(&outcome.runs, &outcome.not_run, &[]));
    }
    let runs: Vec<CaseRun> = outcomes.iter().flat_map(|o| o.runs.iter().cloned()).collect();
    if let Some(dir) = &args.report {
        write_reports(dir, &runs).with_context(|| format!("writing reports into {}", dir.display()))?;
        eprintln!("wstap: reports in {}", dir.display());
    }
    if let Some(file) = &args.junit {
        let suites: Vec<_> = outcomes
            .iter()
            .map(|o| (format!("wstap fuzz ({})", suite_name(o)), o.runs.as_slice(), o.not_run.as_slice()))
            .collect();
        std::fs::write(file, junit_xml_suites(&suites)).with_context(|| format!("writing {}", file.display()))?;
    }
    if interrupted {
        let not_run: usize = outcomes.iter().map(|o| o.not_run.len()).sum();
        eprintln!("wstap: interrupted; {not_run} of {total} cases not run");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::from(exit_status(&runs)))
}

/// A server's suite name: its agent (as reported), else its URL.
fn suite_name(outcome: &crate::replay::fuzz::ServerOutcome) -> String {
    let agent = outcome.server.agent.clone().or_else(|| outcome.runs.first().map(|r| r.report.agent.clone()));
    agent.unwrap_or_else(|| outcome.server.upgrade.url())
}

/// The selected cases with Autobahn's global numbers (the fuzzingclient
/// reports a case's index in the whole catalogue).
fn select(args: &FuzzArgs) -> Result<Vec<Case>> {
    let all = match args.scenarios.is_empty() {
        true => catalogue::shipped(),
        false => catalogue::load_paths(&args.scenarios, Default::default())?,
    };
    let ids: Vec<String> = all.iter().map(|c| c.scenario.id.clone()).collect();
    let wanted = if args.cases.is_empty() { vec!["*".to_owned()] } else { args.cases.clone() };
    let picked = CaseList::select(ids.iter().map(String::as_str), &strs(&wanted), &strs(&args.exclude));
    let numbered = catalogue::select(all, &[], &[]).map_err(anyhow::Error::msg)?;
    let cases: Vec<Case> = numbered.into_iter().filter(|c| picked.number_of(&c.scenario.id).is_some()).collect();
    if cases.is_empty() {
        bail!("no case selected (check --cases and --exclude)");
    }
    Ok(cases)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn prepared(dir: PathBuf, what: &str) -> Result<PathBuf> {
    check::writable_dir(&dir, what)?;
    Ok(dir)
}
