//! `wstap replay` and `wstap serve` as real processes among other real
//! processes: client commands that outlive their case or ignore SIGTERM,
//! commands that cannot start, and SIGINT/SIGTERM from a terminal (a real
//! pty via `script`), from `kill`, and to a background job.

use crate::util::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/7")
}

/// A process seen running: its pid and its start time (clock ticks after
/// boot), so that a later process given the same pid is not taken for it.
#[derive(Clone, Copy, Debug)]
struct Seen {
    pid: u32,
    start: Option<u64>,
}

/// `/proc/PID/stat`'s state letter and start time.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.chars().next()?, fields.get(19)?.parse().ok()?))
}

impl Seen {
    /// True while that very process still runs (a zombie has ended).
    fn running(self) -> bool {
        stat(self.pid).is_some_and(|(state, start)| !matches!(state, 'Z' | 'X') && Some(start) == self.start)
    }

    /// True if it stops running within a moment: a SIGKILL sent just
    /// before wstap exited may still be on its way on a loaded machine.
    fn gone(self) -> bool {
        let started = Instant::now();
        while self.running() {
            if started.elapsed() > Duration::from_secs(3) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// Waits until `file` holds a pid; returns that process as seen now.
fn pid_in(file: &Path) -> Seen {
    let started = Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse().ok()) {
            return Seen { pid, start: stat(pid).map(|(_, start)| start) };
        }
        assert!(started.elapsed() < STEP, "{} never written", file.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success(), "kill {sig} {pid}");
}

/// Writes the client script: case 1 fails at once, every later case
/// writes its shell's pid into `dir/client.pid`, ignores SIGTERM (as does
/// the `sleep` it becomes) and never connects.
fn stubborn_client(dir: &Path) -> String {
    let script = dir.join("client.sh");
    let body = "case \"$WSTAP_URL\" in\n  *case=1\\&*) exit 3;;\n  *) echo $$ > \"$PIDS/client.pid\"; trap '' TERM; exec sleep 60;;\nesac\n";
    std::fs::write(&script, body).unwrap();
    format!("sh {}", script.display())
}

fn replay(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(wstap_bin());
    cmd.arg("replay").arg(scenarios_dir()).args(extra).env("PIDS", dir);
    cmd.arg("--report").arg(dir.join("r")).arg("--junit").arg(dir.join("junit.xml"));
    cmd
}

/// What an interrupted run of 7.1.1–7.1.3 with [`stubborn_client`] must
/// leave: case 1 judged, cases 2 and 3 not run, reports and JUnit written,
/// the client of case 2 gone although it ignored SIGTERM.
fn check_interrupted_run(dir: &Path, client: Seen, status: Option<i32>, stdout: &str) {
    assert_eq!(status, Some(130), "{stdout}");
    assert!(stdout.contains("3 cases: 0 passed, 1 failed, 2 not run"), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("7.1.")).collect();
    assert!(rows[0].contains("FAILED") && rows[0].contains("exit status: 3"), "{stdout}");
    assert!(rows[1..].iter().all(|r| r.contains("NOT RUN")), "{stdout}");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/index.json")).unwrap()).unwrap();
    let ids: Vec<&String> = index["client"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["7.1.1"], "only what ran is reported");
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!((xml.matches("<testcase ").count(), xml.matches("<skipped").count()), (3, 2), "{xml}");
    assert!(client.start.is_some(), "the client was seen running");
    assert!(client.gone(), "the client of the cut case ({client:?}) still runs");
}

/// Starts `cmd` with stdout and stderr piped; returns it once stderr has
/// shown case 1's progress line (so case 2 is running).
fn start_until_case_1_done(mut cmd: Command) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = Instant::now();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("[1/3] 7.1.1 FAILED") {
            break;
        }
        assert!(started.elapsed() < STEP, "no progress line");
    }
    let stderr = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    (child, stderr)
}

