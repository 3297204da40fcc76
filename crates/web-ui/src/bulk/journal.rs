//! The durable run journal: what a bulk run has done so far, written to IndexedDB while it runs,
//! so a reload, a crash or a closed tab mid-run does not lose the record of a half-applied
//! change. On the next load, for the same user and tenant, the half-run's report is offered with
//! Verify, Resume and Undo.
//!
//! Records (JSON texts in [`crate::idb::Store`], keys under `journal/`):
//! - `h/<scope>/<run>`: the header, written once when the run starts: who, when, the job's steps
//!   with each target machine and the tags it was planned from (so the plan can be made again,
//!   deterministically, by core's planner).
//! - `s/<run>/<step>`: a step started, with the step as re-planned just before it (its plan may
//!   differ from the header's).
//! - `c/<run>/<step>/<seq>`: one call settled: its machines' outcomes.
//!
//! A run that ends normally deletes its records (its report is in the activity log). Rebuilding
//! an interrupted run: settled machines keep their outcome; the other machines of a step that
//! had started are `Unknown` (their call may have been in flight when the page went: Verify
//! settles them); steps that never started are not attempted.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use defender_tags_core::plan::MachineState;
use defender_tags_core::{MachineId, Tag, TagAction};
use defender_tags_wasm::{ErrorInfo, MachineOutcome, OutcomeStatus, RunReport};
use serde::{Deserialize, Serialize};

use super::job::{Job, JobKind, RunRecord, Step};
use crate::idb::Store;

/// Version of the journal's record format; records of another version are not read.
pub const VERSION: u32 = 1;

/// Key prefix of every journal record.
pub const PREFIX: &str = "journal/";

/// The code of the stop reason of an interrupted run.
pub const INTERRUPTED: &str = "interrupted";

/// One target machine of a step, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalMachine {
    /// Machine id.
    pub id: MachineId,
    /// Computer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags it was planned from (`None`: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// One step: the tag, the action and the machines it was planned for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalStep {
    /// Tag.
    pub tag: Tag,
    /// Add or remove.
    pub action: TagAction,
    /// Target machines, in plan order.
    pub machines: Vec<JournalMachine>,
}

impl JournalStep {
    /// The step as recorded.
    pub fn of(step: &Step) -> Self {
        Self {
            tag: step.plan.tag.clone(),
            action: step.plan.action,
            machines: step
                .states()
                .into_iter()
                .map(|s| JournalMachine {
                    id: s.id,
                    name: s.name,
                    tags: s.tags,
                })
                .collect(),
        }
    }

    /// The step planned again (core's planner is deterministic: the same calls as recorded).
    pub fn step(&self) -> Step {
        let states: Vec<MachineState> = self
            .machines
            .iter()
            .map(|m| MachineState {
                id: m.id.clone(),
                name: m.name.clone(),
                tags: m.tags.clone(),
            })
            .collect();
        Step::from_states(&self.tag, self.action, states)
    }
}

/// The header of a journaled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// [`VERSION`].
    pub version: u32,
    /// Run id (unique in this browser).
    pub run: String,
    /// Kind (`JobKind::as_str`).
    pub kind: String,
    /// The job's title.
    pub title: String,
    /// Where its machines came from.
    pub source: String,
    /// Who ran it.
    pub who: String,
    /// Start, Unix epoch ms.
    pub started_ms: i64,
    /// The steps as planned when the run started.
    pub steps: Vec<JournalStep>,
}

/// A step that started, as re-planned just before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStarted {
    /// 0-based step.
    pub step: usize,
    /// The step as sent.
    pub plan: JournalStep,
}

/// One settled call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSettled {
    /// 0-based step.
    pub step: usize,
    /// When it settled, Unix epoch ms.
    #[serde(default)]
    pub at_ms: i64,
    /// Its machines' outcomes.
    pub outcomes: Vec<SettledMachine>,
}

/// One machine's outcome in a settled call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettledMachine {
    /// Machine id (as in the report).
    pub machine: String,
    /// Status key (`applied`, `failed`, ...; see `status_key`).
    pub status: String,
    /// Error code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Error message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn status_from_key(key: &str) -> Option<OutcomeStatus> {
    [
        OutcomeStatus::Applied,
        OutcomeStatus::AlreadyInPlace,
        OutcomeStatus::Skipped,
        OutcomeStatus::Failed,
        OutcomeStatus::Unknown,
        OutcomeStatus::NotAttempted,
    ]
    .into_iter()
    .find(|s| super::job::status_key(*s) == key)
}

