//! Export: conversations to capture files, whole or incrementally.
//!
//! [`Writer`] is the incremental form used while a session is live: it
//! writes the file header and the TCP handshake when created, then one
//! [`Writer::push`] per item, each followed by a flush so the capture can
//! be opened (or tailed by Wireshark) before the session ends.
//! [`write()`] and [`write_to`] export finished conversations.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

use super::conversation::{Conversation, Item};
use super::error::WriteError;
use super::sink::{Format, Sink};
use super::synth::{Flow, Packet};
use crate::wire::Direction;

/// A capture of one conversation being written as it happens.
pub struct Writer<W: Write> {
    sink: Sink<W>,
    flow: Flow,
}

impl Writer<BufWriter<File>> {
    /// Creates `path` (format chosen by [`Format::from_path`]) and writes
    /// the header and handshake.
    pub fn create(path: &Path, client: SocketAddr, server: SocketAddr, start_us: u64) -> Result<Self, WriteError> {
        let file = BufWriter::new(File::create(path)?);
        Writer::new(file, Format::from_path(path), client, server, start_us)
    }
}

impl<W: Write> Writer<W> {
    /// Writes the file header and the TCP handshake (at `start_us`,
    /// microseconds since the UNIX epoch) to `writer`, then flushes.
    pub fn new(
        writer: W,
        format: Format,
        client: SocketAddr,
        server: SocketAddr,
        start_us: u64,
    ) -> Result<Self, WriteError> {
        let mut flow = Flow::new(client, server, start_us);
        let mut sink = Sink::new(writer, format)?;
        flow.emit_handshake(&mut |ts, head, payload| sink.write_frame(ts, head, payload))?;
        sink.flush()?;
        Ok(Writer { sink, flow })
    }

    /// Appends one item, `at_us` after the start, and flushes.
    pub fn push(&mut self, at_us: u64, dir: Direction, item: &Item) -> Result<(), WriteError> {
        self.push_unflushed(at_us, dir, item)?;
        self.sink.flush()
    }

    /// Appends one item without flushing (for bulk export).
    pub fn push_unflushed(&mut self, at_us: u64, dir: Direction, item: &Item) -> Result<(), WriteError> {
        let sink = &mut self.sink;
        self.flow.emit(at_us, dir, item, &mut |ts, head, payload| sink.write_frame(ts, head, payload))
    }

    /// Flushes what [`push_unflushed`](Self::push_unflushed) wrote.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.sink.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, WriteError> {
        self.sink.finish()
    }
}

/// Writes `conversations` to `path`, format chosen by its extension
/// ([`Format::from_path`]). Packets of different conversations are
/// interleaved by time.
pub fn write(path: &Path, conversations: &[Conversation]) -> Result<(), WriteError> {
    let file = BufWriter::new(File::create(path)?);
    write_to(file, Format::from_path(path), conversations)?;
    Ok(())
}

/// Writes `conversations` to `writer` in `format` and returns the writer,
/// flushed.
pub fn write_to<W: Write>(writer: W, format: Format, conversations: &[Conversation]) -> Result<W, WriteError> {
    let mut packets: Vec<Packet> = conversations.iter().flat_map(packets_of).collect();
    // Stable: packets of one conversation keep their order on equal times.
    packets.sort_by_key(|p| p.ts);
    let mut sink = Sink::new(writer, format)?;
    write_packets(&mut sink, &packets)?;
    sink.finish()
}

/// All packets of one conversation, handshake first.
fn packets_of(conv: &Conversation) -> Vec<Packet> {
    let mut flow = Flow::new(conv.client, conv.server, conv.start_us);
    let mut out = flow.handshake();
    for e in &conv.entries {
        out.extend(flow.push(e.at_us, e.dir, &e.item));
    }
    out
}

fn write_packets<W: Write>(sink: &mut Sink<W>, packets: &[Packet]) -> Result<(), WriteError> {
    packets.iter().try_for_each(|p| sink.write(p))
}
