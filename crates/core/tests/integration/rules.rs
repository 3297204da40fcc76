//! Rule planning properties: a run of an exact rule converges (a second dry run has nothing to
//! do), and the plans it produces are the ones applied.

use defender_tags_core::MachineRef;
use defender_tags_core::hunting::HuntingQuery;
use defender_tags_core::rules::{
    HuntingAnswers, RuleMode, RulesFile, parse_rules_file, plan_rules,
};
use defender_tags_core::{Machine, MachineId, TagAction};
use proptest::prelude::*;

const TAGS: [&str; 4] = ["Finance", "finance", "VIP", "Lab"];
const OSES: [&str; 3] = ["Windows11", "Windows10", "Linux"];
const RISKS: [&str; 3] = ["Low", "Medium", "High"];

fn machines() -> impl Strategy<Value = Vec<Machine>> {
    prop::collection::vec(
        (
            prop::sample::select(OSES.to_vec()),
            prop::sample::select(RISKS.to_vec()),
            prop::collection::btree_set(prop::sample::select(TAGS.to_vec()), 0..4),
        ),
        0..60,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(n, (os, risk, tags))| {
                let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
                m.computer_dns_name = Some(format!("host{n}"));
                m.os_platform = Some(os.to_owned());
                m.risk_score = Some(risk.parse().unwrap());
                m.machine_tags = tags.into_iter().map(str::to_owned).collect();
                m
            })
            .collect()
    })
}

/// A saved search over the generated fields, including searches on the rule's own tag (the
/// case that could flip-flop if planning ignored what the run itself changes).
fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(OSES.to_vec()).prop_map(|os| format!("os={os}")),
        prop::sample::select(RISKS.to_vec()).prop_map(|r| format!("risk={r}")),
        prop::sample::select(TAGS.to_vec()).prop_map(|t| format!("tag={t}")),
        (
            prop::sample::select(OSES.to_vec()),
            prop::sample::select(RISKS.to_vec())
        )
            .prop_map(|(os, r)| format!("os={os}&risk={r}")),
    ]
}

fn exact_rule(tag: &str, query: &str) -> RulesFile {
    parse_rules_file(&format!(
        r#"{{"version": 1, "rules": [{{"name": "r", "tag": "{tag}", "mode": "exact",
             "source": {{"kind": "filter", "query": "{query}"}}}}]}}"#
    ))
    .unwrap()
}

const HUNT: &str = "DeviceInfo | project DeviceId";

fn exact_hunting_rule(tag: &str) -> RulesFile {
    parse_rules_file(&format!(
        r#"{{"version": 1, "rules": [{{"name": "h", "tag": "{tag}", "mode": "exact",
             "source": {{"kind": "hunting", "query": "{HUNT}"}}}}]}}"#
    ))
    .unwrap()
}

/// The hunting answer naming the machines at `picks` (indexes into `machines`, wrapped).
fn answer(machines: &[Machine], picks: &[usize]) -> HuntingAnswers {
    let mut answers = HuntingAnswers::new();
    let refs = if machines.is_empty() {
        Vec::new()
    } else {
        picks
            .iter()
            .map(|i| MachineRef::Id(machines[i % machines.len()].id.clone()))
            .collect()
    };
    answers.insert_machines(&HuntingQuery::parse(HUNT).unwrap(), refs);
    answers
}

/// Applies a dry run's plans the way the API would.
fn apply(machines: &mut [Machine], file: &RulesFile, answers: &HuntingAnswers) {
    let planned = plan_rules(file, machines, answers, 0);
    for rule in &planned.rules {
        for step in rule.steps() {
            for call in &step.calls {
                for id in call.machine_ids() {
                    let m = machines.iter_mut().find(|m| &m.id == id).unwrap();
                    call.action()
                        .apply(&mut m.machine_tags, call.tag().as_str());
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn exact_rule_twice_leaves_nothing_to_do(
        mut ms in machines(),
        tag in prop::sample::select(TAGS.to_vec()),
        q in query(),
    ) {
        let file = exact_rule(tag, &q);
        apply(&mut ms, &file, &HuntingAnswers::new());
        let second = plan_rules(&file, &ms, &HuntingAnswers::new(), 0);
        prop_assert!(second.is_noop(), "second run still plans {:?}", second.rules[0].summary());
        // And the tenant now agrees with the rule: exactly the matched machines carry the tag.
        let rule = &second.rules[0];
        prop_assert_eq!(rule.mode, RuleMode::Exact);
        for m in &ms {
            let has = m.machine_tags.iter().any(|t| t == tag);
            prop_assert_eq!(has, rule.matched.contains(&m.id), "machine {}", m.id);
        }
    }

    #[test]
    fn first_run_changes_only_what_the_rule_disagrees_with(
        ms in machines(),
        tag in prop::sample::select(TAGS.to_vec()),
        q in query(),
    ) {
        let file = exact_rule(tag, &q);
        let first = plan_rules(&file, &ms, &HuntingAnswers::new(), 0);
        let rule = &first.rules[0];
        for id in rule.adding() {
            let m = ms.iter().find(|m| &m.id == id).unwrap();
            prop_assert!(!m.machine_tags.iter().any(|t| t == tag));
            prop_assert!(rule.matched.contains(id));
        }
        for id in rule.removing() {
            let m = ms.iter().find(|m| &m.id == id).unwrap();
            prop_assert!(m.machine_tags.iter().any(|t| t == tag));
            prop_assert!(!rule.matched.contains(id));
        }
        prop_assert!(rule.steps().iter().all(|p| p.action == TagAction::Add || p.action == TagAction::Remove));
    }

    #[test]
    fn exact_hunting_rule_converges_and_never_removes_without_an_answer(
        mut ms in machines(),
        tag in prop::sample::select(TAGS.to_vec()),
        picks in prop::collection::vec(0usize..100, 0..30),
    ) {
        let file = exact_hunting_rule(tag);
        // Without the query's answer nothing is planned, whatever carries the tag.
        let unknown = plan_rules(&file, &ms, &HuntingAnswers::new(), 0);
        prop_assert!(unknown.rules[0].blocked.is_some());
        prop_assert!(unknown.rules[0].steps().is_empty());
        prop_assert!(unknown.rules[0].removing().is_empty());

        let answers = answer(&ms, &picks);
        apply(&mut ms, &file, &answers);
        let second = plan_rules(&file, &ms, &answers, 0);
        prop_assert!(second.is_noop(), "second run still plans {:?}", second.rules[0].summary());
        let rule = &second.rules[0];
        for m in &ms {
            let has = m.machine_tags.iter().any(|t| t == tag);
            prop_assert_eq!(has, rule.matched.contains(&m.id), "machine {}", m.id);
        }
        // Matched is exactly the picked machines, each once.
        let mut picked: Vec<_> = if ms.is_empty() { Vec::new() } else {
            picks.iter().map(|i| ms[i % ms.len()].id.clone()).collect()
        };
        picked.sort();
        picked.dedup();
        let mut matched = rule.matched.clone();
        matched.sort();
        prop_assert_eq!(matched, picked);
    }
}
