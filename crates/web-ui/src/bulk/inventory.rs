//! The tag inventory page's view of core's [`defender_tags_core::inventory`]: every tag with its
//! machine count, case-variant clusters ("Finance"/"finance", which Defender keeps apart) with a
//! suggested spelling to keep, tags that break the portal's filter and which characters do, and
//! filtering/sorting for the table. The counting itself is core's.

use defender_tags_core::Machine;
use defender_tags_core::inventory::inventory;
use defender_tags_core::model::portal_filter_breakers;

/// One tag in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUse {
    /// The tag, exactly as stored.
    pub tag: String,
    /// Machines carrying it.
    pub machines: usize,
    /// Portal-breaking characters it contains (empty when none).
    pub breakers: Vec<char>,
    /// Whether another tag differs from it only in case.
    pub has_variants: bool,
    /// Why this tool cannot send it (core's validation), if it cannot.
    pub invalid: Option<String>,
}

/// Spellings of one tag that differ only in case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantCluster {
    /// The lowercase key.
    pub key: String,
    /// Each spelling and its machine count, most used first.
    pub variants: Vec<(String, usize)>,
}

impl VariantCluster {
    /// The spelling proposed as the one to keep: the most used (ties: alphabetical).
    pub fn suggested(&self) -> &str {
        self.variants.first().map_or("", |(t, _)| t.as_str())
    }

    /// Machines carrying any spelling (a machine with two spellings counts twice).
    pub fn total(&self) -> usize {
        self.variants.iter().map(|(_, n)| n).sum()
    }
}

/// How the inventory table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InventorySort {
    /// Most machines first.
    #[default]
    Count,
    /// A→Z (case-insensitive).
    Name,
}

/// The tenant's tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// Every tag, most used first.
    pub tags: Vec<TagUse>,
    /// Case-variant clusters, largest first.
    pub clusters: Vec<VariantCluster>,
    /// Machines listed.
    pub machines: usize,
    /// Machines without any tag.
    pub untagged: usize,
}

impl Inventory {
    /// Builds the inventory of `machines` (core counts; this adds what the page shows).
    pub fn of(machines: &[Machine]) -> Inventory {
        let core = inventory(machines);
        let mut clusters: Vec<VariantCluster> = core
            .case_variants
            .iter()
            .map(|c| {
                let mut variants: Vec<(String, usize)> = c
                    .variants
                    .iter()
                    .map(|v| (v.tag.clone(), v.machines))
                    .collect();
                variants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                VariantCluster {
                    key: variants
                        .first()
                        .map(|(t, _)| t.to_lowercase())
                        .unwrap_or_default(),
                    variants,
                }
            })
            .collect();
        clusters.sort_by(|a, b| b.total().cmp(&a.total()).then_with(|| a.key.cmp(&b.key)));
        let mut tags: Vec<TagUse> = core
            .tags
            .iter()
            .map(|t| TagUse {
                tag: t.tag.clone(),
                machines: t.machines,
                breakers: portal_filter_breakers(&t.tag),
                has_variants: clusters
                    .iter()
                    .any(|c| c.variants.iter().any(|(v, _)| *v == t.tag)),
                invalid: core
                    .invalid
                    .iter()
                    .find(|i| i.tag == t.tag)
                    .map(|i| i.error.to_string()),
            })
            .collect();
        sort_tags(&mut tags, InventorySort::Count);
        Inventory {
            tags,
            clusters,
            machines: core.machines,
            untagged: core.untagged,
        }
    }

    /// Tags that break the portal's filter.
    pub fn portal_breakers(&self) -> Vec<&TagUse> {
        self.tags
            .iter()
            .filter(|t| !t.breakers.is_empty())
            .collect()
    }

    /// Tags whose text contains `needle` (case-insensitive), in `sort` order.
    pub fn filtered(&self, needle: &str, sort: InventorySort) -> Vec<TagUse> {
        let needle = needle.trim().to_lowercase();
        let mut out: Vec<TagUse> = self
            .tags
            .iter()
            .filter(|t| needle.is_empty() || t.tag.to_lowercase().contains(&needle))
            .cloned()
            .collect();
        sort_tags(&mut out, sort);
        out
    }
}

fn sort_tags(tags: &mut [TagUse], sort: InventorySort) {
    match sort {
        InventorySort::Count => {
            tags.sort_by(|a, b| b.machines.cmp(&a.machines).then_with(|| a.tag.cmp(&b.tag)))
        }
        InventorySort::Name => tags.sort_by(|a, b| {
            a.tag
                .to_lowercase()
                .cmp(&b.tag.to_lowercase())
                .then_with(|| a.tag.cmp(&b.tag))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::MachineId;

    fn machine(n: u32, tags: &[&str]) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.machine_tags = tags.iter().map(|t| t.to_string()).collect();
        m
    }

    #[test]
    fn counts_clusters_and_portal_breakers() {
        let ms = [
            machine(1, &["Finance", "VIP"]),
            machine(2, &["finance"]),
            machine(3, &["Finance", "Legacy (EOL)"]),
            machine(4, &[]),
            machine(5, &["Berlin, DE", "Berlin, DE"]),
        ];
        let inv = Inventory::of(&ms);
        assert_eq!(inv.machines, 5);
        assert_eq!(inv.untagged, 1);
        assert_eq!(inv.tags[0].tag, "Finance");
        assert_eq!(inv.tags[0].machines, 2);
        let berlin = inv.tags.iter().find(|t| t.tag == "Berlin, DE").unwrap();
        assert_eq!(
            berlin.machines, 1,
            "a tag listed twice on one machine counts once"
        );
        assert_eq!(inv.clusters.len(), 1);
        assert_eq!(
            inv.clusters[0].variants,
            vec![("Finance".into(), 2), ("finance".into(), 1)]
        );
        assert_eq!(inv.clusters[0].suggested(), "Finance");
        assert!(
            inv.tags
                .iter()
                .find(|t| t.tag == "finance")
                .unwrap()
                .has_variants
        );
        assert!(
            !inv.tags
                .iter()
                .find(|t| t.tag == "VIP")
                .unwrap()
                .has_variants
        );
        let breaking: Vec<&str> = inv
            .portal_breakers()
            .iter()
            .map(|t| t.tag.as_str())
            .collect();
        assert_eq!(breaking.len(), 2);
        assert!(breaking.contains(&"Legacy (EOL)") && breaking.contains(&"Berlin, DE"));
    }

    #[test]
    fn filtering_and_sorting() {
        let ms = [machine(1, &["b", "A"]), machine(2, &["b"])];
        let inv = Inventory::of(&ms);
        let by_count: Vec<String> = inv
            .filtered("", InventorySort::Count)
            .into_iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(by_count, vec!["b", "A"]);
        let by_name: Vec<String> = inv
            .filtered("", InventorySort::Name)
            .into_iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(by_name, vec!["A", "b"]);
        assert_eq!(inv.filtered("B", InventorySort::Name).len(), 1);
    }
}
