//! Long runs for people, not CI: ignored tests driven by environment
//! variables, run by `scripts/autobahn-compare` and
//! `scripts/autobahn-reference` (which document the variables).
//!
//! * [`compare`]: any selection, any peer, either mode; prints the
//!   per-case difference report and each side's wall time, and fails if
//!   anything differs.
//! * [`reference`]: runs only the real fuzzingserver and writes the compact
//!   reference file (`tests/oracle-results/`).

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::*;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn words(name: &str) -> Vec<String> {
    var(name).map(|v| v.split([' ', ',']).filter(|w| !w.is_empty()).map(String::from).collect()).unwrap_or_default()
}

fn selection() -> Selection {
    Selection { cases: words("WSTAP_ORACLE_CASES"), exclude: words("WSTAP_ORACLE_EXCLUDE") }
}

fn peer() -> Peer {
    let name = var("WSTAP_ORACLE_PEER").unwrap_or_else(|| "python".into());
    Peer::from_name(&name).unwrap_or_else(|| {
        let known: Vec<&str> = Peer::ALL.iter().map(|p| p.name()).collect();
        panic!("WSTAP_ORACLE_PEER={name:?}: one of {known:?}")
    })
}

/// `WSTAP_ORACLE_NUMBERS=210-246`: hard-coded case numbers for the driver.
fn numbers() -> Option<RangeInclusive<u32>> {
    let text = var("WSTAP_ORACLE_NUMBERS")?;
    let (a, b) = text.split_once('-').unwrap_or((&text, &text));
    let parse = |s: &str| s.trim().parse().unwrap_or_else(|_| panic!("WSTAP_ORACLE_NUMBERS={text:?}: FIRST-LAST"));
    Some(parse(a)..=parse(b))
}

fn require(test: &str, peer: Peer) {
    // A person asked for this run: a missing tool is an error, never a skip.
    for need in [tools::wstest().map(|_| ()), peer.requirement()] {
        if let Err(why) = need {
            panic!("{test}: {why}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long run; use scripts/autobahn-compare"]
async fn compare() {
    let peer = peer();
    require("compare", peer);
    let selection = selection();
    let mode = var("WSTAP_ORACLE_MODE").unwrap_or_else(|| "fuzzingserver".into());
    let against_itself = var("WSTAP_ORACLE_SELF").is_some();
    eprintln!("oracle: {mode}, peer {}, cases {:?}, exclude {:?}", peer.name(), selection.cases, selection.exclude);
    if var("WSTAP_ORACLE_ONLY").as_deref() == Some("autobahn") {
        return real_only(&mode, peer, &selection).await;
    }
    let comparison = match (mode.as_str(), against_itself) {
        ("fuzzingserver", false) => fuzzingserver(peer, &selection, numbers(), false).await,
        ("fuzzingserver", true) => {
            let agent = peer.name();
            let first = serve_side(Fuzzer::Autobahn, peer, agent, &selection, numbers()).await;
            let second = serve_side(Fuzzer::Autobahn, peer, agent, &selection, numbers()).await;
            first.and_then(|l| Ok(Comparison::new(("first run", "second run"), l, second?)))
        }
        ("fuzzingclient", false) => match ClientSide::wstap_fuzz() {
            Some(side) => {
                fuzzingclient(
                    peer,
                    &selection,
                    ("autobahn", ClientFuzzer::Autobahn),
                    ("wstap", ClientFuzzer::Command(&side)),
                )
                .await
            }
            None => {
                Err("this wstap has no `fuzz` command yet (issue 12); --self compares the real suite with itself"
                    .into())
            }
        },
        ("fuzzingclient", true) => {
            fuzzingclient(
                peer,
                &selection,
                ("first run", ClientFuzzer::Autobahn),
                ("second run", ClientFuzzer::Autobahn),
            )
            .await
        }
        (other, _) => Err(format!("WSTAP_ORACLE_MODE={other:?}: fuzzingserver or fuzzingclient")),
    };
    let comparison = comparison.unwrap_or_else(|e| panic!("{e}"));
    if let Some(keep) = var("WSTAP_ORACLE_KEEP") {
        let keep = PathBuf::from(keep);
        for (name, run) in [(comparison.names.0, &comparison.left), (comparison.names.1, &comparison.right)] {
            run.reports.write(&keep.join(name.replace(' ', "-"))).unwrap_or_else(|e| panic!("{e}"));
        }
        eprintln!("oracle: reports kept in {}", keep.display());
    }
    let report = comparison.report();
    println!("{report}");
    let results = comparison.left.reports.len().max(comparison.right.reports.len());
    assert!(results > 0, "no case ran: check the selection");
    assert!(comparison.diffs.is_empty(), "{} fields differ", comparison.diffs.len());
}

/// The real suite alone: its verdict counts per category and its wall time
/// (for categories wstap does not have yet).
async fn real_only(mode: &str, peer: Peer, selection: &Selection) {
    let run = match mode {
        "fuzzingserver" => serve_side(Fuzzer::Autobahn, peer, peer.name(), selection, numbers()).await,
        _ => {
            let server = peer.echo_server().await.unwrap_or_else(|e| panic!("{e}"));
            let servers = [(peer.name().to_owned(), server.url())];
            ClientFuzzer::Autobahn.run(&servers, selection).await
        }
    };
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    let mut counts: std::collections::BTreeMap<(u64, String), usize> = Default::default();
    for (id, (entry, _)) in run.reports.agents.values().flatten() {
        let category = id.split('.').next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let verdict = format!(
            "{} / {}",
            entry["behavior"].as_str().unwrap_or("?"),
            entry["behaviorClose"].as_str().unwrap_or("?")
        );
        *counts.entry((category, verdict)).or_default() += 1;
    }
    for ((category, verdict), n) in &counts {
        println!("category {category:>2}: {n:>4} × {verdict}");
    }
    println!(
        "wall time: autobahn {:.2} s ({} results, {mode}, {})",
        run.wall.as_secs_f64(),
        run.reports.len(),
        peer.name()
    );
    assert!(!run.reports.agents.is_empty(), "no case ran: check the selection");
}

/// Versions of what made a reference, for its provenance.
fn provenance(peer: Peer, selection: &Selection, run: &Run) -> serde_json::Value {
    let (wall, results) = (run.wall, run.reports.len());
    // When the run started: its first case's `started` (UTC, ms).
    let started =
        run.reports.agents.values().flat_map(|cases| cases.values()).filter_map(|(_, c)| c["started"].as_str()).min();
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(program).args(args).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
    };
    let library = match peer {
        Peer::Tungstenite => format!("tokio-tungstenite {}", locked_version("tokio-tungstenite")),
        Peer::Python => format!(
            "python websockets {} ({})",
            run("python3", &["-c", "import websockets; print(websockets.__version__)"]),
            run("python3", &["--version"])
        ),
        Peer::Node => {
            let package = tools::peers_dir().join("node/node_modules/ws/package.json");
            let version = std::fs::read_to_string(package)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["version"].as_str().map(String::from))
                .unwrap_or_default();
            format!("node ws {version} (node {})", run("node", &["--version"]))
        }
    };
    json!({
        "suite": "Autobahn|Testsuite 0.8.2 (autobahn 0.10.9, Python 2.7.18), wstest -m fuzzingserver",
        "client": library,
        "driver": format!("tests/peers/ ({} fuzzingserver client)", peer.name()),
        "cases": selection.cases,
        "exclude-cases": selection.exclude,
        "results": results,
        "date": started.unwrap_or_default(),
        "machine": format!("{} ({} cores)", run("uname", &["-srm"]), run("nproc", &[])),
        "wallSeconds": (wall.as_secs_f64() * 10.0).round() / 10.0,
        "regenerate": "scripts/autobahn-reference",
        "note": var("WSTAP_ORACLE_NOTE"),
    })
}

fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{package}\"\nversion = \"");
    lock.split_once(&needle).and_then(|(_, rest)| rest.split('"').next()).unwrap_or("?").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long run; use scripts/autobahn-reference"]
