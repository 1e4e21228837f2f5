//! Writing a recording as it happens.

use super::Growing;
use crate::session::{Direction, Event, PayloadStore, Recording, Summary};
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file name for connection number `seq` started at `micros`:
/// `20261124T100000.000123Z-000042.yaml`. Sorts by time; never built from
/// anything a peer sent.
pub fn recording_file_name(micros: u64, seq: u64) -> String {
    format!("{}-{seq:06}.yaml", crate::session::time::file_stamp(micros))
}

/// Pieces at least this long bypass a sidecar's buffer: copying a read's
/// worth of payload into it before the `write` was ~7 % of the recorder's
/// instructions at 1 MiB messages, and buys nothing at that size.
const DIRECT_WRITE: usize = 64 * 1024;

/// Sidecar files for payloads too large to inline, created on first use:
/// `<name>.c2s.bin` / `<name>.s2c.bin` for wire payloads, and
/// `<name>.c2s.inflated.bin` / `<name>.s2c.inflated.bin` for inflated
/// permessage-deflate messages.
#[derive(Debug)]
pub struct FileStore {
    stem: PathBuf,
    /// Wire sidecars at [`Direction::index`], inflated ones at 2 + index;
    /// each reserves its blocks ahead ([`Growing`]).
    files: [Option<(BufWriter<Growing>, u64)>; 4],
}

impl FileStore {
    /// Sidecars named after the recording at `yaml_path`.
    pub fn new(yaml_path: &Path) -> FileStore {
        FileStore { stem: yaml_path.with_extension(""), files: [None, None, None, None] }
    }

    /// Flushes both sidecars.
    pub fn flush(&mut self) -> io::Result<()> {
        for slot in 0..self.files.len() {
            if let Some((f, _)) = self.files[slot].as_mut()
                && let Err(e) = f.flush()
            {
                return Err(io::Error::new(e.kind(), format!("sidecar {}: {e}", self.path(slot).display())));
            }
        }
        Ok(())
    }

    fn path(&self, slot: usize) -> PathBuf {
        let dir = Direction::BOTH[slot % 2];
        let kind = if slot < 2 { "" } else { ".inflated" };
        let mut name = self.stem.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{}{kind}.bin", dir.short()));
        self.stem.with_file_name(name)
    }

    fn append_to(&mut self, slot: usize, bytes: &[u8]) -> io::Result<u64> {
        let path = self.path(slot);
        // A sidecar that cannot be written is named in the error.
        let named = |e: io::Error| io::Error::new(e.kind(), format!("sidecar {}: {e}", path.display()));
        let file = &mut self.files[slot];
        if file.is_none() {
            let created = Growing::new(File::create(&path).map_err(named)?);
            *file = Some((BufWriter::with_capacity(256 * 1024, created), 0));
        }
        let (file, len) = file.as_mut().expect("just created");
        if bytes.len() >= DIRECT_WRITE {
            // What is buffered goes first, so the order stays the append order.
            file.flush().map_err(named)?;
            file.get_mut().write_all(bytes).map_err(named)?;
        } else {
            file.write_all(bytes).map_err(named)?;
        }
        let at = *len;
        *len += bytes.len() as u64;
        Ok(at)
    }

    fn name(&self, slot: usize) -> String {
        self.path(slot).file_name().unwrap_or_default().to_string_lossy().into_owned()
    }
}

