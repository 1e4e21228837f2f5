//! The recorder: the consumer end of the tap, off the relay path.
//!
//! Each connection's two pumps send [`Tap`] messages over one bounded
//! channel, so the recorder sees both directions in arrival order. It is an
//! ordinary task on the runtime: it decodes, writes YAML and sidecars into
//! buffers, and pushes them to the files at most every [`FLUSH_EVERY`] while
//! traffic flows, and [`FLUSH_EVERY`] after it stops (so when idle every
//! event is on disk).
//!
//! Why a task and not a blocking thread: a thread per connection meant a
//! cross-thread wake-up (futex, context switch) for every read, and 50 busy
//! connections meant 50 threads fighting the relay for two cores. As a task
//! it runs on the worker that just forwarded the read. Its work between
//! awaits is small: decoding one read, and buffered writes to the page
//! cache (one `write` per buffer-full or per flush).
//!
//! Backpressure policy: the channel holds at most [`TAP_CAPACITY`] reads. A
//! pump forwards a read *before* handing it to the recorder, so a read is
//! never delayed; but if the recorder falls that far behind, the pump waits
//! before its next read. Dropping data would make the recording wrong.

use crate::session::{Data, Direction, Event, EventKind, PayloadStore, Recording, SessionBuilder, Summary, TcpEnd};
use crate::store::{FileStore, RecordingWriter};
use bytes::Bytes;
use std::io;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most reads queued between the pumps and the recorder.
pub const TAP_CAPACITY: usize = 256;

/// Longest time written events wait in memory before they reach the files.
pub const FLUSH_EVERY: Duration = Duration::from_millis(5);

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
pub async fn run(mut rx: mpsc::Receiver<Tap>, header: Recording, path: PathBuf) -> io::Result<Recorded> {
    let mut writer = RecordingWriter::create(&path, &header)?;
    let mut builder = SessionBuilder::new(FileStore::new(&path));
    let mut summary = Summary::default();
    let flush_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(flush_timer);
    let mut dirty = false;
    loop {
        tokio::select! {
            biased;
            tap = rx.recv() => {
                let Some(tap) = tap else { break };
                let mut batch = tap_len(&tap);
                apply(&mut builder, tap)?;
                // Bounded, so that hashing and writing a backlog of large
                // reads never holds the worker for long without yielding.
                while batch < MAX_BATCH
                    && let Ok(more) = rx.try_recv()
                {
                    batch += tap_len(&more);
                    apply(&mut builder, more)?;
                }
                write_out(&mut builder, &mut writer, &mut summary)?;
                if dirty && flush_timer.is_elapsed() {
                    // Busy enough that the timer branch never got polled.
                    dirty = false;
                    flush(&mut builder, &mut writer)?;
                } else if !dirty {
                    dirty = true;
                    flush_timer.as_mut().reset(tokio::time::Instant::now() + FLUSH_EVERY);
                }
                if batch >= MAX_BATCH {
                    tokio::task::yield_now().await;
                }
            }
            _ = &mut flush_timer, if dirty => {
                dirty = false;
                flush(&mut builder, &mut writer)?;
            }
        }
    }
    builder.finish()?;
    write_out(&mut builder, &mut writer, &mut summary)?;
    flush(&mut builder, &mut writer)?;
    let events = writer.events_written();
    let summary_written = tokio::task::spawn_blocking(move || writer.finish(&summary).map(|()| summary));
    let summary = summary_written.await.map_err(io::Error::other)??;
    Ok(Recorded { path, events, summary })
}

/// Bytes decoded between two chances for the worker to run other tasks.
const MAX_BATCH: usize = 256 * 1024;

fn tap_len(tap: &Tap) -> usize {
    match tap {
        Tap::Data { bytes, .. } => bytes.len().max(1),
        Tap::End { .. } => 1,
    }
}

fn apply<S: PayloadStore>(builder: &mut SessionBuilder<S>, tap: Tap) -> io::Result<()> {
    match tap {
        Tap::Data { dir, at, bytes } => builder.read(at, dir, &bytes),
        Tap::End { dir, at, how, error } if !builder.has_ended(dir) => builder.end(at, dir, how, error),
        Tap::End { .. } => Ok(()),
    }
}

/// Turns what was read into events and appends them to the writers' buffers.
fn write_out(
    builder: &mut SessionBuilder<FileStore>,
    writer: &mut RecordingWriter,
    summary: &mut Summary,
) -> io::Result<()> {
    let events = builder.drain();
    events.iter().for_each(|e| summary.observe(e));
    if events.iter().any(points_into_sidecar) {
        // The YAML buffer may reach the file before the next flush: the
        // bytes an event points at must be there first.
        builder.store_mut().flush()?;
    }
    writer.append(&events)
}

fn points_into_sidecar(event: &Event) -> bool {
    matches!(&event.kind, EventKind::Frame(f) if matches!(f.payload, Data::Sidecar(_)))
}

/// Pushes both sidecars, then the YAML, to the files (sidecars first, so an
/// event on disk never points at bytes that are not).
fn flush(builder: &mut SessionBuilder<FileStore>, writer: &mut RecordingWriter) -> io::Result<()> {
    builder.store_mut().flush()?;
    writer.flush()
}
