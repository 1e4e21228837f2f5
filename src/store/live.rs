//! A recording being written while its connection runs.
//!
//! [`LiveRecording`] is the one place that ties the [`SessionBuilder`] to
//! the files: the YAML writer, the sidecars, and the running [`Summary`].
//! The recording proxy, replay (saving what it observed) and capture import
//! all write recordings through it, so the ordering rule below holds
//! everywhere: sidecar bytes reach the disk before any YAML event that
//! points at them.

use super::{FileStore, RecordingWriter};
use crate::session::{Data, Event, EventKind, Recording, SessionBuilder, Summary};
use std::io;
use std::path::{Path, PathBuf};

/// What a finished recording produced.
#[derive(Debug)]
pub struct Recorded {
    /// The YAML file.
    pub path: PathBuf,
    /// Events written.
    pub events: u64,
    /// The closing summary.
    pub summary: Summary,
}

/// Builder, writer and summary of one recording in progress.
pub struct LiveRecording {
    builder: SessionBuilder<FileStore>,
    writer: RecordingWriter,
    summary: Summary,
    observer: Option<Box<dyn Observer>>,
    /// The vector events are written out from, kept for its capacity.
    batch: Vec<Event>,
}

/// Sees every event of a live recording as it is written out, then its
/// summary (the live view, [`crate::live`]). Called on the recorder
/// thread: it must not block.
pub trait Observer: Send {
    /// One event, in recording order.
    fn event(&mut self, event: &Event);
    /// The recording was finalised with `summary`.
    fn closed(&mut self, summary: &Summary);
}

impl LiveRecording {
    /// Creates the file at `path`, writes `header`, and decodes from the upgrade on.
    pub fn create(path: &Path, header: &Recording) -> io::Result<LiveRecording> {
        Self::create_with(path, header, SessionBuilder::new)
    }

    /// Like [`create`](Self::create), with a builder made by `make` (for
    /// connections joined mid-stream, say).
    pub fn create_with(
        path: &Path,
        header: &Recording,
        make: impl FnOnce(FileStore) -> SessionBuilder<FileStore>,
    ) -> io::Result<LiveRecording> {
        let writer = RecordingWriter::create(path, header)?;
        let builder = make(FileStore::new(path));
        Ok(LiveRecording { builder, writer, summary: Summary::default(), observer: None, batch: Vec::new() })
    }

    /// Shows every event written from now on, and the summary, to `observer`.
    pub fn observe(&mut self, observer: Box<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// The builder, to feed reads, endings and gaps into.
    pub fn builder(&mut self) -> &mut SessionBuilder<FileStore> {
        &mut self.builder
    }

    /// The YAML file.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Moves the events decoded so far into the writer's buffer (and the summary).
    pub fn write_out(&mut self) -> io::Result<()> {
        let mut events = std::mem::take(&mut self.batch);
        self.builder.drain_into(&mut events);
        events.iter().for_each(|e| self.summary.observe(e));
        if let Some(observer) = &mut self.observer {
            events.iter().for_each(|e| observer.event(e));
        }
        // The YAML buffer may reach the file before the next flush: the
        // bytes an event points at must be there first.
        let sidecars_first =
            if events.iter().any(points_into_sidecar) { self.builder.store_mut().flush() } else { Ok(()) };
        let written = sidecars_first.and_then(|()| self.writer.append(&events));
        events.clear();
        self.batch = events;
        written
    }

    /// Pushes the sidecars, then the YAML, to the files.
    pub fn flush(&mut self) -> io::Result<()> {
        self.builder.store_mut().flush()?;
        self.writer.flush()
    }

    /// Decodes what is left, writes it out and flushes; the summary is not
    /// written yet (see [`close`](Self::close)).
    pub fn finish_events(&mut self) -> io::Result<()> {
        self.builder.finish()?;
        self.write_out()?;
        self.flush()
    }

    /// [`finish_events`](Self::finish_events), then writes the summary and
    /// syncs the file. Blocking: async callers run it on the blocking pool.
    pub fn close(mut self) -> io::Result<Recorded> {
        self.finish_events()?;
        let (path, events) = (self.writer.path().to_path_buf(), self.writer.events_written());
        self.writer.finish(&self.summary)?;
        if let Some(observer) = &mut self.observer {
            observer.closed(&self.summary);
        }
        Ok(Recorded { path, events, summary: self.summary })
    }
}

fn points_into_sidecar(event: &Event) -> bool {
    match &event.kind {
        EventKind::Frame(f) => matches!(f.payload, Data::Sidecar(_)),
        EventKind::Raw { data, .. } => matches!(data, Data::Sidecar(_)),
        EventKind::Message(m) => matches!(m.shown_payload(), Data::Sidecar(_)),
        _ => false,
    }
}
