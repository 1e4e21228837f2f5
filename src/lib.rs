//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`accept`]: the accept step every listener uses (backs off when descriptors run out).
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`fault`]: frame-aware fault rules (parse, choose, decide per frame), sans-IO.
//! - [`session`]: the data model every feature shares (recordings, events, summary).
//! - [`store`]: recording files: streaming YAML writer, sidecars, loader.
//! - [`proxy`]: the recording proxy (byte pumps, tap, one recorder thread).
//! - [`net`]: upstream and listen addresses, per-connection resolution, loop refusal, the stream interface.
//! - [`tls`]: TLS at the edge (wss upstreams, termination, wstap's CA, key logging).
//! - [`peer`]: a minimal async WebSocket endpoint on the wire core.
//! - [`echo`]: the embedded echo server (the default upstream).
//! - [`pcap`]: synthetic captures of recordings, and TCP reassembly of real captures.
//! - [`replay`]: the fuzzingserver: replay scenarios and recordings to a real client, judge it.
//! - [`report`]: Autobahn-compatible case reports (text, JSON, HTML, index files).
//! - [`scenario`]: scripted server behaviour (the Autobahn case catalogue) and its byte plan.
//! - [`judge`]: Autobahn's closing-behaviour state machine and verdicts.
//! - [`convert`]: recordings to pcap/pcapng/HAR, captures to recordings.
//! - [`diff`]: behavioural comparison of two recordings or report directories.
//! - [`live`]: `record`'s live view: a line per frame, off the relay path, dropping rather than waiting.
//! - [`demo`]: `wstap demo`, a self-contained record session.
//! - [`escape`]: untrusted text made safe for a terminal (every text output uses it).
//! - [`term`]: when output is coloured (a terminal, no `NO_COLOR`) and the colours.
//! - [`cli`]: argument parsing and subcommands (the binary is a thin shell).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accept;
pub mod cli;
pub mod convert;
pub mod demo;
pub mod diff;
pub mod echo;
pub mod escape;
pub mod fault;
pub mod judge;
pub mod live;
pub mod net;
pub mod pcap;
pub mod peer;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod session;
pub mod store;
pub mod term;
pub mod tls;
pub mod wire;
