//! Keeping what a report directory already holds: a run that writes into
//! a directory with an `index.json` keeps every earlier (agent, case) it
//! does not run again, beside its own results, in `index.json` and
//! `index.html` (issue 11: a second agent is added beside the first, and
//! categories run one at a time add up to one report).
//!
//! Contracts:
//! - a result of this run replaces the earlier one of the same agent and
//!   case id; everything else of the earlier index stays, its per-case
//!   files untouched on disk;
//! - an earlier entry is read from its per-case JSON file (for the
//!   description, expectation and the index's timing and compression
//!   cells) and falls back to the index entry alone when that file is
//!   missing or unreadable;
//! - `reportfile` names are untrusted: only a plain file name ending in
//!   `.json` is opened, inside the directory, never a path;
//! - an unreadable or malformed `index.json` keeps nothing and says so in
//!   the returned warning; it never stops the new reports being written.

use super::autobahn::{Behavior, CaseReport, CloseBehavior};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The earlier results in `dir` that `current` does not replace, and a
/// warning when the earlier index could not be read.
pub fn earlier_reports(dir: &Path, current: &[CaseReport]) -> (Vec<CaseReport>, Option<String>) {
    let path = dir.join("index.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), None),
        Err(e) => return (Vec::new(), Some(format!("{}: {e}; its earlier results are not kept", path.display()))),
    };
    let index: Value = match serde_json::from_str(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return (Vec::new(), Some(format!("{}: not a JSON object; earlier results not kept", path.display()))),
        Err(e) => return (Vec::new(), Some(format!("{}: {e}; its earlier results are not kept", path.display()))),
    };
    let replaced: BTreeSet<(&str, &str)> = current.iter().map(|r| (r.agent.as_str(), r.id.as_str())).collect();
    let mut kept = Vec::new();
    for (agent, cases) in index.as_object().into_iter().flatten() {
        for (id, entry) in cases.as_object().into_iter().flatten() {
            if replaced.contains(&(agent.as_str(), id.as_str())) {
                continue;
            }
            if let Some(report) = from_entry(dir, agent, id, entry) {
                kept.push(report);
            }
        }
    }
    (kept, None)
}

/// One earlier result: the index entry, filled in from its per-case file.
fn from_entry(dir: &Path, agent: &str, id: &str, entry: &Value) -> Option<CaseReport> {
    let behavior = behavior(entry["behavior"].as_str()?)?;
    let behavior_close = close_behavior(entry["behaviorClose"].as_str()?)?;
    let mut r = CaseReport::new(agent);
    r.id = id.to_owned();
    r.behavior = behavior;
    r.behavior_close = behavior_close;
    r.duration = entry["duration"].as_u64().unwrap_or(0);
    r.remote_close_code = entry["remoteCloseCode"].as_u64().and_then(|c| u16::try_from(c).ok());
    let case = entry["reportfile"].as_str().filter(|f| is_plain_json_name(f)).and_then(|f| {
        let text = std::fs::read_to_string(dir.join(f)).ok()?;
        serde_json::from_str::<Value>(&text).ok()
    });
    if let Some(case) = case.filter(|c| c["id"].as_str() == Some(id)) {
        let text = |key: &str| case[key].as_str().unwrap_or_default().to_owned();
        r.description = text("description");
        r.expectation = text("expectation");
        r.case = case["case"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        r.report_time = case["reportTime"].as_bool().unwrap_or(false);
        r.report_compression_ratio = case["reportCompressionRatio"].as_bool().unwrap_or(false);
        r.traffic_stats = Some(case["trafficStats"].clone()).filter(|v| v.is_object());
    }
    Some(r)
}

/// What the index shows of `r`, without its events and wire log (which
/// can be megabytes per case in category 9), so that merging costs no
/// copy of them.
pub fn summary(r: &CaseReport) -> CaseReport {
    let mut s = CaseReport::new(r.agent.clone());
    s.id.clone_from(&r.id);
    s.case = r.case;
    s.behavior = r.behavior;
    s.behavior_close = r.behavior_close;
    s.duration = r.duration;
    s.remote_close_code = r.remote_close_code;
    s.description.clone_from(&r.description);
    s.expectation.clone_from(&r.expectation);
    s.report_time = r.report_time;
    s.report_compression_ratio = r.report_compression_ratio;
    s.traffic_stats.clone_from(&r.traffic_stats);
    s
}

/// A file name without any directory part, ending in `.json`.
fn is_plain_json_name(name: &str) -> bool {
    name.ends_with(".json")
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).file_name().is_some_and(|f| f == name)
}

