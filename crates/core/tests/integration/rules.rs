//! Rule planning properties: a run of an exact rule converges (a second dry run has nothing to
//! do), and the plans it produces are the ones applied.

use defender_tags_core::rules::{RuleMode, RulesFile, parse_rules_file, plan_rules};
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

/// Applies a dry run's plans the way the API would.
fn apply(machines: &mut [Machine], file: &RulesFile) {
    let planned = plan_rules(file, machines, 0);
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
        apply(&mut ms, &file);
        let second = plan_rules(&file, &ms, 0);
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
        let first = plan_rules(&file, &ms, 0);
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
}
