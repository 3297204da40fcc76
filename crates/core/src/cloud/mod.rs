//! Clouds, regional hosts, token scopes and base-URL validation (docs/defender-api.md §0, §8, §10).

mod base_url;

pub use base_url::{BaseUrl, BaseUrlError};

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The token scope to request by default. The live docs say some endpoints still require the
/// legacy audience even on the new host and fail with 403 otherwise (docs/defender-api.md §8).
pub const DEFAULT_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";

/// A Microsoft cloud that hosts Defender for Endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cloud {
    /// Worldwide commercial cloud.
    Commercial,
    /// US Government Community Cloud.
    Gcc,
    /// US Government GCC High.
    GccHigh,
    /// US Department of Defense.
    DoD,
}

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::DoD];

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "Commercial",
            Cloud::Gcc => "GCC",
            Cloud::GccHigh => "GCC High",
            Cloud::DoD => "DoD",
        }
    }

    /// The cloud's name in configuration files and forms (`config.json`, Settings):
    /// `commercial`, `gcc`, `gcc-high` or `dod`.
    pub fn param(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::DoD => "dod",
        }
    }

    /// Parses a [`Cloud::param`] value (exact, lowercase).
    pub fn from_param(s: &str) -> Option<Cloud> {
        Cloud::ALL.into_iter().find(|c| c.param() == s)
    }

    /// The documented API host for the cloud (commercial: the current global host).
    pub fn api_host(self) -> &'static str {
        match self {
            Cloud::Commercial => "api.security.microsoft.com",
            Cloud::Gcc => "api-gcc.securitycenter.microsoft.us",
            Cloud::GccHigh | Cloud::DoD => "api-gov.securitycenter.microsoft.us",
        }
    }

    /// The host of the cloud's Microsoft Defender portal (**observed**; see
    /// docs/defender-api.md §3c).
    pub fn portal_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "security.microsoft.com",
            Cloud::GccHigh => "security.microsoft.us",
            Cloud::DoD => "security.apps.mil",
        }
    }

    /// The portal page of machine `id` (`tenant_id`, a GUID, selects the tenant for people
    /// with access to several).
    pub fn machine_portal_url(
        self,
        id: &crate::model::MachineId,
        tenant_id: Option<&str>,
    ) -> String {
        let base = format!("https://{}/machines/v2/{id}/overview", self.portal_host());
        match tenant_id.filter(|t| !t.is_empty()) {
            Some(tid) => format!("{base}?tid={tid}"),
            None => base,
        }
    }

    /// The API base URL for the cloud.
    pub fn base_url(self) -> BaseUrl {
        BaseUrl::from_trusted_https_host(self.api_host())
    }

    /// The Entra ID sign-in authority host.
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::DoD => "https://login.microsoftonline.us",
        }
    }

    /// The default token scope. Gov-cloud scopes are not documented by Microsoft (UNCONFIRMED);
    /// these follow the API hosts, as most third-party scripts do. Override with
    /// [`CloudConfig::with_scope`] when a tenant needs another.
    pub fn default_scope(self) -> &'static str {
        match self {
            Cloud::Commercial => DEFAULT_SCOPE,
            Cloud::Gcc => "https://api-gcc.securitycenter.microsoft.us/.default",
            Cloud::GccHigh | Cloud::DoD => "https://api-gov.securitycenter.microsoft.us/.default",
        }
    }
}

/// The Microsoft Graph scope requested for advanced hunting on the commercial cloud and GCC.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

