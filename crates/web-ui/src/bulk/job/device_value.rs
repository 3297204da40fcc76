//! A device-value job: core's [`DeviceValuePlan`] on chosen machines, its preview lines
//! (current → new), its report rows, what is left after a stopped run, and the job that puts the
//! previous values back.
//!
//! There is no bulk endpoint, so every machine that changes costs one call; the preview states
//! that cost from core's pacing model ([`DeviceValuePlan::pacing_ms`]).

use defender_tags_core::DeviceValue;
use defender_tags_core::device_value::{DeviceValueOutcome, DeviceValueState};
use defender_tags_core::throttle::RateLimits;

use super::*;

/// "Normal → High" ("unknown → High" when the current value was not known).
pub fn change_text(o: &DeviceValueOutcome) -> String {
    format!(
        "{} \u{2192} {}",
        o.current.as_ref().map_or("unknown", DeviceValue::as_str),
        o.target
    )
}

/// The cost line of a device-value preview: "30 calls, one per machine (no bulk endpoint) —
/// under a minute at the API's 100 calls/min".
pub fn cost_text(plan: &DeviceValuePlan) -> String {
    let limits = RateLimits::DOCUMENTED;
    let calls = plan.calls();
    let ms = plan.pacing_ms(limits);
    let time = if ms == 0 {
        "under a minute".to_owned()
    } else {
        // The paced waits, plus the last minute's calls themselves.
        let minutes = ms.div_ceil(60_000) + 1;
        format!("about {minutes} min")
    };
    format!(
        "{}, one per machine (no bulk endpoint) \u{2014} {time} at the API's {} calls/min and {} calls/h; the run paces itself inside that budget, shared with everything else this browser sends.",
        plural(calls, "call", "calls"),
        limits.per_minute(),
        super::super::format::thousands(u64::from(limits.per_hour())),
    )
}

impl Job {
    /// Sets `value` on `machines`; refuses (with the reason) a value the API would refuse.
    pub fn set_device_value(
        value: &DeviceValue,
        machines: &[&Machine],
        unresolved: Vec<Unresolved>,
        source: impl Into<String>,
    ) -> Result<Job, String> {
        let states: Vec<DeviceValueState> = machines
            .iter()
            .map(|m| DeviceValueState::from(*m))
            .collect();
        let plan =
            DeviceValuePlan::new(value, &states).map_err(|e| format!("Device value: {e}."))?;
        Ok(Job {
            kind: JobKind::DeviceValue,
            title: format!(
                "Set device value \u{201c}{value}\u{201d} on {}",
                plural(plan.outcomes.len(), "machine", "machines")
            ),
            source: source.into(),
            steps: Vec::new(),
            unresolved,
            device_value: Some(plan),
        })
    }
}

