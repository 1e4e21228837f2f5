//! The content of a per-case page, computed once for both renderers.
//!
//! [`render_text`](super::render_text) and [`render_html`](super::render_html)
//! only lay out what this module computes (summary line, reprs, closing
//! table, statistics tables, numbered wire-log lines), so the two outputs
//! cannot drift apart. Everything here is plain text; escaping is the HTML
//! renderer's job.
//!
//! Fidelity quirks reproduced here on purpose:
//! - the RX frame `MASK=` value is the hex of the ASCII hex string (the
//!   JSON's `"5e17aa53"` prints as `3565313761613533`), as in real reports;
//! - octet hex and payload text wrap at 100 columns with Python's
//!   `textwrap`, continuation lines indented by 15 spaces;
//! - the last line is numbered `len(wirelog)` and says who dropped TCP.

use super::autobahn::{CaseReport, events_repr, expected_repr};
use super::pyfmt::{cut_repr, hex, py_bool, py_opt, py_percent_f, wrap};
use super::wirelog::{Histogram, TxFrameEntry, WireLogEntry};

/// Reprs longer than this are cut (996 characters + ` ...`).
const REPR_LIMIT: usize = 1000;
/// Wire-log text wraps at this many columns (not counting the prefix).
const WRAP_WIDTH: usize = 100;

/// The two banner texts (the alt texts of Autobahn's banner images).
pub const BANNER: [&str; 2] = ["Autobahn WebSocket Testsuite Report", "Autobahn WebSocket"];
/// Column headers of the closing-behaviour table.
pub const CLOSING_HEADER: [&str; 3] = ["Key", "Value", "Description"];
/// Shown instead of the statistics when they were turned off.
pub const STATS_DISABLED: &str = "Statistics for octets/frames disabled!";
/// Shown before the wire log when logging was off at the end.
pub const WIRELOG_DISABLED: &str = "Wire log after handshake disabled!";

/// `<agent> - Case <id> : <label> - <duration> ms @ <started>`, or without
/// the case part (`<agent> - <duration> ms @ <started>`) when there is none.
pub fn summary_line(report: &CaseReport, with_case: bool) -> String {
    let timing = format!("{} ms @ {}", report.duration, report.started);
    if with_case {
        format!("{} - Case {} : {} - {timing}", report.agent, report.id, report.behavior.summary_label())
    } else {
        format!("{} - {timing}", report.agent)
    }
}

/// Python repr of `expected`, cut like Autobahn's.
pub fn expected_text(report: &CaseReport) -> String {
    cut_repr(&expected_repr(&report.expected), REPR_LIMIT)
}

/// Python repr of `received`, cut like Autobahn's.
pub fn observed_text(report: &CaseReport) -> String {
    cut_repr(&events_repr(&report.received), REPR_LIMIT)
}

/// `<resultClose> (<behaviorClose>)`.
pub fn closing_summary(report: &CaseReport) -> String {
    format!("{} ({})", report.result_close, report.behavior_close.as_str())
}

/// A raw handshake block stripped like Python's `str.strip()`, with CRLF
/// shown as plain line breaks.
/// The TLS facts of a case run over `--tls`, one line (peer-chosen names
/// such as the SNI escaped), or `None` over plain ws.
pub fn tls_text(report: &CaseReport) -> Option<String> {
    let t = report.tls.as_ref()?;
    let mut parts = vec![t.version.clone().unwrap_or_else(|| "TLS".into())];
    parts.extend(t.cipher_suite.clone());
    parts.extend(t.sni.as_ref().map(|s| format!("SNI {}", crate::escape::line(s))));
    parts.extend(t.alpn.as_ref().map(|a| format!("ALPN {}", crate::escape::line(a))));
    parts.extend(t.server_cert.as_ref().map(|c| format!("certificate {} issued by {}", c.subject, c.issuer)));
    Some(parts.join(", "))
}

pub fn handshake_text(raw: &str) -> String {
    raw.trim().replace("\r\n", "\n")
}

