//! Golden tests against the real Autobahn 7.3.1 report (agent ixwebsocket).
//!
//! `testdata/autobahn-7.3.1.txt` is the real per-case page rendered as text;
//! `testdata/autobahn-7.3.1.json` is what CPython 2.7's
//! `json.dumps(sort_keys=True, indent=3, separators=(',', ': '))` prints for
//! the same data (generated once with Python, not with this code).

use super::*;
use std::collections::BTreeMap;

const SAMPLE_TEXT: &str = include_str!("testdata/autobahn-7.3.1.txt");
const SAMPLE_JSON: &str = include_str!("testdata/autobahn-7.3.1.json");

/// The upgrade request as sent, reconstructed from the sample with CRLFs.
fn request() -> String {
    [
        "GET /runCase?case=216&agent=ixwebsocket HTTP/1.1",
        "Host: localhost:9001",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: fCh04Ca6b6A7fae84g38ga==",
        "User-Agent: ixwebsocket/7.9.2 macos ssl/DarwinSSL zlib 1.2.11",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
        "",
        "",
    ]
    .join("\r\n")
}

fn response() -> String {
    [
        "HTTP/1.1 101 Switching Protocols",
        "Server: AutobahnTestSuite/0.8.0-0.10.9",
        "X-Powered-By: AutobahnPython/0.10.9",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: sogaiT6mzRUTxWSs2ro4y1aVp3k=",
        "",
        "",
    ]
    .join("\r\n")
}

/// The wire traffic of the sample, as the fuzzer saw it.
fn trace() -> WireTrace {
    let mut trace = WireTrace::default();
    trace.rx_octets(request().as_bytes());
    trace.tx_octets(response().as_bytes(), false);
    trace.tx_frame(&TxFrameSpec { opcode: 8, fin: true, ..Default::default() });
    trace.tx_octets(&[0x88, 0x00], false);
    trace.log(WireLogEntry::KillAfter(1.0));
    trace.rx_octets(&[0x88, 0x80, 0x5e, 0x17, 0xaa, 0x53]);
    trace.rx_frame(b"", 8, true, 0, Some([0x5e, 0x17, 0xaa, 0x53]));
    trace
}

pub(super) fn sample_7_3_1() -> CaseReport {
    let mut r = CaseReport::new("ixwebsocket");
    r.case = 216;
    r.id = "7.3.1".into();
    r.description = "Send a close frame with payload length 0 (no close code, no close reason)".into();
    r.expectation = "Clean close with normal code.".into();
    r.started = "2020-01-09T22:33:55.393Z".into();
    r.duration = 3;
    r.expected = BTreeMap::from([("OK".to_owned(), vec![])]);
    r.expected_close =
        ExpectedClose { close_code: vec![1000], closed_by_me: true, require_clean: true, ..Default::default() };
    r.result = "Actual events match at least one expected.".into();
    r.result_close = "Connection was properly closed".into();
    r.closed_by_me = true;
    r.dropped_by_me = true;
    r.was_clean = true;
    r.http_request = request();
    r.http_response = response();
    r.set_trace(trace());
    r
}

#[test]
fn text_matches_real_report_byte_for_byte() {
    let got = render_text(&sample_7_3_1());
    if got != SAMPLE_TEXT {
        let first = got.lines().zip(SAMPLE_TEXT.lines()).position(|(a, b)| a != b);
        panic!("first differing line: {first:?}\n--- got ---\n{got}\n--- want ---\n{SAMPLE_TEXT}");
    }
}

#[test]
fn reconstructed_handshake_matches_sample_sizes() {
    // The sample's statistics say 350 and 206 bytes; its truncated hex
    // prefixes are checked by the byte-for-byte test.
    assert_eq!(request().len(), 350);
    assert_eq!(response().len(), 206);
    assert_eq!(sample_7_3_1().rx_octet_stats, [6, 350].into_iter().collect());
}

#[test]
fn json_matches_python_layout() {
    assert_eq!(render_json(&sample_7_3_1()), SAMPLE_JSON.trim_end());
}

