//! One proxied connection: two byte pumps and the tap.
//!
//! The relay is a byte pump. Each pump reads, writes the bytes to the other
//! side *first*, and only then copies them to the recorder; nothing the
//! recorder does can alter, reorder or delay bytes already read. Before
//! forwarding, a read only takes its place in the recorded order (a
//! [`Ticket`](super::recorder::Ticket): one atomic increment), so that the
//! recording's order across the two directions is the order of the reads.
//! The one exception is an explicit, recorded rule: the `Host` rewrite
//! ([`super::host`]), which holds the client's request head until it is
//! complete and forwards it changed.
//!
//! The sides are any [`Duplex`]: plain TCP, or TLS over TCP, in which case
//! the pumps see plaintext and also record how each TLS peer ended.
//!
//! Endings are passed on as they happened:
//! - EOF (FIN, or a close_notify) on one side shuts down the write half
//!   towards the other side (a close_notify then FIN for TLS), and the
//!   other direction keeps flowing (half-close);
//! - a reset or read error on one side resets the other side (SO_LINGER 0
//!   then close) and ends both pumps.
//!
//! With fault rules (`--fault`), a connection's pumps carry a
//! [`FaultSide`]: forwarding then goes through its tap, which may drop,
//! delay, change or cut frames and end a side, each recorded as a `fault`
//! event after the read it concerns. Connections without rules have none
//! and are relayed as above.

use super::block::ReadBlocks;
use super::fault::{FaultSide, Flow};
use super::host::{HostRewrite, Step};
use super::recorder::{Tap, TapSender};
use crate::fault::{ConnFaults, Ending};
use crate::net::stream::{Duplex, Resetter, tls_ending};
use crate::session::{Direction, EventKind, NOTE_ENDED_BY_PROXY, TcpEnd, TlsClose, TlsLeg};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, watch};

/// Bytes read per call at most, into the largest read block
/// ([`super::block`]); also the largest chunk handed to the recorder.
/// 256 KiB, as `socat -b 262144`: a 1 MiB message is four reads and four
/// tap hand-offs instead of sixteen.
pub const READ_BUFFER: usize = 256 * 1024;

/// Relays between `client` and `server` until both directions have ended or
/// `stop` turns true, tapping every read into `tap`. With `host`, the
/// client's request head is forwarded with its `Host` rewritten; with
/// `faults`, forwarding goes through the connection's fault taps.
pub async fn relay<C: Duplex, S: Duplex>(
    client: C,
    server: S,
    tap: TapSender,
    t0: Instant,
    host: Option<HostRewrite>,
    mut stop: watch::Receiver<bool>,
    faults: Option<ConnFaults>,
) {
    let (c2s_fault, s2c_fault) = faults.map(FaultSide::pair).unzip();
    let (client_r, client_w, client_reset) = client.split();
    let (server_r, server_w, server_reset) = server.split();
    let (client_reset, server_reset) = (Arc::new(client_reset), Arc::new(server_reset));
    let abort = Arc::new(Notify::new());
    let cut = tap.clone();
    let c2s = Pump::<C, S> {
        dir: Direction::ClientToServer,
        from_reset: client_reset.clone(),
        to_reset: server_reset.clone(),
        tap: tap.clone(),
        t0,
        abort: abort.clone(),
        fault: c2s_fault,
        _sides: std::marker::PhantomData,
    };
    let s2c = Pump::<S, C> {
        dir: Direction::ServerToClient,
        from_reset: server_reset,
        to_reset: client_reset,
        tap,
        t0,
        abort,
        fault: s2c_fault,
        _sides: std::marker::PhantomData,
    };
    let stopped = tokio::select! {
        _ = async { tokio::join!(c2s.run(client_r, server_w, host), s2c.run(server_r, client_w, None)) } => false,
        _ = stop.wait_for(|stopped| *stopped) => true,
    };
    if stopped {
        // The pumps and sockets are dropped: wstap, not a peer, ends the
        // connection now. Said in the recording, at this time, so its
        // duration is the connection's and no peer is blamed.
        let kind = EventKind::Note { kind: NOTE_ENDED_BY_PROXY.into(), detail: ENDED_BY_PROXY_DETAIL.into() };
        cut.send(Tap::Event { dir: Direction::ServerToClient, at: micros(t0), kind }).await;
    }
}

/// The detail of the [`NOTE_ENDED_BY_PROXY`] note.
const ENDED_BY_PROXY_DETAIL: &str =
    "wstap record was stopped (SIGINT/SIGTERM) while the connection was open; the proxy closed both sides";

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

/// One direction: reads from `F`, writes to `T`.
struct Pump<F: Duplex, T: Duplex> {
    dir: Direction,
    from_reset: Arc<Resetter>,
    to_reset: Arc<Resetter>,
    tap: TapSender,
    t0: Instant,
    abort: Arc<Notify>,
    fault: Option<FaultSide>,
    _sides: std::marker::PhantomData<fn(F, T)>,
}

