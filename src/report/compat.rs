//! Which Autobahn release's texts the reports reproduce (`--compat`).
//!
//! The default, [`Compat::V0_8_2`], is Autobahn|Testsuite 0.8.2, the
//! Docker image most CI runs: its reports are byte-comparable with
//! wstap's. [`Compat::V25`] is the later Python 3 releases (25.10.1), which
//! differ from 0.8.2 in three places only, all in what a report *says*,
//! never in a verdict:
//!
//! | | 0.8.2 | 25.10.1 |
//! |---|---|---|
//! | 7.1.6 expectation | "partially recieved." | "partially received." |
//! | 7.13.2 description | "close code 65536" (65535 is sent) | "close code 65535" |
//! | a payload with an encoded surrogate (`ED A0 80`) | Python 2 decodes it: `"\ud800"` | Python 3 does not: `0xeda080` |
//!
//! The shipped scenarios carry 0.8.2's texts; [`case_text`] rewrites the
//! two for V25 when a report is built. The `_in` forms take the release
//! as an argument (what tests use). The setting is process-wide, set
//! once by the command line before any case runs (like colour), because
//! the wire-log renderer that needs it is called from deep inside the
//! report model and has no other context.

use std::sync::atomic::{AtomicBool, Ordering};

/// An Autobahn release whose report texts wstap reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compat {
    /// Autobahn|Testsuite 0.8.2 (Python 2; the Docker image most CI runs).
    #[default]
    #[value(name = "0.8.2")]
    V0_8_2,
    /// Autobahn|Testsuite 25.10.1 and later (Python 3).
    #[value(name = "25")]
    V25,
}

static PYTHON_3: AtomicBool = AtomicBool::new(false);

/// Sets the release for every report this process renders.
pub fn set(compat: Compat) {
    PYTHON_3.store(compat == Compat::V25, Ordering::Relaxed);
}

/// The release set by [`set`] (0.8.2 unless set).
pub fn get() -> Compat {
    if PYTHON_3.load(Ordering::Relaxed) { Compat::V25 } else { Compat::V0_8_2 }
}

/// Case `id`'s description or expectation `text` as the set release
/// words it.
pub fn case_text(id: &str, text: &str) -> String {
    case_text_in(get(), id, text)
}

/// [`case_text`] for release `compat`.
pub fn case_text_in(compat: Compat, id: &str, text: &str) -> String {
    match (compat, id) {
        (Compat::V25, "7.1.6") => text.replace("partially recieved", "partially received"),
        (Compat::V25, "7.13.2") => text.replace("close code 65536", "close code 65535"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::wirelog::{SURROGATE_MARK, payload_text_in};
    use crate::session::Preview;

    #[test]
    fn each_release_has_its_texts() {
        let expectation = "may only be partially recieved.";
        assert_eq!(case_text_in(Compat::V0_8_2, "7.1.6", expectation), expectation);
        assert_eq!(case_text_in(Compat::V25, "7.1.6", expectation), "may only be partially received.");
        let description = "Send close with close code 65536";
        assert_eq!(case_text_in(Compat::V0_8_2, "7.13.2", description), description);
        assert_eq!(case_text_in(Compat::V25, "7.13.2", description), "Send close with close code 65535");
        assert_eq!(case_text_in(Compat::V25, "7.1.5", expectation), expectation);
        let surrogate = Preview::of(&[0xed, 0xa0, 0x80]);
        assert_eq!(payload_text_in(Compat::V0_8_2, &surrogate), format!("{SURROGATE_MARK}d800"));
        assert_eq!(payload_text_in(Compat::V25, &surrogate), "0xeda080");
        assert_eq!(payload_text_in(Compat::V25, &Preview::of(b"plain")), "plain");
    }
}