fn behavior(text: &str) -> Option<Behavior> {
    use Behavior::*;
    [Ok, NonStrict, Failed, Informational, Unimplemented].into_iter().find(|b| b.as_str() == text)
}

fn close_behavior(text: &str) -> Option<CloseBehavior> {
    use CloseBehavior::*;
    [Ok, Failed, Unclean, WrongCode, FailedByClient, Informational].into_iter().find(|b| b.as_str() == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::write_report_dir;

    fn report(agent: &str, id: &str, behavior: Behavior) -> CaseReport {
        let mut r = CaseReport::new(agent);
        r.id = id.to_owned();
        r.behavior = behavior;
        r.description = format!("case {id}");
        r.remote_close_code = Some(1000);
        r
    }

    fn index(dir: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap()
    }

    #[test]
    fn a_second_run_adds_its_agent_beside_the_first_and_replaces_only_what_it_reran() {
        let dir = tempfile::tempdir().unwrap();
        write_report_dir(dir.path(), &[report("first", "1.1.1", Behavior::Ok), report("first", "7.1.1", Behavior::Ok)])
            .unwrap();
        write_report_dir(dir.path(), &[report("second", "1.1.1", Behavior::Failed)]).unwrap();
        let both = index(dir.path());
        assert_eq!(both["first"]["1.1.1"]["behavior"], "OK");
        assert_eq!(both["first"]["7.1.1"]["reportfile"], "first_case_7_1_1.json");
        assert_eq!(both["second"]["1.1.1"]["behavior"], "FAILED");
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        assert!(html.contains(">first</th>") && html.contains(">second</th>"), "{html}");
        assert!(html.contains("case 7.1.1"), "the description comes from the per-case file");
        // Re-running one case of the first agent replaces that case alone.
        write_report_dir(dir.path(), &[report("first", "7.1.1", Behavior::Failed)]).unwrap();
        let again = index(dir.path());
        assert_eq!(again["first"]["7.1.1"]["behavior"], "FAILED");
        assert_eq!(again["first"]["1.1.1"]["behavior"], "OK");
        assert_eq!(again["second"]["1.1.1"]["behavior"], "FAILED");
    }

    #[test]
    fn a_malformed_index_keeps_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.json"), "{ not json").unwrap();
        let (kept, warning) = earlier_reports(dir.path(), &[]);
        assert!(kept.is_empty());
        let warning = warning.expect("a warning");
        assert!(warning.contains("index.json") && warning.contains("line 1"), "{warning}");
        write_report_dir(dir.path(), &[report("a", "1.1.1", Behavior::Ok)]).unwrap();
        assert_eq!(index(dir.path())["a"]["1.1.1"]["behavior"], "OK");
    }

    #[test]
    fn a_hostile_reportfile_is_never_opened_as_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.json");
        std::fs::write(&secret, r#"{"id": "1.1.1", "description": "SECRET"}"#).unwrap();
        let reports = dir.path().join("reports");
        std::fs::create_dir(&reports).unwrap();
        for name in ["../secret.json", secret.to_str().unwrap()] {
            let index = serde_json::json!({"x": {"1.1.1": {
                "behavior": "OK", "behaviorClose": "OK", "duration": 1,
                "remoteCloseCode": 1000, "reportfile": name}}});
            std::fs::write(reports.join("index.json"), index.to_string()).unwrap();
            let (kept, warning) = earlier_reports(&reports, &[]);
            assert!(warning.is_none());
            assert_eq!(kept.len(), 1);
            assert_eq!(kept[0].description, "", "{name} was opened");
            assert_eq!(kept[0].behavior, Behavior::Ok);
        }
    }
}
