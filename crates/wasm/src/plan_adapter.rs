//! Core's `Plan` in the runner's terms: the report rows (one per machine, in plan order, with
//! the planner's verdict) and, for each call, the rows it settles.

use std::collections::HashMap;

use serde::Serialize;

use defender_tags_core::model::MachineId;
use defender_tags_core::plan::{ExpectedOutcome, Plan};

use crate::report::{MachineOutcome, OutcomeStatus};
use crate::runner::{RunSpec, SpecCall, SpecWhat};

pub(crate) fn spec_from_plan(plan: &Plan) -> RunSpec {
    let mut index: HashMap<&MachineId, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(plan.outcomes.len());
    for outcome in &plan.outcomes {
        index.insert(&outcome.id, rows.len());
        rows.push(MachineOutcome {
            machine: outcome.id.to_string(),
            status: match outcome.expected {
                ExpectedOutcome::AlreadyInPlace => OutcomeStatus::AlreadyInPlace,
                ExpectedOutcome::WillChange | ExpectedOutcome::UnknownSendAnyway => {
                    OutcomeStatus::NotAttempted
                }
            },
            error: None,
        });
    }
    let calls = plan
        .calls
        .iter()
        .map(|call| {
            let ids = call.machine_ids();
            let mut call_rows = Vec::with_capacity(ids.len());
            for id in ids {
                let row = match index.get(id) {
                    Some(&row) => row,
                    // The planner lists every called machine in `outcomes`; should a plan ever
                    // not, the machine still gets a row rather than vanishing from the report.
                    None => {
                        rows.push(MachineOutcome {
                            machine: id.to_string(),
                            status: OutcomeStatus::NotAttempted,
                            error: None,
                        });
                        rows.len() - 1
                    }
                };
                call_rows.push(row);
            }
            SpecCall {
                call: call.clone().into(),
                rows: call_rows,
            }
        })
        .collect();
    RunSpec {
        what: SpecWhat::Tags {
            tag: plan.tag.clone(),
            action: plan.action,
        },
        calls,
        rows,
    }
}

/// Preview counts of a plan, for the JS facade and UIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// Machines whose tags will change (or whose tags are unknown, sent anyway).
    pub to_change: usize,
    /// Machines already in the wanted state (no call).
    pub already_in_place: usize,
    /// Of `to_change`, machines whose current tags were not known.
    pub unknown: usize,
    /// API calls the plan needs.
    pub calls: usize,
    /// Warnings to show before running (case variants, duplicates, portal-filter characters).
    pub warnings: usize,
}

impl PlanSummary {
    /// Counts of `plan`.
    pub fn of(plan: &Plan) -> Self {
        let s = plan.summary();
        Self {
            to_change: s.will_change + s.unknown,
            already_in_place: s.already_in_place,
            unknown: s.unknown,
            calls: s.calls,
            warnings: plan.warnings.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::model::{Tag, TagAction};
    use defender_tags_core::plan::{MachineState, plan};

    fn id(n: u16) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    #[test]
    fn rows_follow_the_plan_and_calls_point_at_their_rows() {
        let tag = Tag::parse("Finance").unwrap();
        let mut machines: Vec<MachineState> = (0..502)
            .map(|n| MachineState {
                id: id(n),
                name: None,
                tags: Some(vec![]),
            })
            .collect();
        machines[1].tags = Some(vec!["Finance".into()]);
        machines[2].tags = None;
        let p = plan(&tag, TagAction::Add, &machines);
        let spec = spec_from_plan(&p);
        assert_eq!(spec.rows.len(), 502);
        assert_eq!(spec.rows[1].status, OutcomeStatus::AlreadyInPlace);
        assert_eq!(spec.rows[2].status, OutcomeStatus::NotAttempted);
        assert_eq!(spec.calls.len(), 2, "501 to send: 500 + 1");
        let called: usize = spec.calls.iter().map(|c| c.rows.len()).sum();
        assert_eq!(called, 501);
        for call in &spec.calls {
            for (row, id) in call.rows.iter().zip(call.call.machine_ids()) {
                assert_eq!(spec.rows[*row].machine, id.to_string());
            }
        }
        let summary = PlanSummary::of(&p);
        assert_eq!(
            (
                summary.to_change,
                summary.already_in_place,
                summary.unknown,
                summary.calls
            ),
            (501, 1, 1, 2)
        );
    }
}
