//! Writing packets to a classic pcap or pcapng stream.
//!
//! Works around three pcap-file v2 traps (see the dependency notes):
//! - pcapng timestamps are always written in nanoseconds, so the interface
//!   declares `if_tsresol = 9` (without it tools read them as microseconds,
//!   and dates land in the year 55840);
//! - packets longer than the snaplen are rejected rather than truncated,
//!   so the snaplen is [`SNAPLEN`];
//! - the writers neither buffer nor flush, and `PcapWriter` gives no access
//!   to its inner writer until it is consumed: [`Sink::flush`] /
//!   [`Sink::finish`] flush explicitly, so errors are reported instead of
//!   being swallowed by `BufWriter`'s `Drop`. Callers should pass a
//!   buffered writer.
//!
//! pcap-file writes the file header (and for pcapng the section header and
//! interface description); packet records are written here, straight into
//! the writer: a classic pcap record is 16 bytes of header before the
//! frame, a pcapng Enhanced Packet Block 28 bytes before it and padding
//! plus a length after it. Building them through pcap-file cost a block
//! value per packet on the live `--pcap` path.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::PcapHeader;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::error::WriteError;
use super::synth::Packet;

/// Snapshot length declared in written files (tcpdump's default).
pub const SNAPLEN: u32 = 262_144;

/// Capture file format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap, microsecond timestamps (the most widely read).
    Pcap,
    /// Classic pcap, nanosecond timestamps (magic `a1b23c4d`).
    PcapNano,
    /// pcapng with one Ethernet interface, nanosecond timestamps.
    PcapNg,
}

impl Format {
    /// `PcapNg` for a `.pcapng` extension (any case), `Pcap` otherwise.
    pub fn from_path(path: &Path) -> Format {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("pcapng") { Format::PcapNg } else { Format::Pcap }
    }
}

/// pcapng block type of an Enhanced Packet Block.
const EPB_TYPE: u32 = 6;
/// Bytes of an Enhanced Packet Block besides the padded packet data: type,
/// two lengths, interface, timestamp (two words), captured and original
/// length. No options.
const EPB_OVERHEAD: usize = 32;

enum Inner<W: Write> {
    Pcap {
        writer: W,
        nanos: bool,
    },
    /// After the section header and interface description written by
    /// pcap-file; packets are written here in the section's byte order.
    Ng {
        writer: W,
        big_endian: bool,
    },
}

/// A capture file being written: header first, then packets.
pub struct Sink<W: Write> {
    inner: Inner<W>,
}

impl<W: Write> Sink<W> {
    /// Writes the file header (and for pcapng the interface description).
    pub fn new(writer: W, format: Format) -> Result<Sink<W>, WriteError> {
        let inner = match format {
            Format::Pcap => pcap_header(writer, false)?,
            Format::PcapNano => pcap_header(writer, true)?,
            Format::PcapNg => {
                let mut ng = PcapNgWriter::new(writer)?;
                let mut idb = InterfaceDescriptionBlock::new(DataLink::ETHERNET, SNAPLEN);
                idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
                ng.write_pcapng_block(idb)?;
                let big_endian = ng.section().endianness == Endianness::Big;
                Inner::Ng { writer: ng.into_inner(), big_endian }
            }
        };
        Ok(Sink { inner })
    }

    /// Appends one packet.
    pub fn write(&mut self, packet: &Packet) -> Result<(), WriteError> {
        self.write_frame(packet.ts, &packet.data, &[])
    }

    /// Appends one frame seen at `ts` (since the UNIX epoch): `head`
    /// followed by `payload` (the two pieces [`Flow::emit`] hands over, so
    /// a payload is copied from where it already is, not joined first).
    /// The record header goes straight into the writer, with no block built
    /// first.
    ///
    /// [`Flow::emit`]: super::synth::Flow::emit
    pub fn write_frame(&mut self, ts: Duration, head: &[u8], payload: &[u8]) -> Result<(), WriteError> {
        let size = head.len() + payload.len();
        let len = size as u32;
        match &mut self.inner {
            Inner::Pcap { writer, nanos } => {
                let frac = if *nanos { ts.subsec_nanos() } else { ts.subsec_micros() };
                writer.write_all(&words::<16>(&[ts.as_secs() as u32, frac, len, len], u32::to_le_bytes))?;
                writer.write_all(head)?;
                writer.write_all(payload)?;
            }
            Inner::Ng { writer, big_endian } => {
                let to_bytes = if *big_endian { u32::to_be_bytes } else { u32::to_le_bytes };
                let pad = size.next_multiple_of(4) - size;
                let total = (EPB_OVERHEAD + size + pad) as u32;
                let nanos = ts.as_nanos() as u64;
                let (high, low) = ((nanos >> 32) as u32, nanos as u32);
                // Block type, total length, interface 0, timestamp, captured and original length.
                writer.write_all(&words::<28>(&[EPB_TYPE, total, 0, high, low, len, len], to_bytes))?;
                writer.write_all(head)?;
                writer.write_all(payload)?;
                writer.write_all(&[0; 3][..pad])?;
                writer.write_all(&to_bytes(total))?;
            }
        }
        Ok(())
    }

    /// Flushes the underlying writer, so a live capture can be read now.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        match &mut self.inner {
            Inner::Pcap { writer, .. } => writer.flush()?,
            Inner::Ng { writer, .. } => writer.flush()?,
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, WriteError> {
        let mut w = match self.inner {
            Inner::Pcap { writer, .. } | Inner::Ng { writer, .. } => writer,
        };
        w.flush()?;
        Ok(w)
    }
}

/// `values` as `N` bytes (4 per word) in the byte order of `to_bytes`.
fn words<const N: usize>(values: &[u32], to_bytes: fn(u32) -> [u8; 4]) -> [u8; N] {
    let mut out = [0; N];
    out.chunks_exact_mut(4).zip(values).for_each(|(w, v)| w.copy_from_slice(&to_bytes(*v)));
    out
}

fn pcap_header<W: Write>(mut writer: W, nanos: bool) -> Result<Inner<W>, WriteError> {
    let ts_resolution = if nanos { TsResolution::NanoSecond } else { TsResolution::MicroSecond };
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ts_resolution,
        snaplen: SNAPLEN,
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    header.write_to(&mut writer)?;
    Ok(Inner::Pcap { writer, nanos })
}

#[cfg(test)]
mod tests {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;

    use super::*;

    /// Hand-written Enhanced Packet Blocks are the ones pcap-file writes.
    #[test]
    fn pcapng_records_match_pcap_file() {
        let ts = Duration::new(1_700_000_000, 123_456_789);
        for len in [0, 1, 2, 3, 4, 54, 1514] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ours = Sink::new(Vec::new(), Format::PcapNg).unwrap();
            // Split as a frame's headers and payload are.
            let (head, payload) = data.split_at(len.min(54));
            ours.write_frame(ts, head, payload).unwrap();
            let mut theirs = PcapNgWriter::new(Vec::new()).unwrap();
            let mut idb = InterfaceDescriptionBlock::new(DataLink::ETHERNET, SNAPLEN);
            idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
            theirs.write_pcapng_block(idb).unwrap();
            let epb = EnhancedPacketBlock {
                interface_id: 0,
                timestamp: ts,
                original_len: len as u32,
                data: data.as_slice().into(),
                options: Vec::new(),
            };
            theirs.write_pcapng_block(epb).unwrap();
            let (ours, theirs) = (ours.finish().unwrap(), theirs.into_inner());
            assert_eq!(ours, theirs, "len {len}");
        }
    }
}
