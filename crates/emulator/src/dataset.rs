//! Deterministic machine dataset: the same `(count, seed)` and UTC day give the same machines.
//!
//! Dates are offsets from today's midnight UTC, so "beyond retention" stays beyond retention
//! whenever the emulator runs (at least 200 days old), and recent machines stay recent (at
//! most 120 days old), well clear of the 180-day boundary.

use std::collections::HashSet;

use defender_tags_core::{
    DeviceValue, ExposureLevel, HealthStatus, IpAddress, Machine, MachineId, OnboardingStatus,
    OperationalStatus, RiskScore,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, Time};

use crate::rng::SplitMix64;
use crate::tenants::{CONTOSO, TenantSpec};

/// A device group (`rbacGroupId`, `rbacGroupName`, name prefix).
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// `rbacGroupId`.
    pub id: i64,
    /// `rbacGroupName`.
    pub name: &'static str,
    /// Computer-name prefix.
    pub prefix: &'static str,
    /// Second octet of the group's 10.x.0.0/16 LAN.
    pub lan: u8,
}

/// The ten device groups; machines outside them have `rbacGroupId` 0 and a null name.
pub const GROUPS: [Group; 10] = [
    Group {
        id: 101,
        name: "Finance",
        prefix: "fin",
        lan: 11,
    },
    Group {
        id: 102,
        name: "HR",
        prefix: "hr",
        lan: 12,
    },
    Group {
        id: 103,
        name: "Engineering",
        prefix: "eng",
        lan: 13,
    },
    Group {
        id: 104,
        name: "Sales",
        prefix: "sales",
        lan: 14,
    },
    Group {
        id: 105,
        name: "Marketing",
        prefix: "mkt",
        lan: 15,
    },
    Group {
        id: 106,
        name: "Legal",
        prefix: "legal",
        lan: 16,
    },
    Group {
        id: 107,
        name: "IT Operations",
        prefix: "itops",
        lan: 17,
    },
    Group {
        id: 108,
        name: "Datacenter Servers",
        prefix: "dc",
        lan: 18,
    },
    Group {
        id: 109,
        name: "Executives",
        prefix: "exec",
        lan: 19,
    },
    Group {
        id: 110,
        name: "Contractors",
        prefix: "ctr",
        lan: 20,
    },
];

/// Computer name of the machine reserved for UI escaping tests (index 7; in tenants other than
/// the demo tenant followed by `.{their DNS suffix}`).
pub const XSS_MACHINE_NAME: &str = "<img src=x onerror=alert(1)>";
/// A tag reserved for UI escaping tests (on every 97th machine).
pub const XSS_TAG: &str = "<script>alert('tag')</script>";

struct Os {
    platform: &'static str,
    version: Option<&'static str>,
    build: Option<i64>,
    kind: &'static str,
    server: bool,
}

const OSES: [(u32, Os); 12] = [
    (
        18,
        Os {
            platform: "Windows10",
            version: Some("22H2"),
            build: Some(19045),
            kind: "lt",
            server: false,
        },
    ),
    (
        6,
        Os {
            platform: "Windows10",
            version: Some("21H2"),
            build: Some(19044),
            kind: "ws",
            server: false,
        },
    ),
    (
        16,
        Os {
            platform: "Windows11",
            version: Some("23H2"),
            build: Some(22631),
            kind: "lt",
            server: false,
        },
    ),
    (
        14,
        Os {
            platform: "Windows11",
            version: Some("24H2"),
            build: Some(26100),
            kind: "lt",
            server: false,
        },
    ),
    (
        6,
        Os {
            platform: "Windows11",
            version: Some("22H2"),
            build: Some(22621),
            kind: "ws",
            server: false,
        },
    ),
    (
        5,
        Os {
            platform: "WindowsServer2019",
            version: Some("1809"),
            build: Some(17763),
            kind: "srv",
            server: true,
        },
    ),
    (
        7,
        Os {
            platform: "WindowsServer2022",
            version: Some("21H2"),
            build: Some(20348),
            kind: "srv",
            server: true,
        },
    ),
    (
        3,
        Os {
            platform: "WindowsServer2025",
            version: Some("24H2"),
            build: Some(26100),
            kind: "srv",
            server: true,
        },
    ),
    (
        4,
        Os {
            platform: "Ubuntu",
            version: Some("22.04"),
            build: None,
            kind: "vm",
            server: true,
        },
    ),
    (
        2,
        Os {
            platform: "RedHatEnterpriseLinux",
            version: Some("9.4"),
            build: None,
            kind: "vm",
            server: true,
        },
    ),
    (
        5,
        Os {
            platform: "macOS",
            version: Some("14.6"),
            build: None,
            kind: "mac",
            server: false,
        },
    ),
    (
        2,
        Os {
            platform: "iOS",
            version: Some("17.5"),
            build: None,
            kind: "mob",
            server: false,
        },
    ),
];

