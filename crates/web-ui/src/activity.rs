//! The activity log: every tag change made from this mount of the UI in this browser tab (single
//! edits and bulk runs), who made it, when, and how it ended; exportable as CSV or JSON.
//!
//! Kept in memory, and mirrored to `sessionStorage` (never localStorage): signing in with MSAL's
//! redirect flow, or a token renewal that needs interaction, reloads the page, and the log of the
//! changes made before that must survive it. sessionStorage is per tab and cleared when the tab
//! closes, which is what "this browser session" means. Entries hold ids, names, tags and
//! outcomes, never a token.

use std::collections::HashSet;
use std::rc::Rc;

use defender_tags_core::{DeviceValue, Machine, MachineId, Tag, TagAction};
use defender_tags_wasm::LocalBoxFuture;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{Backend, BackendRef, Target, UiError};
use crate::bulk::export::write_safe_row;
use crate::bulk::job::{JobKind, RunRecord, status_key, status_label};
use crate::bulk::journal::Scope;
use crate::idb::Store;
use crate::state::{Session, now_ms};
use defender_tags_core::query::MachineQuery;

/// Days the durable log keeps an entry unless the user chooses otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// The longest retention offered (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3_650;

const DAY_MS: i64 = 86_400_000;

fn durable_prefix(scope: &Scope) -> String {
    format!("activity/{}/e/", scope.key())
}

/// Keys sort by time, so entries older than a cutoff are one key range.
fn durable_key(scope: &Scope, at_ms: i64, seq: u64) -> String {
    format!("{}{:013}-{seq:08}", durable_prefix(scope), at_ms.max(0))
}

fn retention_key(scope: &Scope) -> String {
    format!("activity/{}/retention", scope.key())
}

async fn retention_days(store: &Store, scope: &Scope) -> u32 {
    store
        .under(&retention_key(scope))
        .await
        .ok()
        .and_then(|v| v.into_iter().next())
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(DEFAULT_RETENTION_DAYS)
}

/// What makes two copies of an entry the same entry (the tab's copy and the durable one).
fn identity(e: &Entry) -> (i64, String, String, String) {
    (e.at_ms, e.kind.clone(), e.what.clone(), e.who.clone())
}

/// The durable entries plus this tab's entries not among them, in time order and renumbered;
/// also the identities of the tab's entries that were missing (to be written).
fn merge(kept: Vec<Entry>, tab: &[Entry]) -> (ActivityLog, HashSet<(i64, String, String, String)>) {
    let known: HashSet<_> = kept.iter().map(identity).collect();
    let missing: HashSet<_> = tab
        .iter()
        .map(identity)
        .filter(|i| !known.contains(i))
        .collect();
    let mut all: Vec<Entry> = kept
        .into_iter()
        .chain(
            tab.iter()
                .filter(|e| missing.contains(&identity(e)))
                .cloned(),
        )
        .collect();
    all.sort_by_key(|e| (e.at_ms, e.seq));
    let mut log = ActivityLog::default();
    for e in all {
        log.push(e);
    }
    (log, missing)
}

/// sessionStorage key of the log.
pub const STORAGE_KEY: &str = "defender-tags.activity";

/// At most this many per-machine lines are kept over the whole log (oldest dropped first), so a
/// day of 10,000-machine runs cannot exhaust sessionStorage.
pub const MAX_DETAIL_LINES: usize = 50_000;

/// One machine's change within an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Machine id.
    pub machine_id: String,
    /// Computer name.
    pub computer_name: String,
    /// Tag.
    pub tag: String,
    /// `Add`/`Remove`.
    pub action: String,
    /// `applied`, `failed`, `unknown`, `notAttempted`, ...
    pub status: String,
    /// Error message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One logged action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Sequence number in this session (1-based).
    pub seq: u64,
    /// When it finished, Unix epoch ms.
    pub at_ms: i64,
    /// Who (display name and username of the signed-in user).
    pub who: String,
    /// `single`, `bulk`, `remove-everywhere`, `merge`, `undo`.
    pub kind: String,
    /// What, in words.
    pub what: String,
    /// Machines the change was aimed at.
    pub machines: usize,
    /// How it ended, in words ("12 changed, 1 failed").
    pub outcome: String,
    /// Whether everything aimed at ended in the wanted state.
    pub ok: bool,
    /// Per-machine lines (already-in-place machines left out).
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// The session's entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActivityLog {
    /// Entries.
    pub entries: Vec<Entry>,
}

