//! The Autobahn per-case report model: one [`CaseReport`] per (agent, case).
//!
//! Contracts:
//! - Serialising a [`CaseReport`] with serde gives exactly the key set of
//!   Autobahn's per-case JSON (§4.3), camelCase names included; render it
//!   with [`render_json`](super::render_json) for Autobahn's layout.
//! - Payload strings inside [`CaseEvent`]s are already truncated per §3.3
//!   when built with the constructors, so JSON and reprs match Autobahn.
//! - The model is also used for `wstap show`, where there is no case and no
//!   verdict: [`CaseReport::new`] fills Autobahn's defaults and the text
//!   renderer can omit the case sections (see [`TextOptions`](super::TextOptions)).

use super::pyfmt::{str_repr, unicode_repr};
use super::wirelog::{Histogram, WireLogEntry, WireTrace, payload_text, payload_text_of};
use crate::session::Preview;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use std::collections::BTreeMap;

/// The verdict on the events (`behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Behavior {
    /// Events matched the strict expectation.
    #[serde(rename = "OK")]
    Ok,
    /// Events matched only the lenient expectation.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// Events matched no expectation.
    #[serde(rename = "FAILED")]
    Failed,
    /// The case has no pass/fail semantics.
    #[serde(rename = "INFORMATIONAL")]
    Informational,
    /// A required feature (permessage-deflate) was not negotiated.
    #[serde(rename = "UNIMPLEMENTED")]
    Unimplemented,
}

impl Behavior {
    /// The per-case page's summary word; anything unknown shows as "Fail".
    pub fn summary_label(self) -> &'static str {
        match self {
            Self::Ok => "Pass",
            Self::NonStrict => "Non-Strict",
            Self::Informational => "Informational",
            Self::Failed | Self::Unimplemented => "Fail",
        }
    }

    /// The CSS class of the per-case summary bar.
    pub fn css_class(self) -> &'static str {
        match self {
            Self::Ok => "case_ok",
            Self::NonStrict => "case_non_strict",
            Self::Informational => "case_info",
            Self::Failed | Self::Unimplemented => "case_failed",
        }
    }

    /// Autobahn's upper-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::NonStrict => "NON-STRICT",
            Self::Failed => "FAILED",
            Self::Informational => "INFORMATIONAL",
            Self::Unimplemented => "UNIMPLEMENTED",
        }
    }
}

/// The verdict on the closing behaviour (`behaviorClose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CloseBehavior {
    /// Properly closed.
    #[serde(rename = "OK")]
    Ok,
    /// Wrong endpoint closed, or the handshake never completed.
    #[serde(rename = "FAILED")]
    Failed,
    /// A clean close was required but did not happen.
    #[serde(rename = "UNCLEAN")]
    Unclean,
    /// The peer's close code was not allowed.
    #[serde(rename = "WRONG CODE")]
    WrongCode,
    /// Client mode only: the client had to drop TCP.
    #[serde(rename = "FAILED BY CLIENT")]
    FailedByClient,
    /// No pass/fail semantics.
    #[serde(rename = "INFORMATIONAL")]
    Informational,
}

impl CloseBehavior {
    /// Autobahn's upper-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Failed => "FAILED",
            Self::Unclean => "UNCLEAN",
            Self::WrongCode => "WRONG CODE",
            Self::FailedByClient => "FAILED BY CLIENT",
            Self::Informational => "INFORMATIONAL",
        }
    }
}

/// One recorded (or expected) event: `["message", text, isBinary]`,
/// `["pong", text]` or `["timeout", tag]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseEvent {
    /// A complete message; `payload` is the §3.3 rendering.
    Message {
        /// Rendered payload.
        payload: String,
        /// Binary (true) or text message.
        binary: bool,
    },
    /// A pong; `payload` is the §3.3 rendering.
    Pong(String),
    /// A timeout marker inserted by the case (6.4.x).
    Timeout(String),
}

impl CaseEvent {
    /// A message event from its raw payload.
    pub fn message(payload: &[u8], binary: bool) -> Self {
        Self::Message { payload: payload_text(payload), binary }
    }

    /// [`message`](Self::message) of a payload known by its preview.
    pub fn message_of(payload: &Preview, binary: bool) -> Self {
        Self::Message { payload: payload_text_of(payload), binary }
    }

    /// [`pong`](Self::pong) of a payload known by its preview.
    pub fn pong_of(payload: &Preview) -> Self {
        Self::Pong(payload_text_of(payload))
    }

    /// A pong event from its raw payload.
    pub fn pong(payload: &[u8]) -> Self {
        Self::Pong(payload_text(payload))
    }

