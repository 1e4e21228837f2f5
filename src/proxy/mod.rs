//! The recording proxy: accept, connect upstream, relay, record.
//!
//! Every accepted connection gets its own upstream connection and a
//! [`relay`](relay::relay); one [`recorder`] thread writes the recordings
//! of all connections. The upstream is named by a [`Target`]: a name is
//! resolved for each connection and its addresses tried in turn
//! ([`crate::net::connect`]); failures are recorded with the name. A
//! connection whose upstream turns out to be the proxy itself is refused
//! (and the looped-back connection dropped at accept), so a proxy pointed
//! at itself cannot recurse. On shutdown the listener stops, open
//! connections are closed, and every recording is finalised before
//! [`Proxy::run`] returns.

pub mod host;
pub mod recorder;
pub mod relay;

use crate::net::{ConnectError, LoopGuard, Target};
use crate::session::{Direction, EventKind, FORMAT_VERSION, Recording, TcpEnd, time};
use recorder::{Recorded, Recorder, Tap, TapSender};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the proxy needs to run.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Where the real server listens.
    pub upstream: Target,
    /// Directory for recordings (created if missing).
    pub out_dir: PathBuf,
    /// `source` written into each recording.
    pub source: String,
    /// Also write a capture of each connection beside its recording
    /// (`<name>.pcap` or `.pcapng`), from the recorder thread.
    pub pcap: Option<crate::pcap::Format>,
    /// Forward the client's `Host` header unchanged even when the upstream
    /// is a host name (by default it is rewritten to name the upstream).
    pub keep_host: bool,
}

impl ProxyConfig {
    /// A configuration with the defaults: no capture, `Host` rewritten for
    /// hostname upstreams.
    pub fn new(upstream: impl Into<Target>, out_dir: impl Into<PathBuf>, source: &str) -> ProxyConfig {
        ProxyConfig {
            upstream: upstream.into(),
            out_dir: out_dir.into(),
            source: source.into(),
            pcap: None,
            keep_host: false,
        }
    }

    /// The `Host` value to forward, if the rule applies.
    fn host_rewrite(&self) -> Option<host::HostRewrite> {
        let named = self.upstream.name().is_some() && !self.keep_host;
        named.then(|| host::HostRewrite::new(self.upstream.host_header()))
    }
}

/// A bound, not yet running, recording proxy.
pub struct Proxy {
    listener: TcpListener,
    config: ProxyConfig,
    guard: Arc<LoopGuard>,
}

impl Proxy {
    /// Binds the listener and creates the output directory.
    pub async fn bind(listen: SocketAddr, config: ProxyConfig) -> io::Result<Proxy> {
        std::fs::create_dir_all(&config.out_dir)?;
        let listener = TcpListener::bind(listen).await?;
        let guard = LoopGuard::new(listener.local_addr()?);
        Ok(Proxy { listener, config, guard })
    }

    /// The address clients should connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and records connections until `shutdown` completes, then
    /// closes open connections and waits for every recording to be final.
    /// Returns what was recorded, in order of completion.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Vec<Recorded> {
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
                accepted = self.listener.accept() => match accepted {
                    Ok((client, peer)) if self.is_own(&client, peer) => {
                        tracing::warn!("dropped a connection from this proxy's own upstream socket {peer} (a loop)");
                    }
                    Ok((client, peer)) => {
                        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
                        let conn = Conn {
                            client,
                            peer,
                            seq: n,
                            config: self.config.clone(),
                            guard: self.guard.clone(),
                        };
                        conns.spawn(conn.run(recorder.clone(), stop_rx.clone()));
                    }
                    Err(e) => tracing::warn!("accept failed: {e}"),
                },
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

    fn is_own(&self, client: &TcpStream, peer: SocketAddr) -> bool {
        client.local_addr().is_ok_and(|local| self.guard.is_own(peer, local))
    }
}

fn collect(finished: Result<io::Result<Recorded>, tokio::task::JoinError>, done: &mut Vec<Recorded>) {
    match finished {
        Ok(Ok(rec)) => done.push(rec),
        Ok(Err(e)) => tracing::error!("recording failed: {e}"),
        Err(e) => tracing::error!("connection task failed: {e}"),
    }
}

/// One accepted connection, before it is relayed.
struct Conn {
    client: TcpStream,
    peer: SocketAddr,
    seq: u64,
    config: ProxyConfig,
    guard: Arc<LoopGuard>,
}

impl Conn {
    async fn run(self, recorder: Recorder, stop: watch::Receiver<bool>) -> io::Result<Recorded> {
        let t0 = Instant::now();
        let started = time::unix_micros(SystemTime::now());
        let config = &self.config;
        let connected = crate::net::connect(&config.upstream, Some(&self.guard)).await;
        let server = match &connected {
            Ok(c) => c.addr,
            Err(_) => SocketAddr::new([0, 0, 0, 0].into(), config.upstream.port),
        };
        let named = config.upstream.to_string();
        let header = Recording {
            wstap_recording: FORMAT_VERSION,
            started: time::rfc3339_micros(started),
            client: self.peer.to_string(),
            server: match &connected {
                Ok(c) => c.addr.to_string(),
                Err(_) => config.upstream.authority(),
            },
            upstream: (named != server.to_string()).then_some(named),
            source: Some(config.source.clone()),
            ..Recording::default()
        };
        let path = config.out_dir.join(crate::store::recording_file_name(started, self.seq));
        let pcap = config.pcap.map(|format| recorder::PcapOut { format, client: self.peer, server, started });
        let (tx, outcome) = recorder.open(self.seq, header, path, pcap).await;
        let at = micros(t0);
        match connected {
            Ok(c) => {
                for failed in &c.failed {
                    note(&tx, at, "connect_failed", format!("{}: {failed}", config.upstream.authority())).await;
                }
                relay::relay(self.client, c.stream, tx.clone(), t0, config.host_rewrite(), stop).await;
            }
            Err(e) => self.refused(&tx, at, e).await,
        }
        tx.close().await;
        let recorded = outcome.await.map_err(|_| io::Error::other("the recorder thread is gone"))??;
        tracing::info!("recorded {} ({} events)", recorded.path.display(), recorded.events);
        Ok(recorded)
    }

    /// No upstream: the recording says why, and the client is dropped.
    async fn refused(&self, tx: &TapSender, at: u64, e: ConnectError) {
        tracing::warn!("connection {} from {}: upstream {e}", self.seq, self.peer);
        let kind = match e {
            ConnectError::Resolve { .. } => "resolve_failed",
            ConnectError::Connect { .. } => "connect_failed",
            ConnectError::Loop { .. } => "loop_refused",
        };
        note(tx, at, kind, e.to_string()).await;
        let error = Some(format!("upstream {e}"));
        tx.send(Tap::End { dir: Direction::ServerToClient, at, how: TcpEnd::Rst, error }).await;
    }
}

async fn note(tx: &TapSender, at: u64, kind: &str, detail: String) {
    let kind = EventKind::Note { kind: kind.into(), detail };
    tx.send(Tap::Event { dir: Direction::ServerToClient, at, kind }).await;
}

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}
