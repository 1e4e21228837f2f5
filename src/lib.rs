//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`session`]: the data model every feature shares (recordings, events, summary).
//! - [`store`]: recording files: streaming YAML writer, sidecars, loader.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod session;
pub mod store;
pub mod wire;
