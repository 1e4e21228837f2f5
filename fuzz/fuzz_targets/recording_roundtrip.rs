#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wstap_fuzz::recording_roundtrip(data));
