//! Shared helpers: peers, the in-process proxy, timeouts.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wstap::proxy::{Proxy, ProxyConfig, recorder::Recorded};

/// Generous bound for any single step; tests wait on readiness, never sleep.
pub const STEP: Duration = Duration::from_secs(20);

pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

pub fn loopback_v6() -> SocketAddr {
    (std::net::Ipv6Addr::LOCALHOST, 0).into()
}

/// A tokio-tungstenite echo server (messages echoed; pings answered by the library).
pub async fn tungstenite_echo() -> SocketAddr {
    tungstenite_echo_at(loopback()).await
}

/// [`tungstenite_echo`] listening on `bind` (port 0 for any).
pub async fn tungstenite_echo_at(bind: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
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

/// An in-process recording proxy.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Vec<Recorded>>,
}

impl TestProxy {
    pub async fn start(upstream: SocketAddr) -> TestProxy {
        TestProxy::start_with(loopback(), upstream, None).await
    }

    /// A proxy listening on `listen`, optionally writing captures.
    pub async fn start_with(listen: SocketAddr, upstream: SocketAddr, pcap: Option<wstap::pcap::Format>) -> TestProxy {
        let dir = tempfile::tempdir().unwrap();
        let config = ProxyConfig { upstream, out_dir: dir.path().to_path_buf(), source: "test".into(), pcap };
        let proxy = Proxy::bind(listen, config).await.unwrap();
        let addr = proxy.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(proxy.run(async {
            let _ = stopped.await;
        }));
        TestProxy { addr, dir, stop: Some(stop), task }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/test", self.addr)
    }

    /// Stops the proxy and returns every finalised recording, sorted by file name.
    pub async fn finish(mut self) -> (Vec<Recorded>, tempfile::TempDir) {
        let _ = self.stop.take().unwrap().send(());
        let mut done = within("proxy shutdown", self.task).await.unwrap();
        done.sort_by(|a, b| a.path.cmp(&b.path));
        (done, self.dir)
    }
}

/// Waits until `n` recordings in `dir` are finalised (their summary written).
pub async fn wait_for_summaries(dir: &Path, n: usize) {
    within("recordings finalised", async {
        loop {
            let done = yaml_files(dir)
                .iter()
                .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\nsummary:\n")))
                .count();
            if done >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// The recording files (YAML) in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

pub fn sha256(bytes: &[u8]) -> String {
    wstap::session::data::sha256_hex(bytes)
}

/// Path of the real binary.
pub fn wstap_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wstap")
}
