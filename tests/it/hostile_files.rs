//! Hostile files (issue 17): recordings are kept in repositories and
//! replayed in CI, so every consumer of one (show, convert to pcap and HAR,
//! replay, serve) must treat it as untrusted input: a sidecar never names
//! another file, a declared length never decides an allocation, crafted
//! values are located errors, never panics.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What the attacker wants to read: as long as the demo's large message,
/// so every length in the recording stays consistent.
const SECRET_UNIT: &[u8] = b"TOP-SECRET-";

fn secret() -> Vec<u8> {
    SECRET_UNIT.iter().copied().cycle().take(wstap::demo::LARGE_MESSAGE).collect()
}

/// A real recording (the demo session through the proxy) in `root/rec/`,
/// with a secret file in `root/` beside that directory. Returns the YAML
/// path and the name of its server-to-client sidecar.
async fn recording_beside_a_secret(root: &Path) -> (PathBuf, String) {
    let dir = root.join("rec");
    let recorded = wstap::demo::record_demo(&dir).await.unwrap();
    std::fs::write(root.join("secret.bin"), secret()).unwrap();
    let text = std::fs::read_to_string(&recorded.path).unwrap();
    let s2c = text
        .lines()
        .find_map(|l| sidecar_name(l).filter(|f| f.ends_with(".s2c.bin")))
        .expect("the echoed large message is in a sidecar")
        .to_string();
    (recorded.path, s2c)
}

/// The file name on a sidecar's `file:` line (quoted or not).
fn sidecar_name(line: &str) -> Option<&str> {
    Some(line.trim().strip_prefix("file: ")?.trim_matches('"'))
}

/// The recording with its server sidecar block changed by `edit`, which
/// gets the lines `file`, `offset`, `len`, `blake3` of that block.
fn tamper(yaml: &Path, s2c: &str, out: &Path, edit: impl Fn(&mut [String; 4])) {
    let text = std::fs::read_to_string(yaml).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| sidecar_name(l) == Some(s2c)).unwrap();
    let mut block: [String; 4] = std::array::from_fn(|i| lines[at + i].clone());
    edit(&mut block);
    lines.splice(at..at + 4, block);
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

fn set(block: &mut [String; 4], key: &str, value: &str) {
    let line = block.iter_mut().find(|l| l.trim_start().starts_with(&format!("{key}:"))).unwrap();
    let indent = line.len() - line.trim_start().len();
    let value = if key == "file" { format!("{value:?}") } else { value.to_string() };
    *line = format!("{}{key}: {value}", " ".repeat(indent));
}

/// Runs the real binary, killed after [`STEP`] (a `serve` that accepted
/// the recording would otherwise run forever).
fn wstap(args: &[&std::ffi::OsStr]) -> Output {
    Command::new("timeout").arg(STEP.as_secs().to_string()).arg(wstap_bin()).args(args).output().unwrap()
}

