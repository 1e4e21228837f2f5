//! Command-line arguments (clap derive). Every flag has a doc line, which
//! becomes its `--help` text.

use super::duration;
use crate::net::{Listen, Target};
use crate::replay::from_recording::Timing;
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
    /// A recording that cannot be written is named on stderr while its
    /// connection keeps flowing, and the exit status is then 2.
    ///
    /// The relay runs on one worker thread fewer than there are cores (at
    /// least one), as the recorder has a thread of its own;
    /// TOKIO_WORKER_THREADS=N sets the number.
    Record(RecordArgs),
    /// Render a recording as an Autobahn-style report.
    ///
    /// The default text aligns its tables and is coloured when stdout is a
    /// terminal and NO_COLOR is unset; --format autobahn is Autobahn's page
    /// as text byte for byte, --format json its per-case JSON.
    Show(ShowArgs),
    /// Record a built-in session through the proxy, show its report, then replay it and judge.
    Demo(DemoArgs),
    /// Compare two recordings or two report directories; exit 1 if behaviour changed.
    ///
    /// Masking keys, Sec-WebSocket-Key/Accept, Date, addresses, ports,
    /// timestamps and TCP read boundaries are normalised away first.
    Diff(DiffArgs),
    /// Act as Autobahn's fuzzingserver: replay scenarios or recordings to a
    /// client under test and judge it (exit 0 all passed, 1 some failed, 2 error).
    ///
    /// Each client command runs in its own process group, ended with SIGTERM
    /// 2 s after its case and SIGKILL 1 s later. On ^C or SIGTERM the cases
    /// that ran are reported (summary, --report, --junit; the rest NOT RUN)
    /// and the exit status is 130.
    Replay(ReplayArgs),
    /// Act as Autobahn's fuzzingclient: play the client side of the cases
    /// against one or more servers under test and judge them (exit 0 all
    /// passed, 1 some failed, 2 error, 130 interrupted).
    ///
    /// Each case is a new connection to SERVER_URL; every frame wstap sends
    /// is masked. The servers are expected to echo every message, as
    /// Autobahn's are. Reports: one agent per server (--agent, else the
    /// server's `Server` header). On ^C or SIGTERM what ran is reported and
    /// the rest is NOT RUN.
    Fuzz(FuzzArgs),
    /// Serve Autobahn's URL protocol (/getCaseCount, /runCase, /updateReports,
    /// ...) so existing Autobahn client drivers run against wstap unchanged.
    ///
    /// Client mistakes get 400, 404 or 426. On ^C or SIGTERM the results so
    /// far are written into --report and the exit status is 130.
    Serve(ServeArgs),
    /// Print wstap's local CA certificate (created on first use), its path,
    /// and how to make clients trust it (for --tls and --proxy interception).
    Ca(CaArgs),
    /// Convert between recordings, captures and HAR.
    ///
    /// REC.yaml OUT.pcap|OUT.pcapng: the recording as a capture Wireshark
    /// decodes. REC.yaml OUT.har: a HAR log with Chrome's _webSocketMessages.
    /// CAPTURE.pcap|.pcapng OUT_DIR: one recording per WebSocket connection.
    /// SESSION.har OUT_DIR: one recording per WebSocket entry (Chrome, mitmproxy,
    /// wstap), message level: masks, frames and reads synthesised.
    Convert(ConvertArgs),
    /// Print a shell completion script: `source <(wstap completions bash)`,
    /// `wstap completions zsh > ~/.zfunc/_wstap`, or
    /// `wstap completions fish > ~/.config/fish/completions/wstap.fish`.
    Completions(CompletionsArgs),
    /// Print wstap's man page (roff): `wstap man | man -l -`, or
    /// `wstap man > /usr/local/share/man/man1/wstap.1`.
    Man,
}

/// Shells `wstap completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Options of `wstap completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Options of `wstap ca`.
#[derive(Debug, clap::Args)]
pub struct CaArgs {
    /// Print only the path of the CA certificate.
    #[arg(long)]
    pub path: bool,
}

