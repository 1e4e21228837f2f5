//! Upstreams as users name them: host names resolved per connection,
//! `ws://` URLs, IPv6 literals, names that do not resolve, and a proxy
//! pointed at itself (refused, never recursing).

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wstap::net::Target;
use wstap::session::{Direction, EventKind, Recording};

/// A raw WebSocket server that answers one upgrade, sends one text frame,
/// and hands back the request head exactly as it arrived.
async fn head_server(bind: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if s.read(&mut byte).await.unwrap() == 0 {
                return head;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let key = text.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap_or_default();
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            wstap::wire::accept_key(key.trim())
        );
        s.write_all(&[reply.as_bytes(), b"\x81\x02hi"].concat()).await.unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        head
    });
    (addr, task)
}

/// Connects through `proxy`, reads the server's "hi", drops TCP.
async fn hello(proxy: &TestProxy) {
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    assert_eq!(within("hi", ws.next()).await.unwrap().unwrap(), Message::text("hi"));
}

/// Closes with 1000 and waits for the server's reply, then drops TCP.
async fn close(mut ws: Ws) {
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
}

async fn only_recording(proxy: TestProxy) -> Recording {
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    assert_eq!(recorded.len(), 1);
    wstap::store::load(&recorded[0].path).unwrap()
}

fn notes(rec: &Recording) -> Vec<(String, String)> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { kind, detail } => Some((kind.clone(), detail.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_hostname_upstream_is_resolved_and_its_host_header_rewritten_on_record() {
    let (server, head) = head_server(loopback()).await;
    let target = Target::parse(&format!("localhost:{}", server.port())).unwrap();
    let proxy = TestProxy::start(target).await;
    hello(&proxy).await;
    let forwarded = within("server head", head).await.unwrap();
    let rec = only_recording(proxy).await;

    let sent = rec.head(Direction::ClientToServer).and_then(|d| d.as_text()).unwrap();
    let got = String::from_utf8(forwarded).unwrap();
    assert!(sent.contains("Host: 127.0.0.1:"), "the recording keeps what the client sent: {sent}");
    assert!(got.contains(&format!("Host: localhost:{}\r\n", server.port())), "{got}");
    assert_eq!(got.replace(&format!("localhost:{}", server.port()), "X"), sent.replace(&host_of(&sent), "X"));
    let rewrite = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Rewrite { header, from, to, forwarded, len, .. } => Some((header, from, to, forwarded, *len)),
        _ => None,
    });
    let (header, from, to, data, len) = rewrite.expect("a rewrite event");
    assert_eq!((header.as_str(), to.clone()), ("Host", format!("localhost:{}", server.port())));
    assert_eq!(from.as_deref(), Some(host_of(&sent).as_str()));
    assert_eq!(data.as_text().unwrap(), got, "the event holds the bytes forwarded");
    assert_eq!(len, sent.len() as u64);
    assert_eq!(rec.server, format!("127.0.0.1:{}", server.port()), "the address reached");
    assert_eq!(rec.upstream.as_deref(), Some(format!("localhost:{}", server.port()).as_str()));
    assert_eq!(rec.stream(Direction::ClientToServer).unwrap()[..sent.len()], *sent.as_bytes());
}

fn host_of(head: &str) -> String {
    head.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap().trim().to_string()
}

#[tokio::test]
async fn keep_host_forwards_the_head_unchanged_for_a_ws_url() {
    let (server, head) = head_server(loopback()).await;
    let target = Target::parse(&format!("ws://localhost:{}/ignored", server.port())).unwrap();
    let proxy = TestProxy::start_config(loopback(), target, |c| c.keep_host = true).await;
    hello(&proxy).await;
    let forwarded = within("server head", head).await.unwrap();
    let rec = only_recording(proxy).await;
    let sent = rec.head(Direction::ClientToServer).and_then(|d| d.as_text()).unwrap();
    assert_eq!(String::from_utf8(forwarded).unwrap(), sent);
    assert!(!rec.events.iter().any(|e| matches!(e.kind, EventKind::Rewrite { .. })));
}

