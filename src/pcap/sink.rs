//! Writing packets to a classic pcap or pcapng stream.
//!
//! Works around three pcap-file v2 traps (see the dependency notes):
//! - pcapng timestamps are always written in nanoseconds, so the interface
//!   declares `if_tsresol = 9` (without it tools read them as microseconds,
//!   and dates land in the year 55840);
//! - packets longer than the snaplen are rejected rather than truncated,
//!   so the snaplen is [`SNAPLEN`];
//! - the writers neither buffer nor flush, and `PcapWriter` gives no access
//!   to its inner writer until it is consumed: classic pcap records are
//!   therefore written here (a 16-byte record header, after pcap-file's
//!   file header), and [`Sink::flush`] / [`Sink::finish`] flush explicitly,
//!   so errors are reported instead of being swallowed by `BufWriter`'s
//!   `Drop`. Callers should pass a buffered writer.

use std::io::Write;
use std::path::Path;

use pcap_file::pcap::PcapHeader;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
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

enum Inner<W: Write> {
    Pcap { writer: W, nanos: bool },
    Ng(PcapNgWriter<W>),
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
                Inner::Ng(ng)
            }
        };
        Ok(Sink { inner })
    }

    /// Appends one packet.
    pub fn write(&mut self, packet: &Packet) -> Result<(), WriteError> {
        let len = packet.data.len() as u32;
        match &mut self.inner {
            Inner::Pcap { writer, nanos } => {
                let frac = if *nanos { packet.ts.subsec_nanos() } else { packet.ts.subsec_micros() };
                let secs = packet.ts.as_secs() as u32;
                for field in [secs, frac, len, len] {
                    writer.write_all(&field.to_le_bytes())?;
                }
                writer.write_all(&packet.data)?;
            }
            Inner::Ng(w) => {
                w.write_pcapng_block(EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: packet.ts,
                    original_len: len,
                    data: packet.data.as_slice().into(),
                    options: Vec::new(),
                })?;
            }
        }
        Ok(())
    }

    /// Flushes the underlying writer, so a live capture can be read now.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        match &mut self.inner {
            Inner::Pcap { writer, .. } => writer.flush()?,
            Inner::Ng(w) => w.get_mut().flush()?,
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, WriteError> {
        let mut w = match self.inner {
            Inner::Pcap { writer, .. } => writer,
            Inner::Ng(w) => w.into_inner(),
        };
        w.flush()?;
        Ok(w)
    }
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
