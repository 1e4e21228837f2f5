//! The command-line front: parse, run the subcommand, map the outcome to an
//! exit status (0 ok, 1 a verdict or difference, 2 an error).

pub mod args;
pub mod duration;

use crate::echo::EchoServer;
use crate::proxy::{Proxy, ProxyConfig};
use anyhow::{Context, Result};
pub use args::Cli;
use args::{Command, DemoArgs, PcapFormat, RecordArgs};
use std::process::ExitCode;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Record(args) => record(args).await,
        Command::Show(args) => show::run(&args),
        Command::Demo(args) => demo(args).await,
        Command::Diff(args) => diff::run(&args),
        Command::Replay(args) => replay::run(args).await,
        Command::Serve(args) => replay::serve(args).await,
        Command::Convert(args) => convert::run(&args),
    }
}

mod convert;
mod diff;
mod replay;
mod show;

async fn record(args: RecordArgs) -> Result<ExitCode> {
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let echo = match args.upstream {
        Some(_) => None,
        None => Some(EchoServer::start(loopback).await.context("starting the embedded echo server")?),
    };
    let upstream = args.upstream.or(echo.as_ref().map(EchoServer::addr)).expect("one or the other");
    let pcap = args.pcap.then_some(match args.pcap_format {
        PcapFormat::Pcap => crate::pcap::Format::Pcap,
        PcapFormat::Pcapng => crate::pcap::Format::PcapNg,
    });
    let config =
        ProxyConfig { pcap, connect_timeout: args.connect_timeout, ..ProxyConfig::new(upstream, &args.out, "record") };
    let proxy = Proxy::bind(args.listen, config).await.with_context(|| {
        format!("cannot listen on {} (is another program using it? try --listen 127.0.0.1:0)", args.listen)
    })?;
    let addr = proxy.local_addr()?;
    match &echo {
        Some(_) => {
            eprintln!("wstap: recording into {}; embedded echo server; connect to ws://{addr}/", args.out.display())
        }
        None => eprintln!("wstap: recording into {}; {addr} -> {upstream}", args.out.display()),
    }
    let recorded = proxy.run(shutdown_signal()).await;
    eprintln!("wstap: stopped; {} recording(s) finalised in {}", recorded.len(), args.out.display());
    Ok(ExitCode::SUCCESS)
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
    let recorded = crate::demo::record_demo(&args.out).await.context("demo session failed")?;
    eprintln!("wstap: demo recorded {} ({} events)", recorded.path.display(), recorded.events);
    let rec = crate::store::load(&recorded.path)?;
    println!("{}", show::render_text(&rec, args::Perspective::Server)?);
    let run = crate::demo::replay_demo(&recorded.path).await.context("replaying the demo recording")?;
    let r = &run.report;
    println!("replayed to the built-in client: behavior {}, close {}", r.behavior.as_str(), r.behavior_close.as_str());
    println!("  {}", r.result);
    println!("  {}", r.result_close);
    Ok(ExitCode::from(crate::replay::output::exit_status(std::slice::from_ref(&run))))
}
