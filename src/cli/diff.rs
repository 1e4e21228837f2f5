//! `wstap diff`: compare two recordings or two report directories.
//!
//! Exit status follows `diff`: 0 no behavioural difference, 1 differences,
//! 2 an error (missing or malformed input).

use super::args::{DiffArgs, DiffFormat};
use crate::diff::{self, DiffOptions};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::ExitCode;

/// Runs `wstap diff`.
pub fn run(args: &DiffArgs) -> Result<ExitCode> {
    let opts = DiffOptions { timing: args.timing, segments: args.segments, ignore_headers: args.ignore_header.clone() };
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => crate::term::color_for(crate::term::Stream::Stdout) && args.format == DiffFormat::Text,
    };
    for (name, path) in [("A", &args.a), ("B", &args.b)] {
        if !path.exists() {
            bail!(
                "{name} {}: no such file or directory (expected a recording .yaml or a report directory with index.json)",
                path.display()
            );
        }
    }
    let outcome = match (diff::is_report_dir(&args.a), diff::is_report_dir(&args.b)) {
        (true, true) => diff::diff_reports(&args.a, &args.b, &opts, color)?,
        (false, false) => {
            let (a, b) = (load(&args.a)?, load(&args.b)?);
            let names = (args.a.display().to_string(), args.b.display().to_string());
            diff::diff_recordings_named(&a, &b, (&names.0, &names.1), &opts, color)
        }
        (a_is_dir, _) => {
            let (dir, rec) = if a_is_dir { (&args.a, &args.b) } else { (&args.b, &args.a) };
            bail!(
                "cannot compare the report directory {} with {}: give two recordings or two report directories",
                dir.display(),
                rec.display()
            )
        }
    };
    match args.format {
        DiffFormat::Text => print!("{}", outcome.to_text()),
        DiffFormat::Json => println!("{}", outcome.to_json()),
    }
    Ok(if outcome.is_different() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn load(path: &Path) -> Result<crate::session::Recording> {
    if path.is_dir() {
        bail!("{}: a directory without index.json is not a report directory", path.display());
    }
    let rec = crate::store::load(path).with_context(|| "cannot load the recording".to_string())?;
    for w in &rec.warnings {
        eprintln!("wstap: warning: {}: {}", path.display(), crate::escape::line(w));
    }
    Ok(rec)
}
