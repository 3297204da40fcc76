//! The organisation's site configuration: `config.json`, served beside `index.html` and checked
//! by `cargo xtask dist` at build time and by the web UI at run time (docs/deploy.md).
//!
//! [`SiteConfig::parse`] reports every problem at once, each with the JSON path of its field
//! (`clientId`, `tenants[1].cloud`), so an administrator fixes the file in one pass. Defaults
//! come from the tenant's [`Cloud`]; values given at the top level are defaults for every tenant
//! and a tenant may override them.
//!
//! ```
//! use defender_tags_core::SiteConfig;
//!
//! let config = SiteConfig::parse(r#"{
//!     "clientId": "0b5b6c1e-1111-4222-8333-944445555666",
//!     "tenant": "contoso.onmicrosoft.com",
//!     "cloud": "gcc-high"
//! }"#).map_err(|errors| errors[0].to_string())?;
//! let tenant = &config.tenants[0];
//! assert_eq!(tenant.authority, "https://login.microsoftonline.us/contoso.onmicrosoft.com");
//! assert_eq!(tenant.api_base.as_str(), "https://api-gov.securitycenter.microsoft.us");
//! assert!(config.content_security_policy().contains("frame-ancestors 'none'"));
//!
//! let errors = SiteConfig::parse(r#"{"clientID": "x", "tenant": "contoso.com"}"#).unwrap_err();
//! let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
//! assert_eq!(fields, ["clientId", "clientID"]);
//! # Ok::<(), String>(())
//! ```

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::cloud::{BaseUrl, BaseUrlError, Cloud, CloudConfig};

/// Keys of the top-level object.
const ROOT_KEYS: &[&str] = &[
    "clientId",
    "tenant",
    "tenants",
    "cloud",
    "apiBaseUrl",
    "scope",
    "graphBaseUrl",
    "graphScope",
    "authority",
    "basePath",
    "lockSettings",
    "frameAncestors",
];

/// Keys of an entry of `tenants`.
const TENANT_KEYS: &[&str] = &[
    "id",
    "name",
    "cloud",
    "apiBaseUrl",
    "scope",
    "graphBaseUrl",
    "graphScope",
    "authority",
];

/// Longest tenant display name, in characters (it has to fit the tenant switcher).
pub const MAX_TENANT_NAME_CHARS: usize = 64;

/// The validated site configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    /// Application (client) id of the Entra ID SPA registration (a GUID, lowercase).
    pub client_id: String,
    /// One or more tenants, in file order; never empty.
    pub tenants: Vec<TenantConfig>,
    /// The path the app is hosted under: starts and ends with `/`.
    pub base_path: String,
    /// Users may not override anything in Settings.
    pub lock_settings: bool,
    /// Origins (`scheme://host[:port]`) or `'self'` allowed to frame the app; empty = `'none'`.
    pub frame_ancestors: Vec<String>,
}

/// One tenant with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// Tenant GUID or verified domain, as given.
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// The cloud.
    pub cloud: Cloud,
    /// The API origin: a Defender host or the organisation's edge proxy.
    pub api_base: BaseUrl,
    /// The token scope to request.
    pub scope: String,
    /// The Microsoft Graph origin for advanced hunting (default: the cloud's Graph host;
    /// the emulator names itself). Graph tokens go to this origin only.
    pub graph_base: BaseUrl,
    /// The Graph token scope (default: the cloud's `https://{graph host}/.default`).
    pub graph_scope: String,
    /// The MSAL authority URL: `{authority_origin}/{id}` for Entra ID, and
    /// `{authority_origin}/{id}/v2.0` for a loopback authority (the emulator).
    pub authority: String,
    /// The sign-in origin (`scheme://host[:port]`), for connect-src.
    pub authority_origin: String,
}

