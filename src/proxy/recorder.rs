//! The recorder: the consumer end of the tap, off the relay path.
//!
//! One dedicated thread, [`Recorder`], records every connection of a proxy.
//! The pumps of all connections send [`Tap`] messages, tagged with their
//! connection, over one bounded channel, so the recorder sees both
//! directions of a connection in arrival order. It decodes, writes YAML and
//! sidecars into buffers, and pushes them to the files at most every
//! [`FLUSH_EVERY`] while traffic flows, and [`FLUSH_EVERY`] after it stops
//! (so when idle every event is on disk).
//!
//! Why one thread and not a task per connection: as runtime tasks, recorder
//! turns (decoding, hashing, writing) ran on the workers that forward the
//! traffic and delayed them. Why not a thread per connection: that meant a
//! cross-thread wake-up for every read and, with 50 busy connections, 50
//! threads fighting the relay for the cores. A single thread drains
//! whatever has queued in one batch; while it is busy, pumps queue reads
//! without waking anybody. Finalising a recording (summary, `fsync`) runs
//! on a blocking thread so that it never stalls the others.
//!
//! With [`PcapOut`], the recorder also writes a capture of the connection
//! beside the YAML, from the same tap messages, flushed with the YAML. A
//! capture that fails to write is abandoned with a warning; the recording
//! carries on.
//!
//! Backpressure policy: the channel holds at most [`TAP_CAPACITY`] reads,
//! for all connections together (so at most `TAP_CAPACITY` ×
//! [`READ_BUFFER`](super::relay::READ_BUFFER) bytes wait, however many
//! connections there are). A pump forwards a read *before* handing it to
//! the recorder, so a read is never delayed; but if the recorder falls that
//! far behind, the pump waits before its next read. Dropping data would make
//! the recording wrong.

use crate::pcap::{self, Item};
use crate::session::{Direction, Recording, TcpEnd};
use crate::store::LiveRecording;
pub use crate::store::Recorded;
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most reads queued between the pumps (of all connections) and the recorder.
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
    /// An event no byte carries: a note, TLS facts, a rewrite
    /// ([`SessionBuilder::event`](crate::session::SessionBuilder::event)).
    Event {
        /// Direction.
        dir: Direction,
        /// Microseconds since the connection started.
        at: u64,
        /// The event.
        kind: crate::session::EventKind,
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

/// How a recording is made, besides its header.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Also write a capture.
    pub pcap: Option<PcapOut>,
    /// The proxy does not decrypt TLS on this connection, and why: if the
    /// client's first bytes are a TLS ClientHello, the connection is
    /// recorded raw and named as TLS (with its SNI), never as "not HTTP".
    pub tls_not_decrypted: Option<String>,
}

/// What travels over the recorder's channel.
enum Msg {
    Open { id: u64, header: Box<Recording>, path: PathBuf, options: OpenOptions, done: Done },
    Tap { id: u64, tap: Tap },
    Close { id: u64 },
}

type Done = oneshot::Sender<io::Result<Recorded>>;

/// A handle on the recorder thread, for opening recordings. The thread ends
/// once every handle and every [`TapSender`] is dropped.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
}

impl Recorder {
    /// Starts the recorder thread; join the returned handle after dropping
    /// every [`Recorder`] and [`TapSender`].
    pub fn start() -> io::Result<(Recorder, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(TAP_CAPACITY);
        // Its own single-threaded runtime, for the flush timer and for
        // finalising recordings on its blocking pool.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        let thread =
            std::thread::Builder::new().name("wstap-recorder".into()).spawn(move || runtime.block_on(serve(rx)))?;
        Ok((Recorder { tx }, thread))
    }

    /// Starts recording connection `id` (unique per recorder) into `path`,
    /// beginning with `header`. Returns the tap for the connection's pumps
    /// and the outcome, sent once the tap is [closed](TapSender::close) and
    /// the file finalised.
    pub async fn open(
        &self,
        id: u64,
        header: Recording,
        path: PathBuf,
        options: OpenOptions,
    ) -> (TapSender, oneshot::Receiver<io::Result<Recorded>>) {
        let (done, outcome) = oneshot::channel();
        let open = Msg::Open { id, header: Box::new(header), path, options, done };
        // If the thread is gone the outcome reports it (the sender is dropped).
        let _ = self.tx.send(open).await;
        (TapSender { id, tx: self.tx.clone() }, outcome)
    }
}

