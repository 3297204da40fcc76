//! A bulk job: one or more planned steps (core's [`plan`]), what the preview shows, the run's
//! per-machine report, and the job that undoes a run from the before-state recorded at preview.
//!
//! The job itself is here; what its preview shows is in `preview`, its run's report and undo in
//! `record`.
//!
//! Every bulk path goes through a [`Job`]: a selection or an import (one step), removing a tag
//! everywhere (one step), merging case variants (add the kept spelling, then remove each other
//! spelling), and undo (the inverse steps, in reverse order).

use std::collections::{HashMap, HashSet};

use defender_tags_core::device_value::DeviceValuePlan;
use defender_tags_core::fresh::{Drift, replan};
use defender_tags_core::plan::{ExpectedOutcome, MachineState, Plan, PlanWarning, plan};
use defender_tags_core::{Machine, MachineId, Tag, TagAction, TaggedMachine};
use defender_tags_wasm::{OutcomeStatus, RunReport};

use super::resolve::{Unresolved, UnresolvedReason};

/// What kind of change a job makes (for titles and the activity log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Add or remove a tag on chosen machines.
    Change,
    /// Remove a tag from every machine carrying it.
    RemoveEverywhere,
    /// Replace case variants of a tag by one spelling.
    Merge,
    /// Undo an earlier run.
    Undo,
    /// Finish what a stopped or interrupted run left.
    Resume,
    /// Run a saved tag rule (`crate::rules`): add, then for an exact rule remove.
    Rule,
    /// Set the device value of chosen machines (one call per machine).
    DeviceValue,
}

impl JobKind {
    /// Activity-log spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Change => "bulk",
            JobKind::RemoveEverywhere => "remove-everywhere",
            JobKind::Merge => "merge",
            JobKind::Undo => "undo",
            JobKind::Resume => "resume",
            JobKind::Rule => "rule",
            JobKind::DeviceValue => "device-value",
        }
    }
}

/// One planned step and the before-state it was planned from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Core's plan.
    pub plan: Plan,
    /// Each planned machine's tags when the preview was built.
    pub before: HashMap<MachineId, Vec<String>>,
}

impl Step {
    /// Plans `action` of `tag` on `machines`, recording their tags.
    pub fn new(tag: &Tag, action: TagAction, machines: &[&Machine]) -> Step {
        let states: Vec<MachineState> = machines
            .iter()
            .map(|m| MachineState::from_machine(m))
            .collect();
        Step::from_states(tag, action, states)
    }

    /// Plans `action` of `tag` on `states`, recording their tags.
    pub fn from_states(tag: &Tag, action: TagAction, states: Vec<MachineState>) -> Step {
        let before = states
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.tags.clone()?)))
            .collect();
        Step {
            plan: plan(tag, action, &states),
            before,
        }
    }

    /// The machine states this step was planned from (tags `None` where they were unknown).
    pub fn states(&self) -> Vec<MachineState> {
        self.plan
            .outcomes
            .iter()
            .map(|o| MachineState {
                id: o.id.clone(),
                name: o.name.clone(),
                tags: self.before.get(&o.id).cloned(),
            })
            .collect()
    }

    /// This step planned again from `holders` (a fresh `findbytag` answer for its tag), and the
    /// machines whose expected outcome moved (core's [`replan`]).
    pub fn refreshed(&self, holders: &[TaggedMachine]) -> (Step, Vec<Drift>) {
        let fresh = replan(&self.plan, &self.states(), holders);
        let before = fresh
            .states
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.tags.clone()?)))
            .collect();
        (
            Step {
                plan: fresh.plan,
                before,
            },
            fresh.drift,
        )
    }

    /// "Add “Pilot”".
    pub fn label(&self) -> String {
        format!(
            "{} \u{201c}{}\u{201d}",
            self.plan.action.as_str(),
            self.plan.tag
        )
    }
}

