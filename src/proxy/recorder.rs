//! The recorder: the consumer end of the tap, off the relay path.
//!
//! One dedicated thread, [`Recorder`], records every connection of a proxy.
//! The pumps of all connections send [`Tap`] messages, tagged with their
//! connection, over one bounded channel. Each message carries its place in
//! its connection's order, a [`Ticket`] taken when the read returned and
//! *before* it was forwarded; the recorder applies a connection's messages
//! in that order, holding back any that overtook an earlier place. Why:
//! hand-off happens after forwarding, so a pump preempted between the two
//! could otherwise see the peer's answer (a close reply to the close it
//! just forwarded) recorded first, and the recording would say the wrong
//! side closed. It decodes, writes YAML and
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
//! Backpressure policy: queued reads are counted in [`UNIT`]s of 64 KiB
//! (a read of up to 64 KiB, or a message without bytes, is one unit; a
//! [`READ_BUFFER`](super::relay::READ_BUFFER) read of 256 KiB is four). At
//! most [`TAP_CAPACITY`] units wait for the recorder, for all connections
//! together (so about `TAP_CAPACITY` × 64 KiB, however many connections
//! there are), and at most [`CONNECTION_CAPACITY`] of them from any one
//! connection. A pump forwards a read *before* handing it to
//! the recorder, so a read is never delayed; but if the recorder falls that
//! far behind on its connection, the pump waits before its next read.
//! Dropping data would make the recording wrong.
//!
//! Fairness: one connection's recorder work must not delay another's
//! forwarding. So the per-connection bound is far below the global one (a
//! single busy connection cannot fill the recorder's queue and stall the
//! pumps of the others), and the recorder takes queued reads round-robin,
//! one per connection in turn, so a connection whose reads are expensive
//! (large payloads, permessage-deflate; inflation has its own budget, see
//! `docs/permessage-deflate.md`) holds the others up by at most one read.

use crate::pcap::{self, Item};
use crate::session::{Direction, Recording, TcpEnd};
pub use crate::store::Recorded;
use crate::store::{Growing, LiveRecording};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

/// Most [`UNIT`]s queued between the pumps (of all connections) and the recorder.
pub const TAP_CAPACITY: usize = 256;

/// Most [`UNIT`]s of one connection queued for the recorder.
pub const CONNECTION_CAPACITY: usize = 32;

/// What a queued read costs in the bounds: one unit per 64 KiB or part of it.
pub const UNIT: usize = 64 * 1024;

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
    /// The live view's tap for this connection (`record`'s live view).
    pub live: Option<crate::live::LiveTap>,
}

/// What travels over the recorder's channel.
enum Msg {
    Open {
        id: u64,
        header: Box<Recording>,
        path: PathBuf,
        options: OpenOptions,
        done: Done,
    },
    Tap {
        id: u64,
        seq: u64,
        tap: Tap,
        credit: Credit,
    },
    /// A [`Ticket`] dropped unused: its place in the order is empty.
    Skip {
        id: u64,
        seq: u64,
    },
    Close {
        id: u64,
    },
}

/// A queued read's places in its connection's and the global bound,
/// released once the recorder has applied it.
struct Credit {
    _connection: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

type Done = oneshot::Sender<io::Result<Recorded>>;

/// A handle on the recorder thread, for opening recordings. The thread ends
/// once every handle and every [`TapSender`] is dropped.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Msg>,
    global: Arc<Semaphore>,
}

impl Recorder {
    /// Starts the recorder thread; join the returned handle after dropping
    /// every [`Recorder`] and [`TapSender`].
    pub fn start() -> io::Result<(Recorder, JoinHandle<()>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Its own single-threaded runtime, for the flush timer and for
        // finalising recordings on its blocking pool.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        let thread =
            std::thread::Builder::new().name("wstap-recorder".into()).spawn(move || recorder_thread(&runtime, rx))?;
        Ok((Recorder { tx, global: Arc::new(Semaphore::new(TAP_CAPACITY)) }, thread))
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
        let _ = self.tx.send(open);
        let own = Arc::new(Semaphore::new(CONNECTION_CAPACITY));
        let next = Arc::new(AtomicU64::new(0));
        (TapSender { id, tx: self.tx.clone(), own, global: self.global.clone(), next }, outcome)
    }
}

