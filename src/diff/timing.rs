//! Timing: intervals that mean something to a user, compared within a
//! tolerance.
//!
//! Absolute times never match between runs, so only intervals between a
//! cause and its answer are compared: a close and its reply, a message and
//! its echo, a ping and its pong, the end of the closing handshake and the
//! TCP end. Intervals are named, and compared by name when both runs have
//! them; a missing answer is a behaviour change reported elsewhere.

use super::normalize::{SideView, View};
use super::{Change, ChangeKind, push_capped, side_name};
use crate::session::Side;
use crate::wire::OpCode;
use std::time::Duration;

/// How far ahead of the previous echo to look for the next one.
pub const ECHO_WINDOW: usize = 8;

/// A named interval, in microseconds.
struct Interval {
    name: String,
    side: Side,
    us: u64,
}

/// Interval changes beyond `tolerance`.
pub fn changes(a: &View, b: &View, tolerance: Duration) -> Vec<Change> {
    let ia = intervals(a);
    let by_name: std::collections::HashMap<&str, &Interval> = ia.iter().map(|i| (i.name.as_str(), i)).collect();
    let tol = tolerance.as_micros() as u64;
    let mut items = Vec::new();
    for ib in intervals(b) {
        let Some(old) = by_name.get(ib.name.as_str()) else {
            continue;
        };
        if old.us.abs_diff(ib.us) > tol {
            let text = format!("{} now takes {} instead of {}", ib.name, show(ib.us), show(old.us));
            items.push(Change::by(ib.side, ChangeKind::Timing, text));
        }
    }
    let mut out = Vec::new();
    push_capped(&mut out, items, "timing changes");
    out
}

/// `5 ms`, `900 ms`, `1.5 ms`, `250 µs`.
pub fn show(us: u64) -> String {
    match us {
        u if u < 1000 => format!("{u} µs"),
        u if u % 1000 == 0 => format!("{} ms", u / 1000),
        u => format!("{:.1} ms", u as f64 / 1000.0),
    }
}

fn intervals(v: &View) -> Vec<Interval> {
    let mut out = Vec::new();
    for side in [Side::Client, Side::Server] {
        let (me, other) = (v.side(side), v.side(super::peer(side)));
        if v.summary.closed_first_by == Some(super::peer(side)) {
            close_reply(&mut out, side, me, other);
        }
        tcp_end(&mut out, side, me, other);
        echoes(&mut out, side, me, other);
        pongs(&mut out, side, me, other);
    }
    out
}

fn close_reply(out: &mut Vec<Interval>, side: Side, me: &SideView, other: &SideView) {
    if let (Some(mine), Some(theirs)) = (me.close_at, other.close_at) {
        out.push(Interval { name: format!("{} close reply", side_name(side)), side, us: mine.saturating_sub(theirs) });
    }
}

fn tcp_end(out: &mut Vec<Interval>, side: Side, me: &SideView, other: &SideView) {
    let handshake_end = me.close_at.max(other.close_at);
    if let (Some(end), Some(closed)) = (me.end_at, handshake_end) {
        let name = format!("{} TCP end after the closing handshake", side_name(side));
        out.push(Interval { name, side, us: end.saturating_sub(closed) });
    }
}

/// `side` echoing the peer's messages: each peer message is paired with the
/// next message of `side` with the same payload, looking a bounded way ahead.
fn echoes(out: &mut Vec<Interval>, side: Side, me: &SideView, other: &SideView) {
    let mut next = 0;
    for (i, sent) in other.messages.iter().enumerate() {
        let window = me.messages.iter().enumerate().skip(next).take(ECHO_WINDOW);
        let found =
            window.filter(|(_, m)| m.at >= sent.at).find(|(_, m)| m.payload == sent.payload && m.opcode == sent.opcode);
        if let Some((j, echo)) = found {
            let name = format!("{} echo of {} message {}", side_name(side), side_name(super::peer(side)), i + 1);
            out.push(Interval { name, side, us: echo.at - sent.at });
            next = j + 1;
        }
    }
}

fn pongs(out: &mut Vec<Interval>, side: Side, me: &SideView, other: &SideView) {
    let pings = other.controls.iter().filter(|c| c.opcode == OpCode::PING.value());
    let mut answers = me.controls.iter().filter(|c| c.opcode == OpCode::PONG.value());
    for (i, ping) in pings.enumerate() {
        let Some(pong) = answers.by_ref().find(|p| p.at >= ping.at) else {
            break;
        };
        let name = format!("{} pong to {} ping {}", side_name(side), side_name(super::peer(side)), i + 1);
        out.push(Interval { name, side, us: pong.at - ping.at });
    }
}
