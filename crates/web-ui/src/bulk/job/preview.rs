//! What a job will do, grouped for the preview (and the planner's warnings as sentences).

use super::*;

/// A machine line of a preview or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Machine id.
    pub id: String,
    /// Computer name (or empty).
    pub name: String,
    /// Which step ("Add “Finance”").
    pub step: String,
}

/// What a job will do, grouped for the preview.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preview {
    /// Machines whose tags will change.
    pub will_change: Vec<Line>,
    /// Machines already in the wanted state (no call).
    pub already: Vec<Line>,
    /// Machines whose tags are unknown (sent anyway).
    pub unknown: Vec<Line>,
    /// Lines that cannot be resolved to one machine.
    pub cannot_resolve: Vec<Unresolved>,
    /// API calls needed.
    pub calls: usize,
    /// Warnings from the planner (case variants, portal-breaking characters...), de-duplicated.
    pub warnings: Vec<String>,
}

impl Preview {
    /// Groups a job's planned outcomes.
    pub fn of(job: &Job) -> Preview {
        let mut p = Preview {
            cannot_resolve: job.unresolved.clone(),
            calls: job.calls(),
            ..Preview::default()
        };
        let mut seen_warnings = HashSet::new();
        for step in &job.steps {
            let label = step.label();
            for o in &step.plan.outcomes {
                let line = Line {
                    id: o.id.to_string(),
                    name: o.name.clone().unwrap_or_default(),
                    step: label.clone(),
                };
                match o.expected {
                    ExpectedOutcome::WillChange => p.will_change.push(line),
                    ExpectedOutcome::AlreadyInPlace => p.already.push(line),
                    ExpectedOutcome::UnknownSendAnyway => p.unknown.push(line),
                }
            }
            for text in summarise_warnings(&step.plan.warnings, job.kind) {
                if seen_warnings.insert(text.clone()) {
                    p.warnings.push(text);
                }
            }
        }
        if let Some(plan) = &job.device_value {
            let (change, already, unknown) = super::device_value::preview_lines(plan);
            p.will_change.extend(change);
            p.already.extend(already);
            p.unknown.extend(unknown);
            if !plan.duplicates.is_empty() {
                p.warnings.push(format!(
                    "{} listed more than once; each is changed once.",
                    plural(plan.duplicates.len(), "machine was", "machines were")
                ));
            }
        }
        p
    }

    /// Whether running would send nothing.
    pub fn nothing_to_do(&self) -> bool {
        self.calls == 0
    }
}

/// The planner's warnings, one line per kind: "212 machines already have “finance”, which differs
/// from “Finance” only in case; both spellings will be on the machine" rather than 212 lines.
/// A merge or an undo is *about* case variants, so those warnings are left out there.
fn summarise_warnings(warnings: &[PlanWarning], kind: JobKind) -> Vec<String> {
    let mut out = Vec::new();
    let mut variants: Vec<((String, String, &'static str), usize)> = Vec::new();
    let mut duplicates = 0usize;
    for w in warnings {
        match w {
            PlanWarning::CaseVariant {
                existing,
                requested,
                hint,
                ..
            } => {
                if matches!(kind, JobKind::Merge | JobKind::Undo) {
                    continue;
                }
                let key = (existing.clone(), requested.clone(), *hint);
                match variants.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => variants.push((key, 1)),
                }
            }
            PlanWarning::DuplicateMachine { .. } => duplicates += 1,
            other => out.push(capitalise(&other.to_string())),
        }
    }
    for ((existing, requested, hint), n) in variants {
        out.push(format!(
            "{} already {} \u{201c}{existing}\u{201d}, which differs from \u{201c}{requested}\u{201d} only in case; {hint}.",
            plural(n, "machine", "machines"),
            if n == 1 { "has" } else { "have" }
        ));
    }
    if duplicates > 0 {
        out.push(format!(
            "{} listed more than once; each is changed once.",
            plural(duplicates, "machine was", "machines were")
        ));
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}
