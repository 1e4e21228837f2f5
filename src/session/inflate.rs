//! Inflating permessage-deflate messages while recording.
//!
//! The wire decoder reports compressed payload as it arrived; this module
//! feeds it, piece by piece, to one [`Inflater`] per direction and keeps the
//! result beside the wire bytes: inline when it fits in [`INLINE_MAX`],
//! otherwise streamed to the store's inflated sidecar (or, for stores that
//! keep none, digested only). Memory stays bounded by [`INLINE_MAX`] plus the
//! inflater's chunk, however large a message inflates.
//!
//! Violations found here are reported when the message ends, just before
//! its `message` event, so their order does not depend on TCP read sizes:
//! - `inflate_failed` / `inflate_cap_hit` at the offset of the frame whose
//!   payload stopped inflation (for the sync tail: the last frame);
//! - `invalid_utf8_text` for a compressed text message whose *inflated*
//!   bytes are not UTF-8, at the message's offset (inflated bytes have no
//!   stream offset of their own).

use super::builder::PayloadStore;
use super::data::{Data, Hasher, INLINE_MAX, SidecarRef};
use crate::wire::{Direction, InflateStop, Inflater, Utf8Validator, Violation, ViolationKind};
use std::io;

/// Inflated bytes each direction of a connection may produce before the
/// ratio budget applies (see [`INFLATE_BUDGET_RATIO`]).
pub const INFLATE_BUDGET_SLACK: u64 = 4 * 1024 * 1024;

/// Past [`INFLATE_BUDGET_SLACK`], each compressed byte a direction has sent
/// allows this many inflated bytes. Real traffic inflates 3–20×; a
/// decompression bomb ~1000×. A direction whose inflated total passes
/// `SLACK + RATIO × compressed` stops being inflated for the rest of the
/// connection (a `note` says so): its messages keep their compressed wire
/// payload, which is all a recording needs to be exact. This bounds the
/// recorder's work and disk per received byte, so one connection cannot
/// buy much of the shared recorder with little traffic.
pub const INFLATE_BUDGET_RATIO: u64 = 64;

/// One direction's inflater and the message it is inflating.
pub(super) struct Inflation {
    inflater: Inflater,
    msg: Option<Pending>,
    /// The per-message cap the inflater was made with.
    message_cap: u64,
    /// Compressed bytes pushed so far, all messages.
    compressed: u64,
    /// Inflated bytes produced by finished messages.
    inflated: u64,
    /// The budget ran out: nothing more is inflated in this direction.
    exhausted: bool,
}

/// A compressed message being inflated.
struct Pending {
    offset: u64,
    frame_offset: u64,
    stop_offset: Option<u64>,
    utf8: Option<Utf8Validator>,
    out: Output,
}

/// Where inflated bytes go: memory up to [`INLINE_MAX`], then the store.
#[derive(Default)]
struct Output {
    inline: Vec<u8>,
    spilled: bool,
    /// Sidecar start, once spilled, if the store keeps inflated bytes.
    sidecar: Option<u64>,
    /// Made once spilled (an inline payload needs no digest, and a BLAKE3
    /// state is ~2 KiB): hashes what was held, then every later chunk.
    hasher: Option<Hasher>,
    len: u64,
    error: Option<io::Error>,
}

/// A message's inflated payload, as recorded.
pub(super) struct Done {
    /// The inflated bytes (possibly only their digest).
    pub data: Data,
    /// How many bytes were inflated.
    pub len: u64,
    /// True if inflation stopped before the message's end.
    pub cut: bool,
    /// What went wrong, in order.
    pub violations: Vec<Violation>,
    /// This message ran the direction's inflation budget out: `detail` for
    /// the note that says so.
    pub budget_exhausted: Option<String>,
}

impl Inflation {
    pub(super) fn new(inflater: Inflater) -> Inflation {
        let message_cap = inflater.cap();
        Inflation { inflater, msg: None, message_cap, compressed: 0, inflated: 0, exhausted: false }
    }

    /// Caps the current message at what the budget still allows; returns
    /// true if the budget, not the per-message cap, is the binding limit.
    fn apply_budget(&mut self) -> bool {
        let allowed = INFLATE_BUDGET_SLACK.saturating_add(INFLATE_BUDGET_RATIO.saturating_mul(self.compressed));
        let left = allowed.saturating_sub(self.inflated);
        let budget_cap = self.inflater.produced().saturating_add(left);
        self.inflater.set_cap(budget_cap.min(self.message_cap));
        budget_cap < self.message_cap
    }

    /// A data frame starts at `offset`. A compressed first frame starts a
    /// message to inflate; an uncompressed one ends any left unfinished.
    pub(super) fn frame(&mut self, offset: u64, starts_message: bool, compressed: bool, text: bool) {
        if !starts_message {
            if let Some(msg) = self.msg.as_mut() {
                msg.frame_offset = offset;
            }
            return;
        }
        if self.msg.take().is_some() {
            // A new message interrupted an unfinished one (a violation the
            // decoder reports); drop the old one's state.
            self.inflater.end_message(&mut |_| {});
        }
        if compressed && !self.exhausted {
            let utf8 = text.then(Utf8Validator::new);
            self.msg = Some(Pending { offset, frame_offset: offset, stop_offset: None, utf8, out: Output::default() });
        }
    }

