//! Synthesising Ethernet/IP/TCP packets from a conversation's items.
//!
//! Contract: [`Flow`] is pure (no IO, no clock). It turns items into
//! packets that Wireshark reassembles without complaint:
//! - a three-way handshake first, with MSS options;
//! - each `Data` item becomes one or more segments of at most [`Flow::mss`]
//!   bytes (PSH on the last), acknowledged by a pure ACK from the peer;
//! - `Fin` and `Rst` are sent as they happened; a `Gap` advances the
//!   sequence number without a packet, so the hole stays visible;
//! - IP and TCP checksums are valid.
//!
//! Packets are built by hand and handed to the caller as two slices
//! ([`Flow::emit`]): the link, IP and TCP headers, written into one buffer
//! owned by the flow, and the segment's payload, a slice of the item's own
//! bytes. So the live `--pcap` path allocates nothing per packet and never
//! copies a payload to build a frame: the caller writes the two pieces one
//! after the other (the TCP checksum covers both, summed in place). The byte layout is exactly what etherparse's
//! `PacketBuilder` produced before (a unit test holds the two side by
//! side): IPv4 with DF set and identification 0, TCP with a 24-byte header
//! carrying the MSS option on SYNs and 20 bytes otherwise.
//!
//! Addresses: `::ffff:a.b.c.d` is canonicalised to IPv4. When both ends
//! are IPv4 the packets are IPv4, otherwise IPv6 (an IPv4 end is then
//! written in its mapped form, as a dual-stack socket would see it).
//! Ethernet framing with locally administered MACs (`02:…`) is used because
//! it is the link type every tool understands.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::conversation::Item;
use super::seq::SeqNumber;
use crate::wire::Direction;

/// Segment size for IPv4 (1500-byte MTU).
pub const MSS_V4: usize = 1460;
/// Segment size for IPv6 (1500-byte MTU).
pub const MSS_V6: usize = 1440;
/// Initial sequence number of the client; close to 2^32 on purpose, so
/// long exports exercise wrap-around in readers.
const CLIENT_ISN: u32 = 0xffff_f000;
/// Initial sequence number of the server.
const SERVER_ISN: u32 = 0x1000_0000;
/// Advertised receive window (no window scaling).
const WINDOW: u16 = 65535;
/// Unacknowledged bytes after which the receiver sends an ACK mid-item.
const ACK_EVERY: usize = 16 * 1024;
const TTL: u8 = 64;

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const TCP_LEN: usize = 20;
/// The MSS option (kind 2, length 4), sent on SYNs only.
const MSS_OPTION_LEN: usize = 4;
const PROTO_TCP: u8 = 6;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One link-layer frame and when it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Time since the UNIX epoch.
    pub ts: Duration,
    /// The Ethernet frame.
    pub data: Vec<u8>,
}

#[derive(Clone, Debug)]
struct End {
    ip: IpAddr,
    port: u16,
    mac: [u8; 6],
    next: SeqNumber,
}

/// TCP state for synthesising one conversation.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Indexed by [`Direction::index`] of the direction this end sends in.
    ends: [End; 2],
    start_us: u64,
    last: Duration,
    reset: bool,
    /// The headers of the frame being built; reused for every packet.
    buf: Vec<u8>,
}

impl Flow {
    /// A flow between `client` and `server` starting at `start_us`
    /// (microseconds since the UNIX epoch).
    pub fn new(client: SocketAddr, server: SocketAddr, start_us: u64) -> Flow {
        let (c, s) = ip_pair(client.ip(), server.ip());
        let end = |ip, port, last, isn| End { ip, port, mac: [2, 0, 0, 0, 0, last], next: SeqNumber(isn) };
        Flow {
            ends: [end(c, client.port(), 1, CLIENT_ISN), end(s, server.port(), 2, SERVER_ISN)],
            start_us,
            last: Duration::from_micros(start_us),
            reset: false,
            buf: Vec::with_capacity(ETH_LEN + IPV6_LEN + TCP_LEN + MSS_OPTION_LEN),
        }
    }

