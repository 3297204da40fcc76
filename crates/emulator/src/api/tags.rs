//! `POST /api/machines/{id}/tags` and `POST /api/machines/AddOrRemoveTagForMultipleMachines`.
//!
//! Bodies are checked field by field so each mistake gets the documented code: a missing field
//! is `MissingRequiredParameter`, a field spelt in the wrong case is `InvalidRequestBody`
//! (parameter names are case-sensitive, docs/defender-api.md §4), a bad value is `InvalidInput`.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::response::Response;
use defender_tags_core::model::MAX_TAG_CHARS;
use defender_tags_core::{MAX_BULK_IDS, Machine, MachineId, ODataList, TagAction};
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::machines::{Entity, resolve};
use super::{Ctx, ok_json};
use crate::config::RETENTION_DAYS;

pub(super) fn parse_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::invalid_body(
            "Request body is incorrect: expected a JSON object.",
        )),
        Err(e) => Err(ApiError::invalid_body(format!(
            "Request body is incorrect: {e}."
        ))),
    }
}

/// The field `name`, exactly spelt. A differently-cased spelling is reported as such.
pub(super) fn field<'a>(o: &'a Map<String, Value>, name: &str) -> Result<&'a Value, ApiError> {
    if let Some(v) = o.get(name) {
        return Ok(v);
    }
    if let Some(k) = o.keys().find(|k| k.eq_ignore_ascii_case(name)) {
        return Err(ApiError::invalid_body(format!(
            "Request body is incorrect: parameter names are case-sensitive; found '{k}', expected '{name}'."
        )));
    }
    Err(ApiError::missing(name))
}