/// One problem in `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", display_error(field, message))]
pub struct ConfigError {
    /// JSON path of the field (`clientId`, `tenants[1].cloud`); empty for a syntax error or a
    /// document that is not an object.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits), as Entra ID client and tenant ids are.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `s` is a DNS domain name with at least two labels (`contoso.onmicrosoft.com`), the
/// other way to name an Entra ID tenant.
pub fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Values given at the top level that tenants inherit. `None` = not given or invalid (an
/// invalid one is already reported; tenants then fall back so their own checks still run).
#[derive(Default)]
struct Defaults {
    cloud: Option<Cloud>,
    api_base: Option<BaseUrl>,
    scope: Option<String>,
    graph_base: Option<BaseUrl>,
    graph_scope: Option<String>,
    authority: Option<BaseUrl>,
}

/// Collects errors while walking the document.
struct Walk {
    errors: Vec<ConfigError>,
}

impl Walk {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(field, message));
    }

    /// A string field, or `None` (with an error when present but not a string).
    fn string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a str> {
        match obj.get(key)? {
            Value::String(s) => Some(s),
            other => {
                self.err(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, known: &[&str], prefix: &str) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let path = format!("{prefix}{key}");
            let hint = match known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
                Some(k) => format!("unknown key; did you mean \"{k}\"?"),
                None => format!("unknown key; known keys are {}", known.join(", ")),
            };
            self.err(path, hint);
        }
    }

    fn cloud(&mut self, obj: &Map<String, Value>, path: &str) -> Option<Cloud> {
        let s = self.string(obj, "cloud", path)?;
        let found = Cloud::from_param(s.trim());
        if found.is_none() {
            self.err(
                path,
                format!(
                    "unknown cloud {s:?}; use one of {}",
                    Cloud::ALL.map(Cloud::param).join(", ")
                ),
            );
        }
        found
    }

    fn api_base(&mut self, obj: &Map<String, Value>, path: &str) -> Option<BaseUrl> {
        self.base_url(obj, "apiBaseUrl", path)
    }

