//! The client under test as a process: `sh -c COMMAND`, started once per
//! case in its own process group, and ended as a group.
//!
//! Why a process group: `sh -c 'client …; cleanup'` forks the client and
//! waits for it, so killing only the shell's pid leaves the client running
//! (and holding wstap's stderr, which keeps a CI pipe open long after wstap
//! is done). Every process the command starts stays in the group unless it
//! leaves on purpose (`setsid`), so signalling the group reaches them all.
//!
//! Ending a client after its case (the runner): wait up to
//! [`CLIENT_EXIT_GRACE`] for the shell to exit by itself, then
//! [`ClientProcess::terminate`]: SIGTERM to the group, then SIGKILL after
//! [`CLIENT_TERM_GRACE`] if any member still runs. The group is signalled
//! even when the shell exited in time, so a client the command left
//! running in the background is ended too. Dropping a [`ClientProcess`]
//! that was not ended sends SIGKILL to the group at once.
//!
//! A command that cannot run at all (the shell reports 126 "not
//! executable" or 127 "not found", or `sh` itself cannot be started) is a
//! usage error, not a failing client: [`cannot_run`] tells them apart.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, test_kill_process_group, waitid};
use tokio::process::{Child, Command};

/// How long a client process may linger after its case before its group
/// gets SIGTERM.
pub const CLIENT_EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long after SIGTERM the group gets SIGKILL.
pub const CLIENT_TERM_GRACE: Duration = Duration::from_secs(1);
/// How often the shell and its group are looked at while waiting.
const POLL: Duration = Duration::from_millis(20);

/// A running client command.
///
/// The shell is not reaped until its group has been ended: while it is
/// alive or a zombie its pid cannot be reused, so its process group id
/// still names this client's group when it is signalled, never somebody
/// else's.
pub struct ClientProcess {
    child: Child,
    /// The shell's pid, which is also its process group id.
    group: Option<Pid>,
    /// How the shell ended, once seen.
    exit: Option<Exit>,
    /// The group was ended and the shell reaped.
    ended: bool,
}

/// How the shell of a client command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit status: {code}"),
            Exit::Signal(sig) => write!(f, "signal: {sig}"),
        }
    }
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

/// Why `exit` (of a client that ended before connecting) means the
/// command cannot run at all, if it does: the shell's 126 (found but not
/// executable) or 127 (not found).
pub fn cannot_run(exit: Exit) -> Option<&'static str> {
    match exit {
        Exit::Code(126) => Some("exit status 126: the command was found but cannot be executed"),
        Exit::Code(127) => Some("exit status 127: the command was not found"),
        _ => None,
    }
}

impl ClientProcess {
    /// Starts `sh -c TEMPLATE` with `{url}` replaced (see
    /// [`client_command`]) and the URL in `WSTAP_URL`, in a new process
    /// group. Its stdout is discarded (stdout is wstap's summary); its
    /// stderr is passed through.
    pub fn spawn(template: &str, url: &str) -> std::io::Result<ClientProcess> {
        let child = Command::new("sh")
            .arg("-c")
            .arg(client_command(template, url))
            .env("WSTAP_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let group = child.id().and_then(|id| Pid::from_raw(id as i32));
        Ok(ClientProcess { child, group, exit: None, ended: false })
    }

    /// How the shell ended, if it has, without reaping it.
    fn peek(&mut self) -> Option<Exit> {
        if self.exit.is_none()
            && let Some(pid) = self.group
        {
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
            self.exit = match waitid(WaitId::Pid(pid), options) {
                Ok(Some(status)) => match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => Some(Exit::Code(code)),
                    (None, Some(sig)) => Some(Exit::Signal(sig)),
                    (None, None) => None,
                },
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!("cannot watch the client command (pid {}): {e}", pid.as_raw_nonzero());
                    Some(Exit::Code(-1))
                }
            };
        }
        self.exit
    }

    /// Waits for the shell to end (it is not reaped); how it ended.
    pub async fn exited(&mut self) -> Exit {
        loop {
            if let Some(exit) = self.peek() {
                return exit;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ends the client now: SIGTERM to the group, SIGKILL after
    /// [`CLIENT_TERM_GRACE`] if any member still runs; then reaps the shell.
    pub async fn terminate(&mut self) {
        let Some(group) = self.group else { return };
        if self.ended {
            return;
        }
        if group_alive(group) && kill_process_group(group, Signal::TERM).is_ok() {
            let gone = async {
                while group_alive(group) {
                    tokio::time::sleep(POLL).await;
                }
            };
            if tokio::time::timeout(CLIENT_TERM_GRACE, gone).await.is_err() {
                let _ = kill_process_group(group, Signal::KILL);
            }
        }
        // Only now may the shell's pid (the group id) be freed.
        if tokio::time::timeout(CLIENT_TERM_GRACE, self.child.wait()).await.is_ok() {
            self.ended = true;
        }
    }
}

/// True while some process of `group` is still running. Zombies do not
/// count: the shell is a zombie until it is reaped, and an orphan whose
/// init does not reap it (some containers) must not hold the run up for
/// the whole grace period.
fn group_alive(group: Pid) -> bool {
    if test_kill_process_group(group).is_err() {
        return false;
    }
    #[cfg(target_os = "linux")]
    if let Ok(procs) = std::fs::read_dir("/proc") {
        return procs.flatten().any(|p| is_live_member(&p.path().join("stat"), group));
    }
    true
}

/// `/proc/PID/stat` says the process is in `group` and not a zombie.
#[cfg(target_os = "linux")]
fn is_live_member(stat: &std::path::Path, group: Pid) -> bool {
    let Ok(text) = std::fs::read_to_string(stat) else { return false };
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let Some((_, rest)) = text.rsplit_once(')') else { return false };
    let mut fields = rest.split_whitespace();
    let (state, pgrp) = (fields.next(), fields.nth(1));
    state != Some("Z") && state != Some("X") && pgrp == Some(&group.as_raw_nonzero().get().to_string())
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        if !self.ended
            && let Some(group) = self.group
        {
            // Not reaped yet, so the group id is still this client's.
            let _ = kill_process_group(group, Signal::KILL);
            let _ = self.child.start_kill();
        }
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
