use super::*;
use crate::wire::handshake::parse_extensions;

fn hello_compressed() -> Vec<u8> {
    vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
}

/// Text that compresses, but not trivially: words from a small vocabulary.
fn sample(n: usize, seed: u32) -> Vec<u8> {
    let words = ["alpha ", "beta ", "gamma ", "delta ", "epsilon ", "zeta ", "\u{3b7}\u{3b8} ", "0123 "];
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % words.len() as u32) as usize].as_bytes());
        if x.is_multiple_of(7) {
            out.push((x >> 8) as u8);
        }
    }
    out.truncate(n);
    out
}

#[test]
fn rfc7692_hello() {
    assert_eq!(Inflater::new(false).inflate_message(&hello_compressed()).unwrap(), b"Hello");
    assert_eq!(Deflater::new(15, false).unwrap().compress_message(b"Hello"), hello_compressed());
}

#[test]
fn rfc7692_shared_window() {
    // §7.2.3.2: the second "Hello" refers back into the first.
    let mut inf = Inflater::new(false);
    assert_eq!(inf.inflate_message(&hello_compressed()).unwrap(), b"Hello");
    assert_eq!(inf.inflate_message(&[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(), b"Hello");
    let mut def = Deflater::new(15, false).unwrap();
    assert_eq!(def.compress_message(b"Hello"), hello_compressed());
    assert_eq!(def.compress_message(b"Hello"), [0xf2, 0x00, 0x11, 0x00, 0x00]);
    // Without takeover, the same bytes twice.
    let mut def = Deflater::new(15, true).unwrap();
    assert_eq!(def.compress_message(b"Hello"), def.compress_message(b"Hello"));
}

#[test]
fn rfc7692_other_examples() {
    let cases: [&[u8]; 3] = [
        // §7.2.3.3: a stored block.
        &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00],
        // §7.2.3.4: BFINAL set.
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        // §7.2.3.5: two blocks.
        &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00],
    ];
    for case in cases {
        assert_eq!(Inflater::new(false).inflate_message(case).unwrap(), b"Hello", "{case:02x?}");
    }
}

#[test]
fn fragments_inflate_as_one_message() {
    let mut inf = Inflater::new(false);
    let mut out = Vec::new();
    inf.push(&[0xf2, 0x48, 0xcd], &mut |c| out.extend_from_slice(c));
    inf.push(&[0xc9, 0xc9, 0x07, 0x00], &mut |c| out.extend_from_slice(c));
    let done = inf.end_message(&mut |c| out.extend_from_slice(c));
    assert_eq!((out.as_slice(), done), (&b"Hello"[..], Inflated { len: 5, stop: None }));
}

#[test]
fn final_block_then_takeover_resumes_with_history() {
    // Message 1 ends its deflate stream (BFINAL=1); message 2 is a new
    // stream primed with message 1 as its dictionary.
    let first = sample(3000, 1);
    let mut c = Compress::new(Compression::default(), false);
    let mut m1 = Vec::with_capacity(8192);
    c.compress_vec(&first, &mut m1, FlushCompress::Finish).unwrap();
    let mut c = Compress::new(Compression::default(), false);
    c.set_dictionary(&first).unwrap();
    let mut m2 = Vec::with_capacity(8192);
    c.compress_vec(&first, &mut m2, FlushCompress::Sync).unwrap();
    assert!(m2.len() < 50, "the second message refers to the first");
    let mut inf = Inflater::new(false);
    assert_eq!(inf.inflate_message(&m1).unwrap(), first);
    assert_eq!(inf.inflate_message(&m2[..m2.len() - 4]).unwrap(), first);
}

