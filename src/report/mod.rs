//! Autobahn|Testsuite-compatible reports: the per-case model and its
//! renderers (text, JSON, HTML) plus the report directory (`index.json`,
//! `index.html`). Pure except for [`write_report_dir`].
//!
//! Why reproduce Autobahn's formats: projects already parse `index.json`
//! and per-case JSON in CI, and people know the per-case page by heart. A
//! report from wstap can be dropped where Autobahn's went.
//!
//! Layout:
//! - [`autobahn`]: [`CaseReport`] (every per-case JSON field), verdicts,
//!   events, the file-name mangling;
//! - [`wirelog`]: [`WireLogEntry`] with Autobahn's JSON tuples, truncation
//!   rules, [`Histogram`] and the [`WireTrace`] builder;
//! - `page` (private): the page content both renderers lay out;
//! - `readable`: the aligned, coloured text `wstap show` prints by default;
//! - `text`, `html`, `index`, `json`, `pyfmt` (private): renderers and the
//!   Python formatting conventions they share.
//!
//! Fidelity, quirk by quirk (details in each module):
//! - reproduced: the 60/64-byte truncation, the double-hex RX `MASK=`,
//!   `TF`'s pattern length with the repeat length beside it, Python-style
//!   `True`/`False`/`None` and `u'…'` reprs, `textwrap` wrapping at 100
//!   columns with a 15-space indent, numerically sorted statistics keys;
//! - dropped on purpose: un-escaped HTML (we escape everything), Python 2's
//!   surrogate-tolerant UTF-8 (we decode strictly), `textwrap`'s breaks
//!   after hyphens, the index header's timestamp and script;
//! - reproduced from the 7.3.1 sample text: the text rendering equals the
//!   sample byte for byte (see the tests).

pub mod autobahn;
pub mod compat;
mod html;
mod index;
mod json;
mod merge;
mod page;
mod pyfmt;
mod readable;
pub mod recording;
mod text;
pub mod traffic;
pub mod wirelog;

#[cfg(test)]
mod streaming_tests;
#[cfg(test)]
mod tests;

pub use autobahn::{AgentStems, Behavior, CaseEvent, CaseReport, CloseBehavior, ExpectedClose, agent_file_name};
pub use html::{escape as escape_html, render_html};
pub use index::{render_index_html, render_index_json};
pub use readable::{ReadableOptions, render_readable};
pub use recording::from_recording;
pub use text::{TextOptions, render_text, render_text_with};
pub use traffic::TrafficStats;
pub use wirelog::{Histogram, TxFrameEntry, TxFrameSpec, WireLogEntry, WireTrace, octets_text, payload_text};

use std::io;
use std::path::Path;

/// The per-case JSON file in Autobahn's layout: keys sorted, 3-space
/// indent, `": "` separators, non-ASCII escaped as `\uXXXX`.
pub fn render_json(report: &CaseReport) -> String {
    // Serialising plain structs with integer map keys cannot fail.
    let value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    json::to_autobahn_json(&value)
}

/// Write every per-case `.json` and `.html`, `index.json` and `index.html`
/// into `dir` (created if missing). A later report for the same (agent,
/// case id) overwrites an earlier one, on disk as in the index. What an
/// earlier run left in `dir` and this one does not replace stays in the
/// index beside it (`merge`): a second agent is added, not substituted.
pub fn write_report_dir(dir: &Path, reports: &[CaseReport]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (earlier, warning) = merge::earlier_reports(dir, reports);
    if let Some(warning) = warning {
        eprintln!("wstap: warning: {warning}");
    }
    let all: Vec<CaseReport> = earlier.into_iter().chain(reports.iter().map(merge::summary)).collect();
    let stems = AgentStems::of(&all);
    for report in reports {
        let stem = stems.file_stem(report);
        std::fs::write(dir.join(format!("{stem}.json")), render_json(report))?;
        std::fs::write(dir.join(format!("{stem}.html")), render_html(report))?;
    }
    std::fs::write(dir.join("index.json"), render_index_json(&all))?;
    std::fs::write(dir.join("index.html"), render_index_html(&all))?;
    Ok(())
}
