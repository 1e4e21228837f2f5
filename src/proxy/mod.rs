//! The recording proxy: accept, connect upstream, relay, record.
//!
//! Every accepted connection gets its own upstream connection
//! ([`upstream::connect`], bounded by a timeout and by shutdown) and a
//! [`relay`](relay::relay); one [`recorder`] thread writes the recordings
//! of all connections. The upstream is named by a [`Target`]: a name is
//! resolved for each connection and its addresses tried in turn
//! ([`upstream::connect`], bounded by `--connect-timeout` and by shutdown);
//! failures are recorded with the name. A
//! connection whose upstream turns out to be the proxy itself is refused
//! (and the looped-back connection dropped at accept), so a proxy pointed
//! at itself cannot recurse. On shutdown the listener stops, pending
//! upstream connects are cancelled, open connections are closed, and every
//! recording is finalised before [`Proxy::run`] returns.
//!
//! The recording of a connection to an address literal is opened at accept,
//! before the upstream connect (so a connect that hangs is visible as it
//! happens); for a host name it is opened once the name has been resolved
//! and connected (or has failed), so that its `server` is the address
//! actually reached.

mod block;
pub mod fault;
pub mod forward;
pub mod host;
pub mod recorder;
pub mod relay;
pub mod upstream;

use crate::net::{ConnectError, Host, LoopGuard, Target};
use crate::session::{Direction, EventKind, FORMAT_VERSION, Recording, TcpEnd, TlsLeg, time};
use recorder::{Recorded, Recorder, Tap, TapSender};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use upstream::UpstreamError;

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
    /// Longest wait for the upstream to accept a connection, per address
    /// tried ([`upstream::connect`]); a timeout ends the recording with a reset.
    pub connect_timeout: std::time::Duration,
    /// How to speak TLS to a `wss://` upstream (certificate roots, key log).
    pub upstream_tls: Option<crate::tls::UpstreamTls>,
    /// Terminate TLS from clients (`--tls`) with these certificates.
    pub client_tls: Option<crate::tls::ServerTls>,
    /// `--proxy`: the listen port is an HTTP forward proxy ([`forward`]);
    /// `upstream` is then unused, each client names its own target.
    pub forward: Option<forward::ForwardOptions>,
    /// Fault rules (`--fault`, `--faults`): connections they apply to are
    /// forwarded through fault taps ([`fault`]); empty, the relay is a
    /// plain byte pump.
    pub faults: Arc<crate::fault::Plan>,
    /// `record`'s live view: a line per frame, fed by the recorder.
    pub live: Option<Arc<crate::live::LiveView>>,
}

