//! Percent-encoding for the few URL parts we build. Hand-written (no `url` crate) to keep the
//! wasm small; the sets are deliberately conservative.

/// Characters left as-is in query keys and values besides RFC 3986 unreserved ones. These are
/// legal in a query and keep OData readable (`$filter=machineTags/any(t:...)`); `&`, `=`, `+`,
/// `#`, `%`, space and everything non-ASCII are encoded.
const QUERY_EXTRA: &[u8] = b"$'(),:/@!*";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Encodes a query key or value (UTF-8, percent-encoded; space is `%20`, never `+`).
pub fn encode_query_component(s: &str) -> String {
    encode(s, |b| is_unreserved(b) || QUERY_EXTRA.contains(&b))
}

/// Encodes one path segment: everything but unreserved characters is encoded, so a computer
/// name can never add a `/`, `?` or `#` to the path.
pub fn encode_path_segment(s: &str) -> String {
    encode(s, is_unreserved)
}

/// Decodes a percent-encoded query component; `+` means space (as in the docs' examples).
/// Malformed escapes are kept literally; invalid UTF-8 is replaced, never rejected.
pub fn decode_query_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_keeps_odata_readable_and_escapes_separators() {
        assert_eq!(
            encode_query_component("machineTags/any(t: t eq 'a&b=c+d')"),
            "machineTags/any(t:%20t%20eq%20'a%26b%3Dc%2Bd')"
        );
        assert_eq!(encode_query_component("é#%"), "%C3%A9%23%25");
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(encode_path_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(
            encode_path_segment("ws-01.contoso.com"),
            "ws-01.contoso.com"
        );
    }

    #[test]
    fn decoding_inverts_encoding_and_tolerates_junk() {
        let s = "riskScore eq 'Hi&gh' é +";
        assert_eq!(decode_query_component(&encode_query_component(s)), s);
        assert_eq!(decode_query_component("a+b%2"), "a b%2");
        assert_eq!(decode_query_component("%zz"), "%zz");
    }
}