#[tokio::test]
async fn ipv6_literal_upstreams_work() {
    let server = tungstenite_echo_at(loopback_v6()).await;
    let target = Target::parse(&format!("[::1]:{}", server.port())).unwrap();
    let proxy = TestProxy::start(target).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    ws.send(Message::text("over v6")).await.unwrap();
    assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), Message::text("over v6"));
    close(ws).await;
    let rec = only_recording(proxy).await;
    assert_eq!(rec.server, format!("[::1]:{}", server.port()));
    assert_eq!(rec.upstream, None, "an address literal needs no second name");
    assert!(!rec.events.iter().any(|e| matches!(e.kind, EventKind::Rewrite { .. })), "no rewrite for literals");
}

#[tokio::test]
async fn every_address_of_a_name_is_tried_in_turn() {
    // localhost is ::1 and 127.0.0.1 here; a server on 127.0.0.1 only is
    // reached after ::1 refuses (or directly, if the resolver puts IPv4 first).
    let server = tungstenite_echo_at(loopback()).await;
    let addrs =
        wstap::net::connect::resolve(&Target::parse(&format!("localhost:{}", server.port())).unwrap()).await.unwrap();
    let proxy = TestProxy::start(Target::parse(&format!("localhost:{}", server.port())).unwrap()).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    ws.send(Message::text("x")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    close(ws).await;
    let rec = only_recording(proxy).await;
    let before = addrs.iter().take_while(|a| **a != server).count();
    let failed: Vec<_> = notes(&rec).into_iter().filter(|(k, _)| k == "connect_failed").collect();
    assert_eq!(failed.len(), before, "one note per address that refused: {failed:?}");
    for (_, detail) in &failed {
        assert!(detail.starts_with(&format!("localhost:{}: ", server.port())), "names the host: {detail}");
    }
}

#[tokio::test]
async fn an_unresolvable_name_is_recorded_with_the_name() {
    let proxy = TestProxy::start(Target::parse("no-such-host.invalid:80").unwrap()).await;
    let err = tokio_tungstenite::connect_async(proxy.url()).await;
    assert!(err.is_err(), "no upstream, no upgrade");
    let rec = only_recording(proxy).await;
    let notes = notes(&rec);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "resolve_failed");
    assert!(notes[0].1.starts_with("cannot resolve the upstream no-such-host.invalid: "), "{}", notes[0].1);
    let rst = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Rst { error } => error.clone(),
        _ => None,
    });
    assert!(rst.unwrap().contains("no-such-host.invalid"));
    assert_eq!(rec.server, "no-such-host.invalid:80");
}

/// A port nothing listens on (bound, then released).
async fn free_port() -> u16 {
    TcpListener::bind(loopback()).await.unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_proxy_pointed_at_itself_refuses_once_and_does_not_recurse() {
    let port = free_port().await;
    let listen: SocketAddr = ([127, 0, 0, 1], port).into();
    let proxy = TestProxy::start_with(listen, Target::parse(&format!("localhost:{port}")).unwrap(), None).await;
    assert!(tokio_tungstenite::connect_async(proxy.url()).await.is_err());
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    assert_eq!(recorded.len(), 1, "one connection, one recording: {recorded:?}");
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let notes = notes(&rec);
    let (kind, detail) = notes.last().unwrap();
    assert_eq!(kind, "loop_refused", "{notes:?}");
    assert!(detail.contains("this proxy's own listen address"), "{detail}");
}

#[test]
fn record_refuses_to_start_pointed_at_itself() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = tempfile::tempdir().unwrap();
    for upstream in [format!("127.0.0.1:{port}"), format!("ws://localhost:{port}")] {
        let run = std::process::Command::new(wstap_bin())
            .args(["record", "--listen", &format!(":{port}"), "--upstream", &upstream, "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is this proxy's own listen address"), "{stderr}");
    }
    let bad = std::process::Command::new(wstap_bin()).args(["record", "--upstream", "localhost"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr.contains("no port"), "{stderr}");
}
