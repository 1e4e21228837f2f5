//! permessage-deflate (RFC 7692): the negotiated parameters, and per-direction
//! inflate and deflate state.
//!
//! Pure: bytes in, bytes out, no IO. The recorder inflates what it saw with
//! [`Inflater`]; replay compresses what it sends with [`Deflater`].
//!
//! Contracts:
//! - An [`Inflater`] never holds more than [`INFLATE_CHUNK`] bytes of output:
//!   inflated data is handed to a callback chunk by chunk, and a message
//!   stops inflating once it passes its cap ([`DEFAULT_INFLATE_CAP`] unless
//!   set). A tiny frame that inflates to gigabytes costs the cap in CPU and
//!   nothing more in memory.
//! - Inflating never fails the caller: corrupt data and a hit cap end *that
//!   message's* inflation with an [`InflateStop`], and the next message starts
//!   afresh. Under context takeover the next messages may then refer to
//!   history the inflater never saw, and fail too.
//! - Inflating always uses a 32 KiB (15-bit) window: it decodes any stream
//!   compressed with a smaller one, whatever `*_max_window_bits` says.

use super::Direction;
use super::handshake::Extension;
use super::violation::ViolationKind;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::fmt;

/// Inflated bytes allowed per message before inflation stops (64 MiB).
/// [`Inflater::with_cap`] sets another.
pub const DEFAULT_INFLATE_CAP: u64 = 64 * 1024 * 1024;

/// Largest piece of output an [`Inflater`] produces at once.
pub const INFLATE_CHUNK: usize = 32 * 1024;

/// The empty stored block a sync flush ends with; senders strip it and
/// receivers put it back (RFC 7692 §7.2.1, §7.2.2).
pub const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The LZ77 window (32 KiB) kept to resume after a final block.
const WINDOW: usize = 32 * 1024;

/// Smallest window zlib can compress with.
pub const MIN_COMPRESS_BITS: u8 = 9;

/// What a server accepted in its `permessage-deflate` response (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// LZ77 window bits the server compresses with (8–15).
    pub server_max_window_bits: u8,
    /// LZ77 window bits the client compresses with (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

impl DeflateParams {
    /// Reads the parameters strictly: an unknown, repeated or malformed
    /// parameter is an error (RFC 7692 §7.1 says to fail the connection).
    pub fn from_extension(ext: &Extension) -> Result<DeflateParams, String> {
        let (params, problems) = Self::from_extension_lenient(ext);
        match problems.is_empty() {
            true => Ok(params),
            false => Err(problems.join("; ")),
        }
    }

    /// Reads what can be read, skipping bad parameters and listing why.
    /// A recorder uses this: peers that accepted odd parameters still talk.
    pub fn from_extension_lenient(ext: &Extension) -> (DeflateParams, Vec<String>) {
        let mut params = DeflateParams::default();
        let mut problems = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in &ext.params {
            let lower = name.to_ascii_lowercase();
            if seen.contains(&lower) {
                problems.push(format!("{name} given twice"));
                continue;
            }
            seen.push(lower.clone());
            let flag = |set: &mut bool, problems: &mut Vec<String>| match value {
                None => *set = true,
                Some(v) => problems.push(format!("{name} takes no value (got {v:?})")),
            };
            match lower.as_str() {
                "server_no_context_takeover" => flag(&mut params.server_no_context_takeover, &mut problems),
                "client_no_context_takeover" => flag(&mut params.client_no_context_takeover, &mut problems),
                "server_max_window_bits" => window_bits(name, value, &mut params.server_max_window_bits, &mut problems),
                "client_max_window_bits" => window_bits(name, value, &mut params.client_max_window_bits, &mut problems),
                _ => problems.push(format!("unknown parameter {name}")),
            }
        }
        (params, problems)
    }

    /// True if `sender` resets its compressor after every message.
    pub fn no_context_takeover(&self, sender: Direction) -> bool {
        match sender {
            Direction::ClientToServer => self.client_no_context_takeover,
            Direction::ServerToClient => self.server_no_context_takeover,
        }
    }

    /// The window bits `sender` compresses with.
    pub fn window_bits(&self, sender: Direction) -> u8 {
        match sender {
            Direction::ClientToServer => self.client_max_window_bits,
            Direction::ServerToClient => self.server_max_window_bits,
        }
    }

    /// An inflater for messages sent by `sender`.
    pub fn inflater(&self, sender: Direction) -> Inflater {
        Inflater::new(self.no_context_takeover(sender))
    }

