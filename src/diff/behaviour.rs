//! Naming behaviour changes in plain words, from two normalised views.
//!
//! Each area (handshake, closing, TCP end, messages, pings and pongs,
//! violations, segments) is compared on its own, so one real change yields
//! one sentence rather than a cascade. Message and control sequences are
//! aligned with `similar` over hashed keys, so a single extra message shows
//! as "extra", not as every later message "differing".

use super::normalize::{Control, Msg, SideView, View};
use super::{Change, ChangeKind, DIFF_TIMEOUT, count, peer, push_capped, side_name};
use crate::session::{CloseInfo, Side, Summary, TcpEnd};
use crate::wire::OpCode;
use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::Instant;

const SIDES: [Side; 2] = [Side::Client, Side::Server];

/// Every named change between `a` and `b`, most important first.
pub fn changes(a: &View, b: &View, segments: bool) -> Vec<Change> {
    let mut out = faults(a, b);
    out.extend(handshake(a, b));
    out.extend(closing(&a.summary, &b.summary));
    out.extend(tcp_end(&a.summary, &b.summary));
    for side in SIDES {
        let (sa, sb) = (a.side(side), b.side(side));
        messages(&mut out, side, &sa.messages, &sb.messages);
        controls(&mut out, side, &sa.controls, &sb.controls);
        out.extend(violations(side, &sa.violations, &sb.violations));
        if segments {
            out.extend(reads(side, &sa.reads, &sb.reads));
        }
    }
    out
}

/// Faults in one input and not the other come first: they name the cause
/// of what changed (a dropped close reply, say) before its effects.
fn faults(a: &View, b: &View) -> Vec<Change> {
    let mut out = Vec::new();
    for side in SIDES {
        let (fa, fb) = (&a.side(side).faults, &b.side(side).faults);
        let whose = side_name(side);
        for (only, these, others) in [("a", fa, fb), ("b", fb, fa)] {
            let items = these.iter().filter(|f| !others.contains(f)).map(|f| {
                Change::new(ChangeKind::Fault, format!("cause: a fault only in {only}, on the {whose}'s frames: {f}"))
            });
            push_capped(&mut out, items.collect(), "faults");
        }
    }
    out
}

fn handshake(a: &View, b: &View) -> Vec<Change> {
    let mut out = Vec::new();
    if a.summary.upgraded != b.summary.upgraded {
        let now = if b.summary.upgraded { "now succeeds" } else { "now fails" };
        out.push(Change::new(ChangeKind::Handshake, format!("the WebSocket upgrade {now}")));
    }
    let (ua, ub) = (a.upgrade.clone().unwrap_or_default(), b.upgrade.clone().unwrap_or_default());
    for (what, va, vb) in [("extensions", ua.0, ub.0), ("subprotocol", ua.1, ub.1)] {
        if va != vb {
            let text = format!("negotiated {what} {} → {}", or_none(&va), or_none(&vb));
            out.push(Change::new(ChangeKind::Handshake, text));
        }
    }
    for side in SIDES {
        out.extend(heads(side, a.side(side), b.side(side)));
    }
    out
}

fn or_none(v: &Option<String>) -> String {
    v.as_ref().map_or("none".into(), |s| crate::escape::quoted(s))
}

fn heads(side: Side, a: &SideView, b: &SideView) -> Vec<Change> {
    let name = side_name(side);
    let what = if side == Side::Client { "request" } else { "response" };
    let mut out = Vec::new();
    if a.start_line != b.start_line {
        let text = format!("{name} {what} line {} → {}", or_none(&a.start_line), or_none(&b.start_line));
        out.push(Change::by(side, ChangeKind::Handshake, text));
    }
    let (ha, hb) = (header_map(&a.headers), header_map(&b.headers));
    for (header, va) in &ha {
        let text = match hb.get(header) {
            None => format!("{name} no longer sends header {header}"),
            Some(vb) if vb != va => {
                let (qa, qb) = (crate::escape::quoted(&va.join(", ")), crate::escape::quoted(&vb.join(", ")));
                format!("{name} header {header}: {qa} → {qb}")
            }
            Some(_) => continue,
        };
        out.push(Change::by(side, ChangeKind::Handshake, text));
    }
    for header in hb.keys().filter(|h| !ha.contains_key(*h)) {
        out.push(Change::by(side, ChangeKind::Handshake, format!("{name} now sends header {header}")));
    }
    out
}

