//! The rule language and the tap, without sockets.

use super::*;
use crate::wire::{Direction, FrameHeader, OpCode};
use bytes::Bytes;

const S2C: Direction = Direction::ServerToClient;
const C2S: Direction = Direction::ClientToServer;
const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

fn frame(op: OpCode, payload: &[u8]) -> Vec<u8> {
    FrameHeader::new(op, payload.len() as u64).encode_frame(payload)
}

fn masked(op: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut h = FrameHeader::new(op, payload.len() as u64);
    h.mask = Some([1, 2, 3, 4]);
    h.encode_frame(payload)
}

fn close(code: u16, reason: &str) -> Vec<u8> {
    frame(OpCode::CLOSE, &close_payload(Some(code), reason))
}

/// What a tap did to `stream` read in `chunk`-byte reads.
#[derive(Debug, Default)]
struct Seen {
    written: Vec<u8>,
    writes: usize,
    faults: Vec<Fault>,
    end: Option<Ending>,
    sleeps: usize,
}

fn run(dir: Direction, rules: &[&str], stream: &[u8], chunk: usize) -> Seen {
    let rules = rules.iter().enumerate().map(|(i, r)| (i + 1, parse_rule(r).unwrap())).collect();
    let mut tap = DirTap::new(dir, rules);
    let mut seen = Seen::default();
    for piece in stream.chunks(chunk) {
        for op in tap.push(&Bytes::copy_from_slice(piece), std::time::Duration::ZERO) {
            match op {
                Op::Write(b) => {
                    seen.written.extend_from_slice(&b);
                    seen.writes += 1;
                }
                Op::Sleep(_) => seen.sleeps += 1,
                Op::Fault(f) => seen.faults.push(f),
                Op::End(e) => seen.end = Some(e),
            }
        }
    }
    seen
}

fn server(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = HEAD.to_vec();
    frames.iter().for_each(|f| out.extend_from_slice(f));
    out
}

#[test]
fn rules_parse_with_their_options() {
    let r = parse_rule("s2c first=close close-code=1011 reason=\"try again\"").unwrap();
    assert_eq!(r.dir, S2C);
    assert_eq!(r.trigger, Trigger::First(OpCode::CLOSE));
    assert_eq!(r.action, Action::CloseCode { code: Some(1011), reason: Some("try again".into()) });
    let r = parse_rule("c2s text=\"a \\\"b\\\"\" slice=3 gap=2ms aligned p=0.25 seed=9").unwrap();
    assert_eq!(r.trigger, Trigger::Text("a \"b\"".into()));
    let gap = std::time::Duration::from_millis(2);
    assert_eq!(r.action, Action::Slice { size: 3, gap, aligned: true });
    assert_eq!(r.chance, Some(Chance { p: 0.25, seed: 9 }));
    let r = parse_rule("s2c bytes=100 cut=rst at=7").unwrap();
    assert_eq!(r.action, Action::Cut { keep: Some(7), end: Ending::Rst });
    let r = parse_rule("s2c every inject-after=close:1001:bye").unwrap();
    assert_eq!(r.action, Action::Inject { what: Injected::Close(Some(1001), "bye".into()), after: true });
}

#[test]
fn errors_name_the_column_and_what_was_expected() {
    let cases = [
        ("s2x frame=1 drop", 1, "expected a direction"),
        ("s2c frm=3 drop", 5, "unknown trigger \"frm\""),
        ("s2c frame=0 drop", 5, "counts from 1"),
        ("s2c frame=3", 12, "expected an action"),
        ("s2c frame=3 explode", 13, "unknown action \"explode\""),
        ("s2c frame=3 delay=5", 13, "with a unit"),
        ("s2c frame=3 drop reason=x", 18, "applies only to close-code"),
        ("s2c text=\"open drop", 5, "not closed"),
        ("s2c every drop p=2", 16, "from 0 to 1"),
        ("c2s every inject-before=ping:", 11, ""),
    ];
    for (rule, column, message) in cases {
        match parse_rule(rule) {
            Err(e) => {
                assert_eq!(e.column, column, "{rule}: {e}");
                assert!(e.message.contains(message), "{rule}: {e}");
                assert!(e.to_string().contains(&format!("{}^", " ".repeat(column - 1))), "{e}");
            }
            Ok(_) if message.is_empty() => {}
            Ok(r) => panic!("{rule} parsed: {r:?}"),
        }
    }
}

#[test]
fn a_faults_file_error_names_its_line() {
    let text = "# faults\n- s2c first=close drop\n\n- 's2c frame=2 hold'\n- s2c frame=x rst\n";
    let e = parse_file(text).unwrap_err();
    assert_eq!((e.line, e.column), (Some(5), 5), "{e}");
    assert!(e.to_string().starts_with("line 5, column 5: "), "{e}");
    let rules = parse_file("- s2c first=close drop\n- 's2c frame=2 hold'\n").unwrap();
    assert_eq!(rules.len(), 2);
    let e = parse_file("rules: [").unwrap_err();
    assert!(e.message.contains("YAML list"), "{e}");
}

