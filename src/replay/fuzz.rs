//! `wstap fuzz`: Autobahn's fuzzingclient. Every selected case is played
//! as the client against each server under test, one server after the
//! other, `jobs` cases at a time (Autobahn runs one at a time), each on a
//! new connection ([`super::as_client::connect_and_run`]).
//!
//! Contracts:
//! - Results come back per server, in the cases' order, each with the
//!   server's agent (given, or its `Server` header).
//! - A server that cannot be reached fails each of its cases with the
//!   reason (Autobahn skips the rest of that server's cases instead; a
//!   report that says why is more useful than missing cells).
//! - The run stops early once `interrupt` completes: no case starts after
//!   it, running cases are cut (their connection dropped), and every case
//!   that did not finish is returned as not run.
//! - Case numbers are Autobahn's global ones (its fuzzingclient reports the
//!   case's index in the whole catalogue, not in the selection).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, watch};

use super::as_client::{Upgrade, connect_and_run};
use super::{Case, CaseRun, Settings};

/// One server under test.
#[derive(Clone, Debug)]
pub struct Server {
    /// Where and what to ask for.
    pub upgrade: Upgrade,
    /// The agent name in reports; `None`: the server's `Server` header.
    pub agent: Option<String>,
}

/// What one server's run produced.
#[derive(Debug)]
pub struct ServerOutcome {
    /// The server.
    pub server: Server,
    /// Its finished cases, in the cases' order.
    pub runs: Vec<CaseRun>,
    /// Its cases that did not start or were cut.
    pub not_run: Vec<Case>,
}

/// Settings of a fuzz run.
#[derive(Clone)]
pub struct FuzzConfig {
    /// Per-case settings; the agent is set per server.
    pub settings: Settings,
    /// Cases run at the same time against one server (at least 1).
    pub jobs: usize,
    /// TLS for `wss://` servers.
    pub tls: Option<crate::tls::UpstreamTls>,
}

/// Runs `cases` against every server in turn; `progress` is called as each
/// case finishes. Stops early once `interrupt` completes (returns true then).
pub async fn run_servers(
    servers: &[Server],
    cases: &[Case],
    config: &FuzzConfig,
    interrupt: impl Future<Output = ()>,
    progress: impl Fn(&Server, &CaseRun) + Send + Sync + 'static,
) -> (Vec<ServerOutcome>, bool) {
    let stop = Arc::new(watch::channel(false).0);
    let progress = Arc::new(progress);
    let run = async {
        let mut outcomes = Vec::new();
        for server in servers {
            outcomes.push(run_server(server, cases, config, &stop, progress.clone()).await);
        }
        outcomes
    };
    tokio::pin!(run);
    tokio::select! {
        outcomes = &mut run => (outcomes, false),
        _ = interrupt => {
            stop.send_replace(true);
            (run.await, true)
        }
    }
}

async fn run_server(
    server: &Server,
    cases: &[Case],
    config: &FuzzConfig,
    stop: &Arc<watch::Sender<bool>>,
    progress: Arc<impl Fn(&Server, &CaseRun) + Send + Sync + 'static>,
) -> ServerOutcome {
    let gate = Arc::new(Semaphore::new(config.jobs.max(1)));
    let mut settings = config.settings.clone();
    settings.agent = server.agent.clone().unwrap_or_default();
    let mut tasks = Vec::new();
    let mut not_run = Vec::new();
    let mut halted = stop.subscribe();
    for case in cases {
        let permit = tokio::select! {
            permit = gate.clone().acquire_owned() => permit.ok(),
            _ = halted.wait_for(|s| *s) => None,
        };
        let Some(permit) = permit.filter(|_| !*stop.borrow()) else {
            not_run.push(case.clone());
            continue;
        };
        let (case, settings, server, tls) = (case.clone(), settings.clone(), server.clone(), config.tls.clone());
        let (mut stopped, progress) = (stop.subscribe(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let run = tokio::select! {
                run = connect_and_run(&server.upgrade, &case, &settings, tls.as_ref()) => Some(run),
                _ = stopped.wait_for(|s| *s) => None,
            };
            drop(permit);
            match run {
                Some(run) => {
                    progress(&server, &run);
                    Ok(run)
                }
                None => Err(case),
            }
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(run)) => runs.push(run),
            Ok(Err(case)) => not_run.push(case),
            Err(e) => tracing::error!("a case task failed: {e}"),
        }
    }
    not_run.sort_by_key(|c| c.number);
    ServerOutcome { server: server.clone(), runs, not_run }
}
