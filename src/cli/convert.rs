//! `wstap convert`: recordings to pcap/pcapng/HAR, captures to recordings.

use super::args::ConvertArgs;
use anyhow::Result;
use std::process::ExitCode;

/// Runs `wstap convert`; what was written goes to stdout, remarks to stderr.
pub fn run(args: &ConvertArgs) -> Result<ExitCode> {
    let done = crate::convert::convert(&args.input, &args.output)?;
    for m in &done.messages {
        eprintln!("wstap: {m}");
    }
    for path in &done.written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
