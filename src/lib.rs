//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod wire;