/// A bulk change, ready to preview and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Kind.
    pub kind: JobKind,
    /// One line saying what it does.
    pub title: String,
    /// Where the machines came from ("Search: tag=Pilot", "Imported list, 40 lines").
    pub source: String,
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// Imported lines (or machines) left out, with the reason.
    pub unresolved: Vec<Unresolved>,
    /// A device-value change, run after the tag steps (a device-value job has no tag steps;
    /// see `device_value`).
    pub device_value: Option<DeviceValuePlan>,
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        super::format::thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// A tag that is on machines but that this tool cannot send (it fails core's validation).
pub(super) fn sendable(tag: &str) -> Result<Tag, String> {
    Tag::parse(tag).map_err(|e| {
        format!("The tag \u{201c}{tag}\u{201d} cannot be sent through the API client ({e}); change it in the Defender portal.")
    })
}

impl Job {
    /// Adds or removes `tag` on `machines`.
    pub fn change(
        tag: &Tag,
        action: TagAction,
        machines: &[&Machine],
        unresolved: Vec<Unresolved>,
        source: impl Into<String>,
    ) -> Job {
        let verb = match action {
            TagAction::Add => "Add",
            TagAction::Remove => "Remove",
        };
        let prep = match action {
            TagAction::Add => "to",
            TagAction::Remove => "from",
        };
        Job {
            kind: JobKind::Change,
            title: format!(
                "{verb} \u{201c}{tag}\u{201d} {prep} {}",
                plural(machines.len(), "machine", "machines")
            ),
            source: source.into(),
            steps: vec![Step::new(tag, action, machines)],
            unresolved,
            device_value: None,
        }
    }

    /// Removes `tag` (exact spelling) from every machine of `tenant` carrying it.
    pub fn remove_everywhere(tag: &str, tenant: &[Machine]) -> Result<Job, String> {
        let t = sendable(tag)?;
        let carrying: Vec<&Machine> = tenant
            .iter()
            .filter(|m| m.machine_tags.iter().any(|x| x == tag))
            .collect();
        Ok(Job {
            kind: JobKind::RemoveEverywhere,
            title: format!(
                "Remove \u{201c}{tag}\u{201d} from every machine carrying it ({})",
                plural(carrying.len(), "machine", "machines")
            ),
            source: "Tag inventory".to_owned(),
            steps: vec![Step::new(&t, TagAction::Remove, &carrying)],
            unresolved: Vec::new(),
            device_value: None,
        })
    }

    /// Replaces every spelling in `variants` by `keep` on the machines of `tenant` carrying one:
    /// first `keep` is added to them, then each other spelling is removed. Adding first means a
    /// run stopped halfway never leaves a machine with neither spelling.
    pub fn merge(keep: &str, variants: &[String], tenant: &[Machine]) -> Result<Job, String> {
        let keep_tag = sendable(keep)?;
        let others: Vec<&String> = variants.iter().filter(|v| v.as_str() != keep).collect();
        if others.is_empty() {
            return Err("Choose at least one other spelling to merge.".to_owned());
        }
        let other_tags = others
            .iter()
            .map(|v| sendable(v))
            .collect::<Result<Vec<_>, _>>()?;
        let carrying_any: Vec<&Machine> = tenant
            .iter()
            .filter(|m| m.machine_tags.iter().any(|t| others.contains(&t)))
            .collect();
        let mut steps = vec![Step::new(&keep_tag, TagAction::Add, &carrying_any)];
        for (text, tag) in others.iter().zip(&other_tags) {
            let carrying: Vec<&Machine> = carrying_any
                .iter()
                .copied()
                .filter(|m| m.machine_tags.iter().any(|t| t == *text))
                .collect();
            // The step's before-state is the state after the add step, which it follows.
            let states = carrying
                .iter()
                .map(|m| {
                    let mut tags = m.machine_tags.clone();
                    TagAction::Add.apply(&mut tags, keep);
                    MachineState {
                        id: m.id.clone(),
                        name: m.computer_dns_name.clone(),
                        tags: Some(tags),
                    }
                })
                .collect();
            steps.push(Step::from_states(tag, TagAction::Remove, states));
        }
        let names = others
            .iter()
            .map(|o| format!("\u{201c}{o}\u{201d}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Job {
            kind: JobKind::Merge,
            title: format!(
                "Merge {names} into \u{201c}{keep}\u{201d} on {}",
                plural(carrying_any.len(), "machine", "machines")
            ),
            source: "Tag inventory".to_owned(),
            steps,
            unresolved: Vec::new(),
            device_value: None,
        })
    }

