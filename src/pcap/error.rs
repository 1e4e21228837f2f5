//! Errors of capture export and import.
//!
//! Import errors name where the file went wrong (packet number, counted
//! from 1 as Wireshark does, and byte offset), because users fix captures
//! with editcap and need to know where to cut.

use std::io;
use std::path::PathBuf;

/// Writing a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The underlying file or stream failed.
    #[error("writing capture: {0}")]
    Io(#[from] io::Error),
    /// pcap-file refused a header or packet.
    #[error("writing capture: {0}")]
    Pcap(#[from] pcap_file::PcapError),
}

/// Reading a capture failed; nothing usable was produced.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng capture (starts with {found})")]
    NotACapture {
        /// The first bytes, in hex.
        found: String,
    },
    /// The capture's link type is not one we can decode.
    #[error("unsupported link type {0} (supported: Ethernet, Linux SLL/SLL2, NULL/LOOP, raw IP)")]
    UnsupportedLinkType(u32),
    /// A header or record is malformed (not merely cut short).
    #[error("corrupt capture at packet {packet}, byte offset {offset}: {reason}")]
    Corrupt {
        /// Number of the packet being read, from 1.
        packet: u64,
        /// Byte offset of the bad record or block.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}
