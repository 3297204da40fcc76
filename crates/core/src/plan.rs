//! Planning a bulk tag change: the fewest calls, what each machine should expect, and the plan
//! that undoes it.
//!
//! "Already in place" uses exact (case-sensitive) tag comparison, because that predicts what an
//! Add/Remove call does to the stored tags ([`TagAction::apply`]). Case-only variants
//! ("Finance" vs "finance") are reported as warnings so a person can decide.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;
use thiserror::Error;

use crate::api::{self, ApiRequest};
use crate::hunting::{TagProvenance, TagSource};
use crate::model::{Machine, MachineId, Tag, TagAction, TagWarning, eq_ignore_case};
use crate::wire::{BulkTagBody, MAX_BULK_IDS};

/// A target machine and what is known of its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, for display.
    pub name: Option<String>,
    /// Its current tags, or `None` if unknown (then the call is sent anyway).
    pub tags: Option<Vec<String>>,
}

impl MachineState {
    /// A machine whose tags are unknown.
    pub fn unknown(id: MachineId) -> Self {
        Self {
            id,
            name: None,
            tags: None,
        }
    }

    /// The known state of a machine read from the API.
    pub fn from_machine(m: &Machine) -> Self {
        Self {
            id: m.id.clone(),
            name: m.computer_dns_name.clone(),
            tags: Some(m.machine_tags.clone()),
        }
    }
}

impl From<&Machine> for MachineState {
    fn from(m: &Machine) -> Self {
        Self::from_machine(m)
    }
}

/// What a machine should expect from the plan (serialised camelCase, e.g. `"willChange"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectedOutcome {
    /// Its tags will change; it is in a call.
    WillChange,
    /// It already has (Add) or lacks (Remove) the tag; no call is made for it.
    AlreadyInPlace,
    /// Its tags are unknown; it is in a call, which is harmless if it was already in place.
    UnknownSendAnyway,
}

/// One machine's line in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineOutcome {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, if known.
    pub name: Option<String>,
    /// What to expect.
    pub expected: ExpectedOutcome,
}

/// Something a person should look at before running the plan.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlanWarning {
    /// A warning about the tag itself.
    #[error(transparent)]
    Tag(#[from] TagWarning),
    /// The machine has a tag that differs from ours only in case.
    #[error(
        "machine {machine_id} already has the tag {existing:?}, which differs from {requested:?} \
         only in case; {hint}"
    )]
    CaseVariant {
        /// The machine.
        machine_id: MachineId,
        /// Its tag.
        existing: String,
        /// The planned tag.
        requested: String,
        /// What will happen.
        hint: &'static str,
    },
    /// The machine was listed more than once; it is planned once.
    #[error("machine {id} is listed {count} times; it is included once")]
    DuplicateMachine {
        /// The machine.
        id: MachineId,
        /// How often it was listed.
        count: usize,
    },
    /// Planned removals that will not stick, one warning per source: on these machines the
    /// device's registry value or a dynamic rule sets the tag, so it comes back (hunting data,
    /// [`TagProvenance`]; docs/defender-api.md §14). Added by [`Plan::warn_by_provenance`].
    #[error(
        "{} {}: {}",
        .machines.len(),
        if .machines.len() == 1 { "machine" } else { "machines" },
        .from.removal_advice(tag)
    )]
    RemovalWillNotStick {
        /// The machines, in plan order.
        machines: Vec<MachineId>,
        /// The planned tag.
        tag: String,
        /// What sets it there (never [`TagSource::Manual`]).
        from: TagSource,
    },
}

/// One API call of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedCall {
    /// `POST /api/machines/{id}/tags` (used when a call has one machine).
    Single {
        /// The machine.
        machine_id: MachineId,
        /// The tag.
        tag: Tag,
        /// Add or remove.
        action: TagAction,
    },
    /// `POST /api/machines/AddOrRemoveTagForMultipleMachines` (2..=500 machines).
    Bulk(BulkTagBody),
}

impl PlannedCall {
    /// The machines this call touches.
    pub fn machine_ids(&self) -> &[MachineId] {
        match self {
            PlannedCall::Single { machine_id, .. } => std::slice::from_ref(machine_id),
            PlannedCall::Bulk(b) => b.machine_ids(),
        }
    }

