//! What a person at a terminal sees: when to colour, and the colours.
//!
//! Contract: colour (ANSI SGR codes) is only ever written to a stream that
//! is a terminal, and never when `NO_COLOR` is set to a non-empty value
//! (<https://no-color.org>). Pipes, files and CI logs get plain text, so
//! what a test or a script reads is what `--format` promises. Colour is
//! added *after* untrusted text went through [`crate::escape`]: the only
//! escape sequences in wstap's output are the ones written here.

use std::io::IsTerminal;

/// Red: failures, removed lines.
pub const RED: &str = "\x1b[31m";
/// Green: passes, added lines.
pub const GREEN: &str = "\x1b[32m";
/// Yellow: non-strict and informational verdicts, warnings.
pub const YELLOW: &str = "\x1b[33m";
/// Blue: what the server sent (in both perspectives).
pub const BLUE: &str = "\x1b[34m";
/// Magenta: what the client sent (in both perspectives).
pub const MAGENTA: &str = "\x1b[35m";
/// Cyan: hunk headers, connection lines.
pub const CYAN: &str = "\x1b[36m";
/// Dim: secondary detail (timestamps, flags).
pub const DIM: &str = "\x1b[2m";
/// Bold: headings.
pub const BOLD: &str = "\x1b[1m";
/// Back to the default style.
pub const RESET: &str = "\x1b[0m";

/// Which standard stream a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// True if the stream is a terminal.
    pub fn is_terminal(self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// True if `NO_COLOR` asks for no colour (set and not empty).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether to colour what goes to `stream`: it is a terminal and `NO_COLOR`
/// is unset.
pub fn color_for(stream: Stream) -> bool {
    !no_color_env() && stream.is_terminal()
}

/// `text` in `code` when `on`, else `text` unchanged.
pub fn paint(on: bool, code: &str, text: &str) -> String {
    if on && !code.is_empty() { format!("{code}{text}{RESET}") } else { text.to_owned() }
}

/// The colour of an Autobahn verdict word (`OK`, `FAILED`, …), or "".
pub fn verdict_color(verdict: &str) -> &'static str {
    match verdict {
        "OK" | "Pass" => GREEN,
        "FAILED" | "Fail" | "UNIMPLEMENTED" | "WRONG CODE" | "UNCLEAN" | "NOT RUN" => RED,
        "NON-STRICT" | "Non-Strict" | "INFORMATIONAL" | "Informational" => YELLOW,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_only_when_on() {
        assert_eq!(paint(false, RED, "x"), "x");
        assert_eq!(paint(true, RED, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(paint(true, "", "x"), "x");
        assert_eq!(verdict_color("FAILED"), RED);
        assert_eq!(verdict_color("OK"), GREEN);
        assert_eq!(verdict_color("NON-STRICT"), YELLOW);
    }
}
