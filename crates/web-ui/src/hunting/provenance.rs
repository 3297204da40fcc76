//! Where the loaded machines' tags come from (manual, registry, rule), read with one hunting
//! query (core's `provenance_query`: the machines by id when they are few, else the whole
//! tenant in one call) and cached for this page load.
//!
//! Freshness: an answer is reused for [`FRESH_MS`] (10 minutes) for every machine it covers.
//! Hunting data trails the API anyway (a device reports its registry tag about daily, rules
//! run about hourly), so a fresher answer would not be truer, and a page of chips costs at
//! most one hunting call per 10 minutes out of the 45/min quota. The cache is per tenant
//! because the app reloads on a tenant switch (`crate::site::switch_tenant`).
//!
//! Without the permission (or on any failure) nothing changes but a one-line reason: chips show
//! as before, removals plan as before.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use defender_tags_core::MachineId;
use defender_tags_core::hunting::{TagProvenance, TagSource, decode_provenance, provenance_query};
use defender_tags_wasm::LocalBoxFuture;
use leptos::prelude::*;

use crate::api::BackendRef;
use crate::hunting::{Hunter, HuntingAccess, sentence};
use crate::routes::lazy::PageLoadError;
use crate::state::now_ms;
use crate::table::Loaded;

/// How long an answer is reused.
pub const FRESH_MS: i64 = 10 * 60 * 1000;

/// One answer and what it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The sources, per machine seen in hunting data.
    pub sources: TagProvenance,
    /// The query asked for every device of the tenant.
    pub whole_tenant: bool,
    /// The machines it asked for by id (empty when `whole_tenant`).
    pub asked: HashSet<MachineId>,
    /// When it arrived (ms since the epoch).
    pub fetched_ms: i64,
}

impl Snapshot {
    /// Whether it answers for every one of `ids` and is still fresh at `now`.
    pub fn covers(&self, ids: &[MachineId], now: i64) -> bool {
        now - self.fetched_ms < FRESH_MS
            && (self.whole_tenant || ids.iter().all(|id| self.asked.contains(id)))
    }

    /// The sources of `tag` on `id`: `None` when hunting data has not seen the machine (its
    /// tags' sources are unknown) or the tag (added after the machine's latest report).
    pub fn source_of(&self, id: &MachineId, tag: &str) -> Option<TagSource> {
        let sources = self.sources.sources_of(id, tag)?;
        // A tag set by the registry or a rule is that, whatever else also sets it: that is
        // what decides whether a removal sticks.
        [TagSource::Registry, TagSource::Rule, TagSource::Manual]
            .into_iter()
            .find(|s| sources.contains(s))
    }
}

/// How many machines carry a tag, by where it comes from on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceCounts {
    /// Set by hand.
    pub manual: usize,
    /// Set by the device's registry value.
    pub registry: usize,
    /// Set by a dynamic rule.
    pub rule: usize,
    /// Not known (the machine or the tag is not in hunting data yet).
    pub unknown: usize,
}

impl SourceCounts {
    /// "12 manual · 3 registry · 0 rule · 1 unknown" (parts that are zero left out, except
    /// manual).
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} manual", self.manual)];
        for (n, what) in [
            (self.registry, "registry"),
            (self.rule, "rule"),
            (self.unknown, "unknown"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(" \u{b7} ")
    }
}

/// Per tag (exact spelling), its machines split by source, as `snap` knows them.
pub fn counts_by_source(
    machines: &[defender_tags_core::Machine],
    snap: &Snapshot,
) -> std::collections::HashMap<String, SourceCounts> {
    let mut out: std::collections::HashMap<String, SourceCounts> = std::collections::HashMap::new();
    for m in machines {
        for tag in &m.machine_tags {
            let c = out.entry(tag.clone()).or_default();
            match snap.source_of(&m.id, tag) {
                Some(TagSource::Manual) => c.manual += 1,
                Some(TagSource::Registry) => c.registry += 1,
                Some(TagSource::Rule) => c.rule += 1,
                None => c.unknown += 1,
            }
        }
    }
    out
}

