//! Logging on stderr in the same style as wstap's own messages.
//!
//! Every line wstap writes to stderr reads `wstap: <level>: <message>`,
//! whether it comes from the CLI (`eprintln!`) or from `tracing` deeper in
//! the library, so there is one style to read and to grep. Debug and trace
//! lines add the module they come from. `WSTAP_LOG` filters
//! (`WSTAP_LOG=wstap=debug`; default warnings and errors). The level is
//! coloured only when stderr is a terminal and `NO_COLOR` is unset, and
//! messages go through [`crate::escape::block`]: they may quote peers.

use crate::term;
use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the stderr logger (once, from the binary).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WSTAP_LOG").unwrap_or_else(|_| "wstap=warn".into());
    let style = Style { color: term::color_for(term::Stream::Stderr) };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Fields are formatted plain (their text is escaped below); only the level is coloured.
        .with_ansi(false)
        .event_format(style)
        .init();
}

/// The `wstap: <level>: <message>` line format.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colour the level word.
    pub color: bool,
}

impl<S, N> FormatEvent<S, N> for Style
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let (word, color) = match *meta.level() {
            Level::ERROR => ("error", term::RED),
            Level::WARN => ("warning", term::YELLOW),
            Level::INFO => ("info", ""),
            Level::DEBUG => ("debug", term::DIM),
            Level::TRACE => ("trace", term::DIM),
        };
        let mut message = String::new();
        ctx.field_format().format_fields(Writer::new(&mut message), event)?;
        write!(writer, "wstap: {}: ", term::paint(self.color, color, word))?;
        if *meta.level() >= Level::DEBUG {
            write!(writer, "{}: ", meta.target())?;
        }
        writeln!(writer, "{}", crate::escape::block(&message))
    }
}
