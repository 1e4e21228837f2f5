//! `wstap serve` driven like an Autobahn client driver, unchanged: by
//! tokio-tungstenite, and by Python `websockets` (which offers
//! permessage-deflate).

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
    assert!(err.to_string().contains("404"), "{err}");
    let err = tokio_tungstenite::connect_async(format!("{base}/runCase?case=1")).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
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

/// Runs `tests/python/echo_client.py` against `url`; true if it exited 0.
async fn python_client(url: String) -> bool {
    let mut child = tokio::process::Command::new("python3")
        .arg(crate::deflate::script("echo_client.py"))
        .arg(url)
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    within("python client", child.wait()).await.unwrap().success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_declines_permessage_deflate_in_category_7() {
    if !crate::deflate::have_websockets("serve_declines_permessage_deflate_in_category_7") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wanted = ["7.1.1", "7.3*", "7.5.1", "7.7.2", "7.9.1"].map(String::from);
    let cases = catalogue::select(catalogue::shipped(), &wanted, &[]).unwrap();
    let count = cases.len();
    let server = wstap::replay::serve::Server::bind(loopback(), cases, Settings::new(""), dir.path().to_path_buf())
        .await
        .unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    let running = tokio::spawn(server.run(std::future::pending()));
    let clients = (1..=count).map(|n| python_client(format!("{base}/runCase?case={n}&agent=py")));
    let exited = futures_util::future::join_all(clients).await;
    assert!(exited.iter().all(|ok| *ok), "{exited:?}");
    within("update", driver_text(&format!("{base}/updateReports?agent=py"))).await;
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).unwrap()).unwrap();
    let results = index["py"].as_object().unwrap();
    assert_eq!(results.len(), count, "{index}");
    for (id, entry) in results {
        assert_eq!((&entry["behavior"], &entry["behaviorClose"]), (&"OK".into(), &"OK".into()), "{id}: {index}");
        let file = dir.path().join(entry["reportfile"].as_str().unwrap());
        let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let (request, response) = (case["httpRequest"].as_str().unwrap(), case["httpResponse"].as_str().unwrap());
        assert!(request.contains("Sec-WebSocket-Extensions: permessage-deflate"), "{id}: {request}");
        assert!(response.starts_with("HTTP/1.1 101 "), "{id}: {response}");
        assert!(!response.to_ascii_lowercase().contains("sec-websocket-extensions"), "{id}: {response}");
    }
    within("stop", driver_text(&format!("{base}/stopServer"))).await;
    within("server stops", running).await.unwrap();
}

/// Sends `request` over raw TCP and returns the whole answer.
async fn raw_answer(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    within("answer", tcp.read_to_end(&mut answer)).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn serve_answers_client_mistakes_with_4xx_not_500() {
    let dir = tempfile::tempdir().unwrap();
    let cases = catalogue::select(catalogue::shipped(), &["7.1.1".into()], &[]).unwrap();
    let server = wstap::replay::serve::Server::bind(loopback(), cases, Settings::new(""), dir.path().to_path_buf())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let running = tokio::spawn(server.run(std::future::pending()));
    let plain = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    // What `curl http://HOST/getCaseCount` sends: not an upgrade.
    let answer = raw_answer(addr, plain("/getCaseCount").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{answer}");
    assert!(answer.contains("\r\nUpgrade: websocket\r\n") && answer.contains("needs a WebSocket upgrade"), "{answer}");
    let answer = raw_answer(addr, plain("/favicon.ico").as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 404 Not Found\r\n") && answer.contains("unknown path /favicon.ico"),
        "{answer}"
    );
    let answer = raw_answer(addr, b"\x16\x03\x01 not http at all\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    let base = format!("ws://{addr}");
    for (url, status) in [
        ("/getCaseInfo?case=2", "404"),
        ("/getCaseInfo?case=x", "400"),
        ("/getCaseInfo", "400"),
        ("/runCase?casetuple=9.9.9&agent=a", "404"),
        ("/runCase?case=1&agent=a&agent=b", "400"),
        ("/getCaseStatus?case=1", "400"),
        ("/updateReports", "400"),
        ("/nothing-here", "404"),
    ] {
        let err = tokio_tungstenite::connect_async(format!("{base}{url}")).await.unwrap_err();
        assert!(err.to_string().contains(status), "{url}: {err}");
    }
    let count = within("count", driver_text(&format!("{base}/getCaseCount"))).await;
    assert_eq!(count.as_deref(), Some("1"), "a good request after the bad ones");
    assert!(dir.path().read_dir().unwrap().next().is_none(), "nothing was stored or written");
    running.abort();
}
