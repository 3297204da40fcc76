//! The demo tenants. Each has its own deterministic dataset; a token's `tid` selects the one it
//! may read and change, as a real Defender tenant only ever shows its own machines.

use crate::config::Config;

/// A tenant the emulator can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    /// Tenant id (`tid`), a GUID.
    pub id: &'static str,
    /// Display name (site configuration, sign-in page, banner).
    pub name: &'static str,
    /// Verified domain: accepted in authority paths in place of the id, and the domain of the
    /// personas' usernames in this tenant.
    pub domain: &'static str,
    /// DNS suffix of the generated machine names, so the tenants' machines are told apart by name.
    pub machine_domain: &'static str,
}

/// The first demo tenant (always served).
pub const CONTOSO: Tenant = Tenant {
    id: crate::DEMO_TENANT,
    name: "Contoso",
    domain: "contoso.onmicrosoft.com",
    machine_domain: "contoso.local",
};

/// The second demo tenant (served with `--second-tenant-machines N`, N > 0).
pub const FABRIKAM: Tenant = Tenant {
    id: crate::SECOND_TENANT,
    name: "Fabrikam",
    domain: "fabrikam.onmicrosoft.com",
    machine_domain: "fabrikam.local",
};

/// Authority path segments that mean the first tenant, as on a single-tenant emulator (MSAL's
/// `common` and `organizations` authorities).
const DEMO_ALIASES: [&str; 2] = ["common", "organizations"];

/// A served tenant and how its dataset is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSpec {
    /// Which tenant.
    pub tenant: Tenant,
    /// Generated machines.
    pub machines: usize,
    /// Dataset seed.
    pub seed: u64,
}

impl TenantSpec {
    /// Whether an authority path segment (id, domain or, for the first tenant, `common`/
    /// `organizations`) names this tenant. Entra matches these case-insensitively.
    pub fn matches_path(&self, segment: &str) -> bool {
        let t = &self.tenant;
        t.id.eq_ignore_ascii_case(segment)
            || t.domain.eq_ignore_ascii_case(segment)
            || (t.id == CONTOSO.id && DEMO_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(segment)))
    }
}

/// The tenants a configuration serves, the first tenant first. The second tenant's seed is
/// derived from `--seed` (seed + 1) so one flag keeps the whole emulator reproducible.
pub fn specs(config: &Config) -> Vec<TenantSpec> {
    let mut v = vec![TenantSpec {
        tenant: CONTOSO,
        machines: config.machines,
        seed: config.seed,
    }];
    if config.second_tenant_machines > 0 {
        v.push(TenantSpec {
            tenant: FABRIKAM,
            machines: config.second_tenant_machines,
            seed: config.seed.wrapping_add(1),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_tenant_only_when_asked_with_its_own_seed() {
        let one = specs(&Config::default());
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].tenant, CONTOSO);
        let two = specs(&Config {
            second_tenant_machines: 50,
            seed: 9,
            ..Config::default()
        });
        assert_eq!(two.len(), 2);
        assert_eq!(
            (two[1].tenant, two[1].machines, two[1].seed),
            (FABRIKAM, 50, 10)
        );
    }

    #[test]
    fn path_segments_name_tenants() {
        let [c, f] = [CONTOSO, FABRIKAM].map(|tenant| TenantSpec {
            tenant,
            machines: 1,
            seed: 1,
        });
        for ok in [
            "11111111-2222-3333-4444-555555555555",
            "COMMON",
            "organizations",
            "Contoso.onmicrosoft.com",
        ] {
            assert!(c.matches_path(ok) && !f.matches_path(ok), "{ok}");
        }
        for ok in [
            "22222222-3333-4444-5555-666666666666",
            "fabrikam.onmicrosoft.com",
        ] {
            assert!(f.matches_path(ok) && !c.matches_path(ok), "{ok}");
        }
        assert!(!c.matches_path("consumers") && !f.matches_path("contoso"));
    }
}