impl ActivityLog {
    /// Appends an entry (numbering it) and trims old per-machine lines beyond the cap.
    pub fn push(&mut self, mut entry: Entry) {
        entry.seq = self.entries.last().map_or(1, |e| e.seq + 1);
        self.entries.push(entry);
        let mut total: usize = self.entries.iter().map(|e| e.changes.len()).sum();
        for e in &mut self.entries {
            if total <= MAX_DETAIL_LINES {
                break;
            }
            total -= e.changes.len();
            e.changes.clear();
        }
    }

    /// The log as JSON (pretty; what "Export JSON" downloads).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.entries).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The log as CSV: one row per machine line, or one row for an entry without lines.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "seq",
            "time",
            "who",
            "kind",
            "what",
            "outcome",
            "machineId",
            "computerName",
            "tag",
            "action",
            "status",
            "error",
        ])?;
        for e in &self.entries {
            let time = format_time(e.at_ms);
            let head = [
                e.seq.to_string(),
                time,
                e.who.clone(),
                e.kind.clone(),
                e.what.clone(),
                e.outcome.clone(),
            ];
            if e.changes.is_empty() {
                write_safe_row(
                    &mut w,
                    head.iter()
                        .map(String::as_str)
                        .chain(["", "", "", "", "", ""]),
                )?;
            }
            for c in &e.changes {
                write_safe_row(
                    &mut w,
                    head.iter().map(String::as_str).chain([
                        c.machine_id.as_str(),
                        c.computer_name.as_str(),
                        c.tag.as_str(),
                        c.action.as_str(),
                        c.status.as_str(),
                        c.error.as_deref().unwrap_or(""),
                    ]),
                )?;
            }
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// An ISO 8601 UTC time for a Unix epoch ms.
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(defender_tags_core::model::datetime::format_datetime)
        .unwrap_or_default()
}

/// How the UI shows a moment: `2026-12-06 17:54:12 UTC` (the table's hover, the report, the
/// activity log and the journal offer all use it).
pub fn display_time(ms: i64) -> String {
    let iso = format_time(ms);
    if iso.is_empty() {
        return String::new();
    }
    format!(
        "{} UTC",
        iso.replace('T', " ").chars().take(19).collect::<String>()
    )
}

/// "Ann Example (ann@contoso.com)" for the signed-in user, or "unknown user".
pub fn who(session: &Session) -> String {
    match session.user() {
        Some(u) if !u.name.is_empty() && u.name != u.username => {
            format!("{} ({})", u.name, u.username)
        }
        Some(u) => u.username.clone(),
        None => "unknown user".to_owned(),
    }
}

/// The entry for a single-machine edit.
pub fn single_entry(
    who: String,
    machine: &MachineId,
    name: &str,
    tag: &str,
    action: TagAction,
    result: &Result<(), UiError>,
) -> Entry {
    let (status, outcome, error) = match result {
        Ok(()) => ("applied", "Changed".to_owned(), None),
        Err(e) => (
            "failed",
            format!("Failed: {}", e.message),
            Some(e.message.clone()),
        ),
    };
    let prep = if action == TagAction::Add {
        "to"
    } else {
        "from"
    };
    Entry {
        seq: 0,
        at_ms: now_ms(),
        who,
        kind: "single".to_owned(),
        what: format!(
            "{} \u{201c}{tag}\u{201d} {prep} {}",
            action.as_str(),
            if name.is_empty() {
                machine.as_str()
            } else {
                name
            }
        ),
        machines: 1,
        outcome,
        ok: result.is_ok(),
        changes: vec![Change {
            machine_id: machine.to_string(),
            computer_name: name.to_owned(),
            tag: tag.to_owned(),
            action: action.as_str().to_owned(),
            status: status.to_owned(),
            error,
        }],
    }
}

