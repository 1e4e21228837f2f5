//! Byte strings in scenario files: `{text: ...}`, `{hex: ...}` or `{base64: ...}`.
//!
//! Contract: hex and base64 are decoded *while the file is parsed*, so a bad
//! digit is reported with the file's line and column, and a [`Payload`] that
//! exists always has bytes ([`Payload::bytes`] cannot fail). Hex may contain
//! whitespace between digit pairs, so long payloads can be wrapped.

use base64::Engine as _;
use serde::Deserialize;

/// Bytes written in one of three notations.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// UTF-8 text, taken as its bytes.
    Text(String),
    /// Hexadecimal digits (whitespace ignored).
    Hex(HexBytes),
    /// Standard base64 with padding.
    Base64(Base64Bytes),
    /// A pattern repeated cyclically to a length, built while parsing:
    /// `{repeat: {text: "*", len: 125}}` or `{repeat: {hex: fe, len: 65536}}`.
    /// Unlike a frame's `repeat_to`, these are simply the payload's bytes
    /// (the `TF` log shows the whole payload).
    Repeat(Repeated),
}

impl Payload {
    /// The bytes this payload stands for.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Text(text) => text.as_bytes(),
            Payload::Hex(HexBytes(bytes)) | Payload::Base64(Base64Bytes(bytes)) => bytes,
            Payload::Repeat(Repeated(bytes)) => bytes,
        }
    }
}

/// Bytes decoded from a hex string when the scenario is parsed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HexBytes(pub Vec<u8>);

impl TryFrom<String> for HexBytes {
    type Error = String;

    fn try_from(text: String) -> Result<HexBytes, String> {
        decode_hex(&text).map(HexBytes)
    }
}

/// Bytes decoded from a base64 string when the scenario is parsed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Base64Bytes(pub Vec<u8>);

impl TryFrom<String> for Base64Bytes {
    type Error = String;

    fn try_from(text: String) -> Result<Base64Bytes, String> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(Base64Bytes)
            .map_err(|e| format!("expected base64: {e}"))
    }
}

/// Largest generated payload: it is built in memory.
pub const MAX_REPEATED: usize = 64 << 20;

/// Bytes generated from a pattern when the scenario is parsed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RepeatText")]
pub struct Repeated(pub Vec<u8>);

/// The YAML form of [`Repeated`]: exactly one of `text` and `hex`, and `len`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatText {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    hex: Option<HexBytes>,
    len: usize,
}

impl TryFrom<RepeatText> for Repeated {
    type Error = String;

    fn try_from(r: RepeatText) -> Result<Repeated, String> {
        let pattern = match (r.text, r.hex) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(HexBytes(bytes))) => bytes,
            _ => return Err("expected repeat to have exactly one of text and hex, and len".into()),
        };
        if pattern.is_empty() && r.len > 0 {
            return Err("expected a non-empty pattern to repeat".into());
        }
        if r.len > MAX_REPEATED {
            return Err(format!("expected a repeat len of at most {MAX_REPEATED} bytes, got {}", r.len));
        }
        Ok(Repeated(pattern.iter().copied().cycle().take(r.len).collect()))
    }
}

/// A 4-byte masking key written as 8 hex digits, e.g. `"37fa213d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct MaskKey(pub [u8; 4]);

impl TryFrom<String> for MaskKey {
    type Error = String;

    fn try_from(text: String) -> Result<MaskKey, String> {
        let bytes = decode_hex(&text)?;
        <[u8; 4]>::try_from(bytes)
            .map(MaskKey)
            .map_err(|b| format!("expected a mask key of 4 bytes (8 hex digits), got {} bytes", b.len()))
    }
}

/// Decodes hex digits, ignoring ASCII whitespace anywhere.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("expected an even number of hex digits, got {}", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(pair, 16).map_err(|_| format!("expected hex digits, found {pair:?}"))
        })
        .collect()
}

/// Lowercase hex of `bytes`, the inverse of [`decode_hex`].
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_ignores_whitespace() {
        assert_eq!(decode_hex("03e8 48\n65").unwrap(), vec![0x03, 0xe8, 0x48, 0x65]);
        assert_eq!(encode_hex(&decode_hex("00ff7f").unwrap()), "00ff7f");
        assert!(decode_hex("abc").unwrap_err().contains("even number"));
        assert!(decode_hex("zz").unwrap_err().contains("\"zz\""));
    }

    #[test]
    fn notations_give_the_same_bytes() {
        let parse = |y: &str| crate::scenario::from_yaml::<Payload>(y).unwrap().bytes().to_vec();
        assert_eq!(parse("text: Hi!"), b"Hi!");
        assert_eq!(parse("hex: '486921'"), b"Hi!");
        assert_eq!(parse("base64: SGkh"), b"Hi!");
        assert_eq!(parse("repeat: {text: ab, len: 5}"), b"ababa");
        assert_eq!(parse("repeat: {hex: fe, len: 3}"), b"\xfe\xfe\xfe");
        let err = crate::scenario::from_yaml::<Payload>("repeat: {text: a, hex: '00', len: 3}").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    #[test]
    fn bad_mask_key_is_rejected() {
        let err = crate::scenario::from_yaml::<MaskKey>("'010203'").unwrap_err().to_string();
        assert!(err.contains("4 bytes"), "{err}");
    }
}