    /// API calls of all steps.
    pub fn calls(&self) -> usize {
        self.steps.iter().map(|s| s.plan.calls.len()).sum::<usize>()
            + self.device_value.as_ref().map_or(0, DeviceValuePlan::calls)
    }

    /// The job with step `index` re-planned from `holders`; the drift is tagged with the step.
    pub fn with_step_refreshed(
        &self,
        index: usize,
        holders: &[TaggedMachine],
    ) -> (Job, Vec<StepDrift>) {
        let mut job = self.clone();
        let Some(step) = self.steps.get(index) else {
            return (job, Vec::new());
        };
        let (fresh, drift) = step.refreshed(holders);
        let label = step.label();
        job.steps[index] = fresh;
        let drift = drift
            .into_iter()
            .map(|d| StepDrift {
                step: index + 1,
                label: label.clone(),
                drift: d,
            })
            .collect();
        (job, drift)
    }
}

/// A machine whose expected outcome changed between the preview and the re-read before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDrift {
    /// 1-based step.
    pub step: usize,
    /// The step's label ("Add “Pilot”").
    pub label: String,
    /// What moved.
    pub drift: Drift,
}

impl StepDrift {
    /// One line for the preview: "ws-2: already carries it now (changed since the preview)".
    pub fn describe(&self) -> String {
        let name = self
            .drift
            .name
            .clone()
            .unwrap_or_else(|| self.drift.id.to_string());
        let now = match self.drift.now {
            ExpectedOutcome::AlreadyInPlace => "now already in place, so it is left alone",
            ExpectedOutcome::WillChange => "now needs the change again",
            ExpectedOutcome::UnknownSendAnyway => "tags now unknown, sent anyway",
        };
        format!("{name} ({}): {now}", self.label)
    }
}

mod device_value;
mod preview;
mod record;