#[test]
fn sigterm_cuts_the_run_ends_the_client_group_and_writes_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let client = stubborn_client(dir.path());
    let cmd = replay(dir.path(), &["--cases", "7.1.1,7.1.2,7.1.3", "--client", &client]);
    let (mut child, stderr) = start_until_case_1_done(cmd);
    let client = pid_in(&dir.path().join("client.pid"));
    let signalled = Instant::now();
    kill(child.id(), "-TERM");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    let stderr = stderr.join().unwrap();
    assert!(stderr.contains("interrupted; 2 of 3 cases not run"), "{stderr}");
    check_interrupted_run(dir.path(), client, status.code(), &stdout);
    // SIGTERM is ignored by the client: SIGKILL after the 1 s grace.
    assert!(took < Duration::from_secs(5), "took {took:?} after SIGTERM");
}

#[test]
fn ctrl_c_in_a_terminal_writes_the_summary_reports_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let client = stubborn_client(dir.path());
    let mut line = format!("'{}' replay '{}' --cases 7.1.1,7.1.2,7.1.3", wstap_bin(), scenarios_dir().display());
    let d = dir.path().display();
    line += &format!(" --client '{client}' --report '{d}/r' --junit '{d}/junit.xml'");
    // `script` runs the command on a new pty; ^C typed into it is the
    // terminal's SIGINT to the foreground process group.
    let mut child = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .env("PIDS", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let client = pid_in(&dir.path().join("client.pid"));
    use std::io::Write;
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    // Through the pty, stdout and stderr are one stream with CRLF.
    let out = out.replace("\r\n", "\n");
    assert!(out.contains("interrupted; 2 of 3 cases not run"), "{out}");
    check_interrupted_run(dir.path(), client, status.code(), &out);
}

#[test]
fn a_background_job_still_stops_on_sigint() {
    // A non-interactive shell starts background jobs with SIGINT ignored.
    let dir = tempfile::tempdir().unwrap();
    let client = stubborn_client(dir.path());
    let d = dir.path().display();
    let job = format!(
        "'{}' replay '{}' --cases 7.1.1,7.1.2,7.1.3 --client '{client}' --report '{d}/r' --junit '{d}/junit.xml' \
         > '{d}/out.txt' 2>&1 & echo $! > '{d}/wstap.pid'; wait $!",
        wstap_bin(),
        scenarios_dir().display()
    );
    let mut shell = Command::new("sh").args(["-c", &job]).env("PIDS", dir.path()).spawn().unwrap();
    let client = pid_in(&dir.path().join("client.pid"));
    kill(pid_in(&dir.path().join("wstap.pid")).pid, "-INT");
    let status = shell.wait().unwrap();
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    check_interrupted_run(dir.path(), client, status.code(), &out);
}

#[test]
fn a_client_that_ignores_sigterm_is_killed_with_its_process_group() {
    // `sh -c 'sleep …; true'` forks the sleep: killing the shell alone left
    // it running, holding wstap's stderr open for the whole sleep.
    let dir = tempfile::tempdir().unwrap();
    let client = "trap '' TERM; sleep 60 & echo $! > \"$PIDS/client.pid\"; wait; true";
    let started = Instant::now();
    let mut child = Command::new(wstap_bin())
        .arg("replay")
        .arg(scenarios_dir().join("7.1.1.yaml"))
        .args(["--client", client, "--connect-timeout", "0.3"])
        .env("PIDS", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sleep = pid_in(&dir.path().join("client.pid"));
    assert!(sleep.start.is_some(), "the sleep was seen running");
    // Like `wstap replay … 2>&1 | tail -1`: read stderr to its end, which
    // comes only once every process holding it has exited.
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let took = started.elapsed();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(sleep.gone(), "the client's sleep ({sleep:?}) still runs");
    // 0.3 s connect timeout + 2 s exit grace + 1 s from SIGTERM to SIGKILL.
    assert!(took >= Duration::from_millis(3200), "SIGKILL came before the grace periods: {took:?}");
    assert!(took < Duration::from_secs(10), "the pipe stayed open {took:?}: {stderr}");
}

#[test]
fn a_client_command_that_cannot_run_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for client in ["./no-such-client {url}", "/dev/null {url}"] {
        let out = replay(dir.path(), &["--client", client, "--jobs", "4"]).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{client}: {stdout}{stderr}");
        assert!(stderr.contains("the client command cannot run (exit status 12"), "{stderr}");
        assert!(stderr.contains(&format!("--client {client:?}")), "{stderr}");
        assert!(!stdout.contains("cases:"), "no summary of a run that did not happen: {stdout}");
        let judged = stderr.lines().filter(|l| l.starts_with('[')).count();
        assert_eq!(judged, 0, "the run stopped instead of failing all 37 cases: {stderr}");
    }
}