/// What is known now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProvenanceState {
    /// The latest answer.
    pub snapshot: Option<Arc<Snapshot>>,
    /// A query is on its way.
    pub loading: bool,
    /// Why sources are not shown (no permission, a failed query); one sentence.
    pub unavailable: Option<String>,
}

/// The page's tag provenance (in context; see `AppState::provide_for`).
#[derive(Debug, Clone, Copy)]
pub struct ProvenanceCtx(
    pub RwSignal<ProvenanceState>,
    /// The machines the search page has loaded (asked for together when a chip needs one).
    StoredValue<Option<Arc<Loaded>>>,
);

impl ProvenanceCtx {
    /// An empty cache.
    pub fn new() -> Self {
        Self(
            RwSignal::new(ProvenanceState::default()),
            StoredValue::new(None),
        )
    }

    /// Remembers the machines the search page shows (nothing is asked yet).
    pub fn set_loaded(self, loaded: Arc<Loaded>) {
        self.1.set_value(Some(loaded));
    }

    /// [`Self::ensure`] for a chip of machine `id`: the sources of every loaded machine in the
    /// same query when `id` is one of them, so opening machine after machine costs one call.
    pub fn ensure_for(self, backend: Option<BackendRef>, id: &MachineId) {
        let ids = self
            .1
            .with_value(|l| {
                l.as_ref()
                    .filter(|l| l.machines.iter().any(|m| &m.id == id))
                    .map(|l| l.machines.iter().map(|m| m.id.clone()).collect::<Vec<_>>())
            })
            .unwrap_or_else(|| vec![id.clone()]);
        // A fresh answer covering this machine is enough, whatever else is loaded.
        let fresh = self.0.with_untracked(|s| {
            s.snapshot
                .as_ref()
                .is_some_and(|snap| snap.covers(std::slice::from_ref(id), now_ms()))
        });
        if !fresh {
            self.ensure(backend, ids);
        }
    }

    /// Makes sure the sources of `ids` are known (or why not), with one hunting query when
    /// the cache does not cover them. Does nothing while a query is on its way, or once hunting
    /// was found unavailable in this page load.
    pub fn ensure(self, backend: Option<BackendRef>, ids: Vec<MachineId>) {
        if ids.is_empty() {
            return;
        }
        let covered = self.0.with_untracked(|s| {
            s.loading
                || s.unavailable.is_some()
                || s.snapshot
                    .as_ref()
                    .is_some_and(|snap| snap.covers(&ids, now_ms()))
        });
        if covered {
            return;
        }
        // A backend without hunting (an embedded component with its own token callback) shows
        // chips as it always did, without a note.
        let Some(hunter) = backend.and_then(|b| b.0.hunter()) else {
            return;
        };
        self.0.update(|s| s.loading = true);
        leptos::task::spawn_local(async move {
            // Asked before the query's code loads: without the permission it never does.
            let outcome = match hunter.access().await {
                HuntingAccess::Unavailable(why) => Err(format!(
                    "Tag sources (manual, registry, rule) are not shown. {why}"
                )),
                HuntingAccess::Allowed => {
                    #[cfg(feature = "split")]
                    let read = dt_hunting_read_sources(hunter, ids).await;
                    #[cfg(not(feature = "split"))]
                    let read = dt_hunting_read_sources(hunter, ids);
                    match read {
                        Ok(reading) => reading.await,
                        Err(PageLoadError) => Err(
                            "Tag sources (manual, registry, rule) are not shown: the code that \
                             reads them could not be downloaded. Check the connection and reload \
                             the page."
                                .to_owned(),
                        ),
                    }
                }
            };
            self.0.update(|s| {
                s.loading = false;
                match outcome {
                    Ok(snap) => s.snapshot = Some(Arc::new(snap)),
                    Err(why) => s.unavailable = Some(why),
                }
            });
        });
    }
}

