//! The fuzz targets on stable: every input under `fuzz/regressions/<target>/`
//! (minimised crashes the fuzzer once found, now fixed) runs through the
//! same function the fuzzer calls, so a fixed crash stays fixed. Also the
//! seed generator (`make_fuzz_seeds`, ignored by default; see
//! docs/reliability.md).

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod targets;

use crate::util::*;
use std::path::{Path, PathBuf};
use targets::{Script, Step};
use wstap::session::{Direction, EventKind, Recording};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_minimised_crash_stays_fixed() {
    let ran = run_all_under("regressions");
    assert!(ran > 0, "no regression inputs found under {}", fuzz_dir().join("regressions").display());
}

/// Runs every file under `fuzz/<kind>/<target>/` through its target.
fn run_all_under(kind: &str) -> usize {
    let mut ran = 0;
    for (name, _) in targets::TARGETS {
        let dir = fuzz_dir().join(kind).join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| targets::run(name, &data));
            assert!(outcome.is_ok(), "{name}: {} fails", file.display());
            ran += 1;
        }
    }
    ran
}

#[test]
fn targets_hold_on_the_seeds_from_real_sessions() {
    // The seeds are real recordings, captures and scenarios: a target that
    // trips on them has a wrong assertion, not a finding.
    let ran = run_all_under("seeds");
    assert!(ran >= 9 * 10, "only {ran} seeds");
}

/// The reads and endings of a recording, in order, as a fuzz script.
fn steps_of(rec: &Recording) -> Vec<Step> {
    let mut chunks = Direction::BOTH.map(|d| rec.read_chunks(d).unwrap().into_iter());
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Read { .. } => Some(Step::Read(e.dir, chunks[e.dir.index()].next().unwrap().1)),
            EventKind::Fin => Some(Step::End(e.dir, wstap::session::TcpEnd::Fin)),
            EventKind::Rst { .. } => Some(Step::End(e.dir, wstap::session::TcpEnd::Rst)),
            _ => None,
        })
        .collect()
}

/// Writes seed corpora made from real sessions into `$WSTAP_FUZZ_SEEDS/<target>/`:
/// `cargo test --test integration make_fuzz_seeds -- --ignored`.
/// The demo session through the real proxy, the 37 shipped scenarios
/// replayed to a tokio-tungstenite client (what replay observed), a
/// permessage-deflate session, their captures as pcap and pcapng, and the
/// shipped scenario files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a tool: writes fuzz seeds; run with --ignored and WSTAP_FUZZ_SEEDS=DIR"]
async fn make_fuzz_seeds() {
    let out = PathBuf::from(std::env::var("WSTAP_FUZZ_SEEDS").expect("WSTAP_FUZZ_SEEDS=DIR"));
    let work = tempfile::tempdir().unwrap();
    let mut recordings = vec![wstap::demo::record_demo(&work.path().join("demo")).await.unwrap().path];
    let observed = work.path().join("replay");
    std::fs::create_dir_all(&observed).unwrap();
    for case in wstap::replay::catalogue::select(wstap::replay::catalogue::shipped(), &["7.*".into()], &[]).unwrap() {
        crate::replay::run_with(case, Some(&observed), crate::replay::tungstenite_client).await;
    }
    recordings.extend(yaml_files(&observed));
    recordings.push(deflate_session(&work.path().join("deflate")));
    let mut n = 0;
    let mut seed = |target: &str, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        n += 1;
        std::fs::write(dir.join(format!("seed-{n:04}")), bytes).unwrap();
    };
    for path in &recordings {
        let rec = wstap::store::load(path).unwrap();
        seed("recording_loader", &std::fs::read(path).unwrap());
        for ext in ["pcap", "pcapng"] {
            let capture = work.path().join(format!("c.{ext}"));
            wstap::convert::convert(path, &capture).unwrap();
            seed("pcap_import", &std::fs::read(&capture).unwrap());
        }
        let steps = steps_of(&rec);
        seed("recording_roundtrip", &Script::encode(0, &steps));
        let small: Vec<Step> = steps.into_iter().filter(|s| !matches!(s, Step::Read(_, b) if b.len() > 2048)).collect();
        seed("session_rebuild", &Script::encode(0, &small));
        for dir in Direction::BOTH {
            let stream = rec.stream(dir).unwrap();
            let head = rec.head(dir).map_or(0, |h| rec.data_bytes(h).unwrap().len());
            let frames: Vec<u8> = stream[head..].iter().take(4096).copied().collect();
            seed("frame_decoder", &[&[dir.index() as u8 | 8][..], &frames].concat());
            seed("handshake", &stream[..head]);
        }
        for e in &rec.events {
            if let EventKind::Message(m) = &e.kind
                && let Ok(bytes) = rec.data_bytes(m.shown_payload())
                && bytes.len() <= 4096
            {
                seed("utf8", &[&[e.at as u8][..], &bytes].concat());
                seed("deflate_roundtrip", &[&[e.at as u8][..], &bytes].concat());
            }
        }
    }
    for file in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/7")).unwrap() {
        seed("scenario", &std::fs::read(file.unwrap().path()).unwrap());
    }
    eprintln!("{n} seeds written under {}", out.display());
}

/// A permessage-deflate session with context takeover, both directions,
/// fragmented and not, written as a recording.
fn deflate_session(dir: &Path) -> PathBuf {
    use wstap::wire::{Deflater, FrameHeader, OpCode};
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("deflate.yaml");
    let header = Recording {
        wstap_recording: 1,
        started: "2026-11-24T10:00:00.000000Z".into(),
        client: "127.0.0.1:50000".into(),
        server: "127.0.0.1:8080".into(),
        ..Recording::default()
    };
    let mut live = wstap::store::LiveRecording::create(&path, &header).unwrap();
    let b = live.builder();
    b.read(0, Direction::ClientToServer, targets::REQUEST).unwrap();
    b.read(1, Direction::ServerToClient, targets::RESPONSES[1]).unwrap();
    let mut deflaters = [Deflater::new(15, false).unwrap(), Deflater::new(15, false).unwrap()];
    for (i, text) in ["Hello", "Hello again, Hello", "κόσμε κόσμε κόσμε", "{\"a\": [1, 2, 3]}"].iter().enumerate()
    {
        for dir in Direction::BOTH {
            let compressed = deflaters[dir.index()].compress_message(text.as_bytes());
            let mut h = FrameHeader::new(OpCode::TEXT, compressed.len() as u64);
            h.rsv = 4;
            if dir == Direction::ClientToServer {
                h.mask = Some([1, 2, 3, i as u8]);
            }
            b.read(2 + i as u64, dir, &h.encode_frame(&compressed)).unwrap();
        }
    }
    live.close().unwrap();
    path
}
