//! Parsing errors, and the shipped category-7 catalogue checked against the
//! reference's bytes (§1.3).

use std::path::{Path, PathBuf};

use super::payload::{decode_hex, encode_hex};
use super::*;

fn parse_err(yaml: &str) -> ScenarioError {
    Scenario::parse(yaml, Path::new("bad.yaml")).unwrap_err()
}

const MINIMAL: &str = "\
id: '9.9.9'
description: d
expectation: e
actions:
  - frame: {opcode: text}
expect:
  events: {OK: []}
  close: {closed_by_me: true, codes: [1000], require_clean: true}
";

#[test]
fn minimal_scenario_parses_with_defaults() {
    let s = Scenario::parse(MINIMAL, Path::new("ok.yaml")).unwrap();
    assert_eq!(s.handshake, Handshake::default());
    assert_eq!(s.expect.events.non_strict, None);
    assert!(!s.expect.auto_close && !s.expect.wrong_code_fails);
    let Step::Send(send) = &s.plan()[0] else { panic!() };
    assert_eq!(send.bytes(), [0x81, 0x00]);
}

#[test]
fn unknown_field_names_file_line_column_and_expected_fields() {
    let yaml = MINIMAL.replace("  - frame: {opcode: text}", "  - frame: {opcode: text, finn: false}");
    let err = parse_err(&yaml);
    assert_eq!(err.position, Some((5, 27)));
    let text = err.to_string();
    assert!(text.starts_with("bad.yaml:5:27: "), "{text}");
    assert!(text.contains("unknown field `finn`, expected one of"), "{text}");
    assert!(text.contains("`fin`"), "{text}");
}

#[test]
fn unknown_top_level_field_is_an_error() {
    let err = parse_err(&format!("{MINIMAL}extra: 1\n"));
    assert_eq!(err.position.map(|p| p.0), Some(9));
    assert!(err.message.contains("unknown field `extra`"), "{err}");
}

#[test]
fn out_of_range_values_say_what_was_expected() {
    let cases = [
        ("{opcode: 16}", "expected an opcode 0-15"),
        ("{opcode: texts}", "expected an opcode 0-15"),
        ("{opcode: text, rsv: 8}", "expected rsv 0-7"),
        ("{opcode: text, len_form: 32}", "expected len_form 7, 16 or 64"),
        ("{opcode: text, payload: {hex: 'abc'}}", "even number of hex digits"),
        ("{opcode: text, mask: '0102'}", "4 bytes"),
    ];
    for (frame, expected) in cases {
        let yaml = MINIMAL.replace("{opcode: text}", frame);
        let err = parse_err(&yaml);
        assert_eq!(err.position.map(|p| p.0), Some(5), "{frame}: {err}");
        assert!(err.message.contains(expected), "{frame}: {err}");
    }
}

#[test]
fn missing_field_and_cross_field_errors() {
    let err = parse_err(&MINIMAL.replace("description: d\n", ""));
    assert!(err.message.contains("missing field `description`"), "{err}");
    let err = parse_err(&MINIMAL.replace("{opcode: text}", "{opcode: text, len: 300, len_form: 7}"));
    assert_eq!(err.to_string(), "bad.yaml: actions[0]: expected a length that fits len_form 7, got 300");
    let err = parse_err(&MINIMAL.replace("- frame: {opcode: text}", "- kill_after: 0"));
    assert!(err.message.starts_with("actions[0]: expected kill_after"), "{err}");
    let err = parse_err(&MINIMAL.replace("- frame: {opcode: text}", "- kill_after: 1e300"));
    assert!(err.message.starts_with("actions[0]: expected kill_after"), "{err}");
    let huge = "{opcode: text, payload: {text: x}, repeat_to: 1099511627776}";
    let err = parse_err(&MINIMAL.replace("{opcode: text}", huge));
    assert!(err.message.contains("expected repeat_to of at most"), "{err}");
}

