//! Planner properties: call sizes, coverage, and inverse ∘ plan == identity.

use std::collections::{BTreeSet, HashMap};

use defender_tags_core::plan::{ExpectedOutcome, MachineState, PlannedCall, plan};
use defender_tags_core::{MAX_BULK_IDS, MachineId, Tag, TagAction};
use proptest::prelude::*;

fn id(n: u16) -> MachineId {
    MachineId::parse(&format!("{n:040x}")).unwrap()
}

const TAGS: [&str; 4] = ["Finance", "finance", "VIP", "Lab (EU)"];

fn tags() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(TAGS.to_vec()), 0..4).prop_map(|v| {
        let set: BTreeSet<String> = v.into_iter().map(str::to_owned).collect();
        set.into_iter().collect()
    })
}

fn machines(known_only: bool) -> impl Strategy<Value = Vec<MachineState>> {
    // Ids drawn from a range smaller than the count so duplicates occur; sizes cross 500.
    prop::collection::vec(
        (
            0u16..1_400,
            tags(),
            prop::bool::weighted(if known_only { 1.0 } else { 0.7 }),
        ),
        0..1_300,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(n, t, known)| MachineState {
                id: id(n),
                name: None,
                tags: known.then_some(t),
            })
            .collect()
    })
}

fn action() -> impl Strategy<Value = TagAction> {
    prop_oneof![Just(TagAction::Add), Just(TagAction::Remove)]
}

fn tag() -> impl Strategy<Value = Tag> {
    prop::sample::select(TAGS.to_vec()).prop_map(|t| Tag::parse(t).unwrap())
}

/// The tag sets after applying calls, the way the service does (exact match, idempotent).
fn apply(state: &mut HashMap<MachineId, Vec<String>>, calls: &[PlannedCall]) {
    for call in calls {
        for id in call.machine_ids() {
            let tags = state.entry(id.clone()).or_default();
            call.action().apply(tags, call.tag().as_str());
        }
    }
}

fn as_sets(state: &HashMap<MachineId, Vec<String>>) -> HashMap<MachineId, BTreeSet<String>> {
    state
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn calls_are_minimal_bounded_and_cover_exactly_the_needed_changes(
        ms in machines(false), t in tag(), a in action(),
    ) {
        let p = plan(&t, a, &ms);
        let mut seen = BTreeSet::new();
        for call in &p.calls {
            let n = call.machine_ids().len();
            prop_assert!((1..=MAX_BULK_IDS).contains(&n));
            prop_assert_eq!(matches!(call, PlannedCall::Single { .. }), n == 1);
            prop_assert_eq!(call.tag(), &t);
            prop_assert_eq!(call.action(), a);
            for id in call.machine_ids() {
                prop_assert!(seen.insert(id.clone()), "id {} in two calls", id);
            }
        }
        let needed: BTreeSet<MachineId> = p
            .outcomes
            .iter()
            .filter(|o| o.expected != ExpectedOutcome::AlreadyInPlace)
            .map(|o| o.id.clone())
            .collect();
        prop_assert_eq!(&seen, &needed);
        prop_assert_eq!(p.calls.len(), needed.len().div_ceil(MAX_BULK_IDS));
        let distinct: BTreeSet<&MachineId> = ms.iter().map(|m| &m.id).collect();
        prop_assert_eq!(p.outcomes.len(), distinct.len());
        prop_assert_eq!(p.requests().len(), p.calls.len());
    }

    #[test]
    fn plan_reaches_the_goal_and_inverse_restores_every_tag_set(
        ms in machines(true), t in tag(), a in action(),
    ) {
        let mut state: HashMap<MachineId, Vec<String>> = HashMap::new();
        for m in &ms {
            state.entry(m.id.clone()).or_insert_with(|| m.tags.clone().unwrap_or_default());
        }
        // Duplicates keep the first known state, as the planner does.
        let before = as_sets(&state);
        let p = plan(&t, a, &ms);
        apply(&mut state, &p.calls);
        for tags in state.values() {
            prop_assert_eq!(tags.iter().any(|x| x == t.as_str()), a == TagAction::Add);
        }
        let inv = p.inverse();
        prop_assert!(inv.calls.iter().all(|c| c.machine_ids().len() <= MAX_BULK_IDS));
        apply(&mut state, &inv.calls);
        prop_assert_eq!(as_sets(&state), before);
    }

    #[test]
    fn inverse_never_touches_machines_of_unknown_state(ms in machines(false), t in tag(), a in action()) {
        let p = plan(&t, a, &ms);
        let unknown: BTreeSet<&MachineId> = p
            .outcomes
            .iter()
            .filter(|o| o.expected == ExpectedOutcome::UnknownSendAnyway)
            .map(|o| &o.id)
            .collect();
        for call in &p.inverse().calls {
            prop_assert_eq!(call.action(), a.inverse());
            for id in call.machine_ids() {
                prop_assert!(!unknown.contains(id));
            }
        }
    }
}
