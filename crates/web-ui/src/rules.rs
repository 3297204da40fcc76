//! Saved tag rules in the browser: the tenant's rules file (core's schema, so an export is what
//! the headless script reads), when each rule last ran, and the bulk [`Job`] a rule's dry run
//! becomes. Parsing, planning and conflicts are core's (`defender_tags_core::rules`).

use std::collections::{BTreeMap, HashMap};

use defender_tags_core::Machine;
use defender_tags_core::import::parse_machine_list;
use defender_tags_core::rules::{
    self, FieldProblem, Rule, RuleConflict, RuleMode, RulePlan, RuleSource, RulesFile,
    RulesFileError, RulesPlan, parse_rules_file,
};
use defender_tags_core::{MachineRef, Tag};
use serde::{Deserialize, Serialize};

use crate::bulk::job::{Job, JobKind, Step, plural};
use crate::bulk::resolve::{Unresolved, UnresolvedReason};

/// localStorage key prefix of a tenant's rules file (JSON, no secrets).
const RULES_KEY: &str = "defender-tags.rules:";
/// localStorage key prefix of a tenant's last run per rule.
const RUNS_KEY: &str = "defender-tags.rule-runs:";
/// What a rule job's `source` starts with; the rule's name follows.
pub const SOURCE_PREFIX: &str = "Rule: ";

/// How a rule's last run ended (shown in the list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// When it finished (Unix epoch ms).
    pub at_ms: i64,
    /// The report's one-line outcome ("12 applied, 3 already in place").
    pub outcome: String,
    /// Whether every machine ended as planned.
    pub ok: bool,
}

/// Which source the form's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    /// A saved search (the search page's query string).
    #[default]
    Filter,
    /// An imported list (one machine per line, or a CSV).
    Import,
    /// An advanced hunting query (KQL).
    Hunting,
}

impl SourceKind {
    /// The `<option>` value, which is also the file's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filter => "filter",
            Self::Import => "import",
            Self::Hunting => "hunting",
        }
    }

    /// From an `<option>` value (anything unknown reads as a saved search).
    pub fn from_value(value: &str) -> Self {
        match value {
            "import" => Self::Import,
            "hunting" => Self::Hunting,
            _ => Self::Filter,
        }
    }
}

/// What the form asks for, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleDraft {
    /// Name.
    pub name: String,
    /// Tag.
    pub tag: String,
    /// `add` or `exact`.
    pub exact: bool,
    /// Saved search, imported list or hunting query.
    pub kind: SourceKind,
    /// The search query (`os=Windows11`), one machine per line, or the KQL query.
    pub source: String,
}

