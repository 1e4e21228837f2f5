//! The per-case report laid out for a person: `wstap show`'s default.
//!
//! Same content and order as the Autobahn text ([`super::render_text`]),
//! which stays byte-exact for those who diff against Autobahn's pages
//! (`show --format autobahn`, the `.txt` files of `replay --report`). The
//! differences, all for reading:
//! - tables have aligned columns separated by two spaces, numbers right
//!   aligned (Autobahn's text runs cells together: `KeyValueDescription`);
//! - every mask prints as its 8 hex digits, RX and TX alike, where
//!   Autobahn's RX lines print the hex of the hex string;
//! - binary payloads always print as `0x` + hex (see
//!   [`super::page::WireStyle`]);
//! - with [`ReadableOptions::color`], headings are bold, verdicts and
//!   `wasClean` green/yellow/red, and wire-log lines coloured by who sent
//!   them (client magenta, server blue, whatever the perspective).
//!
//! Escaping: every piece of text goes through [`crate::escape`] before the
//! colour codes are added, so the codes are the only escapes in the output.

use super::autobahn::CaseReport;
use super::page::{self, StatsTable, WireStyle};
use crate::escape;
use crate::term::{self, paint};

/// What to include and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadableOptions {
    /// Include the verdict and the case description/expectation/outcome
    /// sections (off for recordings that are not a case).
    pub case_sections: bool,
    /// Add ANSI colour (only for a terminal; see [`crate::term`]).
    pub color: bool,
    /// Only the wire-log entries this selects (`show --filter`, the
    /// expression of [`crate::live::filter`]); `None` for all.
    pub filter: Option<crate::live::filter::Filter>,
}

/// The report as aligned, optionally coloured text (no trailing newline).
pub fn render_readable(r: &CaseReport, o: &ReadableOptions) -> String {
    let c = o.color;
    let mut out = vec![paint(c, term::BOLD, page::BANNER[0]), String::new(), summary(r, o), String::new()];
    if o.case_sections {
        case_sections(&mut out, r, c);
    }
    heading(&mut out, "Opening Handshake", c);
    for block in [&r.http_request, &r.http_response] {
        out.extend(page::handshake_text(block).lines().map(|l| escape::line(l).into_owned()));
        out.push(String::new());
    }
    heading(&mut out, "Closing Behavior", c);
    out.extend(closing_table(r, c));
    out.push(String::new());
    heading(&mut out, "Wire Statistics", c);
    if r.create_stats {
        for table in page::stats_tables(r) {
            out.push(paint(c, term::BOLD, table.title));
            out.extend(stats_table(&table));
            out.push(String::new());
        }
    } else {
        out.push(page::STATS_DISABLED.to_owned());
        out.push(String::new());
    }
    heading(&mut out, "Wire Log", c);
    if !r.create_wirelog {
        out.push(page::WIRELOG_DISABLED.to_owned());
    }
    out.extend(wire_log(r, c, o.filter.as_ref()));
    out.join("\n")
}

fn heading(out: &mut Vec<String>, title: &str, color: bool) {
    out.push(paint(color, term::BOLD, title));
    out.push(String::new());
}

fn summary(r: &CaseReport, o: &ReadableOptions) -> String {
    let agent = escape::line(&r.agent);
    let timing = format!("{} ms @ {}", r.duration, escape::line(&r.started));
    if !o.case_sections {
        return format!("{agent} - {timing}");
    }
    let (b, close) = (r.behavior.as_str(), r.behavior_close.as_str());
    let verdict = |v: &str| paint(o.color, term::verdict_color(v), v);
    format!("{agent} - Case {} : {} / {} - {timing}", escape::line(&r.id), verdict(b), verdict(close))
}

