//! Sign-in and API settings: what the user enters on the Settings page, its validation, and what
//! MSAL and the API client are configured with. Saved in localStorage (no secrets: ids and hosts).

use defender_tags_core::cloud::{Cloud, DEFAULT_SCOPE, HostGeneration, KNOWN_HOSTS};
use defender_tags_core::site_config::{TenantConfig, is_domain, is_guid};
use serde::{Deserialize, Serialize};

use crate::site::SiteState;

/// The tenant of the local emulator (`DEMO_TENANT` in the emulator).
pub const DEMO_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The client id the emulator expects (any is accepted; this one is documented).
pub const DEMO_CLIENT_ID: &str = "00000000-0000-4000-8000-000000000de0";

/// Form values of the clouds (core's [`Cloud::param`]).
pub fn cloud_param(cloud: Cloud) -> &'static str {
    cloud.param()
}

/// Parses a form value of [`cloud_param`].
pub fn cloud_from_param(s: &str) -> Option<Cloud> {
    Cloud::from_param(s)
}

/// API hosts the page may call in `cloud`: core's documented hosts of that cloud (current and
/// legacy generations). The Content-Security-Policy in `www/index.html` allows exactly these
/// (plus the page's own origin), so other hosts are refused here rather than by the browser.
pub fn allowed_api_hosts(cloud: Cloud) -> Vec<&'static str> {
    KNOWN_HOSTS
        .iter()
        // GCC High and DoD share their API host.
        .filter(|k| k.cloud == cloud || (cloud == Cloud::DoD && k.cloud == Cloud::GccHigh))
        .filter(|k| k.generation != HostGeneration::OlderLegacy)
        .map(|k| k.host)
        .collect()
}

/// What the Settings page edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Sign in against the local emulator (served from a loopback address) instead of Entra ID.
    pub demo: bool,
    /// Application (client) id of the SPA registration.
    pub client_id: String,
    /// Tenant id or domain.
    pub tenant: String,
    /// National cloud.
    pub cloud: Cloud,
    /// API host; empty means the cloud's default.
    pub api_host: String,
    /// Scope; empty means the cloud's default.
    pub scope: String,
    /// Use these values instead of the organisation's `config.json` (only where it is not
    /// locked; see [`crate::site`]).
    pub override_org: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            override_org: false,
            demo: false,
            client_id: String::new(),
            tenant: String::new(),
            cloud: Cloud::Commercial,
            api_host: String::new(),
            scope: String::new(),
        }
    }
}

/// The settings a page served from the emulator starts with.
pub fn demo_settings() -> Settings {
    Settings {
        demo: true,
        client_id: DEMO_CLIENT_ID.to_owned(),
        tenant: DEMO_TENANT.to_owned(),
        ..Settings::default()
    }
}

/// Settings that passed validation, resolved for MSAL and the API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Demo mode (emulator).
    pub demo: bool,
    /// Client id.
    pub client_id: String,
    /// Authority URL (`https://login.../{tenant}`; in demo mode the emulator's http authority,
    /// which `auth.js` aliases for MSAL).
    pub authority: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// API base URL (origin, no trailing slash).
    pub api_base: String,
    /// The tenant's id when it is a GUID (MSAL then uses only accounts of that tenant).
    pub tenant_id: String,
    /// The tenant as configured (id or domain), for the connection check.
    pub tenant: String,
    /// The national cloud (its portal is where machines link to).
    pub cloud: Cloud,
    /// The Microsoft Graph origin for advanced hunting (its token goes there only).
    pub graph_base: String,
    /// The Graph token scope.
    pub graph_scope: String,
}

/// The connection of an organisation's tenant (`config.json`), resolved like [`Settings`].
pub fn resolve_tenant(client_id: &str, tenant: &TenantConfig) -> Resolved {
    Resolved {
        // A loopback http authority is the emulator's dev identity provider, which MSAL accepts
        // only through `auth.js`'s https alias.
        demo: tenant.authority_origin.starts_with("http://"),
        client_id: client_id.to_owned(),
        authority: tenant.authority.clone(),
        scopes: vec![tenant.scope.clone()],
        api_base: tenant.api_base.as_str().to_owned(),
        tenant_id: guid_or_empty(&tenant.id),
        tenant: tenant.id.clone(),
        cloud: tenant.cloud,
        graph_base: tenant.graph_base.as_str().to_owned(),
        graph_scope: tenant.graph_scope.clone(),
    }
}

