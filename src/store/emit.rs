//! A direct YAML emitter for the events a live recording writes most.
//!
//! The proxy writes a `read`, a `frame` and a `message` event for every small
//! message in each direction. Serialising those through serde and libyaml
//! cost more CPU than relaying the bytes (issue 7), so they are written here
//! by hand, in the layout serde_yaml uses. Anything rarer or harder to spell
//! (HTTP heads, multi-line text, violations, endings) still goes through
//! serde_yaml: [`write_event`] says when it declined.
//!
//! Strings are written plain only when they cannot be read back as anything
//! but that string (see [`is_plain_safe`]); otherwise double-quoted with every
//! character YAML does not allow raw escaped.

use crate::session::{Data, Direction, Event, EventKind, Frame, Message};
use std::io::Write;

/// Appends `event` as one YAML list item to `out`, or returns false (leaving
/// `out` untouched) if this event is left to serde_yaml.
pub(crate) fn write_event(out: &mut Vec<u8>, event: &Event) -> bool {
    let start = out.len();
    let written = match &event.kind {
        EventKind::Read { len } => {
            head(out, event, b"  type: read\n");
            field_u64(out, b"  len: ", *len);
            true
        }
        EventKind::Frame(frame) => write_frame(out, event, frame),
        EventKind::Message(message) => write_message(out, event, message),
        _ => false,
    };
    if !written {
        out.truncate(start);
    }
    written
}

// These run for every event of every message: bytes are appended directly,
// without `write!` (whose formatting machinery was a third of the emitter's
// instructions).

/// `kind` is the event's type line, `b"  type: frame\n"`.
#[inline(always)]
fn head(out: &mut Vec<u8>, event: &Event, kind: &[u8]) {
    out.extend_from_slice(b"- at: ");
    push_u64(out, event.at);
    out.extend_from_slice(match event.dir {
        Direction::ClientToServer => b"\n  dir: c2s\n",
        Direction::ServerToClient => b"\n  dir: s2c\n",
    });
    out.extend_from_slice(kind);
}

/// `line` is the field's whole start, `b"  key: "`: one constant-length
/// copy, which the compiler inlines, where three short copies of unknown
/// length were three `memcpy` calls (a tenth of the proxy's instructions
/// at 64-byte messages went to `memcpy`, most of it from here).
#[inline(always)]
fn field_u64(out: &mut Vec<u8>, line: &[u8], value: u64) {
    out.extend_from_slice(line);
    push_u64(out, value);
    out.push(b'\n');
}

/// `line` as in [`field_u64`].
#[inline(always)]
fn field_str(out: &mut Vec<u8>, line: &[u8], value: &str) {
    out.extend_from_slice(line);
    scalar(out, value);
    out.push(b'\n');
}

/// `value` in decimal, as `Display` writes it: two digits at a time from
/// a table (about six numbers per event).
fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    const PAIRS: [[u8; 2]; 100] = {
        let mut table = [[0u8; 2]; 100];
        let mut i = 0;
        while i < 100 {
            table[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
            i += 1;
        }
        table
    };
    if value < 10 {
        // rsv, opcode, frames, most small counts.
        out.push(b'0' + value as u8);
        return;
    }
    // Room for any u64 as one constant-length store, digits written in
    // place from the right, the rest cut off: no copy of unknown length
    // (a `memcpy` call).
    let n = value.ilog10() as usize + 1;
    let start = out.len();
    out.extend_from_slice(&[0u8; 20]);
    let digits = &mut out[start..start + n];
    let mut at = n;
    while value >= 100 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[(value % 100) as usize]);
        value /= 100;
    }
    if value >= 10 {
        digits[..2].copy_from_slice(&PAIRS[value as usize]);
    } else {
        digits[0] = b'0' + value as u8;
    }
    out.truncate(start + n);
}

