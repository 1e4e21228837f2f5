//! Capture files: export conversations as pcap/pcapng, import them back.
//!
//! Both directions speak one data model, [`Conversation`]: the client and
//! server addresses, a start time, and ordered [`Entry`]s of [`Item`]s
//! (a read's bytes, FIN, RST, or on import a [`Item::Gap`]).
//!
//! **Export** ([`write()`], [`write_to`], the incremental [`Writer`])
//! synthesises Ethernet + IPv4/IPv6 + TCP with the real addresses and
//! ports: a handshake, correct sequence and acknowledgement numbers,
//! valid checksums, segments of at most one MSS, pure ACKs from the peer.
//! Wireshark then follows the stream and dissects WebSocket with no expert
//! warnings. A proxy has two legs (client↔proxy, proxy↔upstream); we write
//! **one** logical conversation between the real client and the real
//! server, because that is what a reader of the capture wants to see and
//! because the two legs carry the same bytes. Ethernet (not raw IP) is
//! used since every tool reads it; MACs are locally administered
//! (`02:00:00:00:00:01` client, `…:02` server).
//!
//! **Import** ([`read()`], [`read_bytes`]) takes pcap or pcapng (detected by
//! magic number) with Ethernet, Linux SLL/SLL2, NULL/LOOP or raw-IP link
//! types, tracks every TCP connection, and reassembles each direction:
//! retransmissions dropped, out-of-order segments reordered, holes turned
//! into explicit gaps (bytes are never joined across a hole). Problems
//! that leave usable data (a cut-off file, snaplen truncation, a missing
//! handshake) become notes; a malformed file is a [`ReadError`] naming the
//! packet and byte offset. Import never panics and always terminates.
//!
//! Layout: [`conversation`] (the model), [`seq`] (wrapping sequence
//! numbers), [`synth`] + [`sink`] + [`mod@writer`] (export), [`mod@file`] +
//! [`link`] + [`reassembly`] + [`tracker`] + [`mod@read`] (import).

pub mod conversation;
pub mod error;
pub mod file;
pub mod link;
pub mod read;
pub mod reassembly;
pub mod seq;
pub mod sink;
pub mod synth;
pub mod tracker;
pub mod writer;

#[cfg(test)]
mod tests;

pub use conversation::{Conversation, Entry, Item};
pub use error::{ReadError, WriteError};
pub use read::{Capture, read, read_bytes};
pub use seq::SeqNumber;
pub use sink::{Format, SNAPLEN, Sink};
pub use synth::{Flow, MSS_V4, MSS_V6, Packet};
pub use writer::{Writer, write, write_to};
