//! `replay --tls` and `serve --tls`: clients that only speak wss are
//! judged as ws clients are; the observed recordings hold the TLS facts.

use crate::tlsutil::*;
use crate::util::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use wstap::session::{EventKind, TlsLeg};

#[test]
fn replay_tls_judges_a_python_wss_client_trusting_the_ca() {
    if !python_websockets("replay_tls_judges_a_python_wss_client_trusting_the_ca") {
        return;
    }
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("observed");
    let report = dir.path().join("report");
    let out = Command::new(wstap_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["replay", "scenarios", "--cases", "7.1.1,7.3.1", "--tls", "--agent", "py"])
        .args(["--client", "python3 tests/python/echo_client.py {url}", "--record-dir"])
        .arg(&record)
        .arg("--report")
        .arg(&report)
        .env("WSTAP_CONFIG_DIR", config.path())
        // Python's default context trusts this file: the CA wstap creates at startup.
        .env("SSL_CERT_FILE", config.path().join("ca.pem"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("2 cases: 2 passed"), "{stdout}");
    let files = yaml_files(&record);
    assert_eq!(files.len(), 2);
    for f in files {
        let rec = wstap::store::load(&f).unwrap();
        let tls = rec.events.iter().find_map(|e| match &e.kind {
            EventKind::Tls(t) => Some(t.clone()),
            _ => None,
        });
        let tls = tls.unwrap_or_else(|| panic!("{}: no tls event", f.display()));
        assert_eq!(tls.leg, TlsLeg::Client);
        assert_eq!(tls.server_cert.unwrap().subject, "CN=127.0.0.1");
        assert!(rec.summary().upgraded, "decrypted and judged");
    }
    // The reports note the TLS facts (wstap's addition to Autobahn's fields).
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("index.json")).unwrap()).unwrap();
    let file = index["py"]["7.1.1"]["reportfile"].as_str().unwrap();
    let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.join(file)).unwrap()).unwrap();
    let tls = &case["tls"];
    assert_eq!((tls["leg"].as_str(), tls["version"].as_str()), (Some("client"), Some("TLSv1.3")), "{tls}");
    assert_eq!(tls["server_cert"]["issuer"].as_str(), Some("CN=wstap local CA,O=wstap"), "{tls}");
    let text = std::fs::read_to_string(report.join(file.replace(".json", ".txt"))).unwrap();
    assert!(text.contains("\nTLS\n\nTLSv1.3, TLS13_"), "{text}");
    assert!(text.contains("certificate CN=127.0.0.1 issued by CN=wstap local CA,O=wstap"), "{text}");
    let html = std::fs::read_to_string(report.join(file.replace(".json", ".html"))).unwrap();
    assert!(html.contains("<h2>TLS</h2>"), "html notes TLS too");
}

#[tokio::test]
async fn serve_tls_answers_a_wss_driver() {
    use futures_util::StreamExt;
    let config = tempfile::tempdir().unwrap();
    let mut child = Command::new(wstap_bin())
        .args(["serve", "--tls", "--listen", "127.0.0.1:0", "--cases", "7.*", "--report"])
        .arg(config.path().join("reports"))
        .env("WSTAP_CONFIG_DIR", config.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let url = line.split(" on ").nth(1).unwrap_or_else(|| panic!("{line}")).trim().to_string();
    assert!(url.starts_with("wss://127.0.0.1:"), "{line}");
    std::thread::spawn(move || lines.for_each(drop));
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots.add(rustls::pki_types::CertificateDer::from_pem_file(config.path().join("ca.pem")).unwrap()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(wstap::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let addr = url.trim_start_matches("wss://").trim_end_matches('/').to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let stream = within("TLS handshake", connector.connect(name, tcp)).await.unwrap();
    let request = format!("{url}getCaseCount");
    let (mut ws, _) = within("upgrade", tokio_tungstenite::client_async(request, stream)).await.unwrap();
    let first = within("count", ws.next()).await.unwrap().unwrap();
    assert_eq!(first.into_text().unwrap().as_str(), "37");
    drop(ws);
    let _ = child.kill();
    let _ = child.wait();
}
