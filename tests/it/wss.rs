//! wss upstreams: wstap originates TLS to real TLS servers (Python's ssl
//! through websockets, rustls), records the decrypted session and the TLS
//! facts, and turns every certificate failure into its own clear error.

use crate::deflate::py_server_from;
use crate::tlsutil::*;
use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wstap::net::Target;
use wstap::session::{Direction, EventKind, Recording, TlsClose, TlsInfo, TlsLeg};
use wstap::tls::{UpstreamOptions, UpstreamTls};

fn trusting(ca: &TestCa) -> impl FnOnce(&mut wstap::proxy::ProxyConfig) {
    let tls = UpstreamTls::new(&UpstreamOptions { extra_roots: vec![ca.ca_file()], ..Default::default() }).unwrap();
    move |c| c.upstream_tls = Some(tls)
}

/// A `tls_end` event's fields.
pub type TlsEnd = (TlsLeg, TlsClose, Option<String>);

pub fn tls_events(rec: &Recording) -> (Vec<TlsInfo>, Vec<TlsEnd>) {
    let mut infos = Vec::new();
    let mut ends = Vec::new();
    for e in &rec.events {
        match &e.kind {
            EventKind::Tls(info) => infos.push(info.clone()),
            EventKind::TlsEnd { leg, how, detail } => ends.push((*leg, *how, detail.clone())),
            _ => {}
        }
    }
    (infos, ends)
}

/// Payloads of the messages sent in `dir`, as BLAKE3 (a digest-only
/// message's recorded digest, which format 2 spells in BLAKE3).
pub fn message_hashes(rec: &Recording, dir: Direction) -> Vec<String> {
    rec.events_in(dir)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(match &m.payload {
                wstap::session::Data::Blake3(digest) => digest.clone(),
                data => digest(&rec.data_bytes(data).unwrap()),
            }),
            _ => None,
        })
        .collect()
}

/// Sends three messages (text, binary, 200 KiB) and checks the echoes;
/// returns their hashes.
pub async fn echo_three(mut ws: Ws) -> Vec<String> {
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    let sent = [Message::text("hello over wss"), Message::binary(vec![0u8, 1, 2, 255]), Message::binary(big)];
    for m in &sent {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(&within("echo", ws.next()).await.unwrap().unwrap(), m);
    }
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
    sent.iter().map(|m| digest(&m.clone().into_data())).collect()
}

#[tokio::test]
async fn a_python_wss_server_is_recorded_decrypted_with_its_tls_facts() {
    if !python_websockets("a_python_wss_server_is_recorded_decrypted_with_its_tls_facts") {
        return;
    }
    let ca = TestCa::new("wstap test CA");
    let leaf = ca.leaf("localhost", &["localhost"], false);
    let settings = json!({"cert": path_str(&leaf.cert), "key": path_str(&leaf.key)});
    let server = py_server_from("wss_echo_server.py", &settings).await;
    let target = Target::parse(&format!("wss://localhost:{}", server.port)).unwrap();
    let proxy = TestProxy::start_config(loopback(), target, trusting(&ca)).await;
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    let sent = echo_three(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();

    assert_eq!(message_hashes(&rec, Direction::ClientToServer), sent, "c2s as the client sent it");
    assert_eq!(message_hashes(&rec, Direction::ServerToClient), sent, "s2c as the server echoed it");
    assert_eq!(rec.summary().violations, 0);
    assert_eq!(rec.upstream.as_deref(), Some(format!("wss://localhost:{}", server.port).as_str()));
    let (infos, ends) = tls_events(&rec);
    assert_eq!(infos.len(), 1, "{infos:?}");
    let t = &infos[0];
    assert_eq!((t.leg, t.sni.as_deref(), t.alpn.as_deref()), (TlsLeg::Upstream, Some("localhost"), Some("http/1.1")));
    assert_eq!(t.version.as_deref(), Some("TLSv1.3"));
    assert!(t.cipher_suite.as_deref().is_some_and(|s| s.starts_with("TLS13_")), "{t:?}");
    let cert = t.server_cert.as_ref().unwrap();
    assert_eq!((cert.subject.as_str(), cert.issuer.as_str()), ("CN=localhost", "CN=wstap test CA"));
    let upstream_end = ends.iter().find(|(leg, ..)| *leg == TlsLeg::Upstream).expect("the upstream leg's end");
    assert!(matches!(upstream_end.1, TlsClose::CloseNotify | TlsClose::NoCloseNotify), "{ends:?}");
    let head = rec.head(Direction::ClientToServer).and_then(|h| h.as_text()).unwrap();
    let rewritten = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Rewrite { to, .. } => Some(to.clone()),
        _ => None,
    });
    assert_eq!(rewritten.as_deref(), Some(format!("localhost:{}", server.port).as_str()), "{head}");
}

/// Connects through a proxy in front of `upstream`; the upgrade must fail.
/// Returns the recording's TLS ending and reset error.
async fn failing(ca: &TestCa, upstream: std::net::SocketAddr, name: &str) -> (TlsClose, String, String) {
    let target = Target::parse(&format!("wss://{name}:{}", upstream.port())).unwrap();
    let proxy = TestProxy::start_config(loopback(), target, trusting(ca)).await;
    assert!(tokio_tungstenite::connect_async(proxy.url()).await.is_err());
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let (infos, ends) = tls_events(&rec);
    assert!(infos.is_empty(), "no handshake completed: {infos:?}");
    assert_eq!(ends.len(), 1, "{ends:?}");
    let (leg, how, detail) = ends[0].clone();
    assert_eq!(leg, TlsLeg::Upstream);
    let rst = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Rst { error } if e.dir == Direction::ServerToClient => error.clone(),
        _ => None,
    });
    assert!(rec.head(Direction::ClientToServer).is_none() || !rec.summary().upgraded);
    (how, detail.unwrap(), rst.expect("the connection's end"))
}

#[tokio::test]
async fn certificate_failures_each_say_what_is_wrong() {
    let ca = TestCa::new("wstap test CA");
    let cases = [
        ("expired", ca.leaf("expired", &["localhost"], true), "the certificate has expired"),
        ("wrong name", ca.leaf("other", &["other.example"], false), "not valid for the name localhost"),
        (
            "unknown CA",
            TestCa::new("somebody else's CA").leaf("stranger", &["localhost"], false),
            "issuer is not trusted",
        ),
    ];
    for (what, leaf, expect) in cases {
        let server = rustls_echo(&leaf).await;
        let (how, detail, rst) = failing(&ca, server, "localhost").await;
        assert_eq!(how, TlsClose::Failed, "{what}");
        assert!(detail.starts_with("certificate verification failed for localhost: "), "{what}: {detail}");
        assert!(detail.contains(expect), "{what}: {detail}");
        assert_eq!(rst, detail, "{what}: the reset carries the same reason");
    }
}

#[tokio::test]
async fn insecure_upstream_accepts_any_certificate_and_says_so() {
    let leaf = TestCa::new("untrusted").leaf("x", &["localhost"], true);
    let server = rustls_echo(&leaf).await;
    let target = Target::parse(&format!("wss://localhost:{}", server.port())).unwrap();
    let tls = UpstreamTls::new(&UpstreamOptions { insecure: true, ..Default::default() }).unwrap();
    let proxy = TestProxy::start_config(loopback(), target, move |c| c.upstream_tls = Some(tls)).await;
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    echo_three(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    assert!(rec.events.iter().any(|e| matches!(&e.kind, EventKind::Note { kind, .. } if kind == "insecure_upstream")));
    assert_eq!(tls_events(&rec).0.len(), 1);
}
