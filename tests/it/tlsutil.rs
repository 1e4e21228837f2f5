//! Certificates made in the test (rcgen), and real TLS servers to use them.

#![allow(dead_code)]

use crate::util::within;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// A test CA that signs leaf certificates, written as PEM files in `dir`.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub cert_pem: String,
}

/// A leaf certificate and its key, as PEM files.
pub struct Leaf {
    _dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_pem = cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &cert_pem).unwrap();
        TestCa { dir, issuer: rcgen::Issuer::new(params, key), cert_pem }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A leaf for `names`; `expired` makes it end a day ago.
    pub fn leaf(&self, file: &str, names: &[&str], expired: bool) -> Leaf {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
        if expired {
            let now = rcgen::date_time_ymd(2020, 1, 1);
            params.not_before = now;
            params.not_after = rcgen::date_time_ymd(2020, 1, 2);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join(format!("{file}.pem")), dir.path().join(format!("{file}.key")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        Leaf { _dir: dir, cert: cert_path, key: key_path, cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }
}

/// A tokio-rustls WebSocket echo server (tokio-tungstenite over TLS) with `leaf`.
pub async fn rustls_echo(leaf: &Leaf) -> std::net::SocketAddr {
    use futures_util::{SinkExt, StreamExt};
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&leaf.cert).unwrap().map(Result::unwrap).collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(wstap::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(crate::util::loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Python with `websockets` (see [`crate::util::have`]).
pub fn python_websockets(test: &str) -> bool {
    crate::util::have(crate::util::Tool::PythonWebsockets, test)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `tests/peers/node/wss_client.js` (node ws) against `url` with
/// `args` (`--ca FILE`, `--proxy URL`) and asserts it printed `OK` and
/// exited 0: it sends one text message, expects the echo, closes with 1000.
pub async fn node_ws_client(url: &str, args: &[&str]) -> String {
    let script = crate::oracle::tools::peers_dir().join("node/wss_client.js");
    let run = tokio::process::Command::new("node").arg(script).arg(url).args(args).output();
    let out = within("node ws client", run).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "node ws client {url} {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