#[test]
fn text_without_case_sections_omits_verdict() {
    let text = render_text_with(&sample_7_3_1(), &TextOptions { case_sections: false });
    assert!(text.contains("\nixwebsocket - 3 ms @ 2020-01-09T22:33:55.393Z\n\nOpening Handshake\n"), "{text}");
    assert!(!text.contains("Case Outcome") && !text.contains(": Pass"));
    assert!(text.ends_with("007 TCP DROPPED BY ME"));
}

fn hostile() -> CaseReport {
    let mut r = sample_7_3_1();
    r.agent = "<b>evil</b>".into();
    r.remote_close_reason = Some("</td><script>alert(1)</script>".into());
    r.received = vec![CaseEvent::message(b"<script>alert('x')</script>", false)];
    r.wirelog.push(WireLogEntry::rx_frame(b"<script>alert(2)</script>", 1, true, 0, None));
    r
}

#[test]
fn html_escapes_everything_from_the_wire() {
    let html = render_html(&hostile());
    assert!(!html.contains("<script"), "unescaped script in:\n{html}");
    assert!(!html.contains("<b>evil"));
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(html.contains("&lt;/td&gt;&lt;script&gt;alert(1)"));
    // Python picks double quotes for a repr holding only single quotes.
    assert!(html.contains("u&quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;"), "repr, then HTML-escaped");
}

#[test]
fn html_has_autobahn_sections_and_classes() {
    let html = render_html(&sample_7_3_1());
    for needle in [
        "<div class=\"summary case_ok\">ixwebsocket - Case 7.3.1 : Pass - 3 ms @ 2020-01-09T22:33:55.393Z</div>",
        "<tr><td>wasClean</td><td>True</td>",
        "<pre class=\"wirelog_rx_frame\">006 RX FRAME : OPCODE=8, FIN=True, RSV=0, PAYLOAD-LEN=0, MASKED=True, MASK=3565313761613533</pre>",
        "<pre class=\"wirelog_rx_octets\">               486f73743a206c6f63616c686f73 ...</pre>",
        "<pre class=\"wirelog_kill_after\">004 FAIL CONNECTION AFTER 1.000000 sec</pre>",
        "<tr><td>350</td><td>1</td><td>350</td></tr>",
        "<pre class=\"wirelog_tcp_closed_by_me\">007 TCP DROPPED BY ME</pre>",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(!html.contains("src=") && !html.contains("http://") && !html.contains("https://"), "not self-contained");
}

fn other_agent_case(agent: &str, id: &str, behavior: Behavior, close: CloseBehavior) -> CaseReport {
    let mut r = sample_7_3_1();
    r.agent = agent.into();
    r.id = id.into();
    r.behavior = behavior;
    r.behavior_close = close;
    r.remote_close_code = Some(1002);
    r
}

fn index_reports() -> Vec<CaseReport> {
    vec![
        other_agent_case("Zeta Client", "7.3.1", Behavior::Failed, CloseBehavior::WrongCode),
        sample_7_3_1(),
        other_agent_case("ixwebsocket", "10.1.1", Behavior::Ok, CloseBehavior::Unclean),
        other_agent_case("ixwebsocket", "2.1", Behavior::NonStrict, CloseBehavior::Ok),
    ]
}

#[test]
fn index_json_lists_each_agent_and_case() {
    let json = render_index_json(&index_reports());
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["ixwebsocket"]["7.3.1"],
        serde_json::json!({"behavior": "OK", "behaviorClose": "OK", "duration": 3, "remoteCloseCode": null, "reportfile": "ixwebsocket_case_7_3_1.json"})
    );
    assert_eq!(value["Zeta Client"]["7.3.1"]["reportfile"], "zeta_client_case_7_3_1.json");
    assert_eq!(value["Zeta Client"]["7.3.1"]["behaviorClose"], "WRONG CODE");
    // Case IDs sort as strings, like Python's sort_keys.
    let ix = json.find("\"ixwebsocket\"").unwrap();
    let at = |id: &str| ix + json[ix..].find(id).unwrap();
    let (a, b, c) = (at("\"10.1.1\""), at("\"2.1\""), at("\"7.3.1\""));
    assert!(a < b && b < c, "{json}");
    assert!(
        json.starts_with("{\n   \"Zeta Client\": {\n      \"7.3.1\": {\n         \"behavior\": \"FAILED\","),
        "{json}"
    );
}

