//! The command-line front: parse, run the subcommand, map the outcome to an
//! exit status (0 ok, 1 a verdict or difference, 2 an error).

pub mod args;
pub mod check;
pub mod duration;
pub mod log;
pub mod spec;

use crate::echo::EchoServer;
use crate::net::{Listen, Target};
use crate::proxy::{Proxy, ProxyConfig};
use anyhow::{Context, Result, bail};
pub use args::Cli;
use args::{Command, DemoArgs, PcapFormat, RecordArgs};
use std::process::ExitCode;

/// Builds the async runtime for a parsed command line.
///
/// `record` keeps a core for its recorder thread: its relay runs on one
/// worker fewer than there are cores (at least one). On this project's
/// 2-core benchmark machine, one worker instead of two cut the proxy's CPU
/// per 64-byte echo by ~10 % and raised its rate against socat from
/// 0.85–0.92× to 0.97–1.02× (docs/performance.md, change 12): the two
/// pumps of a connection no longer wake each other across threads, and
/// the recorder no longer competes with two workers for two cores.
/// Every other command (and `record` with `TOKIO_WORKER_THREADS` set) gets
/// tokio's default, one worker per core.
pub fn runtime(cli: &Cli) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if matches!(cli.command, Command::Record(_)) {
        // Named, so a profile (or a test) tells the relay's threads apart.
        builder.thread_name("wstap-relay");
        if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
            builder.worker_threads(relay_workers());
        }
    }
    builder.build()
}

/// Workers for `record`'s relay: one per core but the recorder's.
fn relay_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Record(args) => record(args).await,
        Command::Show(args) => show::run(&args),
        Command::Demo(args) => demo(args).await,
        Command::Diff(args) => diff::run(&args),
        Command::Replay(args) => {
            crate::report::compat::set(args.compat);
            replay::run(args).await
        }
        Command::Serve(args) => {
            crate::report::compat::set(args.compat);
            replay::serve(args).await
        }
        Command::Fuzz(args) => {
            crate::report::compat::set(args.compat);
            fuzz::run(args).await
        }
        Command::Convert(args) => convert::run(&args),
        Command::Ca(args) => ca(&args),
        Command::Completions(args) => completions(args.shell),
        Command::Man => man(),
    }
}

mod against;
mod convert;
mod diff;
pub(crate) mod faults;
mod fuzz;
mod replay;
mod show;

async fn record(args: RecordArgs) -> Result<ExitCode> {
    // Before anything listens: traffic must never flow into a directory
    // that cannot take its recordings.
    let faults = match faults::plan(&args.faults)? {
        faults::Faults::Help => {
            faults::print_help();
            return Ok(ExitCode::SUCCESS);
        }
        faults::Faults::Plan(plan) => plan,
    };
    check::writable_dir(&args.out, "--out")?;
    faults::announce(&faults);
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    if args.proxy {
        return forward_proxy(args, faults).await;
    }
    let echo = match args.upstream {
        Some(_) => None,
        None => Some(EchoServer::start(loopback).await.context("starting the embedded echo server")?),
    };
    let upstream = match (&args.upstream, &echo) {
        (Some(target), _) => target.clone(),
        (None, Some(echo)) => echo.addr().into(),
        (None, None) => unreachable!("an echo server is started when there is no upstream"),
    };
    let pcap = args.pcap.then_some(match args.pcap_format {
        PcapFormat::Pcap => crate::pcap::Format::Pcap,
        PcapFormat::Pcapng => crate::pcap::Format::PcapNg,
    });
    let mut config = ProxyConfig::new(upstream.clone(), args.out.clone(), "record");
    config.pcap = pcap;
    config.keep_host = args.keep_host;
    config.connect_timeout = args.connect_timeout;
    config.faults = faults;
    config.live = live_view(&args)?;
    let live = config.live.clone();
    let keylog = crate::tls::KeyLogFile::from_flag_or_env(args.tls.keylog.as_deref()).map_err(anyhow::Error::msg)?;
    if upstream.tls {
        let options = crate::tls::UpstreamOptions {
            extra_roots: args.upstream_ca.clone(),
            insecure: args.insecure_upstream,
            keylog: keylog.clone(),
        };
        config.upstream_tls = Some(crate::tls::UpstreamTls::new(&options).map_err(anyhow::Error::msg)?);
        if args.insecure_upstream {
            eprintln!("wstap: WARNING: --insecure-upstream: {upstream}'s certificate is NOT verified");
        }
    } else if !args.upstream_ca.is_empty() || args.insecure_upstream {
        bail!("--upstream-ca and --insecure-upstream apply to a wss:// upstream; {upstream} is not one");
    }
    let fallback = match &args.listen.host {
        crate::net::Host::Name(name) => name.clone(),
        crate::net::Host::Ip(ip) => ip.to_string(),
    };
    config.client_tls = server_tls(&args.tls, &fallback, keylog)?;
    let proxy = bind_proxy(&args.listen, config).await?;
    let addr = proxy.local_addr()?;
    refuse_loop(&upstream, addr).await?;
    match &echo {
        Some(_) => {
            let scheme = if args.tls.tls { "wss" } else { "ws" };
            eprintln!(
                "wstap: recording into {}; embedded echo server; connect to {scheme}://{addr}/",
                args.out.display()
            )
        }
        None => eprintln!("wstap: recording into {}; {addr} -> {upstream}", args.out.display()),
    }
    stopped(proxy.run_to_end(shutdown_signal()).await, &args.out, live)
}

