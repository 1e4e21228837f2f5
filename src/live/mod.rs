//! The live view: `wstap record` prints one line per frame as it is
//! recorded, plus a line per connection opening and closing (formats in
//! [`line`], selection in [`filter`]).
//!
//! Contract: the view never slows forwarding. It sits behind the recorder,
//! which is already off the relay path: the recorder hands each event it
//! decodes to the connection's [`LiveTap`], which formats a line and
//! offers it to a bounded channel of [`CAPACITY`] lines with `try_send`.
//! One printer thread writes the lines out, in batches gathered over 2 ms
//! while traffic flows, so that the recorder never has to wake it. When
//! the output cannot keep up (a slow terminal, a blocked pipe, a paused
//! `less`), the channel fills,
//! and lines are dropped and counted, never waited for; the next line
//! printed is preceded by how many were lost, and `record` says the total
//! when it stops. So neither the pumps nor the recorder ever wait on the
//! output.
//!
//! Colour follows [`crate::term`]: only on a terminal, never with
//! `NO_COLOR`.

pub mod filter;
pub mod line;

use crate::session::{Event, Summary};
use filter::Filter;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Lines queued for the printer before new ones are dropped.
pub const CAPACITY: usize = 4096;

/// How long [`LiveView::finish`] waits for the printer to write what is
/// queued (a terminal that does not read must not hold up the exit).
const FINISH_WAIT: Duration = Duration::from_secs(1);

struct Shared {
    tx: SyncSender<Option<String>>,
    /// Dropped since the printer last said so.
    dropped: AtomicU64,
    /// Dropped in all.
    total_dropped: AtomicU64,
    filter: Filter,
    color: bool,
}

impl Shared {
    fn offer(&self, line: &line::Line, at_micros: u64) {
        if !self.filter.matches(&line.subject()) {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Some(line.render(at_micros, self.color))) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.total_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The running view: a printer thread and the taps that feed it.
pub struct LiveView {
    shared: Arc<Shared>,
    printer: std::sync::Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveView").field("filter", &self.shared.filter).finish_non_exhaustive()
    }
}

impl LiveView {
    /// Starts the printer writing to `out`, showing the lines `filter`
    /// selects, coloured if `color`.
    pub fn start(out: Box<dyn Write + Send>, filter: Filter, color: bool) -> io::Result<LiveView> {
        Self::with_capacity(out, filter, color, CAPACITY)
    }

    /// [`start`](Self::start) with a queue of `capacity` lines.
    pub fn with_capacity(
        out: Box<dyn Write + Send>,
        filter: Filter,
        color: bool,
        capacity: usize,
    ) -> io::Result<LiveView> {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let shared =
            Arc::new(Shared { tx, dropped: AtomicU64::new(0), total_dropped: AtomicU64::new(0), filter, color });
        let (done_tx, done) = std::sync::mpsc::channel();
        let printer_shared = shared.clone();
        let printer = std::thread::Builder::new().name("wstap-live".into()).spawn(move || {
            print_lines(out, &rx, &printer_shared);
            let _ = done_tx.send(());
        })?;
        Ok(LiveView { shared, printer: std::sync::Mutex::new(Some((printer, done))) })
    }

    /// The tap of connection `conn` (started at `started` µs since the
    /// epoch, from `client` to `server`); prints its open line.
    pub fn connection(&self, conn: u64, started: u64, client: &str, server: &str) -> LiveTap {
        self.shared.offer(&line::open(conn, client, server), started);
        LiveTap { conn, started, text_message: false, shared: self.shared.clone() }
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.total_dropped.load(Ordering::Relaxed)
    }

    /// Stops the printer after it wrote what is queued (waiting at most
    /// [`FINISH_WAIT`]); returns the lines dropped in all.
    pub fn finish(&self) -> u64 {
        let Some((printer, done)) = self.printer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return self.dropped();
        };
        // Blocking is fine here: the proxy has stopped. Bounded all the same.
        let _ = self.shared.tx.send_timeout_compat(None, FINISH_WAIT);
        if done.recv_timeout(FINISH_WAIT).is_ok() {
            let _ = printer.join();
        }
        self.dropped()
    }
}

/// `SyncSender` has no timed send: try for a while, then give up.
trait SendTimeout<T> {
    fn send_timeout_compat(&self, value: T, wait: Duration) -> Result<(), ()>;
}