/// One connection's end of the tap.
#[derive(Clone)]
pub struct TapSender {
    id: u64,
    tx: mpsc::UnboundedSender<Msg>,
    /// This connection's bound ([`CONNECTION_CAPACITY`]).
    own: Arc<Semaphore>,
    /// Every connection's bound ([`TAP_CAPACITY`]).
    global: Arc<Semaphore>,
    /// The connection's next place in the recorded order (shared by both
    /// pumps).
    next: Arc<AtomicU64>,
}

/// A place in a connection's recorded order, taken when a read returns and
/// before it is forwarded, so that what the read causes on the other side
/// (the peer's answer to a forwarded close) is always recorded after it,
/// however late the hand-off. Pass it to [`TapSender::send_ticketed`]; one
/// dropped unused leaves its place empty (the recorder is told).
pub struct Ticket {
    id: u64,
    seq: u64,
    tx: Option<mpsc::UnboundedSender<Msg>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Skip { id: self.id, seq: self.seq });
        }
    }
}

impl TapSender {
    /// Takes this connection's next place in the recorded order.
    pub fn ticket(&self) -> Ticket {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        Ticket { id: self.id, seq, tx: Some(self.tx.clone()) }
    }

    /// Queues `tap` in the next place, waiting while this connection, or
    /// all of them, have as many [`UNIT`]s queued as allowed (see the
    /// module docs).
    pub async fn send(&self, tap: Tap) {
        self.send_ticketed(self.ticket(), tap).await;
    }

    /// Queues `tap` in the place `ticket` holds, waiting as [`send`](Self::send) does.
    pub async fn send_ticketed(&self, mut ticket: Ticket, tap: Tap) {
        let units = match &tap {
            Tap::Data { bytes, .. } => bytes.len().div_ceil(UNIT).clamp(1, CONNECTION_CAPACITY),
            Tap::End { .. } | Tap::Event { .. } => 1,
        } as u32;
        // Own bound first: a connection over its share never holds global places.
        let Ok(own) = self.own.clone().acquire_many_owned(units).await else { return };
        let Ok(global) = self.global.clone().acquire_many_owned(units).await else { return };
        let credit = Credit { _connection: own, _global: global };
        ticket.tx = None;
        let _ = self.tx.send(Msg::Tap { id: self.id, seq: ticket.seq, tap, credit });
    }

    /// Ends the recording: call once every pump has sent its last message.
    pub async fn close(self) {
        let _ = self.tx.send(Msg::Close { id: self.id });
    }
}

