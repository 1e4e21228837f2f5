//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`cli`]: argument parsing and subcommands (the binary is a thin shell).
//! - [`demo`]: `wstap demo`, a self-contained record session.
//! - [`peer`]: a minimal async WebSocket endpoint on the wire core.
//! - [`echo`]: the embedded echo server (the default upstream).
//! - [`proxy`]: the recording proxy (byte pumps, tap, recorder threads).
//! - [`session`]: the data model every feature shares (recordings, events, summary).
//! - [`store`]: recording files: streaming YAML writer, sidecars, loader.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod demo;
pub mod echo;
pub mod peer;
pub mod proxy;
pub mod session;
pub mod store;
pub mod wire;
