//! `wstap show` and `wstap diff` on recordings made with real peers.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Records one tokio-tungstenite session (texts, then a close with `code`).
async fn record_session(texts: &[&str], code: u16) -> (PathBuf, tempfile::TempDir) {
    record_session_with(texts, code, "done").await
}

/// [`record_session`] with the close reason `reason`.
async fn record_session_with(texts: &[&str], code: u16, reason: &str) -> (PathBuf, tempfile::TempDir) {
    let server = tungstenite_echo().await;
    let proxy = TestProxy::start(server).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    for t in texts {
        ws.send(Message::text(*t)).await.unwrap();
        within("echo", ws.next()).await.unwrap().unwrap();
    }
    ws.close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.to_owned().into() })).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
    drop(ws);
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, dir) = proxy.finish().await;
    (recorded[0].path.clone(), dir)
}

fn wstap(args: &[&str], files: &[&Path]) -> (i32, String, String) {
    let out = Command::new(wstap_bin()).args(args).args(files).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn show_renders_both_perspectives_and_json() {
    let (rec, _dir) = record_session(&["hello"], 1000).await;
    // Autobahn's text, cells run together, for those who diff against it.
    let (code, text, err) = wstap(&["show", "--format", "autobahn"], &[&rec]);
    assert_eq!(code, 0, "{err}");
    for needle in ["Opening Handshake", "Closing Behavior", "Wire Statistics", "Wire Log", "remoteCloseCode1000"] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let rx_frames: Vec<&str> = text.lines().filter(|l| l.contains("RX FRAME")).collect();
    assert!(!rx_frames.is_empty() && rx_frames.iter().all(|l| l.contains("MASKED=True")), "{rx_frames:?}");
    assert!(text.lines().any(|l| l.ends_with("TCP DROPPED BY ME") || l.ends_with("TCP DROPPED BY PEER")));

    let (code, client_view, _) = wstap(&["show", "--perspective", "client", "--format", "autobahn"], &[&rec]);
    assert_eq!(code, 0);
    let rx: Vec<&str> = client_view.lines().filter(|l| l.contains("RX FRAME")).collect();
    assert!(!rx.is_empty() && rx.iter().all(|l| l.contains("MASKED=False")), "{rx:?}");
    assert!(client_view.contains("isServerFalse"));

    // --filter keeps the wire-log entries it selects.
    let (code, closes, err) = wstap(&["show", "--filter", "op=close"], &[&rec]);
    assert_eq!(code, 0, "{err}");
    let log = &closes[closes.find("Wire Log").unwrap()..];
    let framed: Vec<&str> = log.lines().filter(|l| l.contains(" FRAME : ")).collect();
    assert_eq!(framed.len(), 2, "the two close frames only: {log}");
    assert!(framed.iter().all(|l| l.contains("OPCODE=8")), "{log}");
    assert!(!log.contains("OCTETS"), "{log}");
    let (code, _, err) = wstap(&["show", "--filter", "op=nope"], &[&rec]);
    assert!(code == 2 && err.contains("op is"), "{err}");

    // The default: aligned columns, and one mask spelling in both perspectives.
    let (code, server_view, _) = wstap(&["show"], &[&rec]);
    assert_eq!(code, 0);
    assert!(!server_view.contains('\u{1b}'), "no colour into a pipe");
    let value_column = |text: &str, key: &str| {
        let header = text.lines().find(|l| l.starts_with("Key ")).unwrap();
        let line = text.lines().find(|l| l.starts_with(&format!("{key} "))).unwrap_or_else(|| panic!("{key}: {text}"));
        line[header.find("Value").unwrap()..].split("  ").next().unwrap().to_owned()
    };
    assert_eq!(value_column(&server_view, "isServer"), "True", "{server_view}");
    assert_eq!(value_column(&server_view, "remoteCloseCode"), "1000", "{server_view}");
    assert!(server_view.contains("Chop Size  Count  Octets\n"), "{server_view}");
    let (_, client_readable, _) = wstap(&["show", "--perspective", "client"], &[&rec]);
    assert_eq!(value_column(&client_readable, "isServer"), "False");
    let masks = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split("MASK=").nth(1))
            .filter(|m| *m != "None" && !m.starts_with("None,"))
            .map(str::to_owned)
            .collect()
    };
    let (server_masks, client_masks) = (masks(&server_view), masks(&client_readable));
    assert!(!server_masks.is_empty() && server_masks.iter().all(|m| m.len() == 8), "{server_masks:?}");
    for m in &server_masks {
        assert!(
            client_masks.iter().any(|c| c.starts_with(m.as_str())),
            "mask {m} spelled differently client-side: {client_masks:?}"
        );
    }

    let (code, json, _) = wstap(&["show", "--format", "json"], &[&rec]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["httpRequest"].as_str().unwrap().starts_with("GET /test HTTP/1.1"));
    assert_eq!(v["remoteCloseCode"], 1000);
    assert_eq!(v["isServer"], true);
    let rf = v["wirelog"].as_array().unwrap().iter().find(|e| e[0] == "RF").unwrap();
    assert_eq!(rf[1], serde_json::json!([5, "hello"]));
    assert_eq!(rf[5], true, "client frames are masked");
}