/// One recording in progress on the recorder thread.
struct Conn {
    live: LiveRecording,
    capture: Option<Capture>,
    /// Until the client's first bytes: why TLS is not decrypted here.
    tls_not_decrypted: Option<String>,
    done: Done,
    /// Reads received and not yet applied, in order. A read that came
    /// ahead of its place has released its credit (see [`State::place`]).
    queue: VecDeque<(Tap, Option<Credit>)>,
    /// The next place in the recorded order ([`Ticket`]).
    next_seq: u64,
    /// Reads that arrived before an earlier place was filled, by place
    /// (`None`: a place left empty).
    early: BTreeMap<u64, Option<Tap>>,
    /// Closed by its pumps: finalise once the queue is empty.
    closing: bool,
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

/// The recorder's connections and whose queued reads come next.
#[derive(Default)]
struct State {
    conns: HashMap<u64, Conn>,
    /// Connections with queued reads, in round-robin order.
    ready: VecDeque<u64>,
    /// Connections with decoded events not yet written out.
    touched: Vec<u64>,
}

/// The recorder thread's body. Never inlined: a profile attributes the
/// recorder's own work to it (the proxy benchmark's `--cost` counts the
/// instructions under it and under [`finalise`]).
#[inline(never)]
fn recorder_thread(runtime: &tokio::runtime::Runtime, rx: mpsc::UnboundedReceiver<Msg>) {
    runtime.block_on(serve(rx));
}

/// The recorder thread's loop: runs until every sender is dropped.
async fn serve(mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut st = State::default();
    let flush_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(flush_timer);
    let mut timer_set = false;
    loop {
        if st.ready.is_empty() {
            tokio::select! {
                biased;
                msg = rx.recv() => match msg {
                    Some(msg) => st.route(msg),
                    None => break,
                },
                _ = &mut flush_timer, if timer_set => {
                    timer_set = false;
                    flush_all(&mut st.conns);
                    continue;
                }
            }
        }
        // Routing is cheap: take everything queued, then work fairly.
        while let Ok(more) = rx.try_recv() {
            st.route(more);
        }
        let batch = st.work(MAX_BATCH);
        st.write_out();
        if st.ready.is_empty() && batch < MAX_BATCH {
            // Drained: let reads gather rather than be woken for each.
            std::thread::sleep(BATCH_PAUSE);
        }
        if timer_set && flush_timer.is_elapsed() {
            // Busy enough that the timer branch never got polled.
            timer_set = false;
            flush_all(&mut st.conns);
        } else if !timer_set {
            timer_set = true;
            flush_timer.as_mut().reset(tokio::time::Instant::now() + FLUSH_EVERY);
        }
    }
    // Every sender is gone: apply what is queued, then finalise everything,
    // connections never closed included.
    while !st.ready.is_empty() {
        st.work(usize::MAX);
    }
    st.write_out();
    let ids: Vec<u64> = st.conns.keys().copied().collect();
    for id in ids {
        close(&mut st.conns, id);
    }
}

impl State {
    /// Takes one message off the channel: opens, queues or closes.
    fn route(&mut self, msg: Msg) {
        match msg {
            Msg::Open { id, header, path, options, done } => match LiveRecording::create(&path, &header) {
                Ok(mut live) => {
                    if let Some(tap) = options.live {
                        live.observe(Box::new(tap));
                    }
                    let capture = options.pcap.and_then(|p| Capture::create(&path, p));
                    let tls_not_decrypted = options.tls_not_decrypted;
                    let queue = VecDeque::new();
                    let conn = Conn {
                        live,
                        capture,
                        tls_not_decrypted,
                        done,
                        queue,
                        next_seq: 0,
                        early: BTreeMap::new(),
                        closing: false,
                        touched: false,
                        dirty: true,
                    };
                    self.conns.insert(id, conn);
                }
                Err(e) => {
                    let _ = done.send(Err(failed(id, &path, e)));
                }
            },
            // Unknown: the recording failed and was already reported.
            Msg::Tap { id, seq, tap, credit } => self.place(id, seq, Some((tap, credit))),
            Msg::Skip { id, seq } => self.place(id, seq, None),
            Msg::Close { id } => {
                let Some(conn) = self.conns.get_mut(&id) else { return };
                // Every ticket is used or dropped before the pumps end, so
                // nothing is early by now; if something is, keep it, in order.
                if !conn.early.is_empty() {
                    let was_empty = conn.queue.is_empty();
                    conn.queue.extend(std::mem::take(&mut conn.early).into_values().flatten().map(|tap| (tap, None)));
                    if was_empty && !conn.queue.is_empty() {
                        self.ready.push_back(id);
                    }
                }
                if conn.queue.is_empty() {
                    self.close(id);
                } else {
                    conn.closing = true;
                }
            }
        }
    }

