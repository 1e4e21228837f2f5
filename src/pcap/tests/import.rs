//! Import of captures built in memory: round trips, damaged TCP streams,
//! link types, and damaged files.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::fixtures::{C2S, S2C, frames, logical, raw_pcap, relink, ws_conversation};
use crate::pcap::{Capture, Conversation, Format, Item, ReadError, read_bytes, write_to};

const V4: (&str, &str) = ("192.0.2.10:51000", "198.51.100.20:8080");
const V6: (&str, &str) = ("[2001:db8::10]:51000", "[2001:db8::20]:9001");
/// Index of the server's first big-frame segment in [`frames`] output:
/// SYN, SYN-ACK, ACK, request, ACK, response, ACK, texts, ACK, then it.
const BIG_SEG: usize = 9;

fn conv(ends: (&str, &str)) -> Conversation {
    ws_conversation(ends.0, ends.1)
}

fn encode(convs: &[Conversation], format: Format) -> Vec<u8> {
    write_to(Vec::new(), format, convs).unwrap()
}

/// Reads a capture that must hold exactly one conversation.
fn only(capture: Capture) -> Conversation {
    assert_eq!(capture.conversations.len(), 1, "{capture:#?}");
    capture.conversations.into_iter().next().unwrap()
}

/// An Ethernet pcap from a list of frames (full length, as captured).
fn eth_pcap(frames: &[(Duration, Vec<u8>)]) -> Vec<u8> {
    let records: Vec<_> = frames.iter().map(|(t, d)| (*t, d.clone(), d.len() as u32)).collect();
    raw_pcap(1, 65535, &records)
}

#[test]
fn round_trip_every_format_and_family() {
    for ends in [V4, V6] {
        for format in [Format::Pcap, Format::PcapNano, Format::PcapNg] {
            let original = conv(ends);
            let back = only(read_bytes(&encode(std::slice::from_ref(&original), format)).unwrap());
            assert_eq!((back.client, back.server), (original.client, original.server), "{format:?}");
            assert_eq!(back.start_us, original.start_us, "{format:?}");
            assert_eq!(logical(&back), logical(&original), "{format:?} {ends:?}");
            assert_eq!(back.notes, Vec::<String>::new());
            // Every segment keeps the time of the read it came from.
            let times: Vec<u64> = back.entries.iter().map(|e| e.at_us).collect();
            assert_eq!(times.first(), Some(&1_000));
            assert_eq!(times.last(), Some(&8_000));
        }
    }
}

#[test]
fn rst_and_many_connections_round_trip() {
    let mut a = conv(V4);
    a.entries.truncate(4);
    a.push(9_000, C2S, Item::Rst);
    let mut b = conv(("192.0.2.10:51001", "198.51.100.20:8080"));
    b.start_us += 500;
    let back = read_bytes(&encode(&[a.clone(), b.clone()], Format::Pcap)).unwrap();
    assert_eq!(back.conversations.len(), 2);
    assert_eq!(logical(&back.conversations[0]), logical(&a));
    assert_eq!(logical(&back.conversations[1]), logical(&b));
    assert_eq!(back.conversations[0].entries.last().unwrap().item, Item::Rst);
}

#[test]
fn reused_address_pair_after_close_is_a_new_connection() {
    let a = conv(V4);
    let mut b = conv(V4);
    b.start_us += 1_000_000;
    let back = read_bytes(&encode(&[a.clone(), b.clone()], Format::PcapNg)).unwrap();
    assert_eq!(back.conversations.len(), 2, "{back:#?}");
    assert_eq!(back.conversations[1].start_us, b.start_us);
    assert_eq!(logical(&back.conversations[1]), logical(&b));
}

#[test]
fn mapped_client_address_comes_back_as_ipv4() {
    let original = ws_conversation("[::ffff:192.0.2.10]:51000", V4.1);
    let back = only(read_bytes(&encode(&[original], Format::Pcap)).unwrap());
    assert_eq!(back.client, "192.0.2.10:51000".parse::<SocketAddr>().unwrap());
}

#[test]
fn retransmissions_are_dropped() {
    let original = conv(V4);
    let mut f = frames(&original);
    let dup_big = f[BIG_SEG + 1].clone();
    let dup_texts = f[7].clone();
    f.insert(BIG_SEG + 3, dup_big);
    f.insert(BIG_SEG + 4, dup_texts);
    let back = only(read_bytes(&eth_pcap(&f)).unwrap());
    assert_eq!(logical(&back), logical(&original));
    assert!(back.notes.is_empty(), "{:?}", back.notes);
}

