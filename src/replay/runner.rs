//! Running many cases: `--jobs` at a time, each on its own listener (port
//! 0), each with its own client process when a `--client` command is given.
//!
//! Per case: bind, print or pass on the URL, then the first of
//! - a connection: the engine runs the case on it;
//! - the client command exits before connecting: `FAILED` with its status;
//! - the connect timeout: `FAILED`, "no client connected within …".
//!
//! The run goes on either way. A client process still running after its
//! case is ended as a process group ([`super::client`]).
//!
//! A run stops early ([`Stopped`]) when it is interrupted (SIGINT or
//! SIGTERM: the future given to [`run_until`] completes) or when the client
//! command cannot run at all (the shell's 126/127, or `sh` cannot be
//! started), which is a usage error and not a failing client. Then no
//! further case starts, running cases are cut (their connection dropped,
//! their client ended at once: SIGTERM, then SIGKILL), and every case that
//! did not finish is returned as not run.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use super::client::{CLIENT_EXIT_GRACE, CLIENT_TERM_GRACE, client_command};
use super::client::{ClientProcess, cannot_run};
use super::engine::{no_connection, run_case, run_case_on};
use super::{Case, CaseRun, Settings};
use crate::accept::Acceptor;

/// Default time to wait for the client to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a run is carried out.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Shared per-case settings.
    pub settings: Settings,
    /// Shell command started once per case; `{url}` is replaced by the URL.
    pub client: Option<String>,
    /// Cases run at the same time (at least 1).
    pub jobs: usize,
    /// How long to wait for the client to connect.
    pub connect_timeout: Duration,
    /// Address to listen on (port 0 is used for every case).
    pub host: IpAddr,
    /// Terminate TLS (`--tls`): the client connects with `wss://`.
    pub tls: Option<crate::tls::ServerTls>,
    /// `replay --listen`: one listener for every case instead of a new port
    /// per case, so a manual or browser client keeps one URL. Cases then
    /// run one at a time; a client that connects between cases waits in
    /// the backlog for the next.
    pub fixed: Option<Arc<tokio::sync::Mutex<Acceptor>>>,
}

impl RunConfig {
    /// One job, no client command, loopback.
    pub fn new(settings: Settings) -> RunConfig {
        RunConfig {
            settings,
            client: None,
            jobs: 1,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tls: None,
            fixed: None,
        }
    }
}

/// Why a run stopped before its last case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// SIGINT or SIGTERM (the interrupt future completed).
    Interrupted,
    /// The client command cannot run at all: why, for the user.
    ClientCannotRun(String),
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// The cases that finished, in the cases' order.
    pub runs: Vec<CaseRun>,
    /// The cases that did not start or were cut, in the cases' order.
    pub not_run: Vec<Case>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<Stopped>,
}

/// Runs every case; results come back in the cases' order. `progress` is
/// called as each case finishes. Stops early only if the client command
/// cannot run.
pub async fn run_all(
    cases: Vec<Case>,
    config: &RunConfig,
    progress: impl Fn(&CaseRun) + Send + Sync + 'static,
) -> RunOutcome {
    run_until(cases, config, std::future::pending(), progress).await
}

/// [`run_all`], stopping early once `interrupt` completes (see the module docs).
pub async fn run_until(
    cases: Vec<Case>,
    config: &RunConfig,
    interrupt: impl Future<Output = ()>,
    progress: impl Fn(&CaseRun) + Send + Sync + 'static,
) -> RunOutcome {
    let gate = Arc::new(Semaphore::new(config.jobs.max(1)));
    let progress = Arc::new(progress);
    let stop = Arc::new(watch::channel(None::<Stopped>).0);
    // Cases start in their order: each waits for a free job before the
    // next is looked at, so `--jobs 1` runs them one after the other.
    let run = async {
        let mut halted = stop.subscribe();
        let mut tasks = Vec::new();
        let mut cases = cases.into_iter();
        let mut not_started = Vec::new();
        for case in cases.by_ref() {
            let permit = tokio::select! {
                permit = gate.clone().acquire_owned() => permit.ok(),
                _ = halted.wait_for(Option::is_some) => None,
            };
            let (Some(permit), None) = (permit, stop.borrow().clone()) else {
                not_started.push(case);
                break;
            };
            let (config, progress, stop) = (config.clone(), progress.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let outcome = run_one(&case, &config, stop.subscribe()).await;
                drop(permit);
                match outcome {
                    Ok(run) => {
                        progress(&run);
                        Ok(run)
                    }
                    Err(Halt::Cut) => Err(case),
                    Err(Halt::CannotRun(why)) => {
                        stop.send_if_modified(|s| s.is_none() && s.replace(Stopped::ClientCannotRun(why)).is_none());
                        Err(case)
                    }
                }
            }));
        }
        not_started.extend(cases);
        let mut outcome = RunOutcome::default();
        for task in tasks {
            match task.await {
                Ok(Ok(run)) => outcome.runs.push(run),
                Ok(Err(case)) => outcome.not_run.push(case),
                Err(e) => tracing::error!("a case task failed: {e}"),
            }
        }
        outcome.not_run.extend(not_started);
        outcome
    };
    tokio::pin!(run);
    let mut outcome = tokio::select! {
        outcome = &mut run => outcome,
        _ = interrupt => {
            stop.send_if_modified(|s| s.is_none() && s.replace(Stopped::Interrupted).is_none());
            run.await
        }
    };
    outcome.stopped = stop.borrow().clone();
    outcome
}

