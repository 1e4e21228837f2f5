//! The per-case report as plain text.
//!
//! Contract: for the same data, [`render_text`] equals Autobahn's per-case
//! HTML page rendered as text (the layout of
//! `autobahn-report-sample-7.3.1.txt`), byte for byte, including its
//! oddities: table cells are concatenated without separators
//! (`KeyValueDescription`, `3501350`), the banner images appear as their
//! alt texts, the request and response blocks are printed back to back,
//! and there is no trailing newline (callers use `println!`). The one
//! departure: characters a terminal would act on (ESC, BEL, CR, NUL, the
//! other C0 and C1 controls, bidi overrides) are written as escapes by
//! [`crate::escape::block`], so a recorded payload or reason cannot drive
//! the terminal that shows the report or `cat`s the `.txt` file.
//!
//! For `wstap show` (no case, no verdict) [`TextOptions::case_sections`]
//! drops the verdict from the summary line and omits Case Description,
//! Expectation, Outcome and Closing Behavior.

use super::autobahn::CaseReport;
use super::page::{self, StatsTable};

/// What to include in the text rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Include the verdict and the case description/expectation/outcome
    /// sections. Off for recordings that are not an Autobahn case.
    pub case_sections: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self { case_sections: true }
    }
}

/// The full per-case report as text, as Autobahn shows it.
pub fn render_text(report: &CaseReport) -> String {
    render_text_with(report, &TextOptions::default())
}

/// The per-case report as text, with sections chosen by `options`.
pub fn render_text_with(report: &CaseReport, options: &TextOptions) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n{}\n\n", page::BANNER[0], page::BANNER[1]));
    out.push_str(&page::summary_line(report, options.case_sections));
    out.push_str("\n\n");
    if options.case_sections {
        push_case_sections(&mut out, report);
    }
    push_handshake(&mut out, report);
    push_closing_table(&mut out, report);
    push_statistics(&mut out, report);
    push_wirelog(&mut out, report);
    crate::escape::block(&out).into_owned()
}

fn push_section(out: &mut String, title: &str, body: &str) {
    out.push_str(&format!("{title}\n\n{body}\n\n"));
}

fn push_case_sections(out: &mut String, r: &CaseReport) {
    push_section(out, "Case Description", &r.description);
    push_section(out, "Case Expectation", &r.expectation);
    let outcome =
        format!("{}\n\nExpected:\n{}\n\nObserved:\n{}", r.result, page::expected_text(r), page::observed_text(r));
    push_section(out, "Case Outcome", &outcome);
    push_section(out, "Case Closing Behavior", &page::closing_summary(r));
    out.push_str("\n\n");
}

fn push_handshake(out: &mut String, r: &CaseReport) {
    let body = format!("{}\n{}\n", page::handshake_text(&r.http_request), page::handshake_text(&r.http_response));
    push_section(out, "Opening Handshake", &body);
    if let Some(tls) = page::tls_text(r) {
        push_section(out, "TLS", &tls);
    }
}

fn push_closing_table(out: &mut String, r: &CaseReport) {
    out.push_str("Closing Behavior\n\n");
    out.push_str(&page::CLOSING_HEADER.concat());
    out.push('\n');
    for row in page::closing_rows(r) {
        out.push_str(&format!("{}{}{}\n", row.key, row.value, row.description));
    }
    out.push_str("\n\n");
}

fn push_statistics(out: &mut String, r: &CaseReport) {
    out.push_str("Wire Statistics\n\n");
    if !r.create_stats {
        out.push_str(page::STATS_DISABLED);
        out.push_str("\n\n\n");
        return;
    }
    let tables: Vec<String> = page::stats_tables(r).iter().map(table_text).collect();
    out.push_str(&tables.join("\n"));
    out.push_str("\n\n");
}

fn table_text(table: &StatsTable) -> String {
    let mut text = format!("{}\n\n{}\n", table.title, table.header.concat());
    for row in &table.rows {
        text.push_str(&row.concat());
        text.push('\n');
    }
    text
}

fn push_wirelog(out: &mut String, r: &CaseReport) {
    out.push_str("Wire Log\n\n");
    if !r.create_wirelog {
        out.push_str(page::WIRELOG_DISABLED);
        out.push('\n');
    }
    let lines: Vec<String> = page::wirelog_lines(r).into_iter().map(|l| l.text).collect();
    out.push_str(&lines.join("\n"));
}