    /// Python repr of the event tuple, e.g. `('message', u'Hi', False)`.
    /// Payloads print as unicode (`u'…'`), tags as byte strings.
    pub fn py_repr(&self) -> String {
        match self {
            Self::Message { payload, binary } => {
                format!("('message', {}, {})", unicode_repr(payload), super::pyfmt::py_bool(*binary))
            }
            Self::Pong(payload) => format!("('pong', {})", unicode_repr(payload)),
            Self::Timeout(tag) => format!("('timeout', {})", str_repr(tag)),
        }
    }
}

impl Serialize for CaseEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        match self {
            Self::Message { payload, binary } => {
                seq.serialize_element("message")?;
                seq.serialize_element(payload)?;
                seq.serialize_element(binary)?;
            }
            Self::Pong(payload) => {
                seq.serialize_element("pong")?;
                seq.serialize_element(payload)?;
            }
            Self::Timeout(tag) => {
                seq.serialize_element("timeout")?;
                seq.serialize_element(tag)?;
            }
        }
        seq.end()
    }
}

/// Python repr of a list of events, e.g. `[]` or `[('pong', u'')]`.
pub fn events_repr(events: &[CaseEvent]) -> String {
    let items: Vec<String> = events.iter().map(CaseEvent::py_repr).collect();
    format!("[{}]", items.join(", "))
}

/// Python repr of the expectation dict, e.g. `{'OK': []}`. Keys print in
/// sorted order, which for Autobahn's two keys equals CPython 2.7's dict
/// order (`{'NON-STRICT': …, 'OK': …}`, checked with 2.7.18).
pub fn expected_repr(expected: &BTreeMap<String, Vec<CaseEvent>>) -> String {
    let items: Vec<String> =
        expected.iter().map(|(key, events)| format!("{}: {}", str_repr(key), events_repr(events))).collect();
    format!("{{{}}}", items.join(", "))
}

/// The `expectedClose` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedClose {
    /// Allowed remote close codes.
    pub close_code: Vec<u16>,
    /// Whether the fuzzer is expected to close first.
    pub closed_by_me: bool,
    /// Whether a clean close is required.
    pub require_clean: bool,
    /// Present only for the 6.x invalid-UTF-8 cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by_wrong_endpoint_is_fatal: Option<bool>,
}

/// Every field of Autobahn's per-case JSON (§4.3), in Rust naming.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    /// The agent parameter.
    pub agent: String,
    /// Verdict on the events.
    pub behavior: Behavior,
    /// Verdict on the close.
    pub behavior_close: CloseBehavior,
    /// Numeric case index used in `/runCase` (1-based).
    pub case: u32,
    /// Dotted case ID, e.g. `7.3.1`.
    pub id: String,
    /// Case description (may contain HTML, as Autobahn's does).
    pub description: String,
    /// Case expectation text (may contain HTML).
    pub expectation: String,
    /// UTC start timestamp with milliseconds and `Z`.
    pub started: String,
    /// Milliseconds from open to TCP loss.
    pub duration: u64,
    /// Whether the index shows the duration.
    pub report_time: bool,
    /// Whether the index shows compression ratios.
    pub report_compression_ratio: bool,
    /// Expectations by key (`OK`, `NON-STRICT`).
    pub expected: BTreeMap<String, Vec<CaseEvent>>,
    /// Close expectations.
    pub expected_close: ExpectedClose,
    /// Events observed.
    pub received: Vec<CaseEvent>,
    /// Result text for `behavior`.
    pub result: String,
    /// Result text for `behaviorClose`.
    pub result_close: String,
    /// The fuzzer sent close first.
    pub closed_by_me: bool,
    /// The fuzzer failed the connection.
    pub failed_by_me: bool,
    /// The fuzzer dropped TCP.
    pub dropped_by_me: bool,
    /// A full closing handshake happened.
    pub was_clean: bool,
    /// Why the close was not clean, if known.
    pub was_not_clean_reason: Option<String>,
    /// Client mode: the server did not drop TCP in time.
    pub was_server_connection_drop_timeout: bool,
    /// The opening handshake timed out.
    pub was_open_handshake_timeout: bool,
    /// The closing handshake timed out.
    pub was_close_handshake_timeout: bool,
    /// Close code the fuzzer sent.
    pub local_close_code: Option<u16>,
    /// Close code the peer sent.
    pub remote_close_code: Option<u16>,
    /// Close reason the fuzzer sent.
    pub local_close_reason: Option<String>,
    /// Close reason the peer sent.
    pub remote_close_reason: Option<String>,
    /// The fuzzer is the server.
    pub is_server: bool,
    /// Statistics were on at the end.
    pub create_stats: bool,
    /// Wire logging was on at the end.
    pub create_wirelog: bool,
    /// Read sizes.
    pub rx_octet_stats: Histogram,
    /// Write sizes.
    pub tx_octet_stats: Histogram,
    /// Received opcodes.
    pub rx_frame_stats: Histogram,
    /// Sent opcodes.
    pub tx_frame_stats: Histogram,
    /// The wire log.
    pub wirelog: Vec<WireLogEntry>,
    /// Raw upgrade request incl. the final CRLFCRLF (`?` if none).
    pub http_request: String,
    /// Raw 101 response (`?` if none).
    pub http_response: String,
    /// Compression statistics (12.x/13.x), else null.
    pub traffic_stats: Option<serde_json::Value>,
    /// wstap's addition: the TLS facts of a case run over `--tls` (version,
    /// cipher suite, SNI, ALPN, the certificate presented). Absent over
    /// plain ws, so those reports keep exactly Autobahn's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::session::TlsInfo>,
}

