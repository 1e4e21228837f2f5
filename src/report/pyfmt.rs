//! Python 2 formatting conventions that Autobahn's reports expose.
//!
//! The testsuite is a Python 2.7 program and its reports print values the way
//! Python does: `True`/`False`/`None`, `u'…'` reprs, `%f` delays and
//! `textwrap.wrap` line breaking. Reproducing them here, in one place, keeps
//! the text and HTML renderers byte-compatible with real reports.
//!
//! Contracts:
//! - [`unicode_repr`] matches CPython 2.7 (UCS-4 build) `repr(u"…")`:
//!   quote choice, `\\`, `\n`, `\r`, `\t`, `\xNN`, `\uNNNN`, `\UNNNNNNNN`.
//! - [`wrap`] matches `textwrap.wrap(text, width)` with the default options
//!   **except `break_on_hyphens`**: Python may also break after a hyphen
//!   inside a word; we only break at whitespace or inside over-long words.
//!   This only matters for payload text containing hyphenated words longer
//!   than the remaining line (a deliberate simplification).

use std::fmt::Write as _;

/// Python's spelling of a boolean: `True` or `False`.
pub fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// Python's `str()` of an optional value: the value, or `None`.
pub fn py_opt<T: std::fmt::Display>(value: Option<&T>) -> String {
    value.map_or_else(|| "None".to_owned(), ToString::to_string)
}

/// Lowercase hex of `bytes`, like Python's `binascii.b2a_hex`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Python's `%f` of a delay: six decimals.
pub fn py_percent_f(value: f64) -> String {
    format!("{value:.6}")
}

/// CPython 2.7 `repr()` of a byte string (`'…'`, no `u` prefix).
pub fn str_repr(text: &str) -> String {
    quoted_repr(text)
}

/// CPython 2.7 `repr()` of a unicode string, e.g. `u'it\'s'`.
pub fn unicode_repr(text: &str) -> String {
    format!("u{}", quoted_repr(text))
}

/// The quoted body shared by both reprs: Python prefers single quotes and
/// switches to double quotes only when the text has `'` but no `"`.
fn quoted_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in super::wirelog::shown(text).chars() {
        push_repr_char(&mut out, c, quote);
    }
    out.push(quote);
    out
}

fn push_repr_char(out: &mut String, c: char, quote: char) {
    let code = u32::from(c);
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ if c == quote => {
            out.push('\\');
            out.push(c);
        }
        ' '..='~' => out.push(c),
        _ if code < 0x100 => {
            let _ = write!(out, "\\x{code:02x}");
        }
        _ if code < 0x10000 => {
            let _ = write!(out, "\\u{code:04x}");
        }
        _ => {
            let _ = write!(out, "\\U{code:08x}");
        }
    }
}

/// Cut `text` to at most `limit` characters the way Autobahn cuts reprs:
/// longer text keeps `limit - 4` characters followed by ` ...`.
pub fn cut_repr(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let kept: String = text.chars().take(limit.saturating_sub(4)).collect();
    format!("{kept} ...")
}

/// `textwrap.wrap(text, width)`: greedy fill at whitespace, every
/// whitespace character turned into a space, whitespace dropped at line
/// edges (except leading whitespace of the first line, as Python does) and
/// words longer than a line broken. Lengths count characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut chunks = split_chunks(&expand_tabs(text));
    chunks.reverse();
    let mut lines = Vec::new();
    while !chunks.is_empty() {
        if !lines.is_empty() && is_space_chunk(chunks.last()) {
            chunks.pop();
        }
        let mut line = fill_line(&mut chunks, width);
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

fn is_space_chunk(chunk: Option<&Vec<char>>) -> bool {
    chunk.is_some_and(|c| c.iter().all(|&ch| ch == ' '))
}

/// Take whole chunks while they fit, then split an over-long word.
fn fill_line(chunks: &mut Vec<Vec<char>>, width: usize) -> Vec<String> {
    let mut line: Vec<String> = Vec::new();
    let mut len = 0;
    while let Some(next) = chunks.last() {
        if len + next.len() > width {
            break;
        }
        len += next.len();
        line.push(chunks.pop().unwrap_or_default().into_iter().collect());
    }
    if let Some(next) = chunks.last_mut()
        && next.len() > width
    {
        let room = if width < 1 { 1 } else { width - len };
        let rest = next.split_off(room.min(next.len()));
        line.push(std::mem::replace(next, rest).into_iter().collect());
    }
    line
}

/// Split into alternating runs of spaces and non-spaces, after turning
/// every whitespace character into a space (`replace_whitespace=True`).
fn split_chunks(text: &str) -> Vec<Vec<char>> {
    let mut chunks: Vec<Vec<char>> = Vec::new();
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        match chunks.last_mut() {
            Some(last) if (last[0] == ' ') == (c == ' ') => last.push(c),
            _ => chunks.push(vec![c]),
        }
    }
    chunks
}

/// `str.expandtabs()`: tabs to the next multiple of 8 columns, the column
/// restarting after `\n` or `\r`.
fn expand_tabs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let pad = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_cpython_2_7() {
        // Expected values printed by CPython 2.7.18.
        assert_eq!(unicode_repr("it's \u{e9}\u{1}\n\u{1F600} \"q"), r#"u'it\'s \xe9\x01\n\U0001f600 "q'"#);
        assert_eq!(unicode_repr("\""), r#"u'"'"#);
        assert_eq!(unicode_repr("it's"), r#"u"it's""#);
        assert_eq!(unicode_repr("\u{3ba}\\"), r"u'\u03ba\\'");
        assert_eq!(str_repr("message"), "'message'");
    }

    #[test]
    fn wrap_matches_textwrap() {
        // textwrap.wrap('ab   cd  ' + 'x'*120, 100) in CPython 2.7.18.
        let text = format!("ab   cd  {}", "x".repeat(120));
        let lines = wrap(&text, 100);
        assert_eq!(lines, vec![format!("ab   cd  {}", "x".repeat(91)), "x".repeat(29)]);
    }

    #[test]
    fn wrap_breaks_hex_and_keeps_ellipsis_with_tail() {
        let text = format!("{} ...", "a".repeat(128));
        assert_eq!(wrap(&text, 100), vec!["a".repeat(100), format!("{} ...", "a".repeat(28))]);
        assert_eq!(wrap("  lead\tx", 100), vec!["  lead  x"]);
        assert!(wrap("   ", 100).is_empty());
    }

    #[test]
    fn cut_repr_keeps_996_chars() {
        let long = "x".repeat(1001);
        let cut = cut_repr(&long, 1000);
        assert_eq!(cut.len(), 1000);
        assert!(cut.ends_with("x ..."));
        assert_eq!(cut_repr("short", 1000), "short");
    }
}
