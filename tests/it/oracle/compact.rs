//! The compact form of a per-case report kept as a reference result
//! (`tests/oracle-results/`), for cases too slow to run the real suite in
//! CI (categories 12 and 13 take about 21 minutes against python
//! websockets).
//!
//! It keeps what verdict comparison needs and drops what only one run
//! knows (times, keys, masks, the wire log, octet statistics):
//! [`FIELDS`], plus the `Sec-WebSocket-Extensions` the client offered and
//! the fuzzer accepted (13.x differ only in those). `trafficStats` is kept
//! whole, but its octet counts and compression ratios depend on the test
//! data, which wstap ships its own of (`data/deflate-corpus/`); only its message
//! and frame counts are comparable across corpora ([`COMPARABLE_TRAFFIC`]).

use serde_json::{Map, Value, json};

use super::compare::Difference;
use super::reports::Reports;

/// Per-case fields kept as they are.
pub const FIELDS: [&str; 26] = [
    "id",
    "case",
    "description",
    "expectation",
    "isServer",
    "behavior",
    "behaviorClose",
    "result",
    "resultClose",
    "expected",
    "expectedClose",
    "received",
    "closedByMe",
    "failedByMe",
    "droppedByMe",
    "wasClean",
    "wasNotCleanReason",
    "wasServerConnectionDropTimeout",
    "wasOpenHandshakeTimeout",
    "wasCloseHandshakeTimeout",
    "localCloseCode",
    "localCloseReason",
    "remoteCloseCode",
    "remoteCloseReason",
    "reportTime",
    "reportCompressionRatio",
];

/// `trafficStats` fields that do not depend on the test data's content.
pub const COMPARABLE_TRAFFIC: [&str; 2] = ["incomingWebSocketMessages", "outgoingWebSocketMessages"];

/// The compact form of one per-case report.
pub fn case(report: &Value) -> Value {
    let mut out = Map::new();
    for key in FIELDS {
        out.insert(key.into(), report.get(key).cloned().unwrap_or(Value::Null));
    }
    let header = |field: &str| extensions(report.get(field).and_then(Value::as_str).unwrap_or_default());
    out.insert("offeredExtensions".into(), header("httpRequest"));
    out.insert("acceptedExtensions".into(), header("httpResponse"));
    out.insert("trafficStats".into(), report.get("trafficStats").cloned().unwrap_or(Value::Null));
    Value::Object(out)
}

/// The `Sec-WebSocket-Extensions` values of a header block, joined by ", ";
/// null if there is none.
fn extensions(block: &str) -> Value {
    let values: Vec<&str> = block
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|(_, value)| value.trim())
        .collect();
    if values.is_empty() { Value::Null } else { values.join(", ").into() }
}

/// The reference file for one agent's results: provenance plus the
/// compact cases in case-number order.
pub fn reference(reports: &Reports, agent: &str, provenance: Value) -> Result<Value, String> {
    let cases = reports.agents.get(agent).ok_or(format!("no results for agent {agent}"))?;
    let mut list: Vec<Value> = cases.values().map(|(_, report)| case(report)).collect();
    list.sort_by_key(|c| c["case"].as_u64().unwrap_or(u64::MAX));
    Ok(json!({ "provenance": provenance, "agent": agent, "cases": list }))
}

/// What differs between a reference file and `ours` (one agent's results,
/// compacted the same way), ignoring the data-dependent parts of
/// `trafficStats`. For the catalogue's 12/13 tests.
pub fn against_reference(reference: &Value, ours: &Reports, agent: &str) -> Vec<Difference> {
    let empty = Default::default();
    let ours = ours.agents.get(agent).unwrap_or(&empty);
    let mut out = Vec::new();
    let theirs = reference["cases"].as_array().cloned().unwrap_or_default();
    for want in &theirs {
        let id = want["id"].as_str().unwrap_or_default().to_owned();
        let mut diff = |field: &str, left: String, right: String| {
            out.push(Difference { agent: agent.into(), case: id.clone(), field: field.into(), left, right });
        };
        let Some((_, report)) = ours.get(&id) else {
            diff("(case)", "present".into(), "missing".into());
            continue;
        };
        let got = case(report);
        for (key, value) in want.as_object().into_iter().flatten() {
            let (want, got) = if key == "trafficStats" {
                (comparable_traffic(value), comparable_traffic(&got[key]))
            } else {
                (value.clone(), got[key].clone())
            };
            if want != got {
                diff(key, want.to_string(), got.to_string());
            }
        }
    }
    for id in ours.keys().filter(|id| !theirs.iter().any(|c| c["id"] == id.as_str())) {
        out.push(Difference {
            agent: agent.into(),
            case: id.clone(),
            field: "(case)".into(),
            left: "missing".into(),
            right: "present".into(),
        });
    }
    out
}

fn comparable_traffic(stats: &Value) -> Value {
    match stats {
        Value::Object(map) => {
            let kept = COMPARABLE_TRAFFIC.iter().map(|k| (k.to_string(), map.get(*k).cloned().unwrap_or(Value::Null)));
            Value::Object(kept.collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(agent: &str, behavior: &str, in_octets: u64) -> Reports {
        let report = json!({
            "id": "12.1.1", "case": 1, "behavior": behavior, "started": "now",
            "httpRequest": "GET / HTTP/1.1\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            "httpResponse": "HTTP/1.1 101 x\r\n\r\n",
            "trafficStats": {"incomingWebSocketMessages": 1000, "incomingOctetsWireLevel": in_octets},
        });
        let mut r = Reports::default();
        r.agents.entry(agent.into()).or_default().insert("12.1.1".into(), (json!({}), report));
        r
    }

    #[test]
    fn a_reference_compares_verdicts_and_counts_but_not_the_datas_octets() {
        let reference = reference(&reports("a", "OK", 100), "a", json!({})).unwrap();
        assert_eq!(reference["cases"][0]["offeredExtensions"], "permessage-deflate");
        assert_eq!(reference["cases"][0]["acceptedExtensions"], Value::Null);
        assert!(reference["cases"][0].get("started").is_none());
        assert!(against_reference(&reference, &reports("a", "OK", 999), "a").is_empty());
        let diffs = against_reference(&reference, &reports("a", "FAILED", 100), "a");
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "behavior");
        let missing = against_reference(&reference, &Reports::default(), "a");
        assert_eq!(missing[0].field, "(case)");
    }
}

/// The committed reference files are whole: every 12.x/13.x case of 0.8.2's
/// catalogue (5 and 7 sub-categories of 18), in order, with provenance.
#[test]
fn reference_files_hold_every_12_13_case() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle-results");
    let mut ids: Vec<String> = Vec::new();
    for (major, subs) in [(12, 5), (13, 7)] {
        for sub in 1..=subs {
            ids.extend((1..=18).map(|n| format!("{major}.{sub}.{n}")));
        }
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        files += 1;
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let got: Vec<&str> = file["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(got, ids, "{}", path.display());
        for key in ["suite", "client", "date", "machine", "wallSeconds"] {
            assert!(!file["provenance"][key].is_null(), "{}: provenance.{key}", path.display());
        }
    }
    assert!(files >= 2, "reference files in {}", dir.display());
}