impl CaseReport {
    /// A report with Autobahn's initial values: no case, OK verdicts, no
    /// close seen, fuzzer is server, stats and wire log on, handshakes `?`.
    pub fn new(agent: impl Into<String>) -> Self {
        Self {
            agent: agent.into(),
            behavior: Behavior::Ok,
            behavior_close: CloseBehavior::Ok,
            case: 0,
            id: String::new(),
            description: String::new(),
            expectation: String::new(),
            started: String::new(),
            duration: 0,
            report_time: false,
            report_compression_ratio: false,
            expected: BTreeMap::new(),
            expected_close: ExpectedClose::default(),
            received: Vec::new(),
            result: String::new(),
            result_close: String::new(),
            closed_by_me: false,
            failed_by_me: false,
            dropped_by_me: false,
            was_clean: false,
            was_not_clean_reason: None,
            was_server_connection_drop_timeout: false,
            was_open_handshake_timeout: false,
            was_close_handshake_timeout: false,
            local_close_code: None,
            remote_close_code: None,
            local_close_reason: None,
            remote_close_reason: None,
            is_server: true,
            create_stats: true,
            create_wirelog: true,
            rx_octet_stats: Histogram::default(),
            tx_octet_stats: Histogram::default(),
            rx_frame_stats: Histogram::default(),
            tx_frame_stats: Histogram::default(),
            wirelog: Vec::new(),
            http_request: "?".to_owned(),
            http_response: "?".to_owned(),
            traffic_stats: None,
            tls: None,
        }
    }

    /// Sets the 13 closing-behaviour keys from what the judge observed. With
    /// `reason_hex` (case 7.5.1), `localCloseReason` is the hex of the
    /// reason, `"?"` when none was sent.
    pub fn set_closing(&mut self, obs: &crate::judge::Observation, reason_hex: bool) {
        self.is_server = obs.is_server;
        self.closed_by_me = obs.closed_by_me;
        self.failed_by_me = obs.failed_by_me;
        self.dropped_by_me = obs.dropped_by_me;
        self.was_clean = obs.was_clean;
        self.was_not_clean_reason = obs.was_not_clean_reason.clone();
        self.was_server_connection_drop_timeout = obs.was_server_connection_drop_timeout;
        self.was_open_handshake_timeout = obs.was_open_handshake_timeout;
        self.was_close_handshake_timeout = obs.was_close_handshake_timeout;
        self.local_close_code = obs.local_close_code;
        self.local_close_reason = match (&obs.local_close_reason, reason_hex) {
            (Some(reason), true) => Some(crate::session::data::hex(reason)),
            (None, true) => Some("?".into()),
            (reason, false) => reason.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
        };
        self.remote_close_code = obs.remote_close_code;
        self.remote_close_reason = obs.remote_close_reason.clone();
    }

    /// Take the wire log, statistics and logging state from a trace.
    pub fn set_trace(&mut self, trace: WireTrace) {
        self.create_wirelog = trace.logging;
        self.rx_octet_stats = trace.rx_octets;
        self.tx_octet_stats = trace.tx_octets;
        self.rx_frame_stats = trace.rx_frames;
        self.tx_frame_stats = trace.tx_frames;
        self.wirelog = trace.wirelog;
    }

    /// Base file name of this report without extension (§4.1), e.g.
    /// `tungstenite_case_7_3_1`.
    pub fn file_stem(&self) -> String {
        format!("{}_case_{}", agent_file_name(&self.agent), self.id.replace('.', "_"))
    }
}