fn header_map(headers: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name).or_default().push(value);
    }
    map
}

fn closing(a: &Summary, b: &Summary) -> Vec<Change> {
    let mut out = Vec::new();
    let first = who_first(a.closed_first_by, b.closed_first_by, "the close is now started");
    out.extend(first.map(|(side, text)| Change::by(side, ChangeKind::Closing, text)));
    for side in SIDES {
        out.extend(close_of(side, a, b));
    }
    out
}

/// `"{what} by the client instead of the server"` when the first side changed.
fn who_first(a: Option<Side>, b: Option<Side>, what: &str) -> Option<(Side, String)> {
    let (Some(fa), Some(fb)) = (a, b) else {
        return None;
    };
    let text = format!("{what} by the {} instead of the {}", side_name(fb), side_name(fa));
    (fa != fb).then_some((fb, text))
}

fn close_of(side: Side, a: &Summary, b: &Summary) -> Vec<Change> {
    let name = side_name(side);
    let change = |text: String| Change::by(side, ChangeKind::Closing, text);
    match (a.close_of(side), b.close_of(side)) {
        (Some(ca), Some(cb)) => close_fields(name, ca, cb).into_iter().map(change).collect(),
        (Some(_), None) if a.closed_first_by == Some(peer(side)) => {
            vec![change(format!("{}-initiated close is no longer answered", side_name(peer(side))))]
        }
        (None, Some(_)) if b.closed_first_by == Some(peer(side)) => {
            vec![change(format!("{}-initiated close is now answered", side_name(peer(side))))]
        }
        (Some(ca), None) => vec![change(format!("{name} no longer sends a close frame (was code {})", code(ca)))],
        (None, Some(cb)) => vec![change(format!("{name} now sends a close frame (code {})", code(cb)))],
        (None, None) => Vec::new(),
    }
}

fn code(c: &CloseInfo) -> String {
    c.code.map_or("none".into(), |c| c.to_string())
}

fn close_fields(name: &str, a: &CloseInfo, b: &CloseInfo) -> Vec<String> {
    let mut out = Vec::new();
    if a.code != b.code {
        out.push(format!("{name} close code {} → {}", code(a), code(b)));
    }
    if a.reason != b.reason || a.reason_hex != b.reason_hex {
        let reason = |c: &CloseInfo| or_none(&c.reason.clone().or(c.reason_hex.clone()));
        out.push(format!("{name} close reason {} → {}", reason(a), reason(b)));
    }
    out
}

fn tcp_end(a: &Summary, b: &Summary) -> Vec<Change> {
    let mut out = Vec::new();
    let first = who_first(a.tcp_closed_first_by, b.tcp_closed_first_by, "TCP is now ended first");
    out.extend(first.map(|(side, text)| Change::by(side, ChangeKind::Tcp, text)));
    for side in SIDES {
        let end = |s: &Summary| match side {
            Side::Client => s.client_tcp_end,
            Side::Server => s.server_tcp_end,
        };
        let how = |e: Option<TcpEnd>| match e {
            Some(TcpEnd::Fin) => "a FIN",
            Some(TcpEnd::Rst) => "a reset",
            None => "nothing (still open)",
        };
        if end(a) != end(b) {
            let text = format!("{} now ends TCP with {} instead of {}", side_name(side), how(end(b)), how(end(a)));
            out.push(Change::by(side, ChangeKind::Tcp, text));
        }
    }
    out
}

/// A 64-bit key for aligning sequences; collisions only blur the alignment.
fn key<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Aligns two key sequences under the deadline.
fn align(a: &[u64], b: &[u64]) -> Vec<DiffOp> {
    capture_diff_slices_deadline(Algorithm::Myers, a, b, Some(Instant::now() + DIFF_TIMEOUT))
}

