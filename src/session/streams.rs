//! Rebuilding each direction's byte stream, and its TCP read boundaries,
//! from a recording alone.
//!
//! The content events (`http`, `frame`, `raw`) of a direction, in order,
//! are exactly the bytes that travelled: a frame is re-emitted from its
//! recorded header fields (length encoding and mask key included) and its
//! payload re-masked. The `read` events then cut that stream into the reads
//! the proxy saw. pcap export and byte-exact replay depend on this.

use super::{Data, Direction, EventKind, Recording};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Why a stream could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// An event's data is corrupt (bad hex, bad mask, ...).
    #[error("event {index}: {message}")]
    Corrupt {
        /// Index of the event in the recording.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A sidecar file could not be read.
    #[error("sidecar {file}: {source}")]
    Sidecar {
        /// The file name.
        file: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The read sizes do not add up to the content.
    #[error("{dir}: reads total {reads} bytes but the content is {content} bytes")]
    Mismatch {
        /// Direction.
        dir: &'static str,
        /// Sum of read sizes.
        reads: u64,
        /// Content length.
        content: u64,
    },
}

impl Recording {
    /// The exact bytes of `data`, reading sidecars relative to the recording.
    pub fn data_bytes(&self, data: &Data) -> Result<Vec<u8>, RebuildError> {
        let corrupt = |message: String| RebuildError::Corrupt { index: usize::MAX, message };
        if let Some(bytes) = data.inline_bytes().map_err(corrupt)? {
            return Ok(bytes);
        }
        let Data::Sidecar(r) = data else {
            return Err(corrupt("payload stored only as a digest".into()));
        };
        let path = self.dir.clone().unwrap_or_default().join(&r.file);
        let sidecar = |source| RebuildError::Sidecar { file: path.display().to_string(), source };
        let mut file = File::open(&path).map_err(sidecar)?;
        file.seek(SeekFrom::Start(r.offset)).map_err(sidecar)?;
        let mut buf = vec![0; r.len as usize];
        file.read_exact(&mut buf).map_err(sidecar)?;
        Ok(buf)
    }

    /// Every byte that travelled in `dir`, in order.
    pub fn stream(&self, dir: Direction) -> Result<Vec<u8>, RebuildError> {
        let mut out = Vec::new();
        for (index, event) in self.events.iter().enumerate().filter(|(_, e)| e.dir == dir) {
            let at = |e: RebuildError| match e {
                RebuildError::Corrupt { message, .. } => RebuildError::Corrupt { index, message },
                other => other,
            };
            match &event.kind {
                EventKind::Http { data, .. } | EventKind::Raw { data, .. } => {
                    out.extend(self.data_bytes(data).map_err(at)?)
                }
                EventKind::Frame(f) => {
                    let header = f.header().map_err(|message| RebuildError::Corrupt { index, message })?;
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
        let total: u64 = reads.iter().map(|r| r.1).sum();
        if total != stream.len() as u64 {
            return Err(RebuildError::Mismatch { dir: dir.short(), reads: total, content: stream.len() as u64 });
        }
        let mut rest = &stream[..];
        Ok(reads
            .into_iter()
            .map(|(at, len)| {
                let (chunk, tail) = rest.split_at(len as usize);
                rest = tail;
                (at, chunk.to_vec())
            })
            .collect())
    }
}