impl RuleDraft {
    /// The form filled from a saved rule, to edit it in place.
    pub fn of(rule: &Rule) -> RuleDraft {
        let (kind, source) = match &rule.source {
            RuleSource::Filter(q) => (SourceKind::Filter, q.to_query_string()),
            RuleSource::Import(list) => (
                SourceKind::Import,
                list.iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            RuleSource::Hunting(q) => (SourceKind::Hunting, q.as_str().to_owned()),
        };
        RuleDraft {
            name: rule.name.clone(),
            tag: rule.tag.as_str().to_owned(),
            exact: rule.mode == RuleMode::Exact,
            kind,
            source,
        }
    }

    /// The draft as a validated rule added to `file`, through the same checks as a rules file
    /// (the whole file is re-read), so a rule the form accepts always exports and imports.
    pub fn add_to(&self, file: &RulesFile) -> Result<RulesFile, RulesFileError> {
        self.save_in(file, None)
    }

    /// Like [`add_to`](Self::add_to), but with `replacing` set the draft takes the place (and
    /// the position) of the rule of that name: an edit in place, which may rename it.
    pub fn save_in(
        &self,
        file: &RulesFile,
        replacing: Option<&str>,
    ) -> Result<RulesFile, RulesFileError> {
        let mut docs: Vec<rules::RuleDoc> = file.rules.iter().map(rules::RuleDoc::from).collect();
        let at = replacing.and_then(|old| file.rules.iter().position(|r| r.name == old));
        let number = at.map_or(docs.len() + 1, |i| i + 1);
        let source = match self.kind {
            SourceKind::Import => rules::SourceDoc::Import {
                machines: self.machines(number)?,
            },
            SourceKind::Filter => rules::SourceDoc::Filter {
                query: self.source.trim().trim_start_matches('?').to_owned(),
            },
            // As typed: core checks it (empty, length) and the service's syntax-error
            // positions refer to the text as sent.
            SourceKind::Hunting => rules::SourceDoc::Hunting {
                query: self.source.clone(),
            },
        };
        let doc = rules::RuleDoc {
            name: self.name.clone(),
            tag: self.tag.clone(),
            mode: if self.exact {
                RuleMode::Exact
            } else {
                RuleMode::Add
            },
            source,
        };
        match at {
            Some(i) => docs[i] = doc,
            None => docs.push(doc),
        }
        parse_rules_file(
            &serde_json::json!({ "version": rules::RULES_SCHEMA_VERSION, "rules": docs })
                .to_string(),
        )
    }

    /// The machines of a pasted list or CSV, read by the bulk import's parser (core's
    /// `parse_machine_list`: one per line, or the machine column of a CSV with a header); a
    /// line that is not a machine is refused naming the rule, the field and the line. Tag and
    /// action columns of a CSV are not used: the rule has its own.
    fn machines(&self, number: usize) -> Result<Vec<String>, RulesFileError> {
        let refuse = |problem| RulesFileError::Rule {
            number,
            name: Some(self.name.trim().to_owned()).filter(|n| !n.is_empty()),
            field: "source.machines".to_owned(),
            problem,
        };
        let parsed = parse_machine_list(&self.source).map_err(|e| {
            refuse(FieldProblem::ListLine {
                line: 0,
                reason: e.to_string(),
            })
        })?;
        if let Some(e) = parsed.errors.first() {
            return Err(refuse(FieldProblem::ListLine {
                line: e.row,
                reason: e.kind.to_string(),
            }));
        }
        Ok(parsed.rows.iter().map(|r| r.machine.to_string()).collect())
    }
}

/// `file` without the rule named `name`.
pub fn without(file: &RulesFile, name: &str) -> RulesFile {
    RulesFile {
        rules: file
            .rules
            .iter()
            .filter(|r| r.name != name)
            .cloned()
            .collect(),
    }
}

/// How a source reads in the list.
pub fn describe_source(source: &RuleSource) -> String {
    match source {
        RuleSource::Filter(q) => format!("Search: {}", q.to_query_string()),
        RuleSource::Import(list) => format!(
            "Imported list: {}",
            plural(list.len(), "machine", "machines")
        ),
        RuleSource::Hunting(q) => {
            // The query's first line, shortened: the list stays one line per rule.
            const SHOWN: usize = 60;
            let first = q.as_str().trim().lines().next().unwrap_or_default();
            let short: String = first.chars().take(SHOWN).collect();
            let more = first.chars().count() > SHOWN || q.as_str().trim().lines().nth(1).is_some();
            format!(
                "Hunting query: {short}{}",
                if more { "\u{2026}" } else { "" }
            )
        }
    }
}

/// The rules of a dry run that cannot run because their source could not be read (a hunting
/// query that failed or did not run), one sentence each.
pub fn blocked_rules(plan: &RulesPlan) -> Vec<String> {
    plan.rules
        .iter()
        .filter_map(|r| {
            let why = r.blocked.as_ref()?.to_string();
            // The reason is often a sentence of its own already.
            Some(format!(
                "Rule \u{201c}{}\u{201d}: {}.",
                r.name,
                why.trim_end_matches('.')
            ))
        })
        .collect()
}

/// The conflicts a run of `rule` must wait for: those it takes part in.
pub fn conflicts_of<'a>(conflicts: &'a [RuleConflict], rule: &str) -> Vec<&'a RuleConflict> {
    conflicts
        .iter()
        .filter(|c| c.adding_rule == rule || c.removing_rule == rule)
        .collect()
}

/// A conflict as a sentence.
pub fn describe_conflict(c: &RuleConflict) -> String {
    format!(
        "{}: rule \u{201c}{}\u{201d} adds \u{201c}{}\u{201d}, rule \u{201c}{}\u{201d} removes it",
        c.machine_name.as_deref().unwrap_or(c.machine_id.as_str()),
        c.adding_rule,
        c.tag,
        c.removing_rule
    )
}

