//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`pcap`]: capture files: export conversations as pcap/pcapng, import
//!   and reassemble TCP from them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod pcap;
pub mod wire;
