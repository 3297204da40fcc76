//! API response decoding: any status, Retry-After header and body decode to a value or to a
//! typed `ApiError` carrying that status, never a panic. Decoded machines survive a
//! serialise/decode round trip unchanged (unknown fields included), which is what the
//! emulator and the UI rely on.
#![no_main]

use defender_tags_core::api::{
    ApiError, decode_error, decode_list_machines, decode_machine, decode_machines,
};
use defender_tags_core::{Machine, ODataList};
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 16] = [
    200, 201, 204, 299, 199, 302, 400, 401, 403, 404, 409, 429, 500, 502, 503, 599,
];

fn round_trip(m: &Machine) {
    let json = serde_json::to_vec(m).unwrap_or_default();
    let back = decode_machine::<&str, &str>(200, &[], &json);
    assert_eq!(
        back.as_ref(),
        Ok(m),
        "machine JSON {}",
        String::from_utf8_lossy(&json)
    );
}

fn check_error(status: u16, e: &ApiError) {
    assert_eq!(e.status(), status, "{e:?}");
    assert!(!e.to_string().is_empty());
    if status != 429 {
        assert!(e.retry_after().is_none());
    }
}

fuzz_target!(|data: &[u8]| {
    let [which, status, rest @ ..] = data else {
        return;
    };
    let status = STATUSES[usize::from(*status) % STATUSES.len()];
    // The Retry-After value runs to the first newline; the body is what follows.
    let (retry_after, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let retry_after = String::from_utf8_lossy(retry_after);
    let headers = [("Retry-After", retry_after.as_ref())];
    let ok = (200..300).contains(&status);
    match which % 4 {
        0 => match decode_list_machines(status, &headers, body) {
            Ok(list) => {
                let list: ODataList<Machine> = list;
                list.value.iter().for_each(round_trip);
            }
            Err(e) => {
                assert!(status != 404, "a 404 list is an empty list");
                check_error(status, &e);
            }
        },
        1 => match decode_machine(status, &headers, body) {
            Ok(m) => {
                assert!(ok);
                round_trip(&m);
            }
            Err(e) => check_error(status, &e),
        },
        2 => match decode_machines(status, &headers, body) {
            Ok(ms) => {
                assert!(ok);
                ms.iter().for_each(round_trip);
            }
            Err(e) => check_error(status, &e),
        },
        _ => check_error(status, &decode_error(status, &headers, body)),
    }
});
