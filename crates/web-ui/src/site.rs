//! The organisation's site configuration (`config.json` beside `index.html`, schema in
//! docs/deploy.md and core's [`SiteConfig`]), the base path the app is hosted under, and the
//! tenant chosen in this browser.
//!
//! The configuration is read once per page load: a tenant switch reloads the page, so MSAL, the
//! API client and every in-memory view (searches, tag catalog, inventory) start over for the new
//! tenant and cannot mix the two.

use defender_tags_core::site_config::{ConfigError, SiteConfig, TenantConfig};

/// The `<meta>` that `cargo xtask dist` writes with the base path (`/tools/defender-tags/`).
const BASE_META: &str = "defender-tags-base";
/// localStorage key of the tenant chosen in the switcher (a tenant id; not a secret).
const TENANT_KEY: &str = "defender-tags.tenant";
/// localStorage key prefix of each tenant's last search (the query string).
const SEARCH_KEY: &str = "defender-tags.search:";

/// What `config.json` gave.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteState {
    /// Not read yet.
    Loading,
    /// No `config.json` (404): the settings come from this browser alone.
    Absent,
    /// `config.json` exists but is invalid: nothing may be called.
    Invalid(Vec<ConfigError>),
    /// `config.json` could not be fetched (network, HTTP error other than 404).
    Unreadable(String),
    /// A valid organisation configuration.
    Loaded(SiteConfig),
}

impl SiteState {
    /// The organisation's configuration, when valid.
    pub fn config(&self) -> Option<&SiteConfig> {
        match self {
            SiteState::Loaded(c) => Some(c),
            _ => None,
        }
    }

    /// Whether users may change the settings (no configuration, or one that is not locked).
    pub fn settings_unlocked(&self) -> bool {
        !matches!(self, SiteState::Loaded(c) if c.lock_settings)
    }
}

/// Classifies a `config.json` answer.
pub fn classify(status: u16, body: &str) -> SiteState {
    match status {
        404 => SiteState::Absent,
        200 => match SiteConfig::parse(body) {
            Ok(c) => SiteState::Loaded(c),
            Err(errors) => SiteState::Invalid(errors),
        },
        s => SiteState::Unreadable(format!("the server answered HTTP {s}")),
    }
}

/// The tenant in use: the one chosen in this browser if the configuration still lists it,
/// else the first.
pub fn current_tenant<'a>(
    config: &'a SiteConfig,
    chosen: Option<&str>,
) -> Option<&'a TenantConfig> {
    chosen
        .and_then(|id| {
            config
                .tenants
                .iter()
                .find(|t| t.id.eq_ignore_ascii_case(id))
        })
        .or_else(|| config.tenants.first())
}

/// Joins the base path (`/a/b/`) and an app path (`/bulk?x=1`) into a URL path.
pub fn join(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if path.is_empty() || path == "/" {
        format!("{base}/")
    } else if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

/// The router's base: the base path without its trailing slash (`""` at the origin's root).
pub fn router_base(base: &str) -> String {
    base.trim_end_matches('/').to_owned()
}

/// The base path of this page (`/` unless `cargo xtask dist --base-path` set one).
pub fn base_path() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let selector = format!("meta[name=\"{BASE_META}\"]");
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(&selector).ok().flatten())
            .and_then(|m| m.get_attribute("content"))
            .filter(|b| b.starts_with('/') && b.ends_with('/'))
            .unwrap_or_else(|| "/".to_owned())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = BASE_META;
        "/".to_owned()
    }
}

/// An app path (`/settings`) as a link under the base path.
pub fn href(path: &str) -> String {
    join(&base_path(), path)
}

fn local_storage() -> Option<web_sys::Storage> {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()?.local_storage().ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The tenant id chosen in this browser, if any.
pub fn chosen_tenant() -> Option<String> {
    local_storage()
        .and_then(|s| s.get_item(TENANT_KEY).ok().flatten())
        .filter(|t| !t.is_empty())
}

/// Records `tenant` as the one in use in this browser.
pub fn remember_tenant(tenant: &str) {
    if let Some(s) = local_storage() {
        // A full or blocked storage only forgets the choice; the first tenant is used then.
        let _ = s.set_item(TENANT_KEY, tenant);
    }
}

/// The key that keeps per-tenant browser state apart (`""` without a chosen tenant).
pub fn tenant_scope() -> String {
    chosen_tenant().unwrap_or_default().to_ascii_lowercase()
}

/// Switches to `tenant`: remembers the current tenant's search, then reloads the app at the new
/// tenant's last search (a reload, so nothing of the old tenant stays in memory).
pub fn switch_tenant(from: &str, to: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        let Some(window) = web_sys::window() else {
            return;
        };
        let storage = local_storage();
        let search = window.location().search().unwrap_or_default();
        if let Some(s) = &storage {
            let _ = s.set_item(
                &format!("{SEARCH_KEY}{}", from.to_ascii_lowercase()),
                &search,
            );
            let _ = s.set_item(TENANT_KEY, to);
        }
        let saved = storage
            .and_then(|s| {
                s.get_item(&format!("{SEARCH_KEY}{}", to.to_ascii_lowercase()))
                    .ok()
                    .flatten()
            })
            .unwrap_or_default();
        let _ = window.location().assign(&format!("{}{saved}", href("/")));
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (from, to, SEARCH_KEY);
    }
}

