//! Re-planning from fresh state, just before a run.
//!
//! A preview is planned from a listing read seconds or hours earlier. If someone else added the
//! tag to a machine since, a run planned from that listing sends the machine anyway, the API
//! returns it tagged, and the run would report it "changed" and its undo would remove a tag this
//! run never added. So a run re-reads the tag's current holders (one `findbytag` call, see
//! docs/defender-api.md §3b) and re-plans: "applied" then means "changed by this run".
//!
//! `findbytag` matches without regard to case in the emulator and its case behaviour is not
//! documented for the real service, so its answer is treated as a superset: a machine counts as a
//! holder only when its returned tags contain the exact spelling, and a machine missing from the
//! answer does not carry the tag at all.

use std::collections::HashMap;

use crate::model::{MachineId, Tag, TaggedMachine};
use crate::plan::{ExpectedOutcome, MachineState, Plan, plan};

/// A machine whose expected outcome differs between the old plan and the fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, if known.
    pub name: Option<String>,
    /// What the old plan expected.
    pub was: ExpectedOutcome,
    /// What the fresh plan expects.
    pub now: ExpectedOutcome,
}

/// The fresh plan, the states it was made from, and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Replanned {
    /// The plan from the current state.
    pub plan: Plan,
    /// Each machine's state as re-read (its tags are now known).
    pub states: Vec<MachineState>,
    /// Machines whose expected outcome changed, in plan order.
    pub drift: Vec<Drift>,
}

