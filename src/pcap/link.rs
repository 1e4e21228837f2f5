//! From one captured frame to one TCP segment.
//!
//! Link types: Ethernet (1, VLAN tags included), Linux cooked SLL (113)
//! and SLL2 (276), BSD loopback NULL (0) and LOOP (108), raw IP (101, 228,
//! 229). NULL/LOOP carry the address family in the capturing host's byte
//! order, with OS-specific values for IPv6, so the IP version nibble
//! decides instead.
//!
//! Frames cut by the snaplen are decoded as far as they go: the captured
//! part of the payload is kept and [`Segment::missing`] counts the rest.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, TcpSlice};

use super::seq::SeqNumber;

/// `LINKTYPE_*` values this module decodes.
pub const SUPPORTED: [u32; 8] = [0, 1, 101, 108, 113, 228, 229, 276];

/// The parts of a TCP segment reassembly needs.
#[derive(Debug)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN/FIN).
    pub seq: SeqNumber,
    /// Acknowledgement number, when the ACK flag is set.
    pub ack: Option<SeqNumber>,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload bytes sent but not captured (snaplen).
    pub missing: u32,
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(Segment<'a>),
    /// Not TCP over IP (ARP, UDP, ...): ignored.
    Other,
    /// TCP that cannot be used; the reason is worth a note.
    Unusable(String),
}

/// Decodes one frame of link type `link`.
pub fn decode(link: u32, data: &[u8]) -> Decoded<'_> {
    let sliced = match link {
        1 => LaxSlicedPacket::from_ethernet(data).ok(),
        113 => cooked(data, 16, 14),
        276 => cooked(data, 20, 0),
        0 | 108 => data.get(4..).and_then(|ip| LaxSlicedPacket::from_ip(ip).ok()),
        101 | 228 | 229 => LaxSlicedPacket::from_ip(data).ok(),
        _ => None,
    };
    match sliced.and_then(|s| s.net) {
        Some(net) => tcp(&net),
        None => Decoded::Other,
    }
}

/// SLL/SLL2: a fixed header with the EtherType at `proto`.
fn cooked(data: &[u8], header: usize, proto: usize) -> Option<LaxSlicedPacket<'_>> {
    let ty = u16::from_be_bytes([*data.get(proto)?, *data.get(proto + 1)?]);
    Some(LaxSlicedPacket::from_ether_type(EtherType(ty), data.get(header..)?))
}

fn tcp<'a>(net: &LaxNetSlice<'a>) -> Decoded<'a> {
    let (src, dst, claimed, fragmented) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let claimed = usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4);
            let auth = v4.extensions().auth.map_or(0, |a| a.slice().len());
            let claimed = claimed.saturating_sub(auth);
            (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), claimed, v4.is_payload_fragmented())
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let claimed = usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len());
            (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), claimed, v6.is_payload_fragmented())
        }
        LaxNetSlice::Arp(_) => return Decoded::Other,
    };
    let Some(ip_payload) = net.ip_payload_ref() else {
        return Decoded::Other;
    };
    if ip_payload.ip_number != IpNumber::TCP {
        return Decoded::Other;
    }
    if fragmented {
        return Decoded::Unusable("IP fragment (fragments are not reassembled)".into());
    }
    let Ok(tcp) = TcpSlice::from_slice(ip_payload.payload) else {
        return Decoded::Unusable("TCP header cut short".into());
    };
    let missing = if ip_payload.incomplete { claimed.saturating_sub(ip_payload.payload.len()) } else { 0 };
    Decoded::Tcp(Segment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: SeqNumber(tcp.sequence_number()),
        ack: tcp.ack().then(|| SeqNumber(tcp.acknowledgment_number())),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
        missing: missing as u32,
    })
}