impl ProxyConfig {
    /// Recording into `out_dir` in front of `upstream`, marked `source`; no
    /// capture, the default connect timeout, `Host` rewritten for hostname
    /// upstreams.
    pub fn new(upstream: impl Into<Target>, out_dir: impl Into<PathBuf>, source: &str) -> ProxyConfig {
        let upstream = upstream.into();
        let upstream_tls = upstream.tls.then(|| crate::tls::UpstreamTls::new(&Default::default()).ok()).flatten();
        ProxyConfig {
            upstream,
            out_dir: out_dir.into(),
            source: source.into(),
            pcap: None,
            keep_host: false,
            connect_timeout: upstream::DEFAULT_CONNECT_TIMEOUT,
            upstream_tls,
            client_tls: None,
            forward: None,
            faults: Arc::default(),
            live: None,
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
    listener: crate::accept::Acceptor,
    config: ProxyConfig,
    guard: Arc<LoopGuard>,
}

impl Proxy {
    /// Binds the listener and creates the output directory.
    pub async fn bind(listen: SocketAddr, config: ProxyConfig) -> io::Result<Proxy> {
        std::fs::create_dir_all(&config.out_dir)?;
        let listener = crate::accept::Acceptor::new(TcpListener::bind(listen).await?, "record");
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
        self.run_to_end(shutdown).await.recorded
    }

    /// [`run`](Self::run), also returning the recordings that could not be
    /// written (each was reported on stderr when it failed; its connection
    /// was forwarded all the same).
    pub async fn run_to_end(mut self, shutdown: impl Future<Output = ()>) -> Finished {
        let mut done = Finished::default();
        let (recorder, recorder_thread) = match Recorder::start() {
            Ok(started) => started,
            Err(e) => {
                tracing::error!("cannot start the recorder: {e}");
                done.failed.push(format!("cannot start the recorder: {e}"));
                return done;
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let seq = AtomicU64::new(0);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                (client, peer) = self.listener.accept() => {
                    if self.is_own(&client, peer) {
                        tracing::warn!("dropped a connection from this proxy's own upstream socket {peer} (a loop)");
                        continue;
                    }
                    let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
                    let client = std::sync::Mutex::new(Some(client));
                    let conn = Conn { client, peer, seq: n, config: self.config.clone(), guard: self.guard.clone() };
                    conns.spawn(conn.run(recorder.clone(), stop_rx.clone()));
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

    fn is_own(&self, client: &TcpStream, peer: SocketAddr) -> bool {
        client.local_addr().is_ok_and(|local| self.guard.is_own(peer, local))
    }
}

/// What a proxy run left behind.
#[derive(Debug, Default)]
pub struct Finished {
    /// The recordings finalised, in order of completion.
    pub recorded: Vec<Recorded>,
    /// The recordings that could not be written: file and reason.
    pub failed: Vec<String>,
}

fn collect(finished: Result<io::Result<Recorded>, tokio::task::JoinError>, done: &mut Finished) {
    match finished {
        Ok(Ok(rec)) => done.recorded.push(rec),
        // Already said on stderr by the recorder, with the connection.
        Ok(Err(e)) => done.failed.push(e.to_string()),
        Err(e) => {
            tracing::error!("connection task failed: {e}");
            done.failed.push(format!("a connection task failed: {e}"));
        }
    }
}

/// One accepted connection, before it is relayed.
struct Conn {
    /// Taken once, by the TLS step.
    client: std::sync::Mutex<Option<TcpStream>>,
    peer: SocketAddr,
    seq: u64,
    config: ProxyConfig,
    guard: Arc<LoopGuard>,
}

/// A side of a connection once any TLS handshake is done.
enum Side {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl Conn {
    async fn run(self, recorder: Recorder, mut stop: watch::Receiver<bool>) -> io::Result<Recorded> {
        if self.config.forward.is_some() {
            return self.run_forward(recorder, stop).await;
        }
        let t0 = Instant::now();
        let started = time::unix_micros(SystemTime::now());
        let config = self.config.clone();
        let literal = match &config.upstream.host {
            Host::Ip(ip) => Some(SocketAddr::new(*ip, config.upstream.port)),
            Host::Name(_) => None,
        };
        // An address literal is recorded from accept on; a name once it has
        // been resolved and connected, so `server` is the address reached.
        // Until the recording is open its events wait in `queued`.
        let mut rec = Pending { opened: None, queued: Vec::new() };
        if let Some(addr) = literal {
            rec.opened = Some(self.open(&recorder, started, Some(addr)).await);
        }
        let client = match self.client_tls(&mut rec, t0).await {
            Some(client) => Some(client),
            None => {
                self.finish_open(&mut rec, &recorder, started, None).await;
                None
            }
        };
        if let Some(client) = client {
            let connected = upstream::connect(&config.upstream, &self.guard, config.connect_timeout, &mut stop).await;
            self.finish_open(&mut rec, &recorder, started, connected.as_ref().ok().map(|c| c.addr)).await;
            let tx = rec.tx().clone();
            let at = micros(t0);
            let failed = connected.as_ref().map_or(&[][..], |c| c.failed.as_slice());
            for failure in failed {
                note(&tx, at, "connect_failed", failure.clone()).await;
            }
            match connected {
                Ok(c) => {
                    let _registered = c.registered;
                    if let Some(server) = self.upstream_tls(c.stream, &tx, t0).await {
                        relay_sides(client, server, tx.clone(), t0, config.host_rewrite(), stop, self.faults()).await;
                    }
                }
                Err(e) => self.refused(&tx, at, e).await,
            }
        }
        let (tx, outcome) = rec.opened.expect("opened above");
        tx.close().await;
        let recorded = outcome.await.map_err(|_| io::Error::other("the recorder thread is gone"))??;
        tracing::info!("recorded {} ({} events)", recorded.path.display(), recorded.events);
        Ok(recorded)
    }

    /// Opens the recording if it is not yet, and sends what waited for it.
    async fn finish_open(&self, rec: &mut Pending, recorder: &Recorder, started: u64, server: Option<SocketAddr>) {
        if rec.opened.is_none() {
            rec.opened = Some(self.open(recorder, started, server).await);
        }
        let tx = rec.tx().clone();
        for tap in rec.queued.drain(..) {
            tx.send(tap).await;
        }
    }

    /// Terminates the client's TLS with `--tls`; `None` (recorded) if the
    /// handshake fails. Takes the client socket out of `self`.
    async fn client_tls(&self, rec: &mut Pending, t0: Instant) -> Option<Side> {
        let tcp = self.take_client()?;
        let Some(tls) = self.config.client_tls.as_ref() else { return Some(Side::Plain(tcp)) };
        match tls.accept(tcp, None).await {
            Ok((stream, info)) => {
                rec.send(Tap::Event { dir: Direction::ServerToClient, at: micros(t0), kind: EventKind::Tls(info) })
                    .await;
                Some(Side::Tls(Box::new(stream)))
            }
            Err(f) => {
                let at = micros(t0);
                tracing::warn!("connection {} from {}: {f}", self.seq, self.peer);
                let kind = EventKind::TlsEnd { leg: TlsLeg::Client, how: f.how, detail: Some(f.detail.clone()) };
                rec.send(Tap::Event { dir: Direction::ClientToServer, at, kind }).await;
                rec.send(Tap::End { dir: Direction::ClientToServer, at, how: TcpEnd::Rst, error: Some(f.detail) })
                    .await;
                None
            }
        }
    }

    /// `--proxy`: one tunnel or absolute-URI request, one recording.
    async fn run_forward(self, recorder: Recorder, mut stop: watch::Receiver<bool>) -> io::Result<Recorded> {
        let t0 = Instant::now();
        let started = time::unix_micros(SystemTime::now());
        let options = self.config.forward.clone().unwrap_or_default();
        let Some(mut client) = self.take_client() else { return Err(io::Error::other("no client socket")) };
        let request = match forward::read_request(&mut client).await {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!("connection {} from {}: {why}", self.seq, self.peer);
                let _ = client.write_all(&forward::bad_request(&why)).await;
                return Err(io::Error::other(format!("not recorded: {why}")));
            }
        };
        let (target, connect) = match &request {
            forward::ProxyRequest::Connect(t) => (t.clone(), true),
            forward::ProxyRequest::Absolute(t) => (t.clone(), false),
        };
        let how = if connect { "CONNECT" } else { "an absolute-URI request for" };
        let asked = format!("the client asked the proxy for {how} {}", target.authority());
        let connected = upstream::connect(&target, &self.guard, self.config.connect_timeout, &mut stop).await;
        let c = match connected {
            Ok(c) => c,
            Err(e) => {
                let _ = client.write_all(&forward::bad_gateway(&e.to_string())).await;
                let (tx, outcome) = self.open_for(&recorder, started, None, &target, None).await;
                note(&tx, micros(t0), "proxy_request", asked).await;
                self.refused(&tx, micros(t0), e).await;
                return finish(tx, outcome).await;
            }
        };
        let mut intercept = None;
        let mut hint = None;
        if connect {
            let _ = client.write_all(forward::CONNECTED).await;
            let first = tokio::time::timeout(
                forward::REQUEST_TIMEOUT,
                forward::peek_until(&client, |b| crate::tls::hello::parse(b) != crate::tls::hello::Hello::Partial),
            )
            .await;
            if let Ok(Ok(first)) = first
                && let crate::tls::hello::Hello::ClientHello { sni } = crate::tls::hello::parse(&first)
            {
                let host = sni.clone().unwrap_or_else(|| target.host.to_string());
                match options.no_intercept.iter().find(|p| forward::glob_match(p, &host)) {
                    Some(pattern) => hint = Some(format!("passed through: {host} matches --no-intercept {pattern}")),
                    None => intercept = Some(host),
                }
            }
        }
        let (tx, outcome) = self.open_for(&recorder, started, Some(c.addr), &target, hint).await;
        note(&tx, micros(t0), "proxy_request", asked).await;
        for failure in &c.failed {
            note(&tx, micros(t0), "connect_failed", failure.clone()).await;
        }
        let _registered = c.registered;
        match intercept {
            None => {
                let rule = (!connect).then(host::HostRewrite::origin_form);
                relay::relay(client, c.stream, tx.clone(), t0, rule, stop, self.faults()).await;
            }
            Some(host) => self.intercept(client, c.stream, &target, &host, &tx, t0, stop).await,
        }
        finish(tx, outcome).await
    }

    /// A TLS tunnel intercepted: TLS with the client (a certificate for
    /// `host` from wstap's CA), TLS with the target, plaintext relayed.
    #[allow(clippy::too_many_arguments)]
    async fn intercept(
        &self,
        client: TcpStream,
        server: TcpStream,
        target: &Target,
        host: &str,
        tx: &TapSender,
        t0: Instant,
        stop: watch::Receiver<bool>,
    ) {
        let (Some(client_tls), Some(upstream_tls)) = (&self.config.client_tls, &self.config.upstream_tls) else {
            tracing::error!("--proxy needs TLS settings for interception");
            return;
        };
        let client = match client_tls.accept(client, Some(host)).await {
            Ok((stream, info)) => {
                tx.send(Tap::Event { dir: Direction::ServerToClient, at: micros(t0), kind: EventKind::Tls(info) })
                    .await;
                stream
            }
            Err(f) => {
                let at = micros(t0);
                tracing::warn!("connection {} from {}: {f}", self.seq, self.peer);
                let kind = EventKind::TlsEnd { leg: TlsLeg::Client, how: f.how, detail: Some(f.detail.clone()) };
                tx.send(Tap::Event { dir: Direction::ClientToServer, at, kind }).await;
                tx.send(Tap::End { dir: Direction::ClientToServer, at, how: TcpEnd::Rst, error: Some(f.detail) }).await;
                return;
            }
        };
        let named = Target { host: host_of(host), port: target.port, tls: true };
        match upstream_tls.connect(server, &named).await {
            Ok((stream, info)) => {
                tx.send(Tap::Event { dir: Direction::ServerToClient, at: micros(t0), kind: EventKind::Tls(info) })
                    .await;
                relay::relay(client, stream, tx.clone(), t0, None, stop, self.faults()).await;
            }
            Err(f) => {
                let at = micros(t0);
                tracing::warn!("connection {} from {}: {f}", self.seq, self.peer);
                let kind = EventKind::TlsEnd { leg: TlsLeg::Upstream, how: f.how, detail: Some(f.detail.clone()) };
                tx.send(Tap::Event { dir: Direction::ServerToClient, at, kind }).await;
                let end = Tap::End { dir: Direction::ServerToClient, at, how: TcpEnd::Rst, error: Some(f.detail) };
                tx.send(end).await;
            }
        }
    }

    /// This connection's fault taps, if any rule applies to it.
    fn faults(&self) -> Option<crate::fault::ConnFaults> {
        self.config.faults.for_connection(self.seq)
    }

    fn take_client(&self) -> Option<TcpStream> {
        self.client.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Opens the recording; `server` is the address connected to, if any.
    async fn open(
        &self,
        recorder: &Recorder,
        started: u64,
        server: Option<SocketAddr>,
    ) -> (TapSender, tokio::sync::oneshot::Receiver<io::Result<Recorded>>) {
        let hint =
            self.config.client_tls.is_none().then(|| {
                "this listener does not terminate TLS (use record --tls, or --proxy to intercept)".to_string()
            });
        self.open_for(recorder, started, server, &self.config.upstream, hint).await
    }

    /// [`open`](Self::open) for `target`, with why TLS is not decrypted.
    async fn open_for(
        &self,
        recorder: &Recorder,
        started: u64,
        server: Option<SocketAddr>,
        target: &Target,
        tls_not_decrypted: Option<String>,
    ) -> (TapSender, tokio::sync::oneshot::Receiver<io::Result<Recorded>>) {
        let config = &self.config;
        let shown = server.map_or_else(|| target.authority(), |a| a.to_string());
        let named = target.to_string();
        let header = Recording {
            wstap_recording: FORMAT_VERSION,
            started: time::rfc3339_micros(started),
            client: self.peer.to_string(),
            upstream: (named != shown).then_some(named),
            server: shown,
            source: Some(config.source.clone()),
            ..Recording::default()
        };
        let path = config.out_dir.join(crate::store::recording_file_name(started, self.seq));
        let server = server.unwrap_or_else(|| SocketAddr::new([0, 0, 0, 0].into(), target.port));
        let pcap = config.pcap.map(|format| recorder::PcapOut { format, client: self.peer, server, started });
        let live = config.live.as_ref().map(|v| v.connection(self.seq, started, &header.client, &header.server));
        recorder.open(self.seq, header, path, recorder::OpenOptions { pcap, tls_not_decrypted, live }).await
    }

    /// TLS to the upstream when it is `wss://`; `None` (recorded, and the
    /// client dropped) if the handshake fails.
    async fn upstream_tls(&self, tcp: TcpStream, tx: &TapSender, t0: Instant) -> Option<Side> {
        let Some(tls) = self.config.upstream_tls.as_ref().filter(|_| self.config.upstream.tls) else {
            return Some(Side::Plain(tcp));
        };
        match tls.connect(tcp, &self.config.upstream).await {
            Ok((stream, info)) => {
                if tls.insecure {
                    let detail = "--insecure-upstream: the server's certificate was not verified".to_string();
                    note(tx, micros(t0), "insecure_upstream", detail).await;
                }
                tx.send(Tap::Event { dir: Direction::ServerToClient, at: micros(t0), kind: EventKind::Tls(info) })
                    .await;
                Some(Side::Tls(Box::new(stream)))
            }
            Err(f) => {
                let at = micros(t0);
                tracing::warn!("connection {} from {}: {f}", self.seq, self.peer);
                let kind = EventKind::TlsEnd { leg: TlsLeg::Upstream, how: f.how, detail: Some(f.detail.clone()) };
                tx.send(Tap::Event { dir: Direction::ServerToClient, at, kind }).await;
                let end = Tap::End { dir: Direction::ServerToClient, at, how: TcpEnd::Rst, error: Some(f.detail) };
                tx.send(end).await;
                None
            }
        }
    }

    /// No upstream: the recording says why, and the client is dropped.
    async fn refused(&self, tx: &TapSender, at: u64, e: UpstreamError) {
        tracing::warn!("connection {} from {}: {e}", self.seq, self.peer);
        let kind = match &e {
            UpstreamError::Net(ConnectError::Resolve { .. }) => Some("resolve_failed"),
            UpstreamError::Net(ConnectError::Loop { .. }) => Some("loop_refused"),
            UpstreamError::Net(ConnectError::Connect { .. }) | UpstreamError::Shutdown => None,
        };
        if let Some(kind) = kind {
            note(tx, at, kind, e.to_string()).await;
        }
        let end = Tap::End { dir: Direction::ServerToClient, at, how: TcpEnd::Rst, error: Some(e.to_string()) };
        tx.send(end).await;
    }
}

/// A recording that may not be open yet: taps wait until it is.
struct Pending {
    opened: Option<(TapSender, tokio::sync::oneshot::Receiver<io::Result<Recorded>>)>,
    queued: Vec<Tap>,
}

impl Pending {
    async fn send(&mut self, tap: Tap) {
        match &self.opened {
            Some((tx, _)) => tx.send(tap).await,
            None => self.queued.push(tap),
        }
    }

    fn tx(&self) -> &TapSender {
        &self.opened.as_ref().expect("the recording is open").0
    }
}

/// The relay, for whichever sides are plain or TLS.
async fn relay_sides(
    client: Side,
    server: Side,
    tx: TapSender,
    t0: Instant,
    host: Option<host::HostRewrite>,
    stop: watch::Receiver<bool>,
    faults: Option<crate::fault::ConnFaults>,
) {
    match (client, server) {
        (Side::Plain(c), Side::Plain(s)) => relay::relay(c, s, tx, t0, host, stop, faults).await,
        (Side::Plain(c), Side::Tls(s)) => relay::relay(c, *s, tx, t0, host, stop, faults).await,
        (Side::Tls(c), Side::Plain(s)) => relay::relay(*c, s, tx, t0, host, stop, faults).await,
        (Side::Tls(c), Side::Tls(s)) => relay::relay(*c, *s, tx, t0, host, stop, faults).await,
    }
}

fn host_of(name: &str) -> Host {
    match name.parse() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(name.to_ascii_lowercase()),
    }
}

async fn finish(tx: TapSender, outcome: tokio::sync::oneshot::Receiver<io::Result<Recorded>>) -> io::Result<Recorded> {
    tx.close().await;
    let recorded = outcome.await.map_err(|_| io::Error::other("the recorder thread is gone"))??;
    tracing::info!("recorded {} ({} events)", recorded.path.display(), recorded.events);
    Ok(recorded)
}

async fn note(tx: &TapSender, at: u64, kind: &str, detail: String) {
    let kind = EventKind::Note { kind: kind.into(), detail };
    tx.send(Tap::Event { dir: Direction::ServerToClient, at, kind }).await;
}

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}
