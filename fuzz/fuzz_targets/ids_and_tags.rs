//! What a user types or imports, parsed at the edge: machine ids, tags, id-or-name references,
//! the API base URL, a nextLink and Retry-After. Nothing panics; whatever is accepted is
//! normalised and parses back to itself; rejections are specific.
#![no_main]

use defender_tags_core::api::request_from_next_link;
use defender_tags_core::model::{MAX_TAG_CHARS, MachineRef};
use defender_tags_core::throttle::{MAX_RETRY_AFTER_SECS, RetryAfter};
use defender_tags_core::{BaseUrl, MachineId, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    match MachineId::parse(text) {
        Ok(id) => {
            let s = id.as_str();
            assert_eq!(s.len(), 40);
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(s.eq_ignore_ascii_case(text));
            assert_eq!(MachineId::parse(s).as_ref(), Ok(&id));
            assert_eq!(id.to_string(), s);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    match Tag::parse(text) {
        Ok(tag) => {
            assert_eq!(tag.as_str(), text, "a tag is kept exactly as given");
            assert!(tag.as_str().chars().count() <= MAX_TAG_CHARS);
            assert!(!tag.as_str().chars().any(char::is_control));
            assert_eq!(Tag::parse(tag.as_str()).as_ref(), Ok(&tag));
            let _ = tag.warnings();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    match MachineRef::parse(text) {
        Ok(r) => {
            assert!(!r.as_str().is_empty());
            assert_eq!(MachineRef::parse(r.as_str()).as_ref(), Ok(&r));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    if let Ok(base) = BaseUrl::parse(text) {
        assert_eq!(BaseUrl::parse(base.as_str()).as_ref(), Ok(&base));
        assert!(
            base.is_https() || base.is_loopback(),
            "plain http off loopback: {text:?}"
        );
        // A nextLink is only followed on the API's own origin, under /api/.
        if let Ok(req) = request_from_next_link(text, &base) {
            assert!(req.path.starts_with("/api/"));
        }
        let foreign = format!("https://evil.example/api/machines?x={text}");
        if base.host() != "evil.example" {
            assert!(request_from_next_link(&foreign, &base).is_err());
        }
    }

    if let Ok(ra) = RetryAfter::parse(text) {
        for now in [0, 1_700_000_000_000, u64::MAX] {
            assert!(ra.delay_ms(now) <= MAX_RETRY_AFTER_SECS * 1_000);
        }
    }
});
