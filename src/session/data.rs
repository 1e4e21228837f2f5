//! Payload bytes as they appear in a recording: readable when possible,
//! exact always.
//!
//! YAML cannot carry raw bytes, so each payload is written in the most
//! readable form that still round-trips exactly:
//! - `text`: valid UTF-8 with no carriage returns;
//! - `text_crlf`: valid UTF-8 whose every line ends in CRLF (HTTP heads);
//!   written with `\n`, read back with `\r\n`;
//! - `hex`: short binary (at most [`HEX_MAX`] bytes);
//! - `base64`: longer binary;
//! - `sidecar`: large payloads, stored outside the YAML in a per-direction
//!   binary file beside it (see [`SidecarRef`]);
//! - `sha256`: the bytes are not stored here (a message whose frames hold
//!   them); only their digest.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Binary payloads up to this size are written as hex, longer ones as base64.
pub const HEX_MAX: usize = 64;

/// Payloads up to this size are stored inline in the YAML.
pub const INLINE_MAX: usize = 16 * 1024;

/// Where a payload lives and how it is spelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    /// UTF-8 text without carriage returns.
    Text(String),
    /// UTF-8 text whose line breaks are all CRLF, stored with LF.
    TextCrlf(String),
    /// Binary, as lowercase hex.
    Hex(String),
    /// Binary, as standard base64 with padding.
    Base64(String),
    /// Bytes in a sidecar file.
    Sidecar(SidecarRef),
    /// Bytes not stored in this event, only their SHA-256 (hex).
    Sha256(String),
}

/// A byte range in a sidecar file next to the recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarRef {
    /// File name, relative to the recording's directory.
    pub file: String,
    /// Offset of the first byte in that file.
    pub offset: u64,
    /// Number of bytes.
    pub len: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

impl Data {
    /// The most readable exact spelling of `bytes`.
    pub fn inline(bytes: &[u8]) -> Data {
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.contains('\r') => Data::Text(s.to_string()),
            Ok(s) if is_strict_crlf(s) => Data::TextCrlf(s.replace("\r\n", "\n")),
            _ if bytes.len() <= HEX_MAX => Data::Hex(hex(bytes)),
            _ => Data::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// The bytes, if they are stored inline. `Ok(None)` for sidecar and
    /// digest-only data; `Err` if the spelling is corrupt.
    pub fn inline_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        match self {
            Data::Text(s) => Ok(Some(s.as_bytes().to_vec())),
            Data::TextCrlf(s) => Ok(Some(s.replace('\n', "\r\n").into_bytes())),
            Data::Hex(h) => unhex(h).map(Some),
            Data::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map(Some)
                .map_err(|e| format!("invalid base64: {e}")),
            Data::Sidecar(_) | Data::Sha256(_) => Ok(None),
        }
    }

    /// The text, if this is text data stored inline.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Data::Text(s) => Some(s.clone()),
            Data::TextCrlf(s) => Some(s.replace('\n', "\r\n")),
            _ => None,
        }
    }
}

fn is_strict_crlf(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && b[i - 1] == b'\r',
        _ => true,
    })
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Writes the lowercase hex of `bytes` into `out`, which is twice as long.
/// A pair of digits per byte from one table: this runs for every small
/// binary payload a proxy records (twice a frame before the table: a third
/// of the YAML emitter's instructions).
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const PAIRS: [[u8; 2]; 256] = {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut table = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
            i += 1;
        }
        table
    };
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&PAIRS[usize::from(b)]);
    }
}

/// Parses hex (either case, no separators). Any other character, ASCII or
/// not, is an error naming its byte offset.
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim().as_bytes();
    if !t.len().is_multiple_of(2) {
        return Err(format!("hex has an odd number of digits ({})", t.len()));
    }
    let digit = |i: usize| {
        char::from(t[i]).to_digit(16).ok_or_else(|| {
            let shown = String::from_utf8_lossy(&t[i..]).chars().next().unwrap_or('?');
            format!("invalid hex digit {shown:?} at byte {i}")
        })
    };
    (0..t.len()).step_by(2).map(|i| Ok((digit(i)? * 16 + digit(i + 1)?) as u8)).collect()
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Incremental SHA-256 for payloads that arrive in pieces.
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as lowercase hex.
    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_readable_spellings() {
        assert_eq!(Data::inline(b"hello"), Data::Text("hello".into()));
        assert_eq!(Data::inline(b"GET / HTTP/1.1\r\n\r\n"), Data::TextCrlf("GET / HTTP/1.1\n\n".into()));
        // Valid UTF-8 with a bare CR fits neither text form.
        assert_eq!(Data::inline(b"a\rb"), Data::Hex(hex(b"a\rb")));
        assert_eq!(Data::inline(&[0xff, 0]), Data::Hex("ff00".into()));
        assert!(matches!(Data::inline(&[0xff; 100]), Data::Base64(_)));
    }

    #[test]
    fn hex_spells_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let spelled = hex(&all);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(spelled, expected);
        assert_eq!(unhex(&spelled), Ok(all));
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn hex_with_other_characters_is_an_error_not_a_panic() {
        assert_eq!(unhex("00ffAb"), Ok(vec![0, 255, 0xab]));
        assert!(unhex("aéb").unwrap_err().contains("invalid hex digit 'é' at byte 1"), "{:?}", unhex("aéb"));
        assert!(unhex("éé").unwrap_err().contains("at byte 0"));
        assert!(unhex("0g").unwrap_err().contains("'g' at byte 1"));
        assert!(unhex("abc").unwrap_err().contains("odd number"));
    }

    proptest! {
        #[test]
        fn every_spelling_round_trips_through_yaml(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                                   text in ".{0,80}") {
            for input in [bytes.clone(), text.clone().into_bytes(), text.replace('\n', "\r\n").into_bytes()] {
                let data = Data::inline(&input);
                let yaml = serde_yaml::to_string(&data).unwrap();
                let back: Data = serde_yaml::from_str(&yaml).unwrap();
                prop_assert_eq!(back.inline_bytes().unwrap().unwrap(), input);
            }
        }
    }
}