/// One row of the closing-behaviour table.
pub struct ClosingRow {
    /// Field name, e.g. `wasClean`.
    pub key: &'static str,
    /// Python-style value (`True`, `None`, `1000`).
    pub value: String,
    /// Autobahn's fixed English description.
    pub description: &'static str,
}

/// The 13 closing-behaviour rows in Autobahn's order.
pub fn closing_rows(r: &CaseReport) -> Vec<ClosingRow> {
    let row = |key, value: String, description| ClosingRow { key, value, description };
    let b = |v: bool| py_bool(v).to_owned();
    vec![
        row("isServer", b(r.is_server), "True, iff I (the fuzzer) am a server, and the peer is a client."),
        row(
            "closedByMe",
            b(r.closed_by_me),
            "True, iff I have initiated closing handshake (that is, did send close first).",
        ),
        row(
            "failedByMe",
            b(r.failed_by_me),
            "True, iff I have failed the WS connection (i.e. due to protocol error). Failing can be either by initiating closing handshake or brutal drop TCP.",
        ),
        row("droppedByMe", b(r.dropped_by_me), "True, iff I dropped the TCP connection."),
        row(
            "wasClean",
            b(r.was_clean),
            "True, iff full WebSocket closing handshake was performed (close frame sent and received) _and_ the server dropped the TCP (which is its responsibility).",
        ),
        row(
            "wasNotCleanReason",
            py_opt(r.was_not_clean_reason.as_ref()),
            "When wasClean == False, the reason what happened.",
        ),
        row(
            "wasServerConnectionDropTimeout",
            b(r.was_server_connection_drop_timeout),
            "When we are a client, and we expected the server to drop the TCP, but that didn't happen in time, this gets True.",
        ),
        row(
            "wasOpenHandshakeTimeout",
            b(r.was_open_handshake_timeout),
            "When performing the opening handshake, but the peer did not finish in time, this gets True.",
        ),
        row(
            "wasCloseHandshakeTimeout",
            b(r.was_close_handshake_timeout),
            "When we initiated a closing handshake, but the peer did not respond in time, this gets True.",
        ),
        row("localCloseCode", py_opt(r.local_close_code.as_ref()), "The close code I sent in close frame (if any)."),
        row(
            "localCloseReason",
            py_opt(r.local_close_reason.as_ref()),
            "The close reason I sent in close frame (if any).",
        ),
        row(
            "remoteCloseCode",
            py_opt(r.remote_close_code.as_ref()),
            "The close code the peer sent me in close frame (if any).",
        ),
        row(
            "remoteCloseReason",
            py_opt(r.remote_close_reason.as_ref()),
            "The close reason the peer sent me in close frame (if any).",
        ),
    ]
}

/// One wire-statistics table: title, header and rows (Total row last).
pub struct StatsTable {
    /// Heading, e.g. "Octets Received by Chop Size".
    pub title: &'static str,
    /// Column headers.
    pub header: &'static [&'static str],
    /// Data rows, then the Total row.
    pub rows: Vec<Vec<String>>,
}

/// The four statistics tables of §3.4.
pub fn stats_tables(r: &CaseReport) -> [StatsTable; 4] {
    [
        chop_table("Octets Received by Chop Size", &r.rx_octet_stats),
        chop_table("Octets Transmitted by Chop Size", &r.tx_octet_stats),
        opcode_table("Frames Received by Opcode", &r.rx_frame_stats),
        opcode_table("Frames Transmitted by Opcode", &r.tx_frame_stats),
    ]
}

fn chop_table(title: &'static str, stats: &Histogram) -> StatsTable {
    let mut rows: Vec<Vec<String>> = stats
        .0
        .iter()
        .map(|(size, count)| vec![size.to_string(), count.to_string(), (size * count).to_string()])
        .collect();
    rows.push(vec!["Total".into(), stats.total_count().to_string(), stats.total_weight().to_string()]);
    StatsTable { title, header: &["Chop Size", "Count", "Octets"], rows }
}

