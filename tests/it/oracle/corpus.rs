//! The 12/13 test data (`data/deflate-corpus/`, [`CORPUS`]) is exactly what
//! `scripts/make-corpus` makes: no file was edited by hand or lost, and the
//! licence statement (made here, from nothing) stays true.

use super::tools;

/// Where the corpus lives, from the repository root. (It belongs beside the
/// scenarios, in `scenarios/data/`, once the scenario tests stop reading
/// every entry of `scenarios/` as a scenario file.)
const CORPUS: &str = "data/deflate-corpus";

#[test]
fn corpus_is_what_the_script_makes() {
    let python = std::process::Command::new("python3").arg("--version").output().map(|_| ()).map_err(|e| e.to_string());
    if !tools::ready("corpus_is_what_the_script_makes", &[python]) {
        return;
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out =
        std::process::Command::new("python3").arg(repo.join("scripts/make-corpus")).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "make-corpus failed: {}", String::from_utf8_lossy(&out.stderr));
    let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(made.len(), 5, "{made:?}");
    for name in made {
        let fresh = std::fs::read(dir.path().join(&name)).unwrap();
        let committed = std::fs::read(repo.join(CORPUS).join(&name))
            .unwrap_or_else(|e| panic!("{CORPUS}/{}: {e}", name.to_string_lossy()));
        assert!(fresh == committed, "{CORPUS}/{} differs from what scripts/make-corpus makes", name.to_string_lossy());
    }
}