pub use device_value::{
    DEVICE_VALUE_ACTION, change_text as device_value_change, cost_text as device_value_cost,
};
pub use preview::{Line, Preview};
pub use record::{ReportRow, RunRecord, STATUS_ORDER, status_key, status_label};

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_wasm::MachineOutcome;

    fn machine(n: u32, tags: &[&str]) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(format!("ws-{n}"));
        m.machine_tags = tags.iter().map(|t| t.to_string()).collect();
        m
    }

    /// What `run_plan` would report if every call got `status` for the listed machines.
    fn report(step: &Step, statuses: &[(u32, OutcomeStatus)]) -> RunReport {
        let outcomes = step
            .plan
            .outcomes
            .iter()
            .map(|o| {
                let status = statuses
                    .iter()
                    .find(|(n, _)| o.id.as_str() == format!("{n:040x}"))
                    .map(|(_, s)| *s)
                    .unwrap_or(match o.expected {
                        ExpectedOutcome::AlreadyInPlace => OutcomeStatus::AlreadyInPlace,
                        _ => OutcomeStatus::NotAttempted,
                    });
                MachineOutcome {
                    machine: o.id.to_string(),
                    status,
                    error: None,
                }
            })
            .collect();
        RunReport {
            tag: step.plan.tag.to_string(),
            action: step.plan.action.as_str().into(),
            outcomes,
            aborted: false,
            stopped_by: None,
            calls_planned: step.plan.calls.len() as u32,
            calls_made: 0,
        }
    }

    #[test]
    fn preview_groups_change_in_place_and_unresolved() {
        let ms = [
            machine(1, &["Pilot"]),
            machine(2, &[]),
            machine(3, &["pilot"]),
        ];
        let refs: Vec<&Machine> = ms.iter().collect();
        let unresolved = vec![Unresolved {
            line: 4,
            text: "ghost".into(),
            reason: UnresolvedReason::Unknown,
        }];
        let job = Job::change(
            &Tag::parse("Pilot").unwrap(),
            TagAction::Add,
            &refs,
            unresolved,
            "test",
        );
        assert_eq!(job.title, "Add \u{201c}Pilot\u{201d} to 3 machines");
        let p = Preview::of(&job);
        assert_eq!(
            p.will_change
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
            vec!["ws-2", "ws-3"]
        );
        assert_eq!(p.already.len(), 1);
        assert_eq!(p.cannot_resolve.len(), 1);
        assert_eq!(p.calls, 1);
        assert!(
            p.warnings.iter().any(|w| w.contains("only in case")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn undo_reverts_exactly_the_applied_machines_and_lists_unknown_ones() {
        let ms = [
            machine(1, &[]),
            machine(2, &[]),
            machine(3, &[]),
            machine(4, &["x"]),
        ];
        let refs: Vec<&Machine> = ms.iter().collect();
        let job = Job::change(
            &Tag::parse("x").unwrap(),
            TagAction::Add,
            &refs,
            vec![],
            "test",
        );
        let rep = report(
            &job.steps[0],
            &[
                (1, OutcomeStatus::Applied),
                (2, OutcomeStatus::Unknown),
                (3, OutcomeStatus::NotAttempted),
            ],
        );
        let record = RunRecord {
            job,
            reports: vec![rep],
            who: "a".into(),
            started_ms: 0,
            finished_ms: 1,
        };
        assert_eq!(record.changed_machines(), 1);
        let undo = record.undo().unwrap();
        assert_eq!(undo.kind, JobKind::Undo);
        assert!(
            undo.title
                .starts_with("Undo \u{2014} Remove \u{201c}x\u{201d} on 1 machine (reverts"),
            "{}",
            undo.title
        );
        assert_eq!(undo.steps.len(), 1);
        let plan = &undo.steps[0].plan;
        assert_eq!(plan.action, TagAction::Remove);
        assert_eq!(plan.outcomes.len(), 1);
        assert_eq!(plan.outcomes[0].id, ms[0].id);
        assert_eq!(plan.outcomes[0].expected, ExpectedOutcome::WillChange);
        // The undo's before-state is the state after the run.
        assert_eq!(undo.steps[0].before[&ms[0].id], vec!["x".to_owned()]);
        assert_eq!(undo.unresolved.len(), 1);
        assert!(undo.unresolved[0].explain().contains(ms[1].id.as_str()));
    }

    #[test]
    fn a_run_that_changed_nothing_has_no_undo_and_unstarted_steps_are_not_attempted() {
        let ms = [
            machine(1, &["Finance"]),
            machine(2, &["finance"]),
            machine(3, &["FINANCE", "finance"]),
        ];
        let job = Job::merge(
            "Finance",
            &["Finance".into(), "finance".into(), "FINANCE".into()],
            &ms,
        )
        .unwrap();
        assert_eq!(job.steps.len(), 3);
        assert_eq!(job.steps[0].label(), "Add \u{201c}Finance\u{201d}");
        let record = RunRecord {
            job,
            reports: vec![],
            who: "a".into(),
            started_ms: 0,
            finished_ms: 0,
        };
        assert!(record.undo().is_none());
        let rows = record.rows();
        // Step 1 covers ws-2 and ws-3; step 2 ("finance") ws-2, ws-3; step 3 ("FINANCE") ws-3.
        assert_eq!(rows.len(), 5);
        assert!(rows.iter().all(|r| r.status == OutcomeStatus::NotAttempted));
    }

    #[test]
    fn merge_then_undo_restores_every_spelling() {
        let ms = [
            machine(1, &["Finance"]),
            machine(2, &["finance"]),
            machine(3, &["FINANCE"]),
        ];
        let variants = vec![
            "Finance".to_owned(),
            "finance".to_owned(),
            "FINANCE".to_owned(),
        ];
        let job = Job::merge("Finance", &variants, &ms).unwrap();
        let p = Preview::of(&job);
        assert!(
            p.warnings.is_empty(),
            "a merge is about case variants: {:?}",
            p.warnings
        );
        // Adds on ws-2, ws-3; removes "finance" on ws-2, "FINANCE" on ws-3.
        assert_eq!(p.will_change.len(), 4);
        assert_eq!(p.calls, 3);
        let reports = job
            .steps
            .iter()
            .map(|s| {
                let all: Vec<(u32, OutcomeStatus)> =
                    (1..=3).map(|n| (n, OutcomeStatus::Applied)).collect();
                let mut r = report(s, &all);
                // Only machines in a call can be applied.
                for o in &mut r.outcomes {
                    let in_call = s
                        .plan
                        .calls
                        .iter()
                        .any(|c| c.machine_ids().iter().any(|id| id.as_str() == o.machine));
                    if !in_call {
                        o.status = OutcomeStatus::AlreadyInPlace;
                    }
                }
                r
            })
            .collect();
        let record = RunRecord {
            job,
            reports,
            who: "a".into(),
            started_ms: 0,
            finished_ms: 0,
        };
        let undo = record.undo().unwrap();
        let labels: Vec<String> = undo.steps.iter().map(Step::label).collect();
        assert_eq!(
            labels,
            vec![
                "Add \u{201c}FINANCE\u{201d}",
                "Add \u{201c}finance\u{201d}",
                "Remove \u{201c}Finance\u{201d}"
            ]
        );
        // Simulate: apply the merge, then the undo, to each machine; every machine ends as it began.
        for m in &ms {
            let mut tags = m.machine_tags.clone();
            for s in &record.job.steps {
                if s.plan.calls.iter().any(|c| c.machine_ids().contains(&m.id)) {
                    s.plan.action.apply(&mut tags, s.plan.tag.as_str());
                }
            }
            for s in &undo.steps {
                if s.plan.calls.iter().any(|c| c.machine_ids().contains(&m.id)) {
                    s.plan.action.apply(&mut tags, s.plan.tag.as_str());
                }
            }
            let mut want = m.machine_tags.clone();
            want.sort();
            tags.sort();
            assert_eq!(tags, want, "{}", m.id);
        }
    }

    #[test]
    fn remove_everywhere_targets_exactly_the_machines_carrying_that_spelling() {
        let ms = [
            machine(1, &["Old", "Keep"]),
            machine(2, &["old"]),
            machine(3, &[]),
            machine(4, &["Old"]),
        ];
        let job = Job::remove_everywhere("Old", &ms).unwrap();
        assert_eq!(job.kind, JobKind::RemoveEverywhere);
        assert!(job.title.contains("(2 machines)"), "{}", job.title);
        assert_eq!(job.steps.len(), 1);
        let plan = &job.steps[0].plan;
        assert_eq!(plan.action, TagAction::Remove);
        assert_eq!(plan.tag.as_str(), "Old");
        let mut planned: Vec<MachineId> = plan
            .calls
            .iter()
            .flat_map(|c| c.machine_ids().iter().cloned())
            .collect();
        planned.sort();
        // A case variant (`old`) is another tag: merging variants is a separate action.
        assert_eq!(planned, vec![ms[0].id.clone(), ms[3].id.clone()]);
        assert_eq!(job.steps[0].before[&ms[0].id], vec!["Old", "Keep"]);
        // Its undo puts the tag back on exactly those machines.
        let record = RunRecord {
            reports: vec![report(
                &job.steps[0],
                &[(1, OutcomeStatus::Applied), (4, OutcomeStatus::Applied)],
            )],
            job,
            who: "t".into(),
            started_ms: 0,
            finished_ms: 1,
        };
        let undo = record.undo().unwrap();
        assert_eq!(undo.steps.len(), 1);
        assert_eq!(undo.steps[0].plan.action, TagAction::Add);
        let mut back: Vec<MachineId> = undo.steps[0]
            .plan
            .calls
            .iter()
            .flat_map(|c| c.machine_ids().iter().cloned())
            .collect();
        back.sort();
        assert_eq!(back, planned);
    }

    #[test]
    fn tags_the_api_client_cannot_send_are_refused_with_a_reason() {
        let ms = [machine(1, &[])];
        let err = Job::remove_everywhere(" padded", &ms).unwrap_err();
        assert!(err.contains("cannot be sent"), "{err}");
        assert!(Job::merge("a", &["a".into()], &ms).is_err());
    }
}