/// The bulk job that runs one rule's dry run: add, then (exact) remove, each step recording
/// the listed machines' tags as its before-state, so the report's undo works as for any run.
pub fn job_for(plan: &RulePlan, machines: &[Machine]) -> Job {
    let tags: HashMap<_, _> = machines.iter().map(|m| (&m.id, &m.machine_tags)).collect();
    let step = |p: &defender_tags_core::plan::Plan| Step {
        plan: p.clone(),
        before: p
            .outcomes
            .iter()
            .filter_map(|o| Some((o.id.clone(), (*tags.get(&o.id)?).clone())))
            .collect(),
    };
    // The add step always (its "already in place" is part of the preview); the remove step
    // only when it removes something, so a run's report is not split over an empty step.
    let mut steps = vec![step(&plan.add)];
    if let Some(remove) = plan.remove.as_ref().filter(|r| !r.is_empty()) {
        steps.push(step(remove));
    }
    let summary = plan.summary();
    let mode = match plan.mode {
        RuleMode::Add => "add",
        RuleMode::Exact => "exact",
    };
    Job {
        kind: JobKind::Rule,
        title: format!(
            "Rule \u{201c}{}\u{201d} ({mode}): add \u{201c}{}\u{201d} to {}{}",
            plan.name,
            plan.tag,
            plural(summary.adds, "machine", "machines"),
            if plan.mode == RuleMode::Exact {
                format!(
                    ", remove it from {}",
                    plural(summary.removes, "machine", "machines")
                )
            } else {
                String::new()
            }
        ),
        source: format!("{SOURCE_PREFIX}{}", plan.name),
        steps,
        unresolved: plan
            .unresolved
            .iter()
            .map(|u| Unresolved {
                line: 0,
                text: u.input.clone(),
                reason: if u.candidates == 0 {
                    UnresolvedReason::Unknown
                } else {
                    UnresolvedReason::Ambiguous(Vec::new())
                },
            })
            .collect(),
        device_value: None,
    }
}

/// The rule a job ran, from its `source`.
pub fn rule_of(job: &Job) -> Option<&str> {
    (job.kind == JobKind::Rule)
        .then(|| job.source.strip_prefix(SOURCE_PREFIX))
        .flatten()
}

/// Whether a tag typed in the form is sendable (inline check before saving).
pub fn tag_problem(tag: &str) -> Option<String> {
    Tag::parse(tag).err().map(|e| e.to_string())
}

/// Whether an imported line names a machine (inline check).
pub fn line_problem(line: &str) -> Option<String> {
    MachineRef::parse(line).err().map(|e| e.to_string())
}

/// A rules-file error about field `field` of rule `number`, as the form shows it.
pub fn field_message(e: &RulesFileError) -> String {
    match e {
        RulesFileError::Rule {
            problem: FieldProblem::DuplicateName { .. },
            ..
        } => "A rule with this name exists already.".to_owned(),
        other => other.to_string(),
    }
}

