//! `wstap convert`: recordings to captures and HAR, captures and HAR to recordings.
//!
//! Every conversion goes through the shared models: a recording is loaded
//! with [`crate::store::load()`], a capture read with [`crate::pcap::read()`],
//! and recordings are written with the same [`crate::store::RecordingWriter`]
//! and [`crate::session::SessionBuilder`] the proxy uses, so an imported
//! connection is indistinguishable in shape from a recorded one.
//!
//! - [`export`]: a recording as a [`crate::pcap::Conversation`];
//! - [`import`]: each WebSocket connection of a capture as a recording;
//! - [`har`]: a recording as a HAR log in Chrome DevTools' WebSocket shape;
//! - [`har_import`]: each WebSocket entry of a HAR as a recording (message
//!   level: what HAR does not hold is synthesised, and the notes say so).
//!
//! What is converted is chosen by file extension: `.yaml`/`.yml` in, then
//! `.pcap`, `.pcapng` or `.har` out; or `.pcap`/`.pcapng`/`.cap`/`.har` in
//! and a directory out. Bad input is an error naming the file and what was
//! expected; nothing here panics on input.

pub mod export;
pub mod har;
pub mod har_import;
pub mod import;
mod json_at;

use std::path::{Path, PathBuf};

use crate::pcap::{self, Format};

/// A conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input/output pair is not one `convert` knows.
    #[error(
        "cannot convert {input} to {output}: expected REC.yaml to OUT.pcap, OUT.pcapng or OUT.har, \
         or CAPTURE.pcap/.pcapng or SESSION.har to an output directory"
    )]
    Unsupported {
        /// The input path.
        input: PathBuf,
        /// The output path.
        output: PathBuf,
    },
    /// The recording could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::store::LoadError),
    /// A file's content cannot be used.
    #[error("{path}: {message}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The capture could not be read.
    #[error("{path}: {source}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// Why.
        source: pcap::ReadError,
    },
    /// Writing the output failed.
    #[error("{path}: {message}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl ConvertError {
    fn content(path: &Path, message: impl Into<String>) -> ConvertError {
        ConvertError::Content { path: path.to_path_buf(), message: message.into() }
    }

    fn write(path: &Path, err: impl std::fmt::Display) -> ConvertError {
        ConvertError::Write { path: path.to_path_buf(), message: err.to_string() }
    }
}

/// What a conversion produced, for the user.
#[derive(Debug, Default)]
pub struct Converted {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Things the user should know (skipped connections, notes, warnings).
    pub messages: Vec<String>,
}

/// Converts `input` to `output`, the kinds chosen by extension.
pub fn convert(input: &Path, output: &Path) -> Result<Converted, ConvertError> {
    let unsupported = || ConvertError::Unsupported { input: input.into(), output: output.into() };
    match (ext(input).as_str(), ext(output).as_str()) {
        ("yaml" | "yml", "pcap" | "pcapng") => recording_to_capture(input, output),
        ("yaml" | "yml", "har") => har::convert(input, output),
        ("pcap" | "pcapng" | "cap", "") => import::convert(input, output),
        ("har", "") => har_import::convert(input, output),
        _ => Err(unsupported()),
    }
}

fn ext(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// Loads a recording, passing its load warnings on.
fn load(input: &Path, messages: &mut Vec<String>) -> Result<crate::session::Recording, ConvertError> {
    let rec = crate::store::load(input)?;
    messages.extend(rec.warnings.iter().map(|w| format!("warning: {}: {w}", input.display())));
    Ok(rec)
}

fn recording_to_capture(input: &Path, output: &Path) -> Result<Converted, ConvertError> {
    let mut done = Converted::default();
    let rec = load(input, &mut done.messages)?;
    let conv = export::conversation(&rec).map_err(|m| ConvertError::content(input, m))?;
    pcap::write(output, &[conv]).map_err(|e| ConvertError::write(output, e))?;
    debug_assert!(matches!(Format::from_path(output), Format::Pcap | Format::PcapNg));
    done.written.push(output.to_path_buf());
    Ok(done)
}
