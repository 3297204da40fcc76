//! Saved tag rules: "these machines carry this tag", kept true by dry runs and runs.
//!
//! A [`Rule`] names a source of machines ([`RuleSource`]: a saved search, an imported list,
//! or an advanced hunting query), a tag, and a [`RuleMode`]: `add` only tags what matches; `exact` also untags
//! what carries the tag but no longer matches, which Defender's own dynamic rules cannot do.
//!
//! The rules file ([`RulesFile`], JSON, `version` [`RULES_SCHEMA_VERSION`]) is read once at the
//! edge by [`parse_rules_file`]: every problem names the rule and the field, and nothing is
//! planned from a file with any problem. Planning ([`plan_rules`]) is pure: given every machine
//! the caller can see and the answers of the rules' hunting queries ([`HuntingAnswers`], which
//! the caller fetched: core does no I/O), it returns, per rule, the same [`Plan`]s a bulk run
//! uses (add, then remove), the references it could not resolve, and the [`RuleConflict`]s
//! between rules. A hunting rule without an answer is blocked ([`RulePlan::blocked`]), never
//! planned as "matches nothing": for an exact rule that would remove the tag everywhere.
//! The UI and the Node script both plan through here, so a dry run means the same everywhere.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::hunting::{HuntingQuery, HuntingQueryError, HuntingResult};
use crate::model::{Machine, MachineId, MachineRef, MachineRefError, Tag, TagAction, TagError};
use crate::plan::{ExpectedOutcome, MachineState, Plan, plan};
use crate::query::{MachineQuery, QueryParamError, decode_pairs, keys};

/// The rules-file schema this version reads and writes.
pub const RULES_SCHEMA_VERSION: u64 = 1;

/// Most rules in one file: each rule is planned over every machine of the tenant, so the
/// bound keeps a dry run of a large tenant interactive.
pub const MAX_RULES: usize = 200;

/// Most entries in one imported list (a tenant-sized list is fine; more is a mistake).
pub const MAX_IMPORT_MACHINES: usize = 100_000;

/// Most characters of a rule name.
pub const MAX_RULE_NAME_CHARS: usize = 100;

/// What a rule does about the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleMode {
    /// Tag what matches; never untag.
    Add,
    /// Tag what matches, and untag what carries the tag but does not match.
    Exact,
}

impl RuleMode {
    /// `"add"` or `"exact"`, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Exact => "exact",
        }
    }
}

/// Where a rule's machines come from; each variant has its own `kind` in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// A saved search: the search page's query (`os=Windows11&risk=High`), matched with the
    /// search page's own semantics ([`MachineQuery::matcher`]).
    Filter(MachineQuery),
    /// An imported list of machine ids or computer names.
    Import(Vec<MachineRef>),
    /// An advanced hunting query: the machines its rows name (`DeviceId`, else `DeviceName`).
    /// Its answer comes from the caller ([`HuntingAnswers`]).
    Hunting(HuntingQuery),
}

impl RuleSource {
    /// The `kind` written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Filter(_) => "filter",
            Self::Import(_) => "import",
            Self::Hunting(_) => "hunting",
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique (case-insensitively) within its file.
    pub name: String,
    /// Where its machines come from.
    pub source: RuleSource,
    /// The tag it keeps.
    pub tag: Tag,
    /// Add only, or exact.
    pub mode: RuleMode,
}

/// A validated rules file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulesFile {
    /// The rules, in file order (which is also run order).
    pub rules: Vec<Rule>,
}

