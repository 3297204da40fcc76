//! What tags exist across a set of machines: counts, case-variant clusters and tags that
//! break the portal's tag filter (the portal lists only tags created through the portal, so the
//! tool has to build this itself).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Machine, PORTAL_FILTER_BREAKERS, Tag, TagError, starts_with_ignore_case};

/// A tag and how many machines carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagCount {
    /// The tag, exactly as stored.
    pub tag: String,
    /// Machines carrying it.
    pub machines: usize,
}

/// Two or more spellings of a tag that differ only in case ("Finance" / "finance").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseCluster {
    /// The spellings, most used first.
    pub variants: Vec<TagCount>,
}

/// A tag on a machine that our rules would not let us send (e.g. longer than 200 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTag {
    /// The tag.
    pub tag: String,
    /// Why it would be rejected.
    pub error: TagError,
}

/// The tag inventory of a set of machines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// Machines looked at.
    pub machines: usize,
    /// Machines with no tag.
    pub untagged: usize,
    /// Every tag, most used first, then alphabetically.
    pub tags: Vec<TagCount>,
    /// Spellings that differ only in case.
    pub case_variants: Vec<CaseCluster>,
    /// Tags containing `(`, `)` or `,`, which the portal's tag filter cannot handle.
    pub breaks_portal_filter: Vec<TagCount>,
    /// Tags our validation would reject (they can still be removed through the API).
    pub invalid: Vec<InvalidTag>,
}

/// Builds the inventory. A tag repeated on one machine counts once for it.
pub fn inventory<'a>(machines: impl IntoIterator<Item = &'a Machine>) -> Inventory {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut inv = Inventory::default();
    for m in machines {
        inv.machines += 1;
        if m.machine_tags.is_empty() {
            inv.untagged += 1;
        }
        // A machine has a handful of tags: looking back along its own list finds a repeat
        // without building a set per machine (100k sets, each hashed, on every page load).
        for (i, t) in m.machine_tags.iter().enumerate() {
            if !m.machine_tags[..i].contains(t) {
                *counts.entry(t.as_str()).or_default() += 1;
            }
        }
    }
    let mut tags: Vec<TagCount> = counts
        .into_iter()
        .map(|(tag, machines)| TagCount {
            tag: tag.to_owned(),
            machines,
        })
        .collect();
    tags.sort_by(|a, b| b.machines.cmp(&a.machines).then_with(|| a.tag.cmp(&b.tag)));

    let mut clusters: BTreeMap<String, Vec<TagCount>> = BTreeMap::new();
    for t in &tags {
        clusters
            .entry(t.tag.to_lowercase())
            .or_default()
            .push(t.clone());
        if t.tag.contains(PORTAL_FILTER_BREAKERS) {
            inv.breaks_portal_filter.push(t.clone());
        }
        if let Err(error) = Tag::parse(&t.tag) {
            inv.invalid.push(InvalidTag {
                tag: t.tag.clone(),
                error,
            });
        }
    }
    inv.case_variants = clusters
        .into_values()
        .filter(|v| v.len() > 1)
        .map(|variants| CaseCluster { variants })
        .collect();
    inv.tags = tags;
    inv
}

impl Inventory {
    /// Up to `limit` tags for what the user typed (autocomplete): tags starting with it
    /// (case-insensitive) first, then tags containing it, each group most used first; tags in
    /// `exclude` (e.g. the machine's own) are left out.
    pub fn suggest(&self, input: &str, exclude: &[String], limit: usize) -> Vec<&TagCount> {
        let needle = input.trim().to_lowercase();
        let wanted = self.tags.iter().filter(|t| !exclude.contains(&t.tag));
        let (prefix, inner): (Vec<&TagCount>, Vec<&TagCount>) = wanted
            .filter(|t| needle.is_empty() || t.tag.to_lowercase().contains(&needle))
            .partition(|t| starts_with_ignore_case(&t.tag, &needle));
        // `tags` is most used first, so each group keeps that order.
        prefix.into_iter().chain(inner).take(limit).collect()
    }

    /// Counts one more machine carrying `tag` (e.g. a tag the user just added, so it is
    /// offered from now on).
    pub fn add_use(&mut self, tag: &str) {
        match self.tags.iter_mut().find(|t| t.tag == tag) {
            Some(t) => t.machines += 1,
            None => self.tags.push(TagCount {
                tag: tag.to_owned(),
                machines: 1,
            }),
        }
        self.tags
            .sort_by(|a, b| b.machines.cmp(&a.machines).then_with(|| a.tag.cmp(&b.tag)));
    }

    /// Machines carrying exactly `tag`.
    pub fn count(&self, tag: &str) -> usize {
        self.tags
            .iter()
            .find(|t| t.tag == tag)
            .map_or(0, |t| t.machines)
    }