fn case_sections(out: &mut Vec<String>, r: &CaseReport, c: bool) {
    let block = |text: &str| escape::block(text).into_owned();
    heading(out, "Case Description", c);
    out.extend([block(&r.description), String::new()]);
    heading(out, "Case Expectation", c);
    out.extend([block(&r.expectation), String::new()]);
    heading(out, "Case Outcome", c);
    out.extend([block(&r.result), String::new()]);
    out.extend(["Expected:".into(), block(&page::expected_text(r)), String::new()]);
    out.extend(["Observed:".into(), block(&page::observed_text(r)), String::new()]);
    heading(out, "Case Closing Behavior", c);
    out.extend([block(&page::closing_summary(r)), String::new()]);
}

fn closing_table(r: &CaseReport, c: bool) -> Vec<String> {
    let mut rows = vec![page::CLOSING_HEADER.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    let data = page::closing_rows(r);
    rows.extend(
        data.iter()
            .map(|row| vec![row.key.to_owned(), escape::line(&row.value).into_owned(), row.description.to_owned()]),
    );
    let mut lines = aligned(&rows, &[false, false, false]);
    if c {
        lines[0] = paint(true, term::BOLD, &lines[0]);
        for (line, row) in lines.iter_mut().skip(1).zip(&data) {
            let color = match (row.key, row.value.as_str()) {
                ("wasClean", "True") => term::GREEN,
                ("wasClean", "False") => term::RED,
                _ => continue,
            };
            *line = line.replacen(&format!("  {}  ", row.value), &format!("  {}  ", paint(true, color, &row.value)), 1);
        }
    }
    lines
}

fn stats_table(table: &StatsTable) -> Vec<String> {
    let mut rows = vec![table.header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    rows.extend(table.rows.iter().cloned());
    let right = vec![true; table.header.len()];
    aligned(&rows, &right)
}

/// Rows padded to aligned columns, two spaces apart; the last column is not
/// padded on the right (no trailing spaces).
fn aligned(rows: &[Vec<String>], right: &[bool]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let w = widths[i];
                    let last = i + 1 == row.len();
                    match right.get(i).copied().unwrap_or(false) {
                        true => format!("{cell:>w$}"),
                        false if last => cell.clone(),
                        false => format!("{cell:<w$}"),
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// What `show --filter` sees of wire-log entry `i` (`len` is the final
/// "TCP DROPPED" line): direction (the sender's, whatever the
/// perspective), opcode for frames, kind `frame`, `octets`, `note`
/// (timers, faults) or `tcp`.
fn entry_subject(r: &CaseReport, i: usize) -> (Option<crate::session::Direction>, Option<u8>, &'static str, &str) {
    use crate::report::WireLogEntry as E;
    use crate::session::Direction;
    let rx = if r.is_server { Direction::ClientToServer } else { Direction::ServerToClient };
    let tx = if r.is_server { Direction::ServerToClient } else { Direction::ClientToServer };
    match r.wirelog.get(i) {
        Some(E::RxFrame { opcode, text, .. }) => (Some(rx), Some(*opcode), "frame", text),
        Some(E::TxFrame(f)) => (Some(tx), Some(f.opcode), "frame", &f.text),
        Some(E::RxOctets { .. }) => (Some(rx), None, "octets", ""),
        Some(E::TxOctets { .. }) => (Some(tx), None, "octets", ""),
        Some(_) => (None, None, "note", ""),
        None => (None, None, "tcp", ""),
    }
}

/// Wire-log lines (those `filter` selects), coloured by sender when asked.
fn wire_log(r: &CaseReport, c: bool, filter: Option<&crate::live::filter::Filter>) -> Vec<String> {
    let mut entry = 0;
    page::wirelog_lines_styled(r, WireStyle::Readable)
        .into_iter()
        .filter(|line| {
            // A numbered line starts an entry; continuation lines follow it.
            if let Some(n) = line.text.get(..3).and_then(|d| d.parse::<usize>().ok()) {
                entry = n;
            }
            let Some(f) = filter else { return true };
            let (dir, opcode, kind, text) = entry_subject(r, entry);
            f.matches(&crate::live::filter::Subject { conn: 1, dir, opcode, kind, text })
        })
        .map(|line| {
            let text = escape::block(&line.text).into_owned();
            let rx = line.class.starts_with("wirelog_rx");
            let tx = line.class.starts_with("wirelog_tx");
            // RX is what the peer sent: the client's when I am the server.
            let from_client = (rx && r.is_server) || (tx && !r.is_server);
            let color = match (rx || tx, from_client) {
                (false, _) => term::DIM,
                (true, true) => term::MAGENTA,
                (true, false) => term::BLUE,
            };
            paint(c, color, &text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::WireLogEntry;

    fn report() -> CaseReport {
        let mut r = CaseReport::new("agent");
        r.started = "2026-12-02T04:28:08.345Z".into();
        r.is_server = true;
        r.was_clean = true;
        r.remote_close_code = Some(1000);
        r.create_stats = true;
        r.create_wirelog = true;
        r.rx_octet_stats.0.insert(19, 1);
        r.rx_octet_stats.0.insert(206, 12);
        r.wirelog = vec![
            WireLogEntry::rx_frame(b"hi", 1, true, 0, Some([0x6b, 0x7e, 0xec, 0xc8])),
            WireLogEntry::rx_frame(&[0x01, 0x02, b' ', b'\t'], 2, true, 0, Some([1, 2, 3, 4])),
        ];
        r
    }

    #[test]
    fn tables_are_aligned_and_masks_plain() {
        let text = render_readable(&report(), &ReadableOptions::default());
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().position(|l| l.starts_with("Key")).unwrap();
        let value_col = lines[header].find("Value").unwrap();
        let clean = lines.iter().find(|l| l.starts_with("wasClean ")).unwrap();
        assert_eq!(&clean[value_col..value_col + 4], "True", "{text}");
        let code = lines.iter().find(|l| l.starts_with("remoteCloseCode ")).unwrap();
        assert_eq!(&code[value_col..value_col + 4], "1000", "{text}");
        assert!(
            text.contains(
                "Chop Size  Count  Octets\n       19      1      19\n      206     12    2472\n    Total     13    2491"
            ),
            "{text}"
        );
        assert!(text.contains("MASK=6b7eecc8\n"), "plain mask, not the hex of its hex: {text}");
        assert!(text.contains("MASKED=True, MASK=01020304\n               0x01022009"), "binary as hex: {text}");
        assert!(!text.contains('\u{1b}'), "no colour unless asked");
        assert!(!text.lines().any(|l| l.ends_with(' ')), "no trailing spaces");
    }

    #[test]
    fn colour_marks_senders_and_clean_close() {
        let text = render_readable(&report(), &ReadableOptions { color: true, ..Default::default() });
        assert!(text.contains(&format!("{}000 RX FRAME", term::MAGENTA)), "client frames magenta: {text}");
        assert!(text.contains(&format!("  {}True{}  ", term::GREEN, term::RESET)), "{text}");
        let mut client_view = report();
        client_view.is_server = false;
        let text = render_readable(&client_view, &ReadableOptions { color: true, ..Default::default() });
        assert!(text.contains(&format!("{}000 RX FRAME", term::BLUE)), "server frames blue: {text}");
    }

    #[test]
    fn the_filter_keeps_the_entries_it_selects_with_their_continuations() {
        let filter = crate::live::filter::Filter::parse("op=binary").ok();
        let text = render_readable(&report(), &ReadableOptions { filter, ..Default::default() });
        let log = &text[text.find("Wire Log").unwrap()..];
        assert!(!log.contains("000 RX FRAME") && !log.contains("TCP DROPPED"), "{log}");
        assert!(log.contains("001 RX FRAME : OPCODE=2") && log.contains("               0x01022009"), "{log}");
        let filter = crate::live::filter::Filter::parse("dir=client kind=frame").ok();
        let text = render_readable(&report(), &ReadableOptions { filter, ..Default::default() });
        assert_eq!(text.matches(" RX FRAME ").count(), 2, "both frames came from the client: {text}");
    }
}