/// What is wrong with one field of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The field is missing.
    #[error("is required")]
    Missing,
    /// The field has the wrong JSON type.
    #[error("must be {expected}")]
    WrongType {
        /// What was expected, e.g. "a string".
        expected: &'static str,
    },
    /// The field is empty or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// The field is too long.
    #[error("has {chars} characters; the maximum is {max}")]
    TooLong {
        /// Characters found.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Another rule already has this name.
    #[error("{name:?} is already the name of rule {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// 1-based number of the first rule with it.
        first: usize,
    },
    /// The tag does not validate.
    #[error(transparent)]
    Tag(#[from] TagError),
    /// The saved search does not parse.
    #[error(transparent)]
    Query(#[from] QueryParamError),
    /// The saved search has a parameter the search page does not know.
    #[error(
        "unknown search parameter {key:?} (known: q, tag, tagmode, os, health, risk, exposure, value, group, seen)"
    )]
    UnknownQueryKey {
        /// The key.
        key: String,
    },
    /// The saved search has no condition, so it would match every machine.
    #[error("has no condition and would match every machine; name at least one")]
    MatchesEverything,
    /// An imported entry is not a machine id or computer name.
    #[error(transparent)]
    Machine(#[from] MachineRefError),
    /// The hunting query cannot be sent (empty, too long, a NUL character).
    #[error(transparent)]
    HuntingQuery(#[from] HuntingQueryError),
    /// The value is not one of the allowed ones.
    #[error("{found:?} is not one of {allowed}")]
    NotOneOf {
        /// What was found.
        found: String,
        /// The allowed values.
        allowed: &'static str,
    },
    /// Too many entries.
    #[error("has {count} entries; the maximum is {max}")]
    TooMany {
        /// Entries found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The field is not part of the schema (usually a typo).
    #[error("is not a field of a rule (known: name, tag, mode, source)")]
    Unknown,
    /// A line of a pasted list or CSV (read by [`crate::import::parse_machine_list`]) is not
    /// a machine.
    #[error("line {line}: {reason}")]
    ListLine {
        /// 1-based line of the pasted text.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a rules file is refused. Every variant that concerns a rule names it and the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RulesFileError {
    /// Not JSON.
    #[error("the rules file is not valid JSON: {reason}")]
    Json {
        /// The parser's message (line and column).
        reason: String,
    },
    /// Valid JSON, but a file-level field is wrong.
    #[error("the rules file's {field} {problem}")]
    File {
        /// `version`, `rules` or the whole file (`document`).
        field: &'static str,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// A version this build does not read (a newer export, or a wrong file).
    #[error(
        "the rules file has schema version {found}; this version of defender-tags reads \
         version {RULES_SCHEMA_VERSION}"
    )]
    UnsupportedVersion {
        /// The version found, as written.
        found: String,
    },
    /// A field of one rule is wrong.
    #[error("rule {number}{}: {field} {problem}", name.as_deref().map(|n| format!(" ({n:?})")).unwrap_or_default())]
    Rule {
        /// 1-based position in the file.
        number: usize,
        /// Its name, when it has a readable one.
        name: Option<String>,
        /// The field, e.g. `tag`, `source.query`, `source.machines[3]`.
        field: String,
        /// What is wrong.
        problem: FieldProblem,
    },
}

impl RulesFileError {
    /// The rule's 1-based number and the field, for errors about a rule.
    pub fn rule_field(&self) -> Option<(usize, &str)> {
        match self {
            Self::Rule { number, field, .. } => Some((*number, field)),
            _ => None,
        }
    }
}

/// Reads and validates a rules file (see the module docs for the format). The first problem
/// is returned; nothing is half-read.
pub fn parse_rules_file(text: &str) -> Result<RulesFile, RulesFileError> {
    let value: Value = serde_json::from_str(text).map_err(|e| RulesFileError::Json {
        reason: e.to_string(),
    })?;
    let Value::Object(doc) = value else {
        return Err(RulesFileError::File {
            field: "document",
            problem: FieldProblem::WrongType {
                expected: "a JSON object with \"version\" and \"rules\"",
            },
        });
    };
    match doc.get("version") {
        None => {
            return Err(RulesFileError::File {
                field: "version",
                problem: FieldProblem::Missing,
            });
        }
        Some(Value::Number(n)) if n.as_u64() == Some(RULES_SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(RulesFileError::UnsupportedVersion {
                found: other.to_string(),
            });
        }
    }
    let rules = match doc.get("rules") {
        None => {
            return Err(RulesFileError::File {
                field: "rules",
                problem: FieldProblem::Missing,
            });
        }
        Some(Value::Array(rules)) => rules,
        Some(_) => {
            return Err(RulesFileError::File {
                field: "rules",
                problem: FieldProblem::WrongType {
                    expected: "an array",
                },
            });
        }
    };
    if rules.len() > MAX_RULES {
        return Err(RulesFileError::File {
            field: "rules",
            problem: FieldProblem::TooMany {
                count: rules.len(),
                max: MAX_RULES,
            },
        });
    }
    let mut out = Vec::with_capacity(rules.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, raw) in rules.iter().enumerate() {
        let number = i + 1;
        let rule = parse_rule(number, raw)?;
        let key = rule.name.to_lowercase();
        if let Some(first) = names.get(&key) {
            return Err(RulesFileError::Rule {
                number,
                name: Some(rule.name.clone()),
                field: "name".into(),
                problem: FieldProblem::DuplicateName {
                    name: rule.name,
                    first: *first,
                },
            });
        }
        names.insert(key, number);
        out.push(rule);
    }
    Ok(RulesFile { rules: out })
}

fn parse_rule(number: usize, raw: &Value) -> Result<Rule, RulesFileError> {
    let Value::Object(obj) = raw else {
        return Err(RulesFileError::Rule {
            number,
            name: None,
            field: "rule".into(),
            problem: FieldProblem::WrongType {
                expected: "an object",
            },
        });
    };
    // The name first, so every later error can carry it.
    let readable_name = obj
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let fail = |field: &str, problem: FieldProblem| RulesFileError::Rule {
        number,
        name: readable_name.clone(),
        field: field.to_owned(),
        problem,
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "tag" | "mode" | "source"))
    {
        return Err(fail(unknown, FieldProblem::Unknown));
    }
    let name = required_str(obj, "name").map_err(|p| fail("name", p))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(fail("name", FieldProblem::Empty));
    }
    let chars = name.chars().count();
    if chars > MAX_RULE_NAME_CHARS {
        return Err(fail(
            "name",
            FieldProblem::TooLong {
                chars,
                max: MAX_RULE_NAME_CHARS,
            },
        ));
    }
    let tag = required_str(obj, "tag").map_err(|p| fail("tag", p))?;
    let tag = Tag::parse(tag).map_err(|e| fail("tag", e.into()))?;
    let mode = match required_str(obj, "mode").map_err(|p| fail("mode", p))? {
        "add" => RuleMode::Add,
        "exact" => RuleMode::Exact,
        other => {
            return Err(fail(
                "mode",
                FieldProblem::NotOneOf {
                    found: other.to_owned(),
                    allowed: "\"add\", \"exact\"",
                },
            ));
        }
    };
    let source = match obj.get("source") {
        None => return Err(fail("source", FieldProblem::Missing)),
        Some(Value::Object(source)) => source,
        Some(_) => {
            return Err(fail(
                "source",
                FieldProblem::WrongType {
                    expected: "an object with \"kind\"",
                },
            ));
        }
    };
    let source = parse_source(source).map_err(|(field, p)| fail(&field, p))?;
    Ok(Rule {
        name: name.to_owned(),
        source,
        tag,
        mode,
    })
}