#[test]
fn round_trips_at_every_window_and_takeover() {
    for bits in 8..=15 {
        for no_takeover in [false, true] {
            let mut def = Deflater::new(bits, no_takeover).unwrap();
            assert_eq!(def.window_bits(), bits.max(9));
            let mut inf = Inflater::new(no_takeover);
            let mut sizes = Vec::new();
            for i in 0..6 {
                let msg = sample([0, 1, 100, 5000, 5000, 70_000][i], bits as u32);
                let wire = def.compress_message(&msg);
                sizes.push(wire.len());
                assert_eq!(inf.inflate_message(&wire).unwrap(), msg, "bits {bits} takeover off {no_takeover} #{i}");
            }
            assert_eq!(sizes[0], 1, "an empty message is a single 00 byte");
            // Message 4 repeats message 3: with takeover it mostly refers back.
            if !no_takeover && bits == 15 {
                assert!(sizes[4] * 4 < sizes[3], "{sizes:?}");
            }
        }
    }
    assert_eq!(Deflater::new(16, false).unwrap_err(), DeflateError::WindowBits(16));
    assert!(Deflater::new(7, false).is_err());
}

#[test]
fn takeover_stream_needs_takeover_inflater() {
    let mut def = Deflater::new(15, false).unwrap();
    let msg = sample(4000, 9);
    let (a, b) = (def.compress_message(&msg), def.compress_message(&msg));
    // An inflater that resets between messages cannot follow the reference.
    let mut wrong = Inflater::new(true);
    wrong.inflate_message(&a).unwrap();
    assert!(matches!(wrong.inflate_message(&b), Err(InflateStop::Failed(_))));
}

#[test]
fn corrupt_data_fails_that_message_only() {
    let mut inf = Inflater::new(true);
    let err = inf.inflate_message(&[0xff, 0xff, 0xff, 0x01, 0x02]).unwrap_err();
    assert!(matches!(&err, InflateStop::Failed(why) if !why.is_empty()), "{err:?}");
    assert_eq!(err.violation().name(), "inflate_failed");
    assert_eq!(inf.inflate_message(&hello_compressed()).unwrap(), b"Hello");
}

#[test]
fn bomb_is_capped_in_bounded_chunks() {
    let cap = 1024 * 1024;
    let mut def = Deflater::new(15, true).unwrap();
    let mut wire = Vec::new();
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..16 {
        def.push(&zeros, &mut wire);
    }
    def.end_message(&mut wire);
    assert!(wire.len() < 32 * 1024, "16 MiB of zeros compress to {} bytes", wire.len());
    let mut inf = Inflater::new(true).with_cap(cap);
    let (mut total, mut biggest) = (0u64, 0usize);
    inf.push(&wire, &mut |c| {
        total += c.len() as u64;
        biggest = biggest.max(c.len());
    });
    let done = inf.end_message(&mut |_| panic!("nothing after the cap"));
    assert_eq!(done, Inflated { len: cap, stop: Some(InflateStop::CapHit(cap)) });
    assert_eq!(total, cap);
    assert!(biggest <= INFLATE_CHUNK);
    assert_eq!(done.stop.unwrap().violation(), ViolationKind::InflateCapHit(cap));
    // The next message inflates normally.
    assert_eq!(inf.inflate_message(&hello_compressed()).unwrap(), b"Hello");
    // Exactly at the cap is fine.
    let mut inf = Inflater::new(true).with_cap(5);
    assert_eq!(inf.inflate_message(&hello_compressed()).unwrap(), b"Hello");
}

#[test]
fn params_from_response() {
    let ext = |s: &str| parse_extensions(s).remove(0);
    let p = DeflateParams::from_extension(&ext(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits=9",
    ))
    .unwrap();
    assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
    assert_eq!((p.window_bits(Direction::ClientToServer), p.window_bits(Direction::ServerToClient)), (10, 9));
    assert!(p.no_context_takeover(Direction::ServerToClient));
    assert!(!p.no_context_takeover(Direction::ClientToServer));
    assert_eq!(DeflateParams::from_extension(&ext("permessage-deflate")).unwrap(), DeflateParams::default());
    assert_eq!(p.deflater(Direction::ServerToClient).window_bits(), 9);
    for bad in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ] {
        assert!(DeflateParams::from_extension(&ext(bad)).is_err(), "{bad}");
    }
    let (lenient, problems) =
        DeflateParams::from_extension_lenient(&ext("permessage-deflate; foo; client_no_context_takeover"));
    assert!(lenient.client_no_context_takeover);
    assert_eq!(problems, ["unknown parameter foo"]);
}
