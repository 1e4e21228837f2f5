//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`session`]: the data model every feature shares (recordings, events, summary).
//! - [`diff`]: pure comparison of two recordings or report directories, with noise normalised away.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod diff;
pub mod session;
pub mod wire;