    /// A deflater for messages sent by `sender` (window 8 becomes 9; see
    /// [`Deflater::new`]).
    pub fn deflater(&self, sender: Direction) -> Deflater {
        let bits = self.window_bits(sender);
        Deflater::new(bits, self.no_context_takeover(sender)).expect("parsed window bits are 8..=15")
    }
}

/// Reads a `*_max_window_bits` value: 8–15 as a plain decimal. In a response
/// the value is required; a bare `client_max_window_bits` is read as 15.
fn window_bits(name: &str, value: &Option<String>, out: &mut u8, problems: &mut Vec<String>) {
    let Some(v) = value else {
        if name.eq_ignore_ascii_case("client_max_window_bits") {
            *out = 15;
        } else {
            problems.push(format!("{name} needs a value"));
        }
        return;
    };
    match v.parse::<u8>() {
        Ok(bits @ 8..=15) if !v.starts_with('0') => *out = bits,
        _ => problems.push(format!("{name}={v} is not 8..15")),
    }
}

/// Why a message stopped inflating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InflateStop {
    /// The message inflated past this many bytes; the rest was not inflated.
    CapHit(u64),
    /// The compressed data is corrupt, or refers to history this inflater
    /// does not have.
    Failed(String),
}

impl InflateStop {
    /// The violation to record.
    pub fn violation(&self) -> ViolationKind {
        match self {
            InflateStop::CapHit(cap) => ViolationKind::InflateCapHit(*cap),
            InflateStop::Failed(why) => ViolationKind::InflateFailed(why.clone()),
        }
    }
}

impl fmt::Display for InflateStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.violation().fmt(f)
    }
}

/// How one message inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inflated {
    /// Inflated bytes handed out (at most the cap).
    pub len: u64,
    /// Why inflation stopped early, if it did.
    pub stop: Option<InflateStop>,
}

/// Inflates the messages one side sends, in order.
///
/// Call [`push`](Self::push) with each piece of a compressed message's
/// payload (across its fragments) and [`end_message`](Self::end_message)
/// after its last frame.
pub struct Inflater {
    state: Decompress,
    reset_each: bool,
    cap: u64,
    buf: Box<[u8]>,
    /// The last [`WINDOW`] bytes of output, kept under context takeover.
    history: Vec<u8>,
    /// Bytes inflated in the current message.
    produced: u64,
    stop: Option<InflateStop>,
    /// The current message ended its deflate stream (a BFINAL=1 block).
    stream_ended: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_each", &self.reset_each)
            .field("cap", &self.cap)
            .field("produced", &self.produced)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater; `no_context_takeover` if the sender resets its compressor
    /// after every message.
    pub fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            state: Decompress::new(false),
            reset_each: no_context_takeover,
            cap: DEFAULT_INFLATE_CAP,
            buf: vec![0; INFLATE_CHUNK].into_boxed_slice(),
            history: Vec::new(),
            produced: 0,
            stop: None,
            stream_ended: false,
        }
    }

    /// The same inflater with another per-message cap.
    pub fn with_cap(mut self, cap: u64) -> Inflater {
        self.cap = cap;
        self
    }

    /// Changes the cap from now on, for the current message too (never
    /// below what the current message already produced).
    pub fn set_cap(&mut self, cap: u64) {
        self.cap = cap.max(self.produced);
    }

    /// Bytes the current message has inflated so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// The per-message cap on inflated bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// True once the current message has stopped inflating (cap or error).
    pub fn stopped(&self) -> bool {
        self.stop.is_some()
    }

    /// Inflates a piece of the current message's compressed payload,
    /// handing inflated chunks to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) {
        self.run(input, FlushDecompress::None, out);
    }

    /// The current message's last frame has been pushed: inflates the sync
    /// tail, reports how it went, and gets ready for the next message.
    pub fn end_message(&mut self, out: &mut dyn FnMut(&[u8])) -> Inflated {
        self.run(&SYNC_TAIL, FlushDecompress::Sync, out);
        let done = Inflated { len: self.produced, stop: self.stop.take() };
        if self.reset_each || done.stop.is_some() {
            // Without takeover each message stands alone; after a stop the
            // state is unusable, and what follows may be undecodable anyway.
            self.state.reset(false);
            self.history.clear();
        } else if self.stream_ended {
            self.restart_with_history();
        }
        self.produced = 0;
        self.stream_ended = false;
        done
    }

    /// Inflates a whole message into memory (for tests and small tools).
    pub fn inflate_message(&mut self, compressed: &[u8]) -> Result<Vec<u8>, InflateStop> {
        let mut bytes = Vec::new();
        self.push(compressed, &mut |c| bytes.extend_from_slice(c));
        let done = self.end_message(&mut |c| bytes.extend_from_slice(c));
        done.stop.map_or(Ok(bytes), Err)
    }

    fn run(&mut self, mut input: &[u8], flush: FlushDecompress, out: &mut dyn FnMut(&[u8])) {
        while self.stop.is_none() && !self.stream_ended {
            // One byte over the cap is how we learn the cap was passed.
            let room = (self.cap - self.produced).saturating_add(1).min(INFLATE_CHUNK as u64) as usize;
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self.state.decompress(input, &mut self.buf[..room], flush);
            let used = (self.state.total_in() - in_before) as usize;
            let wrote = (self.state.total_out() - out_before) as usize;
            input = &input[used..];
            self.emit(wrote, out);
            match status {
                Err(e) => self.stop = Some(InflateStop::Failed(e.to_string())),
                Ok(Status::StreamEnd) => self.stream_ended = true,
                Ok(_) if wrote < room && input.is_empty() => return,
                Ok(_) if used == 0 && wrote == 0 => return,
                Ok(_) => {}
            }
        }
    }

    fn emit(&mut self, wrote: usize, out: &mut dyn FnMut(&[u8])) {
        let keep = wrote.min((self.cap - self.produced) as usize);
        if keep < wrote {
            self.stop = Some(InflateStop::CapHit(self.cap));
        }
        let chunk = &self.buf[..keep];
        if keep > 0 {
            out(chunk);
        }
        self.produced += keep as u64;
        if !self.reset_each {
            self.history.extend_from_slice(chunk);
            if self.history.len() > 2 * WINDOW {
                self.history.drain(..self.history.len() - WINDOW);
            }
        }
    }

    /// After a final block, a new deflate stream follows that may still refer
    /// to the previous 32 KiB of output.
    fn restart_with_history(&mut self) {
        self.state = Decompress::new(false);
        let from = self.history.len().saturating_sub(WINDOW);
        if !self.history[from..].is_empty()
            && let Err(e) = self.state.set_dictionary(&self.history[from..])
        {
            self.stop = Some(InflateStop::Failed(format!("cannot resume after a final block: {e}")));
        }
    }
}

