//! `wstap show`: load a recording and render it as an Autobahn case report.

use super::args::{Perspective, ShowArgs, ShowFormat};
use crate::report::{self, TextOptions};
use crate::session::{Recording, Side};
use anyhow::{Context, Result};
use std::process::ExitCode;

/// Runs `wstap show`.
pub fn run(args: &ShowArgs) -> Result<ExitCode> {
    if args.file.is_dir() {
        anyhow::bail!("{}: is a directory; expected a recording file (.yaml)", args.file.display());
    }
    if args.filter.is_some() && args.format != ShowFormat::Text {
        anyhow::bail!(
            "--filter selects wire-log lines of the text report; it does not apply to --format autobahn or json"
        );
    }
    let rec = crate::store::load(&args.file)?;
    for w in &rec.warnings {
        eprintln!("wstap: warning: {}: {}", args.file.display(), crate::escape::line(w));
    }
    let text = match args.format {
        ShowFormat::Text => {
            let color = crate::term::color_for(crate::term::Stream::Stdout);
            case_report(&rec, args.perspective).map(|r| {
                let options = report::ReadableOptions { case_sections: false, color, filter: args.filter.clone() };
                report::render_readable(&r, &options)
            })
        }
        ShowFormat::Autobahn => render_text(&rec, args.perspective),
        ShowFormat::Json => case_report(&rec, args.perspective).map(|r| report::render_json(&r)),
    }
    .with_context(|| args.file.display().to_string())?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn case_report(rec: &Recording, perspective: Perspective) -> Result<report::CaseReport> {
    let me = match perspective {
        Perspective::Server => Side::Server,
        Perspective::Client => Side::Client,
    };
    report::from_recording(rec, me).context("the recording's byte streams cannot be rebuilt")
}

/// The readable report of a recording (aligned, coloured if `color`).
pub fn render_readable(rec: &Recording, perspective: Perspective, color: bool) -> Result<String> {
    let report = case_report(rec, perspective)?;
    Ok(report::render_readable(&report, &report::ReadableOptions { color, ..Default::default() }))
}

/// The Autobahn text report of a recording (no case sections: a recording is not a case).
pub fn render_text(rec: &Recording, perspective: Perspective) -> Result<String> {
    let report = case_report(rec, perspective)?;
    Ok(report::render_text_with(&report, &TextOptions { case_sections: false }))
}