/// Reads `{base}config.json` (never cached: an organisation may change it at any time).
pub async fn load() -> SiteState {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let url = href("/config.json");
        let Some(window) = web_sys::window() else {
            return SiteState::Unreadable("no window".into());
        };
        let init = web_sys::RequestInit::new();
        init.set_cache(web_sys::RequestCache::NoStore);
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let response = match JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await {
            Ok(r) => r,
            Err(e) => {
                return SiteState::Unreadable(format!(
                    "{url} could not be fetched ({})",
                    e.dyn_ref::<js_sys::Error>()
                        .map(|e| String::from(e.message()))
                        .unwrap_or_default()
                ));
            }
        };
        let Ok(response) = response.dyn_into::<web_sys::Response>() else {
            return SiteState::Unreadable(format!("{url}: not an HTTP response"));
        };
        let status = response.status();
        if status != 200 {
            return classify(status, "");
        }
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        };
        match text {
            Some(body) => classify(200, &body),
            None => SiteState::Unreadable(format!("{url}: the body could not be read")),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        SiteState::Absent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"{
        "clientId": "0b5b6c1e-1111-4222-8333-944445555666",
        "tenants": [
            {"id": "11111111-2222-3333-4444-555555555555", "name": "Contoso"},
            {"id": "22222222-3333-4444-5555-666666666666", "name": "Fabrikam", "cloud": "gcc"}
        ]
    }"#;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(404, ""), SiteState::Absent);
        assert!(matches!(classify(500, ""), SiteState::Unreadable(m) if m.contains("500")));
        assert!(matches!(classify(200, "{"), SiteState::Invalid(_)));
        match classify(
            200,
            r#"{"clientId": "nope", "tenant": "contoso.onmicrosoft.com"}"#,
        ) {
            SiteState::Invalid(errors) => {
                assert!(errors.iter().any(|e| e.field == "clientId"), "{errors:?}")
            }
            other => panic!("expected field errors, got {other:?}"),
        }
        assert!(matches!(classify(200, TWO), SiteState::Loaded(_)));
    }

    #[test]
    fn the_chosen_tenant_is_used_while_the_configuration_lists_it() {
        let SiteState::Loaded(config) = classify(200, TWO) else {
            panic!("valid config expected");
        };
        assert_eq!(
            current_tenant(&config, None).map(|t| t.name.as_str()),
            Some("Contoso")
        );
        assert_eq!(
            current_tenant(&config, Some("22222222-3333-4444-5555-666666666666"))
                .map(|t| t.name.as_str()),
            Some("Fabrikam")
        );
        // A tenant removed from the configuration falls back to the first.
        assert_eq!(
            current_tenant(&config, Some("33333333-3333-4444-5555-666666666666"))
                .map(|t| t.name.as_str()),
            Some("Contoso")
        );
    }

    #[test]
    fn locked_configurations_forbid_overrides() {
        let locked = TWO.replacen('{', r#"{"lockSettings": true,"#, 1);
        assert!(!classify(200, &locked).settings_unlocked());
        assert!(classify(200, TWO).settings_unlocked());
        assert!(SiteState::Absent.settings_unlocked());
    }

    #[test]
    fn paths_join_under_the_base() {
        assert_eq!(join("/", "/"), "/");
        assert_eq!(join("/", "/bulk"), "/bulk");
        assert_eq!(join("/tools/dt/", "/bulk?x=1"), "/tools/dt/bulk?x=1");
        assert_eq!(join("/tools/dt/", "/"), "/tools/dt/");
        assert_eq!(join("/tools/dt/", "config.json"), "/tools/dt/config.json");
        assert_eq!(router_base("/"), "");
        assert_eq!(router_base("/tools/dt/"), "/tools/dt");
    }
}
