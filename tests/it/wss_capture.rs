//! Captures of wss sessions: the exported capture of a wss recording
//! decodes in tshark with no options (it is the decrypted conversation on
//! the real ports), and `--keylog` lets tshark decrypt a tcpdump capture of
//! the real upstream TLS to the same frames.

use crate::pcap::{Tcpdump, check_tshark, expected_columns, full_session, tshark_columns_with};
use crate::tlsutil::*;
use crate::util::*;
use wstap::net::Target;
use wstap::tls::{KeyLogFile, UpstreamOptions, UpstreamTls};

/// A session of every frame type, client → proxy (ws) → rustls server (wss).
async fn wss_session(
    pcap: Option<wstap::pcap::Format>,
    keylog: Option<&std::path::Path>,
    tcpdump: Option<&std::path::Path>,
) -> (wstap::session::Recording, std::path::PathBuf, tempfile::TempDir, u16) {
    let ca = TestCa::new("wstap test CA");
    let server = rustls_echo(&ca.leaf("localhost", &["localhost"], false)).await;
    let keylog = keylog.map(|p| KeyLogFile::open(p).unwrap() as std::sync::Arc<dyn rustls::KeyLog>);
    let options = UpstreamOptions { extra_roots: vec![ca.ca_file()], keylog, ..Default::default() };
    let tls = UpstreamTls::new(&options).unwrap();
    let target = Target::parse(&format!("wss://localhost:{}", server.port())).unwrap();
    let dump = tcpdump.map(|f| Tcpdump::start(f, server.port()));
    let proxy = TestProxy::start_config(loopback(), target, move |c| {
        c.upstream_tls = Some(tls);
        c.pcap = pcap;
    })
    .await;
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    full_session(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;
    if let Some(file) = tcpdump {
        wait_for_an_end(file).await;
    }
    drop(dump);
    let (recorded, dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    (rec, recorded[0].path.clone(), dir, server.port())
}

/// Waits until tcpdump has written the upstream connection's end (a FIN or
/// a reset): stopping it earlier loses what it has not read yet.
async fn wait_for_an_end(file: &std::path::Path) {
    use wstap::pcap::Item;
    within("the capture shows the connection's end", async {
        loop {
            let ended = wstap::pcap::read(file).is_ok_and(|c| {
                c.conversations.iter().any(|conv| conv.entries.iter().any(|e| matches!(e.item, Item::Fin | Item::Rst)))
            });
            if ended {
                return;
            }
            // Polling tcpdump's output file for a condition, not sleeping for readiness.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn the_capture_of_a_wss_recording_decodes_in_tshark_with_no_options() {
    if !have(Tool::Tshark, "the_capture_of_a_wss_recording_decodes_in_tshark_with_no_options") {
        return;
    }
    let (rec, yaml, dir, _) = wss_session(Some(wstap::pcap::Format::Pcap), None, None).await;
    assert!(rec.events.iter().any(|e| matches!(e.kind, wstap::session::EventKind::Tls(_))));
    let live = yaml.with_extension("pcap");
    check_tshark(&live, &rec, true, None);
    let exported = dir.path().join("export.pcapng");
    let status = std::process::Command::new(wstap_bin()).arg("convert").arg(&yaml).arg(&exported).status().unwrap();
    assert!(status.success());
    check_tshark(&exported, &rec, true, None);
    // show and diff read a wss recording as they read any other.
    let show = std::process::Command::new(wstap_bin()).arg("show").arg(&yaml).output().unwrap();
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    assert!(String::from_utf8_lossy(&show.stdout).contains("bye now"));
    let diff = std::process::Command::new(wstap_bin()).arg("diff").arg(&yaml).arg(&yaml).output().unwrap();
    assert_eq!(diff.status.code(), Some(0), "{}", String::from_utf8_lossy(&diff.stdout));
}

#[tokio::test]
async fn keylog_decrypts_a_tcpdump_capture_of_the_upstream_tls_to_the_same_frames() {
    let test = "keylog_decrypts_a_tcpdump_capture_of_the_upstream_tls_to_the_same_frames";
    let tools = have(Tool::Tcpdump, test) && have(Tool::Tshark, test);
    if !tools {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (keys, cap) = (work.path().join("keys.log"), work.path().join("upstream.pcap"));
    let (rec, _, _dir, port) = wss_session(None, Some(&keys), Some(&cap)).await;
    let lines = std::fs::read_to_string(&keys).unwrap();
    assert!(lines.lines().any(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 ")), "{lines}");
    let keylog = format!("tls.keylog_file:{}", keys.display());
    // The port is not 443, so tshark is told it carries TLS.
    let tls_port = format!("tcp.port=={port},tls");
    // The two directions interleave differently on the upstream leg than in
    // the recording (which orders by the proxy's reads): compare each field's
    // values as a multiset.
    let sorted = |mut cols: Vec<Vec<String>>| {
        cols.iter_mut().for_each(|c| c.sort());
        cols
    };
    let got = sorted(tshark_columns_with(&cap, &["-o", &keylog, "-d", &tls_port]));
    let want = sorted(expected_columns(&rec));
    assert!(want[0].len() >= 13);
    assert_eq!(got, want, "the decrypted capture shows the recorded frames");
    let without = tshark_columns_with(&cap, &["-d", &tls_port]);
    assert!(without[0].is_empty(), "without the key log nothing decrypts");
}
