//! The real peers the oracle runs: tokio-tungstenite (in process, the code
//! in `tests/peers/rust/`), python websockets and node ws (scripts in
//! `tests/peers/`), each as a fuzzingserver client driver and as an echo
//! server for the fuzzingclient.

use std::ops::RangeInclusive;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[path = "../../peers/rust/tungstenite_peer.rs"]
mod tungstenite_peer;

/// How long a driver may take for one run before the harness gives up.
/// Category 7 takes seconds; the bound only keeps a hung peer from hanging CI.
pub const DRIVER_TIMEOUT: Duration = Duration::from_secs(1800);

/// A client library under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// tokio-tungstenite (the dev-dependency), no permessage-deflate.
    Tungstenite,
    /// python websockets 17.4 (asyncio), offers permessage-deflate.
    Python,
    /// node ws 8.23.0, offers permessage-deflate.
    Node,
}

impl Peer {
    /// Every peer.
    pub const ALL: [Peer; 3] = [Peer::Tungstenite, Peer::Python, Peer::Node];

    /// Its name on the command line (`scripts/autobahn-compare --peer`).
    pub fn name(self) -> &'static str {
        match self {
            Peer::Tungstenite => "tungstenite",
            Peer::Python => "python",
            Peer::Node => "node",
        }
    }

    /// The peer named `name`.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What it needs installed, as [`super::tools::ready`] takes it.
    pub fn requirement(self) -> Result<(), String> {
        match self {
            Peer::Tungstenite => Ok(()),
            Peer::Python => super::tools::python_websockets(),
            Peer::Node => super::tools::node_ws(),
        }
    }

    /// Drives the fuzzingserver at `base` as its client: cases `cases`
    /// (default: 1..=getCaseCount), then `/updateReports`.
    pub async fn drive(self, base: &str, agent: &str, cases: Option<RangeInclusive<u32>>) -> Result<(), String> {
        let range = cases.as_ref().map(|r| format!("{}-{}", r.start(), r.end()));
        let mut command = match self {
            Peer::Tungstenite => {
                let run = tungstenite_peer::fuzzingserver_client(base, agent, cases);
                return tokio::time::timeout(DRIVER_TIMEOUT, run).await.map_err(|_| "driver timed out".to_owned())?;
            }
            Peer::Python => {
                let mut c = Command::new("python3");
                c.arg(script("python/fuzzingserver_client.py")).args([base, agent]);
                if let Some(range) = &range {
                    c.args(["--cases", range]);
                }
                c
            }
            Peer::Node => {
                let mut c = Command::new("node");
                c.arg(script("node/fuzzingserver_client.js")).args([base, agent]);
                c.args(range.as_slice());
                c
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::null()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("{} driver does not start: {e}", self.name()))?;
        match tokio::time::timeout(DRIVER_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("{} driver exited with {status}", self.name())),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("{} driver timed out", self.name())),
        }
    }

    /// Starts its echo server on a free loopback port.
    pub async fn echo_server(self) -> Result<EchoServer, String> {
        let mut command = match self {
            Peer::Tungstenite => {
                let addr =
                    tungstenite_peer::echo_server(([127, 0, 0, 1], 0).into()).await.map_err(|e| e.to_string())?;
                return Ok(EchoServer { port: addr.port(), _child: None });
            }
            Peer::Python => {
                let mut c = Command::new("python3");
                c.arg(script("python/echo_server.py"));
                c
            }
            Peer::Node => {
                let mut c = Command::new("node");
                c.arg(script("node/echo_server.js"));
                c
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("{} echo server does not start: {e}", self.name()))?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let line = match ready {
            Ok(Ok(Some(line))) => line,
            _ => return Err(format!("{} echo server printed no port", self.name())),
        };
        let port = line.trim().parse().map_err(|_| format!("{} echo server printed {line:?}", self.name()))?;
        Ok(EchoServer { port, _child: Some(child) })
    }
}

/// Asks the fuzzingserver at `base` to write its reports (again).
pub async fn update_reports(base: &str, agent: &str) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(120), tungstenite_peer::update_reports(base, agent))
        .await
        .map_err(|_| "updateReports timed out".to_owned())?
}

fn script(path: &str) -> String {
    super::tools::peers_dir().join(path).to_string_lossy().into_owned()
}

/// A running echo server; a child process is killed when this is dropped.
/// The in-process tokio-tungstenite server lives as long as the runtime.
pub struct EchoServer {
    /// The loopback port it listens on.
    pub port: u16,
    _child: Option<Child>,
}

impl EchoServer {
    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}