/// `record`'s live view: on when stdout is a terminal, or with `--live`;
/// off with `--quiet`.
fn live_view(args: &RecordArgs) -> Result<Option<std::sync::Arc<crate::live::LiveView>>> {
    let on = !args.quiet && (args.live || crate::term::Stream::Stdout.is_terminal());
    if !on {
        return Ok(None);
    }
    let filter = args.live_filter.clone().unwrap_or(crate::live::filter::Filter::All);
    let color = crate::term::color_for(crate::term::Stream::Stdout);
    let view =
        crate::live::LiveView::start(Box::new(std::io::stdout()), filter, color).context("starting the live view")?;
    Ok(Some(std::sync::Arc::new(view)))
}

/// The end of `record`: what was finalised, and exit 2 if any recording
/// could not be written (each was named on stderr when it failed).
fn stopped(
    finished: crate::proxy::Finished,
    out: &std::path::Path,
    live: Option<std::sync::Arc<crate::live::LiveView>>,
) -> Result<ExitCode> {
    let dropped = live.map_or(0, |view| view.finish());
    if dropped > 0 {
        eprintln!(
            "wstap: live view: {dropped} line(s) dropped in all (the output did not keep up; the recordings are complete)"
        );
    }
    let (ok, failed) = (finished.recorded.len(), finished.failed.len());
    eprintln!("wstap: stopped; {ok} recording(s) finalised in {}", out.display());
    if failed > 0 {
        eprintln!("wstap: error: {failed} recording(s) could not be written (each is named above); exit status 2");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `record --proxy`.
async fn forward_proxy(args: RecordArgs, faults: std::sync::Arc<crate::fault::Plan>) -> Result<ExitCode> {
    let keylog = crate::tls::KeyLogFile::from_flag_or_env(args.tls.keylog.as_deref()).map_err(anyhow::Error::msg)?;
    let placeholder: Target = std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into();
    let mut config = ProxyConfig::new(placeholder, args.out.clone(), "record");
    config.pcap = args.pcap.then_some(match args.pcap_format {
        PcapFormat::Pcap => crate::pcap::Format::Pcap,
        PcapFormat::Pcapng => crate::pcap::Format::PcapNg,
    });
    config.connect_timeout = args.connect_timeout;
    config.faults = faults;
    config.forward = Some(crate::proxy::forward::ForwardOptions { no_intercept: args.no_intercept.clone() });
    config.live = live_view(&args)?;
    let live = config.live.clone();
    let options = crate::tls::UpstreamOptions {
        extra_roots: args.upstream_ca.clone(),
        insecure: args.insecure_upstream,
        keylog: keylog.clone(),
    };
    config.upstream_tls = Some(crate::tls::UpstreamTls::new(&options).map_err(anyhow::Error::msg)?);
    if args.insecure_upstream {
        eprintln!("wstap: WARNING: --insecure-upstream: the targets' certificates are NOT verified");
    }
    let intercept = args::TlsArgs { tls: true, ..args.tls.clone() };
    config.client_tls = server_tls(&intercept, "localhost", keylog)?;
    let proxy = bind_proxy(&args.listen, config).await?;
    let addr = proxy.local_addr()?;
    eprintln!(
        "wstap: recording into {}; HTTP proxy on {addr}: HTTPS_PROXY=http://{addr} HTTP_PROXY=http://{addr}",
        args.out.display()
    );
    stopped(proxy.run_to_end(shutdown_signal()).await, &args.out, live)
}

/// TLS termination from `--tls` (`--cert`/`--key`, or wstap's CA).
pub(crate) fn server_tls(
    args: &args::TlsArgs,
    fallback: &str,
    keylog: Option<std::sync::Arc<dyn rustls::KeyLog>>,
) -> Result<Option<crate::tls::ServerTls>> {
    if !args.tls {
        return Ok(None);
    }
    let source = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => crate::tls::CertSource::from_files(cert, key).map_err(anyhow::Error::msg)?,
        _ => crate::tls::CertSource::Ca(std::sync::Arc::new(load_ca()?)),
    };
    Ok(Some(crate::tls::ServerTls::new(source, fallback, keylog)))
}

fn load_ca() -> Result<crate::tls::Ca> {
    let dir = crate::tls::ca::config_dir().map_err(anyhow::Error::msg)?;
    crate::tls::Ca::load_or_create(&dir).map_err(anyhow::Error::msg)
}

/// `wstap ca`: the CA's path, PEM and how to trust it.
fn ca(args: &args::CaArgs) -> Result<ExitCode> {
    let ca = load_ca()?;
    if args.path {
        println!("{}", ca.cert_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("wstap's local CA certificate: {}", ca.cert_path.display());
    println!(
        "(used by record --tls, record --proxy and replay/serve --tls to sign certificates for the names clients ask for)\n"
    );
    print!("{}", ca.cert_pem);
    println!();
    print!("{}", crate::tls::ca::trust_instructions(&ca.cert_path));
    Ok(ExitCode::SUCCESS)
}

/// `wstap completions SHELL`: the script, from the clap definition.
fn completions(shell: args::Shell) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    match shell {
        args::Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "wstap", &mut out),
        args::Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "wstap", &mut out),
        args::Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "wstap", &mut out),
    }
    Ok(ExitCode::SUCCESS)
}