    /// The tag.
    pub fn tag(&self) -> &Tag {
        match self {
            PlannedCall::Single { tag, .. } => tag,
            PlannedCall::Bulk(b) => b.value(),
        }
    }

    /// The action.
    pub fn action(&self) -> TagAction {
        match self {
            PlannedCall::Single { action, .. } => *action,
            PlannedCall::Bulk(b) => b.action(),
        }
    }

    /// The request to send.
    pub fn to_request(&self) -> ApiRequest {
        match self {
            PlannedCall::Single {
                machine_id,
                tag,
                action,
            } => api::set_tag(machine_id, tag, *action),
            PlannedCall::Bulk(b) => api::bulk_request(b),
        }
    }

    /// The same change as single-machine calls (a fallback for tenants where the bulk endpoint
    /// answers 403 but single calls work, as one third-party script reports).
    pub fn split_into_singles(&self) -> Vec<PlannedCall> {
        self.machine_ids()
            .iter()
            .map(|id| PlannedCall::Single {
                machine_id: id.clone(),
                tag: self.tag().clone(),
                action: self.action(),
            })
            .collect()
    }
}

/// Counts for a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// Machines whose tags will change.
    pub will_change: usize,
    /// Machines already in the desired state.
    pub already_in_place: usize,
    /// Machines with unknown tags (sent anyway).
    pub unknown: usize,
    /// API calls.
    pub calls: usize,
}

/// A planned tag change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The tag.
    pub tag: Tag,
    /// Add or remove.
    pub action: TagAction,
    /// The calls, in order; every machine id appears in at most one.
    pub calls: Vec<PlannedCall>,
    /// One line per distinct machine, in input order.
    pub outcomes: Vec<MachineOutcome>,
    /// Things to review before running.
    pub warnings: Vec<PlanWarning>,
}

impl Plan {
    /// For a removal, warns where the tag will not stay removed because the machine's registry
    /// value or a dynamic rule sets it: one warning per source naming its machines, as far as
    /// `provenance` knows (a machine absent from it is not warned about: its sources are
    /// unknown). An add is never warned about. Returns how many warnings were added.
    pub fn warn_by_provenance(&mut self, provenance: &TagProvenance) -> usize {
        if self.action != TagAction::Remove {
            return 0;
        }
        let mut registry = Vec::new();
        let mut rule = Vec::new();
        for o in &self.outcomes {
            if o.expected == ExpectedOutcome::AlreadyInPlace {
                continue;
            }
            let Some(sources) = provenance.machines.get(&o.id) else {
                continue;
            };
            for from in sources.sources_of(self.tag.as_str()) {
                match from {
                    TagSource::Registry => registry.push(o.id.clone()),
                    TagSource::Rule => rule.push(o.id.clone()),
                    TagSource::Manual => {}
                }
            }
        }
        let mut added = 0;
        for (from, machines) in [(TagSource::Registry, registry), (TagSource::Rule, rule)] {
            if !machines.is_empty() {
                self.warnings.push(PlanWarning::RemovalWillNotStick {
                    machines,
                    tag: self.tag.as_str().to_owned(),
                    from,
                });
                added += 1;
            }
        }
        added
    }
}

