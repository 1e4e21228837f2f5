//! `wstap diff`: did the client (or server) behave differently on the wire,
//! and is a difference only noise?
//!
//! Two inputs are compared after **normalising** everything that legitimately
//! varies between two runs of the same behaviour:
//! - masking keys (shown as `mask=*`), `Sec-WebSocket-Key`/`-Accept`, `Date`
//!   and any `--ignore-header`, the port in `Host`;
//! - addresses, ports and timestamps (events are compared by order; time only
//!   matters through [`DiffOptions::timing`]);
//! - TCP read boundaries and raw-byte chunking (`read` events are dropped and
//!   adjacent raw runs merged, unless [`DiffOptions::segments`]);
//! - compressed bytes: a permessage-deflate message is compared by its
//!   inflated payload, its frames without their wire bytes.
//!
//! The result ([`DiffOutcome`]) has, in order: behaviour changes in plain
//! words ([`Change`]), verdict changes for report directories, and a unified
//! diff of the normalised wire logs. It is pure data; exit codes and colour
//! choice belong to the CLI.
//!
//! Contracts:
//! - [`DiffOutcome::is_different`] is true exactly when a change was named;
//!   any wire-log difference not explained by a specific change still yields
//!   a generic [`ChangeKind::WireLog`] change, so nothing is silently dropped.
//! - Cost is about linear in the input: sequences are aligned with `similar`'s
//!   Myers under [`DIFF_TIMEOUT`], and listings are capped at [`MAX_LISTED`]
//!   per category.
//!
//! Layout: [`normalize`] (recording → normalised view), `behaviour` (named
//! changes), `timing` (interval checks), `render` (unified diff), [`report`]
//! (Autobahn report directories).

mod behaviour;
pub mod normalize;
mod render;
pub mod report;
mod timing;

#[cfg(test)]
mod tests;

pub use report::{ReportError, VerdictChange, diff_reports, is_report_dir};

use crate::session::{Recording, Side};
use serde::Serialize;
use std::time::Duration;

/// Deadline for each sequence alignment; past it `similar` falls back to a
/// coarser (still correct) diff, so a huge input cannot hang the CLI.
pub const DIFF_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many changes are listed per category; the rest are counted.
pub const MAX_LISTED: usize = 20;

/// What to compare beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Flag interval changes (close reply, echo, pong) beyond this tolerance.
    pub timing: Option<Duration>,
    /// Compare TCP read sizes and chop sizes too.
    pub segments: bool,
    /// Further HTTP header names to ignore (case-insensitive).
    pub ignore_headers: Vec<String>,
}

/// What area of behaviour a [`Change`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A fault rule (`--fault`) applied in one input only: the likely cause
    /// of the changes listed after it.
    Fault,
    /// The opening handshake: status, headers, negotiated extensions.
    Handshake,
    /// Close codes, reasons, who closed, whether a close was answered.
    Closing,
    /// How TCP ended.
    Tcp,
    /// A message's payload or type.
    Payload,
    /// A message present in only one input.
    Message,
    /// The number of frames a message was split into.
    Fragmentation,
    /// Pings and pongs.
    Control,
    /// Protocol violations.
    Violation,
    /// An interval beyond the timing tolerance.
    Timing,
    /// TCP read or chop sizes.
    Segments,
    /// An Autobahn case verdict or closing flag.
    Verdict,
    /// A wire-log difference with no more specific name.
    WireLog,
}

/// One behaviour change, in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The area.
    pub kind: ChangeKind,
    /// The side whose behaviour changed, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// The Autobahn case id, for report-directory diffs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// The change, e.g. `client close code 1000 → 1001`.
    pub text: String,
}

impl Change {
    /// A change with no side or case.
    pub fn new(kind: ChangeKind, text: impl Into<String>) -> Change {
        Change { kind, side: None, case: None, text: text.into() }
    }

    /// A change in `side`'s behaviour.
    pub fn by(side: Side, kind: ChangeKind, text: impl Into<String>) -> Change {
        Change { side: Some(side), ..Change::new(kind, text) }
    }

    /// The same change, attributed to an Autobahn case.
    pub fn in_case(self, case: &str) -> Change {
        Change { case: Some(case.to_string()), ..self }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.case {
            Some(case) => write!(f, "case {case}: {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// The result of a diff: named changes, verdict changes, and the wire-log diff.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffOutcome {
    /// Behaviour changes in plain words, most important first.
    pub changes: Vec<Change>,
    /// Autobahn verdict changes (report directories only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<VerdictChange>,
    /// Unified diff of the normalised wire logs, without colour.
    pub unified: String,
    /// The same diff with ANSI colour, when asked for. Not serialised.
    #[serde(skip)]
    pub colored: Option<String>,
    /// True if an alignment hit [`DIFF_TIMEOUT`] (the diff may not be minimal).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

impl DiffOutcome {
    /// True if the inputs behave differently.
    pub fn is_different(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The human report: summary, verdict table, then the unified diff
    /// (coloured if it was rendered with colour).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if !self.is_different() {
            out.push_str("no behaviour changes\n");
        }
        for change in &self.changes {
            out.push_str(&format!("- {}\n", crate::escape::line(&change.to_string())));
        }
        if !self.verdicts.is_empty() {
            out.push('\n');
            out.push_str(&crate::escape::block(&report::verdict_table(&self.verdicts)));
        }
        let diff = self.colored.as_deref().unwrap_or(&self.unified);
        if !diff.is_empty() {
            out.push('\n');
            out.push_str(diff);
        }
        out
    }

    /// JSON for machines (`--format json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Compares two recordings; `color` adds an ANSI-coloured copy of the diff.
/// The unified diff's headers are `--- a` and `+++ b`.
pub fn diff_recordings(a: &Recording, b: &Recording, opts: &DiffOptions, color: bool) -> DiffOutcome {
    diff_recordings_named(a, b, ("a", "b"), opts, color)
}

/// [`diff_recordings`] with `names` (the two files, as the user gave
/// them) in the `---`/`+++` headers.
pub fn diff_recordings_named(
    a: &Recording,
    b: &Recording,
    names: (&str, &str),
    opts: &DiffOptions,
    color: bool,
) -> DiffOutcome {
    let va = normalize::View::new(a, opts);
    let vb = normalize::View::new(b, opts);
    let mut changes = behaviour::changes(&va, &vb, opts.segments);
    if let Some(tolerance) = opts.timing {
        changes.extend(timing::changes(&va, &vb, tolerance));
    }
    let diff = render::unified(&va.lines, &vb.lines, names, color);
    if changes.is_empty() && va.lines != vb.lines {
        changes.push(render::generic_change(&diff));
    }
    DiffOutcome { changes, verdicts: Vec::new(), unified: diff.plain, colored: diff.colored, timed_out: diff.timed_out }
}

/// `n` things, singular or plural: `1 frame`, `3 frames`.
fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// `client` or `server`.
fn side_name(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// The other side.
fn peer(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// Pushes `items` as changes, keeping at most [`MAX_LISTED`] and counting the rest.
fn push_capped(out: &mut Vec<Change>, items: Vec<Change>, what: &str) {
    let extra = items.len().saturating_sub(MAX_LISTED);
    let kind = items.first().map(|c| c.kind);
    out.extend(items.into_iter().take(MAX_LISTED));
    if let (Some(kind), true) = (kind, extra > 0) {
        out.push(Change::new(kind, format!("… and {extra} more {what}")));
    }
}
