//! Rebuilding each direction's byte stream, and its TCP read boundaries,
//! from a recording alone.
//!
//! The content events (`http`, `frame`, `raw`) of a direction, in order,
//! are exactly the bytes that travelled: a frame is re-emitted from its
//! recorded header fields (length encoding and mask key included) and its
//! payload re-masked. The `read` events then cut that stream into the reads
//! the proxy saw. pcap export and byte-exact replay depend on this.

use super::{Data, Direction, EventKind, Recording};

/// Why a stream could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// An event's data is corrupt (bad hex, bad mask, ...).
    #[error("{}{message}", event_prefix(*index))]
    Corrupt {
        /// Index of the event in the recording, when known.
        index: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A sidecar reference was refused or its bytes could not be read
    /// ([`super::sidecar`]).
    #[error("{}sidecar {file:?}: {problem}", event_prefix(*event))]
    Sidecar {
        /// Index of the event that points at it, when known.
        event: Option<usize>,
        /// The file name as the recording gives it.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The read sizes do not add up to the content.
    #[error("{dir}: reads total {reads} bytes but the content is {content} bytes")]
    Mismatch {
        /// Direction.
        dir: &'static str,
        /// Sum of read sizes (saturating: crafted sizes may overflow).
        reads: u64,
        /// Content length.
        content: u64,
    },
}

fn event_prefix(event: Option<usize>) -> String {
    event.map(|i| format!("events[{i}]: ")).unwrap_or_default()
}

impl Recording {
    /// The exact bytes of `data`, reading sidecars relative to the recording
    /// after checking them ([`super::sidecar`]: a plain name beside the
    /// recording, a range within the file, the recorded digest).
    pub fn data_bytes(&self, data: &Data) -> Result<Vec<u8>, RebuildError> {
        let corrupt = |message: String| RebuildError::Corrupt { index: self.event_holding(data), message };
        if let Some(bytes) = data.inline_bytes().map_err(corrupt)? {
            return Ok(bytes);
        }
        let Data::Sidecar(r) = data else {
            return Err(corrupt("payload stored only as a digest".into()));
        };
        let dir = self.dir.clone().unwrap_or_default();
        super::sidecar::read(&dir, r).map_err(|problem| RebuildError::Sidecar {
            event: self.event_holding(data),
            file: r.file.clone(),
            problem,
        })
    }

    /// The index of the event whose payload `data` is (compared by address).
    fn event_holding(&self, data: &Data) -> Option<usize> {
        self.events.iter().position(|e| {
            let held: [Option<&Data>; 2] = match &e.kind {
                EventKind::Http { data, .. } | EventKind::Raw { data, .. } => [Some(data), None],
                EventKind::Frame(f) => [Some(&f.payload), None],
                EventKind::Message(m) => [Some(&m.payload), m.inflated.as_ref().map(|i| &i.data)],
                _ => [None, None],
            };
            held.into_iter().flatten().any(|d| std::ptr::eq(d, data))
        })
    }

    /// Every byte that travelled in `dir`, in order.
    pub fn stream(&self, dir: Direction) -> Result<Vec<u8>, RebuildError> {
        let mut out = Vec::new();
        for (index, event) in self.events.iter().enumerate().filter(|(_, e)| e.dir == dir) {
            let at = |e: RebuildError| match e {
                RebuildError::Corrupt { message, .. } => RebuildError::Corrupt { index: Some(index), message },
                other => other,
            };
            match &event.kind {
                EventKind::Http { data, .. } | EventKind::Raw { data, .. } => {
                    out.extend(self.data_bytes(data).map_err(at)?)
                }
                EventKind::Frame(f) => {
                    let header = f.header().map_err(|message| RebuildError::Corrupt { index: Some(index), message })?;
                    let payload = self.data_bytes(&f.payload).map_err(at)?;
                    out.extend(header.encode_frame(&payload));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The sizes and times of the TCP reads in `dir`.
    pub fn reads(&self, dir: Direction) -> Vec<(u64, u64)> {
        self.events_in(dir)
            .filter_map(|e| match e.kind {
                EventKind::Read { len } => Some((e.at, len)),
                _ => None,
            })
            .collect()
    }

    /// The stream of `dir` cut into its reads: `(at, bytes)` per read.
    pub fn read_chunks(&self, dir: Direction) -> Result<Vec<(u64, Vec<u8>)>, RebuildError> {
        let stream = self.stream(dir)?;
        let reads = self.reads(dir);
        let total = reads.iter().try_fold(0u64, |sum, r| sum.checked_add(r.1)).unwrap_or(u64::MAX);
        if total != stream.len() as u64 {
            return Err(RebuildError::Mismatch { dir: dir.short(), reads: total, content: stream.len() as u64 });
        }
        let mut rest = &stream[..];
        Ok(reads
            .into_iter()
            .map(|(at, len)| {
                // The total matched, so every read fits what is left.
                let (chunk, tail) = rest.split_at(len as usize);
                rest = tail;
                (at, chunk.to_vec())
            })
            .collect())
    }
}
