//! One TCP connection as the fuzzer sees it: accepted (the server role) or
//! connected (the client role, `wstap fuzz`).
//!
//! Every read is an `RO` entry and every write a `TO` entry in the
//! [`WireTrace`] (which also keeps the four statistics), and both are fed to
//! a [`LiveRecording`] so that what replay observed is saved as an ordinary
//! recording (`show` and `diff` work on it). Writes go straight to the
//! socket, so `TO` entries appear in the order the bytes left.
//!
//! The [`Role`] only decides directions: what we write is server-to-client
//! in the server role and client-to-server in the client role, in the
//! recording and for the fault tap.
//!
//! With `replay --fault`, the server's writes go through a fault tap
//! ([`WireIo::set_faults`]): `TO` entries and the recording keep what the
//! replayed server sent, and each fault is a `FLT` entry and a `fault`
//! event, as in `record`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::stream::Io;

use crate::judge::Role;
use crate::judge::tracker::OPEN_HANDSHAKE_TIMEOUT;
use crate::report::WireTrace;
use crate::session::{Direction, Recording, TcpEnd, time};
use crate::store::LiveRecording;
use crate::wire::{Head, MAX_HEAD_LEN, find_head_end};

/// Size of one socket read.
pub const READ_CHUNK: usize = 64 * 1024;

/// A received 101 response (the client role).
#[derive(Clone, Debug)]
pub struct Response {
    /// The head, exactly as received (blank line included).
    pub raw: Vec<u8>,
    /// The parsed head.
    pub head: Head,
    /// Bytes read after the head (early frames).
    pub rest: Vec<u8>,
}

/// A received upgrade request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The head, exactly as sent (blank line included).
    pub raw: Vec<u8>,
    /// The parsed head.
    pub head: Head,
    /// Bytes read after the head (early frames).
    pub rest: Vec<u8>,
}

/// Saves the connection as a recording while it runs.
struct Observer {
    live: LiveRecording,
}

/// The socket plus its wire log, statistics and recording.
pub struct WireIo {
    /// Which side we play.
    role: Role,
    /// Plain TCP, or TLS over it (`--tls`): the engine sees plaintext.
    stream: Box<dyn Io>,
    /// The client's and the server's address.
    addrs: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
    /// The TLS handshake's facts, recorded first.
    tls: Option<crate::session::TlsInfo>,
    /// TCP accept time; every timestamp is relative to it.
    pub t0: Instant,
    /// Accept time as UNIX microseconds.
    pub started_micros: u64,
    /// The wire log and statistics so far.
    pub trace: WireTrace,
    observer: Option<Observer>,
    /// Traffic held back until [`WireIo::start_recording`] (serve mode).
    held: Option<Vec<(u64, Direction, Vec<u8>)>>,
    /// True once TCP is gone (either side).
    pub closed: bool,
    /// True once the peer's side of TCP ended (FIN or reset).
    peer_ended: bool,
    /// True once our side of TCP ended.
    own_ended: bool,
    /// Set when a write failed: later writes are logged but not attempted.
    write_failed: bool,
    /// The fault tap of our writes (`replay --fault`).
    fault: Option<crate::fault::DirTap>,
    /// How a fault rule ended our side, if one did.
    fault_end: Option<crate::fault::Ending>,
    /// Resets the TCP socket under the stream (a fault's `rst`).
    resetter: Option<crate::net::stream::Resetter>,
}

/// How long a connection held by a fault rule (`hold`) stays open at the
/// end of a case, waiting for the client to end it.
pub const HOLD_WAIT: Duration = Duration::from_secs(10);

/// How long [`WireIo::finish`] waits for the client to end its side of TCP
/// after the case (only when the case is being recorded).
pub const PEER_END_WAIT: Duration = Duration::from_secs(1);

impl WireIo {
    /// Wraps an accepted stream; `record` names the recording to write.
    pub fn new(stream: TcpStream, record: Option<&Path>) -> WireIo {
        let _ = stream.set_nodelay(true);
        let addrs = (stream.peer_addr().ok(), stream.local_addr().ok());
        let resetter = crate::net::stream::Resetter::of(&stream);
        WireIo::wrap(Box::new(stream), addrs, None, record).with_resetter(resetter)
    }

    /// Sets how to reset the TCP socket under a wrapped (TLS) stream.
    pub fn with_resetter(mut self, resetter: crate::net::stream::Resetter) -> WireIo {
        self.resetter = Some(resetter);
        self
    }