/// TLS termination towards clients, shared by `record`, `replay` and `serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Terminate TLS from clients on the listen port (they connect with wss://).
    /// The certificate is --cert/--key, or by default one for the name the client
    /// asks for (SNI, else the listen address) signed by wstap's local CA, created
    /// on first use in $WSTAP_CONFIG_DIR (default ~/.config/wstap; see `wstap ca`).
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain to present with --tls (instead of one from wstap's CA).
    #[arg(long, value_name = "FILE", requires = "key", requires = "tls")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Append the TLS secrets of every connection (both legs) to FILE in NSS key-log
    /// format, so a capture of the real TLS decrypts in Wireshark. Default: $SSLKEYLOGFILE.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
}

/// Options of `wstap convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// A recording (.yaml), a capture (.pcap, .pcapng) or a HAR file (.har).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// A .pcap, .pcapng or .har file (from a recording) or a directory (from a capture or a HAR).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

/// Capture formats `wstap record --pcap` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PcapFormat {
    /// Classic pcap (microsecond timestamps; read by every tool).
    Pcap,
    /// pcapng (nanosecond timestamps).
    Pcapng,
}

/// Output formats of `wstap diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Plain-words summary, then a unified diff of the normalised wire logs.
    Text,
    /// The same, as JSON.
    Json,
}

/// Options of `wstap diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The baseline: a recording (.yaml) or a replay report directory.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The candidate, of the same kind as A.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Flag timing changes beyond this tolerance, e.g. 50ms, 1s, 250us (a bare number is milliseconds; at most 24h).
    #[arg(long, value_name = "TOLERANCE", value_parser = duration::tolerance)]
    pub timing: Option<std::time::Duration>,
    /// Also compare TCP read (chop) sizes.
    #[arg(long)]
    pub segments: bool,
    /// Ignore this HTTP header in the handshake (repeatable).
    #[arg(long = "ignore-header", value_name = "NAME")]
    pub ignore_header: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Colour the diff: auto (when stdout is a terminal and NO_COLOR is unset), always or never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
}

