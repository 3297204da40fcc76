//! The budget file and the verdict on each artefact against it: read strictly (a misspelt key
//! would silently guard nothing), judged with the tolerance, and lowered by the ratchet only.
//! Kept free of building and measuring so the rules are tested on numbers alone.

use std::collections::BTreeMap;
use std::fs;

use super::{Artefact, BUDGET_FILE, CRATES_AT_BUDGET, SizeError, TOLERANCE};
use crate::ctx::Ctx;

const KIB: f64 = 1024.0;

/// Goal and budget of one artefact, in KiB of gzip -9.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Budget {
    pub(super) goal_kib: f64,
    pub(super) budget_kib: f64,
    /// Bytes per crate of the named twin when the budget was last set (`cargo xtask size
    /// --ratchet`): what a failure compares against to say what grew.
    pub(super) crates_at_budget: Option<BTreeMap<String, u64>>,
}

/// Reads [`BUDGET_FILE`]'s text: `{"artefacts": {"package": {"goal_kib": …, "budget_kib": …},
/// …}}`, one entry per [`Artefact`], no others (a misspelt key would silently guard nothing).
pub(super) fn parse_budgets(file: &str, text: &str) -> Result<Vec<(Artefact, Budget)>, SizeError> {
    let bad = |what: String| SizeError::Budget {
        file: file.to_owned(),
        what,
    };
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|source| SizeError::BudgetJson {
            file: file.to_owned(),
            source,
        })?;
    let entries = doc
        .get("artefacts")
        .and_then(|a| a.as_object())
        .ok_or_else(|| bad("no `artefacts` object".into()))?;
    for key in entries.keys() {
        if !Artefact::ALL.iter().any(|a| a.key() == key) {
            let known: Vec<&str> = Artefact::ALL.iter().map(|a| a.key()).collect();
            return Err(bad(format!(
                "unknown artefact `{key}` (known: {})",
                known.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for artefact in Artefact::ALL {
        let key = artefact.key();
        let entry = entries
            .get(key)
            .ok_or_else(|| bad(format!("no entry for `{key}`")))?;
        let number = |field: &str| -> Result<f64, SizeError> {
            entry
                .get(field)
                .and_then(|v| v.as_f64())
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(format!("`{key}.{field}` must be a positive number of KiB")))
        };
        let crates_at_budget = match entry.get(CRATES_AT_BUDGET) {
            None => None,
            Some(value) => Some(
                value
                    .as_object()
                    .and_then(|map| {
                        map.iter()
                            .map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                            .collect::<Option<BTreeMap<String, u64>>>()
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "`{key}.{CRATES_AT_BUDGET}` must map crate names to byte counts"
                        ))
                    })?,
            ),
        };
        let budget = Budget {
            goal_kib: number("goal_kib")?,
            budget_kib: number("budget_kib")?,
            crates_at_budget,
        };
        if budget.budget_kib < budget.goal_kib {
            return Err(bad(format!(
                "`{key}.budget_kib` ({}) is below its goal ({}): at or under the goal, the budget is the goal",
                budget.budget_kib, budget.goal_kib
            )));
        }
        out.push((artefact, budget));
    }
    Ok(out)
}

pub(super) fn read_budgets(ctx: &Ctx) -> Result<Vec<(Artefact, Budget)>, SizeError> {
    let path = ctx.root.join(BUDGET_FILE);
    let text = fs::read_to_string(&path).map_err(|e| SizeError::read(&path, e))?;
    parse_budgets(BUDGET_FILE, &text)
}

/// One artefact against its budget.
#[derive(Debug, Clone)]
pub(super) struct Verdict {
    pub(super) artefact: Artefact,
    pub(super) gzip: u64,
    pub(super) budget: Budget,
}

impl Verdict {
    pub(super) fn kib(&self) -> f64 {
        self.gzip as f64 / KIB
    }
    /// The most it may weigh: budget × (1 + [`TOLERANCE`]).
    pub(super) fn limit_kib(&self) -> f64 {
        self.budget.budget_kib * (1.0 + TOLERANCE)
    }
    pub(super) fn over(&self) -> bool {
        self.kib() > self.limit_kib()
    }
    /// Why it fails, naming everything needed to judge it; `None` when within its limit.
    pub(super) fn failure(&self) -> Option<String> {
        self.over().then(|| {
            format!(
                "{} ({}) is {:.1} KiB gzip, over its budget of {:.1} KiB + {:.0}% = {:.1} KiB \
                 ({:.2}× the budget; goal {:.1} KiB, {:.2}× the goal)",
                self.artefact.key(),
                self.artefact.title(),
                self.kib(),
                self.budget.budget_kib,
                TOLERANCE * 100.0,
                self.limit_kib(),
                self.kib() / self.budget.budget_kib,
                self.budget.goal_kib,
                self.kib() / self.budget.goal_kib,
            )
        })
    }
    /// A hint to ratchet the budget down, when the artefact is well under it.
    pub(super) fn lower_hint(&self) -> Option<String> {
        let kib = self.kib();
        if self.budget.budget_kib <= self.budget.goal_kib {
            return None;
        }
        if kib <= self.budget.goal_kib {
            return Some(format!(
                "{} is at its goal: set its budget_kib to the goal, {} (`cargo xtask size --ratchet` does)",
                self.artefact.key(),
                self.budget.goal_kib
            ));
        }
        self.lowered_budget().map(|suggested| {
            format!(
                "{} shrank to {:.1} KiB: lower its budget_kib from {} to {} (`cargo xtask size --ratchet` does)",
                self.artefact.key(),
                kib,
                self.budget.budget_kib,
                suggested
            )
        })
    }
}

impl Verdict {
    /// The budget the ratchet moves to, if lower than today's: the goal once the artefact is at
    /// or under it, else [`ratchet_budget`] of its size. Never higher.
    pub(super) fn lowered_budget(&self) -> Option<f64> {
        let kib = self.kib();
        let target = if kib <= self.budget.goal_kib {
            self.budget.goal_kib
        } else {
            ratchet_budget(kib).max(self.budget.goal_kib)
        };
        (target < self.budget.budget_kib).then_some(target)
    }
}

/// A budget for a measured size: rounded up to the next whole KiB plus 1%, so the ratchet
/// leaves room for noise without hiding a real regression behind the 5% tolerance.
fn ratchet_budget(kib: f64) -> f64 {
    (kib * 1.01).ceil()
}

/// A KiB figure for the budget file: a whole number when it is one.
pub(super) fn kib_value(kib: f64) -> serde_json::Value {
    if kib.fract() == 0.0 && kib < u64::MAX as f64 {
        serde_json::Value::from(kib as u64)
    } else {
        serde_json::Value::from(kib)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::size::check;

    fn budget(goal: f64, budget: f64) -> Budget {
        Budget {
            goal_kib: goal,
            budget_kib: budget,
            crates_at_budget: None,
        }
    }

    #[test]
    fn over_budget_fails_naming_the_artefact() {
        // 300 KiB against a budget of 250: over 262.5.
        let v = Verdict {
            artefact: Artefact::Package,
            gzip: 300 * 1024,
            budget: budget(80.0, 250.0),
        };
        let failures = check(std::slice::from_ref(&v));
        assert_eq!(failures.len(), 1);
        let f = &failures[0];
        assert!(f.starts_with("package ("), "{f}");
        assert!(f.contains("300.0 KiB gzip"), "{f}");
        assert!(f.contains("262.5 KiB"), "{f}");
        assert!(f.contains("1.20× the budget"), "{f}");
        assert!(f.contains("goal 80.0 KiB, 3.75× the goal"), "{f}");
    }

    #[test]
    fn within_tolerance_passes_and_the_edge_is_exact() {
        let at_limit = Verdict {
            artefact: Artefact::SpaFirstLoad,
            gzip: 210 * 1024, // budget 200 + 5% = 210
            budget: budget(100.0, 200.0),
        };
        assert!(check(std::slice::from_ref(&at_limit)).is_empty());
        let one_byte_more = Verdict {
            gzip: 210 * 1024 + 1,
            ..at_limit
        };
        assert_eq!(check(&[one_byte_more]).len(), 1);
    }

    #[test]
    fn ratchet_hints() {
        let shrunk = Verdict {
            artefact: Artefact::Package,
            gzip: 150 * 1024,
            budget: budget(80.0, 264.0),
        };
        let hint = shrunk.lower_hint().unwrap_or_default();
        assert!(hint.contains("from 264 to 152"), "{hint}");
        let at_goal = Verdict {
            gzip: 79 * 1024,
            ..shrunk.clone()
        };
        assert!(
            at_goal
                .lower_hint()
                .unwrap_or_default()
                .contains("at its goal")
        );
        let budget_is_goal = Verdict {
            budget: budget(80.0, 80.0),
            ..at_goal
        };
        assert_eq!(budget_is_goal.lower_hint(), None);
    }

    #[test]
    fn the_ratchet_only_goes_down() {
        let v = |kib: u64, goal: f64, budget_kib: f64| Verdict {
            artefact: Artefact::Package,
            gzip: kib * 1024,
            budget: budget(goal, budget_kib),
        };
        assert_eq!(v(150, 80.0, 264.0).lowered_budget(), Some(152.0));
        assert_eq!(v(79, 80.0, 264.0).lowered_budget(), Some(80.0));
        // Grown, or just under the budget's rounding: unchanged.
        assert_eq!(v(300, 80.0, 264.0).lowered_budget(), None);
        assert_eq!(v(262, 80.0, 264.0).lowered_budget(), None);
        assert_eq!(v(70, 80.0, 80.0).lowered_budget(), None);
        assert_eq!(kib_value(152.0), serde_json::json!(152));
        assert_eq!(kib_value(80.5), serde_json::json!(80.5));
    }

    /// The error a budget file is refused with.
    fn refused(text: &str) -> String {
        parse_budgets("b.json", text)
            .map(drop)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn budget_file_is_checked() {
        let ok = r#"{"artefacts": {"package": {"goal_kib": 80, "budget_kib": 270},
            "spa-first-load": {"goal_kib": 300, "budget_kib": 750}}}"#;
        let budgets = parse_budgets("b.json", ok).unwrap_or_default();
        assert_eq!(
            budgets,
            vec![
                (Artefact::Package, budget(80.0, 270.0)),
                (Artefact::SpaFirstLoad, budget(300.0, 750.0))
            ]
        );
        let typo = ok.replace("spa-first-load", "spa");
        let e = refused(&typo);
        assert!(e.contains("unknown artefact `spa`"), "{e}");
        let below_goal = ok.replace("270", "70");
        let e = refused(&below_goal);
        assert!(
            e.contains("`package.budget_kib` (70) is below its goal (80)"),
            "{e}"
        );
        let with_snapshot = ok.replace(
            r#""budget_kib": 270}"#,
            r#""budget_kib": 270, "crates_at_budget": {"serde_json": 1000}}"#,
        );
        let snapshot = parse_budgets("b.json", &with_snapshot)
            .map(|b| b[0].1.crates_at_budget.clone())
            .map_err(|e| e.to_string());
        assert_eq!(
            snapshot,
            Ok(Some(
                [("serde_json".to_owned(), 1000)].into_iter().collect()
            ))
        );
        let bad_snapshot = with_snapshot.replace("1000", "-1");
        let e = refused(&bad_snapshot);
        assert!(
            e.contains("`package.crates_at_budget` must map crate names to byte counts"),
            "{e}"
        );
        let not_a_number = ok.replace("750", "\"750\"");
        let e = refused(&not_a_number);
        assert!(
            e.contains("`spa-first-load.budget_kib` must be a positive number"),
            "{e}"
        );
    }

    #[test]
    fn the_checked_in_budget_file_parses() {
        // Run-time first: a binary reused from a checkout elsewhere carries that path.
        let path = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("size-budget.json");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let budgets = parse_budgets(BUDGET_FILE, &text).map_err(|e| e.to_string());
        assert_eq!(budgets.map(|b| b.len()), Ok(Artefact::ALL.len()));
    }
}