/// What this browser connects with: the organisation's tenant (the chosen one) unless the user
/// overrides an unlocked configuration, else the browser's own settings.
pub fn effective(
    site: &SiteState,
    user: &Settings,
    chosen_tenant: Option<&str>,
    page_origin: &str,
) -> Result<Resolved, Vec<FieldError>> {
    match site {
        SiteState::Loaded(config) if config.lock_settings || !user.override_org => {
            match crate::site::current_tenant(config, chosen_tenant) {
                Some(t) => Ok(resolve_tenant(&config.client_id, t)),
                None => Err(vec![field("form", "config.json lists no tenant.")]),
            }
        }
        SiteState::Invalid(errors) => Err(errors
            .iter()
            .map(|e| FieldError {
                field: "config",
                message: format!("config.json: {e}"),
            })
            .collect()),
        _ => user.resolve(page_origin),
    }
}

fn guid_or_empty(tenant: &str) -> String {
    if is_guid(tenant) {
        tenant.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// A field the user must fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Form field name (`client_id`, `tenant`, `api_host`, `scope`).
    pub field: &'static str,
    /// What is wrong, as a sentence.
    pub message: String,
}

impl Settings {
    /// Validates and resolves. `page_origin` is the page's own origin (demo mode's API and IdP).
    pub fn resolve(&self, page_origin: &str) -> Result<Resolved, Vec<FieldError>> {
        if self.demo {
            return Ok(Resolved {
                demo: true,
                client_id: non_empty_or(&self.client_id, DEMO_CLIENT_ID),
                authority: format!(
                    "{page_origin}/{}/v2.0",
                    non_empty_or(&self.tenant, DEMO_TENANT)
                ),
                scopes: vec![non_empty_or(&self.scope, DEFAULT_SCOPE)],
                api_base: page_origin.to_owned(),
                tenant_id: guid_or_empty(&non_empty_or(&self.tenant, DEMO_TENANT)),
                tenant: non_empty_or(&self.tenant, DEMO_TENANT),
                cloud: Cloud::Commercial,
                // The emulator serves Graph's hunting call on its own origin.
                graph_base: page_origin.to_owned(),
                graph_scope: Cloud::Commercial.graph_scope().to_owned(),
            });
        }
        let mut errors = Vec::new();
        let client_id = self.client_id.trim();
        if client_id.is_empty() {
            errors.push(field(
                "client_id",
                "Enter the application (client) id of your app registration.",
            ));
        } else if !is_guid(client_id) {
            errors.push(field(
                "client_id",
                "The client id is a GUID, like 00000000-0000-0000-0000-000000000000.",
            ));
        }
        let tenant = self.tenant.trim();
        if tenant.is_empty() {
            errors.push(field(
                "tenant",
                "Enter your tenant id (a GUID) or primary domain (contoso.onmicrosoft.com).",
            ));
        } else if !is_guid(tenant) && !is_domain(tenant) {
            errors.push(field(
                "tenant",
                "The tenant is a GUID or a domain name such as contoso.onmicrosoft.com.",
            ));
        }
        let host = self
            .api_host
            .trim()
            .trim_start_matches("https://")
            .trim_end_matches('/');
        let host = if host.is_empty() {
            self.cloud.api_host()
        } else {
            host
        };
        let allowed = allowed_api_hosts(self.cloud);
        if !allowed.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            errors.push(field(
                "api_host",
                &format!(
                    "{host} is not a Defender API host of the {} cloud. Use one of: {}.",
                    self.cloud.name(),
                    allowed.join(", ")
                ),
            ));
        }
        let scope = self.scope.trim();
        if !scope.is_empty() && !scope.starts_with("https://") {
            errors.push(field(
                "scope",
                "The scope is a URL such as https://api.securitycenter.microsoft.com/.default.",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Resolved {
            demo: false,
            client_id: client_id.to_owned(),
            authority: format!("{}/{tenant}", self.cloud.login_host()),
            scopes: vec![
                if scope.is_empty() {
                    self.cloud.default_scope()
                } else {
                    scope
                }
                .to_owned(),
            ],
            api_base: format!("https://{}", host.to_ascii_lowercase()),
            tenant_id: guid_or_empty(tenant),
            tenant: tenant.to_owned(),
            cloud: self.cloud,
            graph_base: self.cloud.graph_base_url().as_str().to_owned(),
            graph_scope: self.cloud.graph_scope().to_owned(),
        })
    }
}

fn field(field: &'static str, message: &str) -> FieldError {
    FieldError {
        field,
        message: message.to_owned(),
    }
}

fn non_empty_or(value: &str, default: &str) -> String {
    let v = value.trim();
    if v.is_empty() {
        default.to_owned()
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:4000";

    fn entra() -> Settings {
        Settings {
            client_id: "0b5b6c1e-1111-4222-8333-944445555666".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            ..Settings::default()
        }
    }

    #[test]
    fn demo_mode_points_at_the_page_origin() {
        let r = demo_settings().resolve(ORIGIN).unwrap();
        assert!(r.demo);
        assert_eq!(r.authority, format!("{ORIGIN}/{DEMO_TENANT}/v2.0"));
        assert_eq!(r.api_base, ORIGIN);
        assert_eq!(r.scopes, vec![DEFAULT_SCOPE.to_owned()]);
    }

    #[test]
    fn commercial_defaults() {
        let r = entra().resolve(ORIGIN).unwrap();
        assert_eq!(
            r.authority,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com"
        );
        assert_eq!(r.api_base, "https://api.security.microsoft.com");
        assert_eq!(r.scopes, vec![DEFAULT_SCOPE.to_owned()]);
    }

    #[test]
    fn regional_host_and_gov_clouds() {
        let mut s = entra();
        s.api_host = "https://eu.api.security.microsoft.com/".into();
        assert_eq!(
            s.resolve(ORIGIN).unwrap().api_base,
            "https://eu.api.security.microsoft.com"
        );
        s.api_host.clear();
        s.cloud = Cloud::GccHigh;
        let r = s.resolve(ORIGIN).unwrap();
        assert_eq!(
            r.authority,
            "https://login.microsoftonline.us/contoso.onmicrosoft.com"
        );
        assert_eq!(r.api_base, "https://api-gov.securitycenter.microsoft.us");
        assert_eq!(
            r.scopes,
            vec!["https://api-gov.securitycenter.microsoft.us/.default".to_owned()]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let s = Settings {
            client_id: "not-a-guid".into(),
            tenant: "bad tenant".into(),
            api_host: "evil.example.com".into(),
            scope: "Machine.Read".into(),
            ..Settings::default()
        };
        let errors = s.resolve(ORIGIN).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["client_id", "tenant", "api_host", "scope"]);
        assert!(errors[2].message.contains("evil.example.com"));
    }

    #[test]
    fn a_host_of_another_cloud_is_refused() {
        let mut s = entra();
        s.cloud = Cloud::Gcc;
        s.api_host = "api.securitycenter.microsoft.com".into();
        assert_eq!(s.resolve(ORIGIN).unwrap_err()[0].field, "api_host");
    }

    #[test]
    fn settings_round_trip_as_json_and_tolerate_missing_fields() {
        let s = entra();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), s);
        let partial: Settings = serde_json::from_str(r#"{"demo":true}"#).unwrap();
        assert!(partial.demo);
        assert_eq!(partial.cloud, Cloud::Commercial);
    }

    fn site(json: &str) -> SiteState {
        crate::site::classify(200, json)
    }

    const ORG: &str = r#"{
        "clientId": "0b5b6c1e-1111-4222-8333-944445555666",
        "tenants": [
            {"id": "11111111-2222-3333-4444-555555555555", "name": "Contoso"},
            {"id": "fabrikam.onmicrosoft.com", "name": "Fabrikam", "cloud": "gcc-high"}
        ],
        "apiBaseUrl": "https://proxy.contoso.com"
    }"#;

    #[test]
    fn the_organisation_configuration_wins_unless_overridden_where_unlocked() {
        let org = site(ORG);
        let mine = Settings {
            override_org: false,
            ..entra()
        };
        let r = effective(&org, &mine, None, ORIGIN).unwrap();
        assert_eq!(r.client_id, "0b5b6c1e-1111-4222-8333-944445555666");
        assert_eq!(r.api_base, "https://proxy.contoso.com");
        assert_eq!(r.tenant_id, "11111111-2222-3333-4444-555555555555");
        assert!(!r.demo);

        // The chosen tenant (a domain: no tenant id filter for MSAL) with its own cloud.
        let r = effective(&org, &mine, Some("Fabrikam.onmicrosoft.com"), ORIGIN).unwrap();
        assert_eq!(r.tenant, "fabrikam.onmicrosoft.com");
        assert_eq!(r.tenant_id, "");
        assert!(
            r.authority.starts_with("https://login.microsoftonline.us/"),
            "{}",
            r.authority
        );

        // Overriding an unlocked configuration uses the browser's own values.
        let over = Settings {
            override_org: true,
            ..entra()
        };
        let r = effective(&org, &over, None, ORIGIN).unwrap();
        assert_eq!(r.tenant, "contoso.onmicrosoft.com");
        assert_eq!(r.api_base, "https://api.security.microsoft.com");

        // A locked one ignores the override.
        let locked = site(&ORG.replacen('{', r#"{"lockSettings": true,"#, 1));
        let r = effective(&locked, &over, None, ORIGIN).unwrap();
        assert_eq!(r.api_base, "https://proxy.contoso.com");
    }

    #[test]
    fn an_invalid_configuration_is_an_error_naming_its_fields_and_no_connection() {
        let bad =
            site(r#"{"clientId": "x", "tenant": "contoso.onmicrosoft.com", "cloud": "azure"}"#);
        let errors = effective(&bad, &entra(), None, ORIGIN).unwrap_err();
        let text: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(text.iter().any(|m| m.contains("clientId")), "{text:?}");
        assert!(
            text.iter()
                .any(|m| m.contains("cloud") && m.contains("azure")),
            "{text:?}"
        );
        // Without a configuration, the browser's settings apply as before.
        assert_eq!(
            effective(&SiteState::Absent, &entra(), None, ORIGIN)
                .unwrap()
                .tenant,
            "contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn a_loopback_authority_is_the_emulator_and_needs_the_alias() {
        let emu = site(
            r#"{"clientId": "00000000-0000-4000-8000-000000000de0",
                "tenant": "11111111-2222-3333-4444-555555555555",
                "authority": "http://127.0.0.1:4000", "apiBaseUrl": "http://127.0.0.1:4000"}"#,
        );
        let r = effective(&emu, &Settings::default(), None, ORIGIN).unwrap();
        assert!(r.demo);
        assert_eq!(
            r.authority,
            "http://127.0.0.1:4000/11111111-2222-3333-4444-555555555555/v2.0"
        );
    }

    #[test]
    fn cloud_params_round_trip() {
        for c in Cloud::ALL {
            assert_eq!(cloud_from_param(cloud_param(c)), Some(c));
        }
    }

    #[test]
    fn dod_and_legacy_hosts_are_allowed_older_ones_not() {
        assert_eq!(
            allowed_api_hosts(Cloud::DoD),
            vec!["api-gov.securitycenter.microsoft.us"]
        );
        let commercial = allowed_api_hosts(Cloud::Commercial);
        assert!(commercial.contains(&"api.securitycenter.microsoft.com"));
        assert!(!commercial.contains(&"api.securitycenter.windows.com"));
    }

    #[test]
    fn every_allowed_host_is_in_the_page_csp() {
        let html = include_str!("../../../www/index.html");
        let connect_src: Vec<&str> = html
            .split("connect-src ")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        for cloud in Cloud::ALL {
            for host in allowed_api_hosts(cloud) {
                let origin = format!("https://{host}");
                assert!(
                    connect_src.contains(&origin.as_str()),
                    "{origin} missing from the CSP"
                );
            }
            assert!(
                connect_src.contains(&cloud.login_host()),
                "{} missing",
                cloud.login_host()
            );
            let graph = cloud.graph_base_url();
            assert!(
                connect_src.contains(&graph.as_str()),
                "{} missing (hunting)",
                graph.as_str()
            );
        }
        assert!(connect_src.contains(&"'self'"));
    }
}