fn parse_source(obj: &Map<String, Value>) -> Result<RuleSource, (String, FieldProblem)> {
    let kind = required_str(obj, "kind").map_err(|p| ("source.kind".to_owned(), p))?;
    let allowed_keys: &[&str] = match kind {
        "filter" => &["kind", "query"],
        "import" => &["kind", "machines"],
        "hunting" => &["kind", "query"],
        other => {
            return Err((
                "source.kind".into(),
                FieldProblem::NotOneOf {
                    found: other.to_owned(),
                    allowed: "\"filter\", \"import\", \"hunting\"",
                },
            ));
        }
    };
    if let Some(unknown) = obj.keys().find(|k| !allowed_keys.contains(&k.as_str())) {
        return Err((format!("source.{unknown}"), FieldProblem::Unknown));
    }
    match kind {
        "filter" => {
            let query = required_str(obj, "query").map_err(|p| ("source.query".into(), p))?;
            parse_saved_query(query)
                .map(RuleSource::Filter)
                .map_err(|p| ("source.query".into(), p))
        }
        "hunting" => {
            let query = required_str(obj, "query").map_err(|p| ("source.query".into(), p))?;
            HuntingQuery::parse(query)
                .map(RuleSource::Hunting)
                .map_err(|e| ("source.query".into(), e.into()))
        }
        _ => {
            let field = "source.machines";
            let list = match obj.get("machines") {
                None => return Err((field.into(), FieldProblem::Missing)),
                Some(Value::Array(list)) => list,
                Some(_) => {
                    return Err((
                        field.into(),
                        FieldProblem::WrongType {
                            expected: "an array of machine ids or computer names",
                        },
                    ));
                }
            };
            if list.is_empty() {
                return Err((field.into(), FieldProblem::Empty));
            }
            if list.len() > MAX_IMPORT_MACHINES {
                return Err((
                    field.into(),
                    FieldProblem::TooMany {
                        count: list.len(),
                        max: MAX_IMPORT_MACHINES,
                    },
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let at = || format!("{field}[{i}]");
                    let s = v.as_str().ok_or_else(|| {
                        (
                            at(),
                            FieldProblem::WrongType {
                                expected: "a string",
                            },
                        )
                    })?;
                    MachineRef::parse(s).map_err(|e| (at(), e.into()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(RuleSource::Import)
        }
    }
}

/// Reads a saved search strictly: unlike a hand-edited link (which still opens), a rule that
/// silently ignored a misspelt key would tag or untag the wrong machines.
pub fn parse_saved_query(query: &str) -> Result<MachineQuery, FieldProblem> {
    const KNOWN: [&str; 10] = [
        keys::TEXT,
        keys::TAG,
        keys::TAG_MODE,
        keys::OS,
        keys::HEALTH,
        keys::RISK,
        keys::EXPOSURE,
        keys::VALUE,
        keys::GROUP,
        keys::SEEN,
    ];
    let pairs = decode_pairs(query.trim().trim_start_matches('?'));
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
        return Err(FieldProblem::UnknownQueryKey { key: key.clone() });
    }
    let q = MachineQuery::from_query_pairs(&pairs)?;
    if q.is_empty() {
        return Err(FieldProblem::MatchesEverything);
    }
    Ok(q)
}

fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, FieldProblem> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(FieldProblem::Missing),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(FieldProblem::WrongType {
            expected: "a string",
        }),
    }
}

/// The JSON form of one rule (what [`RulesFile::to_json`] writes and [`parse_rules_file`] reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleDoc {
    /// Name.
    pub name: String,
    /// Tag.
    pub tag: String,
    /// `add` or `exact`.
    pub mode: RuleMode,
    /// Source.
    pub source: SourceDoc,
}

/// The JSON form of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SourceDoc {
    /// A saved search's query string.
    Filter {
        /// `os=Windows11&risk=High`.
        query: String,
    },
    /// Machine ids or computer names.
    Import {
        /// The entries.
        machines: Vec<String>,
    },
    /// An advanced hunting query (KQL), as typed.
    Hunting {
        /// The query text.
        query: String,
    },
}

impl From<&Rule> for RuleDoc {
    fn from(rule: &Rule) -> Self {
        Self {
            name: rule.name.clone(),
            tag: rule.tag.as_str().to_owned(),
            mode: rule.mode,
            source: match &rule.source {
                RuleSource::Filter(q) => SourceDoc::Filter {
                    query: q.to_query_string(),
                },
                RuleSource::Import(list) => SourceDoc::Import {
                    machines: list.iter().map(|m| m.as_str().to_owned()).collect(),
                },
                RuleSource::Hunting(q) => SourceDoc::Hunting {
                    query: q.as_str().to_owned(),
                },
            },
        }
    }
}

