//! `wstap serve` driven like an Autobahn client driver, unchanged.

use crate::replay::tungstenite_client;
use crate::util::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use wstap::replay::{Settings, catalogue};

async fn driver_text(url: &str) -> Option<String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut text = None;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg {
            text = Some(t.to_string());
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_autobahns_url_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let cases = catalogue::select(catalogue::shipped(), &["7.3*".into()], &["7.3.2".into()]).unwrap();
    let server = wstap::replay::serve::Server::bind(loopback(), cases, Settings::new(""), dir.path().to_path_buf())
        .await
        .unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    let running = tokio::spawn(server.run(std::future::pending()));
    let count: usize = within("count", driver_text(&format!("{base}/getCaseCount"))).await.unwrap().parse().unwrap();
    assert_eq!(count, 5, "7.3.2 excluded: numbering over the selected cases");
    let info = within("info", driver_text(&format!("{base}/getCaseInfo?case=2"))).await.unwrap();
    assert_eq!(
        info,
        r#"{"id": "7.3.3", "description": "Send a close frame with payload length 2 (regular close with a code)"}"#
    );
    for n in 1..=count {
        within("case", tungstenite_client(format!("{base}/runCase?case={n}&agent=driver"), loopback())).await;
    }
    let status = within("status", driver_text(&format!("{base}/getCaseStatus?case=5&agent=driver"))).await;
    assert_eq!(status.as_deref(), Some(r#"{"behavior": "OK"}"#));
    let err = tokio_tungstenite::connect_async(format!("{base}/runCase?case=9&agent=driver")).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    let err = tokio_tungstenite::connect_async(format!("{base}/runCase?case=1")).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    within("update", driver_text(&format!("{base}/updateReports?agent=driver"))).await;
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).unwrap()).unwrap();
    let got: Vec<(&String, &serde_json::Value)> = index["driver"].as_object().unwrap().iter().collect();
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["7.3.1", "7.3.3", "7.3.4", "7.3.5", "7.3.6"]);
    assert!(got.iter().all(|(_, v)| v["behavior"] == "OK" && v["behaviorClose"] == "OK"), "{index}");
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("driver_case_7_3_3.json")).unwrap()).unwrap();
    assert_eq!(case["case"], 2);
    assert!(case["httpResponse"].as_str().unwrap().contains("Server: wstap/"));
    within("stop", driver_text(&format!("{base}/stopServer"))).await;
    within("server stops", running).await.unwrap();
}
