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
use crate::wire::{Direction, Inflater, Utf8Validator, Violation, ViolationKind};
use std::io;

/// One direction's inflater and the message it is inflating.
pub(super) struct Inflation {
    inflater: Inflater,
    msg: Option<Pending>,
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
    hasher: Hasher,
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
}

impl Inflation {
    pub(super) fn new(inflater: Inflater) -> Inflation {
        Inflation { inflater, msg: None }
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
        if compressed {
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
        let Some(msg) = self.msg.as_mut() else { return Ok(()) };
        let Pending { utf8, out, .. } = msg;
        self.inflater.push(piece, &mut |chunk| out.write(dir, chunk, utf8, store));
        if msg.stop_offset.is_none() && self.inflater.stopped() {
            msg.stop_offset = Some(msg.frame_offset);
        }
        msg.out.error.take().map_or(Ok(()), Err)
    }

    /// The message's last frame ended: finishes inflating it.
    pub(super) fn end<S: PayloadStore>(&mut self, dir: Direction, store: &mut S) -> io::Result<Option<Done>> {
        let Some(mut msg) = self.msg.take() else { return Ok(None) };
        let Pending { utf8, out, .. } = &mut msg;
        let result = self.inflater.end_message(&mut |chunk| out.write(dir, chunk, utf8, store));
        if let Some(e) = msg.out.error.take() {
            return Err(e);
        }
        let mut violations = Vec::new();
        if let Some(stop) = &result.stop {
            let offset = msg.stop_offset.unwrap_or(msg.frame_offset);
            violations.push(Violation { offset, kind: stop.violation() });
        }
        let cut = result.stop.is_some();
        let bad_utf8 = msg.utf8.as_mut().is_some_and(|v| v.failed() || (!cut && v.finish().is_err()));
        if bad_utf8 {
            violations.push(Violation { offset: msg.offset, kind: ViolationKind::InvalidUtf8Text });
        }
        let data = msg.out.finish(dir, store);
        Ok(Some(Done { data, len: result.len, cut, violations }))
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
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        if !self.spilled && self.inline.len() + chunk.len() <= INLINE_MAX {
            self.inline.extend_from_slice(chunk);
            return;
        }
        if !self.spilled {
            self.spilled = true;
            let held = std::mem::take(&mut self.inline);
            self.sidecar = self.store(dir, &held, store);
        }
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
        let sha256 = self.hasher.finish();
        match (self.spilled, self.sidecar) {
            (false, _) => Data::inline(&self.inline),
            (true, Some(offset)) => {
                Data::Sidecar(SidecarRef { file: store.inflated_file_name(dir), offset, len: self.len, sha256 })
            }
            (true, None) => Data::Sha256(sha256),
        }
    }
}

#[cfg(test)]
mod tests;
