//! Minting and verifying RS256 tokens.

use jsonwebtoken::{Algorithm, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::keys::SigningKeys;
use super::personas::{self, Persona, PersonaKind};
use crate::tenants::Tenant;

/// Audience the emulator mints (the legacy resource the docs recommend, docs/defender-api.md §8).
pub const API_AUDIENCE: &str = "https://api.securitycenter.microsoft.com";
/// Audiences the API accepts: the legacy resource, the current host and the WindowsDefenderATP
/// application id (what an Entra token for that resource may carry).
pub const ACCEPTED_AUDIENCES: [&str; 3] = [
    API_AUDIENCE,
    "https://api.security.microsoft.com",
    "fc780465-2017-40d4-a0c5-307022471b92",
];
/// Microsoft Graph's resource, the audience of the tokens advanced hunting accepts.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// Audiences Graph accepts: its resource URI and its application id.
pub const GRAPH_AUDIENCES: [&str; 2] = [GRAPH_AUDIENCE, "00000003-0000-0000-c000-000000000000"];

/// Whether `aud` names Microsoft Graph.
pub fn is_graph_audience(aud: &str) -> bool {
    GRAPH_AUDIENCES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(aud.trim_end_matches('/')))
}

/// The audience a token request's `scope` asks for: Graph when any scope names Graph's
/// resource (`https://graph.microsoft.com/.default`, `.../ThreatHunting.Read.All`), else the
/// Defender API. One token has one audience, as with Entra ID.
pub fn audience_for_scope(scope: &str) -> &'static str {
    let graph = scope.split_whitespace().any(|s| {
        let s = s.to_ascii_lowercase();
        s.starts_with("https://graph.microsoft.com/")
            || s.starts_with("00000003-0000-0000-c000-000000000000/")
    });
    if graph { GRAPH_AUDIENCE } else { API_AUDIENCE }
}

/// Token lifetime: "The expiration time of the token is one hour" (docs/defender-api.md §8).
pub const TOKEN_TTL_SECS: i64 = 3599;

/// Access-token claims (a union of Entra v1/v2 claims that clients look at).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Audience.
    pub aud: String,
    /// Issuer, `{origin}/{tenant}/v2.0`.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// Object id of the user or service principal.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Client application id (v1 claim).
    pub appid: String,
    /// Client application id (v2 claim).
    pub azp: String,
    /// Application permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Delegated permissions, space separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// User display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// User principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// `app` or `user`.
    #[serde(default)]
    pub idtyp: String,
    /// Token version.
    #[serde(default)]
    pub ver: String,
    /// Unique token id.
    #[serde(default)]
    pub uti: String,
}

/// ID-token claims (what MSAL reads to build the account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    /// The client id.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Subject.
    pub sub: String,
    /// Object id.
    pub oid: String,
    /// Tenant id.
    pub tid: String,
    /// Display name.
    pub name: String,
    /// Username.
    pub preferred_username: String,
    /// Echo of the authorize request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Token version.
    pub ver: String,
}

/// Minting failed (only if the key is unusable).
#[derive(Debug, Error)]
#[error("cannot sign a token: {0}")]
pub struct MintError(String);

