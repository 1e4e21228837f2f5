//! Command-line arguments (clap derive). Every flag has a doc line, which
//! becomes its `--help` text.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Tap, record, replay and judge WebSocket traffic.
#[derive(Debug, Parser)]
#[command(name = "wstap", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a transparent recording proxy; one YAML recording per connection.
    ///
    /// Without --upstream, an embedded echo WebSocket server is started and
    /// used as the upstream, and its URL through the proxy is printed.
    Record(RecordArgs),
    /// Render a recording as an Autobahn-style report.
    Show(ShowArgs),
    /// Record a built-in session through the proxy and show its report.
    Demo(DemoArgs),
}

/// Options of `wstap record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Address to accept clients on (loopback unless you say otherwise).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    /// The real server, e.g. 127.0.0.1:8080. Default: an embedded echo server.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Option<SocketAddr>,
    /// Directory for recordings (created if missing).
    #[arg(long, value_name = "DIR", default_value = "recordings")]
    pub out: PathBuf,
}

/// Whose point of view a report takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Perspective {
    /// The server's, as Autobahn reports do: RX is what the client sent.
    Server,
    /// The client's: RX is what the server sent.
    Client,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// The Autobahn per-case report as text.
    Text,
    /// Autobahn's per-case JSON.
    Json,
}

/// Options of `wstap show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The recording (a .yaml file written by `wstap record`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Whose point of view: RX/TX and "me" follow it.
    #[arg(long, value_enum, default_value_t = Perspective::Server)]
    pub perspective: Perspective,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

/// Options of `wstap demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's recording.
    #[arg(long, value_name = "DIR", default_value = "recordings")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn record_defaults_to_loopback() {
        let cli = Cli::try_parse_from(["wstap", "record"]).unwrap();
        let Command::Record(args) = cli.command else { panic!("not record") };
        assert!(args.listen.ip().is_loopback());
        assert_eq!(args.upstream, None);
        assert!(Cli::try_parse_from(["wstap", "show"]).is_err());
    }
}