    /// Sends our writes through `faults`' tap of our direction.
    pub fn set_faults(&mut self, faults: Option<crate::fault::ConnFaults>) {
        self.fault = faults.and_then(|f| if self.role.is_server() { f.s2c } else { f.c2s });
    }

    /// Wraps a stream we connected to a server (the client role);
    /// `record` names the recording to write.
    pub fn connected(stream: TcpStream, record: Option<&Path>) -> WireIo {
        let _ = stream.set_nodelay(true);
        let addrs = (stream.local_addr().ok(), stream.peer_addr().ok());
        let resetter = crate::net::stream::Resetter::of(&stream);
        WireIo::wrap_role(Role::Client, Box::new(stream), addrs, None, record).with_resetter(resetter)
    }

    /// The role this connection is played in.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The direction of our writes.
    fn ours(&self) -> Direction {
        if self.role.is_server() { Direction::ServerToClient } else { Direction::ClientToServer }
    }

    /// Wraps an accepted stream that is already past its TLS handshake
    /// (`replay --tls`, `serve --tls`); `addrs` are the client's and ours,
    /// `tls` what the handshake settled (recorded as a `tls` event).
    pub fn wrap(
        stream: Box<dyn Io>,
        addrs: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
        tls: Option<crate::session::TlsInfo>,
        record: Option<&Path>,
    ) -> WireIo {
        WireIo::wrap_role(Role::Server, stream, addrs, tls, record)
    }