/// Re-plans `old` (made from `states`) given `holders`: the machines a `findbytag` for
/// `old.tag` returned, with their current tags.
///
/// Machines keep their place in the plan; a machine returned with its tags gets exactly those,
/// and a machine not returned gets its old tags without the plan's tag (or none, if they were
/// unknown). Machines of `holders` that are not in the plan are ignored: a re-read never widens a
/// run.
pub fn replan(old: &Plan, states: &[MachineState], holders: &[TaggedMachine]) -> Replanned {
    let tag: &Tag = &old.tag;
    let current: HashMap<&MachineId, &TaggedMachine> = holders
        .iter()
        .filter(|m| m.has_tag(tag.as_str()))
        .map(|m| (&m.id, m))
        .collect();
    let fresh: Vec<MachineState> = states
        .iter()
        .map(|s| {
            let tags = match current.get(&s.id) {
                Some(m) => m.machine_tags.clone(),
                None => {
                    let mut tags = s.tags.clone().unwrap_or_default();
                    tags.retain(|t| t != tag.as_str());
                    tags
                }
            };
            MachineState {
                id: s.id.clone(),
                name: s.name.clone(),
                tags: Some(tags),
            }
        })
        .collect();
    let new_plan = plan(tag, old.action, &fresh);
    let was: HashMap<&MachineId, ExpectedOutcome> =
        old.outcomes.iter().map(|o| (&o.id, o.expected)).collect();
    let drift = new_plan
        .outcomes
        .iter()
        .filter_map(|o| {
            let before = *was.get(&o.id)?;
            // Unknown tags that turn out to need the change were going to be sent anyway.
            let same = before == o.expected
                || (before == ExpectedOutcome::UnknownSendAnyway
                    && o.expected == ExpectedOutcome::WillChange);
            (!same).then(|| Drift {
                id: o.id.clone(),
                name: o.name.clone(),
                was: before,
                now: o.expected,
            })
        })
        .collect();
    Replanned {
        plan: new_plan,
        states: fresh,
        drift,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TagAction;
    use proptest::prelude::*;

    fn id(n: u32) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    fn state(n: u32, tags: Option<&[&str]>) -> MachineState {
        MachineState {
            id: id(n),
            name: Some(format!("ws-{n}")),
            tags: tags.map(|t| t.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn holder(n: u32, tags: &[&str]) -> TaggedMachine {
        TaggedMachine {
            id: id(n),
            machine_tags: tags.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn sent(p: &Plan) -> Vec<MachineId> {
        p.calls
            .iter()
            .flat_map(|c| c.machine_ids().iter().cloned())
            .collect()
    }

    #[test]
    fn a_tag_added_by_someone_else_since_the_preview_is_not_sent_again() {
        let tag = Tag::parse("Pilot").unwrap();
        let states = [
            state(1, Some(&[])),
            state(2, Some(&[])),
            state(3, Some(&[])),
        ];
        let old = plan(&tag, TagAction::Add, &states);
        assert_eq!(sent(&old).len(), 3);
        let r = replan(&old, &states, &[holder(2, &["Pilot", "Other"])]);
        assert_eq!(sent(&r.plan), vec![id(1), id(3)]);
        assert_eq!(
            r.drift,
            vec![Drift {
                id: id(2),
                name: Some("ws-2".into()),
                was: ExpectedOutcome::WillChange,
                now: ExpectedOutcome::AlreadyInPlace,
            }]
        );
        assert_eq!(r.states[1].tags.as_deref().unwrap(), ["Pilot", "Other"]);
    }

    #[test]
    fn a_tag_removed_by_someone_else_is_added_back_and_reported() {
        let tag = Tag::parse("Pilot").unwrap();
        let states = [state(1, Some(&["Pilot"])), state(2, Some(&[]))];
        let old = plan(&tag, TagAction::Add, &states);
        assert_eq!(sent(&old), vec![id(2)]);
        let r = replan(&old, &states, &[]);
        assert_eq!(sent(&r.plan), vec![id(1), id(2)]);
        assert_eq!(r.drift.len(), 1);
        assert_eq!(r.drift[0].now, ExpectedOutcome::WillChange);
    }

    #[test]
    fn only_the_exact_spelling_counts_and_holders_outside_the_plan_are_ignored() {
        let tag = Tag::parse("Pilot").unwrap();
        let states = [state(1, None), state(2, Some(&["Pilot"]))];
        let old = plan(&tag, TagAction::Remove, &states);
        // findbytag may match without regard to case: ws-1 carries only "pilot".
        let r = replan(
            &old,
            &states,
            &[holder(1, &["pilot"]), holder(9, &["Pilot"])],
        );
        assert!(sent(&r.plan).is_empty(), "{:?}", r.plan);
        assert_eq!(r.plan.outcomes.len(), 2);
        // Unknown → already in place is drift; known and unchanged is not.
        assert_eq!(r.drift.len(), 2);
        assert!(r.states.iter().all(|s| s.tags.is_some()));
    }

    proptest! {
        /// Whatever the old plan believed, the fresh plan sends exactly the machines whose
        /// current tags need the change, and drift lists exactly the machines whose expectation
        /// moved (other than unknown → will change).
        #[test]
        fn the_fresh_plan_follows_the_current_state(
            believed in proptest::collection::vec(proptest::option::of(any::<bool>()), 1..40),
            actual in proptest::collection::vec(any::<bool>(), 40),
            add in any::<bool>(),
        ) {
            let tag = Tag::parse("T").unwrap();
            let action = if add { TagAction::Add } else { TagAction::Remove };
            let states: Vec<MachineState> = believed
                .iter()
                .enumerate()
                .map(|(i, b)| state(i as u32 + 1, b.map(|has| if has { &["T"][..] } else { &[][..] })))
                .collect();
            let old = plan(&tag, action, &states);
            let holders: Vec<TaggedMachine> = (0..states.len())
                .filter(|&i| actual[i])
                .map(|i| holder(i as u32 + 1, &["T"]))
                .collect();
            let r = replan(&old, &states, &holders);
            let want: Vec<MachineId> = (0..states.len())
                .filter(|&i| actual[i] != add)
                .map(|i| id(i as u32 + 1))
                .collect();
            prop_assert_eq!(sent(&r.plan), want);
            for (i, o) in r.plan.outcomes.iter().enumerate() {
                let was = old.outcomes[i].expected;
                let moved = was != o.expected
                    && !(was == ExpectedOutcome::UnknownSendAnyway && o.expected == ExpectedOutcome::WillChange);
                prop_assert_eq!(moved, r.drift.iter().any(|d| d.id == o.id));
            }
        }
    }
}