#[test]
fn broken_yaml_syntax_is_located() {
    let err = parse_err("id: [unclosed\n");
    assert!(err.position.is_some(), "{err}");
    assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "id: 1\nnope: 2\n").unwrap();
    let text = load(&path).unwrap_err().to_string();
    assert!(text.starts_with(&format!("{}:", path.display())), "{text}");
    let missing = load(&dir.path().join("none.yaml")).unwrap_err();
    assert_eq!(missing.position, None);
}

// ---- the shipped catalogue ----

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Category 7, which the tests below check against §1.3 of the reference.
fn catalogue_dir() -> PathBuf {
    scenarios_dir().join("7")
}

fn catalogue() -> Vec<Scenario> {
    load_dir(&catalogue_dir()).unwrap()
}

/// Every `Send` of a plan, kill timers as `KL<secs>`, in order.
fn wire_of(s: &Scenario) -> Vec<String> {
    s.plan()
        .iter()
        .map(|step| match step {
            Step::Send(send) | Step::Close { send, .. } => encode_hex(&send.bytes()),
            Step::KillAfter(secs) => format!("KL{secs}"),
            other => format!("{other:?}"),
        })
        .collect()
}

const HELLO: &str = "810c48656c6c6f20576f726c6421";
const CLOSE_1000: &str = "880203e8";

/// The frames of §1.3, typed from the reference, not from the YAML.
fn reference_frames(id: &str) -> Vec<String> {
    let stars = |n| "2a".repeat(n);
    let frames: Vec<String> = match id {
        "7.1.1" => vec![HELLO.into()],
        "7.1.2" => vec![CLOSE_1000.into(), "8800".into()],
        "7.1.3" => vec![CLOSE_1000.into(), "8900".into()],
        "7.1.4" => vec![CLOSE_1000.into(), HELLO.into()],
        "7.1.5" => vec!["0109667261676d656e7431".into(), CLOSE_1000.into(), "8009667261676d656e7432".into()],
        "7.1.6" => vec![big_message_hex(), HELLO.into(), CLOSE_1000.into(), "8900".into()],
        "7.3.1" => vec!["8800".into()],
        "7.3.2" => vec!["880161".into()],
        "7.3.3" => vec![CLOSE_1000.into()],
        "7.3.4" => vec!["880e03e848656c6c6f20576f726c6421".into()],
        "7.3.5" => vec![format!("887d03e8{}", stars(123))],
        "7.3.6" => vec![format!("887e007e03e8{}", stars(124))],
        "7.5.1" => vec!["881603e8cebae1bdb9cf83cebcceb5eda080656469746564".into()],
        "7.13.1" => vec!["88021388".into()],
        "7.13.2" => vec!["8802ffff".into()],
        _ => vec![close_code_frame(id)],
    };
    frames.into_iter().chain(["KL1".to_string()]).collect()
}

fn big_message_hex() -> String {
    let pattern = b"BAsd7&jh23";
    let body: Vec<u8> = (0..262144).map(|i| pattern[i % 10]).collect();
    assert!(body.ends_with(b"BAsd"));
    format!("817f0000000000040000{}", encode_hex(&body))
}

/// 7.7.N / 7.9.N: `8802` + the wire column of the reference tables.
fn close_code_frame(id: &str) -> String {
    const VALID: [&str; 13] =
        ["03e8", "03e9", "03ea", "03eb", "03ef", "03f0", "03f1", "03f2", "03f3", "0bb8", "0f9f", "0fa0", "1387"];
    const INVALID: [&str; 9] = ["0000", "03e7", "03ec", "03ed", "03ee", "03f8", "044c", "07d0", "0bb7"];
    let (table, n) = match id.rsplit_once('.') {
        Some(("7.7", n)) => (&VALID[..], n),
        Some(("7.9", n)) => (&INVALID[..], n),
        _ => panic!("no reference frames for {id}"),
    };
    format!("8802{}", table[n.parse::<usize>().unwrap() - 1])
}

