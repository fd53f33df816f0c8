//! The fleet manifest's YAML reader and decoder on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skipper_fuzz::check_manifest(&String::from_utf8_lossy(data));
});
