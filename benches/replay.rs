//! Wall time of the 37 category-7 cases against a well-behaved client
//! (tokio-tungstenite), 8 cases at a time, each on its own port. A plain
//! main: prints the best and median of several rounds. Target: < 2 s.

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

fn main() {
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
