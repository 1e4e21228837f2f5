//! Whole-path benchmark: what does recording cost the traffic it records?
//!
//! `cargo bench --bench proxy` (add `-- --quick`, or set `WSTAP_BENCH_QUICK=1`,
//! for a smoke run of a few seconds; `-- --cost` for the recorder's
//! instruction counts under callgrind, see [`cost`]).
//!
//! One tokio-tungstenite echo server; load clients reach it over each
//! [`PATHS`] entry: directly, and through proxies started as their own
//! processes the way a user runs them ([`child`]): `socat -b 262144` and a
//! plain relay with 256 KiB buffers (the no-decoding baselines), and `wstap
//! record` (with and without `--pcap`). Each workload runs every path once
//! per round, in a rotating order, for several rounds; the table shows
//! medians over rounds and ratios against the baselines measured in the
//! same run, because absolute numbers on a shared machine are noise. For
//! every proxy process it also shows the CPU time it spent per echoed
//! message (and, for wstap, its recorder thread's per recorded frame and
//! per recorded MiB), and its peak RSS.
//!
//! `wstap, idle fault rules` has a rule on each direction that
//! never fires: its ratio to `wstap record` is what a fault tap costs the
//! frames it watches (connections without rules have none).
//!
//! The wss rows compare TLS on both legs: `direct wss` is the client
//! speaking TLS straight to a wss echo server (the same tokio-tungstenite
//! echo behind tokio-rustls), `wstap --tls, wss upstream` is the client
//! speaking TLS to the recording proxy (`--tls`, a certificate from a
//! temporary wstap CA), which speaks TLS to that server. Their ratios are
//! against `direct wss`, measured in the same run. That proxy is the real
//! binary too (`wstap record --tls --upstream wss://...`), so its runtime
//! is the one a user gets.

mod child;
mod cost;

use child::{Child, Kind, Spent};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// How a client reaches the echo server.
#[derive(Clone, Copy)]
enum Via {
    /// Straight to the server.
    Direct,
    /// Through a proxy process.
    Child(Kind),
    /// TLS straight to the wss echo server.
    DirectWss,
}

/// The rows, in order.
const PATHS: &[(&str, Via)] = &[
    ("direct", Via::Direct),
    (SOCAT, Via::Child(Kind::Socat)),
    (RELAY, Via::Child(Kind::Relay)),
    (WSTAP, Via::Child(Kind::Wstap(&[]))),
    (WSTAP_PCAP, Via::Child(Kind::Wstap(&["--pcap"]))),
    (WSTAP_LIVE, Via::Child(Kind::Wstap(&["--live"]))),
    (WSTAP_FAULTS, Via::Child(Kind::Wstap(&["--fault", IDLE_C2S, "--fault", IDLE_S2C]))),
    ("direct wss", Via::DirectWss),
    ("wstap --tls, wss up", Via::Child(Kind::WstapTls)),
];

const SOCAT: &str = "socat -b 262144";
const RELAY: &str = "relay 256 KiB";
const WSTAP: &str = "wstap record";
const WSTAP_PCAP: &str = "wstap record --pcap";
/// The live view on, its lines into a pipe the benchmark drains.
const WSTAP_LIVE: &str = "wstap record --live";
const WSTAP_FAULTS: &str = "wstap, idle fault rules";

/// Fault rules that never fire: every frame of both directions goes through
/// a fault tap, and is forwarded unchanged (the cost of the tap itself).
const IDLE_C2S: &str = "c2s frame=4000000000 drop";
const IDLE_S2C: &str = "s2c frame=4000000000 drop";

/// TLS for the wss paths: a temporary wstap CA, a wss echo server with a
/// certificate from it, and client settings that trust it.
struct Tls {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    client: std::sync::Arc<rustls::ClientConfig>,
    echo: SocketAddr,
}

impl Tls {
    async fn start() -> Tls {
        use rustls::pki_types::pem::PemObject;
        let dir = tempfile::tempdir().unwrap();
        let ca = std::sync::Arc::new(wstap::tls::Ca::load_or_create(dir.path()).unwrap());
        let server = wstap::tls::ServerTls::new(wstap::tls::CertSource::Ca(ca.clone()), "localhost", None);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_file(&ca.cert_path).unwrap()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(wstap::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let echo = wss_echo_server(server).await;
        Tls { ca_file: ca.cert_path.clone(), dir, client: std::sync::Arc::new(client), echo }
    }
}

async fn wss_echo_server(tls: wstap::tls::ServerTls) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok((stream, _)) = tls.accept(stream, None).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The baseline a path's `/direct` ratio is taken against.
fn direct_of(path: &str) -> &'static str {
    if path.contains("wss") || path.contains("tls") { "direct wss" } else { "direct" }
}

