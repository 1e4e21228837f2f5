//! Scenario files: one test case per YAML file, as data.
//!
//! A scenario says what the server answers to the upgrade, what it sends
//! and when ([`Action`]s), and what it expects back ([`Expect`]). The format
//! is documented field by field in `docs/scenario-format.md`; the shipped
//! `scenarios/` directory holds Autobahn|Testsuite's 37 category-7 cases.
//!
//! Contracts:
//! - Parsing is strict: unknown fields are errors, and every error names the
//!   file, the line and column (when YAML knows them), and what was expected
//!   ([`ScenarioError`]). A scenario that loads has passed [`Action::check`].
//! - Nothing here does IO except [`load`] and [`load_dir`], which only read.
//!   [`plan::compile`] turns actions into exact bytes; [`crate::judge`]
//!   turns expectations plus an observation into a verdict.
//! - [`select`] reproduces Autobahn's case patterns and numbering.

pub mod action;
pub mod expect;
pub mod grid;
pub mod payload;
pub mod plan;
pub mod select;
pub mod series;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use action::{
    Action, CloseSpec, CloseVia, ContinueSpec, FrameSpec, MessageSpec, RawSpec, RecordedMessage, WaitFor,
};
pub use expect::{EchoCheck, Event, Expect, ExpectedClose, ExpectedEvents, Informational, Outcome, WirelogSwitch};
pub use payload::Payload;
pub use plan::{Compress, LocalClose, Send, Step, TxFrameLog, Write};

/// One test case.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The dotted case ID, e.g. `7.3.1`.
    pub id: String,
    /// Report text: what the case does.
    pub description: String,
    /// Report text: what a correct client does.
    pub expectation: String,
    /// The server's answer to the upgrade; default accepts nothing extra.
    #[serde(default)]
    pub handshake: Handshake,
    /// What the server does after the upgrade, in order.
    pub actions: Vec<Action>,
    /// What the server expects.
    pub expect: Expect,
    /// Per-case report switches.
    #[serde(default)]
    pub report: ReportHints,
}

impl Scenario {
    /// Parses a scenario; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = from_yaml(text).map_err(|e| ScenarioError::yaml(origin, &e))?;
        scenario.check().map_err(|(at, message)| ScenarioError {
            file: origin.to_path_buf(),
            position: None,
            message: format!("{at}: {message}"),
        })?;
        Ok(scenario)
    }

    /// The actions compiled to bytes and timers (recorded compressed
    /// messages as recorded).
    pub fn plan(&self) -> Vec<Step> {
        plan::compile(&self.actions, true)
    }

    /// [`Scenario::plan`], with recorded compressed messages recompressed
    /// unless `as_recorded`.
    pub fn plan_with(&self, as_recorded: bool) -> Vec<Step> {
        plan::compile(&self.actions, as_recorded)
    }

    fn check(&self) -> Result<(), (String, String)> {
        check_id(&self.id).map_err(|m| ("id".to_string(), m))?;
        for (i, rule) in self.handshake.deflate_accept.iter().flatten().enumerate() {
            if rule.client_max_window_bits.is_some_and(|b| !(8..=15).contains(&b)) {
                return Err((format!("handshake.deflate_accept[{i}]"), "expected client_max_window_bits 8-15".into()));
            }
        }
        for (i, action) in self.actions.iter().enumerate() {
            action.check().map_err(|m| (format!("actions[{i}]"), m))?;
        }
        Ok(())
    }
}

/// Longest case ID accepted.
pub const MAX_ID_LEN: usize = 32;

/// A case ID is what Autobahn's IDs are: numbers joined by dots (`7.3.1`,
/// `12.2.10`). IDs become parts of report and recording file names, so
/// nothing else (no `/`, no `..`, no letters a file system might treat
/// specially) gets past loading.
pub fn check_id(id: &str) -> Result<(), String> {
    let numbers = id.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if numbers && id.len() <= MAX_ID_LEN {
        Ok(())
    } else {
        Err(format!("{id:?} is not a case ID: numbers joined by dots, like 7.3.1 (at most {MAX_ID_LEN} characters)"))
    }
}

/// Deserializes YAML the way scenario files are written: an enum value is a
/// map with one key naming the variant (`{text: Hi}`), at any depth.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(text))
}

/// What the server answers to the opening handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handshake {
    /// Accepted extensions, each a full `Sec-WebSocket-Extensions` element
    /// (e.g. `permessage-deflate; server_no_context_takeover`).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// The selected subprotocol, if any.
    #[serde(default)]
    pub subprotocol: Option<String>,
    /// Extra response headers, in order.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Autobahn's per-case permessage-deflate accept function, as rules
    /// tried in order (12.x/13.x); `None` leaves it to `extensions`.
    #[serde(default)]
    pub deflate_accept: Option<Vec<AcceptRule>>,
}

pub use crate::wire::deflate::negotiate::AcceptRule;

/// One HTTP header.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// Autobahn's per-case report switches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportHints {
    /// Show the duration in the index (`reportTime`).
    #[serde(default)]
    pub time: bool,
    /// Show `localCloseReason` as hex (7.5.1).
    #[serde(default)]
    pub local_close_reason_hex: bool,
    /// Show the compression ratios in the index
    /// (`reportCompressionRatio`, 12.x/13.x).
    #[serde(default)]
    pub compression_ratio: bool,
}

/// A scenario that could not be loaded.
#[derive(Debug)]
pub struct ScenarioError {
    /// The file (or origin name) being parsed.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl ScenarioError {
    fn yaml(file: &Path, error: &serde_yaml::Error) -> ScenarioError {
        let position = error.location().map(|l| (l.line(), l.column()));
        let mut message = error.to_string();
        // The library appends its own position; ours leads the line instead.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        ScenarioError { file: file.to_path_buf(), position, message }
    }

    fn io(file: &Path, error: &std::io::Error) -> ScenarioError {
        ScenarioError { file: file.to_path_buf(), position: None, message: error.to_string() }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and parses one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, &e))?;
    Scenario::parse(&text, path)
}

/// Loads every `*.yaml` file in `dir` (a grid file gives one case per
/// row), sorted by case ID numerically.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ScenarioError::io(dir, &e))?;
    let mut scenarios = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ScenarioError::io(dir, &e))?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::io(&path, &e))?;
            scenarios.extend(grid::parse_file(&text, &path)?);
        }
    }
    scenarios.sort_by_key(|s| select::case_key(&s.id));
    Ok(scenarios)
}

#[cfg(test)]
mod tests;
