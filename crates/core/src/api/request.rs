//! Request builders: one per endpoint, each producing a neutral [`ApiRequest`].

use std::fmt;

use serde_json::Value;
use thiserror::Error;

use super::encode::{encode_path_segment, encode_query_component};
use crate::cloud::BaseUrl;
use crate::model::{DeviceValue, DeviceValueError, MachineId, MachineRef, Tag, TagAction};
use crate::odata::{Filter, render};
use crate::wire::{BulkBodyError, BulkTagBody, MAX_PAGE_SIZE};

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

impl Method {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport-neutral request. `path` is already percent-encoded (it starts with `/api/`);
/// `query` holds raw pairs that [`ApiRequest::url`] encodes. `headers` never contain
/// `Authorization`: the transport adds the bearer token, so core never sees one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Encoded path, e.g. `/api/machines/findbytag`.
    pub path: String,
    /// Raw (unencoded) query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers to send (besides `Authorization`).
    pub headers: Vec<(String, String)>,
    /// JSON body, for POST.
    pub body: Option<String>,
}

impl ApiRequest {
    fn get(path: String, query: Vec<(String, String)>) -> Self {
        Self {
            method: Method::Get,
            path,
            query,
            headers: vec![("Accept".to_owned(), "application/json".to_owned())],
            body: None,
        }
    }

    fn post_json(path: String, body: String) -> Self {
        Self {
            method: Method::Post,
            path,
            query: Vec::new(),
            headers: vec![
                ("Accept".to_owned(), "application/json".to_owned()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ],
            body: Some(body),
        }
    }

    /// The full URL on `base`, with the query percent-encoded.
    pub fn url(&self, base: &BaseUrl) -> String {
        let mut url = format!("{}{}", base.as_str(), self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_query_component(k));
            url.push('=');
            url.push_str(&encode_query_component(v));
        }
        url
    }

    /// The value of a query parameter, if present.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parameters of `GET /api/machines`, valid by construction.
///
/// Set `top` when paging by `$skip`: without it the service's default page size is unknown
/// (UNCONFIRMED), and [`crate::api::next_page`] assumes [`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    filter: Option<Filter>,
    top: Option<u32>,
    skip: u64,
    select: Vec<String>,
}

/// Why list parameters are invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListQueryError {
    /// `$top` of zero.
    #[error("page size ($top) is 0; use 1 to {MAX_PAGE_SIZE}")]
    TopZero,
    /// `$top` above the documented maximum.
    #[error("page size ($top) is {top}; the API allows at most {max}")]
    TopTooLarge {
        /// Requested.
        top: u32,
        /// The limit.
        max: u32,
    },
    /// A `$select` entry that is not a property name.
    #[error(
        "$select entry {name:?} is not a property name; use names like computerDnsName \
         (letters and digits only)"
    )]
    InvalidSelect {
        /// The entry.
        name: String,
    },
}

impl ListQuery {
    /// No filter, no paging, all properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `$filter`.
    pub fn with_filter(mut self, filter: Option<Filter>) -> Self {
        self.filter = filter;
        self
    }

    /// Sets `$top` (1..=10,000).
    pub fn with_top(mut self, top: u32) -> Result<Self, ListQueryError> {
        if top == 0 {
            return Err(ListQueryError::TopZero);
        }
        if top > MAX_PAGE_SIZE {
            return Err(ListQueryError::TopTooLarge {
                top,
                max: MAX_PAGE_SIZE,
            });
        }
        self.top = Some(top);
        Ok(self)
    }

    /// Sets `$skip` (0 omits it).
    pub fn with_skip(mut self, skip: u64) -> Self {
        self.skip = skip;
        self
    }

    /// Sets `$select` (undocumented for machines but widely used; empty = all properties).
    pub fn with_select<I, S>(mut self, names: I) -> Result<Self, ListQueryError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut select = Vec::new();
        for n in names {
            let n = n.as_ref().trim();
            let valid = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars().all(|c| c.is_ascii_alphanumeric());
            if !valid {
                return Err(ListQueryError::InvalidSelect { name: n.to_owned() });
            }
            select.push(n.to_owned());
        }
        self.select = select;
        Ok(self)
    }

    /// The filter.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// `$top`, if set.
    pub fn top(&self) -> Option<u32> {
        self.top
    }

    /// `$skip`.
    pub fn skip(&self) -> u64 {
        self.skip
    }

    /// `$select` entries.
    pub fn select(&self) -> &[String] {
        &self.select
    }
}

