//! Walking the records of a classic pcap or pcapng file held in memory.
//!
//! The format is detected by magic number, never by extension. pcap-file
//! v2 is used for parsing, with its traps avoided:
//! - its reader does not advance after an error, so walking stops at the
//!   first error instead of retrying;
//! - it rejects records whose original length exceeds the snaplen (which
//!   every `tcpdump -s` capture has), so raw records are used and
//!   validated here;
//! - it reads every pcapng timestamp as nanoseconds, so the interface's
//!   `if_tsresol` / `if_tsoffset` are applied here to the raw tick count.
//!
//! A file cut short (a capture killed mid-write) is not an error: the
//! records before the cut are delivered and [`Walk::truncated`] says where
//! it ended. A malformed header or record is a [`ReadError::Corrupt`].

use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::PcapNgParser;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::{Endianness, PcapError, TsResolution};

use super::error::ReadError;

/// Records longer than this are corruption, whatever the snaplen says.
const MAX_RECORD: u32 = 16 * 1024 * 1024;
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const EPB: u32 = 6;
const SPB: u32 = 3;

/// One captured packet.
#[derive(Debug)]
pub struct Record<'a> {
    /// Packet number, from 1 (as Wireshark numbers frames).
    pub number: u64,
    /// Capture time since the UNIX epoch.
    pub ts: Duration,
    /// Link type (`LINKTYPE_*` value).
    pub link: u32,
    /// Bytes captured.
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// How a walk ended.
#[derive(Debug, Default)]
pub struct Walk {
    /// Packets delivered.
    pub packets: u64,
    /// Set when the file ends inside a record: what was cut.
    pub truncated: Option<String>,
}

/// Calls `each` for every record of `bytes`, in file order.
pub fn walk<'a>(bytes: &'a [u8], each: &mut dyn FnMut(Record<'a>)) -> Result<Walk, ReadError> {
    match bytes.get(..4) {
        Some(m) if m == PCAPNG_MAGIC => walk_pcapng(bytes, each),
        Some([0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1]) => walk_pcap(bytes, each),
        _ => Err(ReadError::NotACapture { found: hex(&bytes[..bytes.len().min(4)]) }),
    }
}

fn walk_pcap<'a>(bytes: &'a [u8], each: &mut dyn FnMut(Record<'a>)) -> Result<Walk, ReadError> {
    let (mut rem, parser) = PcapParser::new(bytes).map_err(|e| corrupt(0, 0, e, "file header"))?;
    let header = parser.header();
    let link = u32::from(header.datalink);
    let mut walk = Walk::default();
    loop {
        let offset = (bytes.len() - rem.len()) as u64;
        let number = walk.packets + 1;
        if rem.is_empty() {
            return Ok(walk);
        }
        if rem.len() < 16 {
            walk.truncated = Some(cut(number, offset, "record header", rem.len(), 16));
            return Ok(walk);
        }
        let field = |i: usize| {
            let b = [rem[i], rem[i + 1], rem[i + 2], rem[i + 3]];
            match header.endianness {
                Endianness::Big => u32::from_be_bytes(b),
                Endianness::Little => u32::from_le_bytes(b),
            }
        };
        let incl_len = field(8);
        if incl_len > MAX_RECORD.max(header.snaplen) {
            let reason = format!("captured length {incl_len} exceeds snaplen {}", header.snaplen);
            return Err(ReadError::Corrupt { packet: number, offset, reason });
        }
        if rem.len() - 16 < incl_len as usize {
            walk.truncated = Some(cut(number, offset, "packet", rem.len() - 16, incl_len as usize));
            return Ok(walk);
        }
        let (next, raw) = parser.next_raw_packet(rem).map_err(|e| corrupt(number, offset, e, "record"))?;
        let frac = match header.ts_resolution {
            TsResolution::MicroSecond => u64::from(raw.ts_frac) * 1000,
            TsResolution::NanoSecond => u64::from(raw.ts_frac),
        };
        let ts = Duration::from_secs(u64::from(raw.ts_sec)) + Duration::from_nanos(frac);
        let data = &rem[16..16 + incl_len as usize];
        each(Record { number, ts, link, data, orig_len: raw.orig_len });
        walk.packets = number;
        rem = next;
    }
}

