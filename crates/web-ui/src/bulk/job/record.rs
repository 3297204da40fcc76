//! A finished (or cancelled) run of a job: its per-machine report, and the job that undoes it.

use super::*;

/// A finished (or cancelled) run of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The job.
    pub job: Job,
    /// One report per step that started, in order; steps after a stop have none.
    pub reports: Vec<RunReport>,
    /// Who ran it (display name).
    pub who: String,
    /// Start, Unix epoch ms.
    pub started_ms: i64,
    /// End, Unix epoch ms.
    pub finished_ms: i64,
}

/// One machine's line of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// 1-based step.
    pub step: usize,
    /// Machine id.
    pub id: String,
    /// Computer name.
    pub name: String,
    /// Tag.
    pub tag: String,
    /// `Add`/`Remove`.
    pub action: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// For a device-value row, the machine's value before the run (`unknown` if not known).
    pub previous: Option<String>,
}

/// Stable spelling of a status (exports, tests).
pub fn status_key(s: OutcomeStatus) -> &'static str {
    match s {
        OutcomeStatus::Applied => "applied",
        OutcomeStatus::AlreadyInPlace => "alreadyInPlace",
        OutcomeStatus::Skipped => "skipped",
        OutcomeStatus::Failed => "failed",
        OutcomeStatus::Unknown => "unknown",
        OutcomeStatus::NotAttempted => "notAttempted",
    }
}

/// How a status reads in the report.
pub fn status_label(s: OutcomeStatus) -> &'static str {
    match s {
        OutcomeStatus::Applied => "Changed",
        OutcomeStatus::AlreadyInPlace => "Already in place",
        OutcomeStatus::Skipped => "Skipped",
        OutcomeStatus::Failed => "Failed",
        OutcomeStatus::Unknown => "Result unknown",
        OutcomeStatus::NotAttempted => "Not attempted",
    }
}

/// Statuses in the order the report lists them.
pub const STATUS_ORDER: [OutcomeStatus; 6] = [
    OutcomeStatus::Applied,
    OutcomeStatus::Failed,
    OutcomeStatus::Unknown,
    OutcomeStatus::NotAttempted,
    OutcomeStatus::AlreadyInPlace,
    OutcomeStatus::Skipped,
];

impl RunRecord {
    /// Whether the user cancelled.
    pub fn cancelled(&self) -> bool {
        self.reports.iter().any(|r| r.aborted)
    }

    /// The error that stopped the run, if any.
    pub fn stopped_by(&self) -> Option<String> {
        self.reports
            .iter()
            .find_map(|r| r.stopped_by.as_ref().map(|e| e.message.clone()))
    }

    /// Every machine line: the reports' outcomes, then the machines of steps that never started
    /// (as not attempted), so nothing planned is missing from the report.
    pub fn rows(&self) -> Vec<ReportRow> {
        let mut rows = Vec::new();
        for (i, step) in self.job.steps.iter().enumerate() {
            let names: HashMap<String, String> = step
                .plan
                .outcomes
                .iter()
                .map(|o| (o.id.to_string(), o.name.clone().unwrap_or_default()))
                .collect();
            let tag = step.plan.tag.as_str().to_owned();
            let action = step.plan.action.as_str().to_owned();
            match self.reports.get(i) {
                Some(report) => rows.extend(report.outcomes.iter().map(|o| ReportRow {
                    step: i + 1,
                    name: names.get(&o.machine).cloned().unwrap_or_default(),
                    id: o.machine.clone(),
                    tag: tag.clone(),
                    action: action.clone(),
                    status: o.status,
                    error: o.error.as_ref().map(|e| e.message.clone()),
                    previous: None,
                })),
                None => rows.extend(step.plan.outcomes.iter().map(|o| ReportRow {
                    step: i + 1,
                    id: o.id.to_string(),
                    name: o.name.clone().unwrap_or_default(),
                    tag: tag.clone(),
                    action: action.clone(),
                    status: OutcomeStatus::before_run(o.expected),
                    error: None,
                    previous: None,
                })),
            }
        }
        if let Some(plan) = &self.job.device_value {
            let index = self.job.steps.len();
            rows.extend(super::device_value::report_rows(
                plan,
                self.reports.get(index),
                index + 1,
            ));
        }
        rows
    }