/// The sources of `ids`: one hunting query and its decoding. Part of the hunting code's split
/// point in the site's release build (`crate::hunting`), so the search page does not download it
/// until a tag chip asks.
#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(dt_hunting, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn dt_hunting_read_sources(
    hunter: Rc<dyn Hunter>,
    ids: Vec<MachineId>,
) -> Result<LocalBoxFuture<'static, Result<Snapshot, String>>, PageLoadError> {
    Ok(Box::pin(async move {
        let (query, whole_tenant) = provenance_query(&ids);
        let result = hunter.run(query).await.map_err(|e| {
            format!(
                "Tag sources (manual, registry, rule) could not be read: {}",
                e.message
            )
        })?;
        let sources = decode_provenance(&result).map_err(|e| {
            format!(
                "Tag sources (manual, registry, rule) could not be read: {}",
                sentence(&e.to_string())
            )
        })?;
        Ok(Snapshot {
            sources,
            whole_tenant,
            asked: if whole_tenant {
                HashSet::new()
            } else {
                ids.into_iter().collect()
            },
            fetched_ms: now_ms(),
        })
    }))
}

impl Default for ProvenanceCtx {
    fn default() -> Self {
        Self::new()
    }
}

/// The page's provenance, where there is one (the embedded components have none).
pub fn use_provenance() -> Option<ProvenanceCtx> {
    use_context::<ProvenanceCtx>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::hunting::MachineTagSources;

    fn id(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    #[test]
    fn a_snapshot_covers_what_it_asked_while_fresh_and_names_the_deciding_source() {
        let mut sources = TagProvenance::default();
        sources.machines.insert(
            id(1),
            MachineTagSources {
                manual: vec!["VIP".into(), "Kiosk".into()],
                registry: vec!["Kiosk".into()],
                rule: vec!["Fleet".into()],
            },
        );
        let snap = Snapshot {
            sources,
            whole_tenant: false,
            asked: [id(1), id(2)].into_iter().collect(),
            fetched_ms: 1_000,
        };
        assert!(snap.covers(&[id(1), id(2)], 1_000 + FRESH_MS - 1));
        assert!(!snap.covers(&[id(1)], 1_000 + FRESH_MS), "stale");
        assert!(!snap.covers(&[id(3)], 1_000), "not asked");
        let whole = Snapshot {
            whole_tenant: true,
            asked: HashSet::new(),
            ..snap.clone()
        };
        assert!(whole.covers(&[id(3)], 1_000));
        assert_eq!(snap.source_of(&id(1), "vip"), Some(TagSource::Manual));
        assert_eq!(
            snap.source_of(&id(1), "Kiosk"),
            Some(TagSource::Registry),
            "registry wins over manual: a removal would not stick"
        );
        assert_eq!(snap.source_of(&id(1), "Fleet"), Some(TagSource::Rule));
        assert_eq!(
            snap.source_of(&id(1), "New"),
            None,
            "added after the report"
        );
        assert_eq!(snap.source_of(&id(2), "VIP"), None, "not in hunting data");

        let machine = |n: u8, tags: &[&str]| {
            let mut m = defender_tags_core::Machine::new(id(n));
            m.machine_tags = tags.iter().map(|t| (*t).to_owned()).collect();
            m
        };
        let counts = counts_by_source(
            &[machine(1, &["VIP", "Kiosk", "Fleet"]), machine(2, &["VIP"])],
            &snap,
        );
        assert_eq!(
            counts["VIP"],
            SourceCounts {
                manual: 1,
                unknown: 1,
                ..SourceCounts::default()
            }
        );
        assert_eq!(counts["Kiosk"].registry, 1);
        assert_eq!(counts["Fleet"].rule, 1);
        assert_eq!(counts["VIP"].describe(), "1 manual \u{b7} 1 unknown");
        assert_eq!(counts["Fleet"].describe(), "0 manual \u{b7} 1 rule");
    }
}