/// One traffic shape.
#[derive(Clone, Copy)]
pub struct Workload {
    name: &'static str,
    conns: usize,
    size: usize,
    /// Messages outstanding per connection.
    in_flight: usize,
    /// A single message per round instead of a timed window; reports RSS.
    single: bool,
}

struct Settings {
    quick: bool,
    rounds: usize,
    big_rounds: usize,
    window: Duration,
    big: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("WSTAP_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        match quick {
            true => Settings { quick, rounds: 2, big_rounds: 1, window: Duration::from_millis(300), big: 32 << 20 },
            false => Settings { quick, rounds: 5, big_rounds: 3, window: Duration::from_secs(2), big: 256 << 20 },
        }
    }

    fn workloads(&self) -> Vec<Workload> {
        let timed = |name, conns, size, in_flight| Workload { name, conns, size, in_flight, single: false };
        let big_name = if self.big == 256 << 20 { "1 conn x 256 MiB, one message" } else { "1 conn x 32 MiB (quick)" };
        vec![
            timed("1 conn x 64 B, 32 in flight", 1, 64, 32),
            timed("50 conns x 64 B, 8 in flight each", 50, 64, 8),
            timed("1 conn x 1 MiB, 4 in flight", 1, 1 << 20, 4),
            Workload { name: big_name, conns: 1, size: self.big, in_flight: 1, single: true },
        ]
    }
}

/// One path × workload × round.
#[derive(Clone, Copy, Default)]
struct Sample {
    msgs_per_s: f64,
    mb_per_s: f64,
    p50: Duration,
    p99: Duration,
    rss: Option<u64>,
    /// Proxy process CPU per echoed message, µs (warm-up included).
    cpu_per_msg: Option<f64>,
    /// wstap's recorder thread: CPU per recorded frame, µs.
    rec_per_frame: Option<f64>,
    /// wstap's recorder thread: CPU per recorded MiB, ms.
    rec_per_mib: Option<f64>,
}

impl Sample {
    /// Adds what the proxy process spent on the `msgs` echoes of `size`
    /// bytes of this round (each message is two recorded frames, one
    /// each way).
    fn spent(&mut self, spent: Spent, msgs: u64, size: usize) {
        let msgs = msgs.max(1) as f64;
        self.cpu_per_msg = Some(spent.process.as_secs_f64() * 1e6 / msgs);
        if let Some(rec) = spent.recorder {
            self.rec_per_frame = Some(rec.as_secs_f64() * 1e6 / (2.0 * msgs));
            self.rec_per_mib = Some(rec.as_secs_f64() * 1e3 / (2.0 * msgs * size as f64 / (1 << 20) as f64));
        }
        self.rss = Some(spent.rss);
    }
}

/// The medians of one path on one workload.
struct Row {
    workload: &'static str,
    path: &'static str,
    median: Sample,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(None).max_frame_size(None)
}

const STEP: Duration = Duration::from_secs(120);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    let measuring = || MEASURING.lock().map(|m| m.clone()).unwrap_or_default();
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out: {what} (measuring {})", measuring()))
}

/// The workload, path and round being measured, for [`within`]'s message:
/// a hang names what hung.
static MEASURING: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A running path: where clients connect, and what to tear down after.
enum Endpoint {
    Direct(SocketAddr),
    Child(Box<Child>),
}

impl Endpoint {
    async fn start(via: Via, echo: SocketAddr, tls: &Tls) -> Endpoint {
        match via {
            Via::Direct => Endpoint::Direct(echo),
            Via::DirectWss => Endpoint::Direct(tls.echo),
            Via::Child(Kind::WstapTls) => {
                let ca = child::TestCa { dir: tls.dir.path(), cert: &tls.ca_file };
                Endpoint::Child(Box::new(Child::start(Kind::WstapTls, tls.echo, Some(ca)).await))
            }
            Via::Child(kind) => Endpoint::Child(Box::new(Child::start(kind, echo, None).await)),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Endpoint::Direct(a) => *a,
            Endpoint::Child(c) => c.listen,
        }
    }