/// One connection's end of the tap.
#[derive(Clone)]
pub struct TapSender {
    id: u64,
    tx: mpsc::Sender<Msg>,
}

impl TapSender {
    /// Queues `tap`, waiting while the channel is full (see the module docs).
    pub async fn send(&self, tap: Tap) {
        let _ = self.tx.send(Msg::Tap { id: self.id, tap }).await;
    }

    /// Ends the recording: call once every pump has sent its last message.
    pub async fn close(self) {
        let _ = self.tx.send(Msg::Close { id: self.id }).await;
    }
}

/// One recording in progress on the recorder thread.
struct Conn {
    live: LiveRecording,
    capture: Option<Capture>,
    /// Until the client's first bytes: why TLS is not decrypted here.
    tls_not_decrypted: Option<String>,
    done: Done,
    /// Has decoded events not yet moved to the writer.
    touched: bool,
    /// Has written events not yet flushed.
    dirty: bool,
}

/// Most bytes decoded before the batch's events are written out.
const MAX_BATCH: usize = 256 * 1024;

/// How long the recorder sleeps after draining the channel before it looks
/// again. While it sleeps, pumps queue reads without a wake-up each; at the
/// fastest rates seen (~200 000 reads/s) this is ~40 reads, well under
/// [`TAP_CAPACITY`].
const BATCH_PAUSE: Duration = Duration::from_micros(200);

/// The recorder thread's loop: runs until every sender is dropped.
async fn serve(mut rx: mpsc::Receiver<Msg>) {
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut touched: Vec<u64> = Vec::new();
    let flush_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(flush_timer);
    let mut timer_set = false;
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let mut batch = handle(&mut conns, &mut touched, msg);
                while batch < MAX_BATCH
                    && let Ok(more) = rx.try_recv()
                {
                    batch += handle(&mut conns, &mut touched, more);
                }
                for id in touched.drain(..) {
                    let Some(conn) = conns.get_mut(&id) else { continue };
                    conn.touched = false;
                    conn.dirty = true;
                    if let Err(e) = conn.live.write_out() {
                        fail(&mut conns, id, e);
                    }
                }
                if batch < MAX_BATCH {
                    // Drained: let reads gather rather than be woken for each.
                    std::thread::sleep(BATCH_PAUSE);
                }
                if timer_set && flush_timer.is_elapsed() {
                    // Busy enough that the timer branch never got polled.
                    timer_set = false;
                    flush_all(&mut conns);
                } else if !timer_set {
                    timer_set = true;
                    flush_timer.as_mut().reset(tokio::time::Instant::now() + FLUSH_EVERY);
                }
            }
            _ = &mut flush_timer, if timer_set => {
                timer_set = false;
                flush_all(&mut conns);
            }
        }
    }
    // Every sender is gone; connections never closed are finalised anyway.
    let ids: Vec<u64> = conns.keys().copied().collect();
    for id in ids {
        close(&mut conns, id);
    }
}

/// Applies one message; returns its weight in the batch.
fn handle(conns: &mut HashMap<u64, Conn>, touched: &mut Vec<u64>, msg: Msg) -> usize {
    match msg {
        Msg::Open { id, header, path, options, done } => {
            match LiveRecording::create(&path, &header) {
                Ok(live) => {
                    let capture = options.pcap.and_then(|p| Capture::create(&path, p));
                    let tls_not_decrypted = options.tls_not_decrypted;
                    conns.insert(id, Conn { live, capture, tls_not_decrypted, done, touched: false, dirty: true });
                }
                Err(e) => {
                    let _ = done.send(Err(failed(id, &path, e)));
                }
            }
            1
        }
        Msg::Tap { id, tap } => {
            let weight = match &tap {
                Tap::Data { bytes, .. } => bytes.len().max(1),
                Tap::End { .. } | Tap::Event { .. } => 1,
            };
            // Unknown: the recording failed and was already reported.
            let Some(conn) = conns.get_mut(&id) else { return weight };
            if let (Some(why), Tap::Data { dir: Direction::ClientToServer, at, bytes }) =
                (&conn.tls_not_decrypted, &tap)
            {
                name_tls(&mut conn.live, *at, bytes, why);
                conn.tls_not_decrypted = None;
            }
            match apply(&mut conn.live, &mut conn.capture, tap) {
                Ok(()) if !conn.touched => {
                    conn.touched = true;
                    touched.push(id);
                }
                Ok(()) => {}
                Err(e) => fail(conns, id, e),
            }
            weight
        }
        Msg::Close { id } => {
            close(conns, id);
            1
        }
    }
}