impl Cloud {
    /// The Microsoft Graph host of the cloud, where advanced hunting lives
    /// (`/v1.0/security/runHuntingQuery`; docs/defender-api.md §14). GCC shares the commercial
    /// host. The gov hosts are Graph's national-cloud hosts; that hunting answers there is
    /// **unconfirmed**. (Microsoft's China cloud, `microsoftgraph.chinacloudapi.cn`, has no
    /// Defender for Endpoint cloud here, so it is not a [`Cloud`].)
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "graph.microsoft.com",
            Cloud::GccHigh => "graph.microsoft.us",
            Cloud::DoD => "dod-graph.microsoft.us",
        }
    }

    /// The Graph origin of the cloud.
    pub fn graph_base_url(self) -> BaseUrl {
        BaseUrl::from_trusted_https_host(self.graph_host())
    }

    /// The Graph token scope of the cloud (`https://{graph host}/.default`; the delegated
    /// permission it must carry is `ThreatHunting.Read.All`).
    pub fn graph_scope(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => GRAPH_SCOPE,
            Cloud::GccHigh => "https://graph.microsoft.us/.default",
            Cloud::DoD => "https://dod-graph.microsoft.us/.default",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A geography with its own API host ("use a server closer to your geolocation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Region {
    /// United States.
    Us,
    /// Europe.
    Eu,
    /// United Kingdom.
    Uk,
    /// Australia.
    Au,
    /// Switzerland.
    Swa,
    /// India.
    Ina,
    /// Asia East (live docs only, 2026).
    Aea,
}

impl Region {
    /// Every region with a current host.
    pub const ALL: [Region; 7] = [
        Region::Us,
        Region::Eu,
        Region::Uk,
        Region::Au,
        Region::Swa,
        Region::Ina,
        Region::Aea,
    ];

    /// The current regional host, e.g. `eu.api.security.microsoft.com`.
    pub fn host(self) -> &'static str {
        match self {
            Region::Us => "us.api.security.microsoft.com",
            Region::Eu => "eu.api.security.microsoft.com",
            Region::Uk => "uk.api.security.microsoft.com",
            Region::Au => "au.api.security.microsoft.com",
            Region::Swa => "swa.api.security.microsoft.com",
            Region::Ina => "ina.api.security.microsoft.com",
            Region::Aea => "aea.api.security.microsoft.com",
        }
    }

    /// The regional base URL.
    pub fn base_url(self) -> BaseUrl {
        BaseUrl::from_trusted_https_host(self.host())
    }
}

/// How current a known host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostGeneration {
    /// `*.security.microsoft.com` and the gov hosts: documented today.
    Current,
    /// `*.securitycenter.microsoft.com`: still in many examples and the token audience.
    Legacy,
    /// `*.securitycenter.windows.com`: 2018–2020 docs, reportedly still answering.
    OlderLegacy,
}

/// A host Microsoft has documented for the Defender for Endpoint API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHost {
    /// Host name.
    pub host: &'static str,
    /// Cloud it belongs to.
    pub cloud: Cloud,
    /// Region, for regional hosts.
    pub region: Option<Region>,
    /// How current it is.
    pub generation: HostGeneration,
}

const fn kh(
    host: &'static str,
    cloud: Cloud,
    region: Option<Region>,
    generation: HostGeneration,
) -> KnownHost {
    KnownHost {
        host,
        cloud,
        region,
        generation,
    }
}

use Cloud::*;
use HostGeneration::*;

/// Every documented host (docs/defender-api.md §0), current first.
pub const KNOWN_HOSTS: &[KnownHost] = &[
    kh("api.security.microsoft.com", Commercial, None, Current),
    kh(
        "us.api.security.microsoft.com",
        Commercial,
        Some(Region::Us),
        Current,
    ),
    kh(
        "eu.api.security.microsoft.com",
        Commercial,
        Some(Region::Eu),
        Current,
    ),
    kh(
        "uk.api.security.microsoft.com",
        Commercial,
        Some(Region::Uk),
        Current,
    ),
    kh(
        "au.api.security.microsoft.com",
        Commercial,
        Some(Region::Au),
        Current,
    ),
    kh(
        "swa.api.security.microsoft.com",
        Commercial,
        Some(Region::Swa),
        Current,
    ),
    kh(
        "ina.api.security.microsoft.com",
        Commercial,
        Some(Region::Ina),
        Current,
    ),
    kh(
        "aea.api.security.microsoft.com",
        Commercial,
        Some(Region::Aea),
        Current,
    ),
    kh("api-gcc.securitycenter.microsoft.us", Gcc, None, Current),
    kh(
        "api-gov.securitycenter.microsoft.us",
        GccHigh,
        None,
        Current,
    ),
    kh("api.securitycenter.microsoft.com", Commercial, None, Legacy),
    kh(
        "api-us.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Us),
        Legacy,
    ),
    kh(
        "api-eu.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Eu),
        Legacy,
    ),
    kh(
        "api-uk.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Uk),
        Legacy,
    ),
    kh(
        "api-au.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Au),
        Legacy,
    ),
    kh(
        "api.securitycenter.windows.com",
        Commercial,
        None,
        OlderLegacy,
    ),
    kh(
        "api-us.securitycenter.windows.com",
        Commercial,
        Some(Region::Us),
        OlderLegacy,
    ),
    kh(
        "api-eu.securitycenter.windows.com",
        Commercial,
        Some(Region::Eu),
        OlderLegacy,
    ),
    kh(
        "api-uk.securitycenter.windows.com",
        Commercial,
        Some(Region::Uk),
        OlderLegacy,
    ),
];