#[test]
fn without_a_matching_frame_every_byte_passes_in_one_write_per_read() {
    let stream = server(&[frame(OpCode::TEXT, b"hello"), close(1000, "")]);
    let seen = run(S2C, &["s2c frame=9 drop"], &stream, 4096);
    assert_eq!(seen.written, stream);
    assert_eq!(seen.writes, 1);
    assert!(seen.faults.is_empty() && seen.end.is_none());
}

#[test]
fn drop_withholds_the_close_frame_and_records_where() {
    let text = frame(OpCode::TEXT, b"hello");
    let stream = server(&[text.clone(), close(1000, "bye")]);
    for chunk in [1, 3, 4096] {
        let seen = run(S2C, &["s2c first=close drop"], &stream, chunk);
        assert_eq!(seen.written, server(std::slice::from_ref(&text)), "chunk {chunk}");
        let [f] = &seen.faults[..] else { panic!("{:?}", seen.faults) };
        assert_eq!((f.rule, f.action, f.offset, f.withheld), (1, "drop", (HEAD.len() + text.len()) as u64, 7));
    }
}

#[test]
fn rst_at_the_third_message_forwards_two() {
    let m = |t: &str| frame(OpCode::TEXT, t.as_bytes());
    let stream = server(&[m("one"), frame(OpCode::PING, b""), m("two"), m("three"), m("four")]);
    let seen = run(S2C, &["s2c message=3 rst"], &stream, 5);
    assert_eq!(seen.written, server(&[m("one"), frame(OpCode::PING, b""), m("two")]));
    assert_eq!(seen.end, Some(Ending::Rst));
    assert_eq!(seen.faults[0].action, "rst");
}

#[test]
fn cut_forwards_the_header_and_half_the_payload() {
    let big = frame(OpCode::BINARY, &vec![7u8; 65536]);
    let stream = server(std::slice::from_ref(&big));
    let seen = run(S2C, &["s2c first=binary cut=rst"], &stream, 16 * 1024);
    assert_eq!(seen.written.len(), HEAD.len() + 10 + 32768, "a 10-byte header");
    assert_eq!(seen.end, Some(Ending::Rst));
    assert_eq!(seen.faults[0].withheld, 32768);
    let seen = run(S2C, &[&format!("s2c bytes={} cut=fin", 10)], &stream, 1000);
    assert_eq!(seen.written.len(), HEAD.len() + 10, "cut at byte N of the frames");
    assert_eq!(seen.end, Some(Ending::Fin));
}

#[test]
fn close_code_is_replaced_and_a_client_close_stays_masked() {
    let stream = server(&[close(1000, "bye")]);
    let seen = run(S2C, &["s2c first=close close-code=1011"], &stream, 2);
    assert_eq!(seen.written, server(&[close(1011, "bye")]));
    assert_eq!(seen.faults[0].delivered.as_deref(), Some(&close(1011, "bye")[..]));
    let mut c = REQUEST.to_vec();
    c.extend(masked(OpCode::CLOSE, &close_payload(Some(1000), "")));
    let seen = run(C2S, &["c2s first=close close-code=none"], &c, 4096);
    let mut want = REQUEST.to_vec();
    want.extend(masked(OpCode::CLOSE, b""));
    assert_eq!(seen.written, want);
}

#[test]
fn text_matches_see_the_unmasked_payload() {
    let mut c = REQUEST.to_vec();
    let (a, b) = (masked(OpCode::TEXT, b"keep me"), masked(OpCode::TEXT, b"drop this one"));
    c.extend(&a);
    c.extend(&b);
    let seen = run(C2S, &["c2s text=\"this\" drop"], &c, 3);
    let mut want = REQUEST.to_vec();
    want.extend(&a);
    assert_eq!(seen.written, want);
}

#[test]
fn hold_and_fin_end_the_direction_instead_of_the_frame() {
    let stream = server(&[frame(OpCode::TEXT, b"a"), close(1000, "")]);
    for (rule, end) in [("s2c first=close hold", Ending::Hold), ("s2c first=close fin", Ending::Fin)] {
        let seen = run(S2C, &[rule], &stream, 4096);
        assert_eq!(seen.written, server(&[frame(OpCode::TEXT, b"a")]));
        assert_eq!(seen.end, Some(end));
    }
}

#[test]
fn inject_writes_a_frame_before_or_after() {
    let a = frame(OpCode::TEXT, b"a");
    let stream = server(std::slice::from_ref(&a));
    let seen = run(S2C, &["s2c first=text inject-before=ping:x"], &stream, 4096);
    assert_eq!(seen.written, server(&[frame(OpCode::PING, b"x"), a.clone()]));
    let seen = run(S2C, &["s2c first=text inject-after=raw:ff00"], &stream, 4096);
    let mut want = server(std::slice::from_ref(&a));
    want.extend([0xff, 0]);
    assert_eq!(seen.written, want);
    let mut c = REQUEST.to_vec();
    c.extend(masked(OpCode::TEXT, b"a"));
    let seen = run(C2S, &["c2s first=text inject-before=close:1000"], &c, 4096);
    assert!(seen.written[REQUEST.len()..].starts_with(&encode_frame(C2S, OpCode::CLOSE, &[3, 232], INJECT_MASK)));
}

