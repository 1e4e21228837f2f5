//! Embeds the shipped scenarios (`scenarios/**/*.yaml`) and the 12/13 test
//! data (`data/deflate-corpus/`, all but its README) in the binary, so
//! `wstap replay` and `wstap serve` need no files: writes
//! `$OUT_DIR/shipped.rs` with one `(path, text)` entry per scenario file,
//! sorted by path, for `src/replay/catalogue.rs`, and `$OUT_DIR/corpus.rs`
//! with one `(name, bytes)` entry per data file for `src/scenario/series.rs`.

use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut out = String::from("/// The shipped scenarios: (path under `scenarios/`, YAML text).\n");
    out += "pub const SHIPPED: &[(&str, &str)] = &[\n";
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        out += &format!("    ({rel:?}, include_str!({:?})),\n", file.display().to_string());
    }
    out += "];\n";
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("shipped.rs");
    std::fs::write(dest, out).unwrap();
    corpus();
}

fn corpus() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("data/deflate-corpus");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p| p.is_file() && p.extension().is_some_and(|x| x != "md"));
    files.sort();
    let mut out = String::from("/// The shipped test data of categories 12/13: (file name, bytes).\n");
    out += "pub const CORPUS: &[(&str, &[u8])] = &[\n";
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        out += &format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string());
    }
    out += "];\n";
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("corpus.rs");
    std::fs::write(dest, out).unwrap();
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            walk(&path, files);
        } else if path.extension().is_some_and(|x| x == "yaml") {
            files.push(path);
        }
    }
}
