//! Who the host's user is and what they may do, read from the access token's claims.

use serde::Deserialize;

use crate::access::Access;

/// The host's user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EmbedUser {
    /// Display name.
    pub name: String,
    /// Username / e-mail.
    pub username: String,
}

/// Claims read from an access token's payload (not verified: the API verifies the token; these
/// only decide what the UI offers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Claims {
    /// Delegated scopes, space separated.
    pub scp: String,
    /// Application roles.
    pub roles: Vec<String>,
    /// Display name.
    pub name: String,
    /// Username (v2 tokens).
    pub preferred_username: String,
    /// Username (v1 tokens).
    pub upn: String,
    /// Username (older v1 tokens).
    pub unique_name: String,
    /// Application id (app tokens have no user).
    pub appid: String,
}

impl Claims {
    /// The permissions these claims grant.
    pub fn access(&self) -> Access {
        Access::new(
            self.scp.split_whitespace().map(str::to_owned).collect(),
            self.roles.clone(),
        )
    }

    /// The user these claims name.
    pub fn user(&self) -> EmbedUser {
        let username = [&self.preferred_username, &self.upn, &self.unique_name]
            .into_iter()
            .find(|u| !u.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("app {}", self.appid));
        EmbedUser {
            name: if self.name.is_empty() {
                username.clone()
            } else {
                self.name.clone()
            },
            username,
        }
    }
}

/// Decodes a JWT's payload (base64url JSON) into [`Claims`]; `None` for anything else.
pub fn decode_claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    serde_json::from_slice(&bytes).ok()
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_a_jwt_payload() {
        // {"scp":"Machine.Read Machine.ReadWrite","name":"Ann","preferred_username":"ann@x"}
        let payload = "eyJzY3AiOiJNYWNoaW5lLlJlYWQgTWFjaGluZS5SZWFkV3JpdGUiLCJuYW1lIjoiQW5uIiwicHJlZmVycmVkX3VzZXJuYW1lIjoiYW5uQHgifQ";
        let c = decode_claims(&format!("h.{payload}.s")).unwrap();
        assert!(c.access().can_edit());
        assert_eq!(c.user().name, "Ann");
        assert_eq!(c.user().username, "ann@x");
        assert!(decode_claims("not a jwt").is_none());
        assert!(decode_claims("a.!!!.b").is_none());
    }

    #[test]
    fn app_tokens_are_named_by_their_app_id() {
        let c = Claims {
            roles: vec!["Machine.ReadWrite.All".into()],
            appid: "abc".into(),
            ..Claims::default()
        };
        assert!(c.access().can_edit());
        assert_eq!(c.user().username, "app abc");
    }
}
