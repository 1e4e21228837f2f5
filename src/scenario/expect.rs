//! What a scenario expects: the client's events, how the connection closes,
//! and the rules Autobahn applies after judging.
//!
//! The judge ([`crate::judge`]) reads these values; it never reads YAML.
//! Event lists are compared exactly (kind, bytes, binary flag, order), as
//! Autobahn does, so an [`Event`] here and one observed on the wire are the
//! same type.

use serde::Deserialize;

use sha1::Digest as _;

use super::payload::Payload;
pub use super::series::Unit;

/// One thing the server records from the client (Autobahn's `received`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "EventText")]
pub enum Event {
    /// A complete text or binary message.
    Message {
        /// The whole payload, all fragments joined.
        data: Vec<u8>,
        /// True for binary, false for text.
        binary: bool,
    },
    /// A pong, with its payload.
    Pong(Vec<u8>),
    /// A marker the case itself records (`timeout` actions, 6.4.x):
    /// Autobahn's `["timeout", tag]`.
    Timeout(String),
}

impl Event {
    /// A text message.
    pub fn text(data: impl Into<Vec<u8>>) -> Event {
        Event::Message { data: data.into(), binary: false }
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Event {
        Event::Message { data: data.into(), binary: true }
    }

    /// True for a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Event::Pong(_))
    }
}

/// The YAML spelling of an [`Event`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum EventText {
    TextMessage(Payload),
    BinaryMessage(Payload),
    Pong(Payload),
    Timeout(String),
}

impl From<EventText> for Event {
    fn from(text: EventText) -> Event {
        match text {
            EventText::TextMessage(p) => Event::text(p.bytes()),
            EventText::BinaryMessage(p) => Event::binary(p.bytes()),
            EventText::Pong(p) => Event::Pong(p.bytes().to_vec()),
            EventText::Timeout(tag) => Event::Timeout(tag),
        }
    }
}

/// Everything a scenario expects.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Acceptable event lists, by outcome.
    pub events: ExpectedEvents,
    /// The expected closing behaviour.
    pub close: ExpectedClose,
    /// Autobahn's automatic close (§2.2): once the received events equal
    /// *every* declared list, the server closes with the first listed code.
    /// Default false (Autobahn has it on unless a case suppresses it).
    #[serde(default)]
    pub auto_close: bool,
    /// A `WRONG CODE` close makes behavior `FAILED`, with the close result
    /// text as the result.
    #[serde(default)]
    pub wrong_code_fails: bool,
    /// A close by the wrong endpoint makes behavior `FAILED` (6.x only).
    #[serde(default)]
    pub closed_by_wrong_endpoint_is_fatal: bool,
    /// Force both verdicts to `INFORMATIONAL`.
    #[serde(default)]
    pub informational: Option<Informational>,
    /// Judge the client's echoes by type and length instead of by events
    /// (category 9); messages are then not recorded as events.
    #[serde(default)]
    pub echo: Option<EchoCheck>,
}

/// Category 9's judging: the case starts `FAILED` with the `waiting` text;
/// each message the client sends is checked for type and length. A wrong
/// one fails the case; a right one is counted, and until `count` right
/// ones have come back the server sends its last frame again; then the case
/// is `OK`. A wrong message or the last right one switches the wire log
/// back on and makes the server close (1000, through the normal API).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoCheck {
    /// `text` or `binary`: the type every echo must have.
    pub opcode: crate::scenario::action::Opcode,
    /// The length every echo must have.
    pub len: usize,
    /// Round trips before the case is done; default 1.
    #[serde(default = "one")]
    pub count: usize,
    /// Result text until the case is done.
    pub waiting: String,
    /// Result text when done.
    pub ok: String,
    /// Result text for an echo of the wrong type; `{binary}` is the
    /// echo's type as Python prints it (`True`/`False`), `{len}` its length.
    pub wrong_type: String,
    /// Result text for an echo of the wrong length (same placeholders).
    pub wrong_len: String,
    /// How the wire log comes back on: `quiet` (Autobahn's plain
    /// `createWirelog = True`, no `WLM` entry) or `logged` (`WLM`).
    #[serde(default)]
    pub wirelog: WirelogSwitch,
    /// What `len` counts: octets (default) or code points (12.x/13.x
    /// compare text echoes decoded).
    #[serde(default)]
    pub units: Unit,
    /// Result text for an echo whose SHA-1 differs from that of the message
    /// the server's `series` sent last (`{sha1}`: the echo's, `{sent_sha1}`:
    /// the sent one's, in hex). Without it, content is not checked.
    #[serde(default)]
    pub wrong_content: Option<String>,
    /// On the last right echo, the report's `trafficStats` becomes the
    /// connection's statistics at that moment (12.x/13.x).
    #[serde(default)]
    pub traffic_stats: bool,
}

