//! JSON in the exact layout of Python's
//! `json.dumps(obj, sort_keys=True, indent=3, separators=(',', ': '))`.
//!
//! Why our own writer instead of `serde_json::to_string_pretty`: the report
//! files are compared byte for byte against Autobahn's, and three details
//! differ from serde_json's pretty printer:
//! - every non-ASCII character (and DEL) is escaped as lowercase `\uXXXX`,
//!   with surrogate pairs above the BMP (`ensure_ascii=True`);
//! - keys are sorted even if serde_json keeps insertion order;
//! - keys that are all integers sort **numerically**: Autobahn's statistics
//!   dictionaries have `int` keys which Python sorts before stringifying
//!   (`{"6": 1, "350": 1}`, not `{"350": 1, "6": 1}`). Other keys (case IDs
//!   in `index.json`) sort as strings, as in Python.
//!
//! Floats use serde_json's shortest round-trip form, which equals Python's
//! `repr` except for exponents (`1e16` vs `1e+16`); no category-7 field is
//! a float.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// The indentation unit Autobahn uses.
const INDENT: &str = "   ";

/// Render `value` in Autobahn's JSON layout (no trailing newline).
pub fn to_autobahn_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => write_array(out, items, depth),
        Value::Object(map) => write_object(out, map, depth),
    }
}

fn write_array(out: &mut String, items: &[Value], depth: usize) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        separate(out, i, depth + 1);
        write_value(out, item, depth + 1);
    }
    newline(out, depth);
    out.push(']');
}

fn write_object(out: &mut String, map: &serde_json::Map<String, Value>, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| compare_keys(a.0, b.0));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        separate(out, i, depth + 1);
        write_string(out, key);
        out.push_str(": ");
        write_value(out, item, depth + 1);
    }
    newline(out, depth);
    out.push('}');
}

/// Integer keys compare as numbers, everything else as strings.
fn compare_keys(a: &str, b: &str) -> Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

fn separate(out: &mut String, index: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    newline(out, depth);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

/// A JSON string with Python's `ensure_ascii` escaping.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            // A Python 2 surrogate (see `wirelog::payload_text`): `\udXXX`.
            super::wirelog::SURROGATE_MARK => {
                out.push_str("\\u");
                out.extend(chars.by_ref().take(4));
            }
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        // json.dumps({...}, sort_keys=True, indent=3, separators=(',', ': '))
        // in CPython 2.7.18.
        let value = json!({"c": "\u{e9}\u{7f}\u{1F600}", "b": {}, "a": [1, []], "d": 1.5});
        let expected = "{\n   \"a\": [\n      1,\n      []\n   ],\n   \"b\": {},\n   \
                        \"c\": \"\\u00e9\\u007f\\ud83d\\ude00\",\n   \"d\": 1.5\n}";
        assert_eq!(to_autobahn_json(&value), expected);
    }

    #[test]
    fn encoded_surrogates_are_written_as_python_2_writes_them() {
        let text = super::super::wirelog::payload_text(b"a\xed\xa0\x80\xed\xb0\x80");
        assert_eq!(to_autobahn_json(&json!(text)), "\"a\\ud800\\udc00\"");
        assert_eq!(super::super::wirelog::shown(&text), "a\\ud800\\udc00");
        let bad = super::super::wirelog::payload_text(b"\xed\xa0");
        assert_eq!(bad, "0xeda0", "a cut surrogate does not decode");
        let literal = super::super::wirelog::payload_text(&["\u{fdd0}\u{e9}".as_bytes(), b"\xed\xbf\xbf"].concat());
        assert_eq!(to_autobahn_json(&json!(literal)), "\"\\ufdd0\\u00e9\\udfff\"");
    }

    #[test]
    fn integer_keys_sort_numerically_others_as_strings() {
        let stats = json!({"350": 1, "6": 1});
        assert_eq!(to_autobahn_json(&stats), "{\n   \"6\": 1,\n   \"350\": 1\n}");
        let ids = json!({"10.1.1": 0, "2.1": 0, "1.1.1": 0});
        let text = to_autobahn_json(&ids);
        let order: Vec<usize> = ["1.1.1", "10.1.1", "2.1"].iter().map(|k| text.find(k).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