    /// Tears down; for proxies, waits until every recording is final (so a
    /// recorder's backlog never spills into the next measurement, and its
    /// CPU time is all counted) and returns what the proxy process spent.
    async fn stop(self, conns: usize) -> Option<Spent> {
        match self {
            Endpoint::Direct(_) => None,
            Endpoint::Child(child) => Some(child.finish(conns).await),
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn wstap::net::stream::Io>>;

/// A client connection, over TLS when `tls` is given (SNI localhost).
pub async fn connect(addr: SocketAddr, tls: Option<&std::sync::Arc<rustls::ClientConfig>>) -> Ws {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn wstap::net::stream::Io> = match tls {
        None => Box::new(tcp),
        Some(config) => {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            Box::new(within("TLS handshake", connector.connect(name, tcp)).await.unwrap())
        }
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}/bench", addr.port());
    let (ws, _) =
        within("connect", tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))).await.unwrap();
    ws
}

/// A message carrying its send time (nanoseconds since `base`) in its first 8 bytes.
fn stamped(template: &[u8], base: Instant) -> Message {
    let mut payload = template.to_vec();
    let now = base.elapsed().as_nanos() as u64;
    payload[..8].copy_from_slice(&now.to_le_bytes());
    Message::Binary(Bytes::from(payload))
}

fn rtt_of(msg: &Message, base: Instant) -> Duration {
    let Message::Binary(b) = msg else { panic!("unexpected echo {msg:?}") };
    let sent = u64::from_le_bytes(b[..8].try_into().unwrap());
    Duration::from_nanos(base.elapsed().as_nanos() as u64 - sent)
}

/// When a client stops sending.
#[derive(Clone, Copy)]
pub enum Until {
    /// At this instant (at least one message is sent).
    Time(Instant),
    /// After this many messages.
    Count(u64),
}

/// Keeps `in_flight` messages outstanding until `until`, then drains and
/// closes. Returns the round-trip times and the instant the last echo arrived.
pub async fn client(
    mut ws: Ws,
    size: usize,
    in_flight: usize,
    base: Instant,
    until: Until,
) -> (Vec<Duration>, Instant) {
    let template = vec![0x5a; size.max(8)];
    let mut rtts = Vec::new();
    let (mut outstanding, mut sent) = (0, 0u64);
    let more = |sent: u64| match until {
        Until::Time(end) => sent == 0 || Instant::now() < end,
        Until::Count(n) => sent < n,
    };
    loop {
        while outstanding < in_flight && more(sent) {
            ws.feed(stamped(&template, base)).await.unwrap();
            outstanding += 1;
            sent += 1;
        }
        ws.flush().await.unwrap();
        if outstanding == 0 {
            break;
        }
        let echo = within("echo", ws.next()).await.expect("echo stream ended").unwrap();
        rtts.push(rtt_of(&echo, base));
        outstanding -= 1;
    }
    let last = Instant::now();
    let _ = ws.close(None).await;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    (rtts, last)
}

/// Warm-up echoes per connection before a timed window.
const WARM_UP: u64 = 4;

/// One measurement: connect, warm up, run the window (or one message).
/// Also returns how many messages were echoed in all.
async fn measure(
    addr: SocketAddr,
    w: Workload,
    window: Duration,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> (Sample, u64) {
    let base = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..w.conns {
        let mut ws = connect(addr, tls).await;
        if !w.single {
            for _ in 0..WARM_UP {
                ws.send(stamped(&vec![0; w.size], base)).await.unwrap();
                within("warm-up echo", ws.next()).await.unwrap().unwrap();
            }
        }
        conns.push(ws);
    }
    let start = Instant::now();
    let until = if w.single { Until::Count(1) } else { Until::Time(start + window) };
    let clients: Vec<_> =
        conns.into_iter().map(|ws| tokio::spawn(client(ws, w.size, w.in_flight.max(1), base, until))).collect();
    let mut rtts = Vec::new();
    let mut last = start;
    for c in clients {
        let (r, l) = c.await.unwrap();
        rtts.extend(r);
        last = last.max(l);
    }
    let secs = (last - start).as_secs_f64();
    rtts.sort();
    let pct =
        |p: usize| rtts.get((rtts.len() * p / 100).min(rtts.len().saturating_sub(1))).copied().unwrap_or_default();
    let msgs = rtts.len() as f64;
    let sample = Sample {
        msgs_per_s: msgs / secs,
        mb_per_s: msgs * w.size as f64 / secs / 1e6,
        p50: pct(50),
        p99: pct(99),
        ..Sample::default()
    };
    let warm = if w.single { 0 } else { WARM_UP * w.conns as u64 };
    (sample, rtts.len() as u64 + warm)
}

fn median_by<T: Copy + PartialOrd>(xs: &[Sample], f: impl Fn(&Sample) -> T) -> T {
    let mut v: Vec<T> = xs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn median_of(xs: &[Sample], f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().filter_map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied()
}

fn median(samples: &[Sample]) -> Sample {
    Sample {
        msgs_per_s: median_by(samples, |s| s.msgs_per_s),
        mb_per_s: median_by(samples, |s| s.mb_per_s),
        p50: median_by(samples, |s| s.p50),
        p99: median_by(samples, |s| s.p99),
        rss: samples.iter().filter_map(|s| s.rss).max(),
        cpu_per_msg: median_of(samples, |s| s.cpu_per_msg),
        rec_per_frame: median_of(samples, |s| s.rec_per_frame),
        rec_per_mib: median_of(samples, |s| s.rec_per_mib),
    }
}

fn us(d: Duration) -> String {
    match d.as_micros() {
        n if n >= 100_000 => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        n => format!("{n} µs"),
    }
}

fn print_workload(w: &Workload, rows: &[Row]) {
    let find = |name: &str| rows.iter().find(|r| r.path == name && r.workload == w.name).map(|r| &r.median);
    println!("\n{}", w.name);
    println!(
        "  {:<22} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>9} {:>9} {:>10} {:>9}",
        "path", "msgs/s", "MB/s", "p50", "p99", "/direct", "/socat", "p99-dir", "CPU/msg", "recorder", "peak RSS"
    );
    for (path, _) in PATHS {
        let Some(s) = find(path) else { continue };
        let ratio = |b: Option<&Sample>| b.map_or("-".into(), |b| format!("{:.2}x", s.msgs_per_s / b.msgs_per_s));
        let (direct, socat) = match direct_of(path) {
            "direct" => (find("direct"), find(SOCAT)),
            wss => (find(wss), None),
        };
        let added =
            direct.map_or("-".into(), |d| format!("{:+.0} µs", (s.p99.as_secs_f64() - d.p99.as_secs_f64()) * 1e6));
        let rss = s.rss.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64));
        let cpu = match s.cpu_per_msg {
            Some(c) if c >= 1000.0 => format!("{:.1} ms", c / 1e3),
            Some(c) => format!("{c:.1} µs"),
            None => "-".into(),
        };
        let recorder = match (w.size >= 1 << 20, s.rec_per_frame, s.rec_per_mib) {
            (false, Some(f), _) => format!("{f:.2} µs/fr"),
            (true, _, Some(m)) => format!("{m:.2} ms/MiB"),
            _ => "-".into(),
        };
        println!(
            "  {:<22} {:>9.0} {:>8.1} {:>8} {:>8} {:>7} {:>7} {:>9} {:>9} {:>10} {:>9}",
            path,
            s.msgs_per_s,
            s.mb_per_s,
            us(s.p50),
            us(s.p99),
            ratio(direct),
            ratio(socat),
            added,
            cpu,
            recorder,
            rss
        );
    }
}

/// The targets (issue 16), from the medians.
fn print_targets(workloads: &[Workload], rows: &[Row]) {
    let get = |w: &str, p: &str| rows.iter().find(|r| r.workload == w && r.path == p).map(|r| &r.median);
    let mark = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!("\ntargets (issue 16)");
    for w in workloads {
        let name = w.name;
        let ratio = |a: &Sample, b: &Sample| a.msgs_per_s / b.msgs_per_s;
        let (wstap, pcap, socat, relay, direct) =
            (get(name, WSTAP), get(name, WSTAP_PCAP), get(name, SOCAT), get(name, RELAY), get(name, "direct"));
        if let (Some(wstap), Some(socat)) = (wstap, socat) {
            let r = ratio(wstap, socat);
            println!("  {name:<36} wstap/socat >= 1.0: {r:.2}x {}", mark(r >= 1.0));
        }
        if let (Some(live), Some(wstap)) = (get(name, WSTAP_LIVE), wstap) {
            let r = ratio(live, wstap);
            println!("  {name:<36} wstap --live/wstap (live view into a pipe): {r:.2}x (no target; 1.0 = free)");
        }
        if let (Some(pcap), Some(socat)) = (pcap, socat) {
            let r = ratio(pcap, socat);
            println!("  {name:<36} wstap --pcap/socat >= 0.9: {r:.2}x {}", mark(r >= 0.9));
        }
        if let (Some(wstap), Some(direct)) = (wstap, direct) {
            let r = ratio(wstap, direct);
            match w.size {
                64 => println!("  {name:<36} wstap/direct >= 0.8: {r:.2}x {}", mark(r >= 0.8)),
                s if s == 1 << 20 => println!("  {name:<36} wstap/direct >= 0.5: {r:.2}x {}", mark(r >= 0.5)),
                _ => println!("  {name:<36} wstap/direct: {r:.2}x (no target)"),
            }
            if w.size == 64 && w.conns == 1 {
                let added = wstap.p99.as_secs_f64() - direct.p99.as_secs_f64();
                println!(
                    "  {name:<36} p99 added over direct < 100 µs: {:+.0} µs {}",
                    added * 1e6,
                    mark(added < 100e-6)
                );
            }
        }
        if let (Some(faults), Some(wstap)) = (get(name, WSTAP_FAULTS), wstap) {
            println!("  {name:<36} idle fault taps/wstap: {:.2}x (measured, no target)", ratio(faults, wstap));
        }
        if let (Some(relay), Some(socat)) = (relay, socat) {
            println!("  {name:<36} (baselines: relay/socat {:.2}x)", ratio(relay, socat));
        }
        if let (Some(tls), Some(wss)) = (get(name, "wstap --tls, wss up"), get(name, "direct wss")) {
            println!("  {name:<36} wss both legs vs direct wss: {:.2}x (measured, no target)", ratio(tls, wss));
        }
        if w.single {
            for path in [WSTAP, WSTAP_PCAP] {
                if let Some(rss) = get(name, path).and_then(|s| s.rss) {
                    let mib = rss as f64 / (1 << 20) as f64;
                    println!("  {name:<36} {path} peak RSS <= 64 MiB: {mib:.1} MiB {}", mark(mib <= 64.0));
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(upstream) = args.iter().find_map(|a| a.strip_prefix(child::RELAY_CHILD)) {
        return child::relay_child(upstream);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if args.iter().any(|a| a == "--cost") {
        return rt.block_on(cost::run(args.iter().any(|a| a == "--quick")));
    }
    rt.block_on(run(Settings::from_env()));
}

async fn run(s: Settings) {
    let echo = echo_server().await;
    let tls = Tls::start().await;
    // For profiling: WSTAP_BENCH_ONLY / WSTAP_BENCH_WORKLOAD keep paths / workloads whose name contains
    // one of their comma-separated texts (`=text`: whose name is exactly that).
    let keep = |var: &str, name: &str| {
        std::env::var(var).map_or(true, |only| {
            only.split(',').any(|t| t.strip_prefix('=').map_or(name.contains(t), |exact| name == exact))
        })
    };
    let workloads: Vec<Workload> = s.workloads().into_iter().filter(|w| keep("WSTAP_BENCH_WORKLOAD", w.name)).collect();
    let live: Vec<(&'static str, Via)> = PATHS.iter().filter(|(n, _)| keep("WSTAP_BENCH_ONLY", n)).copied().collect();
    println!(
        "wstap proxy benchmark ({} mode): {} rounds of {:?} per timed workload, {} for the big message; \
         medians over rounds; MB/s counts each echoed payload once; CPU/msg is the proxy process's CPU time \
         per echoed message, recorder its recorder thread's per recorded frame (or MiB); p99-dir is p99 minus direct's",
        if s.quick { "quick" } else { "full" },
        s.rounds,
        s.window,
        s.big_rounds
    );
    let mut rows = Vec::new();
    for w in &workloads {
        let rounds = if w.single { s.big_rounds } else { s.rounds };
        let mut samples: Vec<Vec<Sample>> = live.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            for k in 0..live.len() {
                let i = (k + round) % live.len();
                let via = live[i].1;
                let endpoint = Endpoint::start(via, echo, &tls).await;
                let client_tls = matches!(via, Via::DirectWss | Via::Child(Kind::WstapTls)).then_some(&tls.client);
                let measuring = format!("{} / {}: round {round}", w.name, live[i].0);
                if std::env::var_os("WSTAP_BENCH_TRACE").is_some() {
                    eprintln!("{measuring}");
                }
                *MEASURING.lock().unwrap() = measuring;
                let (mut sample, msgs) = measure(endpoint.addr(), *w, s.window, client_tls).await;
                if let Some(spent) = endpoint.stop(w.conns).await {
                    sample.spent(spent, msgs, w.size);
                }
                samples[i].push(sample);
            }
        }
        for ((path, _), samples) in live.iter().zip(&samples) {
            rows.push(Row { workload: w.name, path, median: median(samples) });
        }
        print_workload(w, &rows);
    }
    print_targets(&workloads, &rows);
}
