//! Demo identities. Device-group scoping lives here, server-side, as it does in Defender (MDE
//! RBAC is configured in the portal, not carried in the token).

use crate::tenants::{CONTOSO, FABRIKAM, Tenant};

/// Application or delegated (user) identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonaKind {
    /// Client-credentials daemon: permissions in `roles`.
    App,
    /// Signed-in user: permissions in `scp`.
    User,
}

/// One demo identity.
#[derive(Debug)]
pub struct Persona {
    /// Short name used by `/_emulator/token` and the sign-in page.
    pub name: &'static str,
    /// Display name (`name` claim).
    pub display_name: &'static str,
    /// Object id (`oid`, `sub`).
    pub oid: &'static str,
    /// App or user.
    pub kind: PersonaKind,
    /// Permissions (`roles` for apps, `scp` for users).
    pub permissions: &'static [&'static str],
    /// Microsoft Graph permissions of its Graph tokens (advanced hunting needs
    /// `ThreatHunting.Read.All`; `reader` has none, to show the refusal).
    pub graph_permissions: &'static [&'static str],
    /// Device groups (`rbacGroupId`) the identity may see; `None` = all.
    pub groups: Option<&'static [i64]>,
    /// One line for the sign-in page and banner.
    pub description: &'static str,
}

/// Application id of the `app` persona when minted through `/_emulator/token`.
pub const DEMO_DAEMON_APP_ID: &str = "d43f5e7c-0000-4000-8000-00000000a991";

/// All personas. `admin` is an extension of docs/design.md: a delegated user who sees every
/// group, so the demo UI can show the whole tenant.
pub static PERSONAS: [Persona; 4] = [
    Persona {
        name: "app",
        display_name: "Tagging daemon (application)",
        oid: "0a0a0a0a-1111-4000-8000-000000000001",
        kind: PersonaKind::App,
        permissions: &["Machine.ReadWrite.All"],
        graph_permissions: &["ThreatHunting.Read.All"],
        groups: None,
        description: "application token, roles Machine.ReadWrite.All, all device groups",
    },
    Persona {
        name: "analyst",
        display_name: "Avery Analyst",
        oid: "0a0a0a0a-2222-4000-8000-000000000002",
        kind: PersonaKind::User,
        permissions: &["Machine.ReadWrite"],
        graph_permissions: &["ThreatHunting.Read.All"],
        groups: Some(&[101, 102, 103]),
        description: "user, scp Machine.ReadWrite, device groups Finance, HR and Engineering only",
    },
    Persona {
        name: "reader",
        display_name: "Riley Reader",
        oid: "0a0a0a0a-3333-4000-8000-000000000003",
        kind: PersonaKind::User,
        permissions: &["Machine.Read"],
        graph_permissions: &[],
        groups: None,
        description: "user, scp Machine.Read (read-only), all device groups",
    },
    Persona {
        name: "admin",
        display_name: "Adrian Admin",
        oid: "0a0a0a0a-4444-4000-8000-000000000004",
        kind: PersonaKind::User,
        permissions: &["Machine.ReadWrite"],
        graph_permissions: &["ThreatHunting.Read.All"],
        groups: None,
        description: "user, scp Machine.ReadWrite, all device groups",
    },
];

/// Looks a persona up by its short name (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Looks a persona up by object id.
pub fn by_oid(oid: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.oid.eq_ignore_ascii_case(oid))
}

impl Persona {
    /// `preferred_username` / `upn` in `tenant`: `{name}@{tenant domain}`. The same people are
    /// members of every demo tenant (like a service provider's analysts), under its domain.
    pub fn username(&self, tenant: &Tenant) -> String {
        format!("{}@{}", self.name, tenant.domain)
    }
}

/// Looks a persona up by short name or username in any demo tenant (for `login_hint` and the
/// sign-in page).
pub fn by_hint(hint: &str) -> Option<&'static Persona> {
    let name = match hint.split_once('@') {
        Some((local, domain))
            if [CONTOSO, FABRIKAM]
                .iter()
                .any(|t| t.domain.eq_ignore_ascii_case(domain)) =>
        {
            local
        }
        Some(_) => return None,
        None => hint,
    };
    by_name(name)
}

/// The identities offered on the sign-in page: the users first, then `app` (signing in "as the
/// app" gives the SPA an application-permission token, handy for a full-access demo).
pub fn sign_in_choices() -> impl Iterator<Item = &'static Persona> {
    PERSONAS
        .iter()
        .filter(|p| p.kind == PersonaKind::User)
        .chain(PERSONAS.iter().filter(|p| p.kind == PersonaKind::App))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_personas_in_any_demo_tenant() {
        assert_eq!(by_hint("Reader").map(|p| p.name), Some("reader"));
        assert_eq!(
            by_hint("analyst@contoso.onmicrosoft.com").map(|p| p.name),
            Some("analyst")
        );
        assert_eq!(
            by_hint("ADMIN@fabrikam.onmicrosoft.com").map(|p| p.name),
            Some("admin")
        );
        assert!(by_hint("analyst@evil.example").is_none());
        assert!(by_hint("nobody@contoso.onmicrosoft.com").is_none());
        let reader = by_name("reader").unwrap();
        assert_eq!(
            reader.username(&FABRIKAM),
            "reader@fabrikam.onmicrosoft.com"
        );
    }
}
