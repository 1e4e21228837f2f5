//! Recordings of format version 1 (SHA-256 digests) next to version 2
//! (BLAKE3): a recording kept from before the change still shows, checks
//! its sidecars and diffs as equal to the same traffic recorded now, and a
//! changed byte is still found across the two versions.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::process::Command;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as FrameData, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use wstap::session::{Data, EventKind, Recording};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `rec` as version 1 would have written it: every digest SHA-256, of the
/// bytes as `rec` holds them (a digest-only message: its frames' bytes).
/// `flip` changes one byte of the first sidecar range first (in a copy of
/// its file, so the digest is honest for the changed bytes).
fn as_version_1(rec: &Recording, dir: &Path, flip: bool) -> Recording {
    let mut old = rec.clone();
    old.wstap_recording = 1;
    let mut message = [Vec::new(), Vec::new()];
    let mut flipped = false;
    for (i, event) in rec.events.iter().enumerate() {
        let d = event.dir.index();
        match &event.kind {
            EventKind::Frame(f) => {
                let mut bytes = rec.data_bytes(&f.payload).unwrap();
                if f.opcode < 8 {
                    if f.opcode != 0 {
                        message[d].clear();
                    }
                    if let (Data::Sidecar(r), true, false) = (&f.payload, flip, flipped) {
                        bytes[0] ^= 1;
                        let mut file = std::fs::read(dir.join(&r.file)).unwrap();
                        file[r.offset as usize] ^= 1;
                        std::fs::write(dir.join("flipped.bin"), file).unwrap();
                        flipped = true;
                    }
                    message[d].extend_from_slice(&bytes);
                }
                let EventKind::Frame(of) = &mut old.events[i].kind else { unreachable!() };
                if let Data::Sidecar(r) = &mut of.payload {
                    r.blake3 = None;
                    r.sha256 = Some(sha256_hex(&bytes));
                    if flip && bytes != rec.data_bytes(&f.payload).unwrap() {
                        r.file = "flipped.bin".into();
                    }
                }
            }
            EventKind::Message(m) if matches!(m.payload, Data::Blake3(_)) => {
                let EventKind::Message(om) = &mut old.events[i].kind else { unreachable!() };
                om.payload = Data::Sha256(sha256_hex(&message[d]));
            }
            _ => {}
        }
    }
    assert!(!flip || flipped, "the recording has a sidecar range to change");
    old
}

fn wstap(args: &[&Path]) -> std::process::Output {
    Command::new(wstap_bin()).args(args).output().unwrap()
}

#[tokio::test]
async fn a_version_1_recording_shows_checks_and_diffs_against_version_2() {
    let server = tungstenite_echo().await;
    let proxy = TestProxy::start(server).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    every_frame_type(&mut ws).await;
    // A message of three 20 KiB frames: each in the sidecar, the message
    // recorded by its digest alone.
    let piece = |fill: u8, op, fin| Message::Frame(Frame::message(Bytes::from(vec![fill; 20_000]), op, fin));
    ws.send(piece(1, OpCode::Data(FrameData::Binary), false)).await.unwrap();
    ws.send(piece(2, OpCode::Data(FrameData::Continue), false)).await.unwrap();
    ws.send(piece(3, OpCode::Data(FrameData::Continue), true)).await.unwrap();
    let echo = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echo.into_data().len(), 60_000);
    close_going_away(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    let new = &recorded[0].path;
    let rec = wstap::store::load(new).unwrap();
    assert_eq!(rec.wstap_recording, 2);
    let digest_only = rec
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Message(m) if matches!(m.payload, Data::Blake3(_))))
        .count();
    assert!(digest_only >= 2, "the test covers digest-only messages ({digest_only})");

    let write = |name: &str, r: &Recording| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_yaml::to_string(r).unwrap()).unwrap();
        path
    };
    let old = write("old.yaml", &as_version_1(&rec, dir.path(), false));
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(text.starts_with("wstap_recording: 1\n") && !text.contains("blake3"), "a true version-1 file");

    // Shown as the same session, every sidecar range checked by SHA-256.
    let (shown_old, shown_new) = (wstap(&["show".as_ref(), &old]), wstap(&["show".as_ref(), new]));
    assert!(shown_old.status.success(), "{}", String::from_utf8_lossy(&shown_old.stderr));
    assert_eq!(String::from_utf8_lossy(&shown_old.stdout), String::from_utf8_lossy(&shown_new.stdout));

    // The same traffic in either version: no difference.
    let same = wstap(&["diff".as_ref(), &old, new]);
    let said = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&same.stderr));

    // One byte changed, honestly digested: found across the versions.
    let changed = write("changed.yaml", &as_version_1(&rec, dir.path(), true));
    let differs = wstap(&["diff".as_ref(), &changed, new]);
    assert_eq!(differs.status.code(), Some(1), "{}", String::from_utf8_lossy(&differs.stdout));

    // A wrong SHA-256 is still refused, named as SHA-256.
    let forged = dir.path().join("forged.yaml");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("sha256:") && l.starts_with("    ")).unwrap();
    lines[at] = format!("    sha256: {}", "0".repeat(64));
    std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let refused = wstap(&["show".as_ref(), &forged]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("SHA-256 mismatch"), "{err}");
}
