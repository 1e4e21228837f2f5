//! Loading recordings, with errors that say where and what.
//!
//! Policy:
//! - a file of another format version, or not a recording at all, is an
//!   error naming the line;
//! - malformed YAML or a wrong field is an error with line, column and what
//!   was expected (from serde);
//! - a file that ends inside the event list without a summary (a recorder
//!   killed mid-write) loads with every complete event and a warning; its
//!   summary is recomputed from the events.

use crate::session::{FORMAT_VERSION, Recording};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a recording could not be loaded.
#[derive(Debug)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads the recording at `path`.
pub fn load(path: &Path) -> Result<Recording, LoadError> {
    let err = |line, message: String| LoadError { path: path.to_path_buf(), line, message };
    let bytes = std::fs::read(path).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        err(None, format!("not UTF-8 text at byte offset {}; a recording is YAML", e.utf8_error().valid_up_to()))
    })?;
    let mut rec = parse(&text).map_err(|(line, message)| err(line, message))?;
    rec.dir = path.parent().map(Path::to_path_buf);
    Ok(rec)
}

/// Parses recording text; errors carry a 1-based line.
pub fn parse(text: &str) -> Result<Recording, (Option<usize>, String)> {
    check_version(text)?;
    match serde_yaml::from_str::<Recording>(text) {
        Ok(mut rec) => {
            if rec.summary.is_none() {
                rec.warnings.push("no summary: the recorder did not finalise this file; summary recomputed".into());
            }
            Ok(rec)
        }
        Err(e) => recover_cut_short(text).ok_or_else(|| located(&e)),
    }
}

fn located(e: &serde_yaml::Error) -> (Option<usize>, String) {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    (e.location().map(|l| l.line()), message)
}

/// The format versions this build reads: version 1 spells digests
/// `sha256`, version 2 `blake3` (docs/recording-format.md).
const READS: [u32; 2] = [1, FORMAT_VERSION];

fn check_version(text: &str) -> Result<(), (Option<usize>, String)> {
    let found = text.lines().enumerate().find(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let Some((index, line)) = found else {
        return Err((Some(1), format!("empty file: expected `wstap_recording: {FORMAT_VERSION}` at the top")));
    };
    let Some(value) = line.strip_prefix("wstap_recording:") else {
        let msg = format!("not a wstap recording: expected `wstap_recording: {FORMAT_VERSION}` first, found {line:?}");
        return Err((Some(index + 1), msg));
    };
    match value.trim().parse::<u32>() {
        Ok(v) if READS.contains(&v) => Ok(()),
        Ok(v) if v > FORMAT_VERSION => Err((
            Some(index + 1),
            format!(
                "recording format version {v} is not supported; this wstap reads versions 1 to {FORMAT_VERSION} \
                 (a newer wstap wrote it: upgrade wstap)"
            ),
        )),
        Ok(v) => Err((
            Some(index + 1),
            format!("recording format version {v} is not supported; this wstap reads versions 1 to {FORMAT_VERSION}"),
        )),
        Err(_) => {
            Err((Some(index + 1), format!("expected a version number after `wstap_recording:`, found {value:?}")))
        }
    }
}

/// A file cut inside its event list: keep the complete events.
fn recover_cut_short(text: &str) -> Option<Recording> {
    if text.lines().any(|l| l.starts_with("summary:")) {
        return None;
    }
    let events_at = text.find("\nevents:\n")? + "\nevents:\n".len();
    let last_item = text[events_at..].rfind("\n- ").map(|i| events_at + i + 1).unwrap_or(events_at);
    let mut rec: Recording = serde_yaml::from_str(&text[..last_item]).ok()?;
    let line = text[..last_item].lines().count() + 1;
    rec.warnings.push(format!(
        "line {line}: the file ends inside an event (recorder killed?); kept the {} complete events before it",
        rec.events.len()
    ));
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "wstap_recording: 1\nstarted: 2026-11-24T00:00:00.000000Z\nclient: a\nserver: b\nevents:\n\
- at: 0\n  dir: c2s\n  type: read\n  len: 3\n- at: 1\n  dir: c2s\n  type: raw\n  offset: 0\n  reason: x\n  text: abc\n";

    #[test]
    fn unfinished_file_loads_with_warning() {
        let rec = parse(GOOD).unwrap();
        assert_eq!(rec.events.len(), 2);
        assert!(rec.warnings[0].contains("no summary"));
        let cut = &GOOD[..GOOD.len() - 12];
        let rec = parse(cut).unwrap();
        assert_eq!(rec.events.len(), 1);
        assert!(rec.warnings[0].starts_with("line 10:"), "{:?}", rec.warnings);
    }

    #[test]
    fn errors_name_line_and_expectation() {
        let wrong_version = GOOD.replace("wstap_recording: 1", "wstap_recording: 7");
        let (line, msg) = parse(&wrong_version).unwrap_err();
        assert_eq!(line, Some(1));
        assert!(msg.contains("version 7 is not supported"), "{msg}");
        assert!(msg.contains("reads versions 1 to 2") && msg.contains("upgrade wstap"), "{msg}");
        let (_, msg) = parse(&GOOD.replace("wstap_recording: 1", "wstap_recording: 0")).unwrap_err();
        assert!(msg.contains("version 0 is not supported") && !msg.contains("upgrade"), "{msg}");
        for v in [1, FORMAT_VERSION] {
            let rec = parse(&GOOD.replace("wstap_recording: 1", &format!("wstap_recording: {v}"))).unwrap();
            assert_eq!(rec.wstap_recording, v, "version {v} is read");
        }

        let (line, msg) = parse("hello: world\n").unwrap_err();
        assert_eq!(line, Some(1));
        assert!(msg.contains("not a wstap recording"), "{msg}");

        let bad_field = GOOD.replace("len: 3", "len: three") + "summary:\n  upgraded: false\n";
        let (line, msg) = parse(&bad_field).unwrap_err();
        // Events are flattened, so serde locates the event, not the field.
        assert_eq!(line, Some(6), "{msg}");
        assert!(msg.starts_with("events[0]:"), "{msg}");
        assert!(msg.contains("expected u64"), "{msg}");
    }
}
