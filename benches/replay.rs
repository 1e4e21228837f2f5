//! Wall time of the 37 category-7 cases against a well-behaved client
//! (tokio-tungstenite), 8 cases at a time, each on its own port. A plain
//! main: prints the best and median of several rounds. Target: < 2 s.
//!
//! `cargo bench --bench replay -- --full [--peer NAME]...` runs the whole
//! catalogue (517 cases) against each peer's Autobahn client driver, the
//! real Autobahn 0.8.2 fuzzingserver first and `wstap serve` (release
//! build) after it, in one run (`scripts/autobahn-compare --release`,
//! which also compares every report field), and prints both wall times
//! and their ratio. Peers: tungstenite (default), python, node; the real
//! suite takes about 21 minutes with python websockets.

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wstap::replay::{Case, CaseRun, Settings, catalogue, engine, runner};

const JOBS: usize = 8;
const ROUNDS: usize = 5;

async fn client(url: String) {
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else { return };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            break;
        }
    }
}

async fn one(case: Case, settings: Arc<Settings>) -> CaseRun {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let url = runner::case_url(listener.local_addr().expect("addr"), &case, &settings.agent);
    let talker = tokio::spawn(client(url));
    let (stream, _) = listener.accept().await.expect("accept");
    let run = engine::run_case(stream, &case, &settings).await;
    let _ = talker.await;
    run
}

async fn round(cases: &[Case]) -> (Duration, usize) {
    let gate = Arc::new(Semaphore::new(JOBS));
    let settings = Arc::new(Settings::new("tungstenite"));
    let start = Instant::now();
    let tasks: Vec<_> = cases
        .iter()
        .cloned()
        .map(|case| {
            let (gate, settings) = (gate.clone(), settings.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                one(case, settings).await
            })
        })
        .collect();
    let mut passed = 0;
    for t in tasks {
        passed += usize::from(t.await.expect("case task").passed());
    }
    (start.elapsed(), passed)
}

/// `--full`: the whole catalogue, the real suite vs `wstap serve`, per peer.
fn full(peers: &[String]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut lines = Vec::new();
    for peer in peers {
        eprintln!("replay --full: {peer}: scripts/autobahn-compare --release --peer {peer} (all 517 cases)");
        let out = std::process::Command::new(root.join("scripts/autobahn-compare"))
            .args(["--release", "--peer", peer])
            .current_dir(root)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("scripts/autobahn-compare runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        let wall = stdout.lines().find(|l| l.starts_with("wall time:")).map(wall_times);
        let same = if out.status.success() { "every field equal" } else { "reports differ (above)" };
        let real = match wall {
            Some(Some((real, ours))) => {
                lines.push(format!(
                    "replay --full, {peer}: autobahn 0.8.2 {real:.1} s, wstap serve {ours:.1} s, wstap/autobahn {:.2}x; {same}",
                    ours / real
                ));
                Some(real)
            }
            _ => {
                lines.push(format!(
                    "replay --full, {peer}: no wall times (the comparison did not finish: {})",
                    out.status
                ));
                None
            }
        };
        if let (Some(client), Some(real)) = (per_case_client(peer), real) {
            lines.push(parallel(root, peer, client, real));
        }
    }
    for line in lines {
        println!("{line}");
    }
}

/// Cases `wstap replay` runs at once in `--full`'s parallel run.
const FULL_JOBS: usize = 4;

/// A client that plays one case and exits, for `wstap replay --client`.
fn per_case_client(peer: &str) -> Option<&'static str> {
    match peer {
        "python" => Some("python3 tests/python/echo_client.py {url}"),
        "node" => Some("node tests/peers/node/echo_client.js {url}"),
        _ => None,
    }
}

/// The whole catalogue once more, `wstap replay --jobs FULL_JOBS` with one
/// client process per case: what the cases cost when they need not wait
/// for each other; its wall time against the real suite's `real`.
fn parallel(root: &std::path::Path, peer: &str, client: &str, real: f64) -> String {
    let start = std::time::Instant::now();
    let out = std::process::Command::new(root.join("target/release/wstap"))
        .args(["replay", "scenarios", "--jobs", &FULL_JOBS.to_string(), "--client", client])
        .current_dir(root)
        .output()
        .expect("target/release/wstap runs (scripts/autobahn-compare --release built it)");
    let took = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().rev().find(|l| l.contains(" cases: ")).unwrap_or("no summary line").to_owned();
    format!(
        "replay --full, {peer}: wstap replay --jobs {FULL_JOBS} (one client process per case) {took:.1} s, \
         wstap/autobahn {:.2}x; {summary}",
        took / real
    )
}

/// The two seconds figures of `wall time: autobahn X s (N results), wstap Y s (M results)`.
fn wall_times(line: &str) -> Option<(f64, f64)> {
    let mut secs = line.split(" s (").filter_map(|part| part.rsplit(' ').next()?.parse::<f64>().ok());
    Some((secs.next()?, secs.next()?))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--full") {
        let mut peers: Vec<String> = args.windows(2).filter(|w| w[0] == "--peer").map(|w| w[1].clone()).collect();
        if peers.is_empty() {
            peers.push("tungstenite".into());
        }
        return full(&peers);
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cases = catalogue::select(catalogue::shipped(), &["7.*".into()], &[]).expect("cases");
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let (took, passed) = runtime.block_on(round(&cases));
        assert_eq!(passed, cases.len(), "every case passes with tungstenite");
        times.push(took);
    }
    times.sort();
    println!(
        "replay: {} category-7 cases, jobs {JOBS}, tokio-tungstenite client: best {:.1} ms, median {:.1} ms ({ROUNDS} rounds)",
        cases.len(),
        times[0].as_secs_f64() * 1e3,
        times[ROUNDS / 2].as_secs_f64() * 1e3
    );
}
