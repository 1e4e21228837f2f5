//! Field-by-field comparison of two report sets, after [`normalise`], and
//! a difference report a person can read.
//!
//! Cases are paired by (agent, case ID). For each pair the `index.json`
//! entries and the per-case JSON are compared key by key; the wire log is
//! compared entry by entry, so a difference names the entry (`wirelog[5]`)
//! rather than the whole log.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use super::normalise;
use super::reports::Reports;

/// At most this many wire-log entries are listed per case.
const WIRELOG_ENTRIES_SHOWN: usize = 6;
/// Values are cut at this many characters in the report.
const VALUE_CHARS: usize = 240;

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The agent.
    pub agent: String,
    /// The case ID.
    pub case: String,
    /// `index.behavior`, `txOctetStats`, `wirelog[5]`, or `(case)` when the
    /// case exists on one side only.
    pub field: String,
    /// The value on the left side (the oracle), as compact JSON.
    pub left: String,
    /// The value on the right side.
    pub right: String,
}

/// Every difference between `left` and `right`, in agent, case, field order.
pub fn compare(left: &Reports, right: &Reports) -> Vec<Difference> {
    let mut out = Vec::new();
    let agents: BTreeSet<&String> = left.agents.keys().chain(right.agents.keys()).collect();
    for agent in agents {
        let (l, r) = (left.agents.get(agent), right.agents.get(agent));
        let mut ids: Vec<&String> = l.into_iter().chain(r).flat_map(|m| m.keys()).collect();
        ids.sort_by_key(|id| case_order(id));
        ids.dedup();
        for id in ids {
            let mut diff = |field: String, left: String, right: String| {
                out.push(Difference { agent: agent.clone(), case: id.clone(), field, left, right });
            };
            match (l.and_then(|m| m.get(id)), r.and_then(|m| m.get(id))) {
                (Some(a), Some(b)) => pair(a, b, &mut diff),
                (a, b) => diff("(case)".into(), presence(a.is_some()), presence(b.is_some())),
            }
        }
    }
    out
}

fn presence(there: bool) -> String {
    (if there { "present" } else { "missing" }).into()
}

/// `7.1.10` sorts after `7.1.9`.
fn case_order(id: &str) -> Vec<u64> {
    id.split('.').map(|p| p.parse().unwrap_or(u64::MAX)).collect()
}

fn pair(a: &(Value, Value), b: &(Value, Value), diff: &mut impl FnMut(String, String, String)) {
    let (mut ia, mut ib, mut ca, mut cb) = (a.0.clone(), b.0.clone(), a.1.clone(), b.1.clone());
    normalise::index_entry(&mut ia);
    normalise::index_entry(&mut ib);
    normalise::case(&mut ca);
    normalise::case(&mut cb);
    normalise::queued_prefix(&mut ca, &mut cb);
    object_fields("index.", &ia, &ib, diff);
    object_fields("", &ca, &cb, diff);
}

fn object_fields(prefix: &str, a: &Value, b: &Value, diff: &mut impl FnMut(String, String, String)) {
    let empty = serde_json::Map::new();
    let (oa, ob) = (a.as_object().unwrap_or(&empty), b.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&String> = oa.keys().chain(ob.keys()).collect();
    for key in keys {
        let (va, vb) = (oa.get(key), ob.get(key));
        if va == vb {
            continue;
        }
        match (va, vb) {
            (Some(Value::Array(la)), Some(Value::Array(lb))) if key.starts_with("wirelog") => {
                wirelog(key, la, lb, diff)
            }
            _ => {
                let (sa, sb) = show_pair(va, vb);
                diff(format!("{prefix}{key}"), sa, sb)
            }
        }
    }
}

fn wirelog(key: &str, a: &[Value], b: &[Value], diff: &mut impl FnMut(String, String, String)) {
    let differing: Vec<usize> = (0..a.len().max(b.len())).filter(|&i| a.get(i) != b.get(i)).collect();
    for &i in differing.iter().take(WIRELOG_ENTRIES_SHOWN) {
        diff(format!("{key}[{i}]"), show(a.get(i)), show(b.get(i)));
    }
    if differing.len() > WIRELOG_ENTRIES_SHOWN {
        let more = differing.len() - WIRELOG_ENTRIES_SHOWN;
        diff(key.into(), format!("{} entries", a.len()), format!("{} entries ({more} more differ)", b.len()));
    }
}

/// Both values; long ones are cut around their first difference, so the
/// report shows where they part.
fn show_pair(a: Option<&Value>, b: Option<&Value>) -> (String, String) {
    let (ta, tb) = (a.map(Value::to_string), b.map(Value::to_string));
    let (Some(ta), Some(tb)) = (ta, tb) else { return (show(a), show(b)) };
    if ta.chars().count() <= VALUE_CHARS && tb.chars().count() <= VALUE_CHARS {
        return (ta, tb);
    }
    let same = ta.chars().zip(tb.chars()).take_while(|(x, y)| x == y).count();
    let from = same.saturating_sub(VALUE_CHARS / 4);
    let window = |t: &str| {
        let cut: String = t.chars().skip(from).take(VALUE_CHARS).collect();
        let more = if t.chars().count() > from + VALUE_CHARS { " …" } else { "" };
        format!("{}{cut}{more}", if from > 0 { "… " } else { "" })
    };
    (window(&ta), window(&tb))
}

fn show(value: Option<&Value>) -> String {
    let Some(value) = value else { return "(absent)".into() };
    let text = value.to_string();
    if text.chars().count() <= VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(VALUE_CHARS).collect();
    format!("{cut} …")
}

/// A per-case, per-field report; `names` labels the two sides.
pub fn render(diffs: &[Difference], names: (&str, &str), compared: usize) -> String {
    let width = names.0.len().max(names.1.len()) + 1;
    let mut out = String::new();
    let mut current: Option<(&str, &str)> = None;
    for d in diffs {
        if current != Some((&d.agent, &d.case)) {
            let _ = writeln!(out, "case {} (agent {}):", d.case, d.agent);
            current = Some((&d.agent, &d.case));
        }
        let _ = writeln!(out, "  {}", d.field);
        let _ = writeln!(out, "    {:<width$} {}", format!("{}:", names.0), escape(&d.left));
        let _ = writeln!(out, "    {:<width$} {}", format!("{}:", names.1), escape(&d.right));
    }
    let cases: BTreeSet<(&str, &str)> = diffs.iter().map(|d| (d.agent.as_str(), d.case.as_str())).collect();
    let _ = writeln!(
        out,
        "{} differing fields in {} of {compared} cases ({} vs {})",
        diffs.len(),
        cases.len(),
        names.0,
        names.1
    );
    out
}

/// Control characters from the wire never reach the terminal raw.
fn escape(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}
