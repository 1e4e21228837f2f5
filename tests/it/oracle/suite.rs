//! The real Autobahn|Testsuite 0.8.2, in both modes.
//!
//! * [`RealFuzzingServer`] starts `wstest -m fuzzingserver` with a spec of
//!   our own (the selection's `cases` and `exclude-cases`, `outdir` in a
//!   temporary directory) on port 0, and finds the port it bound by reading
//!   `/proc` (Autobahn prints the port it was given, not the one it got).
//!   Nothing sleeps: it polls for the listening socket and gives up when
//!   the process exits or [`START_TIMEOUT`] passes.
//! * [`run_fuzzingclient`] runs `wstest -m fuzzingclient` to completion
//!   against the given servers and collects its reports.
//!
//! The web UI port (`-u`, 8080 by default) is disabled, so runs can overlap.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};

use super::Selection;
use super::reports::Reports;

/// How long wstest may take to start listening (Python 2 imports Twisted).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Upper bound of a whole fuzzingclient run. Categories 12 and 13 take about
/// 20 minutes against a fast server; the harness is not meant for more.
pub const FUZZINGCLIENT_TIMEOUT: Duration = Duration::from_secs(3600);

/// A running real fuzzingserver; killed when dropped.
pub struct RealFuzzingServer {
    child: Child,
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl RealFuzzingServer {
    /// Starts the real fuzzingserver for `selection` and waits until it listens.
    pub async fn start(selection: &Selection) -> Result<RealFuzzingServer, String> {
        RealFuzzingServer::start_with(selection, json!({})).await
    }

    /// [`RealFuzzingServer::start`] with more spec keys (`options`,
    /// `exclude-agent-cases`), which replace the defaults.
    pub async fn start_with(selection: &Selection, extra: serde_json::Value) -> Result<RealFuzzingServer, String> {
        let wstest = super::tools::wstest()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut spec = json!({
            "url": "ws://127.0.0.1:0",
            "outdir": dir.path().join("reports"),
            "cases": selection.cases,
            "exclude-cases": selection.exclude,
            "exclude-agent-cases": {},
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        let spec_path = write_spec(dir.path(), "fuzzingserver.json", &spec)?;
        let child = spawn_wstest(&wstest, "fuzzingserver", &spec_path, dir.path())?;
        let pid = child.id().ok_or("wstest exited at once")?;
        let mut server = RealFuzzingServer { child, url: String::new(), dir };
        let port = server.wait_listening(pid).await?;
        server.url = format!("ws://127.0.0.1:{port}");
        Ok(server)
    }

    async fn wait_listening(&mut self, pid: u32) -> Result<u16, String> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(port) = listening_port(pid) {
                return Ok(port);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("wstest exited with {status} before listening:\n{}", self.log()));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("wstest did not listen within {START_TIMEOUT:?}:\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What wstest printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wstest.log")).unwrap_or_default()
    }

    /// Stops the server (the driver has called `/updateReports`) and reads
    /// its reports.
    pub async fn finish(mut self) -> Result<Reports, String> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        Reports::read(&self.dir.path().join("reports")).map_err(|e| format!("{e}\nwstest log:\n{}", self.log()))
    }
}

/// Runs the real fuzzingclient for `selection` against `servers`
/// (`(agent, url)`), to completion, and reads its reports.
pub async fn run_fuzzingclient(servers: &[(String, String)], selection: &Selection) -> Result<Reports, String> {
    let wstest = super::tools::wstest()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let servers: Vec<_> =
        servers.iter().map(|(agent, url)| json!({"agent": agent, "url": url, "options": {}})).collect();
    let spec = json!({
        "outdir": dir.path().join("reports"),
        "servers": servers,
        "cases": selection.cases,
        "exclude-cases": selection.exclude,
        "exclude-agent-cases": {},
    });
    let spec_path = write_spec(dir.path(), "fuzzingclient.json", &spec)?;
    let mut child = spawn_wstest(&wstest, "fuzzingclient", &spec_path, dir.path())?;
    let log = || std::fs::read_to_string(dir.path().join("wstest.log")).unwrap_or_default();
    let status = match tokio::time::timeout(FUZZINGCLIENT_TIMEOUT, child.wait()).await {
        Ok(status) => status.map_err(|e| e.to_string())?,
        Err(_) => return Err(format!("wstest fuzzingclient did not finish within {FUZZINGCLIENT_TIMEOUT:?}")),
    };
    if !status.success() {
        return Err(format!("wstest fuzzingclient exited with {status}:\n{}", log()));
    }
    Reports::read(&dir.path().join("reports")).map_err(|e| format!("{e}\nwstest log:\n{}", log()))
}

fn write_spec(dir: &Path, name: &str, spec: &serde_json::Value) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(spec).unwrap()).map_err(|e| e.to_string())?;
    Ok(path)
}

fn spawn_wstest(wstest: &Path, mode: &str, spec: &Path, dir: &Path) -> Result<Child, String> {
    let log = std::fs::File::create(dir.join("wstest.log")).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(wstest)
        .args(["-m", mode, "-s"])
        .arg(spec)
        .args(["-u", "0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", wstest.display()))
}

/// The TCP port process `pid` listens on, from `/proc`: the inodes of its
/// socket descriptors matched against the LISTEN rows of `/proc/net/tcp{,6}`.
fn listening_port(pid: u32) -> Option<u16> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let inodes: Vec<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(table).ok()?;
        text.lines().skip(1).find_map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
            if *state != "0A" || !inodes.iter().any(|i| i == inode) {
                return None;
            }
            u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
        })
    })
}
