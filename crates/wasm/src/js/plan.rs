//! `planBulk` and the `BulkPlan` class: core's planner behind a JS handle.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use defender_tags_core::model::{MachineId, Tag, TagAction};
use defender_tags_core::plan::{self, MachineState, Plan};

use super::convert::{opt_string, opt_strings, prop, to_js};
use crate::error::ClientError;
use crate::plan_adapter::PlanSummary;

/// A planned bulk change: inspect with `summary()`, run with `DefenderClient.runPlan`.
#[derive(Debug)]
#[wasm_bindgen]
pub struct BulkPlan {
    plan: Plan,
}

impl BulkPlan {
    pub(crate) fn inner(&self) -> &Plan {
        &self.plan
    }

    /// A rules plan's steps are bulk plans (rules live in the `full` entries only).
    #[cfg(feature = "full")]
    pub(crate) fn from_plan(plan: Plan) -> Self {
        Self { plan }
    }
}

#[wasm_bindgen]
impl BulkPlan {
    /// Counts for a preview: machines to change, already in place, calls needed.
    #[wasm_bindgen(unchecked_return_type = "PlanSummary")]
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        to_js(&PlanSummary::of(&self.plan))
    }

    /// The tag of the plan.
    #[wasm_bindgen(getter)]
    pub fn tag(&self) -> String {
        self.plan.tag.as_str().to_owned()
    }

    /// `"Add"` or `"Remove"`.
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> String {
        self.plan.action.as_str().to_owned()
    }

    /// Ids of the machines that calls will be sent for, in order.
    #[wasm_bindgen(js_name = machineIds, unchecked_return_type = "string[]")]
    pub fn machine_ids(&self) -> JsValue {
        self.plan
            .calls
            .iter()
            .flat_map(|c| c.machine_ids())
            .map(|id| JsValue::from_str(id.as_str()))
            .collect::<Array>()
            .into()
    }

    /// Warnings to show before running (one sentence each).
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn warnings(&self) -> JsValue {
        self.plan
            .warnings
            .iter()
            .map(|w| JsValue::from_str(&w.to_string()))
            .collect::<Array>()
            .into()
    }

    /// The plan that undoes this one (for the machines it expects to change).
    pub fn inverse(&self) -> BulkPlan {
        BulkPlan {
            plan: self.plan.inverse(),
        }
    }

    /// The plan that undoes the change on exactly `machineIds` (e.g. a report's applied ones).
    #[wasm_bindgen(js_name = inverseFor)]
    pub fn inverse_for(&self, machine_ids: Vec<String>) -> Result<BulkPlan, JsValue> {
        let ids = machine_ids
            .iter()
            .map(|id| MachineId::parse(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| super::reject(&ClientError::invalid("machineIds", e)))?;
        Ok(BulkPlan {
            plan: self.plan.inverse_for(&ids),
        })
    }
}

fn machine_state(value: &JsValue, index: u32) -> Result<MachineState, ClientError> {
    let field = |name: &str| format!("machines[{index}].{name}");
    let id = opt_string(value, "id")
        .map_err(|_| ClientError::invalid(&field("id"), "must be a string"))?
        .ok_or_else(|| {
            ClientError::invalid(&field("id"), "is required (a 40-character machine id)")
        })?;
    let id = MachineId::parse(&id).map_err(|e| ClientError::invalid(&field("id"), e))?;
    let name = opt_string(value, "name")
        .map_err(|_| ClientError::invalid(&field("name"), "must be a string"))?;
    let tags = match prop(value, "tags") {
        None => None,
        Some(_) => opt_strings(value, "tags").map_err(|_| {
            ClientError::invalid(&field("tags"), "must be an array of strings or null")
        })?,
    };
    Ok(MachineState { id, name, tags })
}

/// Reads `(tag, action, machines)` from JS and plans with core.
pub(crate) fn plan_bulk(
    tag: &str,
    action: &str,
    machines: &JsValue,
) -> Result<BulkPlan, ClientError> {
    let tag = Tag::parse(tag).map_err(|e| ClientError::invalid("tag", e))?;
    let action: TagAction = action
        .parse()
        .map_err(|e| ClientError::invalid("action", e))?;
    if !Array::is_array(machines) {
        return Err(ClientError::invalid("machines", "must be an array"));
    }
    let states = match states_through_json(machines) {
        Some(states) => states,
        None => Array::from(machines)
            .iter()
            .zip(0u32..)
            .map(|(m, i)| machine_state(&m, i))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(BulkPlan {
        plan: plan::plan(&tag, action, &states),
    })
}

// The package's `PlanMachine` declaration is generated from this struct (tsify), and
// `machine_state` reads a JS object by the same rules: `id` is required, `null` and a missing
// `name` or `tags` read alike. The doc comments below are the declaration's.

/// A machine for `planBulk`: its id and, when known, its name and current tags. Other
/// properties are ignored, so a `Machine` from `listMachines` can be passed with its
/// `machineTags` copied to `tags`.
#[derive(serde::Deserialize, tsify::Tsify)]
struct PlanMachine {
    /// The 40-character machine id.
    id: String,
    /// Its computer name, shown in the plan's previews.
    #[serde(default)]
    #[tsify(optional, type = "string | null")]
    name: Option<String>,
    /// Its current tags. Absent or `null`: unknown, so the tag call is sent and the result
    /// decides.
    #[serde(default)]
    #[tsify(optional, type = "string[] | null")]
    tags: Option<Vec<String>>,
}

/// The fast path of [`plan_bulk`]: the whole array crosses into wasm as one JSON string.
/// Reading each machine's properties one by one costs several JS<->wasm crossings per machine,
/// which at 100,000 machines took about half a second, more than the planning itself.
///
/// `None` whenever the JSON does not read as valid machines (a missing or malformed id, a
/// non-string tag, a value `JSON.stringify` rejects or renders differently, such as a getter
/// on a prototype): the caller then reads the array property by property, which accepts what it
/// always accepted and reports the first bad entry with its index.
fn states_through_json(machines: &JsValue) -> Option<Vec<MachineState>> {
    let text = String::from(js_sys::JSON::stringify(machines).ok()?);
    let parsed: Vec<PlanMachine> = serde_json::from_str(&text).ok()?;
    drop(text);
    parsed
        .into_iter()
        .map(|m| {
            Some(MachineState {
                id: MachineId::parse(&m.id).ok()?,
                name: m.name,
                tags: m.tags,
            })
        })
        .collect()
}