#[test]
fn outputs_are_checked_before_the_first_case() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // A client that would hold every case for its 2 s exit grace.
    let slow = ["--client", "sleep 2", "--connect-timeout", "0.2"];
    let mut cmd = Command::new(wstap_bin());
    cmd.arg("replay").arg(scenarios_dir()).args(slow).arg("--junit").arg(dir.path().join("missing/junit.xml"));
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--junit") && stderr.contains("missing") && stderr.contains("does not exist"), "{stderr}");
    assert!(!stderr.contains("[1/"), "no case ran: {stderr}");
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let mut cmd = Command::new(wstap_bin());
    cmd.arg("replay").arg(scenarios_dir()).args(slow).arg("--report").arg(&file);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("--report {}: exists and is not a directory", file.display())), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(2), "a case ran before the check");
}

#[test]
fn a_case_list_does_not_swallow_the_path() {
    let out = Command::new(wstap_bin())
        .args(["replay", "--cases", "7.3.1,7.3.3"])
        .arg(scenarios_dir())
        .args(["--client", "exit 3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<&str> = stdout.lines().filter(|l| l.starts_with("7.")).filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(ids, ["7.3.1", "7.3.3"], "{stdout}");
    // The old space-separated form names a file that does not exist, with a hint.
    let out = Command::new(wstap_bin())
        .arg("replay")
        .arg(scenarios_dir())
        .args(["--cases", "7.3.1", "7.3.3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("7.3.3: no such file or directory") && stderr.contains("--cases 7.1.1,7.3.3"), "{stderr}");
}

/// Starts `wstap serve` on port 0 writing into `report`; returns it, its
/// address and its stderr lines (collected as they come).
fn spawn_serve(report: &Path) -> (Child, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(wstap_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--cases", "7.1.1,7.1.2", "--report"])
        .arg(report)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let addr = line.split("ws://").nth(1).unwrap_or_else(|| panic!("{line}")).trim_end_matches('/').to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    (child, addr, rx)
}

#[tokio::test]
async fn serve_writes_the_reports_of_what_ran_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r");
    let (mut child, addr, stderr) = spawn_serve(&report);
    within("case", crate::replay::tungstenite_client(format!("ws://{addr}/runCase?case=1&agent=drv"), loopback()))
        .await;
    // A driver in the middle of case 2 when ^C comes.
    let (_open, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/runCase?case=2&agent=drv")).await.unwrap();
    kill(child.id(), "-INT");
    let status = within("exit", tokio::task::spawn_blocking(move || child.wait())).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(130));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("index.json")).unwrap()).unwrap();
    let ids: Vec<&String> = index["drv"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["7.1.1"], "{index}");
    let said: Vec<String> = stderr.iter().collect();
    assert!(said.iter().any(|l| l.starts_with("wstap: drv [1/2] 7.1.1 OK / OK (")), "a line per case: {said:?}");
    assert!(said.iter().any(|l| l == "wstap: 1 case run(s): 1 passed, 0 failed"), "the summary: {said:?}");
}

#[test]
fn with_one_job_the_cases_run_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("order");
    let client = format!("echo \"$WSTAP_URL\" | sed 's/.*case=\\([0-9]*\\).*/\\1/' >> '{}'; exit 3", log.display());
    let out =
        Command::new(wstap_bin()).arg("replay").arg(scenarios_dir()).args(["--client", &client]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let order: Vec<u32> = std::fs::read_to_string(&log).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(order, (1..=37).collect::<Vec<_>>());
}
