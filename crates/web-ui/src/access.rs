//! What the signed-in identity may do, read from the access token's permission claims.
//!
//! The claims come from MSAL's token (decoded, not verified: the API verifies it). They only decide
//! what the UI offers; the API enforces the real permission and its 403 is explained by
//! [`Access::missing_for_write`].

/// Permission that allows tag changes with a delegated (user) token.
pub const DELEGATED_WRITE: &str = "Machine.ReadWrite";
/// Permission that allows tag changes with an application token.
pub const APP_WRITE: &str = "Machine.ReadWrite.All";
/// Read-only delegated permission.
pub const DELEGATED_READ: &str = "Machine.Read";
/// Read-only application permission.
pub const APP_READ: &str = "Machine.Read.All";

/// What the UI lets the user do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLevel {
    /// Not signed in or no machine permission at all.
    #[default]
    None,
    /// Can search and see tags.
    Read,
    /// Can also add and remove tags.
    ReadWrite,
}

/// The permissions found in a token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// Delegated scopes (`scp`).
    pub scopes: Vec<String>,
    /// Application roles (`roles`).
    pub roles: Vec<String>,
}

impl Access {
    /// From the token's `scp` (already split) and `roles` claims.
    pub fn new(scopes: Vec<String>, roles: Vec<String>) -> Self {
        Self { scopes, roles }
    }

    fn has(&self, permission: &str) -> bool {
        self.scopes
            .iter()
            .chain(&self.roles)
            .any(|p| p.eq_ignore_ascii_case(permission))
    }

    /// The level these permissions grant.
    pub fn level(&self) -> AccessLevel {
        if self.has(DELEGATED_WRITE) || self.has(APP_WRITE) {
            AccessLevel::ReadWrite
        } else if self.has(DELEGATED_READ) || self.has(APP_READ) {
            AccessLevel::Read
        } else {
            AccessLevel::None
        }
    }

    /// Whether tag edit controls are shown.
    pub fn can_edit(&self) -> bool {
        self.level() == AccessLevel::ReadWrite
    }

    /// The machine permissions held, for display ("Machine.Read").
    pub fn summary(&self) -> String {
        let mut held: Vec<&str> = self
            .scopes
            .iter()
            .chain(&self.roles)
            .map(String::as_str)
            .filter(|p| p.starts_with("Machine."))
            .collect();
        held.dedup();
        if held.is_empty() {
            "no machine permission".to_owned()
        } else {
            held.join(", ")
        }
    }

    /// The sentence shown when the API refuses a tag change with 403.
    pub fn missing_for_write(&self) -> String {
        if self.can_edit() {
            // The token carries the permission, so the refusal is Defender's RBAC: say that, not
            // "needs X (you have X)".
            return format!(
                "Permission denied: your sign-in has {} but Defender refused the change. In \
                 Defender, your role needs \u{201c}Manage security settings\u{201d} and access \
                 to the machine's device group.",
                self.summary()
            );
        }
        let has_roles = !self.roles.is_empty() && self.scopes.is_empty();
        let needed = if has_roles {
            APP_WRITE
        } else {
            DELEGATED_WRITE
        };
        format!(
            "Permission denied: changing tags needs {needed} (you have {}). In Defender, your role \
             also needs \u{201c}Manage security settings\u{201d} and access to the machine's \
             device group.",
            self.summary()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn levels_follow_the_strongest_permission() {
        assert_eq!(
            Access::new(s(&["Machine.Read"]), vec![]).level(),
            AccessLevel::Read
        );
        assert_eq!(
            Access::new(s(&["Machine.Read", "Machine.ReadWrite"]), vec![]).level(),
            AccessLevel::ReadWrite
        );
        assert_eq!(
            Access::new(vec![], s(&["Machine.ReadWrite.All"])).level(),
            AccessLevel::ReadWrite
        );
        assert_eq!(
            Access::new(vec![], s(&["Machine.Read.All"])).level(),
            AccessLevel::Read
        );
        assert_eq!(
            Access::new(s(&["User.Read"]), vec![]).level(),
            AccessLevel::None
        );
        assert_eq!(Access::default().level(), AccessLevel::None);
    }

    #[test]
    fn reader_cannot_edit_and_is_told_what_is_missing() {
        let reader = Access::new(s(&["Machine.Read"]), vec![]);
        assert!(!reader.can_edit());
        let msg = reader.missing_for_write();
        assert!(msg.contains("Machine.ReadWrite"), "{msg}");
        assert!(msg.contains("you have Machine.Read"), "{msg}");
        let app = Access::new(vec![], s(&["Machine.Read.All"]));
        assert!(app.missing_for_write().contains("Machine.ReadWrite.All"));
        // With the permission in the token, a 403 is Defender's RBAC, and the text says so.
        let writer = Access::new(s(&["Machine.ReadWrite"]), vec![]);
        let msg = writer.missing_for_write();
        assert!(
            msg.contains("your sign-in has Machine.ReadWrite but Defender refused"),
            "{msg}"
        );
        assert!(!msg.contains("needs Machine.ReadWrite"), "{msg}");
    }

    #[test]
    fn summary_lists_machine_permissions_only() {
        let a = Access::new(s(&["openid", "Machine.ReadWrite"]), vec![]);
        assert_eq!(a.summary(), "Machine.ReadWrite");
        assert_eq!(
            Access::new(s(&["openid"]), vec![]).summary(),
            "no machine permission"
        );
    }
}