#[test]
fn slice_writes_each_byte_alone_and_is_recorded_once() {
    let frames = [frame(OpCode::TEXT, b"hello"), close(1000, "")];
    let stream = server(&frames);
    let seen = run(S2C, &["s2c every slice=1"], &stream, 4096);
    assert_eq!(seen.written, stream);
    assert_eq!(seen.writes, 1 + frames.iter().map(Vec::len).sum::<usize>());
    assert_eq!(seen.faults.len(), 1, "{:?}", seen.faults);
    let seen = run(S2C, &["s2c every slice=4 gap=1ms aligned"], &stream, 4096);
    assert_eq!(seen.written, stream);
    assert_eq!(seen.writes, 1 + 2 + 1, "7-byte text frame in 4+3, the 4-byte close in one");
    assert_eq!(seen.sleeps, 2);
}

#[test]
fn a_non_websocket_answer_is_passed_through() {
    let mut stream = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno".to_vec();
    stream.extend(close(1000, ""));
    let seen = run(S2C, &["s2c every drop"], &stream, 7);
    assert_eq!(seen.written, stream);
}

#[test]
fn chance_is_the_same_for_the_same_seed() {
    let plan = Plan::new(vec![parse_rule("s2c every drop p=0.5 seed=7").unwrap()]);
    let picked = |plan: &Plan| (1..=64).filter(|&n| plan.for_connection(n).is_some()).collect::<Vec<u64>>();
    let first = picked(&plan);
    assert_eq!(first, picked(&plan.clone()));
    assert!((16..48).contains(&first.len()), "about half: {}", first.len());
    let other = Plan::new(vec![parse_rule("s2c every drop p=0.5 seed=8").unwrap()]);
    assert_ne!(first, picked(&other));
    assert!(Plan::new(vec![]).for_connection(1).is_none());
}

#[test]
fn a_close_fault_names_its_code() {
    let stream = server(&[close(1001, "away")]);
    let seen = run(S2C, &["s2c first=close drop"], &stream, 3);
    assert_eq!(seen.faults[0].detail, "frame 1 (close, 1001) was not forwarded");
}

#[test]
fn frame_and_after_triggers() {
    let m = |t: &str| frame(OpCode::TEXT, t.as_bytes());
    let stream = server(&[m("a"), frame(OpCode::PING, b""), m("b")]);
    let seen = run(S2C, &["s2c frame=2 drop"], &stream, 4096);
    assert_eq!(seen.written, server(&[m("a"), m("b")]), "the 2nd frame is the ping");
    let rules = vec![(1, parse_rule("s2c after=2s rst").unwrap())];
    let mut tap = DirTap::new(S2C, rules);
    let early = tap.push(&Bytes::from(server(&[m("a")])), std::time::Duration::from_secs(1));
    assert!(early.iter().all(|op| matches!(op, Op::Write(_))), "before 2 s: {early:?}");
    let late = tap.push(&Bytes::from(m("b")), std::time::Duration::from_secs(3));
    assert!(matches!(late.last(), Some(Op::End(Ending::Rst))), "{late:?}");
}

#[test]
fn dropping_a_message_drops_its_continuations_but_not_control_frames() {
    let mut first = FrameHeader::new(OpCode::TEXT, 3);
    first.fin = false;
    let mut cont = FrameHeader::new(OpCode::CONTINUATION, 3);
    cont.fin = false;
    let last = FrameHeader::new(OpCode::CONTINUATION, 3);
    let ping = frame(OpCode::PING, b"p");
    let after = frame(OpCode::TEXT, b"next");
    let frames =
        [first.encode_frame(b"abc"), cont.encode_frame(b"def"), ping.clone(), last.encode_frame(b"ghi"), after.clone()];
    let seen = run(S2C, &["s2c message=1 drop"], &server(&frames), 5);
    assert_eq!(seen.written, server(&[ping, after]));
    assert_eq!(seen.faults.len(), 3, "one per dropped frame: {:?}", seen.faults);
}

#[test]
fn rules_for_one_frame_combine_a_fate_a_delay_and_a_slice() {
    let stream = server(&[frame(OpCode::TEXT, b"abcd")]);
    let rules = ["s2c every slice=2", "s2c first=text delay=1ms", "s2c first=text inject-after=pong"];
    let seen = run(S2C, &rules, &stream, 4096);
    let mut want = stream.clone();
    want.extend(frame(OpCode::PONG, b""));
    assert_eq!(seen.written, want);
    assert_eq!(seen.sleeps, 1);
    let actions: Vec<&str> = seen.faults.iter().map(|f| f.action).collect();
    assert_eq!(actions, ["slice", "delay", "inject"]);
}
