//! Recordings as regression tests: a session recorded through the proxy,
//! replayed to a new client and judged.

use crate::replay::{flags, run_with, verdict};
use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use tokio_tungstenite::tungstenite::Message;
use wstap::report::{Behavior, CloseBehavior};

/// A tungstenite client that says `words` and closes with `code`.
fn talker(
    words: &'static [&'static str],
    code: u16,
) -> impl Fn(String) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    move |url| {
        Box::pin(async move {
            use tokio_tungstenite::tungstenite::protocol::CloseFrame;
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            for w in words {
                ws.send(Message::text(*w)).await.unwrap();
                // The recorded server's answer (the echo of the recorded word).
                assert!(ws.next().await.unwrap().unwrap().is_text());
            }
            ws.close(Some(CloseFrame { code: code.into(), reason: "".into() })).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        })
    }
}

#[tokio::test]
async fn a_recording_replays_as_a_regression_test() {
    let proxy = TestProxy::start(tungstenite_echo().await).await;
    talker(&["one", "two"], 1000)(proxy.url()).await;
    let (recorded, _dir) = proxy.finish().await;
    let case = wstap::replay::from_recording::load(&recorded[0].path, Default::default()).unwrap();
    let record_dir = tempfile::tempdir().unwrap();
    let same = run_with(case.clone(), Some(record_dir.path()), |url, _| talker(&["one", "two"], 1000)(url)).await;
    assert_eq!(verdict(&same), (Behavior::Ok, CloseBehavior::Ok), "{:?}", same.report.result);
    assert_eq!(flags(&same), (false, false, true, true, None, false, Some(1000)));
    // The recorded 101 (tungstenite's lowercase names), with a fresh accept key.
    let request = wstap::wire::Head::parse_request(same.report.http_request.as_bytes()).unwrap();
    let key = request.header("sec-websocket-key").unwrap();
    let response = &same.report.http_response;
    let accept = format!("sec-websocket-accept: {}\r\n", wstap::wire::accept_key(&key));
    assert!(response.starts_with("HTTP/1.1 101 ") && response.contains(&accept), "{response}");
    let changed = run_with(case.clone(), None, |url, _| talker(&["one", "TWO"], 1000)(url)).await;
    assert_eq!(verdict(&changed), (Behavior::Failed, CloseBehavior::Ok));
    let other_code = run_with(case, None, |url, _| talker(&["one", "two"], 4000)(url)).await;
    assert_eq!(verdict(&other_code), (Behavior::Failed, CloseBehavior::WrongCode));
    // What replay observed is itself a recording: it loads and replays.
    let observed = same.recording.expect("saved");
    let again = wstap::replay::from_recording::load(&observed, Default::default()).unwrap();
    assert_eq!(again.scenario.expect.events, same_expectation(&["one", "two"]));
}

fn same_expectation(words: &[&str]) -> wstap::scenario::ExpectedEvents {
    let ok = words.iter().map(|w| wstap::scenario::Event::text(*w)).collect();
    wstap::scenario::ExpectedEvents { ok: Some(ok), non_strict: None }
}
