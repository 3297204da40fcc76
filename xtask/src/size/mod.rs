//! The size budget (`cargo xtask size`, and the size step of `cargo xtask test`).
//!
//! Two artefacts are guarded, measured the way BENCHMARKS.md measures them (gzip -9 per file,
//! summed): the embeddable package's web build (`target/pkg/web`: wasm + JS glue) and the SPA's
//! first load (`target/site`: the files `index.html` references and the modules its scripts
//! import statically, MSAL.js excluded).
//!
//! Each has a goal and a budget in [`BUDGET_FILE`]. The guard fails when an artefact is larger
//! than its budget plus [`TOLERANCE`]. While a goal is not met the budget is a ratchet: today's
//! size rounded up a little, lowered as the artefact shrinks, so growth fails now rather than
//! after the goal is reached; once an artefact is at or under its goal, its budget is the goal.
//!
//! What is big is shown from each artefact's named twin: the shipped wasm has no name section,
//! so the guard runs the same wasm-opt on the build's pre-optimisation copy once more with `-g`
//! (names kept; the code differs from what ships by a fraction of a percent). Its figures are
//! the optimised code bytes per function and data bytes, before gzip.

mod attribution;
mod budget;
mod measure;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::ctx::Ctx;
use attribution::{
    breakdown, by_crate, capitalised, changes, changes_text, crates_markdown, crates_text, top_text,
};
use budget::{Budget, Verdict, kib_value, parse_budgets, read_budgets};
pub use measure::Artefact;
use measure::{Measured, measure};

/// The checked-in budget (goal and current budget per artefact, and the rule in words).
pub const BUDGET_FILE: &str = "xtask/size-budget.json";
/// The budget file's per-artefact snapshot of [`by_crate`] (see [`Budget::crates_at_budget`]).
const CRATES_AT_BUDGET: &str = "crates_at_budget";
/// How far above its budget an artefact may grow before the guard fails (issue #14: 5%).
const TOLERANCE: f64 = 0.05;
/// Lines in each top list.
const TOP: usize = 20;

/// Why the guard could not measure, read the budget or analyse a wasm file.
#[derive(Debug, thiserror::Error)]
enum SizeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run `gzip -9 -c {path}`: {source}")]
    GzipStart {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`gzip -9 -c {path}` failed ({status})")]
    Gzip { path: PathBuf, status: String },
    #[error("{file}: not valid JSON: {source}")]
    BudgetJson {
        file: String,
        source: serde_json::Error,
    },
    #[error("{file}: {what}")]
    Budget { file: String, what: String },
    #[error("{path} references `{reference}`, which is not in the site ({resolved})")]
    MissingReference {
        path: PathBuf,
        reference: String,
        resolved: PathBuf,
    },
    #[error("{path}: {message}")]
    Html { path: PathBuf, message: String },
    #[error("{path}: not a wasm module this guard can read: {message}")]
    Wasm { path: PathBuf, message: String },
    #[error("cannot make {path} (wasm-opt -g): {message}")]
    Optimise { path: PathBuf, message: String },
}

