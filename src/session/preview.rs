//! What a report shows of a recording's bytes, read in bounded memory.
//!
//! A report never prints more than the first [`PREVIEW_LEN`] bytes of a
//! payload or a TCP read (Autobahn's truncation, `report::wirelog`), so
//! `show` needs only each one's length and head. [`Preview`]s are built by
//! streaming sidecars through [`super::sidecar::scan`], with every digest
//! checked as [`Recording::data_bytes`] checks it, so a recording with a
//! 256 MiB message renders in a few buffers' worth of memory instead of
//! holding the message (or the whole byte stream) at once.

use super::{Data, Direction, EventKind, RebuildError, Recording};
use crate::wire::apply_mask;

/// Bytes of a payload or read that a [`Preview`] keeps.
pub const PREVIEW_LEN: usize = 64;

/// The length of some bytes and their first [`PREVIEW_LEN`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// How many bytes there are.
    pub len: u64,
    /// The first `min(len, PREVIEW_LEN)` of them.
    pub head: Vec<u8>,
}

impl Preview {
    /// The preview of `bytes`.
    pub fn of(bytes: &[u8]) -> Preview {
        Preview { len: bytes.len() as u64, head: bytes[..bytes.len().min(PREVIEW_LEN)].to_vec() }
    }

    /// Appends the bytes `other` previews (they follow those seen so far).
    pub fn append(&mut self, other: &Preview) {
        if self.head.len() as u64 == self.len {
            let room = PREVIEW_LEN - self.head.len();
            self.head.extend_from_slice(&other.head[..other.head.len().min(room)]);
        }
        self.len += other.len;
    }

    /// Appends `bytes` (the next ones after those seen so far).
    pub fn extend(&mut self, bytes: &[u8]) {
        let room = PREVIEW_LEN.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.len += bytes.len() as u64;
    }
}

impl Recording {
    /// The preview of `data`: sidecar bytes are streamed and their digest
    /// checked, as by [`data_bytes`](Self::data_bytes), without holding them.
    pub fn data_preview(&self, data: &Data) -> Result<Preview, RebuildError> {
        let mut preview = Preview::default();
        self.scan_data(data, &mut |chunk| preview.extend(chunk))?;
        Ok(preview)
    }

    /// Streams the bytes of `data` to `visit` in bounded chunks.
    fn scan_data(&self, data: &Data, visit: &mut dyn FnMut(&[u8])) -> Result<(), RebuildError> {
        let Data::Sidecar(r) = data else {
            visit(&self.data_bytes(data)?);
            return Ok(());
        };
        let dir = self.dir.clone().unwrap_or_default();
        super::sidecar::scan(&dir, r, visit).map_err(|problem| RebuildError::Sidecar {
            event: None,
            file: r.file.clone(),
            problem,
        })
    }

    /// The previews of the TCP reads of `dir`, in order: what
    /// [`read_chunks`](Self::read_chunks) gives, cut to their heads, from
    /// one pass over the stream in bounded memory.
    pub fn read_previews(&self, dir: Direction) -> Result<Vec<Preview>, RebuildError> {
        let mut cut = Cutter::new(self.reads(dir).into_iter().map(|(_, len)| len).collect());
        for (index, event) in self.events.iter().enumerate().filter(|(_, e)| e.dir == dir) {
            let at = |e: RebuildError| match e {
                RebuildError::Corrupt { message, .. } => RebuildError::Corrupt { index: Some(index), message },
                RebuildError::Sidecar { file, problem, .. } => {
                    RebuildError::Sidecar { event: Some(index), file, problem }
                }
                other => other,
            };
            match &event.kind {
                EventKind::Http { data, .. } | EventKind::Raw { data, .. } => {
                    self.scan_data(data, &mut |chunk| cut.feed(chunk)).map_err(at)?
                }
                EventKind::Frame(f) => {
                    let header = f.header().map_err(|message| RebuildError::Corrupt { index: Some(index), message })?;
                    let mut head = Vec::new();
                    header.emit(&mut head);
                    cut.feed(&head);
                    let mut phase = 0;
                    let mut masked = Vec::new();
                    self.scan_data(&f.payload, &mut |chunk| match header.mask {
                        Some(key) => {
                            masked.clear();
                            masked.extend_from_slice(chunk);
                            apply_mask(&mut masked, key, phase % 4);
                            phase += chunk.len();
                            cut.feed(&masked);
                        }
                        None => cut.feed(chunk),
                    })
                    .map_err(at)?;
                }
                _ => {}
            }
        }
        cut.finish(dir)
    }
}

