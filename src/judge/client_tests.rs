//! The tracker in the client role (autobahn-python's client rules): the
//! server is expected to drop TCP after the closing handshake, and the
//! fuzzer drops only when that does not happen in time.

use std::path::Path;
use std::time::Duration;

use super::tracker::{SERVER_DID_NOT_DROP, SERVER_DROP_TIMEOUT};
use super::verdict::{DROPPED_BY_CLIENT, NOT_CLEAN, PROPERLY_CLOSED};
use super::*;
use crate::scenario::{self, Scenario, Step};
use crate::wire::CodePolicy;

fn case(id: &str) -> Scenario {
    let category = id.split('.').next().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(category).join(format!("{id}.yaml"));
    scenario::load(&path).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Opens `id` as the client at t = 0 and runs its timers and closes.
fn opened(id: &str) -> (Scenario, Tracker, Vec<Reaction>) {
    let scenario = case(id);
    let mut tracker = Tracker::new(&scenario.expect, CodePolicy::Autobahn).with_role(Role::Client);
    let mut reactions = tracker.apply(ms(0), Occurrence::Opened);
    for step in scenario.plan() {
        reactions.extend(match step {
            Step::Close { close, .. } => tracker.apply(ms(0), Occurrence::Close(close)),
            Step::KillAfter(secs) => tracker.apply(ms(0), Occurrence::KillAfter(Duration::from_secs_f64(secs))),
            Step::CloseAfter(secs) => tracker.apply(ms(0), Occurrence::CloseAfter(Duration::from_secs_f64(secs))),
            _ => Vec::new(),
        });
    }
    (scenario, tracker, reactions)
}

#[test]
fn the_servers_close_reply_waits_for_its_drop_and_a_prompt_drop_is_clean() {
    let (scenario, mut tracker, reactions) = opened("7.3.1");
    assert!(matches!(reactions.as_slice(), [Reaction::SendClose(_)]), "{reactions:?}");
    let reactions = tracker.apply(ms(2), Occurrence::ClientClose(vec![0x03, 0xe8]));
    assert!(reactions.is_empty(), "the client does not drop: {reactions:?}");
    let obs = tracker.finish(ms(3));
    assert!(!obs.is_server && obs.closed_by_me && obs.was_clean && !obs.dropped_by_me, "{obs:?}");
    let verdict = judge(&scenario.expect, &obs);
    assert_eq!((verdict.behavior, verdict.behavior_close), (Behavior::Ok, CloseBehavior::Ok));
    assert_eq!(verdict.result_close, PROPERLY_CLOSED);
}

#[test]
fn a_server_that_keeps_tcp_open_after_the_handshake_is_dropped_and_unclean() {
    let scenario = case("7.3.1");
    // No kill timer here, so the server-drop timer alone decides.
    let mut tracker = Tracker::new(&scenario.expect, CodePolicy::Autobahn).with_role(Role::Client);
    tracker.apply(ms(0), Occurrence::Opened);
    tracker.apply(ms(0), Occurrence::Close(Default::default()));
    tracker.apply(ms(5), Occurrence::ClientClose(vec![0x03, 0xe8]));
    let reactions = tracker.advance(ms(5) + SERVER_DROP_TIMEOUT);
    assert_eq!(reactions, [Reaction::Drop { abort: true }]);
    let obs = tracker.finish(ms(1100));
    assert!(obs.was_server_connection_drop_timeout && obs.dropped_by_me && !obs.was_clean, "{obs:?}");
    assert_eq!(obs.was_not_clean_reason.as_deref(), Some(SERVER_DID_NOT_DROP));
    let verdict = judge(&scenario.expect, &obs);
    assert_eq!((verdict.behavior_close, verdict.result_close.as_str()), (CloseBehavior::Unclean, NOT_CLEAN));
    // Where a clean close is not required, the client's drop is FAILED BY CLIENT.
    let mut lenient = scenario.expect.clone();
    lenient.close.require_clean = false;
    let verdict = judge(&lenient, &obs);
    assert_eq!(
        (verdict.behavior_close, verdict.result_close.as_str()),
        (CloseBehavior::FailedByClient, DROPPED_BY_CLIENT)
    );
}

#[test]
fn a_server_that_closes_first_gets_a_1000_reply_and_must_drop() {
    // 2.5: a 126-byte ping; the server must fail the connection (1002).
    let (scenario, mut tracker, _) = opened("2.5");
    let reactions = tracker.apply(ms(1), Occurrence::ClientClose(vec![0x03, 0xea]));
    let [Reaction::SendClose(reply)] = reactions.as_slice() else { panic!("{reactions:?}") };
    assert_eq!(reply.code, Some(1000));
    assert_eq!(tracker.state(), State::Closing);
    let obs = tracker.finish(ms(2));
    assert!(!obs.closed_by_me && obs.was_clean && !obs.dropped_by_me && obs.remote_close_code == Some(1002));
    let verdict = judge(&scenario.expect, &obs);
    assert_eq!((verdict.behavior, verdict.behavior_close), (Behavior::Ok, CloseBehavior::Ok));
}

#[test]
fn a_server_close_without_a_kill_timer_is_still_bounded() {
    // 2.1 arms only closeAfter; after the server closes first, Autobahn
    // would wait for its drop forever.
    let (_, mut tracker, _) = opened("2.1");
    let reactions = tracker.apply(ms(1), Occurrence::ClientClose(vec![0x03, 0xe8]));
    assert!(matches!(reactions.as_slice(), [Reaction::SendClose(_)]), "{reactions:?}");
    assert!(tracker.advance(ms(1000)).is_empty(), "closeAfter does nothing once closing");
    let reactions = tracker.advance(ms(1) + SERVER_DROP_TIMEOUT);
    assert_eq!(reactions, [Reaction::Drop { abort: true }]);
    // With a kill timer (7.x), the kill timer bounds it, as in Autobahn.
    let (_, mut tracker, _) = opened("7.1.1");
    tracker.apply(ms(1), Occurrence::ClientClose(vec![0x03, 0xe8]));
    assert_eq!(tracker.next_deadline(), Some(ms(1000)));
    assert_eq!(tracker.advance(ms(1000)), [Reaction::Drop { abort: false }]);
    assert!(tracker.finish(ms(1000)).failed_by_me);
}

#[test]
fn a_bad_101_drops_with_autobahns_reason() {
    let scenario = case("7.1.1");
    let mut tracker = Tracker::new(&scenario.expect, CodePolicy::Autobahn).with_role(Role::Client);
    let reactions = tracker.apply(ms(1), Occurrence::HandshakeFailed("HTTP Upgrade header missing".into()));
    assert_eq!(reactions, [Reaction::Drop { abort: true }]);
    let obs = tracker.finish(ms(1));
    assert!(obs.dropped_by_me && !obs.handshake_completed && !obs.is_server);
    assert_eq!(obs.was_not_clean_reason.as_deref(), Some("HTTP Upgrade header missing"));
    assert_eq!(judge(&scenario.expect, &obs).behavior_close, CloseBehavior::Failed);
}