const TAGS: [&str; 22] = [
    "Finance",
    "finance",
    "VIP",
    "PCI",
    "PCI-DSS",
    "Critical",
    "Quarantine",
    "Pilot",
    "Pilot Ring 1",
    "Legacy (EOL)",
    "Berlin, DE",
    "Windows 11 upgrade",
    "server",
    "Server",
    "Contractor",
    "Kiosk",
    "test tag 1",
    "test tag 2",
    "BYOD",
    "Patch Group A",
    "Patch Group B",
    "Remote",
];

/// Generates `count` machines of the demo tenant (names in `contoso.local`) from `seed`,
/// relative to today's midnight UTC.
pub fn generate(count: usize, seed: u64) -> Vec<Machine> {
    generate_at(count, seed, today())
}

/// The dataset of one served tenant (its size, seed and machine-name domain).
pub fn generate_tenant(spec: &TenantSpec) -> Vec<Machine> {
    generate_in(
        spec.machines,
        spec.seed,
        spec.tenant.machine_domain,
        today(),
    )
}

fn today() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT)
}

/// Like [`generate`] with an explicit anchor date (tests).
pub fn generate_at(count: usize, seed: u64, anchor: OffsetDateTime) -> Vec<Machine> {
    generate_in(count, seed, CONTOSO.machine_domain, anchor)
}

