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
//! With [`PcapOut`], the recorder also writes a capture of the connection
//! beside the YAML, from the same tap messages, flushed with the YAML. A
//! capture that fails to write is abandoned with a warning; the recording
//! carries on.
//!
//! Backpressure policy: the channel holds at most [`TAP_CAPACITY`] reads. A
//! pump forwards a read *before* handing it to the recorder, so a read is
//! never delayed; but if the recorder falls that far behind, the pump waits
//! before its next read. Dropping data would make the recording wrong.

use crate::pcap::{self, Item};
use crate::session::{Direction, Recording, TcpEnd};
use crate::store::LiveRecording;
pub use crate::store::Recorded;
use bytes::Bytes;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// Runs until every sender is dropped, then finalises the file (and the
/// capture, with `pcap`).
pub async fn run(
    mut rx: mpsc::Receiver<Tap>,
    header: Recording,
    path: PathBuf,
    pcap: Option<PcapOut>,
) -> io::Result<Recorded> {
    let mut live = LiveRecording::create(&path, &header)?;
    let mut capture = pcap.and_then(|p| Capture::create(&path, p));
    let flush_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(flush_timer);
    let mut dirty = false;
    loop {
        tokio::select! {
            biased;
            tap = rx.recv() => {
                let Some(tap) = tap else { break };
                let mut batch = tap_len(&tap);
                apply(&mut live, &mut capture, tap)?;
                // Bounded, so that hashing and writing a backlog of large
                // reads never holds the worker for long without yielding.
                while batch < MAX_BATCH
                    && let Ok(more) = rx.try_recv()
                {
                    batch += tap_len(&more);
                    apply(&mut live, &mut capture, more)?;
                }
                live.write_out()?;
                if dirty && flush_timer.is_elapsed() {
                    // Busy enough that the timer branch never got polled.
                    dirty = false;
                    flush(&mut live, &mut capture)?;
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
                flush(&mut live, &mut capture)?;
            }
        }
    }
    if let Some(c) = capture
        && let Err(e) = c.writer.finish()
    {
        tracing::warn!("{}: capture not finalised: {e}", c.path.display());
    }
    tokio::task::spawn_blocking(move || live.close()).await.map_err(io::Error::other)?
}

/// Bytes decoded between two chances for the worker to run other tasks.
const MAX_BATCH: usize = 256 * 1024;

fn tap_len(tap: &Tap) -> usize {
    match tap {
        Tap::Data { bytes, .. } => bytes.len().max(1),
        Tap::End { .. } => 1,
    }
}

fn apply(live: &mut LiveRecording, capture: &mut Option<Capture>, tap: Tap) -> io::Result<()> {
    tee(capture, &tap);
    let builder = live.builder();
    match tap {
        Tap::Data { dir, at, bytes } => builder.read(at, dir, &bytes),
        Tap::End { dir, at, how, error } if !builder.has_ended(dir) => builder.end(at, dir, how, error),
        Tap::End { .. } => Ok(()),
    }
}

/// Pushes the recording (sidecars first) and the capture to their files.
fn flush(live: &mut LiveRecording, capture: &mut Option<Capture>) -> io::Result<()> {
    live.flush()?;
    if let Some(c) = capture.as_mut()
        && let Err(e) = c.writer.flush()
    {
        tracing::warn!("{}: capture abandoned: {e}", c.path.display());
        *capture = None;
    }
    Ok(())
}

/// The capture being written beside a recording.
struct Capture {
    writer: pcap::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl Capture {
    fn create(yaml: &Path, out: PcapOut) -> Option<Capture> {
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