impl CallSettled {
    /// The record of `outcomes` (one call's machines) in step `step`.
    pub fn of(step: usize, at_ms: i64, outcomes: &[MachineOutcome]) -> Self {
        Self {
            step,
            at_ms,
            outcomes: outcomes
                .iter()
                .map(|o| SettledMachine {
                    machine: o.machine.clone(),
                    status: super::job::status_key(o.status).to_owned(),
                    code: o.error.as_ref().map(|e| e.code.clone()),
                    message: o.error.as_ref().map(|e| e.message.clone()),
                })
                .collect(),
        }
    }
}

fn kind_from(s: &str) -> JobKind {
    [
        JobKind::Change,
        JobKind::RemoveEverywhere,
        JobKind::Merge,
        JobKind::Undo,
        JobKind::Resume,
        JobKind::Rule,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
    .unwrap_or(JobKind::Change)
}

/// Where a run's records live: per tenant and user, so another user of this browser, or the same
/// user in another tenant, is never offered this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// The scope of `username` in `tenant` (both case-folded; `/` cannot split the key).
    pub fn new(tenant: &str, username: &str) -> Self {
        let clean = |s: &str| s.to_lowercase().replace('/', "%2F");
        Scope(format!("{}/{}", clean(tenant), clean(username)))
    }

    /// The scope's own part of a key (`<tenant>/<user>`).
    pub fn key(&self) -> &str {
        &self.0
    }

    /// Prefix of this scope's headers.
    pub fn headers(&self) -> String {
        format!("{PREFIX}h/{}/", self.0)
    }

    /// Key of run `run`'s header.
    pub fn header_key(&self, run: &str) -> String {
        format!("{}{run}", self.headers())
    }
}

/// Prefix of run `run`'s step and call records.
pub fn run_prefix(kind: char, run: &str) -> String {
    format!("{PREFIX}{kind}/{run}/")
}

/// Key of step `step` of `run` started.
pub fn step_key(run: &str, step: usize) -> String {
    format!("{}{step:04}", run_prefix('s', run))
}

/// Key of the `seq`-th settled call of `run`.
pub fn call_key(run: &str, step: usize, seq: u32) -> String {
    format!("{}{step:04}/{seq:08}", run_prefix('c', run))
}

/// Why a journal could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// A record is not valid JSON of its kind.
    #[error("journal record {key} is unreadable: {reason}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Written by another version of the app.
    #[error("journal record {key} has version {found}; this app reads version {VERSION}")]
    Version {
        /// Its key.
        key: String,
        /// Version found.
        found: u32,
    },
}

impl Header {
    /// The header of `job`'s run `run`.
    pub fn of(job: &Job, run: &str, who: &str, started_ms: i64) -> Self {
        Self {
            version: VERSION,
            run: run.to_owned(),
            kind: job.kind.as_str().to_owned(),
            title: job.title.clone(),
            source: job.source.clone(),
            who: who.to_owned(),
            started_ms,
            steps: job.steps.iter().map(JournalStep::of).collect(),
        }
    }