fn storage() -> Option<web_sys::Storage> {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()?.local_storage().ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The tenant's saved rules. A stored file that no longer reads (edited by hand, or written by
/// a newer version) is reported, not dropped: the page shows the error, and the stored text
/// stays until a rule is saved.
pub fn load(tenant: &str) -> Result<RulesFile, RulesFileError> {
    let Some(text) =
        storage().and_then(|s| s.get_item(&format!("{RULES_KEY}{tenant}")).ok().flatten())
    else {
        return Ok(RulesFile::default());
    };
    parse_rules_file(&text)
}

/// Saves the tenant's rules.
pub fn save(tenant: &str, file: &RulesFile) -> Result<(), String> {
    storage()
        .ok_or_else(|| "This browser does not allow saving rules (localStorage).".to_owned())?
        .set_item(&format!("{RULES_KEY}{tenant}"), &file.to_json())
        .map_err(|_| "Could not save the rules (localStorage is full or blocked).".to_owned())
}

/// Each rule's last run in this tenant.
pub fn load_runs(tenant: &str) -> BTreeMap<String, LastRun> {
    storage()
        .and_then(|s| s.get_item(&format!("{RUNS_KEY}{tenant}")).ok().flatten())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Records `run` as rule `name`'s last run; false if it was recorded already.
pub fn record_run(tenant: &str, name: &str, run: LastRun) -> bool {
    let mut runs = load_runs(tenant);
    if runs.get(name) == Some(&run) {
        return false;
    }
    runs.insert(name.to_owned(), run);
    save_runs(tenant, &runs);
    true
}

/// Moves rule `from`'s last run to `to`, so a rule renamed in place keeps it.
pub fn rename_run(tenant: &str, from: &str, to: &str) {
    let mut runs = load_runs(tenant);
    if from == to {
        return;
    }
    if let Some(run) = runs.remove(from) {
        runs.insert(to.to_owned(), run);
        save_runs(tenant, &runs);
    }
}

fn save_runs(tenant: &str, runs: &BTreeMap<String, LastRun>) {
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(runs)) {
        // A full storage forgets the time of the last run only; the run itself is journaled.
        let _ = s.set_item(&format!("{RUNS_KEY}{tenant}"), &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::MachineId;
    use defender_tags_core::hunting::HuntingQuery;
    use defender_tags_core::rules::{HuntingAnswers, SourceUnavailable, plan_rules};

    fn machine(n: u8, os: &str, tags: &[&str]) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:02x}").repeat(20)).unwrap());
        m.computer_dns_name = Some(format!("host{n}"));
        m.os_platform = Some(os.into());
        m.machine_tags = tags.iter().map(|t| (*t).to_owned()).collect();
        m
    }

    fn draft(name: &str, tag: &str, source: &str) -> RuleDraft {
        RuleDraft {
            name: name.into(),
            tag: tag.into(),
            exact: true,
            kind: SourceKind::Filter,
            source: source.into(),
        }
    }

    #[test]
    fn a_draft_is_validated_as_part_of_the_file() {
        let file = draft("Linux", "L", "?os=Ubuntu")
            .add_to(&RulesFile::default())
            .unwrap();
        assert_eq!(file.rules.len(), 1);
        let e = draft("linux", "M", "os=Ubuntu").add_to(&file).unwrap_err();
        assert_eq!(e.rule_field(), Some((2, "name")));
        assert_eq!(field_message(&e), "A rule with this name exists already.");
        let e = draft("Other", "M", "os=Ubuntu&sen=1d")
            .add_to(&file)
            .unwrap_err();
        assert_eq!(e.rule_field(), Some((2, "source.query")));
        assert!(without(&file, "Linux").rules.is_empty());
    }

    #[test]
    fn an_import_list_draft_reads_pasted_lines_or_csv_with_the_bulk_parser() {
        let id = "ab".repeat(20);
        let mut d = draft("Pasted", "P", &format!("host1\n{id}\n\nhost1\n"));
        d.kind = SourceKind::Import;
        let file = d.add_to(&RulesFile::default()).unwrap();
        let RuleSource::Import(list) = &file.rules[0].source else {
            panic!("an import source");
        };
        let names: Vec<String> = list.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            names,
            vec!["host1".to_owned(), id.clone()],
            "duplicates once"
        );
        // A CSV with a header: its machine column is read.
        d.source = format!("machine,tag\nhost2,x\n{id},y\n");
        let file = d.add_to(&RulesFile::default()).unwrap();
        let RuleSource::Import(list) = &file.rules[0].source else {
            panic!("an import source");
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].to_string(), "host2");
        // A line that is no machine is refused naming rule, field and line.
        d.source = "host1\nbad name with spaces\n".into();
        let e = d.add_to(&RulesFile::default()).unwrap_err();
        assert_eq!(e.rule_field(), Some((1, "source.machines")));
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.to_string().contains("Pasted"), "{e}");
    }

    #[test]
    fn a_rule_is_edited_in_place_keeping_its_position() {
        let file = draft("A", "T1", "os=Ubuntu")
            .add_to(&RulesFile::default())
            .unwrap();
        let file = draft("B", "T2", "os=Windows11").add_to(&file).unwrap();
        let mut edit = RuleDraft::of(&file.rules[0]);
        assert_eq!(edit.source, "os=Ubuntu");
        edit.name = "A2".into();
        edit.tag = "T3".into();
        edit.exact = false;
        edit.kind = SourceKind::Import;
        edit.source = "host9".into();
        let next = edit.save_in(&file, Some("A")).unwrap();
        assert_eq!(next.rules.len(), 2);
        assert_eq!(next.rules[0].name, "A2");
        assert_eq!(next.rules[0].tag.as_str(), "T3");
        assert_eq!(next.rules[0].mode, RuleMode::Add);
        assert!(matches!(&next.rules[0].source, RuleSource::Import(l) if l.len() == 1));
        assert_eq!(next.rules[1].name, "B");
        // Renaming onto another rule's name is refused (the form says why).
        let mut clash = RuleDraft::of(&next.rules[0]);
        clash.name = "b".into();
        let e = clash.save_in(&next, Some("A2")).unwrap_err();
        assert_eq!(field_message(&e), "A rule with this name exists already.");
        // An unedited round trip changes nothing.
        assert_eq!(
            RuleDraft::of(&next.rules[1])
                .save_in(&next, Some("B"))
                .unwrap(),
            next
        );
    }

    #[test]
    fn a_rule_plan_becomes_an_add_then_remove_job() {
        let file = draft("Linux", "L", "os=Ubuntu")
            .add_to(&RulesFile::default())
            .unwrap();
        let ms = [machine(1, "Ubuntu", &[]), machine(2, "Windows11", &["L"])];
        let plan = plan_rules(&file, &ms, &HuntingAnswers::new(), 0);
        let job = job_for(&plan.rules[0], &ms);
        assert_eq!(job.steps.len(), 2);
        assert_eq!(job.steps[0].plan.action, defender_tags_core::TagAction::Add);
        assert_eq!(
            job.steps[1].before.get(&ms[1].id),
            Some(&vec!["L".to_owned()])
        );
        assert_eq!(rule_of(&job), Some("Linux"));
        assert!(
            job.title.contains("remove it from 1 machine"),
            "{}",
            job.title
        );
    }

    #[test]
    fn a_hunting_draft_is_kept_as_typed_and_checked_by_core() {
        let query = "DeviceInfo\n| where ExposureLevel == \"High\"\n| project DeviceId";
        let mut d = draft("Incident", "IR", query);
        d.kind = SourceKind::Hunting;
        let file = d.add_to(&RulesFile::default()).unwrap();
        let RuleSource::Hunting(q) = &file.rules[0].source else {
            panic!("a hunting source");
        };
        assert_eq!(q.as_str(), query);
        assert_eq!(RuleDraft::of(&file.rules[0]), d, "edits round-trip");
        assert_eq!(
            describe_source(&file.rules[0].source),
            "Hunting query: DeviceInfo\u{2026}"
        );
        d.source = " \n ".into();
        let e = d.add_to(&RulesFile::default()).unwrap_err();
        assert_eq!(e.rule_field(), Some((1, "source.query")));
        assert!(e.to_string().contains("hunting query is empty"), "{e}");
        assert_eq!(
            SourceKind::from_value(SourceKind::Hunting.as_str()),
            SourceKind::Hunting
        );
    }

    #[test]
    fn a_failed_hunting_query_blocks_its_rule_with_the_reason() {
        let mut d = draft("Incident", "IR", "DeviceInfo | take 1");
        d.kind = SourceKind::Hunting;
        let file = d.add_to(&RulesFile::default()).unwrap();
        let ms = [machine(1, "Ubuntu", &["IR"])];
        let mut answers = HuntingAnswers::new();
        answers.insert_failure(
            &HuntingQuery::parse("DeviceInfo | take 1").unwrap(),
            "The query was refused (400): bad token on line [1,12]",
        );
        let plan = plan_rules(&file, &ms, &answers, 0);
        assert!(matches!(
            plan.rules[0].blocked,
            Some(SourceUnavailable::Failed { .. })
        ));
        let lines = blocked_rules(&plan);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("Rule \u{201c}Incident\u{201d}: its hunting query failed"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("line [1,12]"), "{}", lines[0]);
        // And nothing of it would run: the holder keeps its tag.
        assert!(plan.rules[0].steps().is_empty());
    }
}