    fn base_url(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<BaseUrl> {
        let s = self.string(obj, key, path)?;
        match BaseUrl::parse(s) {
            Ok(url) => Some(url),
            Err(e) => {
                self.err(path, e.to_string());
                None
            }
        }
    }

    fn scope(&mut self, obj: &Map<String, Value>, path: &str) -> Option<String> {
        self.scope_of(obj, "scope", path)
    }

    fn scope_of(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        let s = self.string(obj, key, path)?;
        // One model of a valid scope: the cloud configuration's.
        match CloudConfig::new(Cloud::Commercial).with_scope(s) {
            Ok(c) => Some(c.scope),
            Err(e) => {
                self.err(path, e.to_string());
                None
            }
        }
    }

    fn authority(&mut self, obj: &Map<String, Value>, path: &str) -> Option<BaseUrl> {
        let s = self.string(obj, "authority", path)?;
        match parse_origin(s) {
            Ok(origin) => Some(origin),
            Err(message) => {
                self.err(
                    path,
                    format!(
                        "{message} (the sign-in origin, e.g. https://login.microsoftonline.com)"
                    ),
                );
                None
            }
        }
    }

    fn tenant_id(&mut self, value: &str, path: &str) -> Option<String> {
        let id = value.trim();
        if id.is_empty() {
            self.err(
                path,
                "is empty; give the tenant id (a GUID) or a verified domain such as \
                 contoso.onmicrosoft.com",
            );
            None
        } else if is_guid(id) || is_domain(id) {
            Some(id.to_owned())
        } else {
            self.err(
                path,
                format!(
                    "{id:?} is neither a tenant id (a GUID) nor a domain name such as \
                     contoso.onmicrosoft.com"
                ),
            );
            None
        }
    }

    fn resolve(&self, id: String, name: String, own: Defaults, top: &Defaults) -> TenantConfig {
        let cloud = own.cloud.or(top.cloud).unwrap_or(Cloud::Commercial);
        let api_base = own
            .api_base
            .or_else(|| top.api_base.clone())
            .unwrap_or_else(|| cloud.base_url());
        let scope = own
            .scope
            .or_else(|| top.scope.clone())
            .unwrap_or_else(|| cloud.default_scope().to_owned());
        let graph_base = own
            .graph_base
            .or_else(|| top.graph_base.clone())
            .unwrap_or_else(|| cloud.graph_base_url());
        let graph_scope = own
            .graph_scope
            .or_else(|| top.graph_scope.clone())
            .unwrap_or_else(|| cloud.graph_scope().to_owned());
        let (authority_origin, loopback) = match own.authority.or_else(|| top.authority.clone()) {
            Some(origin) => (origin.as_str().to_owned(), origin.is_loopback()),
            None => (cloud.login_host().to_owned(), false),
        };
        // The emulator's dev identity provider serves its v2 endpoints under /{tenant}/v2.0;
        // Entra ID's authority is the bare /{tenant} and MSAL adds the rest.
        let authority = if loopback {
            format!("{authority_origin}/{id}/v2.0")
        } else {
            format!("{authority_origin}/{id}")
        };
        TenantConfig {
            id,
            name,
            cloud,
            api_base,
            scope,
            graph_base,
            graph_scope,
            authority,
            authority_origin,
        }
    }

    /// The overridable values of one object (the root or a tenant).
    fn overrides(&mut self, obj: &Map<String, Value>, prefix: &str) -> Defaults {
        Defaults {
            cloud: self.cloud(obj, &format!("{prefix}cloud")),
            api_base: self.api_base(obj, &format!("{prefix}apiBaseUrl")),
            scope: self.scope(obj, &format!("{prefix}scope")),
            graph_base: self.base_url(obj, "graphBaseUrl", &format!("{prefix}graphBaseUrl")),
            graph_scope: self.scope_of(obj, "graphScope", &format!("{prefix}graphScope")),
            authority: self.authority(obj, &format!("{prefix}authority")),
        }
    }

    fn tenants(&mut self, value: &Value, top: &Defaults) -> Vec<TenantConfig> {
        let Value::Array(items) = value else {
            self.err(
                "tenants",
                format!("expected an array of tenants, found {}", kind(value)),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(
                "tenants",
                "is empty; list at least one tenant, or use \"tenant\" for a single one",
            );
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("tenants[{i}].");
            let Value::Object(obj) = item else {
                self.err(
                    format!("tenants[{i}]"),
                    format!(
                        "expected an object with \"id\" (and optionally \"name\", \"cloud\", ...), \
                         found {}",
                        kind(item)
                    ),
                );
                continue;
            };
            self.unknown_keys(obj, TENANT_KEYS, &prefix);
            let id_path = format!("{prefix}id");
            let id = match obj.get("id") {
                None => {
                    self.err(
                        &id_path,
                        "required: the tenant id (a GUID) or a verified domain",
                    );
                    None
                }
                Some(_) => self
                    .string(obj, "id", &id_path)
                    .and_then(|s| self.tenant_id(s, &id_path)),
            };
            if let Some(id) = &id
                && !seen.insert(id.to_ascii_lowercase())
            {
                self.err(&id_path, format!("tenant {id:?} is listed twice"));
            }
            let name_path = format!("{prefix}name");
            let name = self.string(obj, "name", &name_path).map(str::trim);
            let name_ok = match name {
                Some("") => {
                    self.err(&name_path, "is empty; give a display name or leave it out");
                    false
                }
                Some(n) if n.chars().count() > MAX_TENANT_NAME_CHARS => {
                    self.err(
                        &name_path,
                        format!(
                            "is {} characters long; at most {MAX_TENANT_NAME_CHARS} are allowed",
                            n.chars().count()
                        ),
                    );
                    false
                }
                _ => true,
            };
            let own = self.overrides(obj, &prefix);
            if let (Some(id), true) = (id, name_ok) {
                let name = name.map_or_else(|| id.clone(), str::to_owned);
                out.push(self.resolve(id, name, own, top));
            }
        }
        out
    }
}

/// Validates an origin (`scheme://host[:port]`, optional trailing `/`): https, or http for a
/// loopback host only. The host rules are [`BaseUrl`]'s.
fn parse_origin(input: &str) -> Result<BaseUrl, String> {
    let text = input.trim();
    if let Some((_, rest)) = text.split_once("://") {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let remainder = &rest[end..];
        if remainder.contains(['?', '#']) {
            return Err("must not contain a query (?...) or fragment (#...)".to_owned());
        }
        if !matches!(remainder, "" | "/") {
            return Err(format!(
                "has the path {remainder:?}; give only the origin (scheme://host[:port])"
            ));
        }
    }
    BaseUrl::parse(text).map_err(|e| match e {
        BaseUrlError::Empty => "is empty".to_owned(),
        BaseUrlError::MissingScheme { input } => {
            format!("{input:?} has no scheme; start it with https://")
        }
        BaseUrlError::UnsupportedScheme { scheme } => {
            format!("uses the scheme {scheme:?}; only https is supported")
        }
        BaseUrlError::InsecureHttp { host } => format!(
            "uses http for {host}; use https (plain http is only allowed for localhost, \
             127.0.0.1 and [::1])"
        ),
        BaseUrlError::Credentials => "must not contain credentials (user@host)".to_owned(),
        BaseUrlError::MissingHost => "has no host name".to_owned(),
        BaseUrlError::InvalidHost { host, reason } => format!("host {host:?} is invalid: {reason}"),
        BaseUrlError::InvalidPort { port } => {
            format!("port {port:?} is invalid; use a number from 1 to 65535")
        }
        // `BaseUrl::parse` takes no path at all; listed so a new error cannot go unmapped.
        BaseUrlError::UnexpectedPath { path } | BaseUrlError::InvalidPrefix { path, .. } => {
            format!("has the path {path:?}; give only the origin (scheme://host[:port])")
        }
        BaseUrlError::QueryOrFragment => {
            "must not contain a query (?...) or fragment (#...)".to_owned()
        }
    })
}

/// Checks a base path: `/`, or `/segment/.../` with segments of letters, digits and `-._~`.
/// The narrow alphabet keeps the path safe to write into HTML attributes and the
/// generated nginx configuration without any quoting.
pub fn check_base_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!(
            "{path:?} must start and end with \"/\", e.g. \"/\" or \"/tools/defender-tags/\""
        ));
    }
    if path == "/" {
        return Ok(());
    }
    let inner = &path[1..path.len() - 1];
    for segment in inner.split('/') {
        if segment.is_empty() {
            return Err(format!("{path:?} contains an empty segment (\"//\")"));
        }
        if segment == "." || segment == ".." {
            return Err(format!("{path:?} contains a {segment:?} segment"));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        {
            return Err(format!(
                "{path:?} contains {c:?}; use only letters, digits, '-', '.', '_' and '~' \
                 between the slashes"
            ));
        }
    }
    Ok(())
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `field: message`, or the message alone for a problem of the whole document.
fn display_error(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_owned()
    } else {
        format!("{field}: {message}")
    }
}