    /// Whether packets are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.ends[0].ip.is_ipv6()
    }

    /// Largest TCP payload per segment.
    pub fn mss(&self) -> usize {
        if self.is_ipv6() { MSS_V6 } else { MSS_V4 }
    }

    /// SYN, SYN-ACK, ACK, all at the start time.
    pub fn handshake(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        let Ok(()) = self.emit_handshake(&mut collect(&mut out));
        out
    }

    /// The packets for one item sent in `dir` at `at_us` after the start.
    pub fn push(&mut self, at_us: u64, dir: Direction, item: &Item) -> Vec<Packet> {
        let mut out = Vec::new();
        let Ok(()) = self.emit(at_us, dir, item, &mut collect(&mut out));
        out
    }

    /// Like [`handshake`](Self::handshake), handing each frame to `out`
    /// (as headers and payload, see [`emit`](Self::emit)) instead of
    /// collecting them.
    pub fn emit_handshake<E, F>(&mut self, out: &mut F) -> Result<(), E>
    where
        F: FnMut(Duration, &[u8], &[u8]) -> Result<(), E>,
    {
        let ts = self.stamp(0);
        let (c2s, s2c) = (Direction::ClientToServer, Direction::ServerToClient);
        self.send(ts, c2s, SYN, &[], out)?;
        self.ends[0].next = self.ends[0].next + 1;
        self.send(ts, s2c, SYN | ACK, &[], out)?;
        self.ends[1].next = self.ends[1].next + 1;
        self.send(ts, c2s, ACK, &[], out)
    }

    /// Like [`push`](Self::push), handing each frame to `out` instead of
    /// collecting them, as `(time, headers, payload)`: the frame is the
    /// headers (a slice of the flow's buffer, valid for the call) followed
    /// by the payload (a slice of `item`'s bytes, empty for pure ACKs and
    /// the like).
    pub fn emit<E, F>(&mut self, at_us: u64, dir: Direction, item: &Item, out: &mut F) -> Result<(), E>
    where
        F: FnMut(Duration, &[u8], &[u8]) -> Result<(), E>,
    {
        let ts = self.stamp(at_us);
        match item {
            Item::Data(bytes) => self.data(ts, dir, bytes, out),
            Item::Fin => {
                self.send(ts, dir, FIN | ACK, &[], out)?;
                self.advance(dir, 1);
                self.ack_unless_reset(ts, dir, out)
            }
            Item::Rst => {
                self.reset = true;
                self.send(ts, dir, RST | ACK, &[], out)
            }
            Item::Gap { len } => {
                self.advance(dir, *len as u32);
                Ok(())
            }
        }
    }

    fn data<E, F>(&mut self, ts: Duration, dir: Direction, bytes: &[u8], out: &mut F) -> Result<(), E>
    where
        F: FnMut(Duration, &[u8], &[u8]) -> Result<(), E>,
    {
        let mut unacked = 0;
        let mut chunks = bytes.chunks(self.mss()).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.send(ts, dir, if last { ACK | PSH } else { ACK }, chunk, out)?;
            self.advance(dir, chunk.len() as u32);
            unacked += chunk.len();
            if last || unacked >= ACK_EVERY {
                self.ack_unless_reset(ts, dir, out)?;
                unacked = 0;
            }
        }
        Ok(())
    }

    /// A pure ACK from the peer of `dir`, acknowledging everything sent so
    /// far (none once the connection was reset).
    fn ack_unless_reset<E, F>(&mut self, ts: Duration, dir: Direction, out: &mut F) -> Result<(), E>
    where
        F: FnMut(Duration, &[u8], &[u8]) -> Result<(), E>,
    {
        if self.reset {
            return Ok(());
        }
        self.send(ts, dir.reverse(), ACK, &[], out)
    }

    /// Builds one segment sent in `dir` (acknowledging everything the peer
    /// sent when `flags` has ACK) and hands it to `out`.
    fn send<E, F>(&mut self, ts: Duration, dir: Direction, flags: u8, payload: &[u8], out: &mut F) -> Result<(), E>
    where
        F: FnMut(Duration, &[u8], &[u8]) -> Result<(), E>,
    {
        let mss = (flags & SYN != 0).then_some(self.mss() as u16);
        let seg = Segment { flags, mss, payload };
        build(&mut self.buf, &self.ends[dir.index()], &self.ends[dir.reverse().index()], &seg);
        out(ts, &self.buf, payload)
    }

    fn advance(&mut self, dir: Direction, by: u32) {
        let end = &mut self.ends[dir.index()];
        end.next = end.next + by;
    }

    /// Absolute time of an item, never earlier than the previous packet.
    fn stamp(&mut self, at_us: u64) -> Duration {
        let ts = Duration::from_micros(self.start_us.saturating_add(at_us));
        self.last = self.last.max(ts);
        self.last
    }
}