#[test]
fn index_html_orders_agents_and_cases_and_colours_cells() {
    let html = render_index_html(&index_reports());
    let pos = |s: &str| html.find(s).unwrap_or_else(|| panic!("missing {s}"));
    assert!(pos("Case 2.1<") < pos("Case 7.3.1<") && pos("Case 7.3.1<") < pos("Case 10.1.1<"));
    // Agents sort like Python's sorted(): by code point, so "Z" before "i".
    assert!(pos("<th colspan=\"2\">Zeta Client</th>") < pos("<th colspan=\"2\">ixwebsocket</th>"));
    assert!(html.contains("<th>7 Close Handling</th>"));
    assert!(html.contains("7.3 Close frame structure: payload length (fuzzer initiated)</td>"));
    assert!(html.contains("<a href=\"#case_desc_7_3_1\">Case 7.3.1</a>"));
    assert!(html.contains("<td class=\"case_ok\"><a href=\"ixwebsocket_case_7_3_1.html\">Pass</a></td><td class=\"close case_ok\">None</td>"));
    assert!(html.contains("<td class=\"case_failed\"><a href=\"zeta_client_case_7_3_1.html\">Fail</a></td><td class=\"close case_non_strict\">1002</td>"));
    assert!(html.contains("<td class=\"close case_failed\">Unclean</td>"));
    // Zeta Client has no 2.1 result.
    assert!(html.contains("<td class=\"case_missing\">Missing</td>"));
    assert!(html.contains("id=\"case_desc_7_3_1\""));
}

#[test]
fn writes_report_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports/clients");
    write_report_dir(&out, &index_reports()).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "index.html",
            "index.json",
            "ixwebsocket_case_10_1_1.html",
            "ixwebsocket_case_10_1_1.json",
            "ixwebsocket_case_2_1.html",
            "ixwebsocket_case_2_1.json",
            "ixwebsocket_case_7_3_1.html",
            "ixwebsocket_case_7_3_1.json",
            "zeta_client_case_7_3_1.html",
            "zeta_client_case_7_3_1.json",
        ]
    );
    let json = std::fs::read_to_string(out.join("ixwebsocket_case_7_3_1.json")).unwrap();
    assert_eq!(json, render_json(&sample_7_3_1()));
}

#[test]
fn index_html_shows_12_13_titles_times_and_compression_ratios() {
    let mut done = other_agent_case("python", "13.7.1", Behavior::Ok, CloseBehavior::Ok);
    done.report_time = true;
    done.report_compression_ratio = true;
    done.duration = 289;
    done.traffic_stats =
        Some(serde_json::json!({"incomingCompressionRatio": 0.2920625, "outgoingCompressionRatio": null}));
    let mut unimplemented = other_agent_case("python", "12.2.3", Behavior::Unimplemented, CloseBehavior::Ok);
    unimplemented.report_compression_ratio = true;
    let html = render_index_html(&[done, unimplemented]);
    assert!(html.contains("Pass</a><br/>289 ms [0.292/-]</td>"), "{html}");
    assert!(html.contains("<td class=\"case_unimplemented\">Unimplemented</td>"));
    assert!(html.contains("<th>12 WebSocket Compression (different payloads)</th>"));
    assert!(html.contains("12.2 Picture, Bitmap 512x512 grey (binary, 263222 bytes)</td>"), "{html}");
    let offers = "13.7 Large JSON data file (utf8, 194684 bytes) - client offers (requestNoContextTakeover, \
                  requestMaxWindowBits): [(True, 9), (True, 0), (False, 0)] / server accept (requestNoContextTakeover, \
                  requestMaxWindowBits): [(True, 9), (True, 0), (False, 0)]</td>";
    assert!(html.contains(offers), "{html}");
}