/// `count` machines from `seed`, named `{group}-{kind}-{n}.{domain}`, dated from `anchor`.
pub fn generate_in(count: usize, seed: u64, domain: &str, anchor: OffsetDateTime) -> Vec<Machine> {
    let mut rng = SplitMix64::new(seed ^ 0x0DEF_E4DE_0000_0000);
    let mut ids = HashSet::with_capacity(count);
    let mut counters = [0u32; 11 * 6];
    let mut machines: Vec<Machine> = Vec::with_capacity(count);
    for i in 0..count {
        let id = loop {
            let hex = format!(
                "{:016x}{:016x}{:08x}",
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64() as u32
            );
            if ids.insert(hex.clone())
                && let Ok(id) = MachineId::parse(&hex)
            {
                break id;
            }
        };
        let group_ix = if rng.chance(0.05) {
            None
        } else {
            Some(rng.below(GROUPS.len() as u64) as usize)
        };
        let mut os = rng.weighted(&OSES);
        // Datacenter machines are servers.
        if group_ix == Some(7) && !os.server {
            os = &OSES[6].1;
        }
        let mut m = Machine::new(id);
        // Duplicates: about 1% reuse an earlier machine's name (a re-imaged device).
        let mut duplicate_of = None;
        let mut name = None;
        if i > 10 && rng.chance(0.01) {
            let j = rng.below(i as u64) as usize;
            if let Some(n) = machines[j].computer_dns_name.clone() {
                name = Some(n);
                duplicate_of = Some(j);
            }
        }
        if i == 7 {
            // The demo tenant keeps the bare name its UI tests know; elsewhere it carries the
            // tenant's DNS suffix, so every machine name tells its tenant.
            name = Some(if domain == CONTOSO.machine_domain {
                XSS_MACHINE_NAME.to_owned()
            } else {
                format!("{XSS_MACHINE_NAME}.{domain}")
            });
        }
        let name = name.unwrap_or_else(|| {
            let slot = group_ix.map_or(10, |g| g) * 6 + kind_index(os.kind);
            counters[slot] += 1;
            let prefix = group_ix.map_or("ws", |g| GROUPS[g].prefix);
            format!("{prefix}-{}-{:04}.{domain}", os.kind, counters[slot])
        });
        m.computer_dns_name = Some(name);

        let beyond_retention = rng.chance(0.03);
        let last_seen = if beyond_retention {
            anchor - Duration::days(200 + rng.below(400) as i64)
                + Duration::seconds(rng.below(86_400) as i64)
        } else if rng.chance(0.85) {
            anchor - Duration::seconds(rng.below(3 * 86_400) as i64) + Duration::hours(12)
        } else {
            anchor - Duration::days(3 + rng.below(117) as i64)
                + Duration::seconds(rng.below(86_400) as i64)
        };
        let last_seen = last_seen + Duration::nanoseconds(rng.below(10_000_000) as i64 * 100);
        let first_seen = last_seen
            - Duration::days(1 + rng.below(900) as i64)
            - Duration::seconds(rng.below(86_400) as i64);
        m.first_seen = Some(first_seen);
        m.last_seen = Some(last_seen);
        m.os_platform = Some(os.platform.to_owned());
        m.os_version = None;
        m.os_processor = Some(if os.kind == "mob" { "arm64" } else { "x64" }.to_owned());
        m.version = os.version.map(str::to_owned);
        m.os_build = os.build;
        m.os_architecture = Some("64-bit".to_owned());

        let lan = group_ix.map_or(10, |g| GROUPS[g].lan);
        let ip = format!("10.{lan}.{}.{}", rng.below(64), 2 + rng.below(250));
        let ext_prefix = *rng.pick(&["203.0.113", "198.51.100", "192.0.2"]);
        m.last_ip_address = Some(ip.clone());
        m.last_external_ip_address = Some(format!("{ext_prefix}.{}", 1 + rng.below(254)));
        let mac = format!("{:012X}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
        m.ip_addresses = vec![
            ip_entry(&ip, Some(mac), "Ethernet", OperationalStatus::Up),
            ip_entry("127.0.0.1", None, "SoftwareLoopback", OperationalStatus::Up),
        ];
        if rng.chance(0.2) {
            let ip6 = format!("fe80::{:x}:{:x}", rng.below(0xffff), rng.below(0xffff));
            m.ip_addresses
                .push(ip_entry(&ip6, None, "Ethernet", OperationalStatus::Down));
        }
        // More adapters, as real machines report them: drawn from a generator of their own per
        // machine, so adding them left every other value of a seeded dataset as it was.
        more_interfaces(&mut m, os.kind, seed, i as u64);

        m.health_status = Some(if beyond_retention {
            HealthStatus::Inactive
        } else {
            rng.weighted(&[
                (80, HealthStatus::Active),
                (9, HealthStatus::Inactive),
                (4, HealthStatus::ImpairedCommunication),
                (3, HealthStatus::NoSensorData),
                (2, HealthStatus::NoSensorDataImpairedCommunication),
                (2, HealthStatus::Unknown),
            ])
            .clone()
        });
        if let Some(g) = group_ix {
            m.rbac_group_id = Some(GROUPS[g].id);
            m.rbac_group_name = Some(GROUPS[g].name.to_owned());
        } else {
            m.rbac_group_id = Some(0);
            m.rbac_group_name = None;
        }
        m.risk_score = rng
            .weighted(&[
                (5, None),
                (30, Some(RiskScore::None)),
                (10, Some(RiskScore::Informational)),
                (25, Some(RiskScore::Low)),
                (20, Some(RiskScore::Medium)),
                (10, Some(RiskScore::High)),
            ])
            .clone();
        m.exposure_level = rng
            .weighted(&[
                (3, None),
                (5, Some(ExposureLevel::None)),
                (40, Some(ExposureLevel::Low)),
                (37, Some(ExposureLevel::Medium)),
                (15, Some(ExposureLevel::High)),
            ])
            .clone();
        let high_value = matches!(group_ix, Some(7) | Some(8));
        m.device_value = Some(if high_value && rng.chance(0.6) {
            DeviceValue::High
        } else {
            rng.weighted(&[
                (88, DeviceValue::Normal),
                (5, DeviceValue::Low),
                (7, DeviceValue::High),
            ])
            .clone()
        });
        let aad = !os.server && rng.chance(0.7);
        m.is_aad_joined = Some(aad);
        m.aad_device_id = aad.then(|| guid(&mut rng));
        m.onboarding_status = Some(if rng.chance(0.98) {
            OnboardingStatus::Onboarded
        } else {
            OnboardingStatus::InsufficientInfo
        });
        m.merged_into_machine_id = None;
        m.is_potential_duplication = Some(duplicate_of.is_some());
        m.is_excluded = Some(false);
        m.exclusion_reason = None;
        m.agent_version = Some(format!(
            "10.8{}.{}.{}",
            700 + rng.below(100),
            os.build.unwrap_or(0),
            1000 + rng.below(4000)
        ));
        m.defender_av_status = Some(
            rng.weighted(&[(85, "Updated"), (10, "NotUpdated"), (5, "Unknown")])
                .to_string(),
        );
        m.managed_by = Some(
            rng.weighted(&[(60, "Intune"), (20, "MDE"), (10, "SCCM"), (10, "Unknown")])
                .to_string(),
        );
        m.managed_by_status = Some(
            rng.weighted(&[(70, "Success"), (30, "Unknown")])
                .to_string(),
        );
        m.vm_metadata = (os.kind == "vm").then(|| vm_metadata(&mut rng));

        let mut tags: Vec<String> = Vec::new();
        let n_tags = *rng.weighted(&[(22, 0usize), (40, 1), (25, 2), (13, 3)]);
        if group_ix == Some(0) && rng.chance(0.5) {
            tags.push(
                if rng.chance(0.5) {
                    "Finance"
                } else {
                    "finance"
                }
                .to_owned(),
            );
        }
        for _ in 0..n_tags {
            let t = (*rng.pick(&TAGS)).to_owned();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        if i % 97 == 3 {
            tags.push(XSS_TAG.to_owned());
        }
        m.machine_tags = tags;
        if let Some(j) = duplicate_of {
            machines[j].is_potential_duplication = Some(true);
        }
        machines.push(m);
    }
    machines
}

fn kind_index(kind: &str) -> usize {
    match kind {
        "lt" => 0,
        "ws" => 1,
        "srv" => 2,
        "vm" => 3,
        "mac" => 4,
        _ => 5,
    }
}

/// Wi-Fi on laptops, Macs and phones (a home or office 192.168 address), a VPN tunnel on
/// about a third of client machines (10.200/16), and a global IPv6 address (documentation prefix
/// 2001:db8::/32) on about half of all machines: what "any IP address" search is tested on.
fn more_interfaces(m: &mut Machine, kind: &str, seed: u64, index: u64) {
    let mut rng = SplitMix64::new(seed ^ 0x1F_ACE5 ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let client = matches!(kind, "lt" | "ws" | "mac" | "mob");
    if matches!(kind, "lt" | "mac" | "mob") {
        let wifi = format!("192.168.{}.{}", rng.below(8), 2 + rng.below(250));
        let mac = format!("{:012X}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
        m.ip_addresses.push(ip_entry(
            &wifi,
            Some(mac),
            "Wireless80211",
            OperationalStatus::Up,
        ));
    }
    if client && rng.chance(0.35) {
        let vpn = format!("10.200.{}.{}", rng.below(256), 2 + rng.below(250));
        m.ip_addresses
            .push(ip_entry(&vpn, None, "Ppp", OperationalStatus::Up));
    }
    if rng.chance(0.5) {
        let ip6 = format!(
            "2001:db8:{:x}:{:x}::{:x}",
            rng.below(0xffff),
            rng.below(0xffff),
            1 + rng.below(0xfffe)
        );
        m.ip_addresses
            .push(ip_entry(&ip6, None, "Ethernet", OperationalStatus::Up));
    }
}

fn ip_entry(ip: &str, mac: Option<String>, kind: &str, status: OperationalStatus) -> IpAddress {
    IpAddress {
        ip_address: Some(ip.to_owned()),
        mac_address: mac,
        kind: Some(kind.to_owned()),
        operational_status: Some(status),
        extra: serde_json::Map::new(),
    }
}

fn guid(rng: &mut SplitMix64) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn vm_metadata(rng: &mut SplitMix64) -> Value {
    let sub = guid(rng);
    let vm = guid(rng);
    json!({
        "vmId": vm,
        "cloudProvider": "Azure",
        "resourceId": format!("/subscriptions/{sub}/resourceGroups/rg-servers/providers/Microsoft.Compute/virtualMachines/vm-{}", &vm[..8]),
        "subscriptionId": sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn deterministic_for_seed_and_anchor() {
        let at = datetime!(2026-11-01 0:00 UTC);
        let a = generate_at(500, 7, at);
        let b = generate_at(500, 7, at);
        assert_eq!(a, b);
        let c = generate_at(500, 8, at);
        assert_ne!(a[0].id, c[0].id);
        assert_eq!(
            generate_in(500, 7, CONTOSO.machine_domain, at),
            a,
            "the demo tenant's dataset is what a single-tenant emulator generates"
        );
    }

    #[test]
    fn machines_carry_realistic_interface_sets() {
        let at = datetime!(2026-11-01 0:00 UTC);
        let ms = generate_at(1000, 42, at);
        let kinds = |m: &Machine| -> Vec<String> {
            m.ip_addresses
                .iter()
                .filter_map(|a| a.kind.clone())
                .collect()
        };
        let share = |f: &dyn Fn(&Machine) -> bool| ms.iter().filter(|m| f(m)).count();
        let wifi = share(&|m| kinds(m).iter().any(|k| k == "Wireless80211"));
        let vpn = share(&|m| kinds(m).iter().any(|k| k == "Ppp"));
        let v6 = share(&|m| {
            m.ip_addresses.iter().any(|a| {
                a.ip_address
                    .as_deref()
                    .is_some_and(|ip| ip.starts_with("2001:db8:"))
            })
        });
        let several = share(&|m| m.ip_addresses.len() >= 4);
        assert!(
            wifi > 200 && vpn > 100 && v6 > 350 && several > 200,
            "{wifi} {vpn} {v6} {several}"
        );
        // Servers have no Wi-Fi; the last IP address is still one of the machine's addresses.
        for m in &ms {
            let server = m
                .computer_dns_name
                .as_deref()
                .is_some_and(|n| n.contains("-srv-"));
            assert!(!(server && kinds(m).iter().any(|k| k == "Wireless80211")));
            assert!(
                m.ip_addresses
                    .iter()
                    .any(|a| a.ip_address == m.last_ip_address)
            );
        }
    }

    #[test]
    fn machine_names_carry_the_tenant_domain() {
        let at = datetime!(2026-11-01 0:00 UTC);
        let f = generate_in(200, 43, "fabrikam.local", at);
        let names: Vec<&str> = f
            .iter()
            .filter_map(|m| m.computer_dns_name.as_deref())
            .collect();
        assert_eq!(names.len(), 200);
        assert!(
            names.iter().all(|n| n.ends_with(".fabrikam.local")),
            "{names:?}"
        );
        assert_eq!(names[7], format!("{XSS_MACHINE_NAME}.fabrikam.local"));
        assert!(
            generate_at(200, 43, at)
                .iter()
                .filter_map(|m| m.computer_dns_name.as_deref())
                .all(|n| !n.contains("fabrikam"))
        );
    }

    #[test]
    fn has_the_features_tests_rely_on() {
        let at = datetime!(2026-11-01 0:00 UTC);
        let ms = generate_at(3000, 42, at);
        assert_eq!(ms.len(), 3000);
        let ids: HashSet<_> = ms.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids.len(), 3000, "ids are unique");
        assert_eq!(ms[7].computer_dns_name.as_deref(), Some(XSS_MACHINE_NAME));
        assert!(ms.iter().any(|m| m.has_tag(XSS_TAG)));
        assert!(ms.iter().any(|m| m.has_tag("Finance")) && ms.iter().any(|m| m.has_tag("finance")));
        assert!(
            ms.iter().any(|m| m.has_tag("Legacy (EOL)"))
                && ms.iter().any(|m| m.has_tag("Berlin, DE"))
        );
        let old = ms
            .iter()
            .filter(|m| m.last_seen.unwrap() < at - Duration::days(180))
            .count();
        assert!(
            (45..=135).contains(&old),
            "about 3% beyond retention, got {old}"
        );
        let near = ms.iter().filter(|m| {
            let age = at - m.last_seen.unwrap();
            age > Duration::days(121) && age < Duration::days(199)
        });
        assert_eq!(
            near.count(),
            0,
            "no machine sits near the retention boundary"
        );
        let dup = ms
            .iter()
            .filter(|m| m.is_potential_duplication == Some(true))
            .count();
        assert!(dup >= 20, "{dup}");
        let groups: HashSet<_> = ms.iter().filter_map(|m| m.rbac_group_id).collect();
        assert_eq!(groups.len(), 11);
        assert!(
            ms.iter()
                .all(|m| m.computer_dns_name.is_some() && !m.ip_addresses.is_empty())
        );
    }
}