#[derive(Serialize)]
struct FileDoc<'a> {
    version: u64,
    rules: &'a [RuleDoc],
}

impl RulesFile {
    /// The file as JSON (pretty, schema version included); [`parse_rules_file`] reads it back.
    pub fn to_json(&self) -> String {
        let docs: Vec<RuleDoc> = self.rules.iter().map(RuleDoc::from).collect();
        serde_json::to_string_pretty(&FileDoc {
            version: RULES_SCHEMA_VERSION,
            rules: &docs,
        })
        // Serialising plain strings and enums into a String cannot fail.
        .unwrap_or_default()
    }
}

/// An imported entry that names no machine the caller can see (or several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unresolved {
    /// The entry as written.
    pub input: String,
    /// How many visible machines it names (0, or more than 1 for an ambiguous short name).
    pub candidates: usize,
}

/// One rule's dry run: the same [`Plan`]s a bulk run executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePlan {
    /// The rule's name.
    pub name: String,
    /// Its tag.
    pub tag: Tag,
    /// Its mode.
    pub mode: RuleMode,
    /// Machines the source matched.
    pub matched: Vec<MachineId>,
    /// Add the tag to what matches (machines already tagged are "already in place").
    pub add: Plan,
    /// Exact mode: remove the tag from holders that do not match. `None` in add mode.
    pub remove: Option<Plan>,
    /// Imported entries that could not be resolved to one machine.
    pub unresolved: Vec<Unresolved>,
    /// Why the source could not be read (a hunting query not run, or failed). A blocked rule
    /// matches nothing *because nothing is known*, so its plans are empty and nothing of it
    /// runs — in particular an exact rule removes nothing.
    pub blocked: Option<SourceUnavailable>,
}

/// The counts of a rule's dry run (serialised camelCase for reports and the UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulePlanSummary {
    /// The rule.
    pub name: String,
    /// Its tag.
    pub tag: String,
    /// Its mode.
    pub mode: RuleMode,
    /// Machines matched.
    pub matched: usize,
    /// Machines that will get the tag.
    pub adds: usize,
    /// Machines that will lose it.
    pub removes: usize,
    /// Machines already as the rule wants.
    pub already_in_place: usize,
    /// Entries that could not be resolved.
    pub cannot_resolve: usize,
    /// API calls the run needs.
    pub calls: usize,
    /// Why nothing of the rule can run (its hunting query was not run or failed), if so.
    pub blocked: Option<String>,
}

impl RulePlan {
    /// The plans to run, in order: add first, then remove, so a stopped run never leaves a
    /// machine that should carry the tag without it.
    pub fn steps(&self) -> Vec<&Plan> {
        if self.blocked.is_some() {
            return Vec::new();
        }
        std::iter::once(&self.add)
            .chain(self.remove.as_ref())
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Whether a run would make no call.
    pub fn is_noop(&self) -> bool {
        self.steps().is_empty()
    }

    /// Counts for a preview or a report.
    pub fn summary(&self) -> RulePlanSummary {
        let add = self.add.summary();
        let remove = self.remove.as_ref().map(Plan::summary);
        RulePlanSummary {
            name: self.name.clone(),
            tag: self.tag.as_str().to_owned(),
            mode: self.mode,
            matched: self.matched.len(),
            adds: add.will_change + add.unknown,
            removes: remove.as_ref().map_or(0, |r| r.will_change + r.unknown),
            already_in_place: add.already_in_place,
            cannot_resolve: self.unresolved.len(),
            calls: add.calls + remove.map_or(0, |r| r.calls),
            blocked: self.blocked.as_ref().map(ToString::to_string),
        }
    }

    /// Machines the run would add the tag to, in order.
    pub fn adding(&self) -> Vec<&MachineId> {
        changing(&self.add)
    }

    /// Machines the run would remove the tag from, in order.
    pub fn removing(&self) -> Vec<&MachineId> {
        self.remove.as_ref().map(changing).unwrap_or_default()
    }
}

fn changing(plan: &Plan) -> Vec<&MachineId> {
    plan.outcomes
        .iter()
        .filter(|o| o.expected != ExpectedOutcome::AlreadyInPlace)
        .map(|o| &o.id)
        .collect()
}

/// Two rules that disagree about one machine: one wants the tag on it, an exact rule for the
/// same tag wants it off. Running both would flip the tag on every run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConflict {
    /// The tag.
    pub tag: String,
    /// The machine.
    pub machine_id: MachineId,
    /// Its computer name, if known.
    pub machine_name: Option<String>,
    /// The rule that wants the tag on.
    pub adding_rule: String,
    /// The exact rule that wants it off.
    pub removing_rule: String,
}

/// The dry run of a whole rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesPlan {
    /// One plan per rule, in file order.
    pub rules: Vec<RulePlan>,
    /// Disagreements between rules; nothing may run while any is left.
    pub conflicts: Vec<RuleConflict>,
}

impl RulesPlan {
    /// Whether running would make no call.
    pub fn is_noop(&self) -> bool {
        self.rules.iter().all(RulePlan::is_noop)
    }

    /// Whether it may run: no conflict, and no blocked rule (a blocked rule's machines are
    /// unknown, so its conflicts with the other rules cannot be checked).
    pub fn may_run(&self) -> bool {
        self.conflicts.is_empty() && self.rules.iter().all(|r| r.blocked.is_none())
    }
}

