//! CI: categories 12 and 13 (permessage-deflate, 216 cases), `wstap serve`
//! against real clients, compared with the real suite's results committed
//! in `tests/oracle-results/` (the real suite takes about 30 minutes per
//! client that speaks permessage-deflate, so it is not run here; see that
//! directory's README for provenance and `scripts/autobahn-reference` to
//! regenerate). Compared per case: the verdicts, result texts, closing
//! flags, the offered and accepted extensions, and the message counts of
//! `trafficStats` (octet counts depend on the test data, which differs:
//! [`super::compact`]).
//!
//! tokio-tungstenite offers no permessage-deflate: all 216 cases, each
//! UNIMPLEMENTED at once. python websockets runs a sample
//! ([`PYTHON_SAMPLE`]: every sub-category, both with and without
//! auto-fragmentation); `scripts/deflate-check` runs all 216 against python
//! websockets and node ws.

use serde_json::Value;
use wstap::scenario::select::CaseList;

use super::*;

/// One case of each sub-category with small messages, plus 12.x.11
/// (8192-octet messages auto-fragmented to 256) for the first four data
/// files, and 13.7.11 (the fallback policy, fragmented): 17
/// cases, a few seconds each on a loaded machine.
pub const PYTHON_SAMPLE: [&str; 17] = [
    "12.1.1", "12.1.11", "12.2.1", "12.2.11", "12.3.1", "12.3.11", "12.4.1", "12.4.11", "12.5.1", "13.1.1", "13.2.1",
    "13.3.1", "13.4.2", "13.5.1", "13.6.2", "13.7.1", "13.7.11",
];

/// The committed reference for `client` (`python`, `node`, `tungstenite`).
pub fn reference_file(client: &str) -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/oracle-results/{client}-12-13.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `reference` cut down to `selection`, numbered as a run of that
/// selection numbers them (the file's numbers are those of `12.*, 13.*`).
pub fn restricted(reference: &Value, selection: &Selection) -> Value {
    let cases = reference["cases"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = cases.iter().filter_map(|c| c["id"].as_str()).collect();
    let wanted = if selection.cases.is_empty() { vec!["*".to_owned()] } else { selection.cases.clone() };
    let list = CaseList::select(ids, &strs(&wanted), &strs(&selection.exclude));
    let mut kept = Vec::new();
    for mut case in cases {
        if let Some(n) = case["id"].as_str().and_then(|id| list.number_of(id)) {
            case["case"] = n.into();
            kept.push(case);
        }
    }
    let mut out = reference.clone();
    out["cases"] = Value::Array(kept);
    out
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs `peer` against `wstap serve` for `selection` and compares with
/// the committed reference of `client`; panics with every difference.
pub async fn against_reference(test: &str, peer: Peer, client: &str, selection: Selection, expected: usize) {
    if !tools::ready(test, &[peer.requirement()]) {
        return;
    }
    let reference = restricted(&reference_file(client), &selection);
    assert_eq!(reference["cases"].as_array().map(Vec::len), Some(expected), "reference cases for {selection:?}");
    let agent = reference["agent"].as_str().expect("the reference names its agent").to_owned();
    let run = serve_side(Fuzzer::Wstap, peer, &agent, &selection, None).await.unwrap_or_else(|e| panic!("{e}"));
    let diffs = compact::against_reference(&reference, &run.reports, &agent);
    let report = compare::render(&diffs, ("reference", "wstap"), expected);
    eprintln!("{test}: {} results in {:.1} s\n{report}", run.reports.len(), run.wall.as_secs_f64());
    assert_eq!(run.reports.len(), expected, "{report}");
    assert!(diffs.is_empty(), "wstap differs from the real suite's results:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_12_and_13_are_unimplemented_with_tokio_tungstenite_as_in_the_reference() {
    let test = "categories_12_and_13_are_unimplemented_with_tokio_tungstenite_as_in_the_reference";
    against_reference(test, Peer::Tungstenite, "tungstenite", Selection::new(&["12.*", "13.*"], &[]), 216).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_12_and_13_sample_equals_the_reference_with_python_websockets() {
    let test = "categories_12_and_13_sample_equals_the_reference_with_python_websockets";
    let selection = Selection::new(&PYTHON_SAMPLE, &[]);
    against_reference(test, Peer::Python, "python", selection, PYTHON_SAMPLE.len()).await;
}

#[test]
fn a_restricted_reference_is_numbered_as_its_selection() {
    let reference = restricted(&reference_file("python"), &Selection::new(&["12.2.*", "13.7.18"], &["12.2.3"]));
    let cases = reference["cases"].as_array().unwrap();
    let got: Vec<(&str, u64)> =
        cases.iter().map(|c| (c["id"].as_str().unwrap(), c["case"].as_u64().unwrap())).collect();
    assert_eq!(got.len(), 18);
    assert_eq!((got[0], got[2], got[17]), (("12.2.1", 1), ("12.2.4", 3), ("13.7.18", 18)));
}
