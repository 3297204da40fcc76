//! OData `$filter` text: the parser never panics, its errors point inside the input, and
//! whatever it accepts renders to text that parses back to the same filter (and renders the
//! same way again).
#![no_main]

use defender_tags_core::odata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match odata::parse(text) {
        Ok(filter) => {
            let rendered = odata::render(&filter);
            let back = odata::parse(&rendered);
            assert_eq!(
                back.as_ref(),
                Ok(&filter),
                "input {text:?} rendered as {rendered:?}"
            );
            if let Ok(back) = back {
                assert_eq!(odata::render(&back), rendered, "rendering is not stable");
            }
        }
        Err(e) => {
            if let Some(position) = e.position() {
                assert!(
                    position >= 1 && position <= text.chars().count() + 1,
                    "error position {position} outside {text:?}: {e}"
                );
            }
            assert!(!e.to_string().is_empty());
        }
    }
});