    /// True while a compressed message is being inflated.
    pub(super) fn active(&self) -> bool {
        self.msg.is_some()
    }

    /// Inflates a piece of the current message's payload.
    pub(super) fn push<S: PayloadStore>(&mut self, dir: Direction, piece: &[u8], store: &mut S) -> io::Result<()> {
        if self.msg.is_none() {
            return Ok(());
        }
        self.compressed += piece.len() as u64;
        let budget_binds = self.apply_budget();
        let Some(msg) = self.msg.as_mut() else { return Ok(()) };
        let Pending { utf8, out, .. } = msg;
        self.inflater.push(piece, &mut |chunk| out.write(dir, chunk, utf8, store));
        if msg.stop_offset.is_none() && self.inflater.stopped() {
            msg.stop_offset = Some(msg.frame_offset);
            self.exhausted = budget_binds && self.inflater.produced() >= self.inflater.cap();
        }
        msg.out.error.take().map_or(Ok(()), Err)
    }

    /// The message's last frame ended: finishes inflating it.
    pub(super) fn end<S: PayloadStore>(&mut self, dir: Direction, store: &mut S) -> io::Result<Option<Done>> {
        let Some(mut msg) = self.msg.take() else { return Ok(None) };
        let budget_binds = !self.inflater.stopped() && self.apply_budget();
        let Pending { utf8, out, .. } = &mut msg;
        let result = self.inflater.end_message(&mut |chunk| out.write(dir, chunk, utf8, store));
        self.inflater.set_cap(self.message_cap);
        if let Some(e) = msg.out.error.take() {
            return Err(e);
        }
        self.inflated += result.len;
        self.exhausted |= budget_binds && result.stop.is_some() && !matches!(result.stop, Some(InflateStop::Failed(_)));
        let mut violations = Vec::new();
        let budget_exhausted = self.exhausted.then(|| {
            format!(
                "{dir_name}: {} bytes inflated from {} compressed, past the budget of {} MiB + {INFLATE_BUDGET_RATIO} \
                 per compressed byte; this message is inflated only in part, and later messages in this direction \
                 are recorded compressed only",
                self.inflated,
                self.compressed,
                INFLATE_BUDGET_SLACK >> 20,
                dir_name = dir.short()
            )
        });
        match &result.stop {
            Some(_) if budget_exhausted.is_some() => {}
            Some(stop) => {
                let offset = msg.stop_offset.unwrap_or(msg.frame_offset);
                violations.push(Violation { offset, kind: stop.violation() });
            }
            None => {}
        }
        let cut = result.stop.is_some();
        let bad_utf8 = msg.utf8.as_mut().is_some_and(|v| v.failed() || (!cut && v.finish().is_err()));
        if bad_utf8 {
            violations.push(Violation { offset: msg.offset, kind: ViolationKind::InvalidUtf8Text });
        }
        let data = msg.out.finish(dir, store);
        Ok(Some(Done { data, len: result.len, cut, violations, budget_exhausted }))
    }
}

impl Output {
    fn write<S: PayloadStore>(
        &mut self,
        dir: Direction,
        chunk: &[u8],
        utf8: &mut Option<Utf8Validator>,
        store: &mut S,
    ) {
        if let Some(v) = utf8.as_mut() {
            let _ = v.feed(chunk);
        }
        self.len += chunk.len() as u64;
        if !self.spilled && self.inline.len() + chunk.len() <= INLINE_MAX {
            self.inline.extend_from_slice(chunk);
            return;
        }
        if !self.spilled {
            self.spilled = true;
            let held = std::mem::take(&mut self.inline);
            self.hasher.get_or_insert_with(Hasher::default).update(&held);
            self.sidecar = self.store(dir, &held, store);
        }
        self.hasher.get_or_insert_with(Hasher::default).update(chunk);
        if self.sidecar.is_some() {
            self.store(dir, chunk, store);
        }
    }

    /// Appends to the store; `None` if it keeps no inflated bytes or failed.
    fn store<S: PayloadStore>(&mut self, dir: Direction, bytes: &[u8], store: &mut S) -> Option<u64> {
        match store.append_inflated(dir, bytes) {
            Ok(at) => at,
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn finish<S: PayloadStore>(self, dir: Direction, store: &S) -> Data {
        if !self.spilled {
            return Data::inline(&self.inline);
        }
        let digest = self.hasher.unwrap_or_default().finish();
        match self.sidecar {
            Some(offset) => Data::Sidecar(SidecarRef::new(store.inflated_file_name(dir), offset, self.len, digest)),
            None => digest.into_data(),
        }
    }
}

#[cfg(test)]
mod tests;