#[test]
fn reordered_segments_are_put_back_in_order() {
    let original = conv(V6);
    let mut f = frames(&original);
    f.swap(BIG_SEG, BIG_SEG + 2);
    let back = only(read_bytes(&eth_pcap(&f)).unwrap());
    assert_eq!(logical(&back), logical(&original));
    assert!(back.notes.is_empty(), "{:?}", back.notes);
}

#[test]
fn missing_segment_is_an_explicit_gap() {
    let original = conv(V4);
    let mut f = frames(&original);
    f.remove(BIG_SEG + 1);
    let back = only(read_bytes(&eth_pcap(&f)).unwrap());
    let response_len = original.entries[1].item_len();
    let s2c: Vec<Item> = logical(&back).into_iter().filter(|(d, _)| *d == S2C).map(|(_, i)| i).collect();
    // Response, first segment, the hole, the rest of the frame, close, FIN.
    assert_eq!(s2c.len(), 6, "{s2c:?}");
    assert_eq!(s2c[2], Item::Gap { len: 1460 });
    let Item::Data(before) = &s2c[1] else { panic!("{s2c:?}") };
    let Item::Data(after) = &s2c[3] else { panic!("{s2c:?}") };
    let full = original.data(S2C);
    assert_eq!(before[..], full[response_len..response_len + 1460]);
    assert_eq!(after[..], full[response_len + 2920..response_len + 3004]);
    assert_eq!(s2c[5], Item::Fin);
    let note = format!("1460 bytes from {} not captured (stream offset {})", V4.1, response_len + 1460);
    assert_eq!(back.notes, vec![note]);
    // The client side is untouched.
    assert_eq!(back.data(C2S), original.data(C2S));
}

#[test]
fn missing_handshake_is_noted_and_client_found_by_http() {
    let original = conv(V4);
    let f = frames(&original)[3..].to_vec();
    let back = only(read_bytes(&eth_pcap(&f)).unwrap());
    assert_eq!(back.client, original.client);
    assert_eq!(logical(&back), logical(&original));
    let note = "TCP handshake not captured; client guessed as the side that sent an HTTP request";
    assert_eq!(back.notes, vec![note.to_string()]);
}

#[test]
fn snaplen_truncation_keeps_what_was_captured_and_counts_the_rest() {
    let original = conv(V4);
    let records: Vec<_> =
        frames(&original).into_iter().map(|(t, d)| (t, d[..d.len().min(100)].to_vec(), d.len() as u32)).collect();
    let back = only(read_bytes(&raw_pcap(1, 100, &records)).unwrap());
    // 100 - 14 (Ethernet) - 20 (IPv4) - 20 (TCP) = 46 payload bytes kept.
    let note = "packet 10 truncated to 100 of 1514 bytes (snaplen): 1414 bytes missing";
    assert!(back.notes.iter().any(|n| n == note), "{:#?}", back.notes);
    for dir in [C2S, S2C] {
        let (mut data, mut gaps) = (0, 0);
        for e in back.entries.iter().filter(|e| e.dir == dir) {
            match &e.item {
                Item::Data(d) => data += d.len(),
                Item::Gap { len } => gaps += *len as usize,
                _ => {}
            }
        }
        assert_eq!(data + gaps, original.data(dir).len(), "{dir:?}");
        assert!(gaps > 0);
    }
    let fins = back.entries.iter().filter(|e| e.item == Item::Fin).count();
    assert_eq!(fins, 2);
}

#[test]
fn every_link_type_reads_like_ethernet() {
    for (ends, links) in [(V4, [113, 276, 0, 108, 101, 228]), (V6, [113, 276, 0, 108, 101, 229])] {
        let original = conv(ends);
        for link in links {
            let records: Vec<_> = frames(&original)
                .into_iter()
                .map(|(t, d)| {
                    let d = relink(&d, link);
                    let len = d.len() as u32;
                    (t, d, len)
                })
                .collect();
            let back = only(read_bytes(&raw_pcap(link, 65535, &records)).unwrap());
            assert_eq!(logical(&back), logical(&original), "link type {link}");
            assert_eq!(back.client, original.client, "link type {link}");
        }
    }
}

#[test]
fn unsupported_link_type_is_an_error() {
    let records = vec![(Duration::ZERO, vec![0u8; 40], 40)];
    let err = read_bytes(&raw_pcap(147, 65535, &records)).unwrap_err();
    assert!(matches!(err, ReadError::UnsupportedLinkType(147)), "{err}");
}