    /// Puts a read (`None`: an empty place) at place `seq` of connection
    /// `id`'s order: into the queue if it is the next place, with the early
    /// reads it lets through, else aside until the places before it are
    /// filled. A read put aside gives its credit back at once, so that the
    /// read it waits for (which may itself be waiting for credit) can always
    /// get some: at most the other pump's reads that were handed off first
    /// wait aside, and they are bounded by the same credit.
    fn place(&mut self, id: u64, seq: u64, item: Option<(Tap, Credit)>) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        if seq != conn.next_seq {
            conn.early.insert(seq, item.map(|(tap, _credit)| tap));
            return;
        }
        let was_empty = conn.queue.is_empty();
        if let Some((tap, credit)) = item {
            conn.queue.push_back((tap, Some(credit)));
        }
        conn.next_seq += 1;
        while let Some(next) = conn.early.remove(&conn.next_seq) {
            if let Some(tap) = next {
                conn.queue.push_back((tap, None));
            }
            conn.next_seq += 1;
        }
        if was_empty && !conn.queue.is_empty() {
            self.ready.push_back(id);
        }
    }

    /// Applies queued reads one connection at a time, round-robin, until
    /// `max` bytes are decoded or nothing is queued; returns the bytes.
    fn work(&mut self, max: usize) -> usize {
        let mut batch = 0;
        while batch < max
            && let Some(id) = self.ready.pop_front()
        {
            let Some(conn) = self.conns.get_mut(&id) else { continue };
            let Some((tap, credit)) = conn.queue.pop_front() else { continue };
            batch += match &tap {
                Tap::Data { bytes, .. } => bytes.len().max(1),
                Tap::End { .. } | Tap::Event { .. } => 1,
            };
            if let (Some(why), Tap::Data { dir: Direction::ClientToServer, at, bytes }) =
                (&conn.tls_not_decrypted, &tap)
            {
                name_tls(&mut conn.live, *at, bytes, why);
                conn.tls_not_decrypted = None;
            }
            let applied = apply(&mut conn.live, &mut conn.capture, tap);
            drop(credit);
            if let Err(e) = applied {
                fail(&mut self.conns, id, e);
                continue;
            }
            if !conn.touched {
                conn.touched = true;
                self.touched.push(id);
            }
            if !conn.queue.is_empty() {
                self.ready.push_back(id);
            } else if conn.closing {
                self.close(id);
            }
        }
        batch
    }

    /// Moves decoded events of touched connections into their writers.
    fn write_out(&mut self) {
        // Taken and put back emptied, so it keeps its capacity.
        let mut touched = std::mem::take(&mut self.touched);
        for &id in &touched {
            let Some(conn) = self.conns.get_mut(&id) else { continue };
            conn.touched = false;
            conn.dirty = true;
            if let Err(e) = conn.live.write_out() {
                fail(&mut self.conns, id, e);
            }
        }
        touched.clear();
        self.touched = touched;
    }

    /// Finalises `id` (its decoded events are written by `close` itself).
    fn close(&mut self, id: u64) {
        self.touched.retain(|t| *t != id);
        close(&mut self.conns, id);
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
    tokio::task::spawn_blocking(move || finalise(id, live, done));
}

/// Writes a recording's summary and syncs it; never inlined, like
/// [`recorder_thread`].
#[inline(never)]
fn finalise(id: u64, live: LiveRecording, done: Done) {
    let path = live.path().to_path_buf();
    let _ = done.send(live.close().map_err(|e| failed(id, &path, e)));
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

/// Write buffer of a live capture, as large as a read
/// ([`READ_BUFFER`](super::relay::READ_BUFFER)): a 256 KiB read becomes
/// about 266 KiB of frames (headers every 1460 bytes), written with two
/// syscalls instead of 33 (8 KiB default).
const CAPTURE_BUFFER: usize = 256 * 1024;

/// The capture being written beside a recording.
struct Capture {
    writer: pcap::Writer<BufWriter<Growing>>,
    path: PathBuf,
}

impl Capture {
    fn create(yaml: &Path, out: PcapOut) -> Option<Capture> {
        let ext = if out.format == pcap::Format::PcapNg { "pcapng" } else { "pcap" };
        let path = yaml.with_extension(ext);
        let made = File::create(&path).map_err(pcap::WriteError::from).and_then(|f| {
            pcap::Writer::new(
                BufWriter::with_capacity(CAPTURE_BUFFER, Growing::new(f)),
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

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
