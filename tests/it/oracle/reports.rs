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
                let case: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
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