/// Every consumer of `rec`: each must refuse it with exit 2, an error
/// naming the event and `problem`, and none of the secret in any output.
fn every_consumer_refuses(rec: &Path, problem: &str, scratch: &Path) {
    let pcap = scratch.join("out.pcap");
    let har = scratch.join("out.har");
    let os = |s: &str| std::ffi::OsString::from(s);
    let runs: [(&str, Vec<std::ffi::OsString>); 5] = [
        ("show", vec![os("show"), rec.into()]),
        ("convert pcap", vec![os("convert"), rec.into(), pcap.clone().into()]),
        ("convert har", vec![os("convert"), rec.into(), har.clone().into()]),
        (
            "replay",
            vec![
                os("replay"),
                rec.into(),
                os("--client"),
                os("cat {url} >/dev/null"),
                os("--connect-timeout"),
                os("2"),
            ],
        ),
        ("serve", vec![os("serve"), os("--listen"), os("127.0.0.1:0"), os("--scenarios"), rec.into()]),
    ];
    let marker = String::from_utf8_lossy(SECRET_UNIT).into_owned();
    for (what, args) in runs {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let out = wstap(&args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{what} {}: {stderr}", rec.display());
        assert!(stderr.contains("events[") && stderr.contains(problem), "{what}: {stderr:?} lacks {problem:?}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!stdout.contains(&marker) && !stderr.contains(&marker), "{what} leaked the secret");
        for file in [&pcap, &har] {
            let written = std::fs::read(file).unwrap_or_default();
            assert!(!written.windows(SECRET_UNIT.len()).any(|w| w == SECRET_UNIT), "{what} wrote the secret");
        }
    }
}

#[tokio::test]
async fn a_sidecar_never_names_another_file() {
    let root = tempfile::tempdir().unwrap();
    let (yaml, s2c) = recording_beside_a_secret(root.path()).await;
    let dir = yaml.parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink("../secret.bin", dir.join("out.bin")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.bin")).unwrap();
    std::os::unix::fs::symlink(&s2c, dir.join("alias.bin")).unwrap();
    let digest = digest(&secret());
    let absolute = root.path().join("secret.bin").display().to_string();
    // The attacker knows the secret's digest: only the name check stops these.
    type Edit<'a> = Box<dyn Fn(&mut [String; 4]) + 'a>;
    let attacks: Vec<(&str, Edit<'_>, &str)> = vec![
        ("absolute", Box::new(|b| set(b, "file", &absolute)), "not a plain file name"),
        ("traversal", Box::new(|b| set(b, "file", "../secret.bin")), "not a plain file name"),
        ("link out", Box::new(|b| set(b, "file", "out.bin")), "leading out of the recording's directory"),
        (
            "dev zero",
            Box::new(|b| {
                set(b, "file", "zero.bin");
                set(b, "len", "2147483648")
            }),
            "leading out of the recording's directory",
        ),
        ("huge len", Box::new(|b| set(b, "len", "1000000000000000")), "beyond the end of the file"),
        ("bad digest", Box::new(|b| set(b, "blake3", "00")), "BLAKE3 mismatch"),
    ];
    for (name, edit, problem) in attacks {
        let rec = dir.join(format!("attack-{}.yaml", name.replace(' ', "-")));
        let digest = digest.clone();
        tamper(&yaml, &s2c, &rec, |b| {
            set(b, "blake3", &digest);
            edit(b)
        });
        let scratch = tempfile::tempdir().unwrap();
        every_consumer_refuses(&rec, problem, scratch.path());
    }
    // The same recording with an honest (or aliased) sidecar is fine.
    let alias = dir.join("alias.yaml");
    tamper(&yaml, &s2c, &alias, |b| set(b, "file", "alias.bin"));
    for rec in [&yaml, &alias] {
        let out = wstap(&["show".as_ref(), rec.as_os_str()]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A recording of one client read and one frame in it; `frame` replaces
/// the frame's payload and mask lines, `reads` the read events.
fn crafted(started: &str, reads: &str, frame: &str) -> String {
    format!(
        "wstap_recording: 1\nstarted: {started}\nclient: 127.0.0.1:1\nserver: 127.0.0.1:2\nevents:\n{reads}\
- at: 1\n  dir: c2s\n  type: frame\n  offset: 0\n  fin: true\n  rsv: 0\n  opcode: 2\n  len: 2\n{frame}"
    )
}

#[test]
fn crafted_values_are_located_errors_not_panics() {
    let ok_time = "2026-11-24T00:00:00.000000Z";
    let one_read = "- at: 0\n  dir: c2s\n  type: read\n  len: 8\n";
    let wrapping_reads = "- at: 0\n  dir: c2s\n  type: read\n  len: 9223372036854775808\n\
- at: 0\n  dir: c2s\n  type: read\n  len: 9223372036854775816\n";
    let cases = [
        ("hex.yaml", crafted(ok_time, one_read, "  mask: 01020304\n  hex: \"aéb\"\n"), "invalid hex digit"),
        ("mask.yaml", crafted(ok_time, one_read, "  mask: \"aé34567\"\n  hex: 0102\n"), "invalid hex digit"),
        ("reads.yaml", crafted(ok_time, wrapping_reads, "  hex: 0102\n"), "reads total"),
        ("year.yaml", crafted("99999999999999999-01-01T00:00:00Z", one_read, "  mask: 01020304\n  hex: 0102\n"), ""),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, text, problem) in cases {
        let rec = dir.path().join(name);
        std::fs::write(&rec, text).unwrap();
        let out_pcap = dir.path().join("o.pcap");
        let out_har = dir.path().join("o.har");
        let runs: [Vec<&std::ffi::OsStr>; 5] = [
            vec!["show".as_ref(), rec.as_ref()],
            vec!["convert".as_ref(), rec.as_ref(), out_pcap.as_ref()],
            vec!["convert".as_ref(), rec.as_ref(), out_har.as_ref()],
            vec!["diff".as_ref(), rec.as_ref(), rec.as_ref()],
            vec!["replay".as_ref(), rec.as_ref(), "--client".as_ref(), "true".as_ref()],
        ];
        for args in runs {
            let out = wstap(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name} {args:?}: {stderr}");
            assert!(matches!(out.status.code(), Some(0..=2)), "{name} {args:?}: {:?} {stderr}", out.status);
            if out.status.code() == Some(2) {
                assert!(stderr.contains(name), "{name} {args:?}: the error names the file: {stderr}");
            }
        }
        // Consumers that need the value name it and what is wrong with it.
        let needs: &[&std::ffi::OsStr] = match problem {
            "" => &["convert".as_ref(), rec.as_ref(), out_pcap.as_ref()],
            _ => &["show".as_ref(), rec.as_ref()],
        };
        let out = wstap(needs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problem = if problem.is_empty() { "is not an RFC 3339 UTC time" } else { problem };
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(problem), "{name}: {stderr:?} lacks {problem:?}");
    }
}

#[test]
fn scenario_ids_that_are_not_case_ids_are_refused_when_loading() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/7/7.1.1.yaml")).unwrap();
    let evil = shipped.replacen("id: \"7.1.1\"", "id: \"../../x\"", 1);
    assert_ne!(evil, shipped, "the shipped file has `id: 7.1.1`");
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(scenarios.join("evil.yaml"), evil).unwrap();
    let report = dir.path().join("deep/er/reports");
    let out = wstap(&[
        "replay".as_ref(),
        scenarios.as_os_str(),
        "--client".as_ref(),
        "true".as_ref(),
        "--report".as_ref(),
        report.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("evil.yaml") && stderr.contains("id: \"../../x\" is not a case ID"), "{stderr}");
    assert!(!dir.path().join("deep").exists(), "nothing is written for a refused scenario");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_whose_names_mangle_alike_keep_separate_reports() {
    use futures_util::StreamExt;
    use wstap::replay::{Settings, catalogue};
    let dir = tempfile::tempdir().unwrap();
    let cases = catalogue::select(catalogue::shipped(), &["7.1.1".into()], &[]).unwrap();
    let server = wstap::replay::serve::Server::bind(loopback(), cases, Settings::new(""), dir.path().to_path_buf())
        .await
        .unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    tokio::spawn(server.run(std::future::pending()));
    for agent in ["My%20Agent", "my-agent"] {
        let url = format!("{base}/runCase?case=1&agent={agent}");
        within("case", crate::replay::tungstenite_client(url, loopback())).await;
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/updateReports?agent=x")).await.unwrap();
    while let Some(Ok(_)) = within("update", ws.next()).await {}
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("index.json")).unwrap()).unwrap();
    let file = |agent: &str| index[agent]["7.1.1"]["reportfile"].as_str().unwrap().to_string();
    let (a, b) = (file("My Agent"), file("my-agent"));
    assert_eq!((a.as_str(), b.as_str()), ("my_agent_case_7_1_1.json", "my_agent_2_case_7_1_1.json"));
    for (name, agent) in [(&a, "My Agent"), (&b, "my-agent")] {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap();
        assert_eq!(report["agent"], agent, "{name} holds its own agent's report");
    }
}