/// Why [`run_one`] returned no result.
enum Halt {
    /// The run was stopped while the case ran.
    Cut,
    /// The client command cannot run: why.
    CannotRun(String),
}

/// Runs one case on its own listener; gives up when `stop` is set.
async fn run_one(case: &Case, config: &RunConfig, mut stop: watch::Receiver<Option<Stopped>>) -> Result<CaseRun, Halt> {
    let settings = &config.settings;
    let (mut own, mut shared);
    let listener: &mut Acceptor = match &config.fixed {
        Some(fixed) => {
            shared = fixed.lock().await;
            &mut shared
        }
        None => match TcpListener::bind(SocketAddr::new(config.host, 0)).await {
            Ok(l) => {
                own = Acceptor::new(l, "replay");
                &mut own
            }
            Err(e) => return Ok(no_connection(case, settings, &format!("cannot listen on {}: {e}", config.host))),
        },
    };
    let url = match listener.local_addr() {
        Ok(addr) if config.fixed.is_some() => format!("{}://{addr}/", if config.tls.is_some() { "wss" } else { "ws" }),
        Ok(addr) => case_url_scheme(config.tls.is_some(), addr, case, &settings.agent),
        Err(e) => return Ok(no_connection(case, settings, &format!("cannot listen: {e}"))),
    };
    let mut child = None;
    if let Some(template) = &config.client {
        match ClientProcess::spawn(template, &url) {
            Ok(c) => child = Some(c),
            Err(e) => return Err(Halt::CannotRun(format!("`sh` cannot be started: {e}"))),
        }
    } else {
        eprintln!(
            "wstap: case {} (#{}): connect a client to {url}",
            crate::escape::line(&case.scenario.id),
            case.number
        );
    }
    let run = tokio::select! {
        run = accept_and_run(listener, child.as_mut(), case, config) => run,
        _ = stop.wait_for(Option::is_some) => Err(Halt::Cut),
    };
    if let Some(child) = child.as_mut() {
        if run.is_ok() {
            tokio::select! {
                _ = tokio::time::timeout(CLIENT_EXIT_GRACE, child.exited()) => {}
                _ = stop.wait_for(Option::is_some) => {}
            }
        }
        child.terminate().await;
    }
    run
}

async fn accept_and_run(
    listener: &mut Acceptor,
    child: Option<&mut ClientProcess>,
    case: &Case,
    config: &RunConfig,
) -> Result<CaseRun, Halt> {
    let settings = &config.settings;
    let exited = async {
        match child {
            Some(c) => c.exited().await,
            None => std::future::pending().await,
        }
    };
    Ok(tokio::select! {
        (stream, _) = listener.accept() => match &config.tls {
            None => run_case(stream, case, settings).await,
            Some(tls) => match accept_tls(tls, stream, case, settings).await {
                Ok(io) => run_case_on(io, case, settings).await,
                Err(why) => no_connection(case, settings, &why),
            },
        },
        exit = exited => match cannot_run(exit) {
            Some(why) => return Err(Halt::CannotRun(why.to_owned())),
            None => no_connection(case, settings, &format!("the client command exited ({exit}) before connecting")),
        },
        _ = tokio::time::sleep(config.connect_timeout) => {
            let secs = config.connect_timeout.as_secs_f64();
            no_connection(case, settings, &format!("no client connected within {secs} s"))
        }
    })
}

/// The URL a client uses for `case`: Autobahn's `/runCase` form, or the
/// recorded request target of a case made from a recording.
pub fn case_url(addr: SocketAddr, case: &Case, agent: &str) -> String {
    case_url_scheme(false, addr, case, agent)
}

/// [`case_url`], `wss://` when `tls`.
pub fn case_url_scheme(tls: bool, addr: SocketAddr, case: &Case, agent: &str) -> String {
    let scheme = if tls { "wss" } else { "ws" };
    match &case.fixture.request_target {
        Some(target) => format!("{scheme}://{addr}{target}"),
        None => format!("{scheme}://{addr}/runCase?case={}&agent={}", case.number, encode_query(agent)),
    }
}

/// The TLS handshake of a `--tls` case; a failure (the client does not
/// trust the certificate, say) fails the case with the reason.
async fn accept_tls(
    tls: &crate::tls::ServerTls,
    stream: tokio::net::TcpStream,
    case: &Case,
    settings: &Settings,
) -> Result<super::wire_io::WireIo, String> {
    let _ = stream.set_nodelay(true);
    let addrs = (stream.peer_addr().ok(), stream.local_addr().ok());
    let record = super::engine::record_path(settings, case);
    let resetter = crate::net::stream::Resetter::of(&stream);
    let (stream, info) = tls.accept(stream, None).await.map_err(|f| f.detail)?;
    Ok(super::wire_io::WireIo::wrap(Box::new(stream), addrs, Some(info), record.as_deref()).with_resetter(resetter))
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
