//! `wstap show`: load a recording and render it.

use super::args::{Perspective, ShowArgs, ShowFormat};
use crate::session::Recording;
use anyhow::Result;
use std::process::ExitCode;

/// Runs `wstap show`.
pub fn run(args: &ShowArgs) -> Result<ExitCode> {
    let rec = crate::store::load(&args.file)?;
    for w in &rec.warnings {
        eprintln!("wstap: warning: {}: {w}", args.file.display());
    }
    match args.format {
        ShowFormat::Text => print!("{}", render_text(&rec, args.perspective)),
        ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&rec.summary())?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The text report of a recording.
pub fn render_text(rec: &Recording, _perspective: Perspective) -> String {
    serde_yaml::to_string(&rec.summary()).unwrap_or_default()
}