/// The entry for setting one machine's device value from the machine panel. `previous` is the
/// value the panel showed before (the change's "before", kept in the log like a tag's action).
pub fn device_value_entry(
    who: String,
    machine: &MachineId,
    name: &str,
    previous: Option<&DeviceValue>,
    value: &DeviceValue,
    result: &Result<(), UiError>,
) -> Entry {
    let (status, outcome, error) = match result {
        Ok(()) => ("applied", "Changed".to_owned(), None),
        Err(e) => (
            "failed",
            format!("Failed: {}", e.message),
            Some(e.message.clone()),
        ),
    };
    let was = previous.map_or_else(|| "unknown".to_owned(), |p| p.as_str().to_owned());
    Entry {
        seq: 0,
        at_ms: now_ms(),
        who,
        kind: "single".to_owned(),
        what: format!(
            "Set device value \u{201c}{value}\u{201d} on {} (was {was})",
            if name.is_empty() {
                machine.as_str()
            } else {
                name
            }
        ),
        machines: 1,
        outcome,
        ok: result.is_ok(),
        changes: vec![Change {
            machine_id: machine.to_string(),
            computer_name: name.to_owned(),
            tag: value.as_str().to_owned(),
            action: crate::bulk::job::DEVICE_VALUE_ACTION.to_owned(),
            status: status.to_owned(),
            error,
        }],
    }
}

