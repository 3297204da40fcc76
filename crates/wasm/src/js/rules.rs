//! `parseRules` and `planRules`: core's rules file and rule planner behind the JS facade, so a
//! headless script plans exactly what the web UI's dry run shows.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use defender_tags_core::model::Machine;
use defender_tags_core::rules::{
    self, RuleConflict, RuleDoc, RulePlan, RulePlanSummary, RulesFile, RulesFileError, Unresolved,
};

use super::convert::{opt_number, to_js};
use super::plan::BulkPlan;
use super::reject;
use crate::error::ClientError;

/// A rules-file problem as an `invalid_input` error; `field` names the rule and its field
/// (`rules[2].tag`) so a script can point at the line to fix.
fn file_error(e: &RulesFileError) -> ClientError {
    let field = match e.rule_field() {
        Some((number, field)) => format!("rules[{}].{field}", number - 1),
        None => "rules".to_owned(),
    };
    ClientError::invalid(&field, e)
}

fn read_file(text: &str) -> Result<RulesFile, JsValue> {
    rules::parse_rules_file(text).map_err(|e| reject(&file_error(&e)))
}

/// Reads and validates a rules file (JSON text); returns its rules in the file's own form.
/// Throws a `DefenderError` (`invalid_input`) naming the rule and field of the first problem.
#[wasm_bindgen(js_name = parseRules, unchecked_return_type = "RulesDocument")]
pub fn parse_rules(text: &str) -> Result<JsValue, JsValue> {
    let file = read_file(text)?;
    let docs: Vec<RuleDoc> = file.rules.iter().map(RuleDoc::from).collect();
    to_js(&serde_json::json!({ "version": rules::RULES_SCHEMA_VERSION, "rules": docs }))
}

/// One rule's dry run for JS: counts, the machines to change, and what could not be resolved.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDryRun<'a> {
    #[serde(flatten)]
    summary: RulePlanSummary,
    adding: Vec<&'a str>,
    removing: Vec<&'a str>,
    unresolved: &'a [Unresolved],
}

/// The dry run of a rules file: `summary()` to show or report, `steps(i)` to run rule `i`.
#[derive(Debug)]
#[wasm_bindgen]
pub struct RulesPlan {
    plan: rules::RulesPlan,
}

#[wasm_bindgen]
impl RulesPlan {
    /// Per rule: counts, machines to add to and remove from, unresolved entries; and the
    /// conflicts between rules. `mayRun` is false while any conflict is left.
    #[wasm_bindgen(unchecked_return_type = "RulesDryRun")]
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        let rules: Vec<RuleDryRun<'_>> = self
            .plan
            .rules
            .iter()
            .map(|r: &RulePlan| RuleDryRun {
                summary: r.summary(),
                adding: r.adding().into_iter().map(|id| id.as_str()).collect(),
                removing: r.removing().into_iter().map(|id| id.as_str()).collect(),
                unresolved: &r.unresolved,
            })
            .collect();
        let conflicts: &[RuleConflict] = &self.plan.conflicts;
        to_js(&serde_json::json!({
            "rules": rules,
            "conflicts": conflicts,
            "mayRun": self.plan.may_run(),
            "nothingToDo": self.plan.is_noop(),
        }))
    }

    /// Number of rules.
    #[wasm_bindgen(getter, js_name = ruleCount)]
    pub fn rule_count(&self) -> u32 {
        u32::try_from(self.plan.rules.len()).unwrap_or(u32::MAX)
    }

    /// The bulk plans that run rule `index`, in order (add, then remove; empty ones left out).
    /// Run each with `DefenderClient.runPlan`.
    #[wasm_bindgen(unchecked_return_type = "BulkPlan[]")]
    pub fn steps(&self, index: u32) -> Result<JsValue, JsValue> {
        let rule = self
            .plan
            .rules
            .get(index as usize)
            .ok_or_else(|| reject(&ClientError::invalid("index", "no rule at this index")))?;
        Ok(rule
            .steps()
            .into_iter()
            .map(|p| JsValue::from(BulkPlan::from_plan(p.clone())))
            .collect::<js_sys::Array>()
            .into())
    }
}

/// Plans a rules file over `machines` (every machine of the tenant, e.g. from
/// `listAllMachines()`); `nowMs` is the clock for "last seen" searches (default: now).
#[wasm_bindgen(js_name = planRules)]
pub fn plan_rules(
    text: &str,
    #[wasm_bindgen(unchecked_param_type = "Machine[]")] machines: JsValue,
    #[wasm_bindgen(unchecked_param_type = "{ nowMs?: number }")] options: Option<JsValue>,
) -> Result<RulesPlan, JsValue> {
    let file = read_file(text)?;
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let now_ms = opt_number(&options, "nowMs")
        .map_err(|e| reject(&e))?
        .unwrap_or_else(js_sys::Date::now) as i64;
    // One crossing for the whole array (see `plan::states_through_json`).
    let text = js_sys::JSON::stringify(&machines)
        .map(String::from)
        .map_err(|_| {
            reject(&ClientError::invalid(
                "machines",
                "must be an array of machines",
            ))
        })?;
    let machines: Vec<Machine> =
        serde_json::from_str(&text).map_err(|e| reject(&ClientError::invalid("machines", e)))?;
    Ok(RulesPlan {
        // No hunting answers here: a hunting rule is planned as blocked (nothing of it runs),
        // and the Node script refuses a file with one before any call.
        plan: rules::plan_rules(&file, &machines, &rules::HuntingAnswers::new(), now_ms),
    })
}
