//! Import: a capture file to conversations.
//!
//! The whole file is read into memory, so every error can name its exact
//! byte offset. Import is lenient where the capture is merely incomplete
//! (cut-off file, snaplen, lost segments: notes and `Gap` items) and strict
//! where it is malformed ([`ReadError`]).

use std::collections::BTreeSet;
use std::path::Path;

use super::conversation::Conversation;
use super::error::ReadError;
use super::file::{self, Record};
use super::link::{self, Decoded};
use super::tracker::Tracker;

/// Most per-packet notes kept for the whole capture.
const MAX_NOTES: usize = 50;

/// What a capture file contained.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// One entry per TCP connection, in order of first packet.
    pub conversations: Vec<Conversation>,
    /// Remarks about the file as a whole (truncation, skipped packets).
    pub notes: Vec<String>,
}

/// Reads the capture at `path` (pcap or pcapng, detected by content).
pub fn read(path: &Path) -> Result<Capture, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io { path: path.into(), source })?;
    read_bytes(&bytes)
}

/// Reads a capture held in memory.
pub fn read_bytes(bytes: &[u8]) -> Result<Capture, ReadError> {
    let mut tracker = Tracker::default();
    let mut notes = Vec::new();
    let mut unsupported = BTreeSet::new();
    let mut skipped = 0u64;
    let mut each = |rec: Record| {
        if !link::SUPPORTED.contains(&rec.link) {
            unsupported.insert(rec.link);
            skipped += 1;
            return;
        }
        match link::decode(rec.link, rec.data) {
            Decoded::Tcp(seg) => tracker.segment(rec.number, rec.ts, (rec.data.len(), rec.orig_len), &seg),
            Decoded::Other => {}
            Decoded::Unusable(why) if notes.len() < MAX_NOTES => {
                notes.push(format!("packet {} skipped: {why}", rec.number));
            }
            Decoded::Unusable(_) => {}
        }
    };
    let walk = file::walk(bytes, &mut each)?;
    if let Some(&link) = unsupported.first()
        && skipped == walk.packets
    {
        return Err(ReadError::UnsupportedLinkType(link));
    }
    for link in unsupported {
        notes.push(format!("packets with unsupported link type {link} skipped"));
    }
    let conversations = tracker.finish();
    notes.extend(walk.truncated);
    Ok(Capture { conversations, notes })
}
