//! A recording as a capture: the conversation its events describe.
//!
//! The bytes come from [`Recording::read_chunks`], so every TCP read the
//! proxy made becomes one [`Item::Data`] (split into MSS-sized segments by
//! the synthesiser), and `fin`, `rst` and `gap` events become the matching
//! items, all in event order. Times are `started` plus each event's `at`.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::pcap::{Conversation, Item};
use crate::session::{Direction, EventKind, Recording, time};

/// The end-to-end conversation a recording describes. Errors say which
/// header field or event could not be used.
pub fn conversation(rec: &Recording) -> Result<Conversation, String> {
    let start_us = time::parse_rfc3339(&rec.started)
        .ok_or_else(|| format!("`started: {}` is not an RFC 3339 UTC time", rec.started))?;
    let client = address("client", &rec.client)?;
    let server = address("server", &rec.server)?;
    let mut chunks = [chunks(rec, Direction::ClientToServer)?, chunks(rec, Direction::ServerToClient)?];
    let mut conv = Conversation::new(client, server, start_us);
    for e in &rec.events {
        let item = match &e.kind {
            EventKind::Read { .. } => {
                let bytes = chunks[e.dir.index()].pop_front().ok_or("more reads than content")?;
                Item::Data(Bytes::from(bytes))
            }
            EventKind::Fin => Item::Fin,
            EventKind::Rst { .. } => Item::Rst,
            EventKind::Gap { len, .. } => Item::Gap { len: *len },
            _ => continue,
        };
        conv.push(e.at, e.dir, item);
    }
    Ok(conv)
}

fn chunks(rec: &Recording, dir: Direction) -> Result<VecDeque<Vec<u8>>, String> {
    let chunks = rec.read_chunks(dir).map_err(|e| format!("the {} byte stream cannot be rebuilt: {e}", dir.short()))?;
    Ok(chunks.into_iter().map(|(_, bytes)| bytes).collect())
}

fn address(field: &str, text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("`{field}: {text}` is not an IP:port address (e.g. 127.0.0.1:9001 or [::1]:9001)"))
}