async fn reference() {
    let peer = peer();
    let selection = selection();
    let out = PathBuf::from(var("WSTAP_ORACLE_OUT").expect("WSTAP_ORACLE_OUT: the reference file to write"));
    let run = match var("WSTAP_ORACLE_FROM") {
        // Reports of a run made earlier the same way; the wall time is given.
        Some(dir) => {
            let wall = var("WSTAP_ORACLE_WALL_SECS").and_then(|s| s.parse().ok()).unwrap_or(0.0);
            let reports = Reports::read(&PathBuf::from(dir)).unwrap_or_else(|e| panic!("{e}"));
            Run { reports, wall: Duration::from_secs_f64(wall) }
        }
        None => {
            require("reference", peer);
            serve_side(Fuzzer::Autobahn, peer, peer.name(), &selection, numbers())
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let results = run.reports.len();
    assert!(results > 0, "no case ran: check the selection");
    let provenance = provenance(peer, &selection, &run);
    // Reports made earlier may name the agent otherwise; take their only one.
    let agent = match run.reports.agents.keys().collect::<Vec<_>>().as_slice() {
        [only] => only.to_string(),
        _ => peer.name().to_owned(),
    };
    let file = compact::reference(&run.reports, &agent, provenance).unwrap_or_else(|e| panic!("{e}"));
    let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("oracle: {results} results of {} in {:.1} s -> {}", peer.name(), run.wall.as_secs_f64(), out.display());
}

/// Categories 12 and 13 against the committed reference results
/// (`scripts/deflate-check`): `WSTAP_ORACLE_PEER` as the client,
/// `WSTAP_ORACLE_CASES` (default `12.* 13.*`) as the selection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long run; use scripts/deflate-check"]
async fn deflate() {
    let peer = peer();
    if let Err(why) = peer.requirement() {
        panic!("deflate: {why}");
    }
    let mut selection = selection();
    if selection.cases.is_empty() {
        selection.cases = vec!["12.*".into(), "13.*".into()];
    }
    let expected =
        deflate::restricted(&deflate::reference_file(peer.name()), &selection)["cases"].as_array().map_or(0, Vec::len);
    assert!(expected > 0, "no 12.x/13.x case in {selection:?}");
    deflate::against_reference("deflate", peer, peer.name(), selection, expected).await;
}
