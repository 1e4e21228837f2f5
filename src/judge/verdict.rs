//! Autobahn's verdict: expectations plus an [`Observation`] give the four
//! report fields `behavior`, `behaviorClose`, `result` and `resultClose`.
//!
//! Contract: [`judge`] is a pure function and reproduces §2.3–2.4 of the
//! reference exactly, strings included: events first, then the close
//! checks in their fixed order (first match wins), then the case's
//! post-judging rules (wrong-endpoint-is-fatal, `WRONG CODE` fails,
//! informational).

use std::fmt;

use crate::scenario::{Event, Expect, ExpectedClose, ExpectedEvents, Informational, Outcome};

/// Result text when the events match no expected list.
pub const EVENTS_DIFFER: &str = "Actual events differ from any expected.";
/// Result text when the events match an expected list.
pub const EVENTS_MATCH: &str = "Actual events match at least one expected.";
/// Close result when the opening handshake never completed.
pub const NO_HANDSHAKE: &str = "The WebSocket opening handshake was never completed!";
/// Close result when the wrong side started the close.
pub const WRONG_ENDPOINT: &str = "The connection was failed by the wrong endpoint";
/// Close result when a clean close was required but not seen.
pub const NOT_CLEAN: &str = "The spec requires the connection to be failed cleanly here";
/// Close result when the fuzzer, as a client, had to drop TCP.
pub const DROPPED_BY_CLIENT: &str = "It is preferred that the server close the TCP connection";
/// Close result when all is well.
pub const PROPERLY_CLOSED: &str = "Connection was properly closed";

/// Autobahn's `behavior`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// `OK`.
    Ok,
    /// `NON-STRICT`.
    NonStrict,
    /// `FAILED`.
    Failed,
    /// `INFORMATIONAL`.
    Informational,
    /// `UNIMPLEMENTED` (12.x/13.x without permessage-deflate).
    Unimplemented,
}

impl Behavior {
    /// The report string.
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Ok => "OK",
            Behavior::NonStrict => "NON-STRICT",
            Behavior::Failed => "FAILED",
            Behavior::Informational => "INFORMATIONAL",
            Behavior::Unimplemented => "UNIMPLEMENTED",
        }
    }
}

/// Autobahn's `behaviorClose`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseBehavior {
    /// `OK`.
    Ok,
    /// `FAILED`.
    Failed,
    /// `UNCLEAN`.
    Unclean,
    /// `WRONG CODE`.
    WrongCode,
    /// `FAILED BY CLIENT`.
    FailedByClient,
    /// `INFORMATIONAL`.
    Informational,
}

impl CloseBehavior {
    /// The report string.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseBehavior::Ok => "OK",
            CloseBehavior::Failed => "FAILED",
            CloseBehavior::Unclean => "UNCLEAN",
            CloseBehavior::WrongCode => "WRONG CODE",
            CloseBehavior::FailedByClient => "FAILED BY CLIENT",
            CloseBehavior::Informational => "INFORMATIONAL",
        }
    }
}

impl fmt::Display for Behavior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CloseBehavior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened on one connection, as Autobahn's report flags (§2.6).
/// Built by [`crate::judge::Tracker`]; can be built by hand for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Messages and pongs recorded from the client, in order.
    pub received: Vec<Event>,
    /// The 101 response was sent (the connection reached OPEN).
    pub handshake_completed: bool,
    /// The judging side is the server (always, for the fuzzingserver).
    pub is_server: bool,
    /// The server sent the first close, not as a reply.
    pub closed_by_me: bool,
    /// The server failed the connection.
    pub failed_by_me: bool,
    /// The server closed the TCP connection.
    pub dropped_by_me: bool,
    /// The closing handshake completed.
    pub was_clean: bool,
    /// Why it was not clean, when known.
    pub was_not_clean_reason: Option<String>,
    /// Client mode only: the server did not drop TCP in time.
    pub was_server_connection_drop_timeout: bool,
    /// The opening-handshake timer fired.
    pub was_open_handshake_timeout: bool,
    /// The close-handshake timer fired.
    pub was_close_handshake_timeout: bool,
    /// Code of the server's first close.
    pub local_close_code: Option<u16>,
    /// Reason bytes of the server's first close.
    pub local_close_reason: Option<Vec<u8>>,
    /// Code of the client's close.
    pub remote_close_code: Option<u16>,
    /// Reason of the client's close, when present and UTF-8.
    pub remote_close_reason: Option<String>,
    /// An echo check's outcome so far: (OK, result text); `None` while
    /// no echo has decided it.
    pub echo: Option<(bool, String)>,
    /// The case found it could not run (no permessage-deflate agreed).
    pub unimplemented: bool,
}

