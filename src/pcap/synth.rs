//! Synthesising Ethernet/IP/TCP packets from a conversation's items.
//!
//! Contract: [`Flow`] is pure (no IO, no clock). It turns items into
//! packets that Wireshark reassembles without complaint:
//! - a three-way handshake first, with MSS options;
//! - each `Data` item becomes one or more segments of at most [`Flow::mss`]
//!   bytes (PSH on the last), acknowledged by a pure ACK from the peer;
//! - `Fin` and `Rst` are sent as they happened; a `Gap` advances the
//!   sequence number without a packet, so the hole stays visible;
//! - IP and TCP checksums are computed by etherparse.
//!
//! Addresses: `::ffff:a.b.c.d` is canonicalised to IPv4. When both ends
//! are IPv4 the packets are IPv4, otherwise IPv6 (an IPv4 end is then
//! written in its mapped form, as a dual-stack socket would see it).
//! Ethernet framing with locally administered MACs (`02:…`) is used because
//! it is the link type every tool understands.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader, TcpOptionElement};

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
        let ts = self.stamp(0);
        let mss = [TcpOptionElement::MaximumSegmentSize(self.mss() as u16)];
        let (c2s, s2c) = (Direction::ClientToServer, Direction::ServerToClient);
        let syn = self.builder(c2s, None).syn().options(&mss).expect("MSS option fits");
        let syn = finish(syn, &[]);
        self.ends[0].next = self.ends[0].next + 1;
        let ack = self.ends[0].next.0;
        let syn_ack = self.builder(s2c, Some(ack)).syn().options(&mss).expect("MSS option fits");
        let syn_ack = finish(syn_ack, &[]);
        self.ends[1].next = self.ends[1].next + 1;
        let last = self.pure_ack(c2s);
        [syn, syn_ack, last].into_iter().map(|data| Packet { ts, data }).collect()
    }

    /// The packets for one item sent in `dir` at `at_us` after the start.
    pub fn push(&mut self, at_us: u64, dir: Direction, item: &Item) -> Vec<Packet> {
        let ts = self.stamp(at_us);
        let frames = match item {
            Item::Data(bytes) => self.data(dir, bytes),
            Item::Fin => self.fin(dir),
            Item::Rst => self.rst(dir),
            Item::Gap { len } => {
                let end = &mut self.ends[dir.index()];
                end.next = end.next + *len as u32;
                Vec::new()
            }
        };
        frames.into_iter().map(|data| Packet { ts, data }).collect()
    }

    fn data(&mut self, dir: Direction, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut unacked = 0;
        let chunks: Vec<&[u8]> = bytes.chunks(self.mss()).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let ack = self.peer(dir).next.0;
            let step = self.builder(dir, Some(ack));
            let step = if last { step.psh() } else { step };
            out.push(finish(step, chunk));
            let end = &mut self.ends[dir.index()];
            end.next = end.next + chunk.len() as u32;
            unacked += chunk.len();
            if (last || unacked >= ACK_EVERY) && !self.reset {
                out.push(self.pure_ack(dir.reverse()));
                unacked = 0;
            }
        }
        out
    }

    fn fin(&mut self, dir: Direction) -> Vec<Vec<u8>> {
        let ack = self.peer(dir).next.0;
        let fin = finish(self.builder(dir, Some(ack)).fin(), &[]);
        let end = &mut self.ends[dir.index()];
        end.next = end.next + 1;
        if self.reset {
            return vec![fin];
        }
        vec![fin, self.pure_ack(dir.reverse())]
    }

    fn rst(&mut self, dir: Direction) -> Vec<Vec<u8>> {
        self.reset = true;
        let ack = self.peer(dir).next.0;
        vec![finish(self.builder(dir, Some(ack)).rst(), &[])]
    }

    /// An ACK with no payload sent in `dir`, acknowledging everything the
    /// peer has sent.
    fn pure_ack(&self, dir: Direction) -> Vec<u8> {
        let ack = self.peer(dir).next.0;
        finish(self.builder(dir, Some(ack)), &[])
    }

    fn peer(&self, dir: Direction) -> &End {
        &self.ends[dir.reverse().index()]
    }

    fn builder(&self, dir: Direction, ack: Option<u32>) -> PacketBuilderStep<TcpHeader> {
        let (src, dst) = (&self.ends[dir.index()], self.peer(dir));
        let eth = PacketBuilder::ethernet2(src.mac, dst.mac);
        let ip = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), TTL),
            (s, d) => eth.ipv6(v6_octets(s), v6_octets(d), TTL),
        };
        let tcp = ip.tcp(src.port, dst.port, src.next.0, WINDOW);
        match ack {
            Some(n) => tcp.ack(n),
            None => tcp,
        }
    }

    /// Absolute time of an item, never earlier than the previous packet.
    fn stamp(&mut self, at_us: u64) -> Duration {
        let ts = Duration::from_micros(self.start_us.saturating_add(at_us));
        self.last = self.last.max(ts);
        self.last
    }
}

fn finish(step: PacketBuilderStep<TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(step.size(payload.len()));
    // Payloads are at most one MSS, far below the 16-bit IP length limit.
    step.write(&mut out, payload).expect("segment within MSS always fits");
    out
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
