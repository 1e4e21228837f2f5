//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`report`]: Autobahn|Testsuite-compatible case reports (model, text, JSON, HTML, index).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod report;
pub mod wire;
