//! The recorder: the consumer end of the tap, off the relay path.
//!
//! Each connection's two pumps send [`Tap`] messages over one bounded
//! channel, so the recorder sees both directions in arrival order. It runs
//! on a blocking thread: it decodes, writes YAML and sidecars, and flushes
//! whenever the channel is momentarily empty (so under load writes batch up,
//! and when idle every event is on disk).
//!
//! With [`PcapOut`], the recorder also writes a capture of the connection
//! beside the YAML, one packet batch per tap message, flushed with the YAML.
//! A capture that fails to write is abandoned with a warning; the recording
//! carries on.
//!
//! Backpressure policy: the channel holds at most [`TAP_CAPACITY`] reads. A
//! pump forwards a read *before* handing it to the recorder, so a read is
//! never delayed; but if the recorder falls that far behind, the pump waits
//! before its next read. Dropping data would make the recording wrong.

use crate::pcap::{self, Item};
use crate::session::{Direction, PayloadStore, Recording, SessionBuilder, Summary, TcpEnd};
use crate::store::{FileStore, RecordingWriter};
use bytes::Bytes;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Most reads queued between the pumps and the recorder.
pub const TAP_CAPACITY: usize = 256;

/// What a pump tells the recorder.
#[derive(Debug)]
pub enum Tap {
    /// One read, already forwarded.
    Data {
        /// Direction.
        dir: Direction,
        /// Microseconds since the connection started.
        at: u64,
        /// The bytes, exactly as read.
        bytes: Bytes,
    },
    /// `dir`'s sender ended TCP.
    End {
        /// Direction.
        dir: Direction,
        /// Microseconds since the connection started.
        at: u64,
        /// FIN or reset.
        how: TcpEnd,
        /// The socket error, for resets.
        error: Option<String>,
    },
}

/// What the recorder produced.
#[derive(Debug)]
pub struct Recorded {
    /// The YAML file.
    pub path: PathBuf,
    /// Events written.
    pub events: u64,
    /// The closing summary.
    pub summary: Summary,
}

/// The capture to write beside a recording: one logical conversation
/// between the real client and the real upstream server.
#[derive(Clone, Copy, Debug)]
pub struct PcapOut {
    /// pcap or pcapng.
    pub format: pcap::Format,
    /// The client's address.
    pub client: SocketAddr,
    /// The upstream server's address.
    pub server: SocketAddr,
    /// Connection start, microseconds since the UNIX epoch (tap times are offsets from it).
    pub started: u64,
}

/// Runs until every sender is dropped, then finalises the file.
pub fn run(rx: mpsc::Receiver<Tap>, header: Recording, path: PathBuf) -> io::Result<Recorded> {
    run_with(rx, header, path, None)
}

/// [`run`], also writing a capture as described by `pcap`.
pub fn run_with(
    mut rx: mpsc::Receiver<Tap>,
    header: Recording,
    path: PathBuf,
    pcap: Option<PcapOut>,
) -> io::Result<Recorded> {
    let mut writer = RecordingWriter::create(&path, &header)?;
    let mut builder = SessionBuilder::new(FileStore::new(&path));
    let mut summary = Summary::default();
    let mut capture = pcap.and_then(|p| Capture::create(&path, p));
    while let Some(first) = rx.blocking_recv() {
        tee(&mut capture, &first);
        apply(&mut builder, first)?;
        while let Ok(more) = rx.try_recv() {
            tee(&mut capture, &more);
            apply(&mut builder, more)?;
        }
        write_out(&mut builder, &mut writer, &mut summary)?;
        flush(&mut capture);
    }
    builder.finish()?;
    write_out(&mut builder, &mut writer, &mut summary)?;
    if let Some(c) = capture
        && let Err(e) = c.writer.finish()
    {
        tracing::warn!("{}: capture not finalised: {e}", c.path.display());
    }
    let events = writer.events_written();
    writer.finish(&summary)?;
    Ok(Recorded { path, events, summary })
}

/// The capture being written beside a recording.
struct Capture {
    writer: pcap::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl Capture {
    fn create(yaml: &std::path::Path, out: PcapOut) -> Option<Capture> {
        let ext = if out.format == pcap::Format::PcapNg { "pcapng" } else { "pcap" };
        let path = yaml.with_extension(ext);
        let made = File::create(&path)
            .map_err(pcap::WriteError::from)
            .and_then(|f| pcap::Writer::new(BufWriter::new(f), out.format, out.client, out.server, out.started));
        match made {
            Ok(writer) => Some(Capture { writer, path }),
            Err(e) => {
                tracing::warn!("{}: cannot write the capture: {e}", path.display());
                None
            }
        }
    }
}

/// Copies a tap message into the capture; a failing capture is dropped.
fn tee(capture: &mut Option<Capture>, tap: &Tap) {
    let Some(c) = capture.as_mut() else { return };
    let (at, dir, item) = match tap {
        Tap::Data { dir, at, bytes } => (*at, *dir, Item::Data(bytes.clone())),
        Tap::End { dir, at, how: TcpEnd::Fin, .. } => (*at, *dir, Item::Fin),
        Tap::End { dir, at, how: TcpEnd::Rst, .. } => (*at, *dir, Item::Rst),
    };
    if let Err(e) = c.writer.push_unflushed(at, dir, &item) {
        tracing::warn!("{}: capture abandoned: {e}", c.path.display());
        *capture = None;
    }
}

fn flush(capture: &mut Option<Capture>) {
    if let Some(c) = capture.as_mut()
        && let Err(e) = c.writer.flush()
    {
        tracing::warn!("{}: capture abandoned: {e}", c.path.display());
        *capture = None;
    }
}

fn apply<S: PayloadStore>(builder: &mut SessionBuilder<S>, tap: Tap) -> io::Result<()> {
    match tap {
        Tap::Data { dir, at, bytes } => builder.read(at, dir, &bytes),
        Tap::End { dir, at, how, error } if !builder.has_ended(dir) => builder.end(at, dir, how, error),
        Tap::End { .. } => Ok(()),
    }
}

fn write_out(
    builder: &mut SessionBuilder<FileStore>,
    writer: &mut RecordingWriter,
    summary: &mut Summary,
) -> io::Result<()> {
    let events = builder.drain();
    events.iter().for_each(|e| summary.observe(e));
    builder.store_mut().flush()?;
    writer.append(&events)?;
    writer.flush()
}