/// The preview lines of a device-value plan: (will change, already in place, unknown sent
/// anyway), each labelled with its change.
pub(super) fn preview_lines(plan: &DeviceValuePlan) -> (Vec<Line>, Vec<Line>, Vec<Line>) {
    let (mut change, mut already, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for o in &plan.outcomes {
        let line = Line {
            id: o.id.to_string(),
            name: o.name.clone().unwrap_or_default(),
            step: change_text(o),
        };
        match o.expected {
            ExpectedOutcome::WillChange => change.push(line),
            ExpectedOutcome::AlreadyInPlace => already.push(line),
            ExpectedOutcome::UnknownSendAnyway => unknown.push(line),
        }
    }
    (change, already, unknown)
}

/// The report rows of a device-value plan: from its run's report if it ran, else every machine
/// as not attempted (or already in place).
pub(super) fn report_rows(
    plan: &DeviceValuePlan,
    report: Option<&RunReport>,
    step: usize,
) -> Vec<ReportRow> {
    let status_of = |o: &DeviceValueOutcome| -> (OutcomeStatus, Option<String>) {
        let from_report = report.and_then(|r| {
            r.outcomes
                .iter()
                .find(|m| m.machine == o.id.as_str())
                .map(|m| (m.status, m.error.as_ref().map(|e| e.message.clone())))
        });
        from_report.unwrap_or(if o.expected == ExpectedOutcome::AlreadyInPlace {
            (OutcomeStatus::AlreadyInPlace, None)
        } else {
            (OutcomeStatus::NotAttempted, None)
        })
    };
    plan.outcomes
        .iter()
        .map(|o| {
            let (status, error) = status_of(o);
            ReportRow {
                step,
                id: o.id.to_string(),
                name: o.name.clone().unwrap_or_default(),
                tag: o.target.as_str().to_owned(),
                action: DEVICE_VALUE_ACTION.to_owned(),
                status,
                error,
                previous: Some(
                    o.current
                        .as_ref()
                        .map_or("unknown", DeviceValue::as_str)
                        .to_owned(),
                ),
            }
        })
        .collect()
}

/// The `action` of a device-value report row (the endpoint's name).
pub const DEVICE_VALUE_ACTION: &str = "SetDeviceValue";

impl RunRecord {
    /// The report of the device-value part of the run, if it ran.
    fn device_value_report(&self) -> Option<&RunReport> {
        self.job
            .device_value
            .as_ref()
            .and_then(|_| self.reports.get(self.job.steps.len()))
    }

    /// What a stopped or cancelled device-value run left to do: its machines that were not
    /// confirmed (failed, unknown, not attempted), planned again from the values they had.
    pub fn device_value_remaining(&self) -> Option<DeviceValuePlan> {
        let plan = self.job.device_value.as_ref()?;
        let report = self.device_value_report();
        let done: HashSet<&str> = report
            .map(|r| {
                r.outcomes
                    .iter()
                    .filter(|o| {
                        matches!(
                            o.status,
                            OutcomeStatus::Applied | OutcomeStatus::AlreadyInPlace
                        )
                    })
                    .map(|o| o.machine.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let outcomes: Vec<DeviceValueOutcome> = plan
            .outcomes
            .iter()
            .filter(|o| o.is_called() && !done.contains(o.id.as_str()))
            .cloned()
            .collect();
        (!outcomes.is_empty()).then(|| DeviceValuePlan {
            outcomes,
            duplicates: Vec::new(),
        })
    }

    /// The job that puts back each confirmed machine's value from before the run (one call per
    /// machine, like the run). Machines whose result is unknown, or whose earlier value is
    /// unknown or not settable, are listed as not undoable.
    pub(super) fn device_value_undo(&self) -> Option<Job> {
        let plan = self.job.device_value.as_ref()?;
        let report = self.device_value_report()?;
        let mut unresolved = Vec::new();
        let mut applied = Vec::new();
        for o in &plan.outcomes {
            let Some(row) = report.outcomes.iter().find(|m| m.machine == o.id.as_str()) else {
                continue;
            };
            let name = o.name.clone().unwrap_or_else(|| o.id.to_string());
            match row.status {
                OutcomeStatus::Applied => applied.push((
                    DeviceValueState {
                        id: o.id.clone(),
                        name: o.name.clone(),
                        current: Some(o.target.clone()),
                    },
                    o.current.clone(),
                )),
                OutcomeStatus::Unknown => unresolved.push(Unresolved {
                    line: 0,
                    text: name,
                    reason: UnresolvedReason::Invalid(format!(
                        "the original call may or may not have set {}, so it is not undone blindly; check machine {}.",
                        o.target, o.id
                    )),
                }),
                _ => {}
            }
        }
        if applied.is_empty() {
            return None;
        }
        let (restore, refused) = DeviceValuePlan::restore(&applied);
        for (state, why) in refused {
            unresolved.push(Unresolved {
                line: 0,
                text: state.name.unwrap_or_else(|| state.id.to_string()),
                reason: UnresolvedReason::Invalid(format!("cannot be put back: {why}.")),
            });
        }
        Some(Job {
            kind: JobKind::Undo,
            title: format!(
                "Undo \u{2014} put back the earlier device value on {} (reverts \u{201c}{}\u{201d})",
                plural(restore.outcomes.len(), "machine", "machines"),
                self.job.title
            ),
            source: "Undo of a run in this session".to_owned(),
            steps: Vec::new(),
            unresolved,
            device_value: Some(restore),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_wasm::MachineOutcome;

    fn machine(n: u32, value: DeviceValue) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(format!("ws-{n}"));
        m.device_value = Some(value);
        m
    }

    #[test]
    fn preview_shows_current_to_new_and_the_cost() {
        let ms = [
            machine(1, DeviceValue::Normal),
            machine(2, DeviceValue::High),
            machine(3, DeviceValue::Low),
        ];
        let refs: Vec<&Machine> = ms.iter().collect();
        let job = Job::set_device_value(&DeviceValue::High, &refs, Vec::new(), "test").unwrap();
        assert_eq!(
            job.title,
            "Set device value \u{201c}High\u{201d} on 3 machines"
        );
        let p = Preview::of(&job);
        let lines: Vec<(String, String)> = p
            .will_change
            .iter()
            .map(|l| (l.name.clone(), l.step.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("ws-1".to_owned(), "Normal \u{2192} High".to_owned()),
                ("ws-3".to_owned(), "Low \u{2192} High".to_owned())
            ]
        );
        assert_eq!(p.already.len(), 1);
        assert_eq!(p.calls, 2);
        let cost = cost_text(job.device_value.as_ref().unwrap());
        assert!(
            cost.starts_with("2 calls, one per machine (no bulk endpoint) \u{2014} under a minute at the API's 100 calls/min"),
            "{cost}"
        );
        let many: Vec<Machine> = (0..250).map(|n| machine(n, DeviceValue::Low)).collect();
        let refs: Vec<&Machine> = many.iter().collect();
        let job = Job::set_device_value(&DeviceValue::High, &refs, Vec::new(), "t").unwrap();
        let cost = cost_text(job.device_value.as_ref().unwrap());
        assert!(
            cost.contains("250 calls") && cost.contains("about 3 min"),
            "{cost}"
        );
    }

    #[test]
    fn a_value_the_api_refuses_is_refused_with_the_reason() {
        let ms = [machine(1, DeviceValue::Normal)];
        let refs: Vec<&Machine> = ms.iter().collect();
        let err = Job::set_device_value(&DeviceValue::Other("Critical".into()), &refs, vec![], "t")
            .unwrap_err();
        assert!(err.contains("Critical"), "{err}");
    }

    #[test]
    fn report_undo_and_remaining_follow_the_run() {
        let ms = [
            machine(1, DeviceValue::Normal),
            machine(2, DeviceValue::Low),
            machine(3, DeviceValue::High),
            machine(4, DeviceValue::Low),
        ];
        let refs: Vec<&Machine> = ms.iter().collect();
        let job = Job::set_device_value(&DeviceValue::High, &refs, Vec::new(), "t").unwrap();
        let row = |n: u32, status| MachineOutcome {
            machine: format!("{n:040x}"),
            status,
            error: None,
        };
        let report = RunReport {
            tag: String::new(),
            action: "setDeviceValue".into(),
            outcomes: vec![
                row(1, OutcomeStatus::Applied),
                row(2, OutcomeStatus::Unknown),
                row(3, OutcomeStatus::AlreadyInPlace),
                row(4, OutcomeStatus::NotAttempted),
            ],
            aborted: true,
            stopped_by: None,
            calls_planned: 3,
            calls_made: 2,
        };
        let record = RunRecord {
            job,
            reports: vec![report],
            who: "a".into(),
            started_ms: 0,
            finished_ms: 1,
        };
        let rows = record.rows();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].previous.as_deref(), Some("Normal"));
        assert_eq!(rows[0].tag, "High");
        assert_eq!(rows[0].status, OutcomeStatus::Applied);
        assert_eq!(record.changed_machines(), 1);
        let undo = record.undo().unwrap();
        let restore = undo.device_value.as_ref().unwrap();
        assert_eq!(restore.outcomes.len(), 1);
        assert_eq!(restore.outcomes[0].target, DeviceValue::Normal);
        assert_eq!(restore.outcomes[0].current, Some(DeviceValue::High));
        assert_eq!(undo.unresolved.len(), 1, "the unknown machine is listed");
        let left = record.device_value_remaining().unwrap();
        let ids: Vec<String> = left.outcomes.iter().map(|o| o.id.to_string()).collect();
        assert_eq!(ids, vec![format!("{:040x}", 2), format!("{:040x}", 4)]);
    }
}