/// File-name prefixes for a set of agents: [`agent_file_name`] for each,
/// except that agents whose names reduce to the same prefix (`My Agent`
/// and `my-agent`) get distinct ones: in sorted order, the first keeps it
/// and the others get `_2`, `_3`, ... appended. Two agents' reports never
/// overwrite each other.
#[derive(Clone, Debug, Default)]
pub struct AgentStems(std::collections::BTreeMap<String, String>);

impl AgentStems {
    /// The prefixes of every agent in `reports`.
    pub fn of(reports: &[CaseReport]) -> AgentStems {
        let agents: std::collections::BTreeSet<&str> = reports.iter().map(|r| r.agent.as_str()).collect();
        let mut taken = std::collections::BTreeSet::new();
        let mut stems = std::collections::BTreeMap::new();
        // Plain prefixes first, so that `a_2` as a real agent keeps its own.
        let plain: Vec<(&str, String)> = agents.iter().map(|a| (*a, agent_file_name(a))).collect();
        for (agent, stem) in &plain {
            if taken.insert(stem.clone()) {
                stems.insert(agent.to_string(), stem.clone());
            }
        }
        for (agent, stem) in plain {
            if stems.contains_key(agent) {
                continue;
            }
            let unique = (2..).map(|n| format!("{stem}_{n}")).find(|s| !taken.contains(s)).expect("unbounded");
            taken.insert(unique.clone());
            stems.insert(agent.to_string(), unique);
        }
        AgentStems(stems)
    }

    /// Base file name of `report` (`<agent prefix>_case_<id>`).
    pub fn file_stem(&self, report: &CaseReport) -> String {
        match self.0.get(&report.agent) {
            Some(stem) => format!("{stem}_case_{}", report.id.replace('.', "_")),
            None => report.file_stem(),
        }
    }
}

/// Agent name → file-name prefix (§4.1): lowercase, every character
/// outside `a–z0–9` becomes a space, trim, spaces become `_` (runs are not
/// collapsed, as in Autobahn).
pub fn agent_file_name(agent: &str) -> String {
    let spaced: String = agent
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { ' ' })
        .collect();
    spaced.trim().replace(' ', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_that_mangle_alike_get_distinct_file_names() {
        let report = |agent: &str| {
            let mut r = CaseReport::new(agent);
            r.agent = agent.into();
            r.id = "7.1.1".into();
            r
        };
        let reports = [report("My Agent"), report("my-agent"), report("my_agent_2"), report("tungstenite")];
        let stems = AgentStems::of(&reports);
        let names: Vec<String> = reports.iter().map(|r| stems.file_stem(r)).collect();
        assert_eq!(
            names,
            ["my_agent_case_7_1_1", "my_agent_3_case_7_1_1", "my_agent_2_case_7_1_1", "tungstenite_case_7_1_1"]
        );
    }

    #[test]
    fn agent_names_mangle_like_autobahn() {
        assert_eq!(agent_file_name("Tungstenite"), "tungstenite");
        assert_eq!(agent_file_name("py-websockets-client"), "py_websockets_client");
        assert_eq!(agent_file_name(" My  Agent/1.0 "), "my__agent_1_0");
        let mut report = CaseReport::new("ixwebsocket");
        report.id = "7.3.1".into();
        assert_eq!(report.file_stem(), "ixwebsocket_case_7_3_1");
    }

    #[test]
    fn reprs_match_python() {
        let mut expected = BTreeMap::new();
        expected.insert("OK".to_owned(), vec![CaseEvent::message(b"Hello World!", false)]);
        expected.insert("NON-STRICT".to_owned(), vec![]);
        assert_eq!(expected_repr(&expected), "{'NON-STRICT': [], 'OK': [('message', u'Hello World!', False)]}");
        assert_eq!(
            events_repr(&[CaseEvent::pong(&[0x03, 0xe8]), CaseEvent::Timeout("A".into())]),
            "[('pong', u'0x03e8'), ('timeout', 'A')]"
        );
    }

    #[test]
    fn serialises_every_autobahn_key() {
        let value = serde_json::to_value(CaseReport::new("a")).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "behaviorClose",
            "reportCompressionRatio",
            "wasServerConnectionDropTimeout",
            "rxOctetStats",
            "httpRequest",
            "trafficStats",
            "expectedClose",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(keys.len(), 39);
        assert_eq!(
            value["expectedClose"],
            serde_json::json!({"closeCode": [], "closedByMe": false, "requireClean": false})
        );
    }
}
