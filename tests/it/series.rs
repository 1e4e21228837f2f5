//! The 12.x/13.x vocabulary end to end with a real client that has no
//! permessage-deflate (tokio-tungstenite): a `series` sends uncompressed
//! then, and the echo check judges type, length and SHA-1 of each echo.
//! A client that echoes faithfully passes with `trafficStats` filled; one
//! that alters its second echo fails with Autobahn's SHA-1 text; a case
//! that `require_deflate`s is UNIMPLEMENTED. (With python websockets and
//! permessage-deflate: `oracle::deflate`.)

use std::path::{Path, PathBuf};

use futures_util::{SinkExt, StreamExt};
use sha1::{Digest, Sha1};
use tokio_tungstenite::tungstenite::Message;
use wstap::replay::{Case, Response};
use wstap::scenario::Scenario;
use wstap::scenario::series::corpus_file;

use crate::replay::run_with;

fn case(require_deflate: bool) -> Case {
    let require = if require_deflate { "  - require_deflate: {close: 1000}\n" } else { "" };
    let yaml = format!(
        r#"id: "12.9.1"
description: "three slices"
expectation: "echoed"
handshake:
  deflate_accept: [{{}}]
actions:
  - wirelog: {{on: false, how: logged}}
{require}  - close_after: 10
  - series: {{opcode: text, slices: {{file: data1.json, unit: code_points, len: 16}}, compress: true}}
expect:
  events: {{}}
  close: {{closed_by_me: true, codes: [1000], require_clean: true}}
  echo:
    opcode: text
    len: 16
    units: code_points
    count: 3
    waiting: "Case did not finish within 10 seconds."
    ok: "Ok, received all echo'ed messages in time."
    wrong_type: "type {{binary}}"
    wrong_len: "length {{len}}"
    wrong_content: "Echo'ed message contents differs from what I sent (got SHA1 {{sha1}}, expected SHA1 {{sent_sha1}})."
    wirelog: logged
    traffic_stats: true
report: {{time: true, compression_ratio: true}}
"#
    );
    let scenario = Scenario::parse(&yaml, Path::new("series.yaml")).unwrap();
    Case {
        scenario,
        number: 1,
        response: Response::Autobahn,
        origin: PathBuf::from("series.yaml"),
        fixture: Default::default(),
    }
}

/// Echoes every text message, the `alter`-th (from 1) with its first
/// letter changed.
async fn echo_client(url: String, alter: Option<usize>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut n = 0;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(text) = msg {
            n += 1;
            let mut text = text.to_string();
            if Some(n) == alter {
                text.replace_range(..1, if text.starts_with('x') { "y" } else { "x" });
            }
            if ws.send(Message::text(text)).await.is_err() {
                break;
            }
        }
    }
}

fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_faithful_echo_passes_and_fills_traffic_stats() {
    let run = run_with(case(false), None, |url, _| echo_client(url, None)).await;
    let r = &run.report;
    assert_eq!((r.behavior.as_str(), r.result.as_str()), ("OK", "Ok, received all echo'ed messages in time."));
    let stats = r.traffic_stats.as_ref().expect("trafficStats");
    assert_eq!(
        (stats["outgoingWebSocketMessages"].as_u64(), stats["incomingWebSocketMessages"].as_u64()),
        (Some(3), Some(3))
    );
    // Not compressed (no agreement): app and WebSocket octets are equal.
    assert_eq!(
        (stats["outgoingOctetsAppLevel"].as_u64(), stats["outgoingCompressionRatio"].as_f64()),
        (Some(48), Some(1.0))
    );
    assert!(r.report_compression_ratio && r.report_time);
}

#[tokio::test]
async fn an_altered_echo_fails_with_both_sha1s() {
    let run = run_with(case(false), None, |url, _| echo_client(url, Some(2))).await;
    let r = &run.report;
    let sent = &corpus_file("data1.json").unwrap()[16..32];
    let mut got = sent.to_vec();
    got[0] = if got[0] == b'x' { b'y' } else { b'x' };
    let want = format!(
        "Echo'ed message contents differs from what I sent (got SHA1 {}, expected SHA1 {}).",
        sha1_hex(&got),
        sha1_hex(sent)
    );
    assert_eq!((r.behavior.as_str(), r.result.as_str()), ("FAILED", want.as_str()));
    assert!(r.traffic_stats.is_none(), "kept only on success, as in Autobahn");
}

#[tokio::test]
async fn without_permessage_deflate_a_case_that_requires_it_is_unimplemented() {
    let run = run_with(case(true), None, |url, _| echo_client(url, None)).await;
    let r = &run.report;
    assert_eq!((r.behavior.as_str(), r.behavior_close.as_str()), ("UNIMPLEMENTED", "OK"));
    assert_eq!((r.result.as_str(), r.local_close_code), ("Actual events differ from any expected.", Some(1000)));
    assert!(r.traffic_stats.is_none());
}
