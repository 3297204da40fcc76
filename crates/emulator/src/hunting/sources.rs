//! Where tags come from besides the API: a registry value on some devices and dynamic (asset)
//! rules, per tenant. Opt-in through `PUT /_emulator/tag-sources` (the seeded dataset has
//! neither, so every existing test and demo keeps its data); not saved with `--data`, cleared by
//! `/_emulator/reset`.
//!
//! What the emulator copies (docs/defender-api.md §6, §14): registry and rule tags show in the
//! machine's `machineTags` like manual ones; removing one through the API is accepted (what the
//! real API answers is unconfirmed), and it comes back at the next sync — the device's report
//! for a registry tag (every 24 emulated hours), the rule's run for a rule tag (every emulated
//! hour). Rules only add their tag; a machine that stops matching keeps it.

use std::collections::BTreeMap;

use defender_tags_core::{Machine, MachineId, Tag};
use serde::{Deserialize, Serialize};

use crate::state::Store;

/// Emulated seconds between two rule runs ("about hourly").
pub const RULE_SYNC_SECS: u64 = 3_600;
/// Rule runs per device report: a registry tag is re-reported every 24 emulated hours ("about
/// daily").
pub const RULE_RUNS_PER_REGISTRY_SYNC: u64 = 24;

/// One tenant's tag sources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSources {
    /// The registry value (`DeviceTagging\Group`) per machine id.
    #[serde(default)]
    pub registry: BTreeMap<String, String>,
    /// Dynamic (asset) rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A dynamic tag rule: the tag, for machines meeting every condition given (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// The tag it sets.
    pub tag: String,
    /// Computer name starts with this (ASCII case ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// `osPlatform` equals this (ASCII case ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_platform: Option<String>,
}

impl Rule {
    /// Whether the rule tags `m`.
    pub fn matches(&self, m: &Machine) -> bool {
        let name_ok = self.name_prefix.as_ref().is_none_or(|p| {
            m.computer_dns_name
                .as_deref()
                .and_then(|n| n.get(..p.len()))
                // `get` is None off a character boundary: a name that cannot start with `p`.
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        });
        let os_ok = self.os_platform.as_ref().is_none_or(|os| {
            m.os_platform
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case(os))
        });
        name_ok && os_ok
    }
}

impl TagSources {
    /// Checks ids and tags, and normalises ids to lowercase.
    pub fn validate(mut self) -> Result<Self, String> {
        let mut registry = BTreeMap::new();
        for (id, tag) in self.registry {
            let id = MachineId::parse(&id).map_err(|e| format!("registry key {id:?}: {e}"))?;
            Tag::parse(&tag).map_err(|e| format!("registry[{id}]: {e}"))?;
            registry.insert(id.as_str().to_owned(), tag);
        }
        self.registry = registry;
        for (i, r) in self.rules.iter().enumerate() {
            Tag::parse(&r.tag).map_err(|e| format!("rules[{i}].tag: {e}"))?;
            if r.name_prefix.is_none() && r.os_platform.is_none() {
                return Err(format!(
                    "rules[{i}] has no condition; give namePrefix and/or osPlatform"
                ));
            }
        }
        Ok(self)
    }

    /// The registry tag of machine `id`.
    pub fn registry_tag(&self, id: &str) -> Option<&str> {
        self.registry
            .get(&id.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The rule tags of `m`, in rule order, without repeats.
    pub fn rule_tags(&self, m: &Machine) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rules {
            if r.matches(m) && !out.contains(&r.tag.as_str()) {
                out.push(&r.tag);
            }
        }
        out
    }

    /// A device report: each registry tag missing from its machine is added back. Returns how
    /// many tags were added.
    pub fn sync_registry(&self, store: &mut Store) -> usize {
        let mut added = 0;
        for (id, tag) in &self.registry {
            if let Some(m) = store.index_of_id(id).and_then(|i| store.get_mut(i))
                && !m.machine_tags.iter().any(|t| t == tag)
            {
                m.machine_tags.push(tag.clone());
                added += 1;
            }
        }
        added
    }

    /// A run of every rule: its tag is added to each matching machine missing it.
    pub fn run_rules(&self, store: &mut Store) -> usize {
        if self.rules.is_empty() {
            return 0;
        }
        let mut added = 0;
        for i in 0..store.len() {
            let Some(m) = store.get_mut(i) else { continue };
            let tags: Vec<String> = self.rule_tags(m).into_iter().map(str::to_owned).collect();
            for tag in tags {
                if !m.machine_tags.contains(&tag) {
                    m.machine_tags.push(tag);
                    added += 1;
                }
            }
        }
        added
    }

    /// `m`'s tags by source: (manual, registry, rule). Manual = the machine's tags that neither
    /// its registry value nor a rule sets.
    pub fn split<'a>(&'a self, m: &'a Machine) -> (Vec<&'a str>, Option<&'a str>, Vec<&'a str>) {
        let registry = self.registry_tag(m.id.as_str());
        let rules = self.rule_tags(m);
        let manual = m
            .machine_tags
            .iter()
            .map(String::as_str)
            .filter(|t| Some(*t) != registry && !rules.contains(t))
            .collect();
        (manual, registry, rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(name: &str, os: &str, tags: &[&str]) -> Machine {
        let mut m: Machine = serde_json::from_value(serde_json::json!({
            "id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
            "computerDnsName": name,
            "osPlatform": os,
            "machineTags": tags,
        }))
        .expect("machine");
        m.machine_tags = tags.iter().map(|t| (*t).to_owned()).collect();
        m
    }

    #[test]
    fn rules_match_every_condition_given() {
        let both = Rule {
            tag: "Kiosks".into(),
            name_prefix: Some("KIOSK-".into()),
            os_platform: Some("windows11".into()),
        };
        assert!(both.matches(&machine("kiosk-01.contoso.com", "Windows11", &[])));
        assert!(!both.matches(&machine("kiosk-01.contoso.com", "Ubuntu", &[])));
        assert!(!both.matches(&machine("pc-01.contoso.com", "Windows11", &[])));
        // A prefix cut inside a multi-byte character is no match, not a panic.
        let prefix = Rule {
            tag: "X".into(),
            name_prefix: Some("ab".into()),
            os_platform: None,
        };
        assert!(!prefix.matches(&machine("aé.contoso.com", "Windows11", &[])));
    }

    #[test]
    fn sources_are_validated_and_split_a_machines_tags() {
        let id = "1E5BC9D7E413DDD7902C2932E418702B84D0CC07";
        let s: TagSources = serde_json::from_value(serde_json::json!({
            "registry": { id: "Reg" },
            "rules": [{"tag": "Fleet", "osPlatform": "Ubuntu"}],
        }))
        .expect("shape");
        let s = s.validate().expect("valid");
        assert_eq!(s.registry_tag(&id.to_lowercase()), Some("Reg"));
        let m = machine("lnx.contoso.com", "Ubuntu", &["VIP", "Reg", "Fleet"]);
        assert_eq!(s.split(&m), (vec!["VIP"], Some("Reg"), vec!["Fleet"]));
        let bad: TagSources =
            serde_json::from_value(serde_json::json!({"rules": [{"tag": "T"}]})).expect("shape");
        assert!(bad.validate().unwrap_err().contains("no condition"));
        assert!(
            serde_json::from_value::<TagSources>(serde_json::json!({"rulez": []})).is_err(),
            "unknown keys are refused"
        );
    }
}