/// A `Flow::emit` callback that collects owned packets.
fn collect(out: &mut Vec<Packet>) -> impl FnMut(Duration, &[u8], &[u8]) -> Result<(), Infallible> + '_ {
    |ts, head, payload| {
        out.push(Packet { ts, data: [head, payload].concat() });
        Ok(())
    }
}

/// What varies between the segments of a flow.
struct Segment<'a> {
    flags: u8,
    /// The MSS option to carry (SYNs).
    mss: Option<u16>,
    payload: &'a [u8],
}

/// Writes the headers of the Ethernet frame of `seg` from `src` to `dst`
/// into `buf`; the frame is `buf` followed by `seg.payload`, which the
/// checksum covers. The acknowledgement number is `dst.next` when the ACK
/// flag is set.
fn build(buf: &mut Vec<u8>, src: &End, dst: &End, seg: &Segment) {
    let options = if seg.mss.is_some() { MSS_OPTION_LEN } else { 0 };
    let tcp_len = TCP_LEN + options + seg.payload.len();
    buf.clear();
    buf.extend_from_slice(&dst.mac);
    buf.extend_from_slice(&src.mac);
    let pseudo = match (src.ip, dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            buf.extend_from_slice(&0x0800u16.to_be_bytes());
            let total = ((IPV4_LEN + tcp_len) as u16).to_be_bytes();
            // Version 4, IHL 5; DSCP 0; length; identification 0; DF.
            buf.extend_from_slice(&[0x45, 0, total[0], total[1], 0, 0, 0x40, 0, TTL, PROTO_TCP, 0, 0]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            let check = !fold(sum(&buf[ETH_LEN..]));
            buf[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&check.to_ne_bytes());
            let len = (tcp_len as u16).to_be_bytes();
            sum(&buf[ETH_LEN + 12..]) + sum(&[0, PROTO_TCP, len[0], len[1]])
        }
        (s, d) => {
            buf.extend_from_slice(&0x86ddu16.to_be_bytes());
            let len = (tcp_len as u16).to_be_bytes();
            // Version 6, traffic class and flow label 0.
            buf.extend_from_slice(&[0x60, 0, 0, 0, len[0], len[1], PROTO_TCP, TTL]);
            buf.extend_from_slice(&v6_octets(s));
            buf.extend_from_slice(&v6_octets(d));
            sum(&buf[ETH_LEN + 8..]) + sum(&(tcp_len as u32).to_be_bytes()) + sum(&[0, 0, 0, PROTO_TCP])
        }
    };
    let tcp = buf.len();
    let ack = if seg.flags & ACK != 0 { dst.next.0 } else { 0 };
    buf.extend_from_slice(&src.port.to_be_bytes());
    buf.extend_from_slice(&dst.port.to_be_bytes());
    buf.extend_from_slice(&src.next.0.to_be_bytes());
    buf.extend_from_slice(&ack.to_be_bytes());
    let offset = (((TCP_LEN + options) / 4) as u8) << 4;
    buf.extend_from_slice(&[offset, seg.flags]);
    buf.extend_from_slice(&WINDOW.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
    if let Some(mss) = seg.mss {
        buf.extend_from_slice(&[2, 4]);
        buf.extend_from_slice(&mss.to_be_bytes());
    }
    // The TCP header is 20 or 24 bytes, so the payload's words line up with
    // the segment's and the two sums add up.
    let check = !fold(pseudo + sum(&buf[tcp..]) + sum(seg.payload));
    buf[tcp + 16..tcp + 18].copy_from_slice(&check.to_ne_bytes());
}

/// The one's-complement sum (RFC 1071) of `data`, unfolded, in native byte
/// order: read as native-endian words, the sum comes out byte-swapped on
/// little-endian machines, and so does the checksum stored with
/// `to_ne_bytes`, which cancels out. Summing 32 bits at a time into 64 lets
/// the compiler vectorise it; an odd last byte is padded with zero.
fn sum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let body: u64 = words.by_ref().map(|w| u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))).sum();
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    body + u64::from(u32::from_ne_bytes(tail))
}

/// Folds a [`sum`] to 16 bits with end-around carries.
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Canonical addresses of both ends, in one family.
fn ip_pair(client: IpAddr, server: IpAddr) -> (IpAddr, IpAddr) {
    match (client.to_canonical(), server.to_canonical()) {
        (c @ IpAddr::V4(_), s @ IpAddr::V4(_)) => (c, s),
        (c, s) => (IpAddr::V6(v6(c)), IpAddr::V6(v6(s))),
    }
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    v6(ip).octets()
}