fn opcode_table(title: &'static str, stats: &Histogram) -> StatsTable {
    let mut rows: Vec<Vec<String>> =
        stats.0.iter().map(|(op, count)| vec![op.to_string(), count.to_string()]).collect();
    rows.push(vec!["Total".into(), stats.total_count().to_string()]);
    StatsTable { title, header: &["Opcode", "Count"], rows }
}

/// One `<pre>` line of the wire log with its CSS class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireLine {
    /// Autobahn's CSS class, e.g. `wirelog_rx_octets`.
    pub class: &'static str,
    /// The line text, number and prefix included.
    pub text: String,
}

/// How frame lines spell masks and binary payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireStyle {
    /// Autobahn's page exactly: the RX mask as the hex of its hex string,
    /// binary payloads that happen to be valid UTF-8 as text.
    Autobahn,
    /// For reading: every mask as its 8 hex digits (RX and TX alike, so the
    /// same mask reads the same in both perspectives) and binary payloads
    /// always as `0x` + hex.
    Readable,
}

/// All wire-log lines, the final "TCP DROPPED BY …" line included.
pub fn wirelog_lines(r: &CaseReport) -> Vec<WireLine> {
    wirelog_lines_styled(r, WireStyle::Autobahn)
}

/// [`wirelog_lines`] in the given [`WireStyle`].
pub fn wirelog_lines_styled(r: &CaseReport, style: WireStyle) -> Vec<WireLine> {
    let mut lines = Vec::new();
    for (i, entry) in r.wirelog.iter().enumerate() {
        entry_lines(&mut lines, i, entry, style);
    }
    let (class, who) =
        if r.dropped_by_me { ("wirelog_tcp_closed_by_me", "ME") } else { ("wirelog_tcp_closed_by_peer", "PEER") };
    lines.push(WireLine { class, text: format!("{:03} TCP DROPPED BY {who}", r.wirelog.len()) });
    lines
}

fn entry_lines(lines: &mut Vec<WireLine>, i: usize, entry: &WireLogEntry, style: WireStyle) {
    let single = |class, text: String| WireLine { class, text: format!("{i:03} {text}") };
    match entry {
        WireLogEntry::RxOctets { hex, .. } => octet_lines(lines, i, "wirelog_rx_octets", "RX OCTETS", hex),
        WireLogEntry::TxOctets { hex, sync, .. } => {
            let class = if *sync { "wirelog_tx_octets_sync" } else { "wirelog_tx_octets" };
            octet_lines(lines, i, class, "TX OCTETS", hex);
        }
        WireLogEntry::RxFrame { .. } | WireLogEntry::TxFrame(_) => frame_lines(lines, i, entry, style),
        WireLogEntry::KillAfter(d) => {
            lines.push(single("wirelog_kill_after", format!("FAIL CONNECTION AFTER {} sec", py_percent_f(*d))));
        }
        WireLogEntry::KillAfterFired => lines.push(single("wirelog_kill_after", "FAILING CONNECTION".into())),
        WireLogEntry::CloseAfter(d) => {
            lines.push(single("wirelog_kill_after", format!("CLOSE CONNECTION AFTER {} sec", py_percent_f(*d))));
        }
        WireLogEntry::CloseAfterFired => lines.push(single("wirelog_kill_after", "CLOSING CONNECTION".into())),
        WireLogEntry::Continue(d, tag) => lines
            .push(single("wirelog_delay", format!("DELAY {} sec for TAG {}", py_percent_f(*d), py_opt(tag.as_ref())))),
        WireLogEntry::ContinueFired(tag) => {
            lines.push(single("wirelog_delay", format!("DELAY TIMEOUT on TAG {}", py_opt(tag.as_ref()))));
        }
        WireLogEntry::WirelogMode(on) => {
            let state = if *on { "ENABLED" } else { "DISABLED" };
            lines.push(single("wirelog_delay", format!("WIRELOG {state}")));
        }
        WireLogEntry::Fault { rule, spec, action, detail } => {
            let text = format!("FAULT {} (rule {rule}: {spec}): {detail}", action.to_uppercase());
            lines.push(single("wirelog_kill_after", crate::escape::line(&text).into_owned()));
        }
    }
}

