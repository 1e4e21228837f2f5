//! The unified diff of two normalised wire logs, plain and with ANSI colour.
//!
//! The logs are diffed line by line with `similar`'s Myers under
//! [`DIFF_TIMEOUT`]: past the deadline the diff stays correct but may not be
//! minimal, which is better than a CLI that never returns. Colour is a
//! separate rendering of the same hunks, so JSON and plain output never
//! carry escape codes. Every line and name is passed through
//! [`crate::escape::line`] first: the only control characters in the
//! output are the colours added here.

use super::{Change, ChangeKind, DIFF_TIMEOUT};
use similar::{Algorithm, ChangeTag, TextDiff};
use std::time::Instant;

/// Lines of context around each hunk.
pub const CONTEXT: usize = 3;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const EMPHASIS: &str = "\x1b[7m";
const NO_EMPHASIS: &str = "\x1b[27m";
const RESET: &str = "\x1b[0m";

/// A rendered diff.
pub struct Rendered {
    /// The unified diff without colour (empty when the logs are equal).
    pub plain: String,
    /// The coloured rendering, if asked for.
    pub colored: Option<String>,
    /// True if the deadline was reached.
    pub timed_out: bool,
    /// Lines removed or added.
    pub changed: usize,
}

/// Diffs `a` against `b`, with `names` as the `---`/`+++` headers.
pub fn unified(a: &[String], b: &[String], names: (&str, &str), color: bool) -> Rendered {
    let (old, new) = (joined(a), joined(b));
    let (name_a, name_b) = (crate::escape::line(names.0), crate::escape::line(names.1));
    let names = (name_a.as_ref(), name_b.as_ref());
    let started = Instant::now();
    let diff = TextDiff::configure().algorithm(Algorithm::Myers).timeout(DIFF_TIMEOUT).diff_lines(&old, &new);
    let timed_out = started.elapsed() >= DIFF_TIMEOUT;
    let changed = diff.iter_all_changes().filter(|c| c.tag() != ChangeTag::Equal).count();
    if changed == 0 {
        return Rendered { plain: String::new(), colored: None, timed_out, changed };
    }
    let plain = diff.unified_diff().context_radius(CONTEXT).header(names.0, names.1).to_string();
    let colored = color.then(|| colorize(&diff, names));
    Rendered { plain, colored, timed_out, changed }
}

/// The change named when logs differ but nothing more specific was found.
pub fn generic_change(r: &Rendered) -> Change {
    Change::new(
        ChangeKind::WireLog,
        format!("the wire log differs in {} (see the diff)", super::count(r.changed, "line")),
    )
}

/// The lines as one text, each escaped for the terminal (a no-op for lines
/// the normaliser already escaped; a guard for any that were not).
fn joined(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        out.push_str(&crate::escape::line(line));
        out.push('\n');
    }
    out
}

fn colorize(diff: &TextDiff<'_, '_, str>, names: (&str, &str)) -> String {
    let mut out = format!("{RED}--- {}{RESET}\n{GREEN}+++ {}{RESET}\n", names.0, names.1);
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        out.push_str(&format!("{CYAN}{}{RESET}\n", hunk.header()));
        for op in hunk.ops() {
            for change in diff.iter_inline_changes(op) {
                let (sign, color) = match change.tag() {
                    ChangeTag::Delete => ('-', RED),
                    ChangeTag::Insert => ('+', GREEN),
                    ChangeTag::Equal => (' ', ""),
                };
                out.push_str(color);
                out.push(sign);
                for (emphasized, text) in change.iter_strings_lossy() {
                    let text = text.trim_end_matches('\n');
                    match emphasized {
                        true => out.push_str(&format!("{EMPHASIS}{text}{NO_EMPHASIS}")),
                        false => out.push_str(text),
                    }
                }
                out.push_str(if color.is_empty() { "\n" } else { "\x1b[0m\n" });
            }
        }
    }
    out
}