#[cfg(test)]
mod tests {
    //! The hand-built frames against etherparse's `PacketBuilder`, which
    //! built them before: same bytes, checksums included.

    use bytes::Bytes;
    use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader, TcpOptionElement};

    use super::*;

    /// The frame etherparse builds for `seg` from `src` to `dst`.
    fn reference(src: &End, dst: &End, seg: &Segment) -> Vec<u8> {
        let eth = PacketBuilder::ethernet2(src.mac, dst.mac);
        let ip = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), TTL),
            (s, d) => eth.ipv6(v6_octets(s), v6_octets(d), TTL),
        };
        let mut tcp: PacketBuilderStep<TcpHeader> = ip.tcp(src.port, dst.port, src.next.0, WINDOW);
        if seg.flags & ACK != 0 {
            tcp = tcp.ack(dst.next.0);
        }
        for (bit, set) in [(SYN, PacketBuilderStep::syn as fn(_) -> _), (FIN, PacketBuilderStep::fin)] {
            if seg.flags & bit != 0 {
                tcp = set(tcp);
            }
        }
        for (bit, set) in [(RST, PacketBuilderStep::rst as fn(_) -> _), (PSH, PacketBuilderStep::psh)] {
            if seg.flags & bit != 0 {
                tcp = set(tcp);
            }
        }
        if let Some(mss) = seg.mss {
            tcp = tcp.options(&[TcpOptionElement::MaximumSegmentSize(mss)]).unwrap();
        }
        let mut out = Vec::new();
        tcp.write(&mut out, seg.payload).unwrap();
        out
    }

    fn end(addr: &str, mac: u8, next: u32) -> End {
        let a: SocketAddr = addr.parse().unwrap();
        End { ip: a.ip(), port: a.port(), mac: [2, 0, 0, 0, 0, mac], next: SeqNumber(next) }
    }

    #[test]
    fn frames_match_etherparse() {
        let payload: Vec<u8> = (0..MSS_V4).map(|i| (i * 7919 % 256) as u8).collect();
        let pairs = [("192.0.2.1:50000", "198.51.100.7:443"), ("[2001:db8::1]:50000", "[2001:db8::ff]:8080")];
        let flags = [SYN, SYN | ACK, ACK, ACK | PSH, FIN | ACK, RST | ACK];
        let mut buf = Vec::new();
        for (a, b) in pairs {
            for next in [0, 1, 0xffff_f000, 0x1234_5678, u32::MAX] {
                let (src, dst) = (end(a, 1, next), end(b, 2, next.wrapping_mul(31)));
                for (flags, len) in flags.iter().flat_map(|f| [0, 1, 2, 3, 5, 64, 999, MSS_V6].map(|n| (*f, n))) {
                    let mss = (flags & SYN != 0).then_some(MSS_V6 as u16);
                    let seg = Segment { flags, mss, payload: &payload[..len] };
                    build(&mut buf, &src, &dst, &seg);
                    let frame = [&buf[..], seg.payload].concat();
                    assert_eq!(frame, reference(&src, &dst, &seg), "{a} {next:#x} flags {flags:#x} len {len}");
                }
            }
        }
    }

    #[test]
    fn emit_and_push_agree() {
        let (c, s) = ("192.0.2.1:50000".parse().unwrap(), "192.0.2.2:80".parse().unwrap());
        let item = Item::Data(Bytes::from(vec![7u8; 40_000]));
        let mut collected = Flow::new(c, s, 5);
        let mut packets = collected.handshake();
        packets.extend(collected.push(10, Direction::ServerToClient, &item));
        let mut streamed = Flow::new(c, s, 5);
        let mut frames = Vec::new();
        let mut keep = |ts, head: &[u8], payload: &[u8]| -> Result<(), ()> {
            frames.push(Packet { ts, data: [head, payload].concat() });
            Ok(())
        };
        streamed.emit_handshake(&mut keep).unwrap();
        streamed.emit(10, Direction::ServerToClient, &item, &mut keep).unwrap();
        assert_eq!(frames, packets);
        // 28 segments of 1460 bytes (the last shorter), an ACK every 16 KiB
        // and after the last.
        assert_eq!(packets.len(), 3 + 28 + 3);
    }
}