/// Looks up a documented host (ASCII case-insensitive).
pub fn known_host(host: &str) -> Option<&'static KnownHost> {
    KNOWN_HOSTS
        .iter()
        .find(|k| k.host.eq_ignore_ascii_case(host))
}
/// Where and how to call the API: the cloud, its base URL (global, regional or custom) and
/// the token scope to request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudConfig {
    /// The cloud.
    pub cloud: Cloud,
    /// The API origin.
    pub base_url: BaseUrl,
    /// The token scope to request.
    pub scope: String,
}

/// A token scope that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// Empty or blank.
    #[error("token scope is empty; the default is {DEFAULT_SCOPE}")]
    Empty,
    /// Contains whitespace (scopes are space-separated in OAuth, so this would be two).
    #[error("token scope {scope:?} contains whitespace; give a single scope")]
    Whitespace {
        /// The scope given.
        scope: String,
    },
}

impl CloudConfig {
    /// The cloud's documented host and default scope.
    pub fn new(cloud: Cloud) -> Self {
        Self {
            cloud,
            base_url: cloud.base_url(),
            scope: cloud.default_scope().to_owned(),
        }
    }

    /// Uses another base URL (a regional host, a proxy, the emulator).
    pub fn with_base_url(mut self, base_url: BaseUrl) -> Self {
        self.base_url = base_url;
        self
    }

    /// Uses another token scope.
    pub fn with_scope(mut self, scope: &str) -> Result<Self, ScopeError> {
        let s = scope.trim();
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(ScopeError::Whitespace {
                scope: s.to_owned(),
            });
        }
        self.scope = s.to_owned();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_links_a_machine_to_its_own_portal() {
        let id = crate::model::MachineId::parse(&"ab".repeat(20)).unwrap();
        assert_eq!(
            Cloud::Commercial.machine_portal_url(&id, None),
            format!("https://security.microsoft.com/machines/v2/{id}/overview")
        );
        assert_eq!(
            Cloud::GccHigh.machine_portal_url(&id, Some("11111111-2222-3333-4444-555555555555")),
            format!(
                "https://security.microsoft.us/machines/v2/{id}/overview?tid=11111111-2222-3333-4444-555555555555"
            )
        );
        assert!(
            Cloud::DoD
                .machine_portal_url(&id, Some(""))
                .starts_with("https://security.apps.mil/")
        );
    }

    #[test]
    fn clouds_and_regions() {
        assert_eq!(Cloud::Commercial.default_scope(), DEFAULT_SCOPE);
        assert_eq!(
            Cloud::GccHigh.base_url().as_str(),
            "https://api-gov.securitycenter.microsoft.us"
        );
        assert_eq!(Cloud::DoD.login_host(), "https://login.microsoftonline.us");
        for c in Cloud::ALL {
            assert_eq!(Cloud::from_param(c.param()), Some(c));
        }
        assert_eq!(Cloud::from_param("gcc-high"), Some(Cloud::GccHigh));
        assert_eq!(Cloud::from_param("GCC"), None);
        assert_eq!(Cloud::from_param("azure"), None);
        for r in Region::ALL {
            assert_eq!(BaseUrl::parse(r.base_url().as_str()).unwrap(), r.base_url());
            assert_eq!(known_host(r.host()).and_then(|k| k.region), Some(r));
        }
        for k in KNOWN_HOSTS {
            assert!(
                BaseUrl::parse(&format!("https://{}", k.host)).is_ok(),
                "{}",
                k.host
            );
        }
        let c = CloudConfig::new(Cloud::Gcc)
            .with_scope(" https://x/.default ")
            .unwrap();
        assert_eq!(c.scope, "https://x/.default");
        assert_eq!(
            CloudConfig::new(Cloud::Gcc).with_scope(" "),
            Err(ScopeError::Empty)
        );
        assert!(matches!(
            CloudConfig::new(Cloud::Gcc).with_scope("a b"),
            Err(ScopeError::Whitespace { .. })
        ));
    }
}