impl SizeError {
    fn read(path: &Path, source: std::io::Error) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What is big in one artefact: its top list and per-crate breakdown, as text, and what grew
/// since the budget's snapshot when it has one.
fn explain(ctx: &Ctx, artefact: Artefact, budget: &Budget) -> String {
    match breakdown(ctx, artefact) {
        Ok((path, b)) => {
            let mut s = format!(
                "\n{}: what is big, from {} (the shipped wasm's twin with names kept: optimised code \
                 bytes and data, {} B in all, before gzip)\n\n\
                 largest {TOP} items:\n{}\nby crate:\n{}",
                artefact.key(),
                path.display(),
                b.total(),
                top_text(&b, TOP),
                crates_text(&b)
            );
            if let Some(then) = &budget.crates_at_budget {
                let _ = write!(
                    s,
                    "\nby crate, change since the budget was set ({BUDGET_FILE} `{CRATES_AT_BUDGET}`):\n{}",
                    changes_text(&changes(&by_crate(&b), then))
                );
            }
            s
        }
        Err(e) => format!("\n{}: no breakdown: {e}\n", artefact.key()),
    }
}

/// The table of every guarded artefact against its budget.
fn table(verdicts: &[Verdict], measured: &[Measured]) -> String {
    let mut s = format!(
        "size budget ({BUDGET_FILE}; gzip -9, KiB = 1,024 B; fails above budget + {:.0}%)\n\n\
         {:<16} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}  result\n",
        TOLERANCE * 100.0,
        "artefact",
        "gzip KiB",
        "budget",
        "limit",
        "goal",
        "×budget",
        "×goal"
    );
    for v in verdicts {
        let _ = writeln!(
            s,
            "{:<16} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>7.2}× {:>6.2}×  {}",
            v.artefact.key(),
            v.kib(),
            v.budget.budget_kib,
            v.limit_kib(),
            v.budget.goal_kib,
            v.kib() / v.budget.budget_kib,
            v.kib() / v.budget.goal_kib,
            if v.over() {
                "OVER BUDGET"
            } else if v.kib() <= v.budget.goal_kib {
                "ok, goal met"
            } else {
                "ok (goal missed)"
            }
        );
    }
    for m in measured {
        let _ = writeln!(s, "\n{} files (raw / gzip -9 bytes):", m.artefact.key());
        for f in &m.files {
            let _ = writeln!(s, "  {:<28} {:>10} {:>10}", f.label, f.raw, f.gzip);
        }
    }
    s
}

/// Measures `artefacts`, prints the table, and explains what is big: for every artefact when
/// `always_explain` (`cargo xtask size`), else for the ones over budget only. Fails naming each
/// artefact over its limit. Reads built files only; builds nothing.
pub fn guard(ctx: &Ctx, artefacts: &[Artefact], always_explain: bool) -> Result<(), String> {
    let budgets = read_budgets(ctx).map_err(|e| e.to_string())?;
    let mut measured = Vec::new();
    for &artefact in artefacts {
        measured.push(measure(ctx, artefact).map_err(|e| {
            format!("{e} (build it first: `cargo xtask package` and `cargo xtask build`)")
        })?);
    }
    let verdicts: Vec<Verdict> = measured
        .iter()
        .filter_map(|m| {
            budgets
                .iter()
                .find(|(a, _)| *a == m.artefact)
                .map(|(_, budget)| Verdict {
                    artefact: m.artefact,
                    gzip: m.gzip(),
                    budget: budget.clone(),
                })
        })
        .collect();
    eprint!("{}", table(&verdicts, &measured));
    let failures = check(&verdicts);
    for v in &verdicts {
        if always_explain || v.over() {
            eprint!("{}", explain(ctx, v.artefact, &v.budget));
        }
        if let Some(hint) = v.lower_hint() {
            eprintln!("\nnote: {hint}");
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The failure of every verdict over its limit.
fn check(verdicts: &[Verdict]) -> Vec<String> {
    verdicts.iter().filter_map(Verdict::failure).collect()
}

/// `cargo xtask size`: the guard on both artefacts, always with the breakdowns.
/// `--markdown` prints BENCHMARKS.md's "Size by crate" tables instead (what the bench appends);
/// `--ratchet` lowers the budgets in [`BUDGET_FILE`] to what the built artefacts allow.
pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    match args {
        [] => guard(ctx, &Artefact::ALL, true),
        [flag] if flag == "--markdown" => {
            print!("{}", bench_markdown(ctx)?);
            Ok(())
        }
        [flag] if flag == "--ratchet" => ratchet(ctx),
        [arg, ..] => Err(format!(
            "unknown size option `{arg}` (options: --markdown, --ratchet)"
        )),
    }
}

/// Lowers each budget the built artefacts allow ([`Verdict::lowered_budget`]) and records the
/// per-crate snapshot with it (also when there is none yet). Never raises a budget: growth is a
/// deliberate edit of the file. Rewrites the file, keeping its other fields.
fn ratchet(ctx: &Ctx) -> Result<(), String> {
    let path = ctx.root.join(BUDGET_FILE);
    let text = fs::read_to_string(&path).map_err(|e| SizeError::read(&path, e).to_string())?;
    let budgets = parse_budgets(BUDGET_FILE, &text).map_err(|e| e.to_string())?;
    let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for (artefact, budget) in budgets {
        let measured = measure(ctx, artefact).map_err(|e| e.to_string())?;
        let (_, b) = breakdown(ctx, artefact).map_err(|e| e.to_string())?;
        let verdict = Verdict {
            artefact,
            gzip: measured.gzip(),
            budget,
        };
        let entry = doc
            .get_mut("artefacts")
            .and_then(|a| a.get_mut(artefact.key()))
            .and_then(|e| e.as_object_mut())
            .ok_or_else(|| format!("{BUDGET_FILE}: no entry for `{}`", artefact.key()))?;
        let lowered = verdict.lowered_budget();
        if let Some(kib) = lowered {
            eprintln!(
                "{}: {:.1} KiB gzip; budget {} -> {kib} KiB",
                artefact.key(),
                verdict.kib(),
                verdict.budget.budget_kib
            );
            entry.insert("budget_kib".into(), kib_value(kib));
        } else {
            eprintln!(
                "{}: {:.1} KiB gzip; budget stays {} KiB",
                artefact.key(),
                verdict.kib(),
                verdict.budget.budget_kib
            );
        }
        if lowered.is_some() || verdict.budget.crates_at_budget.is_none() {
            let snapshot: serde_json::Map<String, serde_json::Value> = by_crate(&b)
                .into_iter()
                .map(|row| (row.krate, serde_json::Value::from(row.bytes)))
                .collect();
            entry.insert(CRATES_AT_BUDGET.into(), serde_json::Value::Object(snapshot));
        }
    }
    let mut out = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    out.push('\n');
    fs::write(&path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// BENCHMARKS.md's "Size by crate" subsection for the browser part: one table per artefact.
pub fn bench_markdown(ctx: &Ctx) -> Result<String, String> {
    let mut s = String::from(
        "### Size by crate\n\n\
         Where the bytes come from: each function body of the shipped wasm (optimised, before \
         gzip; read from a twin that wasm-opt builds with the name section kept, whose code \
         differs from the shipped code by a fraction of a percent) attributed to a crate by its \
         symbol name (an impl's method to the crate of its self type, \
         drop glue to the dropped type's crate, any other path to its first segment); data \
         segments are `data`. `cargo xtask size` prints the same tables with the largest functions \
         (xtask/src/size/).\n",
    );
    for artefact in Artefact::ALL {
        let (path, b) = breakdown(ctx, artefact).map_err(|e| e.to_string())?;
        let file = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let _ = write!(
            s,
            "\n**{}**, from `{file}` ({} B):\n\n{}",
            capitalised(artefact.title()),
            crate::bench::report::group(b.total()),
            crates_markdown(&b)
        );
    }
    Ok(s)
}

/// A wasm module for tests, by hand.
#[cfg(test)]
pub mod test_wasm {
    /// One imported function, two bodies (2 and 6 bytes), one 5-byte data segment, and a name
    /// section naming the second body with a mangled Rust symbol (`serde_json::de::from_str`).
    pub fn tiny_module() -> Vec<u8> {
        fn leb(mut n: usize, out: &mut Vec<u8>) {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
            out.push(id);
            leb(body.len(), out);
            out.extend_from_slice(body);
        }
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut m); // type 0: [] -> []
        section(2, &[1, 1, b'e', 1, b'f', 0, 0], &mut m); // import e.f: func type 0
        section(3, &[2, 0, 0], &mut m); // two functions of type 0
        section(5, &[1, 0, 1], &mut m); // memory min 1
        // Bodies: `end` (2 bytes with locals count), and nop×4 + end (6 bytes).
        section(10, &[2, 2, 0, 0x0b, 6, 0, 1, 1, 1, 1, 0x0b], &mut m);
        section(11, &[1, 0, 0x41, 0, 0x0b, 5, 1, 2, 3, 4, 5], &mut m); // data: 5 bytes
        let symbol = b"_ZN10serde_json2de8from_str17h0123456789abcdefE";
        let mut names = Vec::new();
        leb(4, &mut names);
        names.extend_from_slice(b"name");
        let mut functions = vec![1u8, 2]; // one naming, index 2 (the import is index 0)
        leb(symbol.len(), &mut functions);
        functions.extend_from_slice(symbol);
        names.push(1); // function names subsection
        leb(functions.len(), &mut names);
        names.extend_from_slice(&functions);
        section(0, &names, &mut m);
        m
    }
}
