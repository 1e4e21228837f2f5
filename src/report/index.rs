//! `index.json` and `index.html` over a set of case reports (§4.2, §4.5).
//!
//! Contracts:
//! - If several reports share (agent, case id), the **last one wins**, as
//!   when Autobahn re-runs a case and overwrites the earlier result.
//! - `index.json` is `{agent: {id: {behavior, behaviorClose, duration,
//!   remoteCloseCode, reportfile}}}` in Autobahn's JSON layout; `reportfile`
//!   names the per-case **JSON** file.
//! - `index.html` lists agents as column pairs sorted by name and cases
//!   sorted by their numeric ID tuple; cells link to the per-case **HTML**.
//!
//! Deliberate divergences: the header names wstap and carries no timestamp
//! (rendering stays pure and reproducible); "Toggle Details" is a CSS-only
//! checkbox instead of a script; compression ratios (12.x/13.x) are not
//! shown; sub-category names exist only for the hand-named sub-categories
//! (the generated 6.5–6.23 and 12.x/13.x ones get no sub-category row).

use super::autobahn::{AgentStems, Behavior, CaseReport, CloseBehavior};
use super::html::{escape, page_head};
use super::json::to_autobahn_json;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Reports keyed by agent, then by case id; later reports replace earlier.
type Grid<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a CaseReport>>;

fn grid(reports: &[CaseReport]) -> Grid<'_> {
    let mut grid: Grid<'_> = BTreeMap::new();
    for r in reports {
        grid.entry(r.agent.as_str()).or_default().insert(r.id.as_str(), r);
    }
    grid
}

/// `index.json` for `reports`.
pub fn render_index_json(reports: &[CaseReport]) -> String {
    let stems = AgentStems::of(reports);
    let mut agents = serde_json::Map::new();
    for (agent, cases) in grid(reports) {
        let entries = cases.iter().map(|(id, r)| ((*id).to_owned(), index_entry(r, &stems))).collect();
        agents.insert(agent.to_owned(), Value::Object(entries));
    }
    to_autobahn_json(&Value::Object(agents))
}

fn index_entry(r: &CaseReport, stems: &AgentStems) -> Value {
    json!({
        "behavior": r.behavior,
        "behaviorClose": r.behavior_close,
        "duration": r.duration,
        "remoteCloseCode": r.remote_close_code,
        "reportfile": format!("{}.json", stems.file_stem(r)),
    })
}

/// Category names (`7` → "Close Handling"), from Autobahn's case catalogue.
fn category_name(category: &str) -> Option<&'static str> {
    Some(match category {
        "1" => "Framing",
        "2" => "Pings/Pongs",
        "3" => "Reserved Bits",
        "4" => "Opcodes",
        "5" => "Fragmentation",
        "6" => "UTF-8 Handling",
        "7" => "Close Handling",
        "9" => "Limits/Performance",
        "10" => "Misc",
        "12" => "WebSocket Compression (different payloads)",
        "13" => "WebSocket Compression (different parameters)",
        _ => return None,
    })
}

/// Hand-named sub-categories from Autobahn's case catalogue.
fn subcategory_name(sub: &str) -> Option<String> {
    Some(
        match sub {
            "1.1" => "Text Messages",
            "1.2" => "Binary Messages",
            "4.1" => "Non-control Opcodes",
            "4.2" => "Control Opcodes",
            "6.1" => "Valid UTF-8 with zero payload fragments",
            "6.2" => "Valid UTF-8 unfragmented, fragmented on code-points and within code-points",
            "6.3" => "Invalid UTF-8 differently fragmented",
            "6.4" => "Fail-fast on invalid UTF-8",
            "7.1" => "Basic close behavior (fuzzer initiated)",
            "7.3" => "Close frame structure: payload length (fuzzer initiated)",
            "7.5" => "Close frame structure: payload value (fuzzer initiated)",
            "7.7" => "Close frame structure: valid close codes (fuzzer initiated)",
            "7.9" => "Close frame structure: invalid close codes (fuzzer initiated)",
            "7.13" => "Informational close information (fuzzer initiated)",
            "9.1" => "Text Message (increasing size)",
            "9.2" => "Binary Message (increasing size)",
            "9.3" => "Fragmented Text Message (fixed size, increasing fragment size)",
            "9.4" => "Fragmented Binary Message (fixed size, increasing fragment size)",
            "9.5" => "Text Message (fixed size, increasing chop size)",
            "9.6" => "Binary Text Message (fixed size, increasing chop size)",
            "9.7" => "Text Message Roundtrip Time (fixed number, increasing size)",
            "9.8" => "Binary Message Roundtrip Time (fixed number, increasing size)",
            "10.1" => "Auto-Fragmentation",
            _ => return deflate_subcategory_name(sub),
        }
        .to_owned(),
    )
}

