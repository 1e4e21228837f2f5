//! The cases a run can use: the shipped scenarios (compiled into the
//! binary, so `wstap serve` needs no files) and PATH arguments (scenario
//! files, recordings, or directories of either).
//!
//! The shipped scenarios live in `scenarios/<category>/<id>.yaml` and are
//! embedded by `build.rs` (every `*.yaml` under `scenarios/`).
//!
//! Numbering follows Autobahn (§1.1 of the reference): the selected cases
//! sorted by their integer tuple, `case=N` being the N-th. With the whole
//! catalogue selected, case N is Autobahn 0.8.2's case N (7.1.1 = 210);
//! the numbers are always printed next to the IDs.

use std::path::{Path, PathBuf};

use super::from_recording::{self, Timing};
use super::{Case, Response};
use crate::scenario::select::CaseList;
use crate::scenario::{ScenarioError, grid};

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// The shipped scenarios, parsed (a grid file gives one case per row).
pub fn shipped() -> Vec<Case> {
    SHIPPED
        .iter()
        .flat_map(|(path, text)| {
            let origin = PathBuf::from(format!("scenarios/{path}"));
            let scenarios = grid::parse_file(text, &origin).expect("shipped scenarios parse (checked by tests)");
            scenarios.into_iter().map(move |scenario| Case {
                scenario,
                number: 0,
                response: Response::Autobahn,
                origin: origin.clone(),
                fixture: Default::default(),
            })
        })
        .collect()
}

/// Loads every PATH (file or directory) as cases, unnumbered.
pub fn load_paths(paths: &[PathBuf], timing: Timing) -> Result<Vec<Case>, ScenarioError> {
    let mut cases = Vec::new();
    for path in paths {
        if path.is_dir() {
            for file in yaml_files(path)? {
                cases.extend(load_file(&file, timing)?);
            }
        } else {
            cases.extend(load_file(path, timing)?);
        }
    }
    Ok(cases)
}

/// Loads one scenario, grid or recording file: its cases.
pub fn load_file(path: &Path, timing: Timing) -> Result<Vec<Case>, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        position: None,
        message: e.to_string(),
    })?;
    if is_recording(&text) {
        return from_recording::load(path, timing).map(|case| vec![case]);
    }
    let scenarios = grid::parse_file(&text, path)?;
    Ok(scenarios
        .into_iter()
        .map(|scenario| Case {
            scenario,
            number: 0,
            response: Response::Autobahn,
            origin: path.to_path_buf(),
            fixture: Default::default(),
        })
        .collect())
}

/// True for a `wstap record` recording (rather than a scenario).
pub fn is_recording(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("wstap_recording:"))
}

/// Every `*.yaml` file under `dir`, subdirectories included, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let io = |e: std::io::Error| ScenarioError { file: dir.to_path_buf(), position: None, message: e.to_string() };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_yaml(&path, files)?;
        } else if path.extension().is_some_and(|x| x == "yaml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Selects and numbers cases the Autobahn way (`cases`/`exclude`
/// patterns; an empty `cases` means `*`). Two cases with one ID are an error.
pub fn select(all: Vec<Case>, cases: &[String], exclude: &[String]) -> Result<Vec<Case>, String> {
    for (i, a) in all.iter().enumerate() {
        if let Some(b) = all[..i].iter().find(|b| b.scenario.id == a.scenario.id) {
            let (x, y) = (b.origin.display(), a.origin.display());
            return Err(format!("case {} is defined twice: {x} and {y}", a.scenario.id));
        }
    }
    let star = ["*".to_owned()];
    let cases = if cases.is_empty() { &star[..] } else { cases };
    let list = CaseList::select(all.iter().map(|c| c.scenario.id.as_str()), &patterns(cases), &patterns(exclude));
    let mut chosen: Vec<Case> = all.into_iter().filter(|c| list.number_of(&c.scenario.id).is_some()).collect();
    for case in &mut chosen {
        case.number = list.number_of(&case.scenario.id).unwrap_or(0) as u32;
    }
    chosen.sort_by_key(|c| c.number);
    Ok(chosen)
}

fn patterns(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_cases_parse_and_number_like_autobahn_within_category_7() {
        let all = select(shipped(), &["7.*".into()], &[]).unwrap();
        assert_eq!(all.len(), 37);
        assert_eq!((all[0].scenario.id.as_str(), all[0].number), ("7.1.1", 1));
        let whole = select(shipped(), &[], &[]).unwrap();
        let first_of = |id: &str| whole.iter().find(|c| c.scenario.id == id).map(|c| c.number);
        // Autobahn 0.8.2's numbers, as far as the shipped categories reach.
        assert_eq!((first_of("1.1.1"), first_of("2.1"), first_of("3.1")), (Some(1), Some(17), Some(28)));
        assert_eq!((first_of("4.1.1"), first_of("5.1")), (Some(35), Some(45)));
        let some = select(shipped(), &["7.1*".into()], &["7.1.2".into()]).unwrap();
        let ids: Vec<(&str, u32)> = some.iter().map(|c| (c.scenario.id.as_str(), c.number)).collect();
        assert_eq!(
            ids,
            [("7.1.1", 1), ("7.1.3", 2), ("7.1.4", 3), ("7.1.5", 4), ("7.1.6", 5), ("7.13.1", 6), ("7.13.2", 7)]
        );
    }

    #[test]
    fn shipped_texts_equal_the_scenarios_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let on_disk = load_paths(&[dir], Timing::Reactive).unwrap();
        assert_eq!(on_disk.len(), shipped().len());
        assert!(on_disk.len() > SHIPPED.len(), "grid files give several cases each");
        for (case, shipped) in select(on_disk, &[], &[]).unwrap().iter().zip(select(shipped(), &[], &[]).unwrap()) {
            assert_eq!(case.scenario, shipped.scenario);
        }
    }
}