#[test]
fn catalogue_has_the_37_category_7_ids_in_order() {
    let ids: Vec<String> = catalogue().into_iter().map(|s| s.id).collect();
    let mut expected: Vec<String> = (1..=6).map(|n| format!("7.1.{n}")).collect();
    expected.extend((1..=6).map(|n| format!("7.3.{n}")));
    expected.push("7.5.1".into());
    expected.extend((1..=13).map(|n| format!("7.7.{n}")));
    expected.extend((1..=9).map(|n| format!("7.9.{n}")));
    expected.extend((1..=2).map(|n| format!("7.13.{n}")));
    assert_eq!(ids, expected);
}

/// `scenarios/<category>/<id>.yaml` (or `<sub-category>.yaml` for a grid
/// file), and nothing else in `scenarios/`.
#[test]
fn every_file_is_named_by_its_case_id_in_its_category_directory() {
    let mut files = 0;
    for category in std::fs::read_dir(scenarios_dir()).unwrap() {
        let dir = category.unwrap().path();
        assert!(dir.is_dir(), "{}: only category directories belong in scenarios/", dir.display());
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let file = path.file_name().unwrap().to_str().unwrap();
            if grid::is_grid(&text) {
                // A grid file is named by its sub-category: 12.1.yaml holds 12.1.*.
                let stem = file.strip_suffix(".yaml").unwrap();
                for case in grid::parse_file(&text, &path).unwrap() {
                    assert_eq!(case.id.rsplit_once('.').map(|(sub, _)| sub), Some(stem), "{}", path.display());
                }
            } else {
                assert_eq!(file, format!("{}.yaml", load(&path).unwrap().id));
            }
            assert_eq!(file.split('.').next(), Some(name.as_str()), "{}", path.display());
            files += 1;
        }
    }
    assert!(files >= 37, "{files} scenario files");
}

#[test]
fn catalogue_bytes_equal_the_reference() {
    for s in catalogue() {
        assert_eq!(wire_of(&s), reference_frames(&s.id), "case {}", s.id);
    }
}

#[test]
fn big_message_is_logged_as_pattern_plus_repeat_length() {
    let s = catalogue().into_iter().find(|s| s.id == "7.1.6").unwrap();
    let Step::Send(send) = &s.plan()[0] else { panic!() };
    assert_eq!((send.log.payload_len(), send.log.repeat_len), (10, Some(262144)));
    assert_eq!(send.writes.len(), 1);
    assert_eq!(send.writes[0].bytes.len(), 262154);
}

/// (closed_by_me, codes, require_clean) from §1.3's table.
fn reference_close(id: &str) -> (Vec<u16>, bool) {
    match id {
        "7.3.2" | "7.3.6" => (vec![1002], false),
        "7.5.1" => (vec![1002, 1007], false),
        "7.13.1" => (vec![1000, 5000, 1002], false),
        "7.13.2" => (vec![1000, 65535, 1002], false),
        _ if id.starts_with("7.7.") => {
            let hex = close_code_frame(id);
            (vec![1000, u16::from_str_radix(&hex[4..], 16).unwrap()], true)
        }
        _ if id.starts_with("7.9.") => (vec![1002], false),
        _ => (vec![1000], true),
    }
}

#[test]
fn catalogue_expectations_equal_the_reference() {
    for s in catalogue() {
        let close = &s.expect.close;
        assert!(close.closed_by_me, "{}", s.id);
        assert_eq!((close.codes.clone(), close.require_clean), reference_close(&s.id), "{}", s.id);
        let echoes = matches!(s.id.as_str(), "7.1.1" | "7.1.6");
        let ok = if echoes { vec![Event::text("Hello World!")] } else { vec![] };
        assert_eq!(s.expect.events.ok, Some(ok), "{}", s.id);
        assert_eq!(s.expect.events.non_strict, (s.id == "7.1.6").then(Vec::new), "{}", s.id);
        assert_eq!(s.expect.auto_close, s.id == "7.1.1", "{}", s.id);
        let post_rule = s.id != "7.1.6" && !s.id.starts_with("7.13.");
        assert_eq!(s.expect.wrong_code_fails, post_rule, "{}", s.id);
        assert_eq!(s.expect.informational.is_some(), !post_rule, "{}", s.id);
        assert_eq!(s.report.local_close_reason_hex, s.id == "7.5.1", "{}", s.id);
    }
}