    /// [`WireIo::wrap`] for either role; `addrs` are always the client's
    /// and the server's, whichever side we are.
    pub fn wrap_role(
        role: Role,
        stream: Box<dyn Io>,
        addrs: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
        tls: Option<crate::session::TlsInfo>,
        record: Option<&Path>,
    ) -> WireIo {
        let started_micros = time::unix_micros(SystemTime::now());
        let create = |path: &Path| Observer::create(path, addrs, started_micros, tls.clone(), role);
        let observer = record.and_then(|path| match create(path) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!("cannot record {}: {e}", path.display());
                None
            }
        });
        let trace = WireTrace::default();
        WireIo {
            role,
            stream,
            addrs,
            tls,
            t0: Instant::now(),
            started_micros,
            trace,
            observer,
            held: None,
            closed: false,
            peer_ended: false,
            own_ended: false,
            write_failed: false,
            fault: None,
            fault_end: None,
            resetter: None,
        }
    }

    /// Wraps an accepted stream whose recording starts later, once the
    /// request says where it goes ([`WireIo::start_recording`]).
    pub fn deferred(stream: TcpStream) -> WireIo {
        WireIo::new(stream, None).defer()
    }

    /// Holds the traffic until [`WireIo::start_recording`].
    pub fn defer(mut self) -> WireIo {
        self.held = Some(Vec::new());
        self
    }

    /// What the TLS handshake settled, for `--tls`.
    pub fn tls(&self) -> Option<&crate::session::TlsInfo> {
        self.tls.as_ref()
    }

    /// Starts the recording at `path`, with the traffic so far.
    pub fn start_recording(&mut self, path: &Path) {
        let held = self.held.take().unwrap_or_default();
        match Observer::create(path, self.addrs, self.started_micros, self.tls.clone(), self.role) {
            Ok(o) => self.observer = Some(o),
            Err(e) => tracing::warn!("cannot record {}: {e}", path.display()),
        }
        for (at, dir, bytes) in held {
            self.observe_at(at, dir, &bytes);
        }
    }

    /// Time since accept.
    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Reads the upgrade request, bounded by Autobahn's 5 s opening timeout.
    pub async fn read_request(&mut self) -> Result<Request, String> {
        let deadline = tokio::time::Instant::from_std(self.t0 + OPEN_HANDSHAKE_TIMEOUT);
        let mut buf = Vec::new();
        loop {
            if let Some(end) = find_head_end(&buf) {
                let rest = buf.split_off(end);
                let head = Head::parse_request(&buf)?;
                return Ok(Request { raw: buf, head, rest });
            }
            if buf.len() > MAX_HEAD_LEN {
                return Err("HTTP head too long".into());
            }
            match tokio::time::timeout_at(deadline, self.read()).await {
                Err(_) => return Err("timeout".into()),
                Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
                Ok(Ok(None)) => return Err("connection closed during the HTTP upgrade".into()),
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
    }

    /// Reads the server's response head (the client role), bounded by
    /// Autobahn's 5 s opening timeout from connect.
    pub async fn read_response(&mut self) -> Result<Response, String> {
        let deadline = tokio::time::Instant::from_std(self.t0 + OPEN_HANDSHAKE_TIMEOUT);
        let mut buf = Vec::new();
        loop {
            if let Some(end) = find_head_end(&buf) {
                let rest = buf.split_off(end);
                let head = Head::parse_response(&buf)?;
                return Ok(Response { raw: buf, head, rest });
            }
            if buf.len() > MAX_HEAD_LEN {
                return Err("HTTP head too long".into());
            }
            match tokio::time::timeout_at(deadline, self.read()).await {
                Err(_) => return Err("timeout".into()),
                Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
                Ok(Ok(None)) => return Err("connection closed during the HTTP upgrade".into()),
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
    }

    /// One read: `Some(bytes)`, or `None` at end of stream. Logged as `RO`.
    /// A reset ends the connection like EOF and is returned as an error.
    pub async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; READ_CHUNK];
        let theirs = self.ours().reverse();
        match self.stream.read(&mut buf).await {
            Ok(0) => {
                self.lost(theirs, TcpEnd::Fin, None);
                Ok(None)
            }
            Ok(n) => {
                buf.truncate(n);
                self.trace.rx_octets(&buf);
                self.observe(theirs, &buf);
                Ok(Some(buf))
            }
            Err(e) => {
                self.lost(theirs, TcpEnd::Rst, Some(e.to_string()));
                Err(e)
            }
        }
    }

    /// One write, logged as `TO`. False once TCP is known to be gone.
    ///
    /// A write that fails does not end the connection by itself: as with
    /// Twisted's buffered transport, the writes of one burst (say, every
    /// frame of a case's on-open) are all logged, and the loss is noticed
    /// by the next read. Writes after a failed one are logged, not tried.
    pub async fn write(&mut self, bytes: &[u8], sync: bool) -> bool {
        if self.closed {
            return false;
        }
        self.trace.tx_octets(bytes, sync);
        if self.write_failed {
            return true;
        }
        self.observe(self.ours(), bytes);
        let written = match self.fault.as_mut() {
            None => self.stream.write_all(bytes).await.map(|()| None),
            Some(tap) => {
                let (at, mut faults) = (self.t0.elapsed().as_micros() as u64, Vec::new());
                let bytes = bytes::Bytes::copy_from_slice(bytes);
                let ended =
                    crate::proxy::fault::carry_out(tap, &bytes, at, self.t0, &mut self.stream, &mut faults).await;
                for (at, kind) in faults {
                    self.fault_event(at, kind);
                }
                ended
            }
        };
        match written {
            Ok(None) => {}
            Ok(Some(end)) => self.end_by_fault(end).await,
            Err(e) => {
                tracing::debug!("write failed, the next read will tell: {e}");
                self.write_failed = true;
            }
        }
        true
    }

    /// A fault: a `FLT` wire-log entry and a `fault` event.
    fn fault_event(&mut self, at: u64, kind: crate::session::EventKind) {
        if let crate::session::EventKind::Fault { rule, spec, action, detail, .. } = &kind {
            let (spec, action, detail) = (spec.clone(), action.clone(), detail.clone());
            self.trace.log(crate::report::WireLogEntry::Fault { rule: *rule, spec, action, detail });
        }
        let ours = self.ours();
        if let Some(o) = self.observer.as_mut() {
            o.live.builder().event(at, ours, kind);
        }
    }

    /// A fault rule ends our side: FIN, a reset, or a hold (nothing more,
    /// until the client ends the connection).
    async fn end_by_fault(&mut self, end: crate::fault::Ending) {
        use crate::fault::Ending;
        self.fault_end = Some(end);
        match end {
            Ending::Fin => {
                let _ = self.stream.shutdown().await;
                self.lost(self.ours(), TcpEnd::Fin, None);
            }
            Ending::Rst => {
                if let Some(r) = &self.resetter {
                    r.reset();
                }
                // Dropping the socket sends the reset; nothing is read after it.
                self.stream = Box::new(tokio::io::duplex(1).0);
                self.lost(self.ours(), TcpEnd::Rst, Some("reset by a fault rule".into()));
                self.peer_ended = true;
            }
            Ending::Hold => {}
        }
    }

    /// True while a fault rule holds the connection.
    fn held(&self) -> bool {
        self.fault_end == Some(crate::fault::Ending::Hold)
    }

    /// Closes TCP from our side (Autobahn's drop). Nothing is buffered on
    /// our side, so abortive and graceful drops are the same here.
    pub async fn drop_tcp(&mut self) {
        if self.held() {
            // Held: the client sees nothing, not even our end; the case is over.
            self.closed = true;
            return;
        }
        if !self.closed {
            let _ = self.stream.shutdown().await;
            self.lost(self.ours(), TcpEnd::Fin, None);
        }
    }

    /// Ends the recording; returns its path. Call once, at the end, after
    /// the case is judged.
    ///
    /// The recording is completed first, so it shows how the connection
    /// really ended, as a proxy between the same two peers would have
    /// recorded it: our side of TCP is closed if it is not yet, and the
    /// client's own FIN or reset is awaited (at most [`PEER_END_WAIT`]).
    /// What arrives meanwhile goes into the recording only; the wire log
    /// ends at the drop, as Autobahn's does.
    pub async fn finish(&mut self) -> Option<PathBuf> {
        if self.held() && !self.peer_ended {
            let _ = tokio::time::timeout(HOLD_WAIT, self.await_peer_end()).await;
        }
        self.observer.as_ref()?;
        if !self.own_ended {
            let _ = self.stream.shutdown().await;
            self.lost(self.ours(), TcpEnd::Fin, None);
        }
        if !self.peer_ended {
            let _ = tokio::time::timeout(PEER_END_WAIT, self.await_peer_end()).await;
        }
        let observer = self.observer.take()?;
        match observer.finish() {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!("cannot finish the recording: {e}");
                None
            }
        }
    }

    /// Reads until the client ends its side of TCP, into the recording only.
    async fn await_peer_end(&mut self) {
        let mut buf = vec![0u8; READ_CHUNK];
        let theirs = self.ours().reverse();
        loop {
            match self.stream.read(&mut buf).await {
                Ok(0) => return self.lost(theirs, TcpEnd::Fin, None),
                Ok(n) => {
                    let at = self.micros();
                    self.observe_at(at, theirs, &buf[..n]);
                }
                Err(e) => return self.lost(theirs, TcpEnd::Rst, Some(e.to_string())),
            }
        }
    }

    fn lost(&mut self, dir: Direction, how: TcpEnd, error: Option<String>) {
        self.closed = true;
        match dir == self.ours() {
            false => self.peer_ended = true,
            true => self.own_ended = true,
        }
        let at = self.micros();
        if let Some(o) = self.observer.as_mut() {
            let _ = o.end(at, dir, how, error);
        }
    }

    fn observe(&mut self, dir: Direction, bytes: &[u8]) {
        let at = self.micros();
        if let Some(held) = self.held.as_mut() {
            held.push((at, dir, bytes.to_vec()));
        }
        self.observe_at(at, dir, bytes);
    }

    fn observe_at(&mut self, at: u64, dir: Direction, bytes: &[u8]) {
        if let Some(o) = self.observer.as_mut()
            && let Err(e) = o.record(at, dir, bytes)
        {
            tracing::warn!("recording stopped: {e}");
            self.observer = None;
        }
    }

    fn micros(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

impl Observer {
    fn create(
        path: &Path,
        addrs: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
        started: u64,
        tls: Option<crate::session::TlsInfo>,
        role: Role,
    ) -> io::Result<Observer> {
        let addr = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let header = Recording {
            wstap_recording: crate::session::FORMAT_VERSION,
            started: time::rfc3339_micros(started),
            client: addr(addrs.0),
            server: addr(addrs.1),
            source: Some(if role.is_server() { "replay" } else { "fuzz" }.into()),
            ..Recording::default()
        };
        let mut live = LiveRecording::create(path, &header)?;
        if let Some(info) = tls {
            let ours = if role.is_server() { Direction::ServerToClient } else { Direction::ClientToServer };
            live.builder().event(0, ours, crate::session::EventKind::Tls(info));
        }
        Ok(Observer { live })
    }

    fn record(&mut self, at: u64, dir: Direction, bytes: &[u8]) -> io::Result<()> {
        self.live.builder().read(at, dir, bytes)?;
        self.live.write_out()
    }

    fn end(&mut self, at: u64, dir: Direction, how: TcpEnd, error: Option<String>) -> io::Result<()> {
        let builder = self.live.builder();
        if !builder.has_ended(dir) {
            builder.end(at, dir, how, error)?;
        }
        self.live.write_out()
    }

    fn finish(self) -> io::Result<PathBuf> {
        self.live.close().map(|r| r.path)
    }
}
