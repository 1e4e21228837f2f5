//! Filling Autobahn's per-case report from a case, the tracker's
//! observation, the verdict and the wire trace.

use std::collections::BTreeMap;

use super::{Case, Settings};
use crate::judge::{self, Observation, Verdict};
use crate::report::{self, CaseEvent, CaseReport, WireTrace};
use crate::scenario::{Event, Outcome};
use crate::session::time;

/// What the connection contributed besides the flags.
pub struct Connection<'a> {
    /// Accept time, UNIX microseconds.
    pub started_micros: u64,
    /// Milliseconds from on-open to TCP loss.
    pub duration_ms: u64,
    /// The upgrade request as sent.
    pub request: Option<&'a [u8]>,
    /// The 101 response as sent.
    pub response: Option<&'a [u8]>,
    /// Wire log and statistics.
    pub trace: WireTrace,
    /// The client leg's TLS facts, when the case ran over `--tls`.
    pub tls: Option<crate::session::TlsInfo>,
    /// The traffic statistics an echo check kept (`trafficStats`).
    pub traffic: Option<report::TrafficStats>,
}

/// The full report of one case.
pub fn build(
    case: &Case,
    settings: &Settings,
    obs: &Observation,
    verdict: &Verdict,
    conn: Connection<'_>,
) -> CaseReport {
    let scenario = &case.scenario;
    let mut r = CaseReport::new(settings.agent.clone());
    r.case = case.number;
    r.id = scenario.id.clone();
    r.description = report::compat::case_text(&scenario.id, &scenario.description);
    r.expectation = report::compat::case_text(&scenario.id, &scenario.expectation);
    r.started = time::rfc3339_millis(conn.started_micros);
    r.duration = conn.duration_ms;
    r.report_time = scenario.report.time;
    r.report_compression_ratio = scenario.report.compression_ratio;
    r.traffic_stats = conn.traffic.map(|t| t.to_json());
    r.expected = expected(case);
    r.expected_close = report::ExpectedClose {
        close_code: scenario.expect.close.codes.clone(),
        closed_by_me: scenario.expect.close.closed_by_me,
        require_clean: scenario.expect.close.require_clean,
        closed_by_wrong_endpoint_is_fatal: scenario.expect.closed_by_wrong_endpoint_is_fatal.then_some(true),
    };
    r.received = obs.received.iter().map(case_event).collect();
    set_verdict(&mut r, verdict);
    r.set_closing(obs, scenario.report.local_close_reason_hex);
    r.http_request = conn.request.map_or("?".into(), |b| String::from_utf8_lossy(b).into_owned());
    r.http_response = conn.response.map_or("?".into(), |b| String::from_utf8_lossy(b).into_owned());
    r.set_trace(conn.trace);
    r.tls = conn.tls;
    r
}

fn expected(case: &Case) -> BTreeMap<String, Vec<CaseEvent>> {
    let declared = case.scenario.expect.events.declared();
    declared.map(|(key, list)| (outcome_name(key).to_owned(), list.iter().map(case_event).collect())).collect()
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "OK",
        Outcome::NonStrict => "NON-STRICT",
    }
}

/// A scenario event as a report event (payload truncated per §3.3).
pub fn case_event(event: &Event) -> CaseEvent {
    match event {
        Event::Message { data, binary } => CaseEvent::message(data, *binary),
        Event::Pong(payload) => CaseEvent::pong(payload),
        Event::Timeout(tag) => CaseEvent::Timeout(tag.clone()),
    }
}

fn set_verdict(r: &mut CaseReport, verdict: &Verdict) {
    r.behavior = behavior(verdict.behavior);
    r.behavior_close = close_behavior(verdict.behavior_close);
    r.result = verdict.result.clone();
    r.result_close = verdict.result_close.clone();
}

/// The judge's behavior as the report's.
pub fn behavior(b: judge::Behavior) -> report::Behavior {
    match b {
        judge::Behavior::Ok => report::Behavior::Ok,
        judge::Behavior::NonStrict => report::Behavior::NonStrict,
        judge::Behavior::Failed => report::Behavior::Failed,
        judge::Behavior::Informational => report::Behavior::Informational,
        judge::Behavior::Unimplemented => report::Behavior::Unimplemented,
    }
}

/// The judge's close behavior as the report's.
pub fn close_behavior(b: judge::CloseBehavior) -> report::CloseBehavior {
    match b {
        judge::CloseBehavior::Ok => report::CloseBehavior::Ok,
        judge::CloseBehavior::Failed => report::CloseBehavior::Failed,
        judge::CloseBehavior::Unclean => report::CloseBehavior::Unclean,
        judge::CloseBehavior::WrongCode => report::CloseBehavior::WrongCode,
        judge::CloseBehavior::FailedByClient => report::CloseBehavior::FailedByClient,
        judge::CloseBehavior::Informational => report::CloseBehavior::Informational,
    }
}