fn walk_pcapng<'a>(bytes: &'a [u8], each: &mut dyn FnMut(Record<'a>)) -> Result<Walk, ReadError> {
    if bytes.len() < 28 {
        let truncated = Some(cut(1, 0, "section header", bytes.len(), 28));
        return Ok(Walk { packets: 0, truncated });
    }
    let (mut rem, mut parser) = PcapNgParser::new(bytes).map_err(|e| corrupt(0, 0, e, "section header"))?;
    let mut walk = Walk::default();
    let mut last_ts = Duration::ZERO;
    loop {
        let offset = (bytes.len() - rem.len()) as u64;
        let number = walk.packets + 1;
        if rem.is_empty() {
            return Ok(walk);
        }
        if let Some(len) = block_len(rem, parser.section().endianness) {
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                let reason = format!("invalid block length {len}");
                return Err(ReadError::Corrupt { packet: number, offset, reason });
            }
            if len as usize > rem.len() {
                walk.truncated = Some(cut(number, offset, "block", rem.len(), len as usize));
                return Ok(walk);
            }
        } else {
            walk.truncated = Some(cut(number, offset, "block header", rem.len(), 8));
            return Ok(walk);
        }
        let (next, raw) = parser.next_raw_block(rem).map_err(|e| corrupt(number, offset, e, "block"))?;
        rem = next;
        if raw.type_ != EPB && raw.type_ != SPB {
            continue;
        }
        let body: &'a [u8] = match raw.body {
            std::borrow::Cow::Borrowed(b) => b,
            std::borrow::Cow::Owned(_) => continue,
        };
        let big = parser.section().endianness == Endianness::Big;
        let Some(packet) = packet_block(raw.type_, body, big) else {
            let reason = "packet block shorter than its captured length".to_string();
            return Err(ReadError::Corrupt { packet: number, offset, reason });
        };
        let Some(idb) = parser.interfaces().get(packet.iface as usize) else {
            let reason = format!("packet refers to undeclared interface {}", packet.iface);
            return Err(ReadError::Corrupt { packet: number, offset, reason });
        };
        if let Some(ticks) = packet.ticks {
            last_ts = timestamp(ticks, idb);
        }
        let (data, orig_len) = (packet.data, packet.orig_len);
        let link = u32::from(idb.linktype);
        each(Record { number, ts: last_ts, link, data, orig_len });
        walk.packets = number;
    }
}

/// The total length field of the block at the start of `rem`; `None` if
/// the file ends inside it. A new section (which declares its own byte
/// order) reports 12 here and is checked by the parser.
fn block_len(rem: &[u8], endianness: Endianness) -> Option<u32> {
    let b: [u8; 4] = rem.get(4..8)?.try_into().ok()?;
    if rem.get(..4) == Some(&PCAPNG_MAGIC[..]) {
        return Some(12);
    }
    Some(match endianness {
        Endianness::Big => u32::from_be_bytes(b),
        Endianness::Little => u32::from_le_bytes(b),
    })
}

/// The fields of an enhanced or simple packet block.
struct PacketBlock<'a> {
    iface: u32,
    ticks: Option<u64>,
    data: &'a [u8],
    orig_len: u32,
}

/// Parses an EPB or SPB body (pcap-file's own parser would lose the
/// interface's time resolution).
fn packet_block(type_: u32, body: &[u8], big: bool) -> Option<PacketBlock<'_>> {
    let word = |i: usize| -> Option<u32> {
        let b: [u8; 4] = body.get(i..i + 4)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    if type_ == SPB {
        let orig_len = word(0)?;
        let len = (orig_len as usize).min(body.len() - 4);
        return Some(PacketBlock { iface: 0, ticks: None, data: &body[4..4 + len], orig_len });
    }
    let ticks = (u64::from(word(4)?) << 32) | u64::from(word(8)?);
    let cap_len = word(12)? as usize;
    let data = body.get(20..20usize.checked_add(cap_len)?)?;
    Some(PacketBlock { iface: word(0)?, ticks: Some(ticks), data, orig_len: word(16)? })
}

/// Converts a pcapng tick count with the interface's resolution and offset.
fn timestamp(ticks: u64, idb: &InterfaceDescriptionBlock) -> Duration {
    let mut resol = 6u8;
    let mut offset = 0u64;
    for opt in &idb.options {
        match opt {
            InterfaceDescriptionOption::IfTsResol(r) => resol = *r,
            InterfaceDescriptionOption::IfTsOffset(o) => offset = *o,
            _ => {}
        }
    }
    let ticks = u128::from(ticks);
    let nanos = if resol & 0x80 != 0 {
        let shift = u32::from(resol & 0x7f).min(127);
        (ticks * 1_000_000_000) >> shift
    } else {
        let exp = u32::from(resol).min(38);
        if exp <= 9 { ticks * 10u128.pow(9 - exp) } else { ticks / 10u128.pow(exp - 9) }
    };
    let secs = (nanos / 1_000_000_000) as u64 + offset;
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

fn cut(number: u64, offset: u64, what: &str, have: usize, need: usize) -> String {
    format!(
        "file truncated: it ends inside the {what} of packet {number} at byte offset {offset} \
         ({have} of {need} bytes present)"
    )
}

fn corrupt(packet: u64, offset: u64, err: PcapError, what: &str) -> ReadError {
    ReadError::Corrupt { packet, offset, reason: format!("bad {what}: {err}") }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}