impl<T> SendTimeout<T> for SyncSender<T> {
    fn send_timeout_compat(&self, mut value: T, wait: Duration) -> Result<(), ()> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match self.try_send(value) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(()),
                Err(TrySendError::Full(v)) if std::time::Instant::now() < deadline => {
                    value = v;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TrySendError::Full(_)) => return Err(()),
            }
        }
    }
}

/// While lines keep coming, the printer lets them gather this long between
/// writes instead of waking for each one. Why: a printer blocked in `recv`
/// is woken by every line (a futex wake on the recorder thread, a context
/// switch, then one `write` per line), which at 64-byte messages cost more
/// CPU than recording them. Gathered, the recorder's `try_send` finds no
/// waiter and the printer writes one batch per interval; a person cannot
/// see 2 ms.
const GATHER: Duration = Duration::from_millis(2);

/// After this many intervals in a row bring no line (50 ms), the printer
/// blocks until the next one: an idle proxy costs no wake-ups, and the
/// first line after a pause is printed at once.
const IDLE_ROUNDS: u32 = 25;

fn print_lines(out: Box<dyn Write + Send>, rx: &Receiver<Option<String>>, shared: &Shared) {
    let mut out = io::BufWriter::new(out);
    let write = |out: &mut io::BufWriter<Box<dyn Write + Send>>, line: &str| -> io::Result<()> {
        let lost = shared.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let text = format!("wstap: live view: {lost} line(s) dropped (the output did not keep up)");
            writeln!(out, "{}", crate::term::paint(shared.color, crate::term::YELLOW, &text))?;
        }
        writeln!(out, "{line}")
    };
    'blocking: while let Ok(Some(line)) = rx.recv() {
        if write(&mut out, &line).is_err() {
            return;
        }
        let mut idle = 0;
        loop {
            let mut got = false;
            loop {
                match rx.try_recv() {
                    Ok(Some(line)) => {
                        got = true;
                        if write(&mut out, &line).is_err() {
                            return;
                        }
                    }
                    Ok(None) | Err(TryRecvError::Disconnected) => {
                        let _ = out.flush();
                        return;
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }
            // Everything queued is written: the lines appear now.
            if out.flush().is_err() {
                return;
            }
            idle = if got { 0 } else { idle + 1 };
            if idle >= IDLE_ROUNDS {
                continue 'blocking;
            }
            std::thread::sleep(GATHER);
        }
    }
    let _ = out.flush();
}

/// One connection's feed into the view; the recorder calls it for each
/// event it decodes ([`crate::store::Observer`]).
#[derive(Clone)]
pub struct LiveTap {
    conn: u64,
    started: u64,
    /// The data message in progress is text (for its continuation frames).
    text_message: bool,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LiveTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTap").field("conn", &self.conn).finish_non_exhaustive()
    }
}

impl crate::store::Observer for LiveTap {
    fn event(&mut self, event: &Event) {
        if let crate::session::EventKind::Frame(f) = &event.kind
            && matches!(f.opcode, 1 | 2)
        {
            self.text_message = f.opcode == 1;
        }
        if let Some(line) = line::event(self.conn, event, self.text_message) {
            self.shared.offer(&line, self.started + event.at);
        }
    }

    fn closed(&mut self, summary: &Summary) {
        self.shared.offer(&line::closed(self.conn, summary), self.started + summary.duration_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Observer;

    /// A writer that blocks until released: a terminal that does not read.
    struct Blocked(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (lock, cv) = &*self.0;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_drops_and_counts_lines_without_waiting() {
        let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let view = LiveView::with_capacity(Box::new(Blocked(gate.clone())), Filter::All, false, 8).unwrap();
        let mut tap = view.connection(1, 0, "c", "s");
        let started = std::time::Instant::now();
        let note = Event {
            at: 1,
            dir: crate::session::Direction::ClientToServer,
            kind: crate::session::EventKind::Note { kind: "k".into(), detail: "d".into() },
        };
        for _ in 0..10_000 {
            tap.event(&note);
        }
        assert!(started.elapsed() < Duration::from_secs(2), "offering never waits: {:?}", started.elapsed());
        // 8 queued, a few in the printer's hands and its buffer; the rest dropped.
        assert!(view.dropped() > 9_000, "{}", view.dropped());
        let (lock, cv) = &*gate;
        *lock.lock().unwrap() = true;
        cv.notify_all();
        assert!(view.finish() > 9_000);
    }
}
