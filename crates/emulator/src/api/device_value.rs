//! `POST /api/machines/{id}/setDeviceValue` (docs/defender-api.md §6).
//!
//! Same permission, device-group scoping and retention rule as tagging one machine; the body is
//! `{"DeviceValue": "Low"|"Normal"|"High"}`, name and value both case-sensitive.

use axum::body::Bytes;
use axum::response::Response;
use defender_tags_core::{DeviceValue, Machine, MachineId};
use serde_json::Value;

use super::errors::ApiError;
use super::machines::{Entity, resolve};
use super::tags::{beyond_retention, field, parse_object};
use super::{Ctx, ok_json};

/// Sets the machine's value; returns the updated machine.
pub(crate) fn set(ctx: &Ctx<'_>, key: &str, body: &Bytes) -> Result<Response, ApiError> {
    let o = parse_object(body)?;
    let value = match field(&o, "DeviceValue")? {
        Value::String(s) => DeviceValue::parse_settable(s).map_err(|_| {
            ApiError::invalid_input(format!(
                "Invalid input DeviceValue: '{s}'. Allowed values are: 'Low', 'Normal' or 'High'."
            ))
        })?,
        Value::Null => return Err(ApiError::missing("DeviceValue")),
        other => {
            return Err(ApiError::invalid_body(format!(
                "Request body is incorrect: DeviceValue must be a string, got {other}."
            )));
        }
    };
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
    let changed = m.device_value.as_ref() != Some(&value);
    m.device_value = Some(value);
    let m: &Machine = m;
    let resp = ok_json(&Entity {
        context: format!("{}/api/$metadata#Machines/$entity", ctx.origin),
        machine: m,
    });
    drop(store);
    if changed {
        ctx.st.mark_dirty();
    }
    tracing::debug!(machine = key, changed, "setDeviceValue");
    resp
}
