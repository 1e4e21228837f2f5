//! Generated message loops (Autobahn 12.x/13.x): a `series` action sends
//! message k = the k-th slice of a test-data file, one per round trip.
//!
//! Contract: a [`SeriesSpec`] that passed [`SeriesSpec::check`] names a
//! shipped corpus file holding at least `len` units, so
//! [`SeriesSpec::message`] cannot fail. Slicing is Autobahn's `sendOne`: a
//! pointer starts at unit 0 and moves `len` units per message, wrapping
//! around the file's end, so message k starts at unit `k * len mod total`.
//! Units are octets, or code points for `code_points` (the slice is then
//! sent UTF-8 encoded, so it may be longer than `len` octets).
//!
//! Why the data is compiled in: `wstap serve` needs no files, and the
//! corpus (`data/deflate-corpus/`, made by `scripts/make-corpus`, licence
//! in its README) is what the shipped 12.x/13.x cases slice.

use std::sync::OnceLock;

use serde::Deserialize;

use super::action::Opcode;
use crate::wire::OpCode;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

/// The shipped test-data file called `name`, if there is one.
pub fn corpus_file(name: &str) -> Option<&'static [u8]> {
    CORPUS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The names of the shipped test-data files.
pub fn corpus_names() -> Vec<&'static str> {
    CORPUS.iter().map(|(n, _)| *n).collect()
}

/// A loop of generated messages: one sent when the action is reached, the
/// next each time the echo check (`expect.echo`) asks for another round.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// `text` or `binary`.
    pub opcode: Opcode,
    /// Where the messages come from.
    pub slices: Slices,
    /// Autobahn's `autoFragmentSize`: a message longer than this (after
    /// compression) goes out in fragments of this many octets, with a
    /// trailing empty FIN frame when it divides evenly; 0 (the default)
    /// sends one frame.
    #[serde(default)]
    pub fragment: usize,
    /// Compress each message when permessage-deflate was agreed (RSV1 on
    /// its first frame); otherwise it goes out uncompressed.
    #[serde(default)]
    pub compress: bool,
}

/// Consecutive slices of one shipped test-data file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slices {
    /// The file's name in the shipped corpus, e.g. `data1.json`.
    pub file: String,
    /// What `len` counts; default octets.
    #[serde(default)]
    pub unit: Unit,
    /// Units per message.
    pub len: usize,
}

/// What a length counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Octets.
    #[default]
    Octets,
    /// Unicode code points of UTF-8 text.
    CodePoints,
}

impl Unit {
    /// The length of `data` in this unit (octets if it is not UTF-8).
    pub fn len_of(self, data: &[u8]) -> usize {
        match (self, std::str::from_utf8(data)) {
            (Unit::CodePoints, Ok(text)) => text.chars().count(),
            _ => data.len(),
        }
    }
}

impl SeriesSpec {
    /// Checks the opcode, the file and its size; the error says what was
    /// expected.
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.opcode.0, OpCode::TEXT | OpCode::BINARY) {
            return Err("expected a message opcode of text or binary".into());
        }
        let Some(bytes) = corpus_file(&self.slices.file) else {
            return Err(format!("expected slices.file to be one of {:?}, got {:?}", corpus_names(), self.slices.file));
        };
        let total = match self.slices.unit {
            Unit::Octets => bytes.len(),
            Unit::CodePoints => match char_starts(&self.slices.file, bytes) {
                Some(starts) => starts.len() - 1,
                None => return Err(format!("{} is not UTF-8: slice it by octets", self.slices.file)),
            },
        };
        if self.slices.len > total {
            return Err(format!("expected slices.len of at most {total} (the size of {})", self.slices.file));
        }
        Ok(())
    }

    /// Message `k` (from 0): the k-th slice, as bytes.
    pub fn message(&self, k: usize) -> Vec<u8> {
        let bytes = corpus_file(&self.slices.file).unwrap_or_default();
        let len = self.slices.len;
        match self.slices.unit {
            Unit::Octets => wrapped(bytes, k, len),
            Unit::CodePoints => {
                let starts = char_starts(&self.slices.file, bytes).unwrap_or(&[0]);
                // starts has one more entry than there are code points.
                let total = starts.len() - 1;
                if total == 0 || len == 0 {
                    return Vec::new();
                }
                let from = (k as u128 * len as u128 % total as u128) as usize;
                let to = from + len;
                if to <= total {
                    bytes[starts[from]..starts[to]].to_vec()
                } else {
                    [&bytes[starts[from]..], &bytes[..starts[to - total]]].concat()
                }
            }
        }
    }

    /// Whether messages are binary.
    pub fn binary(&self) -> bool {
        self.opcode.0 == OpCode::BINARY
    }

    /// The frames of one (possibly compressed) message payload, as
    /// Autobahn's `sendMessage` cuts them: `(opcode, fin, piece)`.
    pub fn frames(&self, payload: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
        let size = self.fragment;
        if size == 0 || payload.len() <= size {
            return vec![(self.opcode.0, true, payload.to_vec())];
        }
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let end = at + size;
            let done = end > payload.len();
            let opcode = if at == 0 { self.opcode.0 } else { OpCode::CONTINUATION };
            out.push((opcode, done, payload[at..end.min(payload.len())].to_vec()));
            if done {
                return out;
            }
            at = end;
        }
    }
}