/// Plans `action` of `tag` on `machines`: duplicates merged (known tags win over unknown),
/// no-ops dropped, at most 500 ids per bulk call, a single-machine call when a call would hold
/// one machine. The number of calls is `ceil(machines to send / 500)`, the minimum.
pub fn plan(tag: &Tag, action: TagAction, machines: &[MachineState]) -> Plan {
    /// A distinct machine: borrowed from `machines` (planning 100,000 machines used to clone
    /// each one two or three times), merged over its duplicates.
    struct Merged<'a> {
        id: &'a MachineId,
        name: Option<&'a String>,
        tags: Option<&'a [String]>,
        count: usize,
    }
    let mut index: HashMap<&MachineId, usize> = HashMap::with_capacity(machines.len());
    let mut merged: Vec<Merged<'_>> = Vec::with_capacity(machines.len());
    for m in machines {
        match index.entry(&m.id) {
            Entry::Occupied(e) => {
                let existing = &mut merged[*e.get()];
                existing.count += 1;
                if existing.tags.is_none() {
                    existing.tags = m.tags.as_deref();
                }
                if existing.name.is_none() {
                    existing.name = m.name.as_ref();
                }
            }
            Entry::Vacant(e) => {
                e.insert(merged.len());
                merged.push(Merged {
                    id: &m.id,
                    name: m.name.as_ref(),
                    tags: m.tags.as_deref(),
                    count: 1,
                });
            }
        }
    }
    drop(index);

    let mut warnings: Vec<PlanWarning> = tag
        .warnings_for(action)
        .into_iter()
        .map(PlanWarning::Tag)
        .collect();
    let mut outcomes = Vec::with_capacity(merged.len());
    let mut to_send: Vec<&MachineId> = Vec::with_capacity(merged.len());
    for state in &merged {
        let id = state.id;
        if state.count > 1 {
            warnings.push(PlanWarning::DuplicateMachine {
                id: id.clone(),
                count: state.count,
            });
        }
        let expected = match state.tags {
            None => ExpectedOutcome::UnknownSendAnyway,
            Some(tags) => {
                let has_exact = tags.iter().any(|t| t == tag.as_str());
                if let Some(variant) = tags
                    .iter()
                    .find(|t| *t != tag.as_str() && eq_ignore_case(t, tag.as_str()))
                {
                    warnings.push(PlanWarning::CaseVariant {
                        machine_id: id.clone(),
                        existing: variant.clone(),
                        requested: tag.as_str().to_owned(),
                        hint: match action {
                            TagAction::Add => "both spellings will be on the machine",
                            TagAction::Remove => {
                                "only the exact spelling is removed; remove the variant separately"
                            }
                        },
                    });
                }
                match (action, has_exact) {
                    (TagAction::Add, true) | (TagAction::Remove, false) => {
                        ExpectedOutcome::AlreadyInPlace
                    }
                    _ => ExpectedOutcome::WillChange,
                }
            }
        };
        if expected != ExpectedOutcome::AlreadyInPlace {
            to_send.push(id);
        }
        outcomes.push(MachineOutcome {
            id: id.clone(),
            name: state.name.cloned(),
            expected,
        });
    }

    Plan {
        tag: tag.clone(),
        action,
        calls: calls_for(tag, action, &to_send),
        outcomes,
        warnings,
    }
}

/// Chunks of at most 500 distinct ids (the caller's `ids` are distinct) into calls.
fn calls_for(tag: &Tag, action: TagAction, ids: &[&MachineId]) -> Vec<PlannedCall> {
    ids.chunks(MAX_BULK_IDS)
        .filter_map(|chunk| match chunk {
            [only] => Some(PlannedCall::Single {
                machine_id: (*only).clone(),
                tag: tag.clone(),
                action,
            }),
            // Chunks are 2..=500 distinct ids, so this cannot fail; filter_map keeps it panic-free.
            _ => BulkTagBody::new(
                tag.clone(),
                action,
                chunk.iter().map(|&id| id.clone()).collect(),
            )
            .ok()
            .map(PlannedCall::Bulk),
        })
        .collect()
}

