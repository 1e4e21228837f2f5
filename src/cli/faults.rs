//! `--fault` and `--faults`: rule text to a [`Plan`], with located errors.

use super::args::FaultArgs;
use crate::fault::{CATALOGUE, Plan, parse_file, parse_rule};
use anyhow::{Context, Result, anyhow};
use std::sync::Arc;

/// What the fault flags asked for.
pub enum Faults {
    /// `--fault help`: print the catalogue and stop.
    Help,
    /// The rules (possibly none).
    Plan(Arc<Plan>),
}

/// Parses the flags: `--fault` rules in order, then the `--faults` file's.
pub fn plan(args: &FaultArgs) -> Result<Faults> {
    if args.rules.iter().any(|r| r.trim() == "help") {
        return Ok(Faults::Help);
    }
    let mut rules = Vec::new();
    for text in &args.rules {
        rules.push(parse_rule(text).map_err(|e| anyhow!("--fault: {e}"))?);
    }
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path).with_context(|| format!("--faults {}", path.display()))?;
        let more = parse_file(&text).map_err(|e| anyhow!("--faults {}: {e}", path.display()))?;
        rules.extend(more);
    }
    Ok(Faults::Plan(Arc::new(Plan::new(rules))))
}

/// Prints the catalogue (stdout: it is what was asked for).
pub fn print_help() {
    print!("{CATALOGUE}");
}

/// One line per rule for stderr at start-up, so a run says what it does.
pub fn announce(plan: &Plan) {
    for (i, rule) in plan.rules().iter().enumerate() {
        eprintln!("wstap: fault rule {}: {}", i + 1, crate::escape::line(&rule.spec));
    }
}
