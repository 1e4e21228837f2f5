//! wstap's side of each comparison, run as the real binary.
//!
//! * Fuzzingserver mode: [`WstapServe`] runs `wstap serve --listen
//!   127.0.0.1:0 --report DIR` with the selection and reads the URL it
//!   prints once it listens.
//! * Fuzzingclient mode: [`ClientSide`] is the command that plays the
//!   client side against the servers under test and writes its reports into
//!   a directory: `wstap fuzz URL... --agent A... --report DIR` with the
//!   selection ([`ClientSide::wstap_fuzz`]).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::Selection;
use super::reports::Reports;

/// How long `wstap serve` may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `wstap serve`; killed when dropped.
pub struct WstapServe {
    child: Child,
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

fn selection_args(command: &mut Command, selection: &Selection) {
    // One comma-separated value each, as a person would type them.
    if !selection.cases.is_empty() {
        command.arg("--cases").arg(selection.cases.join(","));
    }
    if !selection.exclude.is_empty() {
        command.arg("--exclude").arg(selection.exclude.join(","));
    }
}

impl WstapServe {
    /// Starts `wstap serve` for `selection` and waits until it listens.
    pub async fn start(selection: &Selection) -> Result<WstapServe, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut command = Command::new(crate::util::wstap_bin());
        command.args(["serve", "--listen", "127.0.0.1:0", "--report"]).arg(dir.path().join("reports"));
        selection_args(&mut command, selection);
        WstapServe::spawn(command, dir).await
    }

    /// Starts `wstap serve --spec FILE`, the file written as the real
    /// suite's spec is ([`super::suite::RealFuzzingServer::start_with`]):
    /// `url` on port 0, `outdir` in a temporary directory, the selection,
    /// then `extra`.
    pub async fn start_with_spec(selection: &Selection, extra: serde_json::Value) -> Result<WstapServe, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let cases = if selection.cases.is_empty() { vec!["*".to_owned()] } else { selection.cases.clone() };
        let mut spec = serde_json::json!({
            "url": "ws://127.0.0.1:0",
            "outdir": dir.path().join("reports"),
            "cases": cases,
            "exclude-cases": selection.exclude,
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        let file = dir.path().join("fuzzingserver.json");
        std::fs::write(&file, spec.to_string()).map_err(|e| e.to_string())?;
        let mut command = Command::new(crate::util::wstap_bin());
        command.args(["serve", "--spec"]).arg(&file);
        WstapServe::spawn(command, dir).await
    }

    async fn spawn(mut command: Command, dir: tempfile::TempDir) -> Result<WstapServe, String> {
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("wstap serve does not start: {e}"))?;
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            let mut seen = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                // "wstap: serving 37 cases on ws://127.0.0.1:PORT/"
                if let Some(url) = line.split(" on ").nth(1).filter(|_| line.contains("serving")) {
                    return Ok(url.trim_end_matches('/').to_owned());
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(format!("wstap serve ended before listening:\n{seen}"))
        })
        .await
        .map_err(|_| "wstap serve did not listen in time".to_owned())??;
        // Keep draining stderr (the case mapping, progress) so it never blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(WstapServe { child, url, dir })
    }

    /// Stops the server (the driver has called `/updateReports`) and reads
    /// its reports.
    pub async fn finish(mut self) -> Result<Reports, String> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        Reports::read(&self.dir.path().join("reports"))
    }
}

/// The command that plays the fuzzingclient's part for wstap.
pub struct ClientSide {
    /// Builds the command for `servers` (`(agent, url)`), writing reports
    /// into the given directory.
    pub command: fn(&[(String, String)], &Selection, &Path) -> Command,
}

impl ClientSide {
    /// `wstap fuzz URL... --agent A --report DIR [--cases ...] [--exclude ...]`
    /// (one agent per server), if this build has the command (it has: the
    /// tests that use it fail rather than skip when it is missing).
    pub fn wstap_fuzz() -> Option<ClientSide> {
        let help = std::process::Command::new(crate::util::wstap_bin())
            .args(["fuzz", "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        help.is_ok_and(|s| s.success()).then_some(ClientSide { command: wstap_fuzz_command })
    }

    /// Runs the command to completion and reads its reports.
    pub async fn run(&self, servers: &[(String, String)], selection: &Selection) -> Result<Reports, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let reports = dir.path().join("reports");
        let mut command = (self.command)(servers, selection, &reports);
        // Its progress lines go to a log, not into the test's output (where a
        // verdict such as "FAILED / WRONG CODE" would read as a failed test).
        let log_path = dir.path().join("fuzz.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).kill_on_drop(true);
        let status = tokio::time::timeout(super::suite::FUZZINGCLIENT_TIMEOUT, command.status())
            .await
            .map_err(|_| "the client side did not finish in time".to_owned())?
            .map_err(|e| format!("the client side does not start: {e}"))?;
        // Exit 1 means a failed verdict, which the comparison judges; 2 is an error.
        if status.code() == Some(2) || status.code().is_none() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("the client side failed: {status}\n{log}"));
        }
        Reports::read(&reports)
    }
}

fn wstap_fuzz_command(servers: &[(String, String)], selection: &Selection, report: &Path) -> Command {
    let mut command = Command::new(crate::util::wstap_bin());
    command.arg("fuzz");
    command.args(servers.iter().map(|(_, url)| url));
    for (agent, _) in servers {
        command.args(["--agent", agent]);
    }
    command.arg("--report").arg(report);
    selection_args(&mut command, selection);
    command
}