/// The entry for a bulk run.
pub fn run_entry(record: &RunRecord) -> Entry {
    let rows = record.rows();
    let machines: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut outcome = record
        .counts()
        .iter()
        .map(|(s, n)| format!("{n} {}", status_label(*s).to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ");
    if record.cancelled() {
        outcome.push_str(" (cancelled)");
    }
    if let Some(stop) = record.stopped_by() {
        outcome.push_str(&format!(" (stopped: {stop})"));
    }
    let ok = !record.cancelled()
        && record.stopped_by().is_none()
        && rows.iter().all(|r| {
            matches!(
                r.status,
                defender_tags_wasm::OutcomeStatus::Applied
                    | defender_tags_wasm::OutcomeStatus::AlreadyInPlace
            )
        });
    Entry {
        seq: 0,
        at_ms: record.finished_ms,
        who: record.who.clone(),
        kind: match record.job.kind {
            JobKind::Change => "bulk",
            other => other.as_str(),
        }
        .to_owned(),
        what: record.job.title.clone(),
        machines: machines.len(),
        outcome,
        ok,
        changes: rows
            .into_iter()
            .filter(|r| r.status != defender_tags_wasm::OutcomeStatus::AlreadyInPlace)
            .map(|r| Change {
                machine_id: r.id,
                computer_name: r.name,
                tag: r.tag,
                action: r.action,
                status: status_key(r.status).to_owned(),
                error: r.error,
            })
            .collect(),
    }
}

/// The activity log of one mount (the app, or one embedded manager), provided as context by
/// `AppState::provide`. Copy: a signal owned by the mount's root.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    log: RwSignal<ActivityLog>,
    /// Added to the storage key: empty for the app, the id prefix of an embedded mount (so two
    /// managers on one page keep two logs).
    mount: StoredValue<String>,
    /// Where the log is kept beyond this tab (the app's signed-in user and tenant), once known.
    durable: RwSignal<Option<Scope>>,
    /// Days entries are kept in the durable log.
    retention: RwSignal<u32>,
    /// The retention last confirmed written to IndexedDB by [`Activity::set_retention`] (the
    /// page says "Saved" only then: a reload before the write would lose the change).
    retention_saved: RwSignal<Option<u32>>,
}

/// The mount's [`Activity`] (panics outside `AppState::provide`'s owner, like `expect_context`).
pub fn use_activity() -> Activity {
    expect_context::<Activity>()
}

impl Activity {
    /// The log of the mount `mount` (see [`Activity::mount`]), read back from sessionStorage.
    pub fn new(mount: &str) -> Self {
        Self {
            log: RwSignal::new(load(&storage_key(mount))),
            mount: StoredValue::new(mount.to_owned()),
            durable: RwSignal::new(None),
            retention: RwSignal::new(DEFAULT_RETENTION_DAYS),
            retention_saved: RwSignal::new(None),
        }
    }

    /// Whether the log is kept beyond this tab (IndexedDB, per user and tenant).
    pub fn is_durable(&self) -> bool {
        self.durable.with(Option::is_some)
    }

    /// Days the durable log keeps an entry.
    pub fn retention(&self) -> RwSignal<u32> {
        self.retention
    }

    /// The retention last confirmed stored by [`Activity::set_retention`].
    pub fn retention_saved(&self) -> RwSignal<Option<u32>> {
        self.retention_saved
    }

    /// Keeps the log of `scope` (a signed-in user in a tenant) in IndexedDB: reads back what
    /// earlier sessions recorded (dropping entries past the retention), adds this tab's entries
    /// not yet kept, and from now on writes every new entry. A browser without IndexedDB keeps
    /// the per-tab log only.
    pub async fn attach(self, scope: Scope) {
        let Ok(store) = Store::open().await else {
            return;
        };
        let days = retention_days(&store, &scope).await;
        self.retention.try_set(days);
        let prefix = durable_prefix(&scope);
        let cutoff = now_ms() - i64::from(days) * DAY_MS;
        let _ = store
            .delete_range(&prefix, &durable_key(&scope, cutoff, 0))
            .await;
        let kept: Vec<Entry> = store
            .under(&prefix)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, json)| serde_json::from_str::<Entry>(&json).ok())
            .collect();
        let Some(session) = self.log.try_get_untracked() else {
            return;
        };
        let merged = merge(kept, &session.entries);
        for e in &session.entries {
            if !merged.1.contains(&identity(e)) {
                continue;
            }
            if let Ok(json) = serde_json::to_string(e) {
                let _ = store.put(&durable_key(&scope, e.at_ms, e.seq), &json).await;
            }
        }
        self.durable.try_set(Some(scope));
        self.log.try_set(merged.0);
    }

    /// Changes how long the durable log keeps entries, and drops those now past it.
    pub fn set_retention(&self, days: u32) {
        let days = days.clamp(1, MAX_RETENTION_DAYS);
        self.retention.set(days);
        let Some(scope) = self.durable.get_untracked() else {
            return;
        };
        let cutoff = now_ms() - i64::from(days) * DAY_MS;
        self.log.update(|l| l.entries.retain(|e| e.at_ms >= cutoff));
        self.retention_saved.set(None);
        let saved = self.retention_saved;
        leptos::task::spawn_local(async move {
            if let Ok(store) = Store::open().await {
                if store
                    .put(&retention_key(&scope), &days.to_string())
                    .await
                    .is_ok()
                {
                    saved.try_set(Some(days));
                }
                let _ = store
                    .delete_range(&durable_prefix(&scope), &durable_key(&scope, cutoff, 0))
                    .await;
            }
        });
    }

    /// Drops the log from view and from this tab's storage (at sign-out): the next user of the
    /// tab starts with their own. The durable log stays with its user.
    pub fn forget(&self) {
        self.log.set(ActivityLog::default());
        self.durable.set(None);
        if let (Some(storage), Some(mount)) = (session_storage(), self.mount.try_get_value()) {
            let _ = storage.remove_item(&storage_key(&mount));
        }
    }

    /// Empties the log: this tab's copy and, for the app, the durable one of this user and
    /// tenant. The only way entries leave before their retention ends.
    pub fn clear(&self) {
        self.log.set(ActivityLog::default());
        if let (Some(storage), Some(mount)) = (session_storage(), self.mount.try_get_value()) {
            let _ = storage.remove_item(&storage_key(&mount));
        }
        if let Some(scope) = self.durable.get_untracked() {
            leptos::task::spawn_local(async move {
                if let Ok(store) = Store::open().await {
                    let _ = store.delete_under(&durable_prefix(&scope)).await;
                }
            });
        }
    }

    /// The log.
    pub fn log(&self) -> RwSignal<ActivityLog> {
        self.log
    }

    /// Appends an entry and mirrors the log to sessionStorage. After the mount is gone (a run
    /// that outlived it) nothing is recorded: its log went with it.
    pub fn record(&self, entry: Entry) {
        if self.log.try_update(|l| l.push(entry)).is_none() {
            return;
        }
        let Some(mount) = self.mount.try_get_value() else {
            return;
        };
        if let Some(storage) = session_storage() {
            let json = self
                .log
                .with_untracked(|l| serde_json::to_string(l).unwrap_or_default());
            // A full sessionStorage only loses the reload-survival; the in-memory log is intact.
            let _ = storage.set_item(&storage_key(&mount), &json);
        }
        if let (Some(scope), Some(entry)) = (
            self.durable.get_untracked(),
            self.log.with_untracked(|l| l.entries.last().cloned()),
        ) {
            leptos::task::spawn_local(async move {
                if let (Ok(store), Ok(json)) = (Store::open().await, serde_json::to_string(&entry))
                {
                    let _ = store
                        .put(&durable_key(&scope, entry.at_ms, entry.seq), &json)
                        .await;
                }
            });
        }
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()?.session_storage().ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The storage key of this tenant's log: a tenant switch reloads the page, and the log of the
/// tenant switched to is read back under its own key (the other tenant's stays apart). An
/// embedded mount adds its id prefix.
fn storage_key(mount: &str) -> String {
    let scope = crate::site::tenant_scope();
    let tenant = if scope.is_empty() {
        STORAGE_KEY.to_owned()
    } else {
        format!("{STORAGE_KEY}:{scope}")
    };
    if mount.is_empty() {
        tenant
    } else {
        format!("{tenant}#{mount}")
    }
}

fn load(key: &str) -> ActivityLog {
    session_storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// A [`Backend`] that records every single-machine tag change it makes in the activity log,
/// naming the machine as the page that made the change showed it ([`Target`]).
pub struct Logged {
    inner: BackendRef,
    session: RwSignal<Session>,
    activity: Activity,
}

impl std::fmt::Debug for Logged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logged")
    }
}

