//! Paging through `GET /api/machines`.
//!
//! No Microsoft page documents `@odata.nextLink` for machines, but third-party scripts see it,
//! so: follow the link when present (only to the same origin: the transport attaches a bearer
//! token to whatever we return), else advance `$skip` by the page size until a short page.

use thiserror::Error;

use super::encode::decode_query_component;
use super::request::{ApiRequest, ListQuery, list_machines};
use crate::cloud::BaseUrl;
use crate::wire::{MAX_PAGE_SIZE, ODataList};

/// How to fetch the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    /// Follow the service's `@odata.nextLink` (already turned into a request on our origin).
    Link(ApiRequest),
    /// Ask again with a larger `$skip`.
    Query(ListQuery),
}

impl NextPage {
    /// The request to send.
    pub fn request(&self) -> ApiRequest {
        match self {
            NextPage::Link(r) => r.clone(),
            NextPage::Query(q) => list_machines(q),
        }
    }
}

/// A `@odata.nextLink` we refuse to follow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NextLinkError {
    /// The link points at another origin; following it would send the token there.
    #[error(
        "the API's next-page link {link:?} points to another origin than {base}; \
         not following it, so the access token is not sent elsewhere"
    )]
    ForeignOrigin {
        /// The link.
        link: String,
        /// Our origin.
        base: String,
    },
    /// The link is not an absolute URL under `/api/` (under the base's path prefix, if any).
    #[error(
        "the API's next-page link {link:?} is not an absolute URL under /api/ (below the base URL's path prefix, if any)"
    )]
    Malformed {
        /// The link.
        link: String,
    },
}

/// Turns an absolute `@odata.nextLink` into a request, if it is on `base`'s origin.
pub fn request_from_next_link(link: &str, base: &BaseUrl) -> Result<ApiRequest, NextLinkError> {
    let malformed = || NextLinkError::Malformed {
        link: link.to_owned(),
    };
    let (_, rest) = link.split_once("://").ok_or_else(malformed)?;
    if !base.same_origin(link) {
        return Err(NextLinkError::ForeignOrigin {
            link: link.to_owned(),
            base: base.as_str().to_owned(),
        });
    }
    let path_start = rest.find('/').ok_or_else(malformed)?;
    let path_and_query = &rest[path_start..];
    let path_and_query = path_and_query
        .split_once('#')
        .map_or(path_and_query, |(p, _)| p);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    // Under a prefixed base (a proxy at `https://portal/defender`), the link must stay under the
    // prefix; the request keeps only the API path, and `ApiRequest::url` puts the prefix back.
    let path = base.strip_prefix(path).ok_or_else(malformed)?;
    if !path.starts_with("/api/") || path.contains("/../") || path.ends_with("/..") {
        return Err(malformed());
    }
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_component(k), decode_query_component(v))
        })
        .collect();
    Ok(ApiRequest {
        method: super::request::Method::Get,
        path: path.to_owned(),
        query,
        headers: vec![("Accept".to_owned(), "application/json".to_owned())],
        body: None,
    })
}

/// What to fetch after `page`, which answered `query`; `Ok(None)` when this was the last page.
///
/// Without a next link, a page shorter than `$top` (or [`MAX_PAGE_SIZE`] when `$top` is
/// unset) is the last one.
pub fn next_page<T>(
    query: &ListQuery,
    page: &ODataList<T>,
    base: &BaseUrl,
) -> Result<Option<NextPage>, NextLinkError> {
    if let Some(link) = page.next_link.as_deref().filter(|l| !l.is_empty()) {
        return request_from_next_link(link, base).map(|r| Some(NextPage::Link(r)));
    }
    let size = query.top().unwrap_or(MAX_PAGE_SIZE) as usize;
    let got = page.value.len();
    if got == 0 || got < size {
        return Ok(None);
    }
    let skip = query.skip().saturating_add(got as u64);
    Ok(Some(NextPage::Query(query.clone().with_skip(skip))))
}

/// The `@odata.nextLink` of a listing page, read from its text without decoding the page: a
/// client can then request the next page while it decodes this one. It is a guess until the
/// page is decoded: the key is found by its spelling (searched from the end, where the
/// service writes it), so a page that spells it with escapes gives `None`, and one whose
/// machines carry a nested object with that key could give a wrong link. A caller must compare
/// the guess with the decoded page's link and throw the early request away when they differ
/// (the link is validated like any other before it is followed).
pub fn peek_next_link(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"@odata.nextLink\"";
    // Found through its `@` (rare in machine JSON) with a plain byte search: smaller in the
    // wasm than a substring searcher.
    let mut end = body.len();
    let at = loop {
        let at_sign = memchr::memrchr(b'@', body.get(..end)?)?;
        let start = at_sign.checked_sub(1);
        if let Some(start) = start.filter(|&s| body.get(s..).is_some_and(|b| b.starts_with(KEY))) {
            break start;
        }
        end = at_sign;
    };
    let rest = body.get(at + KEY.len()..)?;
    let rest = rest.trim_ascii_start().strip_prefix(b":")?;
    // One JSON string, with its escapes, and nothing after it read.
    let mut de = serde_json::Deserializer::from_slice(rest);
    let link = <String as serde::Deserialize>::deserialize(&mut de).ok()?;
    (!link.is_empty()).then_some(link)
}

#[cfg(test)]
mod peek_tests {
    use super::peek_next_link;

    #[test]
    fn finds_the_link_after_the_machines() {
        let page = br#"{"@odata.context":"c","value":[{"id":"a"}],"@odata.nextLink" : "https://x/api/machines?$skip=2\u0026$top=1"}"#;
        assert_eq!(
            peek_next_link(page).as_deref(),
            Some("https://x/api/machines?$skip=2&$top=1")
        );
    }

    #[test]
    fn other_at_signs_after_the_key_are_passed_over() {
        let page = br#"{"value":[{"id":"a"}],"@odata.nextLink":"https://x/next@2","owner":"me@example.com","@odata.count":3}"#;
        assert_eq!(peek_next_link(page).as_deref(), Some("https://x/next@2"));
    }

    #[test]
    fn finds_the_link_before_the_machines() {
        let page = br#"{"@odata.nextLink":"https://x/next","value":[{"id":"a"}]}"#;
        assert_eq!(peek_next_link(page).as_deref(), Some("https://x/next"));
    }

    #[test]
    fn no_link_null_link_or_a_key_inside_a_string_is_none() {
        assert_eq!(peek_next_link(br#"{"value":[]}"#), None);
        assert_eq!(
            peek_next_link(br#"{"value":[],"@odata.nextLink":null}"#),
            None
        );
        assert_eq!(
            peek_next_link(br#"{"value":[],"@odata.nextLink":""}"#),
            None
        );
        // Inside a string the quotes are escaped, so the key's spelling never occurs there.
        let inside =
            br#"{"value":[{"id":"a","computerDnsName":"\"@odata.nextLink\":\"https://evil\""}]}"#;
        assert_eq!(peek_next_link(inside), None);
        assert_eq!(peek_next_link(br#"{"@odata.nextLink":"unterminated"#), None);
        assert_eq!(peek_next_link(b""), None);
    }
}