/// Hex wrapped at 100 columns: first chunk on the numbered line.
fn octet_lines(lines: &mut Vec<WireLine>, i: usize, class: &'static str, prefix: &str, hex: &str) {
    let mut chunks = wrap(hex, WRAP_WIDTH).into_iter();
    let first = chunks.next().unwrap_or_default();
    lines.push(WireLine { class, text: format!("{i:03} {prefix}: {first}") });
    push_continuations(lines, class, prefix, chunks);
}

/// Frame header line, then the payload text on its own wrapped lines.
fn frame_lines(lines: &mut Vec<WireLine>, i: usize, entry: &WireLogEntry, style: WireStyle) {
    let (class, prefix, header, text) = match entry {
        WireLogEntry::RxFrame { len, text, opcode, fin, rsv, masked, mask } => {
            // Quirk: Autobahn hex-encodes the already-hex mask string.
            let mask = match (mask, style) {
                (None, _) => "None".to_owned(),
                (Some(m), WireStyle::Autobahn) => hex(m.as_bytes()),
                (Some(m), WireStyle::Readable) => m.clone(),
            };
            let header = format!(
                "OPCODE={opcode}, FIN={}, RSV={rsv}, PAYLOAD-LEN={len}, MASKED={}, MASK={mask}",
                py_bool(*fin),
                py_bool(*masked)
            );
            ("wirelog_rx_frame", "RX FRAME ", header, text)
        }
        WireLogEntry::TxFrame(f) => (tx_frame_class(f), "TX FRAME ", tx_frame_header(f), &f.text),
        _ => return,
    };
    lines.push(WireLine { class, text: format!("{i:03} {prefix}: {header}") });
    let opcode = match entry {
        WireLogEntry::RxFrame { opcode, .. } => *opcode,
        WireLogEntry::TxFrame(f) => f.opcode,
        _ => 0,
    };
    let text = match style {
        WireStyle::Readable if opcode == 2 => binary_as_hex(text),
        _ => super::wirelog::shown(text),
    };
    push_continuations(lines, class, prefix, wrap(&text, WRAP_WIDTH).into_iter());
}

/// A binary payload's wire-log text as `0x` + hex. The text is
/// [`payload_text`](super::payload_text)'s: already hex when the bytes were
/// not UTF-8, else the bytes themselves (possibly cut, with ` ...`), which
/// are turned back into hex here. (A binary payload that is UTF-8 text
/// starting with `0x` is taken as already hex: the text kept no more.)
fn binary_as_hex(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with("0x") {
        return std::borrow::Cow::Borrowed(text);
    }
    let (kept, cut) = match text.strip_suffix(super::wirelog::ELLIPSIS) {
        Some(kept) => (kept, super::wirelog::ELLIPSIS),
        None => (text, ""),
    };
    std::borrow::Cow::Owned(format!("0x{}{cut}", hex(kept.as_bytes())))
}

fn tx_frame_class(f: &TxFrameEntry) -> &'static str {
    if f.sync || f.chopsize.is_some() { "wirelog_tx_frame_sync" } else { "wirelog_tx_frame" }
}

fn tx_frame_header(f: &TxFrameEntry) -> String {
    format!(
        "OPCODE={}, FIN={}, RSV={}, PAYLOAD-LEN={}, MASK={}, PAYLOAD-REPEAT-LEN={}, CHOPSIZE={}, SYNC={}",
        f.opcode,
        py_bool(f.fin),
        f.rsv,
        f.len,
        py_opt(f.mask.as_ref()),
        py_opt(f.repeat.as_ref()),
        py_opt(f.chopsize.as_ref()),
        py_bool(f.sync)
    )
}

