//! `cargo bench --bench proxy -- --cost`: what recording costs in
//! instructions, counted by `valgrind --tool=callgrind`, which is
//! repeatable where wall-clock and CPU time on a shared machine are not.
//!
//! Each case runs the real `wstap record` binary under callgrind in front
//! of the echo server, sends a fixed workload over one connection with one
//! message in flight (so that read boundaries, and with them the work,
//! are the same from run to run), waits until the recording is final and
//! stops the proxy with SIGINT. From callgrind's totals:
//!
//! - **recorder**: instructions under the recorder thread's body
//!   (`recorder_thread`) and the finaliser (`finalise`): decoding, YAML,
//!   sidecars, hashing, the capture;
//! - **process**: every instruction of the process (pumps, runtime, the
//!   recorder), minus an idle run (start, one 64-byte echo, stop).
//!
//! Both are divided by the frames recorded (two per echoed message, one
//! each way) for 64-byte messages, and by the MiB recorded (both ways)
//! for 1 MiB messages. Budgets are in docs/performance.md.
//!
//! `WSTAP_COST_KEEP=DIR` keeps each run's callgrind output in DIR, for
//! `callgrind_annotate`.
//!
//! Callgrind emulates the CPU and counts only user-space instructions:
//! BLAKE3 (recording format 2) runs its AVX2 code here, and the kernel's
//! copies into the page cache, the largest native cost of a large
//! message, are not counted at all, so read per-MiB counts beside the
//! native CPU columns of the timed benchmark.

use super::child::{parse_wstap_ready, ready, wait_for_summaries, wstap_bin};
use super::{Until, client, connect, echo_server, within};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

/// One fixed workload over one connection.
struct Case {
    name: &'static str,
    size: usize,
    count: u64,
}

/// Instructions counted in one run.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    process: u64,
    recorder: u64,
}

const RECORDER_FUNCTIONS: [&str; 2] = ["wstap::proxy::recorder::recorder_thread", "wstap::proxy::recorder::finalise"];

/// Runs every case plain, with `--pcap` and with `--live` (its lines into
/// a pipe this benchmark drains), and prints the table.
pub async fn run(quick: bool) {
    let version = std::process::Command::new("valgrind").arg("--version").output();
    if !version.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("--cost needs valgrind (apt-get install valgrind): {version:?}");
        std::process::exit(2);
    }
    let echo = echo_server().await;
    let scale = if quick { 5 } else { 1 };
    let cases = [
        Case { name: "64 B messages", size: 64, count: 5_000 / scale },
        Case { name: "1 MiB messages", size: 1 << 20, count: 40 / scale },
    ];
    println!(
        "wstap record under callgrind ({}): one connection, one message in flight; instructions per recorded \
         frame (64 B) or per recorded MiB (1 MiB), both directions counted",
        String::from_utf8_lossy(&version.unwrap().stdout).trim()
    );
    println!(
        "  {:<22} {:<16} {:>14} {:>14} {:>16} {:>16}",
        "args", "workload", "messages", "frames", "recorder", "process"
    );
    for extra in [&[][..], &["--pcap"][..], &["--live"][..]] {
        let idle = measure(echo, extra, 64, 1).await;
        for case in &cases {
            let counts = measure(echo, extra, case.size, case.count).await;
            let frames = 2 * case.count;
            let unit = match case.size {
                64 => frames as f64,
                size => frames as f64 * size as f64 / (1 << 20) as f64,
            };
            let per = |n: u64| n as f64 / unit;
            let suffix = if case.size == 64 { "Ir/frame" } else { "Ir/MiB" };
            println!(
                "  {:<22} {:<16} {:>14} {:>14} {:>16} {:>16}",
                format!("record {}", extra.join(" ")),
                case.name,
                case.count,
                frames,
                format!("{:.0} {suffix}", per(counts.recorder.saturating_sub(idle.recorder))),
                format!("{:.0} {suffix}", per(counts.process.saturating_sub(idle.process))),
            );
        }
    }
}

/// One run of `wstap record` under callgrind: `count` echoes of `size` bytes.
async fn measure(echo: SocketAddr, extra: &[&str], size: usize, count: u64) -> Counts {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("callgrind.out");
    let rec = dir.path().join("rec");
    let mut child = tokio::process::Command::new("valgrind")
        .args(["--tool=callgrind", "--dump-instr=no", "--dump-line=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(wstap_bin())
        .args(["record", "--listen", "127.0.0.1:0", "--upstream", &echo.to_string(), "--out"])
        .arg(&rec)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("valgrind");
    let listen = ready(&mut child, parse_wstap_ready).await;
    let base = Instant::now();
    let ws = connect(listen, None).await;
    let (rtts, _) = client(ws, size, 1, base, Until::Count(count)).await;
    assert_eq!(rtts.len() as u64, count, "every message echoed");
    wait_for_summaries(&rec, 1).await;
    let pid = rustix::process::Pid::from_raw(child.id().expect("running") as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT to wstap record");
    let status = within("wstap record under callgrind exits", child.wait()).await.unwrap();
    assert!(status.success(), "wstap record under callgrind: {status}");
    if let Some(keep) = std::env::var_os("WSTAP_COST_KEEP") {
        // For profiling: `callgrind_annotate KEEP/<args>-<size>-<count>.out`.
        let name = format!("{}-{size}-{count}.out", extra.join("").trim_start_matches('-'));
        let kept = Path::new(&keep).join(if extra.is_empty() { format!("record{name}") } else { name });
        std::fs::create_dir_all(&keep).and_then(|()| std::fs::copy(&out, &kept)).expect("WSTAP_COST_KEEP");
    }
    counts(&out)
}

/// Reads the totals from `callgrind_annotate --inclusive=yes`.
fn counts(file: &Path) -> Counts {
    let annotated = std::process::Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(file)
        .output()
        .expect("callgrind_annotate");
    let text = String::from_utf8_lossy(&annotated.stdout);
    let mut counts = Counts::default();
    for line in text.lines() {
        let line = line.trim();
        let Some((n, rest)) = line.split_once(' ') else { continue };
        let Ok(n) = n.replace(',', "").parse::<u64>() else { continue };
        if rest.contains("PROGRAM TOTALS") {
            counts.process = n;
        } else if RECORDER_FUNCTIONS.iter().any(|f| rest.contains(&format!(":{f} ["))) && !rest.contains("=>") {
            // The function's own line (`FILE:NAME [BINARY]`); not its
            // inlined pieces listed by source file, nor call-tree lines.
            counts.recorder += n;
        }
    }
    assert!(counts.process > 0 && counts.recorder > 0, "no totals in callgrind_annotate's output:\n{text}");
    counts
}
