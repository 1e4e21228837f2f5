//! The proxies a user would put in front of a server, each started as its
//! own process: `socat -b 262144`, a plain relay with 256 KiB buffers (this
//! benchmark binary run again with `--relay-child`), and `wstap record`.
//! Also reads their CPU time from `/proc`, so that a round can say what
//! each proxy spent per message.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Buffer size of the socat and plain-relay baselines, per direction.
pub const BASELINE_BUFFER: usize = 256 * 1024;

/// The argument that makes this binary the plain relay: `--relay-child=UPSTREAM`.
pub const RELAY_CHILD: &str = "--relay-child=";

/// Which proxy a child process is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `socat -b 262144 TCP-LISTEN:0,fork TCP:UPSTREAM`.
    Socat,
    /// This binary with `--relay-child=UPSTREAM`.
    Relay,
    /// `wstap record` with extra arguments.
    Wstap(&'static [&'static str]),
    /// `wstap record --tls --upstream wss://localhost:PORT`: TLS on both
    /// legs, certificates from the CA that [`Child::start`] is given.
    WstapTls,
}

/// The CA the wss paths trust: `wstap record --tls` finds it in `dir`
/// (`WSTAP_CONFIG_DIR`) and trusts `cert` upstream (`--upstream-ca`).
pub struct TestCa<'a> {
    pub dir: &'a Path,
    pub cert: &'a Path,
}

/// A running proxy process.
pub struct Child {
    pub kind: Kind,
    child: tokio::process::Child,
    pub listen: SocketAddr,
    /// Where `wstap record` writes (removed on drop).
    dir: Option<tempfile::TempDir>,
    /// CPU time used when the workload started.
    cpu_at_start: Duration,
}

/// What a child spent on one round.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spent {
    /// The proxy process (all its threads; socat's forked children too).
    pub process: Duration,
    /// `wstap record`'s recorder thread alone.
    pub recorder: Option<Duration>,
    /// Peak resident set, bytes (`VmHWM`).
    pub rss: u64,
}

/// The `wstap` binary under test: this build's, or `WSTAP_BENCH_BIN` (to
/// compare a change against a saved binary of the commit before it).
pub fn wstap_bin() -> PathBuf {
    std::env::var_os("WSTAP_BENCH_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wstap")), PathBuf::from)
}

/// `wstap: recording into DIR; LISTEN -> UPSTREAM` → LISTEN.
pub fn parse_wstap_ready(line: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("wstap: recording into ")?;
    let (_, addrs) = rest.rsplit_once("; ")?;
    addrs.split_once(" -> ")?.0.parse().ok()
}

/// socat -d -d: `... N listening on AF=2 127.0.0.1:PORT` → the address.
fn parse_socat_ready(line: &str) -> Option<SocketAddr> {
    line.split_once(" listening on AF=2 ")?.1.trim().parse().ok()
}

/// The relay child: `listening on ADDR`.
fn parse_relay_ready(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("listening on ")?.trim().parse().ok()
}