    /// Up to `limit` tags in use that `tag` is probably a misspelling of: the same ignoring
    /// case, or within a small edit distance (a quarter of its length, at least 1, at most 3),
    /// closest first, then most used. Empty when `tag` itself is in use.
    pub fn closest(&self, tag: &str, limit: usize) -> Vec<&TagCount> {
        if self.count(tag) > 0 {
            return Vec::new();
        }
        let folded = tag.to_lowercase();
        let budget = (folded.chars().count() / 4).clamp(1, 3);
        let mut near: Vec<(usize, &TagCount)> = self
            .tags
            .iter()
            .filter_map(|t| {
                let d = strsim::levenshtein(&folded, &t.tag.to_lowercase());
                (d <= budget).then_some((d, t))
            })
            .collect();
        near.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.machines.cmp(&a.1.machines)));
        near.into_iter().take(limit).map(|(_, t)| t).collect()
    }

    /// The other spellings of `tag` already in use (empty when there are none).
    pub fn case_variants_of(&self, tag: &str) -> Vec<&TagCount> {
        self.tags
            .iter()
            .filter(|t| t.tag != tag && crate::model::eq_ignore_case(&t.tag, tag))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MachineId;

    fn machine(n: usize, tags: &[&str]) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.machine_tags = tags.iter().map(|t| (*t).to_owned()).collect();
        m
    }

    #[test]
    fn counts_clusters_and_flags() {
        let long = "x".repeat(201);
        let ms = vec![
            machine(1, &["Finance", "VIP (EU)", "Finance"]),
            machine(2, &["finance", "Finance"]),
            machine(3, &[]),
            machine(4, &[long.as_str()]),
        ];
        let inv = inventory(&ms);
        assert_eq!((inv.machines, inv.untagged), (4, 1));
        assert_eq!(
            inv.tags[0],
            TagCount {
                tag: "Finance".into(),
                machines: 2
            }
        );
        assert_eq!(inv.case_variants.len(), 1);
        assert_eq!(inv.case_variants[0].variants[0].tag, "Finance");
        assert_eq!(inv.case_variants[0].variants[1].tag, "finance");
        assert_eq!(inv.breaks_portal_filter[0].tag, "VIP (EU)");
        assert!(matches!(
            inv.invalid[0].error,
            TagError::TooLong { chars: 201, .. }
        ));
        assert_eq!(inv.suggest("fin", &[], 10).len(), 2);
        assert_eq!(inv.suggest("fin", &[], 1)[0].tag, "Finance");
        let names = |v: Vec<&TagCount>| v.into_iter().map(|t| t.tag.clone()).collect::<Vec<_>>();
        // Prefix matches before inner matches; excluded tags left out.
        assert_eq!(names(inv.suggest("EU", &[], 10)), vec!["VIP (EU)"]);
        assert_eq!(
            names(inv.suggest("fin", &["Finance".to_owned()], 10)),
            vec!["finance"]
        );
        let mut inv = inv;
        inv.add_use("finance");
        inv.add_use("finance");
        assert_eq!(inv.tags[0].tag, "finance");
        inv.add_use("new");
        assert!(inv.tags.iter().any(|t| t.tag == "new" && t.machines == 1));
        assert_eq!(inv.case_variants_of("FINANCE").len(), 2);
    }

    proptest::proptest! {
        /// Each tag's count is the number of machines carrying it, however often a machine
        /// repeats it; untagged machines are counted apart.
        #[test]
        fn a_tag_counts_the_machines_that_carry_it(
            tag_lists in proptest::collection::vec(
                proptest::collection::vec("[aAb]{1,2}", 0..5),
                0..20,
            ),
        ) {
            let ms: Vec<Machine> = tag_lists
                .iter()
                .enumerate()
                .map(|(n, tags)| {
                    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                    machine(n, &tags)
                })
                .collect();
            let inv = inventory(&ms);
            proptest::prop_assert_eq!(inv.untagged, ms.iter().filter(|m| m.machine_tags.is_empty()).count());
            let mut all: Vec<&String> = tag_lists.iter().flatten().collect();
            all.sort();
            all.dedup();
            proptest::prop_assert_eq!(inv.tags.len(), all.len());
            for t in all {
                let carrying = ms.iter().filter(|m| m.has_tag(t)).count();
                proptest::prop_assert_eq!(inv.count(t), carrying, "{}", t);
            }
        }
    }

    #[test]
    fn closest_names_the_spelling_in_use_for_a_tag_nobody_has() {
        let mut a = Machine::new(crate::model::MachineId::parse(&"a".repeat(40)).unwrap());
        a.machine_tags = vec!["Finance".into(), "Pilot-Wave-2".into()];
        let mut b = Machine::new(crate::model::MachineId::parse(&"b".repeat(40)).unwrap());
        b.machine_tags = vec!["Finance".into(), "Pilot-Wave-3".into()];
        let inv = inventory([&a, &b]);
        let names = |t: &str| {
            inv.closest(t, 3)
                .iter()
                .map(|c| c.tag.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("finance"), ["Finance"]);
        assert_eq!(names("Finanse"), ["Finance"]);
        assert_eq!(names("Pilot-Wave-4"), ["Pilot-Wave-2", "Pilot-Wave-3"]);
        assert!(
            names("Finance").is_empty(),
            "a tag in use needs no suggestion"
        );
        assert!(names("Marketing").is_empty(), "nothing close");
        assert_eq!(inv.count("Finance"), 2);
        assert_eq!(inv.count("finance"), 0);
    }
}
