//! The recording proxy: accept, connect upstream, relay, record.
//!
//! Every accepted connection gets its own upstream connection
//! ([`upstream::connect`], bounded by a timeout and by shutdown) and a
//! [`relay`](relay::relay); one [`recorder`] thread writes the recordings
//! of all connections. On shutdown the listener stops, pending upstream
//! connects are cancelled, open connections are closed, and every recording
//! is finalised before [`Proxy::run`] returns.

pub mod recorder;
pub mod relay;
pub mod upstream;

use crate::session::{FORMAT_VERSION, Recording, time};
use recorder::{Recorded, Recorder};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the proxy needs to run.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Where the real server listens.
    pub upstream: SocketAddr,
    /// Directory for recordings (created if missing).
    pub out_dir: PathBuf,
    /// `source` written into each recording.
    pub source: String,
    /// Also write a capture of each connection beside its recording
    /// (`<name>.pcap` or `.pcapng`), from the recorder thread.
    pub pcap: Option<crate::pcap::Format>,
    /// Longest wait for the upstream to accept a connection
    /// ([`upstream::connect`]); a timeout ends the recording with a reset.
    pub connect_timeout: std::time::Duration,
}

impl ProxyConfig {
    /// Recording into `out_dir` in front of `upstream`, marked `source`;
    /// no capture, the default connect timeout.
    pub fn new(upstream: SocketAddr, out_dir: impl Into<PathBuf>, source: &str) -> ProxyConfig {
        ProxyConfig {
            upstream,
            out_dir: out_dir.into(),
            source: source.to_string(),
            pcap: None,
            connect_timeout: upstream::DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// A bound, not yet running, recording proxy.
pub struct Proxy {
    listener: crate::accept::Acceptor,
    config: ProxyConfig,
}

impl Proxy {
    /// Binds the listener and creates the output directory.
    pub async fn bind(listen: SocketAddr, config: ProxyConfig) -> io::Result<Proxy> {
        std::fs::create_dir_all(&config.out_dir)?;
        let listener = crate::accept::Acceptor::new(TcpListener::bind(listen).await?, "record");
        Ok(Proxy { listener, config })
    }

    /// The address clients should connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and records connections until `shutdown` completes, then
    /// closes open connections and waits for every recording to be final.
    /// Returns what was recorded, in order of completion.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Vec<Recorded> {
        let (recorder, recorder_thread) = match Recorder::start() {
            Ok(started) => started,
            Err(e) => {
                tracing::error!("cannot start the recorder: {e}");
                return Vec::new();
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let seq = AtomicU64::new(0);
        let mut conns = JoinSet::new();
        let mut done = Vec::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                (client, peer) = self.listener.accept() => {
                    let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
                    conns.spawn(connection(client, peer, n, self.config.clone(), recorder.clone(), stop_rx.clone()));
                }
                Some(finished) = conns.join_next(), if !conns.is_empty() => collect(finished, &mut done),
                _ = &mut shutdown => break,
            }
        }
        drop(self.listener);
        let _ = stop.send(true);
        while let Some(finished) = conns.join_next().await {
            collect(finished, &mut done);
        }
        drop(recorder);
        if tokio::task::spawn_blocking(move || recorder_thread.join()).await.is_err() {
            tracing::error!("the recorder thread failed");
        }
        done
    }
}

fn collect(finished: Result<io::Result<Recorded>, tokio::task::JoinError>, done: &mut Vec<Recorded>) {
    match finished {
        Ok(Ok(rec)) => done.push(rec),
        Ok(Err(e)) => tracing::error!("recording failed: {e}"),
        Err(e) => tracing::error!("connection task failed: {e}"),
    }
}

async fn connection(
    client: TcpStream,
    peer: SocketAddr,
    seq: u64,
    config: ProxyConfig,
    recorder: Recorder,
    mut stop: watch::Receiver<bool>,
) -> io::Result<Recorded> {
    let t0 = Instant::now();
    let started = time::unix_micros(SystemTime::now());
    let path = config.out_dir.join(crate::store::recording_file_name(started, seq));
    let header = Recording {
        wstap_recording: FORMAT_VERSION,
        started: time::rfc3339_micros(started),
        client: peer.to_string(),
        server: config.upstream.to_string(),
        source: Some(config.source.clone()),
        ..Recording::default()
    };
    let pcap = config.pcap.map(|format| recorder::PcapOut { format, client: peer, server: config.upstream, started });
    let (tx, outcome) = recorder.open(seq, header, path, pcap).await;
    match upstream::connect(config.upstream, config.connect_timeout, &mut stop).await {
        Ok(server) => relay::relay(client, server, tx.clone(), t0, stop).await,
        Err(e) => {
            tracing::warn!("connection {seq} from {peer}: upstream {}: {e}", config.upstream);
            let end = recorder::Tap::End {
                dir: crate::session::Direction::ServerToClient,
                at: t0.elapsed().as_micros() as u64,
                how: crate::session::TcpEnd::Rst,
                error: Some(e.to_string()),
            };
            tx.send(end).await;
        }
    }
    tx.close().await;
    let recorded = outcome.await.map_err(|_| io::Error::other("the recorder thread is gone"))??;
    tracing::info!("recorded {} ({} events)", recorded.path.display(), recorded.events);
    Ok(recorded)
}
