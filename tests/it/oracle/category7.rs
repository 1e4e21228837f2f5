//! CI: category 7 (close handling, 37 cases), the real Autobahn 0.8.2 vs
//! `wstap serve`, against real clients; every report field equal after
//! normalisation, case by case, and the index.json entries too. Also the
//! oracle checked against itself in fuzzingclient mode, so the normalising
//! rules for that direction are proven before issue 12 relies on them.
//!
//! Each test runs both sides at once (about two seconds of real-suite time;
//! the cases' 1 s timers only run where a client stalls).

use super::*;

/// Category 7 has 37 cases in Autobahn 0.8.2.
const CATEGORY_7: usize = 37;

/// Where the shipped scenarios knowingly differ from 0.8.2: nothing (the
/// scenarios carry 0.8.2's texts, "recieved" and "65536" included).
const KNOWN: [(&str, &str, &str); 0] = [];

async fn category_7_against(test: &str, peer: Peer) {
    if !tools::ready(test, &[tools::wstest().map(|_| ()), peer.requirement()]) {
        return;
    }
    let selection = Selection::new(&["7.*"], &[]);
    let comparison = fuzzingserver_rechecked(peer, &selection, true).await.unwrap_or_else(|e| panic!("{e}"));
    comparison.assert_equal_except(CATEGORY_7, &KNOWN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_7_equals_autobahn_with_tokio_tungstenite() {
    category_7_against("category_7_equals_autobahn_with_tokio_tungstenite", Peer::Tungstenite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_7_equals_autobahn_with_python_websockets() {
    category_7_against("category_7_equals_autobahn_with_python_websockets", Peer::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_7_equals_autobahn_with_node_ws() {
    category_7_against("category_7_equals_autobahn_with_node_ws", Peer::Node).await;
}

/// Two runs of the real fuzzingclient against the same echo server differ
/// only in what [`normalise`] takes out (masks, keys, dates, times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_fuzzingclient_agrees_with_itself_after_normalisation() {
    let test = "the_real_fuzzingclient_agrees_with_itself_after_normalisation";
    if !tools::ready(test, &[tools::wstest().map(|_| ())]) {
        return;
    }
    let selection = Selection::new(&["7.*"], &[]);
    let first = ("first run", ClientFuzzer::Autobahn);
    let second = ("second run", ClientFuzzer::Autobahn);
    let comparison =
        fuzzingclient(Peer::Tungstenite, &selection, first, second).await.unwrap_or_else(|e| panic!("{e}"));
    comparison.assert_equal(CATEGORY_7);
}

/// Fuzzingclient mode: `wstap fuzz` against the real fuzzingclient,
/// category 7, on `peer`'s echo server: every report field equal after
/// normalisation, case by case.
async fn category_7_as_client_against(test: &str, peer: Peer) {
    if !tools::ready(test, &[tools::wstest().map(|_| ()), peer.requirement()]) {
        return;
    }
    let side = ClientSide::wstap_fuzz().unwrap_or_else(|| panic!("{test}: `wstap fuzz --help` does not run"));
    let selection = Selection::new(&["7.*"], &[]);
    let real = ("autobahn", ClientFuzzer::Autobahn);
    let ours = ("wstap", ClientFuzzer::Command(&side));
    let comparison = fuzzingclient_rechecked(peer, &selection, real, ours).await.unwrap_or_else(|e| panic!("{e}"));
    comparison.assert_equal_except(CATEGORY_7, &KNOWN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_7_as_client_equals_autobahn_on_tokio_tungstenite() {
    category_7_as_client_against("category_7_as_client_equals_autobahn_on_tokio_tungstenite", Peer::Tungstenite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_7_as_client_equals_autobahn_on_python_websockets() {
    category_7_as_client_against("category_7_as_client_equals_autobahn_on_python_websockets", Peer::Python).await;
}
