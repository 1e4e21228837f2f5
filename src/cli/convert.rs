//! `wstap convert`: recordings to pcap/pcapng/HAR, captures and HAR to recordings.

use super::args::ConvertArgs;
use anyhow::Result;
use std::process::ExitCode;

/// Runs `wstap convert`; what was written goes to stdout, remarks to stderr.
pub fn run(args: &ConvertArgs) -> Result<ExitCode> {
    if !args.input.exists() {
        anyhow::bail!(
            "IN {}: no such file (expected a recording .yaml, a capture .pcap/.pcapng or a HAR file .har)",
            args.input.display()
        );
    }
    let ext = args.output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "pcap" | "pcapng" | "har" => super::check::writable_file(&args.output, "OUT")?,
        "" if args.output.exists() && !args.output.is_dir() => {
            anyhow::bail!(
                "OUT {}: exists and is not a directory (a capture or a HAR converts into a directory)",
                args.output.display()
            )
        }
        _ => {}
    }
    let done = crate::convert::convert(&args.input, &args.output)?;
    for m in &done.messages {
        eprintln!("wstap: {}", crate::escape::line(m));
    }
    for path in &done.written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
