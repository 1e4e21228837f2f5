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
//! - `blake3` (`sha256` in format version 1): the bytes are not stored
//!   here (a message whose frames hold them); only their digest.
//!
//! Digests are BLAKE3 since format version 2, SHA-256 in version 1, whose
//! recordings are still read and checked with their own algorithm
//! ([`Digest`]). Why the change: hashing every recorded byte was the
//! recorder's largest cost for large messages, and BLAKE3 is about 2.7
//! times as fast as SHA-256 with SHA-NI here (4.2 against 1.5 GB/s on one
//! core), with the same strength (docs/performance.md).

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

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
    /// Bytes not stored in this event, only their BLAKE3 (hex).
    Blake3(String),
    /// Bytes not stored in this event, only their SHA-256 (hex): format
    /// version 1.
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
    /// BLAKE3 of the bytes, lowercase hex (format version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// SHA-256 of the bytes, lowercase hex (format version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl SidecarRef {
    /// A reference to `len` bytes at `offset` of `file` with their digest.
    pub fn new(file: String, offset: u64, len: u64, digest: Digest) -> SidecarRef {
        let (blake3, sha256) = match digest {
            Digest::Blake3(d) => (Some(d), None),
            Digest::Sha256(d) => (None, Some(d)),
        };
        SidecarRef { file, offset, len, blake3, sha256 }
    }

    /// The digest the bytes must have: BLAKE3 if given, else SHA-256;
    /// `None` if the reference carries neither.
    pub fn digest(&self) -> Option<Digest> {
        match (&self.blake3, &self.sha256) {
            (Some(d), _) => Some(Digest::Blake3(d.clone())),
            (None, Some(d)) => Some(Digest::Sha256(d.clone())),
            (None, None) => None,
        }
    }
}

/// A digest as a recording spells it, in lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Digest {
    /// BLAKE3 (256-bit output), written since format version 2.
    Blake3(String),
    /// SHA-256, format version 1.
    Sha256(String),
}

impl Digest {
    /// The BLAKE3 of `bytes`: what a recording made now records.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::Blake3(hex(blake3::hash(bytes).as_bytes()))
    }

    /// The algorithm's name, for messages (`BLAKE3`, `SHA-256`).
    pub fn algorithm(&self) -> &'static str {
        match self {
            Digest::Blake3(_) => "BLAKE3",
            Digest::Sha256(_) => "SHA-256",
        }
    }

    /// The field that spells it in a recording (`blake3`, `sha256`).
    pub fn key(&self) -> &'static str {
        match self {
            Digest::Blake3(_) => "blake3",
            Digest::Sha256(_) => "sha256",
        }
    }

    /// The digest's hex, as recorded.
    pub fn hex(&self) -> &str {
        match self {
            Digest::Blake3(d) | Digest::Sha256(d) => d,
        }
    }

    /// True if `other` is the same digest (same algorithm; hex in either case).
    pub fn matches(&self, other: &Digest) -> bool {
        self.key() == other.key() && self.hex().trim().eq_ignore_ascii_case(other.hex().trim())
    }

    /// Digest-only payload data (a message whose frames hold the bytes).
    pub fn into_data(self) -> Data {
        match self {
            Digest::Blake3(d) => Data::Blake3(d),
            Digest::Sha256(d) => Data::Sha256(d),
        }
    }
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
            Data::Sidecar(_) | Data::Blake3(_) | Data::Sha256(_) => Ok(None),
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
#[allow(clippy::slow_vector_initialization)] // deliberately not calloc, see below
pub fn hex(bytes: &[u8]) -> String {
    // Not `vec![0; n]`: that is `calloc`, which glibc serves without its
    // per-thread cache (~290 instructions a call against ~30 for `malloc`),
    // and this runs for every mask and small binary payload recorded.
    let mut out = Vec::with_capacity(bytes.len() * 2);
    out.resize(bytes.len() * 2, 0);
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
    let mut out = Vec::with_capacity(t.len() / 2);
    for (k, pair) in t.chunks_exact(2).enumerate() {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => out.push(high << 4 | low),
            (high, _) => {
                let i = 2 * k + usize::from(high.is_some());
                let shown = String::from_utf8_lossy(&t[i..]).chars().next().unwrap_or('?');
                return Err(format!("invalid hex digit {shown:?} at byte {i}"));
            }
        }
    }
    Ok(out)
}

/// The value of one hex digit (either case).
fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Incremental digest for payloads that arrive in pieces: BLAKE3 by
/// default (what recordings are written with), or the algorithm of a
/// recorded digest to check one ([`Hasher::like`]).
#[derive(Clone)]
pub enum Hasher {
    /// BLAKE3 (boxed: its state is about 2 KiB).
    Blake3(Box<blake3::Hasher>),
    /// SHA-256, for version-1 recordings.
    Sha256(sha2::Sha256),
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::Blake3(Box::default())
    }
}

impl Hasher {
    /// A hasher of `digest`'s algorithm, to check bytes against it.
    pub fn like(digest: &Digest) -> Hasher {
        match digest {
            Digest::Blake3(_) => Hasher::default(),
            Digest::Sha256(_) => Hasher::Sha256(sha2::Sha256::default()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Blake3(h) => Digest::Blake3(hex(h.finalize().as_bytes())),
            Hasher::Sha256(h) => Digest::Sha256(hex(&h.finalize())),
        }
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
    fn digests_are_the_published_values() {
        // BLAKE3 and SHA-256 of "abc", from their specifications' test vectors.
        let blake3 = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Digest::of(b"abc"), Digest::Blake3(blake3.into()));
        let mut pieces = Hasher::default();
        pieces.update(b"a");
        pieces.update(b"bc");
        assert_eq!(pieces.finish(), Digest::Blake3(blake3.into()));
        let mut old = Hasher::like(&Digest::Sha256(String::new()));
        old.update(b"abc");
        assert_eq!(old.finish(), Digest::Sha256(sha256.into()));
        assert!(Digest::Sha256(sha256.to_uppercase()).matches(&Digest::Sha256(sha256.into())));
        assert!(!Digest::Sha256(blake3.into()).matches(&Digest::Blake3(blake3.into())), "algorithms differ");
    }

    #[test]
    fn hex_spells_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let spelled = hex(&all);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(spelled, expected);
        assert_eq!(unhex(&spelled.to_uppercase()), Ok(all.clone()));
        assert_eq!(unhex(&spelled), Ok(all));
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn hex_with_other_characters_is_an_error_not_a_panic() {
        assert_eq!(unhex("00ffAb"), Ok(vec![0, 255, 0xab]));
        assert!(unhex("aéb").unwrap_err().contains("invalid hex digit 'é' at byte 1"), "{:?}", unhex("aéb"));
        assert!(unhex("éé").unwrap_err().contains("at byte 0"));
        assert!(unhex("0g").unwrap_err().contains("'g' at byte 1"));
        assert!(unhex("00g0").unwrap_err().contains("'g' at byte 2"));
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
