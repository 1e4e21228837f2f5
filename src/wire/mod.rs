//! The pure WebSocket wire core: bytes in, values out. No IO, no clocks.
//!
//! Layout:
//! - [`opcode`], [`close`], [`mask`], [`utf8`]: the small vocabulary;
//! - [`frame`]: [`FrameHeader`] parse and emit (any header, invalid included);
//! - [`handshake`]: finding and reading the HTTP upgrade;
//! - [`deflate`]: permessage-deflate parameters, inflating and deflating;
//! - [`violation`]: broken rules as data;
//! - [`decoder`]: one direction's frames, messages and violations;
//! - [`connection`]: both directions, the upgrade deciding what follows;
//! - [`resync`]: finding frame boundaries when the start of a stream is missing.
//!
//! Guarantees, relied on by every layer above:
//! 1. Decoding never fails and never stops: every input byte is reported,
//!    as part of a head, a frame, or a raw run with a reason.
//! 2. Chunking does not matter: the same bytes give the same events however
//!    they are split (payload pieces aside; see [`decoder`]).
//! 3. Nothing is allocated from a declared length.

pub mod close;
pub mod connection;
pub mod decoder;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod opcode;
pub mod resync;
pub mod utf8;
pub mod violation;

pub use close::{ClosePayload, CloseProblem, CodePolicy};
pub use connection::ConnectionDecoder;
pub use decoder::{Event, FrameDecoder};
pub use deflate::{DEFAULT_INFLATE_CAP, DeflateParams, Deflater, InflateStop, Inflated, Inflater};
pub use frame::{FrameHeader, LenForm, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use handshake::{Extension, Head, MAX_HEAD_LEN, Negotiated, accept_key, find_head_end};
pub use mask::{OutboundMasker, apply_mask, unmask_to};
pub use opcode::OpCode;
pub use utf8::Utf8Validator;
pub use violation::{Violation, ViolationKind};

use serde::{Deserialize, Serialize};

/// Which way bytes travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Direction {
    /// From the client to the server (Autobahn's RX, seen from the server).
    #[serde(rename = "c2s")]
    ClientToServer,
    /// From the server to the client.
    #[serde(rename = "s2c")]
    ServerToClient,
}

impl Direction {
    /// 0 for client-to-server, 1 for server-to-client.
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// `c2s` or `s2c`.
    pub fn short(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }

    /// Both directions, client-to-server first.
    pub const BOTH: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];
}

#[cfg(test)]
pub(crate) mod tests;