fn messages(out: &mut Vec<Change>, side: Side, a: &[Msg], b: &[Msg]) {
    let keys = |ms: &[Msg]| ms.iter().map(|m| key(&(m.opcode, &m.payload))).collect::<Vec<_>>();
    let name = side_name(side);
    let (mut payload, mut presence, mut frag) = (Vec::new(), Vec::new(), Vec::new());
    for op in align(&keys(a), &keys(b)) {
        let (old, new) = (op.old_range(), op.new_range());
        for (i, j) in old.clone().zip(new.clone()) {
            let text = match op {
                DiffOp::Equal { .. } if a[i].frames != b[j].frames => {
                    let (fa, fb) = (count(a[i].frames as usize, "frame"), count(b[j].frames as usize, "frame"));
                    frag.push(Change::by(
                        side,
                        ChangeKind::Fragmentation,
                        format!("fragmentation changed: {name} message {}: {fa} → {fb}", i + 1),
                    ));
                    continue;
                }
                DiffOp::Equal { .. } => continue,
                _ => message_differs(name, i, &a[i], &b[j]),
            };
            payload.push(Change::by(side, ChangeKind::Payload, text));
        }
        let paired = old.len().min(new.len());
        for i in old.skip(paired) {
            presence.push(Change::by(
                side,
                ChangeKind::Message,
                format!("missing {name} message {}: {}", i + 1, a[i].payload),
            ));
        }
        for j in new.skip(paired) {
            presence.push(Change::by(
                side,
                ChangeKind::Message,
                format!("extra {name} message {}: {}", j + 1, b[j].payload),
            ));
        }
    }
    push_capped(out, payload, "payload changes");
    push_capped(out, presence, "extra or missing messages");
    push_capped(out, frag, "fragmentation changes");
}

fn message_differs(name: &str, i: usize, a: &Msg, b: &Msg) -> String {
    if a.opcode != b.opcode {
        let (oa, ob) = (OpCode::new(a.opcode).name(), OpCode::new(b.opcode).name());
        return format!("{name} message {} type differs: {oa} → {ob}", i + 1);
    }
    format!("{name} message {} payload differs: {} → {}", i + 1, a.payload, b.payload)
}

fn controls(out: &mut Vec<Change>, side: Side, a: &[Control], b: &[Control]) {
    let keys = |cs: &[Control]| cs.iter().map(|c| key(&(c.opcode, &c.payload, c.phase))).collect::<Vec<_>>();
    let name = side_name(side);
    let mut items = Vec::new();
    for op in align(&keys(a), &keys(b)) {
        if let DiffOp::Equal { .. } = op {
            continue;
        }
        for i in op.old_range() {
            items.push(Change::by(
                side,
                ChangeKind::Control,
                format!("{name} no longer sends {}", control_words(&a[i])),
            ));
        }
        for j in op.new_range() {
            items.push(Change::by(side, ChangeKind::Control, format!("{name} now sends {}", control_words(&b[j]))));
        }
    }
    push_capped(out, items, "ping/pong changes");
}

fn control_words(c: &Control) -> String {
    let what = OpCode::new(c.opcode).name();
    match c.phase {
        "" => format!("a {what} ({})", c.payload),
        phase => format!("a {what} {phase}"),
    }
}

fn violations(side: Side, a: &[String], b: &[String]) -> Vec<Change> {
    let tally = |v: &[String]| {
        let mut m: HashMap<String, usize> = HashMap::new();
        v.iter().for_each(|k| *m.entry(k.clone()).or_default() += 1);
        m.into_iter().collect::<BTreeMap<_, _>>()
    };
    let (ta, tb) = (tally(a), tally(b));
    let name = side_name(side);
    let mut out = Vec::new();
    for kind in ta.keys().chain(tb.keys().filter(|k| !ta.contains_key(*k))) {
        let (na, nb) = (ta.get(kind).copied().unwrap_or(0), tb.get(kind).copied().unwrap_or(0));
        let text = match (na, nb) {
            (0, n) => format!("{name} now breaks rule {kind} ({})", count(n, "time")),
            (_, 0) => format!("{name} no longer breaks rule {kind}"),
            (x, y) if x != y => {
                format!("{name} breaks rule {kind} {} instead of {}", count(y, "time"), count(x, "time"))
            }
            _ => continue,
        };
        out.push(Change::by(side, ChangeKind::Violation, text));
    }
    out
}

fn reads(side: Side, a: &[u64], b: &[u64]) -> Vec<Change> {
    if a == b {
        return Vec::new();
    }
    let sizes = |r: &[u64]| {
        let shown: Vec<String> = r.iter().take(8).map(u64::to_string).collect();
        let more = if r.len() > 8 { ", …" } else { "" };
        format!("{} ({}{more})", count(r.len(), "read"), shown.join(", "))
    };
    let text = format!("{} stream arrived in {} instead of {}", side_name(side), sizes(b), sizes(a));
    vec![Change::by(side, ChangeKind::Segments, text)]
}
