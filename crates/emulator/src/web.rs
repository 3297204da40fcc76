//! Small HTTP helpers shared by the API, the identity provider and the admin endpoints.

use axum::http::HeaderMap;
use axum::http::header::HOST;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The request's `Host` header, if it is a plausible `host[:port]` (it is echoed into
/// discovery documents, links and HTML, so anything else is ignored).
pub fn host(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(HOST)?.to_str().ok()?;
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    ok.then(|| h.to_owned())
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Characters left unescaped in query values: RFC 3986 unreserved.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query or fragment value.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// `k1=v1&k2=v2` with values percent-encoded.
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `peer` is a loopback address (the `/_emulator` endpoints refuse everyone else).
pub fn is_loopback(peer: &std::net::SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_and_urls() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(encode_pairs(&[("a b", "c&d=é")]), "a%20b=c%26d%3D%C3%A9");
    }

    #[test]
    fn loopback_peers_only() {
        for ok in [
            "127.0.0.1:1",
            "127.9.9.9:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(is_loopback(&ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "10.0.0.1:1",
            "192.168.1.2:1",
            "[2001:db8::1]:1",
            "[::ffff:10.0.0.1]:1",
        ] {
            assert!(!is_loopback(&bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn host_header_is_validated() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(host(&h).as_deref(), Some("127.0.0.1:8080"));
        h.insert(HOST, "evil\"><script>".parse().unwrap());
        assert_eq!(host(&h), None);
    }
}