/// Cuts a stream fed in pieces into reads of known lengths, keeping each
/// read's preview.
struct Cutter {
    lens: Vec<u64>,
    previews: Vec<Preview>,
    /// The read being filled.
    current: usize,
    /// Bytes fed so far.
    fed: u64,
}

impl Cutter {
    fn new(lens: Vec<u64>) -> Cutter {
        Cutter { previews: vec![Preview::default(); lens.len()], lens, current: 0, fed: 0 }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        self.fed += bytes.len() as u64;
        loop {
            while self.current < self.lens.len() && self.previews[self.current].len == self.lens[self.current] {
                self.current += 1;
            }
            if bytes.is_empty() || self.current == self.lens.len() {
                return;
            }
            let preview = &mut self.previews[self.current];
            let take = (self.lens[self.current] - preview.len).min(bytes.len() as u64) as usize;
            preview.extend(&bytes[..take]);
            bytes = &bytes[take..];
        }
    }

    fn finish(self, dir: Direction) -> Result<Vec<Preview>, RebuildError> {
        let reads = self.lens.iter().try_fold(0u64, |sum, r| sum.checked_add(*r)).unwrap_or(u64::MAX);
        if reads != self.fed {
            return Err(RebuildError::Mismatch { dir: dir.short(), reads, content: self.fed });
        }
        Ok(self.previews)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{MemoryStore, SessionBuilder};
    use crate::wire::{FrameHeader, OpCode};

    #[test]
    fn read_previews_are_the_heads_of_read_chunks() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let frame =
            FrameHeader { mask: Some([9, 8, 7, 6]), ..FrameHeader::new(OpCode::BINARY, 300) }.encode_frame(&payload);
        let mut b = SessionBuilder::new(MemoryStore::default());
        let c2s = Direction::ClientToServer;
        b.read(0, c2s, &request[..10]).unwrap();
        b.read(1, c2s, &request[10..]).unwrap();
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        b.read(1, Direction::ServerToClient, response).unwrap();
        // Reads that cut the frame's header and its payload at odd places.
        for (i, piece) in
            [&frame[..1], &frame[1..7], &frame[7..100], &frame[100..101], &frame[101..]].iter().enumerate()
        {
            b.read(2 + i as u64, c2s, piece).unwrap();
        }
        let rec = Recording { events: b.drain(), ..Recording::default() };
        let want: Vec<Preview> = rec.read_chunks(c2s).unwrap().iter().map(|(_, bytes)| Preview::of(bytes)).collect();
        assert_eq!(want.len(), 7);
        assert_eq!(rec.read_previews(c2s).unwrap(), want);
        assert!(rec.frames().count() == 1, "the frame was decoded");
        assert_eq!(rec.read_previews(Direction::ServerToClient).unwrap(), [Preview::of(response)]);
    }

    #[test]
    fn cutter_handles_empty_reads_and_mismatches() {
        let mut c = Cutter::new(vec![0, 3, 0, 2, 0]);
        c.feed(b"ab");
        c.feed(b"");
        c.feed(b"cde");
        let got = c.finish(Direction::ClientToServer).unwrap();
        let lens: Vec<u64> = got.iter().map(|p| p.len).collect();
        assert_eq!(lens, [0, 3, 0, 2, 0]);
        assert_eq!(got[1].head, b"abc");
        let mut c = Cutter::new(vec![2]);
        c.feed(b"abc");
        assert!(matches!(
            c.finish(Direction::ClientToServer),
            Err(RebuildError::Mismatch { reads: 2, content: 3, .. })
        ));
    }
}
