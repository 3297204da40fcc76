//! `POST /api/machines/{id}/setDeviceValue` (docs/defender-api.md §6).
//!
//! Same permission, device-group scoping and retention rule as tagging one machine; the body is
//! `{"DeviceValue": "Low"|"Normal"|"High"}`, name and value both case-sensitive.

use axum::body::Bytes;
use axum::response::Response;
use defender_tags_core::DeviceValue;
use serde_json::Value;

use super::Ctx;
use super::errors::ApiError;
use super::tags::{field, parse_object, update_one};

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
    let (resp, changed) = update_one(ctx, key, |m| {
        let changed = m.device_value.as_ref() != Some(&value);
        m.device_value = Some(value);
        changed
    })?;
    tracing::debug!(machine = key, changed, "setDeviceValue");
    Ok(resp)
}