/// Octet slice k of `len`, wrapping around the end.
fn wrapped(bytes: &[u8], k: usize, len: usize) -> Vec<u8> {
    let total = bytes.len();
    if total == 0 || len == 0 {
        return Vec::new();
    }
    let from = (k as u128 * len as u128 % total as u128) as usize;
    let to = from + len;
    if to <= total { bytes[from..to].to_vec() } else { [&bytes[from..], &bytes[..to - total]].concat() }
}

/// Byte offsets of every code point of a corpus text file, plus its
/// length (`None` if it is not UTF-8); computed once per file, and kept
/// for the life of the process (the corpus is a handful of static files).
fn char_starts(name: &str, bytes: &'static [u8]) -> Option<&'static [usize]> {
    type Cache = std::sync::Mutex<Vec<(String, Option<&'static [usize]>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, starts)) = cache.iter().find(|(n, _)| n == name) {
        return *starts;
    }
    let starts = std::str::from_utf8(bytes).ok().map(|text| {
        let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        starts.push(text.len());
        &*Box::leak(starts.into_boxed_slice())
    });
    cache.push((name.to_owned(), starts));
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> SeriesSpec {
        let spec: SeriesSpec = crate::scenario::from_yaml(yaml).unwrap();
        spec.check().unwrap();
        spec
    }

    #[test]
    fn slices_move_on_and_wrap_like_autobahn() {
        let s = spec("{opcode: binary, slices: {file: image512.bmp, len: 131072}}");
        let file = corpus_file("image512.bmp").unwrap();
        assert_eq!(s.message(0), &file[..131072]);
        assert_eq!(s.message(1), &file[131072..262144]);
        // 263222 octets: the third slice wraps around.
        let third = s.message(2);
        assert_eq!(third.len(), 131072);
        assert_eq!(third[..1078], file[262144..]);
        assert_eq!(third[1078..], file[..131072 - 1078]);
    }

    #[test]
    fn text_slices_count_code_points() {
        let s = spec("{opcode: text, slices: {file: data1.html, unit: code_points, len: 4096}}");
        for k in [0, 1, 63, 64, 65, 999] {
            let m = s.message(k);
            assert_eq!(Unit::CodePoints.len_of(&m), 4096, "message {k}");
        }
        let file = std::str::from_utf8(corpus_file("data1.html").unwrap()).unwrap();
        assert!(file.len() > file.chars().count(), "the html file has multi-byte characters");
    }

    #[test]
    fn fragments_end_with_an_empty_fin_frame_on_an_even_split() {
        let s = spec("{opcode: text, slices: {file: data1.json, len: 16}, fragment: 4}");
        let lens = |p: &[u8]| s.frames(p).iter().map(|(op, fin, b)| (op.value(), *fin, b.len())).collect::<Vec<_>>();
        assert_eq!(lens(b"abcdefgh"), [(1, false, 4), (0, false, 4), (0, true, 0)]);
        assert_eq!(lens(b"abcde"), [(1, false, 4), (0, true, 1)]);
        assert_eq!(lens(b"abcd"), [(1, true, 4)]);
    }

    #[test]
    fn bad_series_say_what_was_expected() {
        let check = |yaml: &str| crate::scenario::from_yaml::<SeriesSpec>(yaml).unwrap().check().unwrap_err();
        assert!(check("{opcode: text, slices: {file: nope.json, len: 1}}").contains("data1.json"));
        assert!(check("{opcode: ping, slices: {file: data1.json, len: 1}}").contains("text or binary"));
        assert!(check("{opcode: text, slices: {file: data1.json, len: 99999999}}").contains("at most"));
        assert!(check("{opcode: text, slices: {file: document.pdf, unit: code_points, len: 1}}").contains("UTF-8"));
    }
}