/// Why a [`Deflater`] cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError {
    /// Window bits outside 8..=15.
    #[error("window bits {0} outside 8..=15")]
    WindowBits(u8),
}

/// Compresses the messages one side sends, in order.
pub struct Deflater {
    state: Compress,
    reset_each: bool,
    bits: u8,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater").field("reset_each", &self.reset_each).field("bits", &self.bits).finish()
    }
}

impl Deflater {
    /// A deflater with a `bits`-bit window (8..=15) at the default level.
    ///
    /// zlib cannot compress raw deflate with an 8-bit window, so 8 uses 9.
    /// That is still safe for a peer that inflates with 8 bits: zlib never
    /// emits a distance over the window minus 262 bytes, 250 for 9 bits.
    pub fn new(bits: u8, no_context_takeover: bool) -> Result<Deflater, DeflateError> {
        Self::with_level(bits, no_context_takeover, Compression::default())
    }

    /// A deflater at compression `level`.
    pub fn with_level(bits: u8, no_context_takeover: bool, level: Compression) -> Result<Deflater, DeflateError> {
        if !(8..=15).contains(&bits) {
            return Err(DeflateError::WindowBits(bits));
        }
        let bits = bits.max(MIN_COMPRESS_BITS);
        let state = Compress::new_with_window_bits(level, false, bits);
        Ok(Deflater { state, reset_each: no_context_takeover, bits })
    }

    /// The window bits actually used (9..=15).
    pub fn window_bits(&self) -> u8 {
        self.bits
    }

    /// Compresses one message into its payload (the sync tail stripped).
    pub fn compress_message(&mut self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.push(message, &mut out);
        self.end_message(&mut out);
        out
    }

    /// Compresses a piece of the current message, appending to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.run(input, FlushCompress::None, out);
    }

    /// Ends the current message: sync-flushes, strips the tail, and resets
    /// when context takeover is off.
    pub fn end_message(&mut self, out: &mut Vec<u8>) {
        self.run(&[], FlushCompress::Sync, out);
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        if self.reset_each {
            self.state.reset();
        }
    }

    fn run(&mut self, mut input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
        loop {
            out.reserve(input.len() / 2 + 64);
            let before = self.state.total_in();
            let status = self.state.compress_vec(input, out, flush).expect("deflate state is never corrupt");
            input = &input[(self.state.total_in() - before) as usize..];
            let full = out.len() == out.capacity();
            if input.is_empty() && !full || matches!(status, Status::StreamEnd) {
                return;
            }
        }
    }
}

pub mod negotiate;

#[cfg(test)]
mod tests;