impl Default for Observation {
    /// A server-side observation where nothing has happened yet.
    fn default() -> Observation {
        Observation {
            received: Vec::new(),
            handshake_completed: false,
            is_server: true,
            closed_by_me: false,
            failed_by_me: false,
            dropped_by_me: false,
            was_clean: false,
            was_not_clean_reason: None,
            was_server_connection_drop_timeout: false,
            was_open_handshake_timeout: false,
            was_close_handshake_timeout: false,
            local_close_code: None,
            local_close_reason: None,
            remote_close_code: None,
            remote_close_reason: None,
            echo: None,
            unimplemented: false,
        }
    }
}

/// The four outcome fields of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `behavior`.
    pub behavior: Behavior,
    /// `behaviorClose`.
    pub behavior_close: CloseBehavior,
    /// `result`.
    pub result: String,
    /// `resultClose`.
    pub result_close: String,
}

/// Judges one case.
pub fn judge(expect: &Expect, obs: &Observation) -> Verdict {
    let (behavior, result) = match matching_outcome(&expect.events, &obs.received) {
        Some(Outcome::Ok) => (Behavior::Ok, EVENTS_MATCH.to_owned()),
        Some(Outcome::NonStrict) => (Behavior::NonStrict, EVENTS_MATCH.to_owned()),
        None => (Behavior::Failed, EVENTS_DIFFER.to_owned()),
    };
    // An echo check (category 9) decides behavior and result instead.
    let (behavior, result) = match (&expect.echo, &obs.echo) {
        (Some(_), Some((true, text))) => (Behavior::Ok, text.clone()),
        (Some(_), Some((false, text))) => (Behavior::Failed, text.clone()),
        (Some(check), None) => (Behavior::Failed, check.waiting.clone()),
        (None, _) => (behavior, result),
    };
    // Autobahn sets UNIMPLEMENTED and keeps the initial result text.
    let (behavior, result) =
        if obs.unimplemented { (Behavior::Unimplemented, EVENTS_DIFFER.to_owned()) } else { (behavior, result) };
    let (behavior_close, result_close) = judge_close(&expect.close, obs);
    let mut verdict = Verdict { behavior, behavior_close, result, result_close };
    if expect.closed_by_wrong_endpoint_is_fatal && obs.closed_by_me != expect.close.closed_by_me {
        verdict.behavior = Behavior::Failed;
    }
    if expect.wrong_code_fails && verdict.behavior_close == CloseBehavior::WrongCode {
        verdict.behavior = Behavior::Failed;
        verdict.result = verdict.result_close.clone();
    }
    if let Some(info) = &expect.informational {
        make_informational(&mut verdict, info);
    }
    verdict
}

/// The first declared list (OK, then NON-STRICT) equal to `received`.
pub fn matching_outcome(events: &ExpectedEvents, received: &[Event]) -> Option<Outcome> {
    events.declared().find(|(_, list)| *list == received).map(|(key, _)| key)
}

/// §2.3's close checks, first match wins.
fn judge_close(expected: &ExpectedClose, obs: &Observation) -> (CloseBehavior, String) {
    if !obs.handshake_completed {
        return (CloseBehavior::Failed, NO_HANDSHAKE.into());
    }
    let bad_code = obs.remote_close_code.filter(|code| !expected.codes.contains(code));
    if obs.closed_by_me != expected.closed_by_me {
        (CloseBehavior::Failed, WRONG_ENDPOINT.into())
    } else if expected.require_clean && !obs.was_clean {
        (CloseBehavior::Unclean, NOT_CLEAN.into())
    } else if bad_code.is_some() {
        (CloseBehavior::WrongCode, wrong_code_text(&expected.codes))
    } else if !obs.is_server && obs.dropped_by_me {
        (CloseBehavior::FailedByClient, DROPPED_BY_CLIENT.into())
    } else {
        (CloseBehavior::Ok, PROPERLY_CLOSED.into())
    }
}

/// "The close code should have been 1002,1007 or empty".
fn wrong_code_text(codes: &[u16]) -> String {
    let joined: Vec<String> = codes.iter().map(u16::to_string).collect();
    format!("The close code should have been {} or empty", joined.join(","))
}

fn make_informational(verdict: &mut Verdict, info: &Informational) {
    let by_outcome = match verdict.behavior {
        Behavior::Ok => info.result_if_ok.as_ref(),
        Behavior::NonStrict => info.result_if_non_strict.as_ref(),
        _ => None,
    };
    if let Some(text) = info.result.as_ref().or(by_outcome) {
        verdict.result = text.clone();
    }
    verdict.behavior = Behavior::Informational;
    verdict.behavior_close = CloseBehavior::Informational;
}