/// Gives up on a recording after an IO error (its connection keeps flowing).
fn fail(conns: &mut HashMap<u64, Conn>, id: u64, e: io::Error) {
    if let Some(conn) = conns.remove(&id) {
        let _ = conn.done.send(Err(failed(id, conn.live.path(), e)));
    }
}

/// A recording that cannot be written: said once, on stderr, when it
/// happens (the connection is still forwarded, unrecorded from here on),
/// and returned with the file named, for the proxy's final count.
fn failed(id: u64, path: &Path, e: io::Error) -> io::Error {
    let shown = path.display();
    eprintln!("wstap: connection {id}: recording {shown} failed: {e}; the connection is still forwarded, unrecorded");
    io::Error::new(e.kind(), format!("{shown}: {e}"))
}

/// Finalises a recording off the recorder thread (it syncs the file).
fn close(conns: &mut HashMap<u64, Conn>, id: u64) {
    let Some(Conn { live, capture, done, .. }) = conns.remove(&id) else { return };
    if let Some(c) = capture
        && let Err(e) = c.writer.finish()
    {
        tracing::warn!("{}: capture not finalised: {e}", c.path.display());
    }
    tokio::task::spawn_blocking(move || {
        let path = live.path().to_path_buf();
        let _ = done.send(live.close().map_err(|e| failed(id, &path, e)));
    });
}

fn flush_all(conns: &mut HashMap<u64, Conn>) {
    let mut failed = Vec::new();
    for (id, conn) in conns.iter_mut().filter(|(_, c)| c.dirty) {
        conn.dirty = false;
        if let Err(e) = flush(&mut conn.live, &mut conn.capture) {
            failed.push((*id, e));
        }
    }
    for (id, e) in failed {
        fail(conns, id, e);
    }
}

fn apply(live: &mut LiveRecording, capture: &mut Option<Capture>, tap: Tap) -> io::Result<()> {
    tee(capture, &tap);
    let builder = live.builder();
    match tap {
        Tap::Data { dir, at, bytes } => builder.read(at, dir, &bytes),
        Tap::End { dir, at, how, error } if !builder.has_ended(dir) => builder.end(at, dir, how, error),
        Tap::End { .. } => Ok(()),
        Tap::Event { dir, at, kind } => {
            builder.event(at, dir, kind);
            Ok(())
        }
    }
}

/// If the client's first bytes are a TLS ClientHello, records the
/// connection raw and names it as TLS (with the server name it asked for).
fn name_tls(live: &mut LiveRecording, at: u64, first: &[u8], why: &str) {
    let sni = match crate::tls::hello::parse(first) {
        crate::tls::hello::Hello::NotTls => return,
        crate::tls::hello::Hello::Partial => None,
        crate::tls::hello::Hello::ClientHello { sni } => sni,
    };
    let named = sni.as_ref().map_or_else(String::new, |s| format!(" for {s}"));
    let reason = format!("TLS (ClientHello{named}), not decrypted: {why}");
    let builder = live.builder();
    if builder.set_opaque(&reason) {
        let info = crate::session::TlsInfo {
            leg: crate::session::TlsLeg::Passthrough,
            version: None,
            cipher_suite: None,
            sni,
            alpn: None,
            server_cert: None,
        };
        builder.event(at, Direction::ClientToServer, crate::session::EventKind::Tls(info));
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

/// Write buffer of a live capture: a 64 KiB read becomes about 70 KiB of
/// frames, written with one syscall instead of nine (8 KiB default).
const CAPTURE_BUFFER: usize = 64 * 1024;

/// The capture being written beside a recording.
struct Capture {
    writer: pcap::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl Capture {
    fn create(yaml: &Path, out: PcapOut) -> Option<Capture> {
        let ext = if out.format == pcap::Format::PcapNg { "pcapng" } else { "pcap" };
        let path = yaml.with_extension(ext);
        let made = File::create(&path).map_err(pcap::WriteError::from).and_then(|f| {
            pcap::Writer::new(
                BufWriter::with_capacity(CAPTURE_BUFFER, f),
                out.format,
                out.client,
                out.server,
                out.started,
            )
        });
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
        Tap::Event { .. } => return,
    };
    if let Err(e) = c.writer.push_unflushed(at, dir, &item) {
        tracing::warn!("{}: capture abandoned: {e}", c.path.display());
        *capture = None;
    }
}