    /// Parses a header record.
    pub fn parse(key: &str, json: &str) -> Result<Self, JournalError> {
        let header: Header = serde_json::from_str(json).map_err(|e| JournalError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        if header.version != VERSION {
            return Err(JournalError::Version {
                key: key.to_owned(),
                found: header.version,
            });
        }
        Ok(header)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(key: &str, json: &str) -> Result<T, JournalError> {
    serde_json::from_str(json).map_err(|e| JournalError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Rebuilds the record of an interrupted run from its header and its step and call records
/// (`(key, json)` pairs as read from the store).
pub fn rebuild(
    header: &Header,
    steps: &[(String, String)],
    calls: &[(String, String)],
) -> Result<RunRecord, JournalError> {
    let mut last_write_ms = header.started_ms;
    let mut job_steps: Vec<Step> = header.steps.iter().map(JournalStep::step).collect();
    let mut started = vec![false; job_steps.len()];
    for (key, json) in steps {
        let s: StepStarted = parse(key, json)?;
        if let Some(slot) = job_steps.get_mut(s.step) {
            *slot = s.plan.step();
            started[s.step] = true;
        }
    }
    let mut settled: Vec<HashMap<String, SettledMachine>> = vec![HashMap::new(); job_steps.len()];
    for (key, json) in calls {
        let c: CallSettled = parse(key, json)?;
        last_write_ms = last_write_ms.max(c.at_ms);
        if let Some(map) = settled.get_mut(c.step) {
            started[c.step] = true;
            for m in c.outcomes {
                map.insert(m.machine.clone(), m);
            }
        }
    }
    let last_started = started.iter().rposition(|s| *s);
    let mut reports = Vec::new();
    for (i, step) in job_steps.iter().enumerate() {
        if Some(i) > last_started || last_started.is_none() {
            break;
        }
        let outcomes = step
            .plan
            .outcomes
            .iter()
            .map(|o| {
                let id = o.id.to_string();
                match settled[i].get(&id) {
                    Some(m) => MachineOutcome {
                        machine: id,
                        status: status_from_key(&m.status).unwrap_or(OutcomeStatus::Unknown),
                        error: m.code.as_ref().map(|code| ErrorInfo {
                            code: code.clone(),
                            message: m.message.clone().unwrap_or_default(),
                            status: None,
                            retry_after: None,
                        }),
                    },
                    None if o.expected == defender_tags_core::ExpectedOutcome::AlreadyInPlace => {
                        MachineOutcome {
                            machine: id,
                            status: OutcomeStatus::AlreadyInPlace,
                            error: None,
                        }
                    }
                    None => MachineOutcome {
                        machine: id,
                        status: OutcomeStatus::Unknown,
                        error: Some(ErrorInfo {
                            code: INTERRUPTED.to_owned(),
                            message: "the page closed during the run, possibly while this machine's call was in flight; verify it".to_owned(),
                            status: None,
                            retry_after: None,
                        }),
                    },
                }
            })
            .collect();
        let is_last = Some(i) == last_started;
        reports.push(RunReport {
            tag: step.plan.tag.as_str().to_owned(),
            action: step.plan.action.as_str().to_owned(),
            outcomes,
            aborted: false,
            stopped_by: is_last.then(|| ErrorInfo {
                code: INTERRUPTED.to_owned(),
                message: "the page was closed or reloaded during the run".to_owned(),
                status: None,
                retry_after: None,
            }),
            calls_planned: u32::try_from(step.plan.calls.len()).unwrap_or(u32::MAX),
            calls_made: 0,
        });
    }
    if reports.is_empty() {
        // Interrupted before its first step started: report that, rather than nothing.
        if let Some(first) = job_steps.first() {
            let mut r = RunReport {
                tag: first.plan.tag.as_str().to_owned(),
                action: first.plan.action.as_str().to_owned(),
                outcomes: Vec::new(),
                aborted: false,
                stopped_by: None,
                calls_planned: 0,
                calls_made: 0,
            };
            r.outcomes = crate::bulk::runner::plan_rows(&first.plan);
            r.stopped_by = Some(ErrorInfo {
                code: INTERRUPTED.to_owned(),
                message: "the page was closed or reloaded before the run sent anything".to_owned(),
                status: None,
                retry_after: None,
            });
            reports.push(r);
        }
    }
    Ok(RunRecord {
        job: Job {
            kind: kind_from(&header.kind),
            title: header.title.clone(),
            source: header.source.clone(),
            steps: job_steps,
            unresolved: Vec::new(),
            device_value: None,
        },
        reports,
        who: header.who.clone(),
        started_ms: header.started_ms,
        finished_ms: last_write_ms,
    })
}

/// Writes one run's journal while it runs. Every write is best effort: a browser without
/// IndexedDB (or with it full) still runs the job, only without surviving a reload.
#[derive(Debug, Clone)]
pub struct JournalWriter {
    store: Store,
    scope: Scope,
    run: String,
    seq: Rc<Cell<u32>>,
}

impl JournalWriter {
    /// Opens the store and writes the run's header; `None` when the browser cannot keep it.
    pub async fn start(
        scope: Scope,
        job: &Job,
        who: &str,
        started_ms: i64,
    ) -> Option<JournalWriter> {
        let store = Store::open().await.ok()?;
        let run = run_id(started_ms);
        let header = serde_json::to_string(&Header::of(job, &run, who, started_ms)).ok()?;
        store.put(&scope.header_key(&run), &header).await.ok()?;
        Some(JournalWriter {
            store,
            scope,
            run,
            seq: Rc::new(Cell::new(0)),
        })
    }

    /// Records that step `index` (0-based) starts, as re-planned.
    pub async fn step(&self, index: usize, step: &Step) {
        let record = StepStarted {
            step: index,
            plan: JournalStep::of(step),
        };
        if let Ok(json) = serde_json::to_string(&record) {
            let _ = self.store.put(&step_key(&self.run, index), &json).await;
        }
    }

    /// Records one settled call of step `index` (written in the background: the run does not
    /// wait for the disk).
    pub fn settled(&self, index: usize, outcomes: &[MachineOutcome]) {
        let seq = self.seq.get();
        self.seq.set(seq.saturating_add(1));
        let Ok(json) =
            serde_json::to_string(&CallSettled::of(index, crate::state::now_ms(), outcomes))
        else {
            return;
        };
        let store = self.store.clone();
        let key = call_key(&self.run, index, seq);
        leptos::task::spawn_local(async move {
            let _ = store.put(&key, &json).await;
        });
    }

    /// The run ended normally: its report is in the activity log, so the journal goes.
    pub async fn finish(self) {
        discard(&self.store, &self.scope, &self.run).await;
    }
}

/// Deletes every record of run `run`.
pub async fn discard(store: &Store, scope: &Scope, run: &str) {
    let _ = store.delete_under(&run_prefix('c', run)).await;
    let _ = store.delete_under(&run_prefix('s', run)).await;
    let _ = store.delete_under(&scope.header_key(run)).await;
}

/// A run of this scope that did not end: its id and its rebuilt record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// Run id.
    pub run: String,
    /// The record rebuilt from the journal.
    pub record: RunRecord,
}

/// Whether `scope` holds a run that never finished: a look at the run headers alone, nothing
/// read back or rebuilt (what decides whether the interrupted-runs banner's code loads at all).
pub async fn any_interrupted(store: &Store, scope: &Scope) -> bool {
    store
        .under(&scope.headers())
        .await
        .is_ok_and(|headers| !headers.is_empty())
}

/// Reads back the runs of `scope` that never finished (newest first). Unreadable records are
/// reported, not guessed at.
pub async fn interrupted(store: &Store, scope: &Scope) -> Vec<Result<Interrupted, JournalError>> {
    let Ok(headers) = store.under(&scope.headers()).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, json) in headers.iter().rev() {
        let header = match Header::parse(key, json) {
            Ok(h) => h,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let steps = store
            .under(&run_prefix('s', &header.run))
            .await
            .unwrap_or_default();
        let calls = store
            .under(&run_prefix('c', &header.run))
            .await
            .unwrap_or_default();
        out.push(rebuild(&header, &steps, &calls).map(|record| Interrupted {
            run: header.run.clone(),
            record,
        }));
    }
    out
}

/// A run id unique in this browser: the start time plus randomness (two tabs may start a run
/// in the same millisecond).
fn run_id(started_ms: i64) -> String {
    #[cfg(target_arch = "wasm32")]
    let noise = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let noise = std::process::id() as u64;
    format!("{started_ms:013}-{noise:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::Machine;

    fn machine(n: u32, tags: &[&str]) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(format!("ws-{n}"));
        m.machine_tags = tags.iter().map(|t| t.to_string()).collect();
        m
    }

    fn settled(step: usize, ids: &[u32], status: OutcomeStatus) -> CallSettled {
        let outcomes: Vec<MachineOutcome> = ids
            .iter()
            .map(|n| MachineOutcome {
                machine: format!("{n:040x}"),
                status,
                error: None,
            })
            .collect();
        CallSettled::of(step, 5_000, &outcomes)
    }

    #[test]
    fn an_interrupted_run_rebuilds_settled_unknown_and_not_attempted_exactly() {
        let ms: Vec<Machine> = (1..=1200)
            .map(|n| machine(n, if n == 7 { &["T"] } else { &[] }))
            .collect();
        let refs: Vec<&Machine> = ms.iter().collect();
        let job = Job::change(
            &Tag::parse("T").unwrap(),
            TagAction::Add,
            &refs,
            vec![],
            "test",
        );
        // 1,199 to send: three calls of 500, 500 and 199.
        assert_eq!(job.steps[0].plan.calls.len(), 3);
        let header = Header::of(&job, "run-1", "Ada", 1_000);
        let header_json = serde_json::to_string(&header).unwrap();
        let back = Header::parse("k", &header_json).unwrap();
        assert_eq!(back, header);
        let first_call: Vec<u32> = (1..=501).filter(|n| *n != 7).collect();
        let steps = vec![(
            step_key("run-1", 0),
            serde_json::to_string(&StepStarted {
                step: 0,
                plan: JournalStep::of(&job.steps[0]),
            })
            .unwrap(),
        )];
        let calls = vec![(
            call_key("run-1", 0, 0),
            serde_json::to_string(&settled(0, &first_call, OutcomeStatus::Applied)).unwrap(),
        )];
        let record = rebuild(&back, &steps, &calls).unwrap();
        assert_eq!(
            record.job.steps, job.steps,
            "the plan is made again exactly"
        );
        assert_eq!(record.reports.len(), 1);
        let r = &record.reports[0];
        assert_eq!(r.count(OutcomeStatus::Applied), 500);
        assert_eq!(r.count(OutcomeStatus::AlreadyInPlace), 1);
        assert_eq!(
            r.count(OutcomeStatus::Unknown),
            699,
            "the calls not settled may have been in flight"
        );
        assert_eq!(r.stopped_by.as_ref().unwrap().code, INTERRUPTED);
        assert_eq!(record.changed_machines(), 500);
        assert_eq!(record.finished_ms, 5_000);
        assert!(record.stopped_by().unwrap().contains("closed or reloaded"));
    }

    #[test]
    fn a_later_step_not_started_is_not_attempted_and_a_replanned_step_wins() {
        let ms = [machine(1, &["finance"]), machine(2, &["FINANCE"])];
        let job = Job::merge(
            "Finance",
            &["Finance".into(), "finance".into(), "FINANCE".into()],
            &ms,
        )
        .unwrap();
        let header = Header::of(&job, "r", "Ada", 0);
        // Step 0 was re-planned before it started: ws-1 had been given "Finance" meanwhile.
        let (fresh, _) = job.with_step_refreshed(
            0,
            &[defender_tags_core::TaggedMachine {
                id: ms[0].id.clone(),
                machine_tags: vec!["finance".into(), "Finance".into()],
            }],
        );
        let steps = vec![(
            step_key("r", 0),
            serde_json::to_string(&StepStarted {
                step: 0,
                plan: JournalStep::of(&fresh.steps[0]),
            })
            .unwrap(),
        )];
        let calls = vec![(
            call_key("r", 0, 0),
            serde_json::to_string(&settled(0, &[2], OutcomeStatus::Applied)).unwrap(),
        )];
        let record = rebuild(&header, &steps, &calls).unwrap();
        assert_eq!(record.job.kind, JobKind::Merge);
        assert_eq!(record.reports.len(), 1);
        assert_eq!(record.reports[0].count(OutcomeStatus::AlreadyInPlace), 1);
        assert_eq!(record.reports[0].count(OutcomeStatus::Applied), 1);
        let rows = record.rows();
        assert_eq!(
            rows.iter()
                .filter(|r| r.step > 1 && r.status == OutcomeStatus::NotAttempted)
                .count(),
            2
        );
    }

    #[test]
    fn corrupt_or_foreign_records_are_refused_with_their_key() {
        let err = Header::parse("journal/h/x/r", "{").unwrap_err();
        assert!(err.to_string().contains("journal/h/x/r"), "{err}");
        let ms = [machine(1, &[])];
        let refs: Vec<&Machine> = ms.iter().collect();
        let job = Job::change(
            &Tag::parse("T").unwrap(),
            TagAction::Add,
            &refs,
            vec![],
            "t",
        );
        let mut h = Header::of(&job, "r", "a", 0);
        h.version = 99;
        let err = Header::parse("k", &serde_json::to_string(&h).unwrap()).unwrap_err();
        assert!(matches!(err, JournalError::Version { found: 99, .. }));
        // A tag that fails validation cannot sneak in through a stored record.
        let bad = serde_json::to_string(&Header::of(&job, "r", "a", 0))
            .unwrap()
            .replace("\"T\"", "\" T\"");
        assert!(Header::parse("k", &bad).is_err());
        let bad_call = rebuild(
            &Header::of(&job, "r", "a", 0),
            &[],
            &[("c".into(), "[]".into())],
        );
        assert!(matches!(bad_call, Err(JournalError::Corrupt { .. })));
    }

    #[test]
    fn scopes_keep_users_and_tenants_apart() {
        let a = Scope::new("Contoso", "ada@contoso.com");
        let b = Scope::new("contoso", "bob@contoso.com");
        let c = Scope::new("fabrikam", "ada@contoso.com");
        assert_ne!(a.headers(), b.headers());
        assert_ne!(a.headers(), c.headers());
        assert!(!a.header_key("r").starts_with(&b.headers()));
        assert_eq!(Scope::new("x", "a/b").headers(), "journal/h/x/a%2Fb/");
    }
}