/// `wstap man`: the man page (section 1, every subcommand), from the clap definition.
fn man() -> Result<ExitCode> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("wstap-{}", sub.get_name());
        let sub = sub.clone().display_name(name).version(env!("CARGO_PKG_VERSION"));
        std::io::Write::write_all(&mut out, b"\n")?;
        clap_mangen::Man::new(sub).render(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Binds the first address `listen` resolves to that can be bound.
async fn bind_proxy(listen: &Listen, config: ProxyConfig) -> Result<Proxy> {
    let addrs = listen.resolve().await.with_context(|| format!("cannot resolve the listen address {listen}"))?;
    let mut last = None;
    for addr in addrs {
        match Proxy::bind(addr, config.clone()).await {
            Ok(proxy) => return Ok(proxy),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.with_context(|| format!("{listen} resolves to no address"))?;
    Err(e).with_context(|| format!("cannot listen on {addr} (is another program using it? try --listen 127.0.0.1:0)"))
}

/// Refuses to start a proxy whose upstream is its own listen address.
async fn refuse_loop(upstream: &Target, listen: std::net::SocketAddr) -> Result<()> {
    // A name that does not resolve now may later: that is checked per connection.
    let Ok(addrs) = crate::net::connect::resolve(upstream).await else { return Ok(()) };
    let same_host = |ip: std::net::IpAddr| {
        let (ip, own) = (ip.to_canonical(), listen.ip().to_canonical());
        ip == own || (own.is_unspecified() && ip.is_loopback())
    };
    if let Some(addr) = addrs.iter().find(|a| a.port() == listen.port() && same_host(a.ip())) {
        bail!(
            "the upstream {upstream} ({addr}) is this proxy's own listen address {listen}: \
             it would connect to itself; point --upstream at the real server"
        );
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn demo(args: DemoArgs) -> Result<ExitCode> {
    check::writable_dir(&args.out, "--out")?;
    let recorded = crate::demo::record_demo(&args.out).await.context("demo session failed")?;
    eprintln!("wstap: demo recorded {} ({} events)", recorded.path.display(), recorded.events);
    let rec = crate::store::load(&recorded.path)?;
    let color = crate::term::color_for(crate::term::Stream::Stdout);
    println!("{}", show::render_readable(&rec, args::Perspective::Server, color)?);
    let run = crate::demo::replay_demo(&recorded.path).await.context("replaying the demo recording")?;
    let r = &run.report;
    println!("replayed to the built-in client: behavior {}, close {}", r.behavior.as_str(), r.behavior_close.as_str());
    println!("  {}", r.result);
    println!("  {}", r.result_close);
    Ok(ExitCode::from(crate::replay::output::exit_status(std::slice::from_ref(&run))))
}