fn tag_and_action(o: &Map<String, Value>) -> Result<(String, TagAction), ApiError> {
    let value = match field(o, "Value")? {
        Value::String(s) => s.clone(),
        Value::Null => return Err(ApiError::missing("Value")),
        other => {
            return Err(ApiError::invalid_body(format!(
                "Request body is incorrect: Value must be a string, got {other}."
            )));
        }
    };
    if value.trim().is_empty() {
        return Err(ApiError::invalid_input(
            "Invalid input Value: the tag must not be empty.",
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_TAG_CHARS {
        return Err(ApiError::invalid_input(format!(
            "Invalid input Value: the tag has {chars} characters; at most {MAX_TAG_CHARS} are allowed."
        )));
    }
    let action = match field(o, "Action")? {
        Value::String(s) if s.eq_ignore_ascii_case("Add") => TagAction::Add,
        Value::String(s) if s.eq_ignore_ascii_case("Remove") => TagAction::Remove,
        Value::Null => return Err(ApiError::missing("Action")),
        other => {
            return Err(ApiError::invalid_input(format!(
                "Invalid input Action: {other}. Allowed values are: 'Add' or 'Remove'."
            )));
        }
    };
    Ok((value, action))
}

pub(super) fn beyond_retention(m: &Machine) -> ApiError {
    let seen = m.last_seen.map_or_else(
        || "never".to_owned(),
        defender_tags_core::model::datetime::format_datetime,
    );
    ApiError::disallowed(format!(
        "Machine {} was last seen {seen}, beyond the retention period of {RETENTION_DAYS} days; it cannot be updated.",
        m.id
    ))
}

/// `POST /api/machines/{id}/tags`: returns the updated machine.
pub(crate) fn tag_one(ctx: &Ctx<'_>, key: &str, body: &Bytes) -> Result<Response, ApiError> {
    let o = parse_object(body)?;
    let (value, action) = tag_and_action(&o)?;
    let (resp, changed) = update_one(ctx, key, |m| action.apply(&mut m.machine_tags, &value))?;
    ctx.st.stats.record_tags(1, u64::from(changed));
    tracing::debug!(machine = key, action = action.as_str(), changed, "tag");
    Ok(resp)
}

/// One machine's update by id, as every single-machine POST does it: an id that is not one,
/// unknown or outside the caller's device groups is 404, beyond retention is refused; `update`
/// says whether it changed anything (the store is then marked for saving). Returns the updated
/// machine's entity and whether it changed.
pub(crate) fn update_one(
    ctx: &Ctx<'_>,
    key: &str,
    update: impl FnOnce(&mut Machine) -> bool,
) -> Result<(Response, bool), ApiError> {
    let not_found = || ApiError::not_found(format!("Machine {key} was not found"));
    if !MachineId::looks_like_id(key) {
        return Err(not_found());
    }
    let mut store = ctx.tenant.write();
    let Some(i) = resolve(&store, key, |m| ctx.scope.in_groups(m)) else {
        return Err(not_found());
    };
    let Some(m) = store.get_mut(i) else {
        return Err(not_found());
    };
    if !ctx.scope.within_retention(m) {
        return Err(beyond_retention(m));
    }
    let changed = update(m);
    let m: &Machine = m;
    let resp = ok_json(&Entity {
        context: format!("{}/api/$metadata#Machines/$entity", ctx.origin),
        machine: m,
    });
    drop(store);
    if changed {
        ctx.st.mark_dirty();
    }
    resp.map(|r| (r, changed))
}

/// `POST /api/machines/AddOrRemoveTagForMultipleMachines`: returns the updated machines.
///
/// All-or-nothing validation: a malformed id, more than 500 ids or a bad body rejects the whole
/// call. Unknown ids, machines outside the caller's device groups and machines beyond retention
/// are skipped (they are simply absent from the answer), so one stale id does not block 499
/// good ones; clients compare the answer with what they sent.
pub(crate) fn tag_many(ctx: &Ctx<'_>, body: &Bytes) -> Result<Response, ApiError> {
    let o = parse_object(body)?;
    let ids = match field(&o, "MachineIds")? {
        Value::Array(a) => a,
        Value::Null => return Err(ApiError::missing("MachineIds")),
        other => {
            return Err(ApiError::invalid_body(format!(
                "Request body is incorrect: MachineIds must be a list of strings, got {other}."
            )));
        }
    };
    if ids.len() > MAX_BULK_IDS {
        return Err(ApiError::batch_too_big(ids.len(), MAX_BULK_IDS));
    }
    let (value, action) = tag_and_action(&o)?;
    if ids.is_empty() {
        return Err(ApiError::invalid_input(
            "Invalid input MachineIds: the list is empty.",
        ));
    }
    let mut parsed: Vec<MachineId> = Vec::with_capacity(ids.len());
    let mut seen = HashSet::with_capacity(ids.len());
    for (n, v) in ids.iter().enumerate() {
        let Value::String(s) = v else {
            return Err(ApiError::invalid_input(format!(
                "Invalid input MachineIds[{n}]: {v} is not a string."
            )));
        };
        let id = MachineId::parse(s).map_err(|e| {
            ApiError::invalid_input(format!(
                "Invalid input MachineIds[{n}]: '{s}' is not a machine id ({e})."
            ))
        })?;
        if seen.insert(id.clone()) {
            parsed.push(id);
        }
    }
    let mut store = ctx.tenant.write();
    let mut updated: Vec<usize> = Vec::with_capacity(parsed.len());
    let mut changes = 0u64;
    for id in &parsed {
        let Some(i) = store.index_of_id(id.as_str()) else {
            continue;
        };
        let Some(m) = store.get_mut(i) else { continue };
        if !ctx.scope.sees(m) {
            continue;
        }
        if action.apply(&mut m.machine_tags, &value) {
            changes += 1;
        }
        updated.push(i);
    }
    let machines: Vec<&Machine> = updated.iter().filter_map(|i| store.get(*i)).collect();
    let mut list = ODataList::new(machines);
    list.context = Some(format!("{}/api/$metadata#Machines", ctx.origin));
    let resp = ok_json(&list);
    drop(store);
    ctx.st.stats.record_tags(updated.len() as u64, changes);
    if changes > 0 {
        ctx.st.mark_dirty();
    }
    tracing::debug!(
        requested = parsed.len(),
        updated = updated.len(),
        changes,
        action = action.as_str(),
        "bulk tag"
    );
    resp
}
