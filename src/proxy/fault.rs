//! Fault rules at the relay edge: carries out a [`DirTap`]'s [`Op`]s on a
//! pump's write half, and records its faults.
//!
//! Exists only for a connection that has rules ([`Plan::for_connection`]);
//! every other connection is relayed by the plain byte pump, untouched.
//! The decisions are all the tap's (sans-IO, `src/fault`); this file only
//! writes, waits and ends sockets as told.
//!
//! [`Plan::for_connection`]: crate::fault::Plan::for_connection

use crate::fault::{ConnFaults, DirTap, Ending, Fault, Op};
use crate::session::EventKind;
use bytes::Bytes;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// What the pump does after a read went through the tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on reading.
    On,
    /// A rule ended the receiver's side just now, this way.
    Ended(Ending),
}

/// One direction's fault state, owned by its pump.
pub struct FaultSide {
    tap: Option<DirTap>,
    ended: Option<Ending>,
    /// Dropped when this direction's pump ends.
    _mine: oneshot::Sender<()>,
    /// Completes when the other direction's pump has ended.
    other: oneshot::Receiver<()>,
}

impl FaultSide {
    /// The two sides (c2s, s2c) of a connection with rules. A direction
    /// without rules gets a side with no tap, only to say when it ends.
    pub fn pair(faults: ConnFaults) -> (FaultSide, FaultSide) {
        let (c2s_done, c2s_ended) = oneshot::channel();
        let (s2c_done, s2c_ended) = oneshot::channel();
        let c2s = FaultSide { tap: faults.c2s, ended: None, _mine: c2s_done, other: s2c_ended };
        let s2c = FaultSide { tap: faults.s2c, ended: None, _mine: s2c_done, other: c2s_ended };
        (c2s, s2c)
    }

    /// Tells the tap the sent request head was `len` bytes (the `Host` rewrite).
    pub fn set_sent_head_len(&mut self, len: u64) {
        if let Some(tap) = &mut self.tap {
            tap.set_sent_head_len(len);
        }
    }

    /// True if a rule holds this direction: its sender's end is not passed on.
    pub fn holds(&self) -> bool {
        self.ended == Some(Ending::Hold)
    }

    /// True if a rule ended this direction (nothing more is forwarded).
    pub fn ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Waits until the other direction's pump has ended.
    pub async fn other_ended(&mut self) {
        let _ = (&mut self.other).await;
    }

    /// Forwards `bytes` (read at `at` µs) through the tap to `to`; the
    /// faults it records are pushed onto `faults`, timed from `t0`.
    pub async fn forward<W: AsyncWrite + Unpin>(
        &mut self,
        bytes: &Bytes,
        at: u64,
        t0: Instant,
        to: &mut W,
        faults: &mut Vec<(u64, EventKind)>,
    ) -> io::Result<Flow> {
        let Some(tap) = self.tap.as_mut().filter(|_| self.ended.is_none()) else {
            return match self.ended {
                Some(_) => Ok(Flow::On),
                None => to.write_all(bytes).await.map(|()| Flow::On),
            };
        };
        let ended = carry_out(tap, bytes, at, t0, to, faults).await?;
        self.ended = ended;
        Ok(ended.map_or(Flow::On, Flow::Ended))
    }
}

/// Pushes `bytes` (read at `at` µs) through `tap` and carries out its ops
/// on `to`: the one place fault ops meet a socket, for the proxy and for
/// replay. Faults go onto `faults`, timed from `t0`; returns how a rule
/// ended the receiver's side, if one did (the caller does the ending).
pub async fn carry_out<W: AsyncWrite + Unpin + ?Sized>(
    tap: &mut DirTap,
    bytes: &Bytes,
    at: u64,
    t0: Instant,
    to: &mut W,
    faults: &mut Vec<(u64, EventKind)>,
) -> io::Result<Option<Ending>> {
    for op in tap.push(bytes, Duration::from_micros(at)) {
        match op {
            Op::Write(b) => to.write_all(&b).await?,
            Op::Sleep(d) => {
                to.flush().await?;
                tokio::time::sleep(d).await;
            }
            Op::Fault(f) => faults.push((t0.elapsed().as_micros() as u64, event(f))),
            Op::End(end) => return Ok(Some(end)),
        }
    }
    Ok(None)
}

/// A tap's fault as a recorded event.
pub fn event(f: Fault) -> EventKind {
    EventKind::Fault {
        rule: f.rule as u32,
        spec: f.spec,
        action: f.action.into(),
        offset: f.offset,
        withheld: f.withheld,
        detail: f.detail,
        delivered: f.delivered.as_deref().map(crate::session::data::hex),
    }
}
