//! The §2.8 scenario matrix, row by row, on the shipped category-7 cases:
//! a scripted client drives the tracker, and both the flags and the verdict
//! are checked. Plus the 7.1.1, 7.1.6 and 7.13.x special rules.

use std::path::Path;
use std::time::Duration;

use super::tracker::{NO_CLOSE_REPLY, NO_OPEN_HANDSHAKE, PEER_DROPPED};
use super::verdict::{EVENTS_DIFFER, EVENTS_MATCH, NOT_CLEAN, PROPERLY_CLOSED, WRONG_ENDPOINT};
use super::*;
use crate::scenario::{self, Event, LocalClose, Scenario, Step};
use crate::wire::CodePolicy;

fn case(id: &str) -> Scenario {
    let category = id.split('.').next().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(category).join(format!("{id}.yaml"));
    scenario::load(&path).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A replay engine in miniature: runs the plan at t = 0, then the client.
struct Run {
    scenario: Scenario,
    tracker: Tracker,
    reactions: Vec<Reaction>,
}

impl Run {
    fn new(id: &str) -> Run {
        let scenario = case(id);
        let tracker = Tracker::new(&scenario.expect, CodePolicy::Autobahn);
        let mut run = Run { scenario, tracker, reactions: Vec::new() };
        run.at(0, Occurrence::Opened);
        for step in run.scenario.plan() {
            match step {
                Step::Close { close, .. } => run.at(0, Occurrence::Close(close)),
                Step::KillAfter(secs) => run.at(0, Occurrence::KillAfter(Duration::from_secs_f64(secs))),
                Step::CloseAfter(secs) => run.at(0, Occurrence::CloseAfter(Duration::from_secs_f64(secs))),
                _ => {}
            }
        }
        run
    }

    fn at(&mut self, t: u64, occurrence: Occurrence) {
        let reactions = self.tracker.apply(ms(t), occurrence);
        self.reactions.extend(reactions);
    }

    fn close_from_client(&mut self, t: u64, payload: &[u8]) {
        self.at(t, Occurrence::ClientClose(payload.to_vec()));
    }

    /// TCP is gone at `t`: timers due by then fire first.
    fn end(mut self, t: u64) -> (Observation, Verdict, Vec<Reaction>) {
        self.reactions.extend(self.tracker.advance(ms(t)));
        let obs = self.tracker.finish(ms(t));
        let verdict = judge(&self.scenario.expect, &obs);
        (obs, verdict, self.reactions)
    }
}

/// (closedByMe, failedByMe, droppedByMe, wasClean, wasNotCleanReason,
/// wasCloseHandshakeTimeout, remoteCloseCode)
type Flags = (bool, bool, bool, bool, Option<&'static str>, bool, Option<u16>);

fn flags(obs: &Observation) -> (bool, bool, bool, bool, Option<String>, bool, Option<u16>) {
    (
        obs.closed_by_me,
        obs.failed_by_me,
        obs.dropped_by_me,
        obs.was_clean,
        obs.was_not_clean_reason.clone(),
        obs.was_close_handshake_timeout,
        obs.remote_close_code,
    )
}

fn assert_flags(obs: &Observation, expected: Flags) {
    let (a, b, c, d, reason, f, g) = expected;
    assert_eq!(flags(obs), (a, b, c, d, reason.map(String::from), f, g));
}

fn close_verdict(v: &Verdict) -> (Behavior, CloseBehavior, &str, &str) {
    (v.behavior, v.behavior_close, v.result.as_str(), v.result_close.as_str())
}

/// 7.3.3 requires a clean close with 1000; 7.3.2 does not and wants 1002.
const CLEAN: &str = "7.3.3";
const LENIENT: &str = "7.3.2";

#[test]
fn row1_valid_close_reply_in_the_allowed_list() {
    for (id, code) in [(CLEAN, 1000u16), (LENIENT, 1002)] {
        let mut run = Run::new(id);
        run.close_from_client(40, &code.to_be_bytes());
        let (obs, v, reactions) = run.end(41);
        assert_flags(&obs, (true, false, true, true, None, false, Some(code)));
        assert_eq!(close_verdict(&v), (Behavior::Ok, CloseBehavior::Ok, EVENTS_MATCH, PROPERLY_CLOSED), "{id}");
        assert_eq!(reactions.last(), Some(&Reaction::Drop { abort: true }), "reply read: abortive drop");
    }
}

#[test]
fn row1_valid_close_reply_outside_the_list_is_wrong_code_and_fails() {
    for (id, code, text) in [
        (CLEAN, 1001u16, "The close code should have been 1000 or empty"),
        (LENIENT, 1000, "The close code should have been 1002 or empty"),
    ] {
        let mut run = Run::new(id);
        run.close_from_client(40, &code.to_be_bytes());
        let (obs, v, _) = run.end(41);
        assert_flags(&obs, (true, false, true, true, None, false, Some(code)));
        assert_eq!(close_verdict(&v), (Behavior::Failed, CloseBehavior::WrongCode, text, text), "{id}");
    }
}

#[test]
fn wrong_code_text_joins_all_codes() {
    let mut run = Run::new("7.5.1");
    run.close_from_client(40, &1000u16.to_be_bytes());
    let (_, v, _) = run.end(41);
    assert_eq!(v.result_close, "The close code should have been 1002,1007 or empty");
}

#[test]
fn row2_empty_close_reply() {
    for id in [CLEAN, LENIENT] {
        let mut run = Run::new(id);
        run.close_from_client(40, &[]);
        let (obs, v, _) = run.end(41);
        assert_flags(&obs, (true, false, true, true, None, false, None));
        assert_eq!((v.behavior, v.behavior_close), (Behavior::Ok, CloseBehavior::Ok), "{id}");
    }
}

#[test]
fn row3_client_drops_tcp_without_close() {
    for (id, close) in [(CLEAN, CloseBehavior::Unclean), (LENIENT, CloseBehavior::Ok)] {
        let (obs, v, _) = Run::new(id).end(40);
        assert_flags(&obs, (true, false, false, false, Some(PEER_DROPPED), false, None));
        assert_eq!((v.behavior, v.behavior_close), (Behavior::Ok, close), "{id}");
    }
    let (_, v, _) = Run::new(CLEAN).end(40);
    assert_eq!(v.result_close, NOT_CLEAN);
}

#[test]
fn row4_silence_close_handshake_timer_wins_the_tie() {
    for (id, close) in [(CLEAN, CloseBehavior::Unclean), (LENIENT, CloseBehavior::Ok)] {
        let run = Run::new(id);
        // Both timers are due at exactly 1 s: the close-handshake one goes first.
        assert_eq!(run.tracker.next_deadline(), Some(ms(1000)));
        let (obs, v, reactions) = run.end(1500);
        assert_flags(&obs, (true, false, true, false, Some(NO_CLOSE_REPLY), true, None));
        assert_eq!((v.behavior, v.behavior_close), (Behavior::Ok, close), "{id}");
        assert_eq!(reactions.last(), Some(&Reaction::Drop { abort: true }));
    }
}

#[test]
fn row5_silence_kill_timer_wins_when_it_is_due_first() {
    for (id, close) in [(CLEAN, CloseBehavior::Unclean), (LENIENT, CloseBehavior::Ok)] {
        let s = case(id);
        let mut tracker = Tracker::new(&s.expect, CodePolicy::Autobahn);
        tracker.apply(ms(0), Occurrence::Opened);
        tracker.apply(ms(0), Occurrence::KillAfter(ms(1000)));
        let reactions = tracker.apply(ms(1), Occurrence::Close(LocalClose::new(1000, "")));
        assert_eq!(reactions.len(), 1);
        let fired = tracker.advance(ms(1000));
        assert_eq!(fired, vec![Reaction::Drop { abort: false }], "kill in CLOSING drops gracefully");
        let obs = tracker.finish(ms(1001));
        assert_flags(&obs, (true, true, true, false, None, false, None));
        let v = judge(&s.expect, &obs);
        assert_eq!((v.behavior, v.behavior_close), (Behavior::Ok, close), "{id}");
    }
}

#[test]
fn row6_invalid_code_or_bad_reason_in_the_reply() {
    let replies: [(&[u8], Option<u16>); 4] = [
        (&[0x03, 0xed], Some(1005)),
        (&[0x00, 0x00], Some(0)),
        (&[0x13, 0x88], Some(5000)),
        (b"\x03\xe8ok\xed\xa0\x80", Some(1000)),
    ];
    for (payload, code) in replies {
        for (id, close) in [(CLEAN, CloseBehavior::Unclean), (LENIENT, CloseBehavior::WrongCode)] {
            let mut run = Run::new(id);
            run.close_from_client(40, payload);
            let (obs, v, reactions) = run.end(41);
            assert_flags(&obs, (true, true, true, false, None, false, code));
            assert_eq!(v.behavior_close, close, "{id} {payload:?}");
            let behavior = if close == CloseBehavior::WrongCode { Behavior::Failed } else { Behavior::Ok };
            assert_eq!(v.behavior, behavior, "{id} {payload:?}");
            assert_eq!(reactions.last(), Some(&Reaction::Drop { abort: false }), "failing in CLOSING");
        }
    }
}

#[test]
fn invalid_code_checks_follow_the_policy() {
    // 1012 is valid for the RFC but a protocol error for Autobahn's engine.
    for (policy, failed) in [(CodePolicy::Autobahn, true), (CodePolicy::Rfc, false)] {
        let s = case("7.3.3");
        let mut tracker = Tracker::new(&s.expect, policy);
        tracker.apply(ms(0), Occurrence::Opened);
        tracker.apply(ms(0), Occurrence::Close(LocalClose::new(1000, "")));
        tracker.apply(ms(5), Occurrence::ClientClose(1012u16.to_be_bytes().to_vec()));
        let obs = tracker.finish(ms(6));
        assert_eq!((obs.failed_by_me, obs.was_clean), (failed, !failed), "{policy:?}");
    }
}

#[test]
fn row7_client_closes_first() {
    for id in ["7.1.1", CLEAN, LENIENT] {
        let s = case(id);
        let mut tracker = Tracker::new(&s.expect, CodePolicy::Autobahn);
        tracker.apply(ms(0), Occurrence::Opened);
        assert!(!tracker.client_closed());
        let reactions = tracker.apply(ms(3), Occurrence::ClientClose(vec![0x03, 0xe8]));
        assert!(tracker.client_closed());
        assert_eq!(reactions, vec![Reaction::SendClose(LocalClose::new(1000, "")), Reaction::Drop { abort: false }]);
        // The scenario's own close comes too late and is not sent.
        assert!(tracker.apply(ms(4), Occurrence::Close(LocalClose::new(1000, ""))).is_empty());
        let obs = tracker.finish(ms(5));
        assert_flags(&obs, (false, false, true, true, None, false, Some(1000)));
        assert_eq!(obs.local_close_code, Some(1000));
        let v = judge(&s.expect, &obs);
        assert_eq!((v.behavior_close, v.result_close.as_str()), (CloseBehavior::Failed, WRONG_ENDPOINT), "{id}");
    }
}

#[test]
fn row8_data_before_the_close_reply_fails_behavior_only() {
    let cases = [
        ("7.1.3", Event::Pong(vec![])),
        ("7.1.4", Event::text("Hello World!")),
        ("7.1.5", Event::text("fragment1fragment2")),
    ];
    for (id, event) in cases {
        let mut run = Run::new(id);
        run.at(20, Occurrence::Received(event));
        run.close_from_client(30, &[0x03, 0xe8]);
        let (obs, v, _) = run.end(31);
        assert_eq!(obs.received.len(), 1, "{id}: recorded while CLOSING");
        assert_eq!(close_verdict(&v), (Behavior::Failed, CloseBehavior::Ok, EVENTS_DIFFER, PROPERLY_CLOSED), "{id}");
    }
}

#[test]
fn case_7_1_1_closes_automatically_after_the_echo() {
    let mut run = Run::new("7.1.1");
    assert!(run.reactions.is_empty(), "no close before the echo");
    run.at(10, Occurrence::Received(Event::text("Hello World!")));
    assert_eq!(run.reactions, vec![Reaction::SendClose(LocalClose::new(1000, ""))]);
    run.close_from_client(15, &[0x03, 0xe8]);
    let (obs, v, _) = run.end(16);
    assert_flags(&obs, (true, false, true, true, None, false, Some(1000)));
    assert_eq!(close_verdict(&v), (Behavior::Ok, CloseBehavior::Ok, EVENTS_MATCH, PROPERLY_CLOSED));
}

#[test]
fn case_7_1_1_wrong_echo_does_not_close() {
    let mut run = Run::new("7.1.1");
    run.at(10, Occurrence::Received(Event::binary("Hello World!")));
    assert!(run.reactions.is_empty());
}

#[test]
fn case_7_1_1_never_echoes_and_the_kill_timer_fails_it() {
    let mut run = Run::new("7.1.1");
    run.tracker.advance(ms(999));
    assert!(run.reactions.is_empty());
    run.reactions.extend(run.tracker.advance(ms(1000)));
    assert_eq!(run.reactions, vec![Reaction::SendClose(LocalClose::new(1001, "Going Away"))]);
    // The close-handshake timer is now armed for one more second.
    assert_eq!(run.tracker.next_deadline(), Some(ms(2000)));
    run.close_from_client(1010, &1001u16.to_be_bytes());
    let (obs, v, _) = run.end(1011);
    assert_flags(&obs, (true, true, true, true, None, false, Some(1001)));
    assert_eq!((obs.local_close_code, obs.local_close_reason), (Some(1001), Some(b"Going Away".to_vec())));
    let text = "The close code should have been 1000 or empty";
    assert_eq!(close_verdict(&v), (Behavior::Failed, CloseBehavior::WrongCode, text, text));
}

#[test]
fn case_7_1_1_never_echoes_nor_answers() {
    let (obs, v, _) = Run::new("7.1.1").end(2500);
    assert_flags(&obs, (true, true, true, false, Some(NO_CLOSE_REPLY), true, None));
    assert_eq!(close_verdict(&v), (Behavior::Failed, CloseBehavior::Unclean, EVENTS_DIFFER, NOT_CLEAN));
}

#[test]
fn case_7_1_6_is_informational_with_outcome_texts() {
    let big = Event::text(b"BAsd7&jh23".repeat(26215));
    let cases = [
        (vec![Event::text("Hello World!")], "Text message was processed before close."),
        (vec![], "Close was processed before text message could be returned."),
        (vec![big, Event::text("Hello World!")], EVENTS_DIFFER),
    ];
    for (received, result) in cases {
        let mut run = Run::new("7.1.6");
        for event in received {
            run.at(20, Occurrence::Received(event));
        }
        run.close_from_client(30, &[0x03, 0xe8]);
        let (_, v, _) = run.end(31);
        let expected = (Behavior::Informational, CloseBehavior::Informational, result, PROPERLY_CLOSED);
        assert_eq!(close_verdict(&v), expected);
    }
}

#[test]
fn case_7_13_is_informational_and_keeps_the_close_text() {
    for id in ["7.13.1", "7.13.2"] {
        let mut run = Run::new(id);
        run.close_from_client(30, &1003u16.to_be_bytes());
        let (_, v, _) = run.end(31);
        let text = "Actual events are undefined by the spec.";
        let close_text = "The close code should have been 1000,5000,1002 or empty";
        let close_text = if id == "7.13.2" { close_text.replace("5000", "65535") } else { close_text.into() };
        let expected = (Behavior::Informational, CloseBehavior::Informational, text, close_text.as_str());
        assert_eq!(close_verdict(&v), expected, "{id}");
    }
}

#[test]
fn handshake_never_completed() {
    let s = case(CLEAN);
    let tracker = Tracker::new(&s.expect, CodePolicy::Autobahn);
    let obs = tracker.finish(ms(6000));
    assert!(obs.was_open_handshake_timeout && obs.dropped_by_me && !obs.handshake_completed);
    assert_eq!(obs.was_not_clean_reason.as_deref(), Some(NO_OPEN_HANDSHAKE));
    let v = judge(&s.expect, &obs);
    let text = "The WebSocket opening handshake was never completed!";
    assert_eq!(close_verdict(&v), (Behavior::Ok, CloseBehavior::Failed, EVENTS_MATCH, text));
}

#[test]
fn violation_while_open_fails_with_a_close_and_stops_recording_messages() {
    let mut tracker = Tracker::new(&case("7.1.1").expect, CodePolicy::Autobahn);
    tracker.apply(ms(0), Occurrence::Opened);
    assert_eq!(tracker.apply(ms(1), Occurrence::Ping(b"p".to_vec())), vec![Reaction::Pong(b"p".to_vec())]);
    let violation = Occurrence::Violation { code: 1002, reason: "unmasked frame".into() };
    let reactions = tracker.apply(ms(2), violation);
    assert_eq!(reactions, vec![Reaction::SendClose(LocalClose::new(1002, "unmasked frame"))]);
    assert_eq!(tracker.state(), State::Closing);
    assert!(tracker.apply(ms(3), Occurrence::Ping(vec![])).is_empty(), "no pongs once closing");
    tracker.apply(ms(4), Occurrence::Received(Event::text("late")));
    tracker.apply(ms(5), Occurrence::Received(Event::Pong(vec![])));
    assert_eq!(tracker.received(), [Event::Pong(vec![])]);
    let obs = tracker.finish(ms(6));
    assert!(obs.closed_by_me && obs.failed_by_me && !obs.dropped_by_me);
}

#[test]
fn fuzzer_as_client_dropping_tcp_is_failed_by_client() {
    let expect = case(CLEAN).expect;
    let obs = Observation {
        handshake_completed: true,
        is_server: false,
        closed_by_me: true,
        dropped_by_me: true,
        was_clean: true,
        ..Observation::default()
    };
    let v = judge(&expect, &obs);
    let text = "It is preferred that the server close the TCP connection";
    assert_eq!((v.behavior_close, v.result_close.as_str()), (CloseBehavior::FailedByClient, text));
    let v = judge(&expect, &Observation { is_server: true, ..obs });
    assert_eq!(v.behavior_close, CloseBehavior::Ok);
}

#[test]
fn wrong_endpoint_is_fatal_only_when_the_case_says_so() {
    let mut expect = case(CLEAN).expect;
    let obs = Observation { handshake_completed: true, was_clean: true, ..Observation::default() };
    assert_eq!(judge(&expect, &obs).behavior, Behavior::Ok);
    expect.closed_by_wrong_endpoint_is_fatal = true;
    let v = judge(&expect, &obs);
    assert_eq!((v.behavior, v.result.as_str()), (Behavior::Failed, EVENTS_MATCH));
}

#[test]
fn non_strict_match_and_report_strings() {
    let mut expect = case(CLEAN).expect;
    expect.events.ok = Some(vec![Event::text("a")]);
    expect.events.non_strict = Some(vec![]);
    let obs = Observation { handshake_completed: true, closed_by_me: true, was_clean: true, ..Observation::default() };
    let v = judge(&expect, &obs);
    assert_eq!((v.behavior.as_str(), v.result.as_str()), ("NON-STRICT", EVENTS_MATCH));
    assert_eq!(CloseBehavior::WrongCode.to_string(), "WRONG CODE");
    assert_eq!(CloseBehavior::FailedByClient.as_str(), "FAILED BY CLIENT");
    assert_eq!(Behavior::Unimplemented.to_string(), "UNIMPLEMENTED");
}

/// 2.1: the pong arrives, the automatic close (1000) goes out, the client
/// answers; the close timer then finds the connection closed and does
/// nothing (no `TIE`).
#[test]
fn a_matching_pong_closes_automatically_before_the_close_timer() {
    let mut run = Run::new("2.1");
    run.at(10, Occurrence::Received(Event::Pong(Vec::new())));
    assert_eq!(run.reactions, [Reaction::SendClose(LocalClose { code: Some(1000), reason: None })]);
    run.close_from_client(20, &[0x03, 0xe8]);
    assert!(run.tracker.take_fired().is_empty());
    let (obs, verdict, _) = run.end(2000);
    assert_flags(&obs, (true, false, true, true, None, false, Some(1000)));
    assert_eq!((verdict.behavior, verdict.behavior_close), (Behavior::Ok, CloseBehavior::Ok));
}

/// 2.1 with a client that never pongs: at 1 s the close timer fires
/// (`TIE`) and sends an empty close through the API; the pong never came,
/// so behavior is FAILED while the close is clean.
#[test]
fn the_close_timer_sends_an_empty_close_while_open() {
    let mut run = Run::new("2.1");
    run.tracker.advance(ms(1000)).into_iter().for_each(|r| run.reactions.push(r));
    assert_eq!(run.tracker.take_fired(), [Fired::CloseAfter]);
    assert_eq!(run.reactions, [Reaction::SendClose(LocalClose::default())]);
    run.close_from_client(1010, &[]);
    let (obs, verdict, _) = run.end(1020);
    assert_flags(&obs, (true, false, true, true, None, false, None));
    assert_eq!((obs.local_close_code, verdict.behavior), (None, Behavior::Failed));
    assert_eq!(verdict.behavior_close, CloseBehavior::Ok);
}

/// 9.1.1: a text echo of the right length turns the wire log back on
/// (quietly) and closes 1000; the case is OK with Autobahn's text.
#[test]
fn an_echo_of_the_right_type_and_length_passes_category_9() {
    let mut run = Run::new("9.1.1");
    run.at(50, Occurrence::Received(Event::text(vec![b'x'; 65536])));
    let close = Reaction::SendClose(LocalClose { code: Some(1000), reason: None });
    assert_eq!(run.reactions, [Reaction::Wirelog { on: true, logged: false }, close]);
    run.close_from_client(60, &[0x03, 0xe8]);
    let (obs, verdict, _) = run.end(70);
    assert!(obs.received.is_empty(), "echo checks record no events");
    assert_eq!((verdict.behavior, verdict.result.as_str()), (Behavior::Ok, "Received text message of length 65536."));
}

/// 9.1.1: a wrong echo fails with its length in the text; no echo at all
/// leaves the waiting text once the close timer has closed.
#[test]
fn a_wrong_or_missing_echo_fails_category_9_with_autobahns_texts() {
    let mut run = Run::new("9.1.1");
    run.at(50, Occurrence::Received(Event::text(vec![b'x'; 10])));
    let (_, verdict, _) = run.end(70);
    let want = "Expected text message with payload of length 65536, but got 10.";
    assert_eq!((verdict.behavior, verdict.result.as_str()), (Behavior::Failed, want));
    let mut run = Run::new("9.1.1");
    run.at(50, Occurrence::Received(Event::binary(vec![0; 65536])));
    let (_, verdict, _) = run.end(70);
    assert_eq!(verdict.result, "Expected text message with payload, but got binary.");
    let (_, verdict, _) = Run::new("9.1.1").end(10_500);
    assert_eq!(
        (verdict.behavior, verdict.result.as_str()),
        (Behavior::Failed, "Did not receive message within 10 seconds.")
    );
}

/// 9.8.1: each right echo before the 1000th asks for the frame again; the
/// 1000th switches the wire log on with a `WLM` entry and closes.
#[test]
fn round_trips_repeat_until_the_count_then_close() {
    let mut run = Run::new("9.8.1");
    for i in 0..999 {
        run.at(i, Occurrence::Received(Event::binary(Vec::new())));
    }
    assert!(run.reactions.iter().all(|r| *r == Reaction::SendAgain) && run.reactions.len() == 999);
    run.at(1000, Occurrence::Received(Event::binary(Vec::new())));
    assert_eq!(run.reactions[999], Reaction::Wirelog { on: true, logged: true });
    let (_, verdict, _) = run.end(1010);
    assert_eq!(
        (verdict.behavior, verdict.result.as_str()),
        (Behavior::Ok, "Ok, received all echo'ed messages in time.")
    );
    let mut run = Run::new("9.8.1");
    run.at(5, Occurrence::Received(Event::text(Vec::new())));
    let (_, verdict, _) = run.end(10);
    let want = "Echo'ed message type or length differs from what I sent (got binary = False, payload length = 0).";
    assert_eq!((verdict.behavior, verdict.result.as_str()), (Behavior::Failed, want));
}