/// Options of `wstap replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Scenario or recording files, or directories of them (with --spec, default: the shipped cases).
    #[arg(value_name = "PATH", required_unless_present = "spec")]
    pub paths: Vec<PathBuf>,
    /// Autobahn's fuzzingserver.json: cases, exclude-cases, exclude-agent-cases (for --agent),
    /// outdir (--report, unless given) and options.failByDrop are used; other keys are named in a warning.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cases", "exclude"])]
    pub spec: Option<PathBuf>,
    /// Case patterns to run (Autobahn rules: `*` wildcards, anchored at the start), comma-separated
    /// or repeated: `--cases 7.1.1,7.3*`. Default: all.
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub cases: Vec<String>,
    /// Case patterns to leave out, comma-separated or repeated.
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub exclude: Vec<String>,
    /// Client under test, run per case via `sh -c`; `{url}` is replaced by the case's URL, single-quoted,
    /// and the URL is also in the environment as WSTAP_URL. Without it, the URL is printed and wstap waits
    /// for a client to connect.
    #[arg(long, value_name = "CMD")]
    pub client: Option<String>,
    /// Cases run in parallel, each on its own port.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Without --client: wait for every case on this one address (ws://ADDR/, any path), instead of a new
    /// random port per case, so a manual or browser client keeps one URL. Cases run one at a time.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["client", "jobs"])]
    pub listen: Option<SocketAddr>,
    /// The name in reports (Autobahn's `agent`) of the peer under test: default `client`, or `server`
    /// with --against.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Write Autobahn-compatible reports into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML file with one testcase per case.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save what each case observed as a recording here (default: DIR/recordings with --report).
    #[arg(long, value_name = "DIR")]
    pub record_dir: Option<PathBuf>,
    /// Play each recording's client side to this server (ws://HOST:PORT[/PATH] or wss://...) and judge the
    /// server against what the recorded server did. PATHs must be recordings; without a /PATH the recorded
    /// request target is sent.
    #[arg(long, value_name = "URL", conflicts_with_all = ["client", "listen", "tls", "rules", "file", "connect_timeout"])]
    pub against: Option<String>,
    /// With --against: send the recorded masking keys instead of new ones (a byte-exact client stream).
    #[arg(long, requires = "against")]
    pub keep_masks: bool,
    /// With a wss:// --against: extra trusted root certificates (PEM) for the server.
    #[arg(long, value_name = "FILE", requires = "against")]
    pub ca: Vec<PathBuf>,
    /// With a wss:// --against: do not verify the server's certificate (loudly).
    #[arg(long, requires = "against")]
    pub insecure: bool,
    /// How recordings are paced: react to the peer under test (the client, or with --against the server),
    /// or keep the recorded delays.
    #[arg(long, value_enum, default_value_t = Timing::Reactive)]
    pub timing: Timing,
    /// How long to wait for the client to connect before the case fails: 30, 500ms, 2.5s (a bare number is
    /// seconds; at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = duration::timeout)]
    pub connect_timeout: std::time::Duration,
    /// TLS towards the client under test (it then gets a wss:// URL).
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Which Autobahn release's report texts to reproduce: 0.8.2 (the Docker image most CI runs) or 25
    /// (25.10.1 and later: 7.1.6 and 7.13.2 reworded, encoded surrogates shown as hex). Verdicts are the same.
    #[arg(long, value_enum, value_name = "RELEASE", default_value = "0.8.2")]
    pub compat: crate::report::compat::Compat,
    /// Fault rules for the replayed server's frames (s2c rules only).
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Options of `wstap fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// Servers under test: ws://HOST:PORT[/PATH] or wss://... (IP literals, localhost or names).
    #[arg(value_name = "SERVER_URL", required_unless_present = "spec")]
    pub servers: Vec<String>,
    /// The server's name in reports (Autobahn's `agent`), repeated once per SERVER_URL in order.
    /// Default: the server's `Server` response header (or UnknownServer), as Autobahn does.
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// Case patterns to run (Autobahn rules: `*` wildcards, anchored at the start), comma-separated
    /// or repeated: `--cases 7.1.1,7.3*`. Default: all.
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub cases: Vec<String>,
    /// Case patterns to leave out, comma-separated or repeated.
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub exclude: Vec<String>,
    /// Scenario files or directories to play instead of the shipped cases.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub scenarios: Vec<PathBuf>,
    /// Cases run at the same time against one server, each on its own connection (Autobahn: 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Write Autobahn-compatible reports into this directory (one agent per server).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML file: one test suite per server, one testcase per case.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save what each case observed as a recording here (default: DIR/recordings with --report).
    #[arg(long, value_name = "DIR")]
    pub record_dir: Option<PathBuf>,
    /// Autobahn's fuzzingclient.json: its servers (url, agent), cases, exclude-cases and outdir
    /// (--report) are used; other keys are named in a warning.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["servers", "agent", "cases", "exclude"])]
    pub spec: Option<PathBuf>,
    /// Extra trusted root certificates (PEM) for wss:// servers.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// Do not verify wss:// servers' certificates (loudly).
    #[arg(long)]
    pub insecure: bool,
    /// Which Autobahn release's report texts to reproduce: 0.8.2 (the Docker image most CI runs) or 25
    /// (25.10.1 and later: 7.1.6 and 7.13.2 reworded, encoded surrogates shown as hex). Verdicts are the same.
    #[arg(long, value_enum, value_name = "RELEASE", default_value = "0.8.2")]
    pub compat: crate::report::compat::Compat,
}

/// Options of `wstap serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to accept Autobahn client drivers on. The default port, 9001, is Autobahn's fuzzingserver's
    /// (the drivers' default URL); `record` defaults to 9002, so both can run at once.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    /// Case patterns to serve, comma-separated or repeated (numbering is over the selected cases).
    /// Default: all.
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub cases: Vec<String>,
    /// Case patterns to leave out, comma-separated or repeated (shifts later case numbers, as in Autobahn).
    #[arg(long, value_name = "PATTERN,...", value_delimiter = ',', num_args = 1)]
    pub exclude: Vec<String>,
    /// Scenario or recording files or directories to serve instead of the shipped cases.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub scenarios: Vec<PathBuf>,
    /// Where /updateReports writes the reports.
    #[arg(long, value_name = "DIR", default_value = "reports/clients")]
    pub report: PathBuf,
    /// Autobahn's fuzzingserver.json: its url (listen address), outdir (--report), cases, exclude-cases,
    /// exclude-agent-cases and options.failByDrop are used; other keys are named in a warning.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cases", "exclude"])]
    pub spec: Option<PathBuf>,
    /// Save what each case observed as a recording here.
    #[arg(long, value_name = "DIR")]
    pub record_dir: Option<PathBuf>,
    /// Which Autobahn release's report texts to reproduce: 0.8.2 (the Docker image most CI runs) or 25
    /// (25.10.1 and later: 7.1.6 and 7.13.2 reworded, encoded surrogates shown as hex). Verdicts are the same.
    #[arg(long, value_enum, value_name = "RELEASE", default_value = "0.8.2")]
    pub compat: crate::report::compat::Compat,
    /// TLS towards the drivers (they connect with wss://).
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Options of `wstap record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Address to accept clients on: HOST:PORT, [v6]:PORT, or :PORT for
    /// loopback (loopback unless you say otherwise). The default port is 9002
    /// (`serve` has Autobahn's 9001), so both can run at once.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9002", value_parser = Listen::parse)]
    pub listen: Listen,
    /// The real server: HOST:PORT, [v6]:PORT, ws://HOST[:PORT] or wss://HOST[:PORT]
    /// (default ports 80 and 443). Names are resolved for each connection and every
    /// address is tried in turn. Default: an embedded echo server.
    #[arg(long, value_name = "UPSTREAM", value_parser = Target::parse)]
    pub upstream: Option<Target>,
    /// Forward the client's Host header unchanged. By default, for a hostname
    /// upstream, the Host header of the request head (and nothing else) is
    /// rewritten to name the upstream, and the rewrite is recorded.
    #[arg(long)]
    pub keep_host: bool,
    /// Also trust the CA certificates in this PEM file for a wss:// upstream
    /// (repeatable). The machine's roots are always trusted.
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Vec<PathBuf>,
    /// Do not verify the wss:// upstream's certificate (a warning is printed and recorded).
    #[arg(long)]
    pub insecure_upstream: bool,
    /// Make the listen port an HTTP forward proxy instead: point clients at it with
    /// HTTPS_PROXY/HTTP_PROXY (or an agent). CONNECT tunnels carrying TLS are
    /// intercepted with a certificate from wstap's CA for the name asked for (see
    /// `wstap ca`) and TLS to the real target; absolute-URI GET http://host/...
    /// upgrades are forwarded in origin form. One recording per tunnel.
    #[arg(long, conflicts_with = "upstream")]
    pub proxy: bool,
    /// With --proxy, pass the TLS of hosts matching this glob (`*.example.com`)
    /// through byte for byte instead of intercepting it (repeatable).
    #[arg(long, value_name = "PATTERN", requires = "proxy")]
    pub no_intercept: Vec<String>,
    /// TLS towards clients, and the key log.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Directory for recordings (created if missing).
    #[arg(long, value_name = "DIR", default_value = "recordings")]
    pub out: PathBuf,
    /// Print one line per frame, and per connection opened and closed, as it is recorded. The default when
    /// stdout is a terminal; --live also prints into a pipe. Lines the output cannot take at once are dropped
    /// and counted, never waited for: the live view never slows the traffic.
    #[arg(long, conflicts_with = "quiet")]
    pub live: bool,
    /// No live view, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// Which live lines to print: `op=close`, `conn=3`, `dir=s2c and not op=ping`, `text~error`,
    /// `kind=open or kind=closed` (keys conn, dir, op, kind, text; and, or, not, parentheses; see docs/live.md).
    #[arg(long, value_name = "EXPR", value_parser = crate::live::filter::Filter::parse)]
    pub live_filter: Option<crate::live::filter::Filter>,
    /// Also write a capture of each connection beside its recording, as it goes.
    #[arg(long)]
    pub pcap: bool,
    /// Capture format for --pcap.
    #[arg(long, value_enum, default_value_t = PcapFormat::Pcap, requires = "pcap")]
    pub pcap_format: PcapFormat,
    /// How long to wait for the upstream to accept each connection: 5, 500ms, 2.5s (a bare number is seconds;
    /// at most 24h). A connection whose upstream does not answer in time is closed and recorded as reset.
    #[arg(long, value_name = "DURATION", default_value = "5", value_parser = duration::timeout)]
    pub connect_timeout: std::time::Duration,
    /// Fault rules.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault rules, for `record` and `replay` (see docs/faults.md).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FaultArgs {
    /// Make traffic misbehave on purpose, per connection: DIR TRIGGER ACTION [OPTION...],
    /// e.g. 's2c first=close drop' or 's2c message=3 rst' (repeatable). Each fault is
    /// recorded as an event naming its rule. `--fault help` (or `--fault` alone) prints
    /// the catalogue of triggers and actions.
    #[arg(long = "fault", value_name = "RULE", num_args = 0..=1, default_missing_value = "help")]
    pub rules: Vec<String>,
    /// Fault rules from a YAML file: a list of rule strings, applied after any --fault.
    #[arg(long = "faults", value_name = "FILE")]
    pub file: Option<PathBuf>,
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
    /// The per-case report for reading: aligned tables, plain masks, binary payloads as hex; coloured when
    /// stdout is a terminal and NO_COLOR is unset.
    Text,
    /// Autobahn's per-case report as text, byte for byte (cells run together, as on Autobahn's page as text).
    Autobahn,
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
    /// Only the wire-log entries this selects, in `--live-filter`'s language: `dir=c2s` (the sender, whatever
    /// the perspective), `op=close`, `kind=frame|octets|note|tcp`, `text~WORD`; and, or, not.
    #[arg(long, value_name = "EXPR", value_parser = crate::live::filter::Filter::parse)]
    pub filter: Option<crate::live::filter::Filter>,
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
        assert_eq!(args.listen.to_string(), "127.0.0.1:9002");
        let cli = Cli::try_parse_from(["wstap", "serve"]).unwrap();
        let Command::Serve(serve) = cli.command else { panic!("not serve") };
        assert_eq!(serve.listen.to_string(), "127.0.0.1:9001", "record and serve default to different ports");
        assert_eq!(args.upstream, None);
        assert!(!args.pcap);
        assert!(Cli::try_parse_from(["wstap", "show"]).is_err());
        assert!(Cli::try_parse_from(["wstap", "record", "--pcap-format", "pcapng"]).is_err());
        let cli = Cli::try_parse_from(["wstap", "record", "--pcap", "--pcap-format", "pcapng"]).unwrap();
        let Command::Record(args) = cli.command else { panic!("not record") };
        assert_eq!((args.pcap, args.pcap_format), (true, PcapFormat::Pcapng));
    }

    #[test]
    fn every_duration_flag_is_range_checked() {
        use std::time::Duration;
        let cli = Cli::try_parse_from(["wstap", "record", "--connect-timeout", "250ms"]).unwrap();
        let Command::Record(args) = cli.command else { panic!("not record") };
        assert_eq!(args.connect_timeout, Duration::from_millis(250));
        let cli = Cli::try_parse_from(["wstap", "replay", "x", "--connect-timeout", "2"]).unwrap();
        let Command::Replay(args) = cli.command else { panic!("not replay") };
        assert_eq!(args.connect_timeout, Duration::from_secs(2));
        for argv in [
            &["wstap", "record", "--connect-timeout", "1e30"][..],
            &["wstap", "replay", "x", "--connect-timeout", "1e30"],
            &["wstap", "replay", "x", "--connect-timeout", "0"],
            &["wstap", "diff", "a", "b", "--timing", "100000000000000000000000s"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{argv:?}: {err}");
        }
    }

    #[test]
    fn replay_takes_paths_patterns_and_a_client() {
        let cli = Cli::try_parse_from([
            "wstap",
            "replay",
            "--cases",
            "7.1*,7.3.1",
            "scenarios",
            "--exclude",
            "7.1.6",
            "--client",
            "c {url}",
            "--jobs",
            "8",
            "--timing",
            "recorded",
        ])
        .unwrap();
        let Command::Replay(args) = cli.command else { panic!("not replay") };
        assert_eq!(args.cases, ["7.1*", "7.3.1"], "a comma list");
        assert_eq!(args.paths, [PathBuf::from("scenarios")], "--cases leaves the positional PATH alone");
        assert_eq!((args.jobs, args.timing, args.client.as_deref()), (8, Timing::Recorded, Some("c {url}")));
        assert!(Cli::try_parse_from(["wstap", "replay"]).is_err(), "PATH is required");
        let cli = Cli::try_parse_from([
            "wstap",
            "replay",
            "--cases",
            "7.1.1",
            "dir",
            "--cases",
            "7.3*",
            "--exclude",
            "7.3.2",
        ])
        .unwrap();
        let Command::Replay(args) = cli.command else { panic!("not replay") };
        assert_eq!(
            (args.cases, args.exclude, args.paths),
            (vec!["7.1.1".into(), "7.3*".into()], vec!["7.3.2".into()], vec![PathBuf::from("dir")])
        );
        let cli = Cli::try_parse_from(["wstap", "serve", "--cases", "7.1.1,7.1.2"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert_eq!(args.cases, ["7.1.1", "7.1.2"]);
    }
}
