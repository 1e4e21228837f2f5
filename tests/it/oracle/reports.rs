//! An Autobahn report directory, as both sides write it: `index.json` plus
//! one `<agent>_case_<id>.json` per case (found through the index's
//! `reportfile`, so agent-derived file names never need guessing).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The reports of one run: per agent, per case ID, the index entry and the
/// per-case JSON.
#[derive(Debug, Default)]
pub struct Reports {
    /// `agent -> case ID -> (index entry, per-case JSON)`.
    pub agents: BTreeMap<String, BTreeMap<String, (Value, Value)>>,
}

impl Reports {
    /// Reads `dir`: `index.json` and every case file it names.
    pub fn read(dir: &Path) -> Result<Reports, String> {
        let index_path = dir.join("index.json");
        let text = std::fs::read_to_string(&index_path).map_err(|e| format!("{}: {e}", index_path.display()))?;
        let index: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", index_path.display()))?;
        let mut agents = BTreeMap::new();
        for (agent, cases) in index.as_object().ok_or(format!("{}: not an object", index_path.display()))? {
            let mut read = BTreeMap::new();
            for (id, entry) in cases.as_object().ok_or(format!("{}: {agent}: not an object", index_path.display()))? {
                let file = entry["reportfile"].as_str().ok_or(format!("{agent} {id}: no reportfile"))?;
                // The index is data from the wire's side; never let it name a path elsewhere.
                if file.contains('/') || file.contains("..") {
                    return Err(format!("{agent} {id}: reportfile {file:?} is not a plain file name"));
                }
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let case: Value = serde_json::from_str(&lone_surrogates_as_text(&text))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                read.insert(id.clone(), (entry.clone(), case));
            }
            agents.insert(agent.clone(), read);
        }
        Ok(Reports { agents })
    }

    /// Number of case results over all agents.
    pub fn len(&self) -> usize {
        self.agents.values().map(BTreeMap::len).sum()
    }
}

/// Python 2 writes an encoded surrogate (ED A0 80, accepted by its UTF-8
/// decoder) as the JSON escape `\ud800`, which no UTF-8 string can hold,
/// so serde_json refuses it. Such a lone surrogate escape becomes the six
/// characters `\ud800` as text (its backslash escaped), so the report still
/// reads and a side that writes the same escape still compares equal.
/// Escapes that form a valid surrogate pair are kept.
pub fn lone_surrogates_as_text(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains("\\u") {
        return json.into();
    }
    let b = json.as_bytes();
    let surrogate = |at: usize| -> Option<u16> {
        let hex = json.get(at + 2..at + 6)?;
        let v = u16::from_str_radix(hex, 16).ok()?;
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u') && (0xD800..0xE000).contains(&v)).then_some(v)
    };
    let mut out = String::with_capacity(json.len());
    let (mut i, mut last) = (0, 0);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match surrogate(i) {
            Some(hi @ 0xD800..0xDC00) if surrogate(i + 6).is_some_and(|lo| lo >= 0xDC00) => {
                let _ = hi;
                i += 12;
            }
            Some(_) => {
                out.push_str(&json[last..i]);
                out.push('\\');
                last = i;
                i += 6;
            }
            // Any other escape: skip it whole, so `\\\\u` is never misread.
            None => i += 2,
        }
    }
    out.push_str(&json[last..]);
    out.into()
}

impl Reports {
    /// Writes `index.json` and the per-case JSON files into `dir`, as read
    /// (for keeping a run's reports after its temporary directory is gone).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut index = serde_json::Map::new();
        for (agent, cases) in &self.agents {
            let mut entries = serde_json::Map::new();
            for (id, (entry, case)) in cases {
                let file = entry["reportfile"].as_str().unwrap_or_default();
                let path = dir.join(file);
                let text = serde_json::to_string_pretty(case).unwrap();
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                entries.insert(id.clone(), entry.clone());
            }
            index.insert(agent.clone(), entries.into());
        }
        let path = dir.join("index.json");
        std::fs::write(&path, serde_json::to_string_pretty(&index).unwrap())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_read_as_text_and_pairs_stay() {
        let v: Value =
            serde_json::from_str(&lone_surrogates_as_text(r#"["\ud800x", "\ud83d\ude42", "\\ud800", "\udc00"]"#))
                .unwrap();
        assert_eq!(v, serde_json::json!(["\\ud800x", "🙂", "\\ud800", "\\udc00"]));
    }
}
