//! Exported captures, judged by tshark and capinfos.

use std::path::Path;

use super::fixtures::{BIG, START_US, have, run, ws_conversation};
use crate::pcap::{Conversation, Format, write, write_to};

const FIELDS: [&str; 6] = [
    "websocket.opcode",
    "websocket.fin",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.masking_key",
    "websocket.payload.close.status_code",
];

/// One line per WebSocket-carrying packet, tab-separated fields.
fn ws_fields(file: &Path) -> String {
    let mut args = vec!["-r", file.to_str().unwrap(), "-Y", "websocket", "-T", "fields"];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    run("tshark", &args)
}

/// The expert-info summary with checksum validation on.
fn expert(file: &Path) -> String {
    let args = [
        "-r",
        file.to_str().unwrap(),
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-q",
        "-z",
        "expert",
    ];
    run("tshark", &args)
}

/// The frames tshark must decode from [`ws_conversation`].
const EXPECTED: &str = "1,1\t1,1\t5,6\t\t01020304,aabbccdd\t\n\
                        1\t1\t126\t3000\t\t\n\
                        8\t1\t5\t\t09080706\t1000\n\
                        8\t1\t2\t\t\t1000\n";

fn check_with_tshark(conv: &Conversation, name: &str) {
    if !have("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    write(&file, std::slice::from_ref(conv)).unwrap();
    assert_eq!(ws_fields(&file), EXPECTED, "{name}");
    let expert = expert(&file);
    for level in ["Errors", "Warns"] {
        assert!(!expert.contains(level), "{name}: tshark expert info has {level}:\n{expert}");
    }
    // The checks above would pass on an empty file; make sure it is not.
    assert!(expert.contains("Chats"), "{name}: no expert info at all:\n{expert}");
    assert_eq!(BIG, 3000);
}

#[test]
fn pcap_ipv4_decodes_in_tshark() {
    check_with_tshark(&ws_conversation("192.0.2.10:51000", "198.51.100.20:8080"), "v4.pcap");
}

#[test]
fn pcap_ipv6_decodes_in_tshark() {
    check_with_tshark(&ws_conversation("[2001:db8::10]:51000", "[2001:db8::20]:9001"), "v6.pcap");
}

#[test]
fn pcapng_decodes_in_tshark() {
    check_with_tshark(&ws_conversation("192.0.2.10:51000", "198.51.100.20:8080"), "v4.pcapng");
}

#[test]
fn mapped_ipv4_is_written_as_ipv4() {
    if !have("tshark") {
        return;
    }
    let conv = ws_conversation("[::ffff:192.0.2.10]:51000", "198.51.100.20:8080");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mapped.pcap");
    write(&file, &[conv]).unwrap();
    let args = ["-r", file.to_str().unwrap(), "-c", "1", "-T", "fields", "-e", "ip.src", "-e", "ip.dst"];
    assert_eq!(run("tshark", &args), "192.0.2.10\t198.51.100.20\n");
}

/// pcap-file writes pcapng times in nanoseconds; without `if_tsresol = 9`
/// capinfos would show the year 55840.
#[test]
fn timestamps_are_right_in_every_format() {
    if !have("tshark") || !have("capinfos") {
        return;
    }
    let conv = ws_conversation("192.0.2.10:51000", "198.51.100.20:8080");
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("a.pcap", Format::Pcap), ("b.pcap", Format::PcapNano), ("c.pcapng", Format::PcapNg)] {
        let file = dir.path().join(name);
        let out = write_to(std::fs::File::create(&file).unwrap(), format, std::slice::from_ref(&conv));
        out.unwrap();
        let path = file.to_str().unwrap();
        let args = ["-r", path, "-T", "fields", "-e", "frame.time_epoch"];
        let times = run("tshark", &args);
        let first = times.lines().next().unwrap();
        let last = times.lines().last().unwrap();
        assert_eq!(first, "1700000000.123456000", "{name}");
        // The last packet is the server's ACK of the client FIN at 8 ms.
        assert_eq!(last, "1700000000.131456000", "{name}");
        let info = run("capinfos", &["-a", "-e", "-T", "-r", path]);
        assert!(info.contains("2023-11-14"), "{name}: {info}");
        assert_eq!(START_US, 1_700_000_000_123_456);
    }
}