/// A field whose value is usually lowercase hex (payloads, masks, digests):
/// written as [`scalar`] would, without its scans. Hex that starts with a
/// letter is plain (no YAML word or number is all hex digits and starts
/// with one), other hex is quoted with nothing to escape; anything else
/// (a recording's string need not be hex) goes through [`scalar`].
fn field_hex(out: &mut Vec<u8>, line: &[u8], value: &str) {
    let b = value.as_bytes();
    // No early exit, so that the check vectorises.
    let hex = b.len() <= 4096 && b.iter().fold(true, |ok, &c| ok & matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !hex {
        return field_str(out, line, value);
    }
    out.extend_from_slice(line);
    if b.first().is_some_and(u8::is_ascii_alphabetic) {
        out.extend_from_slice(b);
    } else {
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
    }
    out.push(b'\n');
}

// The two writers below destructure their structs exhaustively, so a field
// added to the model fails to compile here instead of being silently dropped.

fn write_frame(out: &mut Vec<u8>, event: &Event, f: &Frame) -> bool {
    let Frame { offset, fin, rsv, opcode, mask, len, len_bits, close_code, close_reason, cut, payload } = f;
    if close_reason.as_deref().is_some_and(|r| r.contains('\n')) {
        return false;
    }
    head(out, event, b"  type: frame\n");
    field_u64(out, b"  offset: ", *offset);
    out.extend_from_slice(if *fin { b"  fin: true\n" } else { b"  fin: false\n" });
    field_u64(out, b"  rsv: ", (*rsv).into());
    field_u64(out, b"  opcode: ", (*opcode).into());
    if let Some(mask) = mask {
        field_hex(out, b"  mask: ", mask);
    }
    field_u64(out, b"  len: ", *len);
    if let Some(bits) = len_bits {
        field_u64(out, b"  len_bits: ", (*bits).into());
    }
    if let Some(code) = close_code {
        field_u64(out, b"  close_code: ", (*code).into());
    }
    if let Some(reason) = close_reason {
        field_str(out, b"  close_reason: ", reason);
    }
    if *cut {
        out.extend_from_slice(b"  cut: true\n");
    }
    write_data(out, payload)
}

fn write_message(out: &mut Vec<u8>, event: &Event, m: &Message) -> bool {
    let Message { offset, opcode, len, frames, compressed, payload, inflated } = m;
    if inflated.is_some() {
        return false; // rare enough to leave to serde_yaml
    }
    head(out, event, b"  type: message\n");
    field_u64(out, b"  offset: ", *offset);
    field_u64(out, b"  opcode: ", (*opcode).into());
    field_u64(out, b"  len: ", *len);
    field_u64(out, b"  frames: ", (*frames).into());
    if *compressed {
        out.extend_from_slice(b"  compressed: true\n");
    }
    write_data(out, payload)
}

/// The flattened payload fields; false for spellings left to serde_yaml.
fn write_data(out: &mut Vec<u8>, data: &Data) -> bool {
    match data {
        Data::Text(s) if !s.contains('\n') => field_str(out, b"  text: ", s),
        Data::Text(_) | Data::TextCrlf(_) => return false,
        Data::Hex(s) => field_hex(out, b"  hex: ", s),
        Data::Base64(s) => field_str(out, b"  base64: ", s),
        Data::Blake3(s) => field_hex(out, b"  blake3: ", s),
        Data::Sha256(s) => field_hex(out, b"  sha256: ", s),
        Data::Sidecar(side) => {
            out.extend_from_slice(b"  sidecar:\n");
            field_str(out, b"    file: ", &side.file);
            out.extend_from_slice(b"    offset: ");
            push_u64(out, side.offset);
            out.extend_from_slice(b"\n    len: ");
            push_u64(out, side.len);
            out.push(b'\n');
            if let Some(d) = &side.blake3 {
                field_hex(out, b"    blake3: ", d);
            }
            if let Some(d) = &side.sha256 {
                field_hex(out, b"    sha256: ", d);
            }
        }
    }
    true
}

/// True if `s` written plain reads back as the same string under YAML 1.1
/// and 1.2 resolution: starts with a letter, only letters, digits, `_`, `-`
/// and inner spaces, and is not a boolean, null or float spelling.
fn is_plain_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let Some((&first, _)) = b.split_first() else { return false };
    if !first.is_ascii_alphabetic() || b.ends_with(b" ") || b.len() > 4096 {
        return false;
    }
    if !b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b' ')) {
        return false;
    }
    // Every float spelling that starts with a letter ("inf", "infinity", "nan") is at most 8 long.
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];
    b.len() > 8 || (!WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) && s.parse::<f64>().is_err())
}