/// `GET /api/machines?$filter=&$top=&$skip=&$select=`.
pub fn list_machines(query: &ListQuery) -> ApiRequest {
    let mut q = Vec::new();
    if let Some(f) = &query.filter {
        q.push(("$filter".to_owned(), render(f)));
    }
    if let Some(top) = query.top {
        q.push(("$top".to_owned(), top.to_string()));
    }
    if query.skip > 0 {
        q.push(("$skip".to_owned(), query.skip.to_string()));
    }
    if !query.select.is_empty() {
        q.push(("$select".to_owned(), query.select.join(",")));
    }
    ApiRequest::get("/api/machines".to_owned(), q)
}

/// `GET /api/machines/{id or computer name}`.
pub fn get_machine(machine: &MachineRef) -> ApiRequest {
    ApiRequest::get(
        format!("/api/machines/{}", encode_path_segment(machine.as_str())),
        Vec::new(),
    )
}

/// A tag search that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FindByTagError {
    /// Empty or blank search text.
    #[error("tag to search for is empty; type a tag or the start of one")]
    Empty,
}

/// `GET /api/machines/findbytag?tag=&useStartsWithFilter=`.
///
/// Takes `&str`, not [`Tag`]: machines may carry tags our rules reject (too long, odd
/// characters) and a user must still be able to find them. Only empty text is refused.
pub fn find_by_tag(tag: &str, starts_with: bool) -> Result<ApiRequest, FindByTagError> {
    if tag.trim().is_empty() {
        return Err(FindByTagError::Empty);
    }
    Ok(ApiRequest::get(
        "/api/machines/findbytag".to_owned(),
        vec![
            ("tag".to_owned(), tag.to_owned()),
            ("useStartsWithFilter".to_owned(), starts_with.to_string()),
        ],
    ))
}

/// `POST /api/machines/{id}/tags` with `{"Value","Action"}`.
pub fn set_tag(id: &MachineId, tag: &Tag, action: TagAction) -> ApiRequest {
    // Built by hand (not serde_json::to_string, which is fallible in signature) so the key order
    // matches the docs; `Value::String` does the JSON escaping.
    let body = format!(
        "{{\"Value\":{},\"Action\":\"{}\"}}",
        Value::from(tag.as_str()),
        action.as_str()
    );
    ApiRequest::post_json(
        format!("/api/machines/{}/tags", encode_path_segment(id.as_str())),
        body,
    )
}

/// `POST /api/machines/{id}/setDeviceValue` with `{"DeviceValue": "Low"|"Normal"|"High"}`
/// (docs/defender-api.md §6). There is no bulk form: one call per machine.
pub fn set_device_value(
    id: &MachineId,
    value: &DeviceValue,
) -> Result<ApiRequest, DeviceValueError> {
    if !value.is_settable() {
        return Err(DeviceValueError::NotSettable {
            found: value.as_str().to_owned(),
        });
    }
    let body = format!("{{\"DeviceValue\":{}}}", Value::from(value.as_str()));
    Ok(ApiRequest::post_json(
        format!(
            "/api/machines/{}/setDeviceValue",
            encode_path_segment(id.as_str())
        ),
        body,
    ))
}

/// `POST /api/machines/AddOrRemoveTagForMultipleMachines` for an already validated body.
pub fn bulk_request(body: &BulkTagBody) -> ApiRequest {
    let ids: Vec<String> = body
        .machine_ids()
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect();
    let json = format!(
        "{{\"Value\":{},\"Action\":\"{}\",\"MachineIds\":[{}]}}",
        Value::from(body.value().as_str()),
        body.action().as_str(),
        ids.join(",")
    );
    ApiRequest::post_json(
        "/api/machines/AddOrRemoveTagForMultipleMachines".to_owned(),
        json,
    )
}

/// Bulk add/remove for 1..=500 distinct machines (duplicates dropped); more is refused here,
/// before anything is sent. Use [`crate::plan`] to split larger sets.
pub fn bulk_set_tag(
    tag: &Tag,
    action: TagAction,
    ids: &[MachineId],
) -> Result<ApiRequest, BulkBodyError> {
    let body = BulkTagBody::new(tag.clone(), action, ids.to_vec())?;
    Ok(bulk_request(&body))
}
