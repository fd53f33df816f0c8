//! The capability-document loader on arbitrary bytes (UTF-8 or not), read from a file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skipper_fuzz::check_capability_document(data);
});