/// 12.x/13.x's titles, made as Autobahn makes them: the data file's
/// description and size, and for 13.x the client offers and the server's
/// accept policy. The sizes are those of wstap's own data
/// (`data/deflate-corpus/`), not Autobahn's.
fn deflate_subcategory_name(sub: &str) -> Option<String> {
    use crate::scenario::series::corpus_file;
    const DATA: [(&str, &str, bool); 5] = [
        ("12.1", "data1.json", false),
        ("12.2", "image512.bmp", true),
        ("12.3", "text-de.txt", true),
        ("12.4", "data1.html", false),
        ("12.5", "document.pdf", true),
    ];
    const DESCRIPTIONS: [&str; 5] = [
        "Large JSON data file",
        "Picture, Bitmap 512x512 grey",
        "Human readable text (German)",
        "Large HTML file",
        "A larger PDF",
    ];
    const POLICIES: [(&str, &str); 7] = [
        ("[(False, 0)]", "[(False, 0)]"),
        ("[(True, 0)]", "[(True, 0)]"),
        ("[(False, 9)]", "[(False, 9)]"),
        ("[(False, 15)]", "[(False, 15)]"),
        ("[(True, 9)]", "[(True, 9)]"),
        ("[(True, 15)]", "[(True, 15)]"),
        ("[(True, 9), (True, 0), (False, 0)]", "[(True, 9), (True, 0), (False, 0)]"),
    ];
    let data = |i: usize| {
        let (_, file, binary) = DATA[i];
        let size = corpus_file(file).map_or(0, <[u8]>::len);
        format!("{} ({}, {size} bytes)", DESCRIPTIONS[i], if binary { "binary" } else { "utf8" })
    };
    if let Some(i) = DATA.iter().position(|(s, _, _)| *s == sub) {
        return Some(data(i));
    }
    let n: usize = sub.strip_prefix("13.")?.parse().ok()?;
    let (offers, accept) = POLICIES.get(n.checked_sub(1)?)?;
    Some(format!(
        "{} - client offers (requestNoContextTakeover, requestMaxWindowBits): {offers} / server accept \
         (requestNoContextTakeover, requestMaxWindowBits): {accept}",
        data(0)
    ))
}

/// Numeric sort key of a dotted case ID (`5.9` < `5.10`).
fn id_key(id: &str) -> Vec<u64> {
    id.split('.').map(|part| part.parse().unwrap_or(u64::MAX)).collect()
}

/// The anchor of a case's description, e.g. `case_desc_7_3_1`.
fn desc_anchor(id: &str) -> String {
    format!("case_desc_{}", id.replace('.', "_"))
}

/// All case IDs in numeric order, each with the first report carrying it
/// (for its description and expectation).
fn cases_in_order(reports: &[CaseReport]) -> Vec<(&str, &CaseReport)> {
    let mut by_id: BTreeMap<Vec<u64>, (&str, &CaseReport)> = BTreeMap::new();
    for r in reports {
        by_id.entry(id_key(&r.id)).or_insert((r.id.as_str(), r));
    }
    by_id.into_values().collect()
}

