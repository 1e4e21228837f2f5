//! The per-case report as a self-contained HTML page (§4.4 layout).
//!
//! Contracts:
//! - **Every string is HTML-escaped** ([`escape`]): payload text, close
//!   reasons, handshakes, the agent name and also the case texts. Autobahn
//!   escapes nothing, so a `<script>` in a payload would run when the report
//!   is opened; here it is shown. This is a deliberate divergence; a side
//!   effect is that the inline markup of some Autobahn case descriptions
//!   (3.x, 6.x) shows literally.
//! - The page is self-contained: inline CSS, no images, scripts or external
//!   links. The banner images become their alt texts.
//! - CSS class names (`case_ok`, `wirelog_rx_frame`, …) are Autobahn's, so
//!   the line content and classes can be compared with real reports.

use super::autobahn::CaseReport;
use super::page::{self, StatsTable};

/// Inline stylesheet shared by the per-case pages and the index.
pub(super) const CSS: &str = "\
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
.banner { font-size: 1.6em; font-weight: bold; }
.banner2 { font-size: 1.1em; color: #555; margin-bottom: 1em; }
.case_ok { background: #0a0; color: #fff; }
.case_almost { background: #6d6; color: #fff; }
.case_non_strict { background: #9a0; color: #fff; }
.case_info { background: #4095bf; color: #fff; }
.case_failed { background: #900; color: #fff; }
.case_unimplemented { background: #800080; color: #fff; }
.case_missing { background: #000; color: #fff; }
.summary { padding: 0.4em; font-weight: bold; }
.case_text_block { padding-left: 1em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
pre { margin: 0; }
.http_dump { background: #eee; padding: 0.4em; margin-bottom: 0.4em; }
.wirelog_rx_octets { color: #aaa; }
.wirelog_tx_octets, .wirelog_tx_octets_sync { color: #ab7; }
.wirelog_rx_frame { color: #00c; }
.wirelog_tx_frame, .wirelog_tx_frame_sync { color: #090; }
.wirelog_tx_octets_sync, .wirelog_tx_frame_sync { font-style: italic; }
.wirelog_kill_after { color: #c00; }
.wirelog_delay { color: #c0c; }
.wirelog_tcp_closed_by_me { color: #c00; font-weight: bold; }
.wirelog_tcp_closed_by_peer { color: #00c; font-weight: bold; }
.wirelog_disabled { color: #c00; font-weight: bold; }
";

/// Escape `text` for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Start of a page: doctype, title, inline CSS and the banner.
pub(super) fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <div class=\"banner\">{}</div>\n<div class=\"banner2\">{}</div>\n",
        escape(title),
        page::BANNER[0],
        page::BANNER[1]
    )
}

/// The per-case page as HTML.
pub fn render_html(report: &CaseReport) -> String {
    let summary = page::summary_line(report, true);
    let mut out = page_head(&summary);
    out.push_str(&format!("<div class=\"summary {}\">{}</div>\n", report.behavior.css_class(), escape(&summary)));
    push_case_sections(&mut out, report);
    push_handshake(&mut out, report);
    push_closing_table(&mut out, report);
    push_statistics(&mut out, report);
    push_wirelog(&mut out, report);
    out.push_str("</body>\n</html>\n");
    out
}

fn push_block(out: &mut String, title: &str, body_html: &str) {
    out.push_str(&format!("<h2>{title}</h2>\n<div class=\"case_text_block\">{body_html}</div>\n"));
}

fn push_case_sections(out: &mut String, r: &CaseReport) {
    push_block(out, "Case Description", &escape(&r.description));
    push_block(out, "Case Expectation", &escape(&r.expectation));
    let outcome = format!(
        "{}<br/><br/><pre>Expected:\n{}</pre><br/><pre>Observed:\n{}</pre>",
        escape(&r.result),
        escape(&page::expected_text(r)),
        escape(&page::observed_text(r))
    );
    push_block(out, "Case Outcome", &outcome);
    push_block(out, "Case Closing Behavior", &escape(&page::closing_summary(r)));
}

fn push_handshake(out: &mut String, r: &CaseReport) {
    out.push_str("<h2>Opening Handshake</h2>\n");
    for raw in [&r.http_request, &r.http_response] {
        out.push_str(&format!("<pre class=\"http_dump\">{}</pre>\n", escape(&page::handshake_text(raw))));
    }
    if let Some(tls) = page::tls_text(r) {
        out.push_str(&format!("<h2>TLS</h2>\n<p>{}</p>\n", escape(&tls)));
    }
}

fn push_closing_table(out: &mut String, r: &CaseReport) {
    out.push_str("<h2>Closing Behavior</h2>\n<table>\n");
    push_row(out, "th", page::CLOSING_HEADER.iter().copied());
    for row in page::closing_rows(r) {
        push_row(out, "td", [row.key, row.value.as_str(), row.description].into_iter());
    }
    out.push_str("</table>\n");
}

fn push_row<'a>(out: &mut String, cell: &str, cells: impl Iterator<Item = &'a str>) {
    out.push_str("<tr>");
    for text in cells {
        out.push_str(&format!("<{cell}>{}</{cell}>", escape(text)));
    }
    out.push_str("</tr>\n");
}

fn push_statistics(out: &mut String, r: &CaseReport) {
    out.push_str("<h2>Wire Statistics</h2>\n");
    if !r.create_stats {
        out.push_str(&format!("<p class=\"wirelog_disabled\">{}</p>\n", page::STATS_DISABLED));
        return;
    }
    for table in page::stats_tables(r) {
        push_stats_table(out, &table);
    }
}

fn push_stats_table(out: &mut String, table: &StatsTable) {
    out.push_str(&format!("<h3>{}</h3>\n<table>\n", table.title));
    push_row(out, "th", table.header.iter().copied());
    for row in &table.rows {
        push_row(out, "td", row.iter().map(String::as_str));
    }
    out.push_str("</table>\n");
}

fn push_wirelog(out: &mut String, r: &CaseReport) {
    out.push_str("<h2>Wire Log</h2>\n<div id=\"wirelog\">\n");
    if !r.create_wirelog {
        out.push_str(&format!("<p class=\"wirelog_disabled\">{}</p>\n", page::WIRELOG_DISABLED));
    }
    for line in page::wirelog_lines(r) {
        out.push_str(&format!("<pre class=\"{}\">{}</pre>\n", line.class, escape(&line.text)));
    }
    out.push_str("</div>\n");
}
