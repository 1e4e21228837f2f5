//! wstap taps, records, replays and judges WebSocket traffic.
//!
//! # Layout
//! - [`wire`]: the pure, sans-IO protocol core (frames, handshake, decoder).
//! - [`scenario`]: test-case files (YAML): actions compiled to exact bytes,
//!   expectations, and Autobahn's case selection and numbering.
//! - [`judge`]: Autobahn's verdicts: the connection-flag state machine and
//!   the judging algorithm, pure.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod judge;
pub mod scenario;
pub mod wire;
