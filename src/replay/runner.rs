//! Running many cases: `--jobs` at a time, each on its own listener (port
//! 0), each with its own client process when a `--client` command is given.
//!
//! Per case: bind, print or pass on the URL, then the first of
//! - a connection: the engine runs the case on it;
//! - the client command exits before connecting: `FAILED` with its status;
//! - the connect timeout: `FAILED`, "no client connected within …".
//!
//! The run goes on either way. A client process still running after its
//! case gets [`CLIENT_EXIT_GRACE`] to exit, then is killed (by its handle).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

use super::engine::{no_connection, run_case, run_case_on};
use super::{Case, CaseRun, Settings};
use crate::accept::Acceptor;

/// Default time to wait for the client to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client process may linger after its case before it is killed.
pub const CLIENT_EXIT_GRACE: Duration = Duration::from_secs(2);

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
        }
    }
}

/// Runs every case; results come back in the cases' order. `progress` is
/// called as each case finishes.
pub async fn run_all(
    cases: Vec<Case>,
    config: &RunConfig,
    progress: impl Fn(&CaseRun) + Send + Sync + 'static,
) -> Vec<CaseRun> {
    let gate = Arc::new(Semaphore::new(config.jobs.max(1)));
    let progress = Arc::new(progress);
    let mut tasks = Vec::new();
    for case in cases {
        let (gate, config, progress) = (gate.clone(), config.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let run = run_one(&case, &config).await;
            progress(&run);
            run
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        match task.await {
            Ok(run) => runs.push(run),
            Err(e) => tracing::error!("a case task failed: {e}"),
        }
    }
    runs
}

/// Runs one case on its own listener.
pub async fn run_one(case: &Case, config: &RunConfig) -> CaseRun {
    let settings = &config.settings;
    let mut listener = match TcpListener::bind(SocketAddr::new(config.host, 0)).await {
        Ok(l) => Acceptor::new(l, "replay"),
        Err(e) => return no_connection(case, settings, &format!("cannot listen on {}: {e}", config.host)),
    };
    let url = match listener.local_addr() {
        Ok(addr) => case_url_scheme(config.tls.is_some(), addr, case, &settings.agent),
        Err(e) => return no_connection(case, settings, &format!("cannot listen: {e}")),
    };
    let mut child = None;
    if let Some(template) = &config.client {
        match spawn_client(template, &url) {
            Ok(c) => child = Some(c),
            Err(e) => return no_connection(case, settings, &format!("the client command failed to start: {e}")),
        }
    } else {
        eprintln!("wstap: case {} (#{}): connect a client to {url}", case.scenario.id, case.number);
    }
    let run = accept_and_run(&mut listener, child.as_mut(), case, config).await;
    if let Some(child) = child.as_mut() {
        reap(child).await;
    }
    run
}

async fn accept_and_run(
    listener: &mut Acceptor,
    child: Option<&mut Child>,
    case: &Case,
    config: &RunConfig,
) -> CaseRun {
    let settings = &config.settings;
    let exited = async {
        match child {
            Some(c) => c.wait().await.map_or_else(|e| e.to_string(), |s| s.to_string()),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        (stream, _) = listener.accept() => match &config.tls {
            None => run_case(stream, case, settings).await,
            Some(tls) => match accept_tls(tls, stream, case, settings).await {
                Ok(io) => run_case_on(io, case, settings).await,
                Err(why) => no_connection(case, settings, &why),
            },
        },
        status = exited => {
            no_connection(case, settings, &format!("the client command exited ({status}) before connecting"))
        }
        _ = tokio::time::sleep(config.connect_timeout) => {
            let secs = config.connect_timeout.as_secs_f64();
            no_connection(case, settings, &format!("no client connected within {secs} s"))
        }
    }
}

/// The URL a client uses for `case`, in Autobahn's `/runCase` form.
pub fn case_url(addr: SocketAddr, case: &Case, agent: &str) -> String {
    case_url_scheme(false, addr, case, agent)
}

/// [`case_url`], `wss://` when `tls`.
pub fn case_url_scheme(tls: bool, addr: SocketAddr, case: &Case, agent: &str) -> String {
    let scheme = if tls { "wss" } else { "ws" };
    format!("{scheme}://{addr}/runCase?case={}&agent={}", case.number, encode_query(agent))
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
    let (stream, info) = tls.accept(stream, None).await.map_err(|f| f.detail)?;
    Ok(super::wire_io::WireIo::wrap(Box::new(stream), addrs, Some(info), record.as_deref()))
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

/// The shell command for `template` with `{url}` replaced by the URL in
/// single quotes. Unquoted, the shell would cut the URL at its `&` and run
/// the client in the background with only `case=N`. A `{url}` the user
/// already quoted (`'{url}'` or `"{url}"`) is quoted once, not twice. The
/// URL holds no `'`: the host is an IP address and the agent is
/// percent-encoded.
pub fn client_command(template: &str, url: &str) -> String {
    debug_assert!(!url.contains('\''), "{url}");
    let quoted = format!("'{url}'");
    template.replace("'{url}'", &quoted).replace("\"{url}\"", &quoted).replace("{url}", &quoted)
}

/// Starts `sh -c TEMPLATE` with `{url}` replaced (see [`client_command`])
/// and the URL in `WSTAP_URL`.
/// Its stdout is discarded (stdout is wstap's summary); its stderr is
/// passed through.
fn spawn_client(template: &str, url: &str) -> std::io::Result<Child> {
    let command = client_command(template, url);
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("WSTAP_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
}

/// Waits briefly for the client to exit, then kills it.
async fn reap(child: &mut Child) {
    if tokio::time::timeout(CLIENT_EXIT_GRACE, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::client_command;

    const URL: &str = "ws://127.0.0.1:9/runCase?case=3&agent=a%20b";

    #[test]
    fn the_url_is_quoted_for_the_shell() {
        let want = "client 'ws://127.0.0.1:9/runCase?case=3&agent=a%20b' --x";
        assert_eq!(client_command("client {url} --x", URL), want);
        assert_eq!(client_command("client '{url}' --x", URL), want, "already single-quoted");
        assert_eq!(client_command("client \"{url}\" --x", URL), want, "already double-quoted");
        assert_eq!(client_command("a {url} b={url}", URL), format!("a '{URL}' b='{URL}'"));
    }
}
