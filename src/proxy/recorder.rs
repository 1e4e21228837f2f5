//! The recorder: the consumer end of the tap, off the relay path.
//!
//! Each connection's two pumps send [`Tap`] messages over one bounded
//! channel, so the recorder sees both directions in arrival order. It runs
//! on a blocking thread: it decodes, writes YAML and sidecars, and flushes
//! whenever the channel is momentarily empty (so under load writes batch up,
//! and when idle every event is on disk).
//!
//! Backpressure policy: the channel holds at most [`TAP_CAPACITY`] reads. A
//! pump forwards a read *before* handing it to the recorder, so a read is
//! never delayed; but if the recorder falls that far behind, the pump waits
//! before its next read. Dropping data would make the recording wrong.

use crate::session::{Direction, PayloadStore, Recording, SessionBuilder, Summary, TcpEnd};
use crate::store::{FileStore, RecordingWriter};
use bytes::Bytes;
use std::io;
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

/// Runs until every sender is dropped, then finalises the file.
pub fn run(mut rx: mpsc::Receiver<Tap>, header: Recording, path: PathBuf) -> io::Result<Recorded> {
    let mut writer = RecordingWriter::create(&path, &header)?;
    let mut builder = SessionBuilder::new(FileStore::new(&path));
    let mut summary = Summary::default();
    while let Some(first) = rx.blocking_recv() {
        apply(&mut builder, first)?;
        while let Ok(more) = rx.try_recv() {
            apply(&mut builder, more)?;
        }
        write_out(&mut builder, &mut writer, &mut summary)?;
    }
    builder.finish()?;
    write_out(&mut builder, &mut writer, &mut summary)?;
    let events = writer.events_written();
    writer.finish(&summary)?;
    Ok(Recorded { path, events, summary })
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