/// Why a rule's source could not be read, so nothing of the rule is planned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SourceUnavailable {
    /// The caller gave no answer for the rule's hunting query.
    #[error("its hunting query has not been run, so its machines are unknown; nothing of it runs")]
    NotRun,
    /// The hunting query failed (refused, throttled, no device column, too many rows...).
    #[error("its hunting query failed, so nothing of it runs: {reason}")]
    Failed {
        /// What went wrong, as a sentence (the caller's wording of the failure).
        reason: String,
    },
}

/// The answers of the hunting queries of a rules file, keyed by the query text as written:
/// the machines each query's rows named (each once), or why it failed. The caller runs the
/// queries (core does no I/O) and hands them to [`plan_rules`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HuntingAnswers {
    answers: HashMap<String, Result<Vec<MachineRef>, String>>,
}

impl HuntingAnswers {
    /// No answers (every hunting rule is then blocked as not run).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `query`'s result: the machines of its device column (core's
    /// [`HuntingResult::devices`], each machine once). A result without a device column is
    /// recorded as a failure naming the columns it has.
    pub fn insert_result(&mut self, query: &HuntingQuery, result: &HuntingResult) {
        let answer: Result<Vec<MachineRef>, String> = result
            .devices()
            .map(|d| d.devices.into_iter().map(|d| d.machine).collect())
            .map_err(|e| e.to_string());
        self.answers.insert(query.as_str().to_owned(), answer);
    }

    /// Records `query`'s machines directly (ids or names, e.g. from a stored answer).
    pub fn insert_machines(&mut self, query: &HuntingQuery, machines: Vec<MachineRef>) {
        self.answers.insert(query.as_str().to_owned(), Ok(machines));
    }

    /// Records that `query` failed, with the reason as the user should read it.
    pub fn insert_failure(&mut self, query: &HuntingQuery, reason: impl Into<String>) {
        self.answers
            .insert(query.as_str().to_owned(), Err(reason.into()));
    }

    /// The answer for `query`: its machines, or why there are none to go by.
    pub fn get(&self, query: &HuntingQuery) -> Result<&[MachineRef], SourceUnavailable> {
        match self.answers.get(query.as_str()) {
            None => Err(SourceUnavailable::NotRun),
            Some(Ok(list)) => Ok(list.as_slice()),
            Some(Err(reason)) => Err(SourceUnavailable::Failed {
                reason: reason.clone(),
            }),
        }
    }
}

impl RulesFile {
    /// The distinct hunting queries of the file's rules, in file order: what a caller runs
    /// before [`plan_rules`].
    pub fn hunting_queries(&self) -> Vec<&HuntingQuery> {
        let mut seen = HashSet::new();
        self.rules
            .iter()
            .filter_map(|r| match &r.source {
                RuleSource::Hunting(q) => Some(q),
                _ => None,
            })
            .filter(|q| seen.insert(q.as_str()))
            .collect()
    }

    /// Rule `name` and every rule sharing its tag: the rules whose plans and conflicts a dry
    /// run of `name` depends on (conflicts are only ever between rules of one tag).
    pub fn involved_in(&self, name: &str) -> RulesFile {
        let tag = self.rules.iter().find(|r| r.name == name).map(|r| &r.tag);
        RulesFile {
            rules: self
                .rules
                .iter()
                .filter(|r| r.name == name || Some(&r.tag) == tag)
                .cloned()
                .collect(),
        }
    }
}

/// The machines `source` names among `machines`, and the entries that name none or several;
/// a hunting source is read from `answers`, and without a usable answer it is unavailable.
pub fn resolve_source<'m>(
    source: &RuleSource,
    machines: &'m [Machine],
    answers: &HuntingAnswers,
    now_ms: i64,
) -> Result<(Vec<&'m Machine>, Vec<Unresolved>), SourceUnavailable> {
    Ok(match source {
        RuleSource::Filter(query) => {
            let matcher = query.matcher(now_ms);
            (
                machines.iter().filter(|m| matcher.matches(m)).collect(),
                Vec::new(),
            )
        }
        RuleSource::Import(list) => resolve_refs(list, machines),
        RuleSource::Hunting(query) => resolve_refs(answers.get(query)?, machines),
    })
}

/// Each reference resolved to exactly one machine (each machine once), or listed as unresolved.
fn resolve_refs<'m>(
    list: &[MachineRef],
    machines: &'m [Machine],
) -> (Vec<&'m Machine>, Vec<Unresolved>) {
    let by_id: HashMap<&MachineId, &Machine> = machines.iter().map(|m| (&m.id, m)).collect();
    let mut found = Vec::new();
    let mut seen: HashSet<&MachineId> = HashSet::new();
    let mut unresolved = Vec::new();
    for entry in list {
        let hits: Vec<&Machine> = match entry {
            MachineRef::Id(id) => by_id.get(id).copied().into_iter().collect(),
            MachineRef::Name(_) => machines.iter().filter(|m| entry.matches(m)).collect(),
        };
        match hits.as_slice() {
            [one] => {
                if seen.insert(&one.id) {
                    found.push(*one);
                }
            }
            _ => unresolved.push(Unresolved {
                input: entry.as_str().to_owned(),
                candidates: hits.len(),
            }),
        }
    }
    (found, unresolved)
}

