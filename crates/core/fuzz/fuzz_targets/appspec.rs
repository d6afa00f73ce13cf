//! Any input to the appspec parser: it must return Ok or located errors, never
//! panic, hang or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(errors) = spec_fuzz::spec::appspec::parse(text, "fuzz.yml") {
            assert!(
                !errors.is_empty(),
                "a refusal must carry at least one error"
            );
        }
    }
});
