//! JS <-> Rust conversions of the facade: reading option objects, serialising results, and
//! turning `ClientError`s into real JS `Error` objects.

use js_sys::{Function, Reflect};
use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::ClientError;

/// Property `key` of `obj`, `None` when missing, `undefined` or `null`.
pub(crate) fn prop(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// An optional string property; a present non-string is an input error.
pub(crate) fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, ClientError> {
    prop(obj, key)
        .map(|v| {
            v.as_string()
                .ok_or_else(|| ClientError::invalid(key, "must be a string"))
        })
        .transpose()
}

/// An optional non-negative number property.
pub(crate) fn opt_number(obj: &JsValue, key: &str) -> Result<Option<f64>, ClientError> {
    prop(obj, key)
        .map(|v| match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
            _ => Err(ClientError::invalid(key, "must be a non-negative number")),
        })
        .transpose()
}

/// An optional whole-number property that fits `u32`.
pub(crate) fn opt_u32(obj: &JsValue, key: &str) -> Result<Option<u32>, ClientError> {
    opt_number(obj, key)?
        .map(|n| {
            if n.fract() == 0.0 && n <= f64::from(u32::MAX) {
                Ok(n as u32)
            } else {
                Err(ClientError::invalid(key, "must be a whole number"))
            }
        })
        .transpose()
}

/// An optional array-of-strings property.
pub(crate) fn opt_strings(obj: &JsValue, key: &str) -> Result<Option<Vec<String>>, ClientError> {
    let Some(value) = prop(obj, key) else {
        return Ok(None);
    };
    if !js_sys::Array::is_array(&value) {
        return Err(ClientError::invalid(key, "must be an array of strings"));
    }
    js_sys::Array::from(&value)
        .iter()
        .map(|v| {
            v.as_string()
                .ok_or_else(|| ClientError::invalid(key, "must be an array of strings"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// An optional function property.
pub(crate) fn opt_function(obj: &JsValue, key: &str) -> Result<Option<Function>, ClientError> {
    prop(obj, key)
        .map(|v| {
            v.dyn_into::<Function>()
                .map_err(|_| ClientError::invalid(key, "must be a function"))
        })
        .transpose()
}

/// Serialises `value` as plain JS data (objects and arrays, `null` for absent values) through
/// JSON: serde_json is in the module anyway for the API, so this costs no extra code.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let fail = |reason: String| {
        error_value(
            &ClientError::invalid("result", format!("could not convert to JS: {reason}")),
            None,
        )
    };
    let text = serde_json::to_string(value).map_err(|e| fail(e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|e| fail(crate::fetch::js_error_text(&e)))
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// A real JS `Error` named `DefenderError` with `code`, `status`, `retryAfter`, `machineId`.
pub(crate) fn error_value(e: &ClientError, machine_id: Option<&str>) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name("DefenderError");
    let value: JsValue = error.into();
    set(&value, "code", &JsValue::from_str(e.code()));
    if let Some(status) = e.status() {
        set(&value, "status", &JsValue::from(status));
    }
    if let Some(secs) = e.retry_after_secs() {
        set(&value, "retryAfter", &JsValue::from(secs as f64));
    }
    if let Some(id) = machine_id {
        set(&value, "machineId", &JsValue::from_str(id));
    }
    value
}

/// `isDefenderError(value)`: an `Error` this package made (its name, and a `code` from
/// [`crate::error::ERROR_CODES`]). Declared in types.rs (`value is DefenderError`).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = isDefenderError, skip_typescript)]
pub fn is_defender_error(value: &JsValue) -> bool {
    let Some(error) = value.dyn_ref::<js_sys::Error>() else {
        return false;
    };
    error.name() == "DefenderError"
        && Reflect::get(value, &JsValue::from_str("code"))
            .ok()
            .and_then(|c| c.as_string())
            .is_some_and(|c| crate::error::ERROR_CODES.contains(&c.as_str()))
}