/// `index.html` for `reports`.
pub fn render_index_html(reports: &[CaseReport]) -> String {
    let grid = grid(reports);
    let stems = AgentStems::of(reports);
    let agents: Vec<&str> = grid.keys().copied().collect();
    let cases = cases_in_order(reports);
    let mut out = page_head("Autobahn WebSocket Testsuite Report");
    out.push_str(&format!(
        "<p>Summary report generated by wstap v{} (Autobahn|Testsuite compatible).</p>\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(LEGEND);
    out.push_str(
        "<input type=\"checkbox\" id=\"toggle_details\" checked>\
         <label for=\"toggle_details\">Toggle Details</label>\n<table id=\"results\">\n",
    );
    push_case_rows(&mut out, &grid, &agents, &cases, &stems);
    out.push_str("</table>\n");
    push_descriptions(&mut out, &cases);
    out.push_str("</body>\n</html>\n");
    out
}

/// The legend, plus the CSS rule that hides close cells when unchecked.
const LEGEND: &str = "<style>#toggle_details:not(:checked) ~ #results .close { display: none; }</style>\n\
<table class=\"legend\">\n\
<tr><td class=\"case_ok\">Pass</td><td>Executed and passed.</td></tr>\n\
<tr><td class=\"case_non_strict\">Non-Strict</td><td>Passed, but misses a SHOULD of the specification.</td></tr>\n\
<tr><td class=\"case_failed\">Fail</td><td>Violates a MUST of the specification (unless it is a performance case).</td></tr>\n\
<tr><td class=\"case_info\">Info</td><td>Informational: behaviour the specification leaves open.</td></tr>\n\
<tr><td class=\"case_missing\">Missing</td><td>Skipped, excluded, or the run crashed.</td></tr>\n\
</table>\n";

fn push_case_rows(
    out: &mut String,
    grid: &Grid<'_>,
    agents: &[&str],
    cases: &[(&str, &CaseReport)],
    stems: &AgentStems,
) {
    let mut current_sub = String::new();
    for (id, _) in cases {
        let parts: Vec<&str> = id.split('.').collect();
        let sub = parts.iter().take(2).copied().collect::<Vec<_>>().join(".");
        if sub != current_sub {
            push_category_rows(out, parts[0], &sub, agents);
            current_sub = sub;
        }
        out.push_str(&format!("<tr><td><a href=\"#{}\">Case {}</a></td>", escape(&desc_anchor(id)), escape(id)));
        for agent in agents {
            out.push_str(&result_cells(grid.get(agent).and_then(|cases| cases.get(id)).copied(), stems));
        }
        out.push_str("</tr>\n");
    }
}

/// The category row (with agent names) and, if named, the sub-category row.
fn push_category_rows(out: &mut String, category: &str, sub: &str, agents: &[&str]) {
    let name = category_name(category).unwrap_or("");
    out.push_str(&format!("<tr class=\"case_category_row\"><th>{} {}</th>", escape(category), name));
    for agent in agents {
        out.push_str(&format!("<th colspan=\"2\">{}</th>", escape(agent)));
    }
    out.push_str("</tr>\n");
    if let Some(sub_name) = subcategory_name(sub) {
        let span = 1 + 2 * agents.len();
        out.push_str(&format!(
            "<tr class=\"case_subcategory_row\"><td colspan=\"{span}\">{} {sub_name}</td></tr>\n",
            escape(sub)
        ));
    }
}

/// The result and close cells of one agent for one case.
fn result_cells(report: Option<&CaseReport>, stems: &AgentStems) -> String {
    let Some(r) = report else {
        return both_cells("case_missing", "Missing");
    };
    if r.behavior == Behavior::Unimplemented {
        return both_cells("case_unimplemented", "Unimplemented");
    }
    let (class, label) = match r.behavior {
        Behavior::Ok => ("case_ok", "Pass"),
        Behavior::NonStrict => ("case_non_strict", "Non-Strict"),
        Behavior::Informational => ("case_info", "Info"),
        Behavior::Failed | Behavior::Unimplemented => ("case_failed", "Fail"),
    };
    let mut time = if r.report_time { format!("<br/>{} ms", r.duration) } else { String::new() };
    if let Some(stats) = r.traffic_stats.as_ref().filter(|_| r.report_compression_ratio) {
        // Autobahn's "[in/out]" compression ratios, 3 decimals, "-" for none.
        let ratio = |key: &str| stats[key].as_f64().map_or("-".to_owned(), |v| format!("{v:.3}"));
        let ratios = format!(" [{}/{}]", ratio("incomingCompressionRatio"), ratio("outgoingCompressionRatio"));
        time.push_str(&ratios);
    }
    let href = escape(&format!("{}.html", stems.file_stem(r)));
    let (close_class, close_text) = close_cell(r);
    format!(
        "<td class=\"{class}\"><a href=\"{href}\">{label}</a>{time}</td><td class=\"close {close_class}\">{}</td>",
        escape(&close_text)
    )
}

fn both_cells(class: &str, text: &str) -> String {
    format!("<td class=\"{class}\">{text}</td><td class=\"close {class}\">{text}</td>")
}

fn close_cell(r: &CaseReport) -> (&'static str, String) {
    let code = r.remote_close_code.map_or_else(|| "None".to_owned(), |c| c.to_string());
    match r.behavior_close {
        CloseBehavior::Ok => ("case_ok", code),
        CloseBehavior::FailedByClient => ("case_almost", code),
        CloseBehavior::WrongCode => ("case_non_strict", code),
        CloseBehavior::Informational => ("case_info", code),
        CloseBehavior::Unclean => ("case_failed", "Unclean".to_owned()),
        CloseBehavior::Failed => ("case_failed", "Fail".to_owned()),
    }
}

fn push_descriptions(out: &mut String, cases: &[(&str, &CaseReport)]) {
    for (id, r) in cases {
        out.push_str(&format!(
            "<div class=\"case_desc\" id=\"{}\"><h3>Case {}</h3><a href=\"#results\">Up</a>\
             <p>Case Description</p><p>{}</p><p>Case Expectation</p><p>{}</p></div>\n",
            escape(&desc_anchor(id)),
            escape(id),
            escape(&r.description),
            escape(&r.expectation)
        ));
    }
}
