//! Untrusted text made safe for a terminal: the one escaping every text
//! output of wstap goes through.
//!
//! Payloads, headers, close reasons, agent names and error messages that
//! quote them come from peers or from files other people wrote. Printed
//! raw, an `ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` clears the
//! screen, a bare CR overwrites what was printed before, and bidi
//! overrides (U+202E) reorder what the reader sees. So every character
//! that a terminal acts on instead of showing is written as an escape:
//!
//! - C0 controls (U+0000–U+001F), DEL (U+007F) and C1 controls
//!   (U+0080–U+009F);
//! - the bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//!   U+2066–U+2069) and the line and paragraph separators (U+2028,
//!   U+2029).
//!
//! The spelling is Rust's `{:?}`: `\0`, `\t`, `\r`, `\n`, `\u{1b}`, so a
//! [`quoted`] token is what `format!("{s:?}")` gives for ordinary text,
//! and a `\` in the input that could start a fake escape is itself
//! escaped by [`quoted`]. [`block`] keeps line breaks and tabs (for
//! multi-line reports); [`line`] escapes them too (for one table cell or
//! one message). Invalid UTF-8 is shown as `\xNN` by the `_bytes` forms.
//!
//! Machine formats have their own rules and do not use this: JSON is
//! escaped by `serde_json`, HTML by [`crate::report::html::escape`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for a character a terminal would act on rather than show.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}')
}

/// `text` as one line: every unsafe character escaped, line breaks and
/// tabs included.
pub fn line(text: &str) -> Cow<'_, str> {
    escape_with(text, is_unsafe)
}

/// `text` as a block of lines: unsafe characters escaped except `\n` and
/// `\t`, which keep their layout.
pub fn block(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| is_unsafe(c) && c != '\n' && c != '\t')
}

/// `text` in double quotes, with `"`, `\` and every unsafe character
/// escaped: one unambiguous token, as Rust's `{:?}` spells it.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_unsafe(c) => push_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes as one line: like [`line`], with each byte of invalid UTF-8
/// shown as `\xNN`.
pub fn line_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&line(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn escape_with(text: &str, unsafe_here: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_here) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_here(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOSTILE: &str = "\u{1b}]0;title\u{7}\u{1b}[2J\u{0}a\rb\u{9b}c\u{202e}d";

    #[test]
    fn terminal_controls_become_visible_escapes() {
        assert_eq!(line(HOSTILE), r"\u{1b}]0;title\u{7}\u{1b}[2J\0a\rb\u{9b}c\u{202e}d");
        assert_eq!(line("a\nb\tc"), r"a\nb\tc");
        assert_eq!(block("a\nb\tc\r\n"), "a\nb\tc\\r\n");
        assert!(matches!(line("plain text, ünïcode ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_is_rusts_debug_for_ordinary_text() {
        for text in ["hello", "say \"hi\"", r"back\slash", "tab\tnew\nline\r", "\u{1b}[31mred", "\0", "é ✓"] {
            assert_eq!(quoted(text), format!("{text:?}"), "{text:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_shown_as_hex_bytes() {
        assert_eq!(line_bytes(b"ok\xff\x1b[2J\xc3"), r"ok\xff\u{1b}[2J\xc3");
    }

    proptest! {
        #[test]
        fn no_escaped_output_holds_a_terminal_control(text in "\\PC*|[\\x00-\\x{9f}\\x{2028}\\x{202e}]{0,40}") {
            for out in [line(&text).into_owned(), quoted(&text), line_bytes(text.as_bytes())] {
                prop_assert!(!out.chars().any(is_unsafe), "{out:?}");
            }
            prop_assert!(!block(&text).chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
        }
    }
}