impl Plan {
    /// The requests to send, in order.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.calls.iter().map(PlannedCall::to_request).collect()
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Counts for a preview.
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary {
            calls: self.calls.len(),
            ..PlanSummary::default()
        };
        for o in &self.outcomes {
            match o.expected {
                ExpectedOutcome::WillChange => s.will_change += 1,
                ExpectedOutcome::AlreadyInPlace => s.already_in_place += 1,
                ExpectedOutcome::UnknownSendAnyway => s.unknown += 1,
            }
        }
        s
    }

    /// The plan that undoes this one once it has fully succeeded: the inverse action, for the
    /// machines expected to change only. Machines whose tags were unknown are left out — we
    /// cannot tell whether the call changed them — unless named in [`Plan::inverse_for`].
    pub fn inverse(&self) -> Plan {
        let changed: Vec<MachineId> = self
            .outcomes
            .iter()
            .filter(|o| o.expected == ExpectedOutcome::WillChange)
            .map(|o| o.id.clone())
            .collect();
        self.inverse_for(&changed)
    }

    /// The plan that undoes the change on `changed` (the machines a run reports as actually
    /// changed). Ids not in this plan's calls, and machines already in place, are ignored.
    pub fn inverse_for(&self, changed: &[MachineId]) -> Plan {
        let sent: std::collections::HashSet<&MachineId> = self
            .calls
            .iter()
            .flat_map(PlannedCall::machine_ids)
            .collect();
        let changed: std::collections::HashSet<&MachineId> =
            changed.iter().filter(|id| sent.contains(id)).collect();
        let action = self.action.inverse();
        let outcomes: Vec<MachineOutcome> = self
            .outcomes
            .iter()
            .filter(|o| changed.contains(&o.id))
            .map(|o| MachineOutcome {
                id: o.id.clone(),
                name: o.name.clone(),
                expected: ExpectedOutcome::WillChange,
            })
            .collect();
        let ids: Vec<&MachineId> = outcomes.iter().map(|o| &o.id).collect();
        let calls = calls_for(&self.tag, action, &ids);
        Plan {
            tag: self.tag.clone(),
            action,
            calls,
            outcomes,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    fn known(n: usize, tags: &[&str]) -> MachineState {
        MachineState {
            id: id(n),
            name: Some(format!("ws-{n}")),
            tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        }
    }

    #[test]
    fn removing_a_registry_or_rule_tag_is_warned_about_with_what_would_remove_it() {
        use crate::hunting::MachineTagSources;
        let tag = Tag::parse("Kiosk").unwrap();
        let on = [
            known(1, &["Kiosk"]),
            known(2, &["Kiosk"]),
            known(3, &["Kiosk"]),
            known(4, &["Kiosk"]),
            known(5, &[]),
        ];
        let mut provenance = TagProvenance::default();
        let sources = |manual: &[&str], registry: &[&str], rule: &[&str]| MachineTagSources {
            manual: manual.iter().map(|t| (*t).to_owned()).collect(),
            registry: registry.iter().map(|t| (*t).to_owned()).collect(),
            rule: rule.iter().map(|t| (*t).to_owned()).collect(),
        };
        provenance
            .machines
            .insert(id(1), sources(&[], &["Kiosk"], &[]));
        provenance
            .machines
            .insert(id(2), sources(&[], &[], &["kiosk"]));
        provenance
            .machines
            .insert(id(3), sources(&["Kiosk"], &[], &[]));
        provenance
            .machines
            .insert(id(5), sources(&[], &["Kiosk"], &[]));
        // Machine 4 is not in hunting data: unknown, not warned about.
        provenance
            .machines
            .insert(id(6), sources(&[], &["Kiosk"], &["Kiosk"]));
        let on = [&on[..], &[known(6, &["Kiosk"])]].concat();
        let mut p = plan(&tag, TagAction::Remove, &on);
        let before = p.warnings.len();
        assert_eq!(p.warn_by_provenance(&provenance), 2);
        let added: Vec<(Vec<MachineId>, TagSource)> = p.warnings[before..]
            .iter()
            .map(|w| match w {
                PlanWarning::RemovalWillNotStick { machines, from, .. } => {
                    (machines.clone(), *from)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            added,
            [
                (vec![id(1), id(6)], TagSource::Registry),
                (vec![id(2), id(6)], TagSource::Rule)
            ],
            "machine 5 lacks the tag already, 3 is manual, 4 unknown"
        );
        let text = p.warnings[before].to_string();
        assert!(
            text.starts_with("2 machines: registry tag \u{201c}Kiosk\u{201d}"),
            "{text}"
        );
        assert!(text.contains("change the registry value"), "{text}");
        let text = p.warnings[before + 1].to_string();
        assert!(
            text.contains("remove or change the dynamic rule in the Defender portal"),
            "{text}"
        );
        // Adding the tag is never warned about.
        let mut add = plan(&tag, TagAction::Add, &on);
        assert_eq!(add.warn_by_provenance(&provenance), 0);
    }

    #[test]
    fn only_adding_a_tag_that_breaks_the_portal_filter_is_warned_about() {
        let tag = Tag::parse("Berlin, DE").unwrap();
        let on = [known(1, &["Berlin, DE"]), known(2, &[])];
        let is_tag_warning = |w: &PlanWarning| matches!(w, PlanWarning::Tag(_));
        assert!(
            plan(&tag, TagAction::Add, &on)
                .warnings
                .iter()
                .any(is_tag_warning)
        );
        assert!(
            !plan(&tag, TagAction::Remove, &on)
                .warnings
                .iter()
                .any(is_tag_warning),
            "removing it is the fix"
        );
    }

    #[test]
    fn drops_no_ops_and_uses_a_single_call_for_one_machine() {
        let tag = Tag::parse("Finance").unwrap();
        let p = plan(
            &tag,
            TagAction::Add,
            &[
                known(1, &["Finance"]),
                known(2, &[]),
                known(1, &["Finance"]),
            ],
        );
        assert_eq!(p.calls.len(), 1);
        assert!(
            matches!(&p.calls[0], PlannedCall::Single { machine_id, .. } if *machine_id == id(2))
        );
        assert_eq!(
            p.summary(),
            PlanSummary {
                will_change: 1,
                already_in_place: 1,
                unknown: 0,
                calls: 1
            }
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| matches!(w, PlanWarning::DuplicateMachine { count: 2, .. }))
        );
    }

    #[test]
    fn splits_at_500_and_sends_unknowns() {
        let tag = Tag::parse("t").unwrap();
        let machines: Vec<_> = (0..1001).map(|n| MachineState::unknown(id(n))).collect();
        let p = plan(&tag, TagAction::Remove, &machines);
        let sizes: Vec<usize> = p.calls.iter().map(|c| c.machine_ids().len()).collect();
        assert_eq!(sizes, vec![500, 500, 1]);
        assert!(matches!(p.calls[2], PlannedCall::Single { .. }));
        assert_eq!(p.summary().unknown, 1001);
        assert!(
            p.inverse().is_empty(),
            "unknown machines are not undone blindly"
        );
        assert_eq!(p.inverse_for(&[id(3), id(5000)]).calls.len(), 1);
    }

    #[test]
    fn duplicates_merge_into_the_first_entry_in_input_order() {
        let tag = Tag::parse("Finance").unwrap();
        let p = plan(
            &tag,
            TagAction::Add,
            &[
                MachineState::unknown(id(2)),
                known(1, &[]),
                MachineState {
                    id: id(2),
                    name: Some("later".into()),
                    tags: Some(vec!["Finance".into()]),
                },
                known(2, &[]),
            ],
        );
        // Machine 2 keeps its first position; its unknown tags and name come from the first
        // later entry that knows them, so it is already in place and not sent.
        let order: Vec<&MachineId> = p.outcomes.iter().map(|o| &o.id).collect();
        assert_eq!(order, [&id(2), &id(1)]);
        assert_eq!(p.outcomes[0].expected, ExpectedOutcome::AlreadyInPlace);
        assert_eq!(p.outcomes[0].name.as_deref(), Some("later"));
        assert_eq!(p.outcomes[1].expected, ExpectedOutcome::WillChange);
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].machine_ids(), [id(1)]);
        assert!(p.warnings.contains(&PlanWarning::DuplicateMachine {
            id: id(2),
            count: 3
        }));
    }

    #[test]
    fn warns_about_case_variants() {
        let tag = Tag::parse("Finance").unwrap();
        let p = plan(&tag, TagAction::Add, &[known(1, &["finance"])]);
        assert_eq!(p.outcomes[0].expected, ExpectedOutcome::WillChange);
        let w = p.warnings[0].to_string();
        assert!(
            w.contains("\"finance\"") && w.contains("only in case"),
            "{w}"
        );
        let p = plan(&tag, TagAction::Remove, &[known(1, &["finance"])]);
        assert_eq!(p.outcomes[0].expected, ExpectedOutcome::AlreadyInPlace);
        assert!(
            p.warnings[0]
                .to_string()
                .contains("remove the variant separately")
        );
    }

    #[test]
    fn calls_become_requests_via_api() {
        let tag = Tag::parse("t").unwrap();
        let p = plan(&tag, TagAction::Add, &[known(1, &[]), known(2, &[])]);
        let reqs = p.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].path,
            "/api/machines/AddOrRemoveTagForMultipleMachines"
        );
        assert_eq!(p.calls[0].split_into_singles().len(), 2);
        let inv = p.inverse();
        assert_eq!(inv.action, TagAction::Remove);
        assert_eq!(inv.calls[0].machine_ids(), &[id(1), id(2)]);
    }
}
