//! `parseRules` and `planRules`: core's rules file and rule planner behind the JS facade, so a
//! headless script plans exactly what the web UI's dry run shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use defender_tags_core::hunting::HuntingQuery;
use defender_tags_core::model::{Machine, MachineRef};
use defender_tags_core::rules::{
    self, HuntingAnswers, RuleConflict, RuleDoc, RulePlan, RulePlanSummary, RulesFile,
    RulesFileError, Unresolved,
};

use super::convert::{opt_number, prop, to_js};
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

/// The distinct hunting queries of a rules file, in file order: run each (`runHuntingQuery`)
/// and pass the answers to `planRules`.
#[wasm_bindgen(js_name = huntingQueries)]
pub fn hunting_queries(text: &str) -> Result<Vec<String>, JsValue> {
    let file = read_file(text)?;
    Ok(file
        .hunting_queries()
        .into_iter()
        .map(|q| q.as_str().to_owned())
        .collect())
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

/// One hunting query's answer as JS gives it: the machines its rows named (ids or computer
/// names, e.g. `runHuntingQuery(q).devices.map(d => d.id ?? d.name)`), or why it failed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerDoc {
    machines: Option<Vec<String>>,
    error: Option<String>,
}

/// `huntingAnswers` (`{ [query]: { machines } | { error } }`) as core's [`HuntingAnswers`];
/// a key that is not a sendable query or an entry that is not a machine is an input error.
fn read_answers(options: &JsValue) -> Result<HuntingAnswers, ClientError> {
    const FIELD: &str = "huntingAnswers";
    let mut answers = HuntingAnswers::new();
    let Some(value) = prop(options, FIELD) else {
        return Ok(answers);
    };
    let text = js_sys::JSON::stringify(&value)
        .map(String::from)
        .map_err(|_| ClientError::invalid(FIELD, "must be an object keyed by query"))?;
    let docs: BTreeMap<String, AnswerDoc> =
        serde_json::from_str(&text).map_err(|e| ClientError::invalid(FIELD, e))?;
    for (query, doc) in docs {
        let q = HuntingQuery::parse(&query).map_err(|e| ClientError::invalid(FIELD, e))?;
        match (doc.machines, doc.error) {
            (Some(list), None) => {
                let refs = list
                    .iter()
                    .map(|m| MachineRef::parse(m))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ClientError::invalid(FIELD, e))?;
                answers.insert_machines(&q, refs);
            }
            (None, Some(error)) => answers.insert_failure(&q, error),
            _ => {
                return Err(ClientError::invalid(
                    FIELD,
                    "each answer is { machines: [...] } or { error: \"...\" }",
                ));
            }
        }
    }
    Ok(answers)
}

/// Plans a rules file over `machines` (every machine of the tenant, e.g. from
/// `listAllMachines()`); `nowMs` is the clock for "last seen" searches (default: now);
/// `huntingAnswers` holds the answers of the file's hunting queries, keyed by the query as
/// written (a hunting rule without one is blocked: `blocked` says why and nothing of it runs).
#[wasm_bindgen(js_name = planRules)]
pub fn plan_rules(
    text: &str,
    #[wasm_bindgen(unchecked_param_type = "Machine[]")] machines: JsValue,
    #[wasm_bindgen(
        unchecked_param_type = "{ nowMs?: number; huntingAnswers?: Record<string, { machines: string[] } | { error: string }> }"
    )]
    options: Option<JsValue>,
) -> Result<RulesPlan, JsValue> {
    let file = read_file(text)?;
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let now_ms = opt_number(&options, "nowMs")
        .map_err(|e| reject(&e))?
        .unwrap_or_else(js_sys::Date::now) as i64;
    let answers = read_answers(&options).map_err(|e| reject(&e))?;
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
        plan: rules::plan_rules(&file, &machines, &answers, now_ms),
    })
}