fn one() -> usize {
    1
}

impl EchoCheck {
    /// The result text for an echo, or `None` if it is right. `sent` is
    /// the SHA-1 of the message the server sent last, when it knows one.
    pub fn wrong(&self, binary: bool, data: &[u8], sent: Option<&[u8; 20]>) -> Option<String> {
        let want_binary = self.opcode.0 == crate::wire::OpCode::BINARY;
        let len = self.units.len_of(data);
        // Hashed only when content is checked (not for 9.x's bulk echoes).
        let digest = || -> [u8; 20] { sha1::Sha1::digest(data).into() };
        let hex = |d: &[u8]| crate::scenario::payload::encode_hex(d);
        let template = if binary != want_binary {
            self.wrong_type.clone()
        } else if len != self.len {
            self.wrong_len.clone()
        } else {
            match (&self.wrong_content, sent) {
                (Some(text), Some(sent)) if *sent != digest() => {
                    text.replace("{sha1}", &hex(&digest())).replace("{sent_sha1}", &hex(sent))
                }
                _ => return None,
            }
        };
        let python_bool = if binary { "True" } else { "False" };
        Some(template.replace("{binary}", python_bool).replace("{len}", &len.to_string()))
    }
}

/// How a wire-log switch is made: Autobahn has two ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WirelogSwitch {
    /// `createWirelog = ...`: nothing logged.
    #[default]
    Quiet,
    /// `enableWirelog(...)`: a `WLM` entry when it changes.
    Logged,
}

/// The event lists that count as `OK` or `NON-STRICT`, checked in that
/// order; absent keys are not expected at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedEvents {
    /// Events that earn `OK`.
    #[serde(rename = "OK", default)]
    pub ok: Option<Vec<Event>>,
    /// Events that earn `NON-STRICT`.
    #[serde(rename = "NON-STRICT", default)]
    pub non_strict: Option<Vec<Event>>,
}

impl ExpectedEvents {
    /// The declared lists in judging order, with their outcome names.
    pub fn declared(&self) -> impl Iterator<Item = (Outcome, &[Event])> {
        [(Outcome::Ok, &self.ok), (Outcome::NonStrict, &self.non_strict)]
            .into_iter()
            .filter_map(|(key, list)| list.as_deref().map(|l| (key, l)))
    }
}

/// The two keys an expectation list can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `OK`.
    Ok,
    /// `NON-STRICT`.
    NonStrict,
}

/// Autobahn's `expectedClose`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedClose {
    /// The server is expected to have sent the first close.
    pub closed_by_me: bool,
    /// Close codes the client may answer with (no code is always allowed).
    pub codes: Vec<u16>,
    /// The closing handshake must complete cleanly.
    pub require_clean: bool,
}

/// Result texts for an informational case. `result` wins; otherwise the
/// text for the outcome the events matched; otherwise the text is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Informational {
    /// Always use this result text.
    #[serde(default)]
    pub result: Option<String>,
    /// Result text when the events matched `OK`.
    #[serde(default)]
    pub result_if_ok: Option<String>,
    /// Result text when the events matched `NON-STRICT`.
    #[serde(default)]
    pub result_if_non_strict: Option<String>,
}