impl<F: Duplex, T: Duplex> Pump<F, T> {
    async fn run(mut self, mut from: F::Read, mut to: T::Write, mut host: Option<HostRewrite>) {
        let mut blocks = ReadBlocks::default();
        loop {
            let read = tokio::select! {
                r = read_into(&mut from, blocks.room()) => r,
                _ = self.abort.notified() => {
                    // The other side was reset: no FIN from us, the socket's
                    // zero-linger close sends the reset.
                    T::abandon(to);
                    return;
                }
            };
            let at = micros(self.t0);
            let ending = if F::TLS { tls_ending(&read) } else { None };
            // TCP ended without a close_notify: still an orderly FIN.
            let truncated = matches!(ending, Some((TlsClose::NoCloseNotify, _)));
            if let Some((how, detail)) = ending {
                self.tls_end(at, how, detail).await;
            }
            match read {
                Ok(0) => return self.fin(at, &mut to, host.as_mut()).await,
                Err(_) if truncated => return self.fin(at, &mut to, host.as_mut()).await,
                Err(e) if self.fault.as_ref().is_some_and(FaultSide::ended) => {
                    // A rule already ended this direction: nothing to pass on.
                    let end = Tap::End { dir: self.dir, at, how: TcpEnd::Rst, error: Some(e.to_string()) };
                    self.tap.send(end).await;
                    return self.held(to).await;
                }
                Ok(n) => {
                    let bytes = blocks.take(n);
                    let (forward, event) = match host.as_mut().map(|h| h.push(&bytes)) {
                        None => (Some(bytes.clone()), None),
                        Some(Step::Hold) => (None, None),
                        Some(Step::Forward(out, event)) => {
                            host = None;
                            if let (Some(f), Some(EventKind::Rewrite { len, .. })) = (&mut self.fault, event.as_deref())
                            {
                                f.set_sent_head_len(*len);
                            }
                            (Some(Bytes::from(out)), event.map(|e| *e))
                        }
                    };
                    let mut faults = Vec::new();
                    // Its place in the recorded order is taken now, before
                    // forwarding: the peer's answer to these bytes is then
                    // recorded after them however late this hand-off is.
                    let mut data = Some((self.tap.ticket(), Tap::Data { dir: self.dir, at, bytes }));
                    // The rewrite that changed them is recorded right after them.
                    let event = event.map(|kind| (self.tap.ticket(), kind));
                    let written = match (&forward, self.fault.as_mut()) {
                        (Some(out), None) => to.write_all(out).await.map(|()| Flow::On),
                        (Some(out), Some(f)) => {
                            // A rule may make forwarding wait (delay, slice):
                            // the read is recorded first, in time order.
                            if let Some((ticket, read)) = data.take() {
                                self.tap.send_ticketed(ticket, read).await;
                            }
                            f.forward(out, at, self.t0, &mut to, &mut faults).await
                        }
                        (None, _) => Ok(Flow::On),
                    };
                    if let Some((ticket, read)) = data {
                        self.tap.send_ticketed(ticket, read).await;
                    }
                    if let Some((ticket, kind)) = event {
                        self.tap.send_ticketed(ticket, Tap::Event { dir: self.dir, at, kind }).await;
                    }
                    for (at, kind) in faults {
                        self.tap.send(Tap::Event { dir: self.dir, at, kind }).await;
                    }
                    match written {
                        Ok(Flow::Ended(Ending::Fin)) => {
                            let _ = to.shutdown().await;
                        }
                        Ok(Flow::Ended(Ending::Rst)) => {
                            self.to_reset.reset();
                            self.from_reset.reset();
                            self.abort.notify_one();
                            T::abandon(to);
                            return;
                        }
                        _ => {}
                    }
                    if let Err(e) = written {
                        // The receiving peer is gone: that is its reset, not ours.
                        let error = Some(format!("forwarding failed: {e}"));
                        let end = Tap::End { dir: self.dir.reverse(), at: micros(self.t0), how: TcpEnd::Rst, error };
                        self.tap.send(end).await;
                        self.from_reset.reset();
                        self.abort.notify_one();
                        T::abandon(to);
                        return;
                    }
                }
                Err(e) => {
                    let end = Tap::End { dir: self.dir, at, how: TcpEnd::Rst, error: Some(e.to_string()) };
                    self.tap.send(end).await;
                    self.to_reset.reset();
                    self.abort.notify_one();
                    T::abandon(to);
                    return;
                }
            }
        }
    }

    /// A rule ended this direction: a held one waits for the other
    /// direction to end (so the receiver sees nothing, not even an end).
    async fn held(mut self, to: T::Write) {
        if let Some(f) = self.fault.as_mut().filter(|f| f.holds()) {
            f.other_ended().await;
        }
        drop(to);
    }

    /// The sender ended its side: pass the end on (after anything held).
    async fn fin(mut self, at: u64, to: &mut T::Write, host: Option<&mut HostRewrite>) {
        if self.fault.as_ref().is_some_and(FaultSide::holds) {
            self.tap.send(Tap::End { dir: self.dir, at, how: TcpEnd::Fin, error: None }).await;
            if let Some(f) = self.fault.as_mut() {
                f.other_ended().await;
            }
            return;
        }
        if let Some(Step::Forward(out, event)) = host.map(HostRewrite::finish) {
            let _ = to.write_all(&out).await;
            if let Some(kind) = event {
                self.tap.send(Tap::Event { dir: self.dir, at, kind: *kind }).await;
            }
        }
        // As for data: the end's place is taken before it is passed on.
        let ticket = self.tap.ticket();
        let _ = to.shutdown().await;
        self.tap.send_ticketed(ticket, Tap::End { dir: self.dir, at, how: TcpEnd::Fin, error: None }).await;
    }

    async fn tls_end(&self, at: u64, how: TlsClose, detail: Option<String>) {
        let leg = match self.dir {
            Direction::ClientToServer => TlsLeg::Client,
            Direction::ServerToClient => TlsLeg::Upstream,
        };
        self.tap.send(Tap::Event { dir: self.dir, at, kind: EventKind::TlsEnd { leg, how, detail } }).await;
    }
}

async fn read_into<R: AsyncRead + Unpin>(from: &mut R, buf: &mut BytesMut) -> std::io::Result<usize> {
    from.read_buf(buf).await
}