/// Continuation lines indented by 6 + the prefix length (15 columns).
fn push_continuations(
    lines: &mut Vec<WireLine>,
    class: &'static str,
    prefix: &str,
    chunks: impl Iterator<Item = String>,
) {
    let indent = " ".repeat(6 + prefix.len());
    lines.extend(chunks.map(|chunk| WireLine { class, text: format!("{indent}{chunk}") }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::wirelog::TxFrameSpec;

    fn lines_of(entries: Vec<WireLogEntry>, dropped_by_me: bool) -> Vec<WireLine> {
        let mut report = CaseReport::new("a");
        report.wirelog = entries;
        report.dropped_by_me = dropped_by_me;
        wirelog_lines(&report)
    }

    #[test]
    fn tx_frame_payload_wraps_under_the_header() {
        // 7.3.5: close(1000, 123 × '*') sent chopped.
        let mut payload = vec![0x03, 0xe8];
        payload.extend([b'*'; 123]);
        let spec = TxFrameSpec { payload: &payload, opcode: 8, fin: true, chopsize: Some(1), ..Default::default() };
        let lines = lines_of(vec![WireLogEntry::tx_frame(&spec)], false);
        let body = format!("0x03e8{} ...", "2a".repeat(62));
        let indent = " ".repeat(15);
        assert_eq!(
            lines,
            vec![
                WireLine {
                    class: "wirelog_tx_frame_sync",
                    text: "000 TX FRAME : OPCODE=8, FIN=True, RSV=0, PAYLOAD-LEN=125, MASK=None, \
                           PAYLOAD-REPEAT-LEN=None, CHOPSIZE=1, SYNC=False"
                        .into(),
                },
                WireLine { class: "wirelog_tx_frame_sync", text: format!("{indent}{}", &body[..100]) },
                WireLine { class: "wirelog_tx_frame_sync", text: format!("{indent}{}", &body[100..]) },
                WireLine { class: "wirelog_tcp_closed_by_peer", text: "001 TCP DROPPED BY PEER".into() },
            ]
        );
    }

    #[test]
    fn timer_and_mode_entries_use_one_number_each() {
        let entries = vec![
            WireLogEntry::CloseAfter(0.5),
            WireLogEntry::CloseAfterFired,
            WireLogEntry::Continue(1.0, Some("A".into())),
            WireLogEntry::ContinueFired(None),
            WireLogEntry::WirelogMode(false),
            WireLogEntry::KillAfterFired,
            WireLogEntry::tx_octets(&[0x89, 0x00], true),
        ];
        let texts: Vec<(&str, String)> = lines_of(entries, true).into_iter().map(|l| (l.class, l.text)).collect();
        let want = [
            ("wirelog_kill_after", "000 CLOSE CONNECTION AFTER 0.500000 sec"),
            ("wirelog_kill_after", "001 CLOSING CONNECTION"),
            ("wirelog_delay", "002 DELAY 1.000000 sec for TAG A"),
            ("wirelog_delay", "003 DELAY TIMEOUT on TAG None"),
            ("wirelog_delay", "004 WIRELOG DISABLED"),
            ("wirelog_kill_after", "005 FAILING CONNECTION"),
            ("wirelog_tx_octets_sync", "006 TX OCTETS: 8900"),
            ("wirelog_tcp_closed_by_me", "007 TCP DROPPED BY ME"),
        ];
        let want: Vec<(&str, String)> = want.iter().map(|(c, t)| (*c, (*t).to_owned())).collect();
        assert_eq!(texts, want);
    }

    #[test]
    fn unmasked_rx_frame_shows_none_and_text_payload() {
        let lines = lines_of(vec![WireLogEntry::rx_frame(b"Hello   World!", 1, false, 4, None)], true);
        assert_eq!(lines[0].text, "000 RX FRAME : OPCODE=1, FIN=False, RSV=4, PAYLOAD-LEN=14, MASKED=False, MASK=None");
        assert_eq!(lines[1].text, format!("{}Hello   World!", " ".repeat(15)));
    }
}