    /// Machines per status, over all steps.
    pub fn counts(&self) -> Vec<(OutcomeStatus, usize)> {
        let rows = self.rows();
        STATUS_ORDER
            .iter()
            .map(|s| (*s, rows.iter().filter(|r| r.status == *s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Steps (0-based) with machines whose result is unknown: what "Verify" re-reads.
    pub fn unknown_steps(&self) -> Vec<usize> {
        self.reports
            .iter()
            .enumerate()
            .filter(|(_, r)| r.count(OutcomeStatus::Unknown) > 0)
            .map(|(i, _)| i)
            .collect()
    }

    /// Settles step `index`'s unknown machines from `holders` (a fresh `findbytag` answer for
    /// its tag): a machine now in the wanted state is `Applied` (the fresh plan found it not in
    /// that state when the run began), any other is `Failed`. Known outcomes are kept as they are.
    pub fn verified(&self, index: usize, holders: &[TaggedMachine]) -> RunRecord {
        let mut record = self.clone();
        let (Some(step), Some(report)) = (self.job.steps.get(index), record.reports.get_mut(index))
        else {
            return record;
        };
        let tag = step.plan.tag.as_str();
        let holding: HashSet<&MachineId> = holders
            .iter()
            .filter(|m| m.has_tag(tag))
            .map(|m| &m.id)
            .collect();
        let wants_tag = step.plan.action == TagAction::Add;
        for o in report
            .outcomes
            .iter_mut()
            .filter(|o| o.status == OutcomeStatus::Unknown)
        {
            let Ok(id) = MachineId::parse(&o.machine) else {
                continue;
            };
            let interrupted = o
                .error
                .as_ref()
                .is_some_and(|e| e.code == crate::bulk::journal::INTERRUPTED);
            let (status, code, message) = if holding.contains(&id) == wants_tag {
                (
                    OutcomeStatus::Applied,
                    "verified_applied",
                    "the result was unknown; a re-read found the change in place",
                )
            } else if interrupted {
                // The page went before this machine's call was sent, or while it was in
                // flight and before the service processed it: nothing happened to it.
                (
                    OutcomeStatus::NotAttempted,
                    "verified_not_applied",
                    "the run was interrupted before this machine changed (a re-read found it unchanged)",
                )
            } else {
                (
                    OutcomeStatus::Failed,
                    "verified_not_applied",
                    "the result was unknown; a re-read found the change not applied",
                )
            };
            o.status = status;
            o.error = Some(defender_tags_wasm::ErrorInfo {
                code: code.to_owned(),
                message: message.to_owned(),
                status: None,
                retry_after: None,
            });
        }
        record
    }

    /// Distinct machines the run changed.
    pub fn changed_machines(&self) -> usize {
        let ids: HashSet<&str> = self.reports.iter().flat_map(|r| r.applied()).collect();
        ids.len()
    }

    /// The job that puts back what this run changed, from the recorded before-state: for each
    /// step that ran, in reverse order, the inverse action on exactly the machines the API
    /// confirmed. Machines whose result is unknown are listed as not undoable (check them by
    /// hand). `None` when the run changed nothing.
    pub fn undo(&self) -> Option<Job> {
        if self.job.device_value.is_some() {
            return self.device_value_undo();
        }
        let mut steps = Vec::new();
        let mut unresolved = Vec::new();
        for (step, report) in self.job.steps.iter().zip(&self.reports).rev() {
            let names: HashMap<String, Option<String>> = step
                .plan
                .outcomes
                .iter()
                .map(|o| (o.id.to_string(), o.name.clone()))
                .collect();
            let mut states = Vec::new();
            for o in &report.outcomes {
                let Ok(id) = MachineId::parse(&o.machine) else {
                    continue;
                };
                match o.status {
                    OutcomeStatus::Applied => {
                        let mut tags = step.before.get(&id).cloned();
                        if let Some(t) = tags.as_mut() {
                            step.plan.action.apply(t, step.plan.tag.as_str());
                        }
                        states.push(MachineState {
                            id,
                            name: names.get(&o.machine).cloned().flatten(),
                            tags,
                        });
                    }
                    OutcomeStatus::Unknown => unresolved.push(Unresolved {
                        line: 0,
                        text: names
                            .get(&o.machine)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| o.machine.clone()),
                        reason: UnresolvedReason::Invalid(format!(
                            "{}: the original call may or may not have applied, so it is not undone blindly; check machine {}.",
                            step.label(),
                            o.machine
                        )),
                    }),
                    _ => {}
                }
            }
            if !states.is_empty() {
                steps.push(Step::from_states(
                    &step.plan.tag,
                    step.plan.action.inverse(),
                    states,
                ));
            }
        }
        if steps.is_empty() {
            return None;
        }
        let machines: HashSet<&MachineId> = steps
            .iter()
            .flat_map(|s| s.plan.outcomes.iter().map(|o| &o.id))
            .collect();
        Some(Job {
            kind: JobKind::Undo,
            title: format!(
                "Undo \u{2014} {} on {} (reverts \u{201c}{}\u{201d})",
                steps
                    .iter()
                    .map(Step::label)
                    .collect::<Vec<_>>()
                    .join(", then "),
                plural(machines.len(), "machine", "machines"),
                self.job.title
            ),
            source: "Undo of a run in this session".to_owned(),
            steps,
            unresolved,
            device_value: None,
        })
    }
}
