//! `record --proxy`: a real client (Python websockets' proxy support)
//! reaches wss and ws servers through wstap as an HTTP proxy; TLS tunnels
//! are intercepted with wstap's CA, or passed through with --no-intercept
//! and named as TLS; each tunnel's recording names its target.

use crate::deflate::{py_server_from, script};
use crate::tlsutil::*;
use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use wstap::session::{EventKind, Recording, TlsLeg};

/// `wstap record --proxy` with `extra` flags; returns it and its address.
fn spawn_proxy(config: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(wstap_bin())
        .args(["record", "--proxy", "--listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .args(extra)
        .env("WSTAP_CONFIG_DIR", config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let addr = line.split("HTTP proxy on ").nth(1).and_then(|r| r.split(':').next().map(|_| r));
    let addr = addr.unwrap_or_else(|| panic!("{line}")).split(": ").next().unwrap().to_string();
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

async fn client(url: &str, proxy: &str, cafile: &str) {
    let run = tokio::process::Command::new("python3")
        .arg(script("proxy_client.py"))
        .args([url, &format!("http://{proxy}"), cafile])
        .output();
    let out = within("python client through the proxy", run).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{url}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stop(mut child: Child) {
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

fn recordings(dir: &std::path::Path) -> Vec<Recording> {
    yaml_files(dir).iter().map(|f| wstap::store::load(f).unwrap()).collect()
}

fn texts(rec: &Recording) -> Vec<String> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            // node ws offers permessage-deflate: its text is the inflated data.
            EventKind::Message(m) => m.inflated.as_ref().map_or(&m.payload, |i| &i.data).as_text(),
            _ => None,
        })
        .collect()
}

fn legs(rec: &Recording) -> Vec<TlsLeg> {
    rec.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Tls(t) => Some(t.leg),
            _ => None,
        })
        .collect()
}

/// A wss and a ws python echo server on localhost (the wss one with a leaf
/// from a test CA), and `record --proxy` trusting that CA upstream.
struct Setup {
    ca: TestCa,
    _leaf: Leaf,
    wss: crate::deflate::PyServer,
    ws: crate::deflate::PyServer,
    config: tempfile::TempDir,
    out: tempfile::TempDir,
    proxy: Child,
    addr: String,
}

impl Setup {
    async fn start() -> Setup {
        let ca = TestCa::new("wstap test CA");
        let leaf = ca.leaf("localhost", &["localhost"], false);
        let tls = json!({"cert": path_str(&leaf.cert), "key": path_str(&leaf.key)});
        let wss = py_server_from("wss_echo_server.py", &tls).await;
        let ws = py_server_from("pmd_echo_server.py", &json!({})).await;
        let config = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let (proxy, addr) = spawn_proxy(config.path(), out.path(), &["--upstream-ca", path_str(&ca.ca_file())]);
        Setup { ca, _leaf: leaf, wss, ws, config, out, proxy, addr }
    }
}

#[tokio::test]
async fn python_clients_through_the_proxy_to_wss_and_ws_servers_are_recorded_by_target() {
    if !python_websockets("python_clients_through_the_proxy_to_wss_and_ws_servers_are_recorded_by_target") {
        return;
    }
    let Setup { ca, wss, ws, config, out, proxy, addr, _leaf } = Setup::start().await;
    // The client trusts wstap's CA (created by the proxy on start) for the intercepted tunnel.
    let wstap_ca = config.path().join("ca.pem");
    let wss_url = format!("wss://localhost:{}/", wss.port);
    let ws_url = format!("ws://localhost:{}/", ws.port);
    client(&wss_url, &addr, path_str(&wstap_ca)).await;
    client(&ws_url, &addr, "").await;
    wait_for_summaries(out.path(), 2).await;
    stop(proxy);
    let recs = recordings(out.path());
    assert_eq!(recs.len(), 2);
    for (rec, port, url, want_legs) in
        [(&recs[0], wss.port, &wss_url, vec![TlsLeg::Client, TlsLeg::Upstream]), (&recs[1], ws.port, &ws_url, vec![])]
    {
        assert_eq!(rec.upstream.as_deref(), Some(format!("localhost:{port}").as_str()), "names the target");
        assert_eq!(texts(rec), [format!("through the proxy to {url}"), format!("through the proxy to {url}")]);
        assert_eq!(legs(rec), want_legs, "{url}");
        assert!(rec.events.iter().any(|e| matches!(&e.kind, EventKind::Note { kind, .. } if kind == "proxy_request")));
        assert_eq!(rec.summary().violations, 0);
    }

    // --no-intercept: the TLS is passed through (the client now trusts the real server's CA).
    let out = tempfile::tempdir().unwrap();
    let (proxy, addr) = spawn_proxy(config.path(), out.path(), &["--no-intercept", "local*"]);
    client(&wss_url, &addr, path_str(&ca.ca_file())).await;
    wait_for_summaries(out.path(), 1).await;
    stop(proxy);
    let rec = &recordings(out.path())[0];
    let raw: Vec<&String> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Raw { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(!raw.is_empty());
    for reason in raw {
        assert!(reason.starts_with("TLS (ClientHello for localhost), not decrypted: passed through"), "{reason}");
        assert!(reason.contains("--no-intercept local*"), "{reason}");
    }
    assert_eq!(legs(rec), [TlsLeg::Passthrough]);
}

/// node ws configured the way node users set a proxy: an
/// `https-proxy-agent` (CONNECT, then TLS inside, intercepted with wstap's
/// CA) for wss, an `http-proxy-agent` (absolute-URI GET) for ws.
#[tokio::test]
async fn node_ws_through_proxy_agents_to_wss_and_ws_servers_is_recorded_by_target() {
    let test = "node_ws_through_proxy_agents_to_wss_and_ws_servers_is_recorded_by_target";
    let needs = [crate::oracle::tools::node_ws_with_proxy_agents(), crate::oracle::tools::python_websockets()];
    if !crate::oracle::tools::ready(test, &needs) {
        return;
    }
    let Setup { ca: _ca, wss, ws, config, out, proxy, addr, _leaf } = Setup::start().await;
    let wstap_ca = config.path().join("ca.pem");
    let proxy_url = format!("http://{addr}");
    let wss_url = format!("wss://localhost:{}/", wss.port);
    let ws_url = format!("ws://localhost:{}/", ws.port);
    node_ws_client(&wss_url, &["--proxy", &proxy_url, "--ca", path_str(&wstap_ca), "--text", "node via CONNECT"]).await;
    wait_for_summaries(out.path(), 1).await;
    node_ws_client(&ws_url, &["--proxy", &proxy_url, "--text", "node via GET"]).await;
    wait_for_summaries(out.path(), 2).await;
    stop(proxy);
    let recs = recordings(out.path());
    assert_eq!(recs.len(), 2);
    for (rec, port, text, want_legs) in [
        (&recs[0], wss.port, "node via CONNECT", vec![TlsLeg::Client, TlsLeg::Upstream]),
        (&recs[1], ws.port, "node via GET", vec![]),
    ] {
        assert_eq!(rec.upstream.as_deref(), Some(format!("localhost:{port}").as_str()), "names the target");
        assert_eq!(texts(rec), [text, text], "sent and echoed");
        assert_eq!(legs(rec), want_legs, "{text}");
        assert_eq!(rec.summary().violations, 0);
    }
}

#[tokio::test]
async fn tls_to_a_plain_listener_is_named_as_tls_not_as_not_http() {
    let ca = TestCa::new("wstap test CA");
    let server = rustls_echo(&ca.leaf("localhost", &["localhost"], false)).await;
    let proxy = TestProxy::start(server).await;
    // A wss client pointed at a plaintext `record`: its TLS passes through.
    let config = rustls::ClientConfig::builder_with_provider(wstap::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates({
            let mut roots = rustls::RootCertStore::empty();
            use rustls::pki_types::pem::PemObject;
            roots.add(rustls::pki_types::CertificateDer::from_pem_file(ca.ca_file()).unwrap()).unwrap();
            roots
        })
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = within("handshake through the relay", connector.connect(name, tcp)).await.unwrap();
    let (mut ws, _) = within("upgrade", tokio_tungstenite::client_async("wss://localhost/", tls)).await.unwrap();
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text("opaque")).await.unwrap();
    within("echo", ws.next()).await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
    drop(ws);
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let reasons: Vec<String> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Raw { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(!reasons.is_empty());
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("TLS (ClientHello for localhost), not decrypted") && !r.contains("not HTTP")),
        "{reasons:?}"
    );
    assert_eq!(legs(&rec), [TlsLeg::Passthrough]);
}