#[test]
fn file_cut_short_is_a_partial_import_with_a_note() {
    let full = encode(&[conv(V4)], Format::Pcap);
    let f = frames(&conv(V4));
    let last_offset = full.len() - 16 - f.last().unwrap().1.len();
    let cut = &full[..full.len() - 10];
    let capture = read_bytes(cut).unwrap();
    let note = format!(
        "file truncated: it ends inside the packet of packet {} at byte offset {last_offset} ({} of {} bytes present)",
        f.len(),
        f.last().unwrap().1.len() - 10,
        f.last().unwrap().1.len(),
    );
    assert_eq!(capture.notes, vec![note]);
    // Both FINs came before the lost final ACK.
    assert_eq!(logical(&only(capture)), logical(&conv(V4)));

    let ng = encode(&[conv(V4)], Format::PcapNg);
    let capture = read_bytes(&ng[..ng.len() / 2]).unwrap();
    assert!(capture.notes[0].starts_with("file truncated: it ends inside the block of packet"), "{:?}", capture.notes);
    let partial = only(capture);
    assert!(partial.notes.iter().any(|n| n.starts_with("capture ends mid-connection")), "{:?}", partial.notes);
}

#[test]
fn corrupt_record_length_names_packet_and_offset() {
    let mut bytes = encode(&[conv(V4)], Format::Pcap);
    let f = frames(&conv(V4));
    let offset = 24 + 16 * 2 + f[0].1.len() + f[1].1.len();
    bytes[offset + 8..offset + 12].copy_from_slice(&0xffff_0000u32.to_le_bytes());
    let err = read_bytes(&bytes).unwrap_err();
    let ReadError::Corrupt { packet, offset: at, .. } = &err else { panic!("{err}") };
    assert_eq!((*packet, *at), (3, offset as u64));
    assert_eq!(
        err.to_string(),
        format!("corrupt capture at packet 3, byte offset {offset}: captured length 4294901760 exceeds snaplen 262144")
    );
}

#[test]
fn corrupt_pcapng_block_names_packet_and_offset() {
    let mut bytes = encode(&[conv(V4)], Format::PcapNg);
    // Walk SHB, IDB, EPB 1, EPB 2 to the third packet's block.
    let mut offset = 0;
    for _ in 0..4 {
        offset += u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap()) as usize;
    }
    bytes[offset + 4..offset + 8].copy_from_slice(&13u32.to_le_bytes());
    let err = read_bytes(&bytes).unwrap_err();
    assert_eq!(err.to_string(), format!("corrupt capture at packet 3, byte offset {offset}: invalid block length 13"));
}

#[test]
fn not_a_capture() {
    let err = read_bytes(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert_eq!(err.to_string(), "not a pcap or pcapng capture (starts with 47 45 54 20)");
    assert!(matches!(read_bytes(b"").unwrap_err(), ReadError::NotACapture { .. }));
}

/// Damaged input of every kind: no panic, no hang.
#[test]
fn damaged_files_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for format in [Format::Pcap, Format::PcapNg] {
        let good = encode(&[conv(V6)], format);
        for len in 0..good.len() {
            let _ = read_bytes(&good[..len]);
        }
        for _ in 0..2000 {
            let mut bad = good.clone();
            for _ in 0..1 + rand() % 8 {
                let i = rand() as usize % bad.len();
                bad[i] = rand() as u8;
            }
            let _ = read_bytes(&bad);
        }
    }
    // A data item with nothing after it is still kept.
    let mut c = conv(V4);
    c.entries.truncate(1);
    c.push(2_000, S2C, Item::Data(Bytes::from_static(b"x")));
    let back = only(read_bytes(&encode(&[c.clone()], Format::Pcap)).unwrap());
    assert_eq!(logical(&back), logical(&c));
}

trait ItemLen {
    fn item_len(&self) -> usize;
}

impl ItemLen for crate::pcap::Entry {
    fn item_len(&self) -> usize {
        match &self.item {
            Item::Data(d) => d.len(),
            _ => 0,
        }
    }
}

/// The live writer flushes after every item: the file is complete and
/// readable at each step, not only at the end.
#[test]
fn incremental_writer_is_readable_after_every_item() {
    let original = conv(V6);
    for name in ["live.pcap", "live.pcapng"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut writer =
            crate::pcap::Writer::create(&path, original.client, original.server, original.start_us).unwrap();
        assert!(only(crate::pcap::read(&path).unwrap()).entries.is_empty());
        for (i, e) in original.entries.iter().enumerate() {
            writer.push(e.at_us, e.dir, &e.item).unwrap();
            let so_far = only(crate::pcap::read(&path).unwrap());
            let mut expected = original.clone();
            expected.entries.truncate(i + 1);
            assert_eq!(logical(&so_far), logical(&expected), "{name} after item {i}");
        }
        writer.finish().unwrap();
        let back = only(crate::pcap::read(&path).unwrap());
        assert_eq!(logical(&back), logical(&original));
        assert!(back.notes.is_empty(), "{:?}", back.notes);
    }
}