/// Wraps `inner` so its tag changes are logged to `activity` as made by the user of `session`.
pub fn logged(inner: BackendRef, session: RwSignal<Session>, activity: Activity) -> BackendRef {
    BackendRef(Rc::new(Logged {
        inner,
        session,
        activity,
    }))
}

impl Backend for Logged {
    fn search(
        &self,
        query: MachineQuery,
        now_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<Machine>, UiError>> {
        self.inner.0.search(query, now_ms)
    }

    fn set_tag(
        &self,
        target: Target,
        tag: Tag,
        action: TagAction,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let fut = self.inner.0.set_tag(target.clone(), tag.clone(), action);
        let session = self.session;
        let activity = self.activity;
        Box::pin(async move {
            let result = fut.await;
            let who = session.with_untracked(who);
            let name = target.name.as_deref().unwrap_or_default();
            activity.record(single_entry(
                who,
                &target.id,
                name,
                tag.as_str(),
                action,
                &result,
            ));
            result
        })
    }

    fn set_device_value(
        &self,
        target: Target,
        value: DeviceValue,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let fut = self.inner.0.set_device_value(target.clone(), value.clone());
        let session = self.session;
        let activity = self.activity;
        Box::pin(async move {
            let result = fut.await;
            let who = session.with_untracked(who);
            activity.record(device_value_entry(
                who,
                &target.id,
                target.name.as_deref().unwrap_or_default(),
                target.device_value.as_ref(),
                &value,
                &result,
            ));
            result
        })
    }

    fn bulk(&self) -> Option<Rc<dyn crate::bulk::runner::BulkRunner>> {
        self.inner.0.bulk()
    }

    fn rate_usage(&self) -> Option<(u32, u32)> {
        self.inner.0.rate_usage()
    }

    fn hunter(&self) -> Option<Rc<dyn crate::hunting::Hunter>> {
        self.inner.0.hunter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::UiErrorKind;

    fn id(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    #[test]
    fn a_device_value_change_is_logged_with_the_earlier_value() {
        let e = device_value_entry(
            "Ann".into(),
            &id(1),
            "web01",
            Some(&DeviceValue::Normal),
            &DeviceValue::High,
            &Ok(()),
        );
        assert_eq!(
            e.what,
            "Set device value \u{201c}High\u{201d} on web01 (was Normal)"
        );
        assert!(e.ok);
        assert_eq!(e.changes[0].action, "SetDeviceValue");
        assert_eq!(e.changes[0].tag, "High");
        let failed = device_value_entry(
            "Ann".into(),
            &id(1),
            "",
            None,
            &DeviceValue::Low,
            &Err(UiError::new(UiErrorKind::Forbidden, "no")),
        );
        assert!(!failed.ok);
        assert!(failed.what.contains("(was unknown)"), "{}", failed.what);
        assert_eq!(failed.changes[0].status, "failed");
    }

    fn at(ms: i64, what: &str) -> Entry {
        let mut e = single_entry("Ann".into(), &id(1), "web01", "T", TagAction::Add, &Ok(()));
        e.at_ms = ms;
        e.what = what.into();
        e
    }

    #[test]
    fn moments_read_the_same_everywhere() {
        assert_eq!(display_time(1_765_043_652_994), "2025-12-06 17:54:12 UTC");
    }

    #[test]
    fn the_durable_log_and_this_tabs_log_merge_without_duplicates_in_time_order() {
        let kept = vec![at(10, "a"), at(30, "c")];
        let tab = vec![at(30, "c"), at(20, "b"), at(40, "d")];
        let (log, missing) = merge(kept, &tab);
        let whats: Vec<&str> = log.entries.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(whats, ["a", "b", "c", "d"]);
        assert_eq!(
            log.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        let mut missing: Vec<i64> = missing.into_iter().map(|i| i.0).collect();
        missing.sort();
        assert_eq!(missing, [20, 40], "only the tab's new entries are written");
    }

    #[test]
    fn durable_keys_sort_by_time_so_retention_is_one_range() {
        let s = Scope::new("t", "u");
        let old = durable_key(&s, 999, 7);
        let new = durable_key(&s, 1_000_000, 1);
        assert!(old < new);
        assert!(old.starts_with(&durable_prefix(&s)));
        assert!(durable_key(&s, 5_000, 0) < durable_key(&s, 5_000, 1));
    }

    #[test]
    fn entries_are_numbered_and_exported_as_csv_and_json() {
        let mut log = ActivityLog::default();
        log.push(single_entry(
            "Ann (ann@x)".into(),
            &id(1),
            "web01",
            "Pilot",
            TagAction::Add,
            &Ok(()),
        ));
        let err = UiError::new(UiErrorKind::Forbidden, "Permission denied, \"really\"");
        log.push(single_entry(
            "Ann (ann@x)".into(),
            &id(2),
            "",
            "Pilot",
            TagAction::Remove,
            &Err(err),
        ));
        assert_eq!(
            log.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(
            log.entries[1].what,
            format!("Remove \u{201c}Pilot\u{201d} from {}", id(2))
        );
        assert!(!log.entries[1].ok);

        let csv_text = log.to_csv().unwrap();
        let mut r = csv::Reader::from_reader(csv_text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][2], "Ann (ann@x)");
        assert_eq!(&rows[0][7], "web01");
        assert_eq!(&rows[1][10], "failed");
        assert_eq!(
            &rows[1][11], "Permission denied, \"really\"",
            "quotes and commas survive"
        );

        let json: serde_json::Value = serde_json::from_str(&log.to_json()).unwrap();
        assert_eq!(json[0]["who"], "Ann (ann@x)");
        assert_eq!(json[1]["changes"][0]["status"], "failed");
        assert_eq!(json[0]["changes"][0]["machineId"], id(1).to_string());
    }

    #[test]
    fn the_log_round_trips_through_storage_json_and_caps_detail_lines() {
        let mut log = ActivityLog::default();
        let mut big = single_entry("a".into(), &id(1), "n", "t", TagAction::Add, &Ok(()));
        big.changes = vec![big.changes[0].clone(); MAX_DETAIL_LINES];
        log.push(big);
        log.push(single_entry(
            "a".into(),
            &id(1),
            "n",
            "t",
            TagAction::Add,
            &Ok(()),
        ));
        assert!(
            log.entries[0].changes.is_empty(),
            "oldest detail dropped first"
        );
        assert_eq!(log.entries[1].changes.len(), 1);
        let back: ActivityLog =
            serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
        assert_eq!(back, log);
    }

    #[test]
    fn times_are_iso_utc() {
        assert!(
            format_time(0).starts_with("1970-01-01T00:00:00"),
            "{}",
            format_time(0)
        );
    }
}