/// Plans one rule over every machine the caller can see (`machines`, as listed now), with the
/// answers of the hunting queries the caller ran.
pub fn plan_rule(
    rule: &Rule,
    machines: &[Machine],
    answers: &HuntingAnswers,
    now_ms: i64,
) -> RulePlan {
    let (matched, unresolved) = match resolve_source(&rule.source, machines, answers, now_ms) {
        Ok(found) => found,
        Err(why) => {
            // Nothing is planned: not the adds (unknown), and above all not the removes of an
            // exact rule, which would untag every holder.
            return RulePlan {
                name: rule.name.clone(),
                tag: rule.tag.clone(),
                mode: rule.mode,
                matched: Vec::new(),
                add: plan(&rule.tag, TagAction::Add, &[]),
                remove: None,
                unresolved: Vec::new(),
                blocked: Some(why),
            };
        }
    };
    let states: Vec<MachineState> = matched.iter().map(|m| MachineState::from(*m)).collect();
    let add = plan(&rule.tag, TagAction::Add, &states);
    let matched_ids: HashSet<&MachineId> = matched.iter().map(|m| &m.id).collect();
    let remove = match rule.mode {
        RuleMode::Add => None,
        RuleMode::Exact => {
            // Exact-case holders only: a Remove of "Finance" leaves "finance" in place, so
            // planning case variants here would promise a change the API does not make.
            let holders: Vec<MachineState> = machines
                .iter()
                .filter(|m| !matched_ids.contains(&m.id))
                .filter(|m| m.machine_tags.iter().any(|t| t == rule.tag.as_str()))
                .map(MachineState::from)
                .collect();
            Some(plan(&rule.tag, TagAction::Remove, &holders))
        }
    };
    RulePlan {
        name: rule.name.clone(),
        tag: rule.tag.clone(),
        mode: rule.mode,
        matched: matched.iter().map(|m| m.id.clone()).collect(),
        add,
        remove,
        unresolved,
        blocked: None,
    }
}