/// "a string", "an array", ...: how a configuration error names the JSON it found instead
/// (shared with the edge proxy's configuration).
pub fn json_kind(value: &Value) -> &'static str {
    kind(value)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl SiteConfig {
    /// Parses and validates `config.json`, resolving every default. On failure returns every
    /// problem found, in a fixed field order, each naming its JSON path.
    pub fn parse(json: &str) -> Result<SiteConfig, Vec<ConfigError>> {
        let root: Value = serde_json::from_str(json).map_err(|e| {
            vec![ConfigError::new(
                "",
                format!("config.json is not valid JSON: {e}"),
            )]
        })?;
        let Value::Object(obj) = &root else {
            return Err(vec![ConfigError::new(
                "",
                format!("config.json must be a JSON object, found {}", kind(&root)),
            )]);
        };
        let mut w = Walk { errors: Vec::new() };

        let client_id = match obj.get("clientId") {
            None => {
                w.err(
                    "clientId",
                    "required: the application (client) id of the Entra ID app registration \
                     (a GUID)",
                );
                None
            }
            Some(_) => w.string(obj, "clientId", "clientId").and_then(|s| {
                let s = s.trim();
                if is_guid(s) {
                    Some(s.to_ascii_lowercase())
                } else {
                    w.err(
                        "clientId",
                        format!(
                            "{s:?} is not a GUID; the application (client) id looks like \
                             00000000-0000-0000-0000-000000000000"
                        ),
                    );
                    None
                }
            }),
        };

        let top = w.overrides(obj, "");
        let tenants = match (obj.get("tenant"), obj.get("tenants")) {
            (Some(_), Some(_)) => {
                w.err(
                    "tenants",
                    "give either \"tenant\" (one tenant) or \"tenants\" (a list), not both",
                );
                Vec::new()
            }
            (None, None) => {
                w.err(
                    "tenant",
                    "required: the tenant id (a GUID) or verified domain, or a \"tenants\" list",
                );
                Vec::new()
            }
            (Some(_), None) => w
                .string(obj, "tenant", "tenant")
                .and_then(|s| w.tenant_id(s, "tenant"))
                .map(|id| {
                    let name = id.clone();
                    vec![w.resolve(id, name, Defaults::default(), &top)]
                })
                .unwrap_or_default(),
            (None, Some(list)) => w.tenants(list, &top),
        };

        let base_path = match w.string(obj, "basePath", "basePath") {
            None => "/".to_owned(),
            Some(p) => {
                if let Err(message) = check_base_path(p) {
                    w.err("basePath", message);
                }
                p.to_owned()
            }
        };

        let lock_settings = match obj.get("lockSettings") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                w.err(
                    "lockSettings",
                    format!("expected true or false, found {}", kind(other)),
                );
                false
            }
        };

        let mut frame_ancestors = Vec::new();
        match obj.get("frameAncestors") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("frameAncestors[{i}]");
                    let Value::String(s) = item else {
                        w.err(path, format!("expected a string, found {}", kind(item)));
                        continue;
                    };
                    match s.trim() {
                        "'self'" => push_unique(&mut frame_ancestors, "'self'".to_owned()),
                        "'none'" | "none" => w.err(
                            path,
                            "leave the list empty to allow no framing; it then becomes 'none'",
                        ),
                        "*" => w.err(
                            path,
                            "a wildcard would let any site frame the app; list each portal's \
                             origin",
                        ),
                        "self" => w.err(path, "write 'self' with its single quotes"),
                        other => match parse_origin(other) {
                            Ok(origin) => {
                                push_unique(&mut frame_ancestors, origin.as_str().to_owned())
                            }
                            Err(message) => w.err(
                                path,
                                format!("{message} (an origin such as https://portal.contoso.com, or 'self')"),
                            ),
                        },
                    }
                }
            }
            Some(other) => w.err(
                "frameAncestors",
                format!("expected an array of origins, found {}", kind(other)),
            ),
        }

        w.unknown_keys(obj, ROOT_KEYS, "");

        match client_id {
            Some(client_id) if w.errors.is_empty() && !tenants.is_empty() => Ok(SiteConfig {
                client_id,
                tenants,
                base_path,
                lock_settings,
                frame_ancestors,
            }),
            _ => Err(w.errors),
        }
    }

    /// The exact origins the page talks to besides its own: every tenant's sign-in origin, API
    /// (or proxy) origin and Microsoft Graph origin (advanced hunting: the bulk page's hunting
    /// source and the tag-source chips call it from the page), deduplicated and sorted.
    pub fn connect_src(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .tenants
            .iter()
            .flat_map(|t| {
                [
                    t.authority_origin.clone(),
                    t.api_base.as_str().to_owned(),
                    t.graph_base.as_str().to_owned(),
                ]
            })
            .collect();
        set.into_iter().collect()
    }

    /// The Content-Security-Policy for the page, to be sent as a header (a `<meta>` policy
    /// cannot carry `frame-ancestors`).
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(self.connect_src());
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; font-src 'self'; connect-src {}; frame-src 'none'; \
             frame-ancestors {ancestors}; manifest-src 'self'; base-uri 'none'; \
             form-action 'self'; object-src 'none'",
            connect.join(" ")
        )
    }
}

#[cfg(test)]
mod tests;
