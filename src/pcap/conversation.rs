//! The data model shared by export and import: one TCP conversation as
//! the application saw it (reads, half-closes, resets), not as packets.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::wire::Direction;

/// One thing that happened on one side of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Bytes that travelled in one go (one `read()` when recording; one
    /// in-order run of reassembled payload when importing).
    Data(Bytes),
    /// The sender half-closed (TCP FIN).
    Fin,
    /// The sender reset the connection (TCP RST).
    Rst,
    /// `len` bytes of the stream that are missing (never captured, or cut by
    /// snaplen). Data after a gap is not contiguous with data before it.
    Gap {
        /// Number of missing bytes.
        len: u64,
    },
}

/// An [`Item`] with its time and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Microseconds since [`Conversation::start_us`].
    pub at_us: u64,
    /// Which way it travelled.
    pub dir: Direction,
    /// What happened.
    pub item: Item,
}

/// One logical client↔server TCP conversation.
///
/// For a proxy recording this is the *end-to-end* conversation: the real
/// client address and the real upstream server address, not either leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// The side that opened the connection.
    pub client: SocketAddr,
    /// The side that accepted it.
    pub server: SocketAddr,
    /// When the conversation started, in microseconds since the UNIX epoch.
    pub start_us: u64,
    /// What happened, in order.
    pub entries: Vec<Entry>,
    /// Human-readable remarks from import (missing handshake, gaps, ...).
    pub notes: Vec<String>,
}

impl Conversation {
    /// An empty conversation.
    pub fn new(client: SocketAddr, server: SocketAddr, start_us: u64) -> Self {
        Conversation { client, server, start_us, entries: Vec::new(), notes: Vec::new() }
    }

    /// Appends an entry.
    pub fn push(&mut self, at_us: u64, dir: Direction, item: Item) {
        self.entries.push(Entry { at_us, dir, item });
    }

    /// All data bytes sent in `dir`, concatenated (gaps are skipped).
    pub fn data(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| e.dir == dir) {
            if let Item::Data(b) = &e.item {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// The address that sends in `dir`.
    pub fn sender(&self, dir: Direction) -> SocketAddr {
        match dir {
            Direction::ClientToServer => self.client,
            Direction::ServerToClient => self.server,
        }
    }
}