/// Writes `s` as a YAML scalar: plain when safe, else double-quoted.
fn scalar(out: &mut Vec<u8>, s: &str) {
    if is_plain_safe(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        // Hex, base64, digests, most text: nothing to escape.
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let mut clean = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            _ if needs_escape(c) => None,
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[clean..i]);
        clean = i + c.len_utf8();
        match escape {
            Some(e) => out.extend_from_slice(e.as_bytes()),
            None if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.extend_from_slice(&s.as_bytes()[clean..]);
    out.push(b'"');
}

/// Characters outside YAML's printable set, or that YAML 1.1 reads as line breaks.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::data::{Digest, hex};
    use crate::session::{Direction, SidecarRef};
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Events {
        events: Vec<Event>,
    }

    fn emit(events: &[Event]) -> String {
        let mut out = b"events:\n".to_vec();
        for e in events {
            assert!(write_event(&mut out, e), "declined {e:?}");
        }
        String::from_utf8(out).unwrap()
    }

    fn reload(text: &str) -> Vec<Event> {
        serde_yaml::from_str::<Events>(text).unwrap_or_else(|e| panic!("{e}\n{text}")).events
    }

    fn frame(payload: Data, mask: Option<String>, close_reason: Option<String>) -> Event {
        let frame = Frame {
            offset: 7,
            fin: true,
            rsv: 0,
            opcode: 2,
            mask,
            len: 3,
            len_bits: Some(16),
            close_code: Some(1000),
            close_reason,
            cut: true,
            payload,
        };
        Event { at: 5, dir: Direction::ClientToServer, kind: EventKind::Frame(frame) }
    }

    #[test]
    fn common_events_match_serde_yaml_layout() {
        let events = vec![
            Event { at: 1, dir: Direction::ServerToClient, kind: EventKind::Read { len: 64 } },
            Event {
                at: 2,
                dir: Direction::ClientToServer,
                kind: EventKind::Message(Message {
                    offset: 9,
                    opcode: 1,
                    len: 5,
                    frames: 1,
                    compressed: false,
                    inflated: None,
                    payload: Data::Text("hello".into()),
                }),
            },
            frame(Data::Hex("00ff".into()), Some("abcdef0a".into()), None),
            frame(
                Data::Sidecar(SidecarRef::new("x.c2s.bin".into(), 0, 3, Digest::Blake3("ab12".into()))),
                None,
                Some("bye now".into()),
            ),
        ];
        let ours = emit(&events);
        let serde = format!("events:\n{}", serde_yaml::to_string(&events).unwrap());
        assert_eq!(ours.replace('"', ""), serde.replace('\'', ""));
        assert_eq!(reload(&ours), events);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in ["", "1234", "1e10", "true", "No", "null", "~", "inf", "NaN", " x", "x ", "a: b", "#c", "-1", "0x1f"] {
            let e = frame(Data::Text(s.into()), Some(s.into()), Some(s.into()));
            assert_eq!(reload(&emit(std::slice::from_ref(&e))), [e], "{s:?}");
        }
    }

    #[test]
    fn multi_line_text_is_left_to_serde_yaml() {
        let mut out = Vec::new();
        assert!(!write_event(&mut out, &frame(Data::Text("a\nb".into()), None, None)));
        assert!(!write_event(&mut out, &frame(Data::TextCrlf("a\nb".into()), None, None)));
        assert!(!write_event(&mut out, &Event { at: 0, dir: Direction::ClientToServer, kind: EventKind::Fin }));
        assert!(out.is_empty());
    }

    #[test]
    fn hex_fields_are_written_as_any_string_would_be() {
        let cases = ["", "0", "00ff", "ab", "e5", "deadbeef", "1e10", "a1b2c3d4e5", "ABCD", "x1", "0x1f", "a b"];
        for s in cases.into_iter().map(String::from).chain([hex(&[0xab; 64]), hex(&[0x12; 64]), "a".repeat(5000)]) {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            field_hex(&mut fast, b"  hex: ", &s);
            field_str(&mut slow, b"  hex: ", &s);
            assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for n in [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 99999, 100000, u64::MAX / 7, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    proptest! {
        #[test]
        fn any_number_is_written_as_display_writes_it(n in any::<u64>()) {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            prop_assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }

        #[test]
        fn any_string_round_trips(s in any::<String>(), t in "[ -~\u{80}-\u{a0}\u{2028}\u{feff}]{0,12}") {
            let text = s.replace('\n', " ");
            let e = frame(Data::Text(text), Some(t.clone()), Some(t));
            prop_assert_eq!(reload(&emit(std::slice::from_ref(&e))), vec![e]);
        }
    }
}
