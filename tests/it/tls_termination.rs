//! `--tls`: wstap terminates TLS from clients with a certificate from its
//! own CA (created on first use in a temporary config directory), and
//! `wstap ca` says how to trust it.

use crate::tlsutil::*;
use crate::util::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use wstap::session::{Direction, EventKind, TlsClose, TlsLeg};

fn wstap_ca(config: &std::path::Path) -> std::process::Output {
    Command::new(wstap_bin()).arg("ca").env("WSTAP_CONFIG_DIR", config).output().unwrap()
}

#[test]
fn wstap_ca_creates_the_ca_once_and_says_how_to_trust_it() {
    let config = tempfile::tempdir().unwrap();
    let first = wstap_ca(config.path());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out = String::from_utf8(first.stdout).unwrap();
    let ca = config.path().join("ca.pem");
    assert!(out.contains(&ca.display().to_string()), "{out}");
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(out.contains(&pem), "prints the PEM");
    for how in ["cafile=", "NODE_EXTRA_CA_CERTS=", "curl --cacert", "Firefox", "Chrome"] {
        assert!(out.contains(how), "{how}: {out}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config.path().join("ca.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let again = wstap_ca(config.path());
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), pem, "created once, then reused");
    assert!(String::from_utf8(again.stdout).unwrap().contains(&pem));
}

/// `wstap record --tls` on a free port with its CA in `config`; returns it
/// and the wss URL it says to connect to, with `localhost` for the host
/// (the name its leaf certificate is made for when the client sends SNI).
fn spawn_record_tls(config: &std::path::Path, out: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(wstap_bin())
        .args(["record", "--tls", "--listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .env("WSTAP_CONFIG_DIR", config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let url = line.split("connect to ").nth(1).unwrap_or_else(|| panic!("{line}")).trim().to_string();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    std::thread::spawn(move || lines.for_each(drop));
    (child, url.replace("127.0.0.1", "localhost"))
}

/// Ends the recorder with SIGINT (exit 0) and checks what the client sent
/// was recorded decrypted, with the client leg's TLS facts.
fn stop_and_check(mut child: std::process::Child, out: &std::path::Path, sent: &str) {
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let rec = wstap::store::load(&yaml_files(out)[0]).unwrap();
    let texts: Vec<String> = rec
        .events_in(Direction::ClientToServer)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => m.payload.as_text(),
            _ => None,
        })
        .collect();
    assert_eq!(texts, [sent], "decrypted");
    let info = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::Tls(t) => Some(t.clone()),
        _ => None,
    });
    let info = info.expect("a tls event");
    assert_eq!((info.leg, info.sni.as_deref()), (TlsLeg::Client, Some("localhost")));
    let cert = info.server_cert.unwrap();
    assert_eq!((cert.subject.as_str(), cert.issuer.as_str()), ("CN=localhost", "CN=wstap local CA,O=wstap"));
}

#[tokio::test]
async fn python_ssl_trusting_the_ca_talks_wss_through_record_tls() {
    if !python_websockets("python_ssl_trusting_the_ca_talks_wss_through_record_tls") {
        return;
    }
    let config = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (child, url) = spawn_record_tls(config.path(), out.path());
    let cafile = config.path().join("ca.pem");
    let client = tokio::process::Command::new("python3")
        .arg(crate::deflate::script("wss_client.py"))
        .args([url.as_str(), path_str(&cafile)])
        .output();
    let done = within("python client", client).await.unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success() && stdout.starts_with("OK"), "{stdout}{}", String::from_utf8_lossy(&done.stderr));
    wait_for_summaries(out.path(), 1).await;
    stop_and_check(child, out.path(), "hello from python ssl");
}

/// Node's TLS stack (OpenSSL) with ws and the `ca` option, trusting only
/// wstap's CA.
#[tokio::test]
async fn node_ws_trusting_the_ca_talks_wss_through_record_tls() {
    let test = "node_ws_trusting_the_ca_talks_wss_through_record_tls";
    if !crate::oracle::tools::ready(test, &[crate::oracle::tools::node_ws_with_proxy_agents()]) {
        return;
    }
    let config = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (child, url) = spawn_record_tls(config.path(), out.path());
    let cafile = config.path().join("ca.pem");
    node_ws_client(&url, &["--ca", path_str(&cafile), "--text", "hello from node ws"]).await;
    wait_for_summaries(out.path(), 1).await;
    stop_and_check(child, out.path(), "hello from node ws");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_recorded_with_its_alert() {
    let config = tempfile::tempdir().unwrap();
    let ca = Arc::new(wstap::tls::Ca::load_or_create(config.path()).unwrap());
    let tls = wstap::tls::ServerTls::new(wstap::tls::CertSource::Ca(ca), "127.0.0.1", None);
    let server = tungstenite_echo().await;
    let proxy = TestProxy::start_config(loopback(), server, move |c| c.client_tls = Some(tls)).await;
    // A real TLS client with no roots at all: it rejects wstap's certificate.
    let client_config = rustls::ClientConfig::builder_with_provider(wstap::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    assert!(within("handshake", connector.connect(name, tcp)).await.is_err());
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let end = rec.events.iter().find_map(|e| match &e.kind {
        EventKind::TlsEnd { leg, how, detail } => Some((*leg, *how, detail.clone().unwrap_or_default())),
        _ => None,
    });
    let (leg, how, detail) = end.expect("the client leg's end");
    assert_eq!((leg, how), (TlsLeg::Client, TlsClose::Alert), "{detail}");
    assert!(detail.contains("unknown_ca") && detail.contains("wstap ca"), "{detail}");
    assert!(rec.head(Direction::ClientToServer).is_none());
}