/// Plans every rule and finds the conflicts between them (see [`RuleConflict`]). `answers`
/// holds the answers of the file's hunting queries ([`RulesFile::hunting_queries`]); a hunting
/// rule without one is blocked (see [`RulePlan::blocked`]).
pub fn plan_rules(
    file: &RulesFile,
    machines: &[Machine],
    answers: &HuntingAnswers,
    now_ms: i64,
) -> RulesPlan {
    let rules: Vec<RulePlan> = file
        .rules
        .iter()
        .map(|r| plan_rule(r, machines, answers, now_ms))
        .collect();
    let names: HashMap<&MachineId, Option<&String>> = machines
        .iter()
        .map(|m| (&m.id, m.computer_dns_name.as_ref()))
        .collect();
    let mut conflicts = Vec::new();
    // A blocked exact rule removes nothing, so it conflicts with nothing (that the file may not
    // run while any rule is blocked is `may_run`'s business).
    for exact in rules
        .iter()
        .filter(|r| r.mode == RuleMode::Exact && r.blocked.is_none())
    {
        let keeps: HashSet<&MachineId> = exact.matched.iter().collect();
        for other in rules
            .iter()
            .filter(|o| o.name != exact.name && o.tag == exact.tag)
        {
            for id in other.matched.iter().filter(|id| !keeps.contains(id)) {
                conflicts.push(RuleConflict {
                    tag: exact.tag.as_str().to_owned(),
                    machine_id: id.clone(),
                    machine_name: names.get(id).copied().flatten().cloned(),
                    adding_rule: other.name.clone(),
                    removing_rule: exact.name.clone(),
                });
            }
        }
    }
    RulesPlan { rules, conflicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:02x}").repeat(20)).unwrap()
    }

    fn machine(n: u8, os: &str, tags: &[&str]) -> Machine {
        let mut m = Machine::new(id(n));
        m.computer_dns_name = Some(format!("host{n}.contoso.com"));
        m.os_platform = Some(os.into());
        m.machine_tags = tags.iter().map(|t| (*t).to_owned()).collect();
        m
    }

    fn file(rules: &str) -> String {
        format!(r#"{{"version": 1, "rules": [{rules}]}}"#)
    }

    #[test]
    fn exact_rule_adds_matches_and_removes_stale_holders() {
        let f = parse_rules_file(&file(
            r#"{"name": "Win11", "tag": "W11", "mode": "exact",
                "source": {"kind": "filter", "query": "os=Windows11"}}"#,
        ))
        .unwrap();
        let machines = [
            machine(1, "Windows11", &[]),
            machine(2, "Windows11", &["W11"]),
            machine(3, "Windows10", &["W11"]),
            machine(4, "Windows10", &["w11"]),
        ];
        let p = plan_rules(&f, &machines, &HuntingAnswers::new(), 0);
        let r = &p.rules[0];
        assert_eq!(r.adding(), vec![&id(1)]);
        assert_eq!(r.removing(), vec![&id(3)]);
        let s = r.summary();
        assert_eq!(
            (s.adds, s.removes, s.already_in_place, s.calls),
            (1, 1, 1, 2)
        );
        assert!(p.may_run());
    }

    #[test]
    fn import_entries_that_name_nothing_are_listed() {
        let f = parse_rules_file(&file(&format!(
            r#"{{"name": "list", "tag": "T", "mode": "add",
                "source": {{"kind": "import", "machines": ["{}", "host2", "ghost", "{}"]}}}}"#,
            id(1),
            id(9)
        )))
        .unwrap();
        let machines = [machine(1, "Linux", &[]), machine(2, "Linux", &["T"])];
        let r = &plan_rules(&f, &machines, &HuntingAnswers::new(), 0).rules[0];
        assert_eq!(r.matched, vec![id(1), id(2)]);
        assert_eq!(
            r.unresolved
                .iter()
                .map(|u| u.input.as_str())
                .collect::<Vec<_>>(),
            vec!["ghost".to_owned(), id(9).to_string()]
        );
        assert_eq!(r.summary().already_in_place, 1);
    }

    #[test]
    fn conflicting_rules_are_reported() {
        let f = parse_rules_file(&file(
            r#"{"name": "A", "tag": "T", "mode": "exact",
                "source": {"kind": "filter", "query": "os=Windows11"}},
               {"name": "B", "tag": "T", "mode": "add",
                "source": {"kind": "filter", "query": "q=host"}}"#,
        ))
        .unwrap();
        let machines = [machine(1, "Windows11", &[]), machine(2, "Linux", &[])];
        let p = plan_rules(&f, &machines, &HuntingAnswers::new(), 0);
        assert!(!p.may_run());
        assert_eq!(p.conflicts.len(), 1);
        let c = &p.conflicts[0];
        assert_eq!(
            (c.adding_rule.as_str(), c.removing_rule.as_str()),
            ("B", "A")
        );
        assert_eq!(c.machine_id, id(2));
    }

    #[test]
    fn written_file_reads_back() {
        let text = file(
            r#"{"name": "A", "tag": "T", "mode": "exact",
                "source": {"kind": "filter", "query": "os=Windows11&risk=High"}},
               {"name": "B", "tag": "U", "mode": "add",
                "source": {"kind": "import", "machines": ["host1"]}}"#,
        );
        let f = parse_rules_file(&text).unwrap();
        assert_eq!(parse_rules_file(&f.to_json()).unwrap(), f);
    }

    fn hunting_result(rows: serde_json::Value) -> HuntingResult {
        let body = serde_json::json!({
            "schema": [{"name": "DeviceId", "type": "String"}, {"name": "DeviceName", "type": "String"}],
            "results": rows,
        });
        crate::hunting::decode_hunting_result::<&str, &str>(200, &[], body.to_string().as_bytes())
            .unwrap()
    }

    const HUNT: &str = "DeviceInfo | where ExposureLevel == 'High' | project DeviceId, DeviceName";

    fn hunting_file(mode: &str) -> RulesFile {
        parse_rules_file(&file(&format!(
            r#"{{"name": "Incident", "tag": "IR", "mode": "{mode}",
                "source": {{"kind": "hunting", "query": {}}}}}"#,
            serde_json::Value::from(HUNT)
        )))
        .unwrap()
    }

    #[test]
    fn a_hunting_rule_plans_the_machines_its_answer_names_once() {
        let f = hunting_file("exact");
        assert_eq!(f.hunting_queries().len(), 1);
        let machines = [
            machine(1, "Windows11", &[]),
            machine(2, "Windows11", &["IR"]),
            machine(3, "Linux", &["IR"]),
            machine(4, "Linux", &[]),
        ];
        let q = f.hunting_queries()[0].clone();
        let mut answers = HuntingAnswers::new();
        // Machine 1 twice (two events), machine 2 once, a device Defender does not know.
        answers.insert_result(
            &q,
            &hunting_result(serde_json::json!([
                {"DeviceId": id(1).as_str(), "DeviceName": "host1"},
                {"DeviceId": id(2).as_str(), "DeviceName": "host2"},
                {"DeviceId": id(1).as_str(), "DeviceName": "host1"},
                {"DeviceId": id(9).as_str(), "DeviceName": "gone"},
            ])),
        );
        let p = plan_rules(&f, &machines, &answers, 0);
        assert!(p.may_run());
        let r = &p.rules[0];
        assert_eq!(r.blocked, None);
        assert_eq!(r.matched, vec![id(1), id(2)]);
        assert_eq!(r.adding(), vec![&id(1)]);
        assert_eq!(r.removing(), vec![&id(3)]);
        assert_eq!(r.unresolved.len(), 1);
        assert_eq!(r.unresolved[0].input, id(9).to_string());
        // Written and read back with its kind.
        let json = f.to_json();
        assert!(json.contains(r#""kind": "hunting""#), "{json}");
        assert_eq!(parse_rules_file(&json).unwrap(), f);
    }

    #[test]
    fn a_hunting_rule_without_an_answer_is_blocked_and_removes_nothing() {
        let f = hunting_file("exact");
        let q = f.hunting_queries()[0].clone();
        let machines = [machine(1, "Linux", &["IR"]), machine(2, "Linux", &["IR"])];
        let not_run = plan_rules(&f, &machines, &HuntingAnswers::new(), 0);
        let r = &not_run.rules[0];
        assert_eq!(r.blocked, Some(SourceUnavailable::NotRun));
        assert!(r.steps().is_empty() && r.removing().is_empty() && r.is_noop());
        assert!(!not_run.may_run(), "a blocked rule stops the file");
        assert!(r.summary().blocked.unwrap().contains("not been run"));

        let mut failed = HuntingAnswers::new();
        failed.insert_failure(&q, "The query was refused (400): line [1,14]");
        let r = &plan_rules(&f, &machines, &failed, 0).rules[0];
        assert!(r.steps().is_empty());
        let why = r.summary().blocked.unwrap();
        assert!(
            why.contains("failed") && why.contains("line [1,14]"),
            "{why}"
        );

        // A result without a device column is a failure too, naming the columns it has.
        let mut no_device = HuntingAnswers::new();
        let body = serde_json::json!({"schema": [{"name": "OSPlatform", "type": "String"}], "results": [{"OSPlatform": "Linux"}]});
        let result = crate::hunting::decode_hunting_result::<&str, &str>(
            200,
            &[],
            body.to_string().as_bytes(),
        )
        .unwrap();
        no_device.insert_result(&q, &result);
        let r = &plan_rules(&f, &machines, &no_device, 0).rules[0];
        assert!(r.steps().is_empty());
        assert!(r.summary().blocked.unwrap().contains("OSPlatform"));
    }

    #[test]
    fn a_blocked_exact_rule_conflicts_with_nothing_but_stops_the_file() {
        let f = parse_rules_file(&file(&format!(
            r#"{{"name": "Hunt", "tag": "T", "mode": "exact",
                "source": {{"kind": "hunting", "query": "DeviceInfo | take 5"}}}},
               {{"name": "B", "tag": "T", "mode": "add",
                "source": {{"kind": "filter", "query": "q=host"}}}},
               {{"name": "C", "tag": "U", "mode": "add",
                "source": {{"kind": "import", "machines": ["{}"]}}}}"#,
            id(1)
        )))
        .unwrap();
        let machines = [machine(1, "Linux", &[])];
        let p = plan_rules(&f, &machines, &HuntingAnswers::new(), 0);
        assert!(p.conflicts.is_empty());
        assert!(!p.may_run());
        assert_eq!(p.rules[1].adding(), vec![&id(1)]);
        // Only the rules of the same tag are involved in a dry run of "Hunt".
        let involved = f.involved_in("Hunt");
        let names: Vec<&str> = involved.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["Hunt", "B"]);
        assert_eq!(f.involved_in("C").rules.len(), 1);
    }

    fn err(text: &str) -> RulesFileError {
        parse_rules_file(text).unwrap_err()
    }

    #[test]
    fn bad_files_name_the_rule_and_field() {
        assert!(matches!(err("{"), RulesFileError::Json { .. }));
        assert!(matches!(
            err(r#"{"version": 2, "rules": []}"#),
            RulesFileError::UnsupportedVersion { .. }
        ));
        assert!(matches!(
            err(r#"{"rules": []}"#),
            RulesFileError::File {
                field: "version",
                ..
            }
        ));
        let cases = [
            (
                r#"{"name": "x", "tag": " T", "mode": "add", "source": {"kind": "filter", "query": "os=A"}}"#,
                "tag",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "sync", "source": {"kind": "filter", "query": "os=A"}}"#,
                "mode",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "filter", "query": "seen=2y"}}"#,
                "source.query",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "filter", "query": "oss=A"}}"#,
                "source.query",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "filter", "query": ""}}"#,
                "source.query",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "hunt", "query": "x"}}"#,
                "source.kind",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "import", "machines": ["a b"]}}"#,
                "source.machines[0]",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "hunting", "query": "  "}}"#,
                "source.query",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "hunting"}}"#,
                "source.query",
            ),
            (
                r#"{"name": "x", "tag": "T", "mode": "add", "source": {"kind": "hunting", "query": "a", "machines": []}}"#,
                "source.machines",
            ),
            (
                r#"{"name": "x", "tag": "T", "mdoe": "add", "source": {"kind": "import", "machines": ["a"]}}"#,
                "mdoe",
            ),
            (
                r#"{"tag": "T", "mode": "add", "source": {"kind": "import", "machines": ["a"]}}"#,
                "name",
            ),
        ];
        for (rule, field) in cases {
            let text = file(&format!(
                r#"{{"name": "ok", "tag": "T", "mode": "add", "source": {{"kind": "import", "machines": ["a"]}}}}, {rule}"#
            ));
            let e = err(&text);
            assert_eq!(e.rule_field(), Some((2, field)), "{rule}: {e}");
            let message = e.to_string();
            assert!(message.starts_with("rule 2"), "{message}");
            if rule.contains(r#""name": "x""#) {
                assert!(message.contains("(\"x\")"), "{message}");
            }
        }
        // Over the length limit: the message gives the length and the limit.
        let long = file(&format!(
            r#"{{"name": "x", "tag": "T", "mode": "add", "source": {{"kind": "hunting", "query": "{}"}}}}"#,
            "a".repeat(crate::hunting::MAX_QUERY_CHARS + 1)
        ));
        let e = err(&long);
        assert_eq!(e.rule_field(), Some((1, "source.query")));
        assert!(e.to_string().contains("at most 10000"), "{e}");
        let dup = file(
            r#"{"name": "A", "tag": "T", "mode": "add", "source": {"kind": "import", "machines": ["a"]}},
               {"name": "a", "tag": "T", "mode": "add", "source": {"kind": "import", "machines": ["a"]}}"#,
        );
        assert_eq!(err(&dup).rule_field(), Some((2, "name")));
    }
}