#[tokio::test]
async fn diff_ignores_noise_and_names_behaviour_changes() {
    let (a, _da) = record_session(&["one", "two"], 1000).await;
    let (same, _ds) = record_session(&["one", "two"], 1000).await;
    let (other, _do) = record_session(&["one", "two"], 1001).await;

    let (code, out, err) = wstap(&["diff", "--color", "never"], &[&a, &same]);
    assert_eq!(code, 0, "new masks, keys, ports and timing are not a difference:\n{out}{err}");

    let (code, out, _) = wstap(&["diff", "--color", "never"], &[&a, &other]);
    assert_eq!(code, 1);
    assert!(out.contains("client close code 1000 → 1001"), "{out}");
    let headers = format!("--- {}\n+++ {}\n", a.display(), other.display());
    assert!(out.contains(&headers), "the headers name both files: {out}");

    let (code, json, _) = wstap(&["diff", "--format", "json"], &[&a, &other]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["changes"].as_array().unwrap().iter().any(|c| c["text"] == "client close code 1000 → 1001"));

    let (code, _, err) = wstap(&["diff"], &[&a, Path::new("/nonexistent/b.yaml")]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/b.yaml"), "{err}");
}

/// What a terminal acts on instead of showing: a window retitle, clear
/// screen, NUL, a bare CR, an 8-bit CSI (C1) and a bidi override.
const HOSTILE: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\0\rx\u{9b}31m\u{202e}gnp.exe";

/// Fails if `out` holds a character a terminal would act on (newlines and
/// tabs aside); with `colours`, wstap's own SGR colour codes are allowed.
fn assert_terminal_safe(what: &str, out: &str, colours: bool) {
    for (i, c) in out.char_indices() {
        if c == '\u{1b}' && colours {
            let rest = &out[i + 1..];
            let sgr = rest.strip_prefix('[').and_then(|r| r.find('m').map(|end| &r[..end]));
            if sgr.is_some_and(|params| params.chars().all(|p| p.is_ascii_digit() || p == ';')) {
                continue;
            }
        }
        let control = (c < ' ' && c != '\n' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c);
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        assert!(!control && !bidi, "{what}: raw {c:?} at byte {i}:\n{out}");
    }
}

#[tokio::test]
async fn untrusted_bytes_never_reach_the_terminal_raw() {
    let (rec, _dir) = record_session_with(&[HOSTILE], 1000, "\u{1b}[31mred\u{7}").await;
    let (code, text, err) = wstap(&["show"], &[&rec]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("show", &text, false);
    // (The wire log wraps text the way Autobahn does, which turns the CR into a space.)
    assert!(text.contains(r"\u{1b}]0;owned\u{7}\u{1b}[2J\0 x\u{9b}31m\u{202e}gnp.exe"), "{text}");
    assert!(text.contains(r"\u{1b}[31mred\u{7}"), "the close reason, escaped: {text}");
    let (clean, _dir2) = record_session(&["hello"], 1000).await;
    for colour in ["never", "always"] {
        let (code, out, err) = wstap(&["diff", "--color", colour], &[&clean, &rec]);
        assert_eq!(code, 1, "{err}");
        assert_terminal_safe(&format!("diff --color {colour}"), &out, colour == "always");
        assert!(out.contains(r"\u{1b}]0;owned"), "{out}");
    }
    // An error message that quotes what a file said.
    let bad = _dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "id: \"9.9.9\"\ndescription: d\nexpectation: e\nactions:\n  - frame: {opcode: \"\\e]0;owned\\a\"}\n",
    )
    .unwrap();
    let (code, _, err) = wstap(&["replay"], &[&bad]);
    assert_eq!(code, 2, "{err}");
    assert_terminal_safe("an error quoting a scenario", &err, false);
    assert!(err.contains(r"got \u{1b}]0;owned\u{7}"), "{err}");
}

/// Colour only for a terminal, and never with NO_COLOR: `show` and `diff`
/// under a real pty, then the same with NO_COLOR=1.
#[tokio::test]
async fn colour_only_on_a_terminal_without_no_color() {
    let (a, _da) = record_session(&["one"], 1000).await;
    let (b, _db) = record_session(&["one"], 1001).await;
    let show = |no_color: bool| {
        let mut cmd = Command::new(wstap_bin());
        cmd.arg("show").arg(&a).env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        crate::pty::run(&mut cmd)
    };
    let (status, text) = show(false);
    assert!(status.success(), "{text}");
    assert!(text.contains("\u{1b}[35m"), "client frames coloured on a terminal: {text}");
    assert!(text.contains("\u{1b}[32mTrue\u{1b}[0m"), "wasClean coloured: {text}");
    assert_terminal_safe("show on a terminal", &text, true);
    let (status, text) = show(true);
    assert!(status.success(), "{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR: {text}");
    assert!(text.contains("Key "), "{text}");

    let diff = |no_color: bool| {
        let mut cmd = Command::new(wstap_bin());
        cmd.arg("diff").arg(&a).arg(&b).env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        crate::pty::run(&mut cmd)
    };
    let (_, coloured) = diff(false);
    assert!(coloured.contains("\u{1b}[31m--- "), "{coloured}");
    let (_, plain) = diff(true);
    assert!(plain.contains("client close code 1000 → 1001") && !plain.contains('\u{1b}'), "{plain}");
}