#[test]
fn catalogue_texts_match_the_reference() {
    let by_id = |id: &str| catalogue().into_iter().find(|s| s.id == id).unwrap();
    let s = by_id("7.3.6");
    assert_eq!(
        s.description,
        "Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets"
    );
    assert_eq!(s.expectation, "Clean close with protocol error code or dropped TCP connection.");
    assert_eq!(by_id("7.7.10").description, "Send close with valid close code 3000");
    assert_eq!(by_id("7.9.3").description, "Send close with invalid close code 1004");
    assert_eq!(by_id("7.9.3").expectation, "Clean close with protocol error code or drop TCP");
    assert_eq!(by_id("7.1.3").expectation, "Clean close with normal code, no pong.");
    // 0.8.2's text (65535 is what is sent), as the Docker image most CI runs.
    assert_eq!(by_id("7.13.2").description, "Send close with close code 65536");
    assert!(by_id("7.1.6").expectation.ends_with("partially recieved."));
}

#[test]
fn local_close_bookkeeping_follows_the_reference_notes() {
    let local = |id: &str| {
        let s = catalogue().into_iter().find(|s| s.id == id).unwrap();
        s.plan().into_iter().find_map(|step| match step {
            Step::Close { close, .. } => Some(close),
            _ => None,
        })
    };
    assert_eq!(local("7.3.1"), Some(LocalClose { code: None, reason: None }));
    assert_eq!(local("7.3.2"), Some(LocalClose { code: None, reason: Some(b"a".to_vec()) }));
    let reason = decode_hex("cebae1bdb9cf83cebcceb5eda080656469746564").unwrap();
    assert_eq!(local("7.5.1"), Some(LocalClose { code: Some(1000), reason: Some(reason) }));
    assert_eq!(local("7.1.1"), None, "7.1.1 closes automatically");
}

#[test]
fn ids_are_numbers_joined_by_dots() {
    for good in ["7.3.1", "12.2.10", "1"] {
        assert!(check_id(good).is_ok(), "{good}");
    }
    for bad in ["../../x", "7.3.1/..", "", ".", "7..1", "7.1.", "a.b", "7.1.1 ", "1".repeat(40).as_str()] {
        let yaml = MINIMAL.replace("'9.9.9'", &format!("{bad:?}"));
        let err = parse_err(&yaml);
        assert!(err.message.starts_with("id: ") && err.message.contains("is not a case ID"), "{bad:?}: {err}");
    }
}

#[test]
fn deflate_offers_are_checked_when_the_file_loads() {
    let with =
        |offer: &str| MINIMAL.replace("actions:", &format!("handshake:\n  deflate_offer: [{offer:?}]\nactions:"));
    let ok = Scenario::parse(
        &with("permessage-deflate; client_max_window_bits; server_max_window_bits=9"),
        Path::new("ok.yaml"),
    )
    .unwrap();
    assert_eq!(ok.handshake.deflate_offer.len(), 1);
    for (offer, why) in [
        ("x-webkit-deflate-frame", "expected a permessage-deflate offer"),
        ("permessage-deflate, permessage-deflate", "no commas"),
        ("permessage-deflate; server_max_window_bits=16", "server_max_window_bits is not"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "given twice"),
        ("permessage-deflate; server_max_window_bits", "server_max_window_bits is not"),
    ] {
        let e = parse_err(&with(offer)).to_string();
        assert!(e.contains("handshake.deflate_offer[0]") && e.contains(why), "{offer}: {e}");
    }
}