impl PayloadStore for FileStore {
    fn append(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<u64> {
        self.append_to(dir.index(), bytes)
    }

    fn file_name(&self, dir: Direction) -> String {
        self.name(dir.index())
    }

    fn append_inflated(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<Option<u64>> {
        self.append_to(2 + dir.index(), bytes).map(Some)
    }

    fn inflated_file_name(&self, dir: Direction) -> String {
        self.name(2 + dir.index())
    }
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    wstap_recording: u32,
    started: &'a str,
    client: &'a str,
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    summary: &'a Summary,
}

/// Appends a recording to a YAML file, event by event.
///
/// Events are spelled straight into one buffer, which grows as it needs to
/// and is written out once it holds [`WRITE_AT`] bytes and on every
/// [`flush`](RecordingWriter::flush). An idle connection's buffer stays
/// the size of what it wrote between two flushes (a fixed 64 KiB
/// `BufWriter` per open recording was most of wstap's memory per
/// connection), and no event is copied a second time.
#[derive(Debug)]
pub struct RecordingWriter {
    file: File,
    buf: Vec<u8>,
    path: PathBuf,
    events: u64,
}

/// Buffered YAML is written out once there is this much of it.
const WRITE_AT: usize = 64 * 1024;

impl Drop for RecordingWriter {
    /// A writer dropped without [`RecordingWriter::finish`] (a recording
    /// abandoned on an error) still writes what it was given, as the
    /// `BufWriter` before it did.
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

fn to_io(e: serde_yaml::Error) -> io::Error {
    io::Error::other(e)
}

impl RecordingWriter {
    /// Creates the file and writes the header from `header` (its events and
    /// summary are ignored).
    pub fn create(path: &Path, header: &Recording) -> io::Result<RecordingWriter> {
        let file = File::create(path)?;
        let head = HeaderOut {
            wstap_recording: header.wstap_recording,
            started: &header.started,
            client: &header.client,
            server: &header.server,
            upstream: header.upstream.as_deref(),
            source: header.source.as_deref(),
            notes: &header.notes,
        };
        let mut buf = b"# wstap recording; the format is described in docs/recording-format.md\n".to_vec();
        buf.extend_from_slice(serde_yaml::to_string(&head).map_err(to_io)?.as_bytes());
        buf.extend_from_slice(b"events:\n");
        Ok(RecordingWriter { file, buf, path: path.to_path_buf(), events: 0 })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events written so far.
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Appends events. They reach the file when [`flush`](Self::flush) is
    /// called (or earlier, [`WRITE_AT`] bytes at a time).
    ///
    /// Reads, frames and messages are spelled by the `emit` module, which
    /// is an order of magnitude cheaper than serde_yaml; the rest go through
    /// serde_yaml one by one.
    pub fn append(&mut self, events: &[Event]) -> io::Result<()> {
        for event in events {
            if !super::emit::write_event(&mut self.buf, event) {
                let item = serde_yaml::to_string(std::slice::from_ref(event)).map_err(to_io)?;
                self.buf.extend_from_slice(item.as_bytes());
            }
            if self.buf.len() >= WRITE_AT {
                self.write_out()?;
            }
        }
        self.events += events.len() as u64;
        Ok(())
    }

    /// Pushes everything appended so far to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }

    /// Writes the summary and closes the file.
    pub fn finish(mut self, summary: &Summary) -> io::Result<()> {
        self.buf.extend_from_slice(serde_yaml::to_string(&SummaryOut { summary }).map_err(to_io)?.as_bytes());
        self.write_out()?;
        self.file.sync_data()
    }

    /// Writes the buffer to the file. What was written leaves the buffer
    /// even when a later write fails, so nothing is written twice.
    fn write_out(&mut self) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == self.buf.len() {
                break Ok(());
            }
            match self.file.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..done);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::EventKind;

    fn reads(n: u64) -> Vec<Event> {
        (0..n).map(|i| Event { at: i, dir: Direction::ClientToServer, kind: EventKind::Read { len: i } }).collect()
    }

    fn writer(dir: &Path) -> (RecordingWriter, PathBuf) {
        let path = dir.join("r.yaml");
        let header = Recording { wstap_recording: crate::session::FORMAT_VERSION, ..Recording::default() };
        (RecordingWriter::create(&path, &header).unwrap(), path)
    }

    #[test]
    fn appended_events_wait_for_a_flush_until_there_are_write_at_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, path) = writer(dir.path());
        w.append(&reads(10)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "ten events are held until a flush");
        w.flush().unwrap();
        let flushed = std::fs::read_to_string(&path).unwrap();
        assert!(flushed.starts_with("# wstap recording") && flushed.ends_with("  len: 9\n"), "{flushed}");
        // Enough for more than WRITE_AT: written without a flush, whole events only.
        w.append(&reads(5_000)).unwrap();
        let early = std::fs::read(&path).unwrap();
        assert!(early.len() >= WRITE_AT, "{} bytes on disk before the flush", early.len());
        assert!(early.ends_with(b"\n"));
        w.flush().unwrap();
        let all = std::fs::read_to_string(&path).unwrap();
        assert_eq!(all.matches("type: read").count(), 5_010);
        assert!(all.ends_with("  len: 4999\n"));
    }

    #[test]
    fn a_writer_dropped_without_finish_still_writes_what_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, path) = writer(dir.path());
        w.append(&reads(3)).unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("type: read").count(), 3, "{text}");
        assert!(!text.contains("summary:"));
    }

    #[test]
    fn a_finished_recording_loads_with_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, path) = writer(dir.path());
        let events = reads(2_000);
        w.append(&events).unwrap();
        w.finish(&Summary::default()).unwrap();
        let loaded = crate::store::load(&path).unwrap();
        assert_eq!(loaded.events, events);
    }
}