/// `{origin}/{tenant}/v2.0`, as Entra's v2 issuer names the tenant that issued the token.
pub fn issuer_for(origin: &str, tenant: &str) -> String {
    format!("{origin}/{tenant}/v2.0")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn header(keys: &SigningKeys) -> Header {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(keys.kid.clone());
    h.typ = Some("JWT".into());
    h
}

/// Mints an access token for `persona` in `tenant`, calling as client `app_id`, valid for
/// `ttl_secs` (negative = already expired, for tests). `origin` is the issuer's origin.
pub fn mint_access(
    keys: &SigningKeys,
    origin: &str,
    tenant: &Tenant,
    persona: &Persona,
    app_id: &str,
    ttl_secs: i64,
) -> Result<String, MintError> {
    mint_access_with(
        keys,
        origin,
        tenant,
        persona,
        app_id,
        ttl_secs,
        MintOverrides::default(),
    )
}

/// Test-only changes to a minted access token (`/_emulator/token`).
#[derive(Debug, Clone, Default)]
pub struct MintOverrides {
    /// Replaces `aud`.
    pub audience: Option<String>,
    /// Replaces the persona's `roles`/`scp` entries.
    pub permissions: Option<Vec<String>>,
}

/// [`mint_access`] with test overrides.
pub fn mint_access_with(
    keys: &SigningKeys,
    origin: &str,
    tenant: &Tenant,
    persona: &Persona,
    app_id: &str,
    ttl_secs: i64,
    overrides: MintOverrides,
) -> Result<String, MintError> {
    let iat = now();
    let graph = overrides.audience.as_deref().is_some_and(is_graph_audience);
    let perms: Vec<String> = overrides.permissions.unwrap_or_else(|| {
        let base = if graph {
            persona.graph_permissions
        } else {
            persona.permissions
        };
        base.iter().map(|s| (*s).to_owned()).collect()
    });
    let (roles, scp, name, upn, idtyp) = match persona.kind {
        PersonaKind::App => (Some(perms), None, None, None, "app"),
        PersonaKind::User => (
            None,
            Some(perms.join(" ")),
            Some(persona.display_name.to_owned()),
            Some(persona.username(tenant)),
            "user",
        ),
    };
    let claims = AccessClaims {
        aud: overrides.audience.unwrap_or_else(|| API_AUDIENCE.into()),
        iss: issuer_for(origin, tenant.id),
        iat,
        nbf: iat.min(iat + ttl_secs),
        exp: iat + ttl_secs,
        tid: tenant.id.into(),
        oid: persona.oid.into(),
        sub: persona.oid.into(),
        appid: app_id.into(),
        azp: app_id.into(),
        roles,
        scp,
        name,
        upn,
        idtyp: idtyp.into(),
        ver: "2.0".into(),
        uti: uuid::Uuid::new_v4().simple().to_string(),
    };
    encode(&header(keys), &claims, &keys.encoding).map_err(|e| MintError(e.to_string()))
}

/// Mints an ID token for a user signed in to `tenant`.
pub fn mint_id(
    keys: &SigningKeys,
    origin: &str,
    tenant: &Tenant,
    persona: &Persona,
    client_id: &str,
    nonce: Option<String>,
) -> Result<String, MintError> {
    let iat = now();
    let claims = IdClaims {
        aud: client_id.into(),
        iss: issuer_for(origin, tenant.id),
        iat,
        nbf: iat,
        exp: iat + TOKEN_TTL_SECS,
        sub: persona.oid.into(),
        oid: persona.oid.into(),
        tid: tenant.id.into(),
        name: persona.display_name.into(),
        preferred_username: persona.username(tenant),
        nonce,
        ver: "2.0".into(),
    };
    encode(&header(keys), &claims, &keys.encoding).map_err(|e| MintError(e.to_string()))
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// 401: no/invalid header, bad signature, wrong issuer, expired, malformed.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: valid token for another audience (the live docs say this is a 403).
    #[error("{0}")]
    WrongAudience(String),
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Tenant.
    pub tenant: String,
    /// Client application id.
    pub app: String,
    /// App or user.
    pub kind: PersonaKind,
    /// `roles` (app) or `scp` (user) entries.
    pub permissions: Vec<String>,
    /// Device groups visible; `None` = all. Unknown users see nothing.
    pub groups: Option<Vec<i64>>,
    /// Issued at.
    pub iat: i64,
    /// Object id.
    pub oid: String,
}

/// Verifies signature, expiry, issuer (`{origin}/{tid}/v2.0` for any of `origins`), audience
/// and tenant (one of `tenants`).
pub fn verify(
    keys: &SigningKeys,
    token: &str,
    origins: &[String],
    tenants: &[&str],
) -> Result<Caller, TokenError> {
    verify_for(
        keys,
        token,
        origins,
        tenants,
        &ACCEPTED_AUDIENCES,
        API_AUDIENCE,
    )
}

/// [`verify`] for another resource: `audiences` are accepted, `resource` is named in the
/// refusal.
pub fn verify_for(
    keys: &SigningKeys,
    token: &str,
    origins: &[String],
    tenants: &[&str],
    audiences: &[&str],
    resource: &str,
) -> Result<Caller, TokenError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.validate_aud = false; // checked below: a wrong audience is a 403, not a 401
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = decode::<AccessClaims>(token, &keys.decoding, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        let why = match e.kind() {
            K::ExpiredSignature => "the token is expired",
            K::ImmatureSignature => "the token is not valid yet (nbf)",
            K::InvalidSignature => "the token signature is invalid",
            K::InvalidAlgorithm => "the token algorithm is not RS256",
            K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => "the token is malformed",
            K::MissingRequiredClaim(_) => "the token lacks a required claim",
            _ => "the token is invalid",
        };
        TokenError::Unauthorized(why.into())
    })?;
    let c = data.claims;
    if !origins.iter().any(|o| issuer_for(o, &c.tid) == c.iss) {
        return Err(TokenError::Unauthorized(format!(
            "the token issuer {:?} is not trusted",
            c.iss
        )));
    }
    if !audiences
        .iter()
        .any(|a| a.eq_ignore_ascii_case(c.aud.trim_end_matches('/')))
    {
        return Err(TokenError::WrongAudience(format!(
            "The token audience {:?} does not match the resource {resource}",
            c.aud
        )));
    }
    if !tenants.iter().any(|t| t.eq_ignore_ascii_case(&c.tid)) {
        return Err(TokenError::Unauthorized(format!(
            "unknown tenant {:?}",
            c.tid
        )));
    }
    let (kind, permissions) = match (&c.roles, &c.scp) {
        (_, Some(scp)) => (
            PersonaKind::User,
            scp.split_whitespace().map(str::to_owned).collect(),
        ),
        (Some(roles), None) => (PersonaKind::App, roles.clone()),
        (None, None) => (PersonaKind::App, Vec::new()),
    };
    let groups = match kind {
        PersonaKind::App => None,
        PersonaKind::User => match personas::by_oid(&c.oid) {
            Some(p) => p.groups.map(<[i64]>::to_vec),
            None => Some(Vec::new()),
        },
    };
    Ok(Caller {
        tenant: c.tid,
        app: c.appid,
        kind,
        permissions,
        groups,
        iat: c.iat,
        oid: c.oid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::{CONTOSO, FABRIKAM};

    fn keys() -> SigningKeys {
        SigningKeys::generate().unwrap()
    }

    const ORIGIN: &str = "http://127.0.0.1:1";
    const BOTH: [&str; 2] = [CONTOSO.id, FABRIKAM.id];

    #[test]
    fn round_trip_and_rejections() {
        let k = keys();
        let origins = vec![ORIGIN.to_owned()];
        let app = personas::by_name("app").unwrap();
        let t = mint_access(&k, ORIGIN, &CONTOSO, app, "client-1", 60).unwrap();
        let c = verify(&k, &t, &origins, &BOTH).unwrap();
        assert_eq!(c.permissions, vec!["Machine.ReadWrite.All"]);
        assert_eq!(c.app, "client-1");
        assert_eq!(c.kind, PersonaKind::App);
        assert_eq!(c.tenant, CONTOSO.id);

        let expired = mint_access(&k, ORIGIN, &CONTOSO, app, "c", -5).unwrap();
        assert_eq!(
            verify(&k, &expired, &origins, &BOTH).unwrap_err(),
            TokenError::Unauthorized("the token is expired".into())
        );
        let other = keys();
        let forged = mint_access(&other, ORIGIN, &CONTOSO, app, "c", 60).unwrap();
        assert!(matches!(
            verify(&k, &forged, &origins, &BOTH),
            Err(TokenError::Unauthorized(_))
        ));
        assert!(matches!(
            verify(&k, &t, &["http://evil".to_owned()], &BOTH),
            Err(TokenError::Unauthorized(m)) if m.contains("issuer")
        ));
        assert!(matches!(
            verify(&k, "a.b.c", &origins, &BOTH),
            Err(TokenError::Unauthorized(_))
        ));
    }

    #[test]
    fn tokens_carry_their_tenant_and_unserved_tenants_are_refused() {
        let k = keys();
        let origins = vec![ORIGIN.to_owned()];
        let reader = personas::by_name("reader").unwrap();
        let t = mint_access(&k, ORIGIN, &FABRIKAM, reader, "spa", 60).unwrap();
        let c = verify(&k, &t, &origins, &BOTH).unwrap();
        assert_eq!(c.tenant, FABRIKAM.id);
        assert!(matches!(
            verify(&k, &t, &origins, &[CONTOSO.id]),
            Err(TokenError::Unauthorized(m)) if m.contains("unknown tenant")
        ));
        let id = mint_id(&k, ORIGIN, &FABRIKAM, reader, "spa", None).unwrap();
        let payload = id.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["tid"], FABRIKAM.id);
        assert_eq!(claims["iss"], format!("{ORIGIN}/{}/v2.0", FABRIKAM.id));
        assert_eq!(
            claims["preferred_username"],
            "reader@fabrikam.onmicrosoft.com"
        );
    }

    #[test]
    fn analyst_is_scoped_to_groups() {
        let k = keys();
        let t = mint_access(
            &k,
            "http://h",
            &CONTOSO,
            personas::by_name("analyst").unwrap(),
            "spa",
            60,
        )
        .unwrap();
        let c = verify(&k, &t, &["http://h".to_owned()], &BOTH).unwrap();
        assert_eq!(c.kind, PersonaKind::User);
        assert_eq!(c.permissions, vec!["Machine.ReadWrite"]);
        assert_eq!(c.groups, Some(vec![101, 102, 103]));
    }

    #[test]
    fn a_graph_scope_gets_a_graph_token() {
        assert_eq!(
            audience_for_scope("openid profile https://graph.microsoft.com/.default"),
            GRAPH_AUDIENCE
        );
        assert_eq!(
            audience_for_scope("https://graph.microsoft.com/ThreatHunting.Read.All offline_access"),
            GRAPH_AUDIENCE
        );
        assert_eq!(
            audience_for_scope("https://api.securitycenter.microsoft.com/.default"),
            API_AUDIENCE
        );
        assert_eq!(audience_for_scope("openid profile"), API_AUDIENCE);
        // A look-alike host is not Graph.
        assert_eq!(
            audience_for_scope("https://graph.microsoft.com.evil.example/.default"),
            API_AUDIENCE
        );
        assert!(is_graph_audience("https://graph.microsoft.com/"));
        assert!(!is_graph_audience(API_AUDIENCE));
    }
}