impl Child {
    /// Starts `kind` in front of `upstream` and waits until it listens
    /// (`ca` is needed by, and only by, [`Kind::WstapTls`]).
    pub async fn start(kind: Kind, upstream: SocketAddr, ca: Option<TestCa<'_>>) -> Child {
        let mut dir = None;
        let mut command = match kind {
            Kind::Socat => {
                let mut c = tokio::process::Command::new("socat");
                c.args(["-d", "-d", "-b", &BASELINE_BUFFER.to_string()])
                    .arg("TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,nodelay")
                    .arg(format!("TCP:{upstream},nodelay"));
                c
            }
            Kind::Relay => {
                let mut c = tokio::process::Command::new(std::env::current_exe().expect("this benchmark's path"));
                c.arg(format!("{RELAY_CHILD}{upstream}"));
                c
            }
            Kind::Wstap(_) | Kind::WstapTls => {
                let d = tempfile::tempdir().unwrap();
                let mut c = tokio::process::Command::new(wstap_bin());
                c.args(["record", "--listen", "127.0.0.1:0", "--out"]).arg(d.path());
                if let Kind::Wstap(extra) = kind {
                    c.args(["--upstream", &upstream.to_string()]).args(extra);
                } else {
                    let ca = ca.expect("the wss path's CA");
                    c.args(["--tls", "--upstream", &format!("wss://localhost:{}", upstream.port()), "--upstream-ca"])
                        .arg(ca.cert)
                        .env("WSTAP_CONFIG_DIR", ca.dir);
                }
                // For experiments: wstap's runtime with this many workers
                // (tokio reads TOKIO_WORKER_THREADS; the default is one per core).
                if let Some(n) = std::env::var_os("WSTAP_BENCH_WSTAP_WORKERS") {
                    c.env("TOKIO_WORKER_THREADS", n);
                }
                dir = Some(d);
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?} (is socat installed? apt-get install socat): {e}"));
        let parse = match kind {
            Kind::Socat => parse_socat_ready,
            Kind::Relay => parse_relay_ready,
            Kind::Wstap(_) | Kind::WstapTls => parse_wstap_ready,
        };
        let listen = ready(&mut child, parse).await;
        let pid = child.id().expect("child running");
        let cpu_at_start = cpu_of(pid, true).unwrap_or_default();
        Child { kind, child, listen, dir, cpu_at_start }
    }

    /// After a round of `conns` connections: waits until the proxy is done
    /// with them (every recording final; socat's forked children gone),
    /// reads what it spent, and stops it.
    pub async fn finish(mut self, conns: usize) -> Spent {
        let pid = self.child.id().expect("child running");
        match &self.dir {
            Some(dir) => wait_for_summaries(dir.path(), conns).await,
            None if self.kind == Kind::Socat => wait_for_no_children(pid).await,
            None => {}
        }
        let process = cpu_of(pid, true).unwrap_or_default().saturating_sub(self.cpu_at_start);
        let recorder =
            matches!(self.kind, Kind::Wstap(_) | Kind::WstapTls).then(|| thread_cpu(pid, "wstap-recorder")).flatten();
        let rss = vm_hwm(pid).unwrap_or_default();
        let _ = self.child.kill().await;
        Spent { process, recorder, rss }
    }
}

/// Reads the child's output until it says where it listens; keeps draining
/// both pipes afterwards so that it never blocks on a full one.
pub async fn ready(child: &mut tokio::process::Child, parse: fn(&str) -> Option<SocketAddr>) -> SocketAddr {
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let found = super::within("proxy child ready", async {
        loop {
            let line = tokio::select! {
                l = out.next_line() => l,
                l = err.next_line() => l,
            };
            let line = line.unwrap().expect("the proxy exited before it was ready");
            if let Some(addr) = parse(&line) {
                return addr;
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    tokio::spawn(async move { while let Ok(Some(_)) = err.next_line().await {} });
    found
}

/// The plain relay (run by `main` for `--relay-child=UPSTREAM`): a
/// multi-threaded tokio runtime, `copy_bidirectional_with_sizes` with
/// [`BASELINE_BUFFER`] each way, no decoding.
pub fn relay_child(upstream: &str) {
    let upstream: SocketAddr = upstream.parse().expect("--relay-child=ADDR");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (n, m) = (BASELINE_BUFFER, BASELINE_BUFFER);
                let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, n, m).await;
            });
        }
    });
}

/// Linux reports `/proc` CPU times in USER_HZ ticks, 100 per second.
const TICK: Duration = Duration::from_millis(10);

/// utime + stime of `/proc/.../stat` (and cutime + cstime, the reaped
/// children's, with `children`).
fn stat_cpu(path: &Path, children: bool) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name in parentheses, from field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let tick = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u32>().ok());
    let mut ticks = tick(14)? + tick(15)?;
    if children {
        ticks += tick(16)? + tick(17)?;
    }
    Some(TICK * ticks)
}

/// CPU time of process `pid`, all threads, reaped children included.
pub fn cpu_of(pid: u32, children: bool) -> Option<Duration> {
    stat_cpu(&PathBuf::from(format!("/proc/{pid}/stat")), children)
}

/// CPU time of `pid`'s thread named `name`.
fn thread_cpu(pid: u32, name: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.filter_map(|t| t.ok()).find_map(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        (comm.trim() == name).then(|| stat_cpu(&t.path().join("stat"), false)).flatten()
    })
}

/// Peak resident set of `pid`, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// socat forks a process per connection; its CPU time is in the parent's
/// cutime/cstime once it has been reaped.
async fn wait_for_no_children(pid: u32) {
    let path = format!("/proc/{pid}/task/{pid}/children");
    super::within("socat's children gone", async {
        while std::fs::read_to_string(&path).is_ok_and(|c| !c.trim().is_empty()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Waits until `n` recordings in `dir` have their summary (are final).
pub async fn wait_for_summaries(dir: &Path, n: usize) {
    super::within("recordings finalised", async {
        loop {
            let done = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\nsummary:\n")))
                .count();
            if done >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}
