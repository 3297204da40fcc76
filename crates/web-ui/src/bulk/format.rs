//! Text of the progress display: counts, the rate budget and the time left.

use defender_tags_wasm::Progress;
/// An error's text as a sentence: "the query ..." → "The query ....".
pub fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().chain(chars).collect();
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// "1,234".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "45 s", "3 min 5 s", "1 h 2 min".
pub fn duration(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3_599 => {
            let s = secs % 60;
            if s == 0 {
                format!("{} min", secs / 60)
            } else {
                format!("{} min {s} s", secs / 60)
            }
        }
        _ => format!("{} h {} min", secs / 3_600, (secs % 3_600) / 60),
    }
}

/// Where a run stands, for the progress area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressText {
    /// Percentage of calls done, 0..=100.
    pub percent: u32,
    /// "Step 1 of 2 · 3 of 6 calls · 1,500 of 3,000 machines".
    pub counts: String,
    /// "Rate budget: 12 of 100 calls this minute, 40 of 1,500 this hour".
    pub budget: String,
    /// "About 5 s left", "Waiting 20 s for the rate limit", "Estimating time left…".
    pub eta: String,
    /// Coarse text for the live region (changes every 10 %), so screen readers are not flooded.
    pub announce: String,
}

/// Describes `p` for step `step` (1-based) of `steps`.
pub fn progress_text(p: &Progress, step: usize, steps: usize) -> ProgressText {
    let percent = if p.calls_total == 0 {
        100
    } else {
        (u64::from(p.calls_done) * 100 / u64::from(p.calls_total)) as u32
    };
    let step_part = if steps > 1 {
        format!("Step {step} of {steps} \u{b7} ")
    } else {
        String::new()
    };
    let counts = format!(
        "{step_part}{} of {} calls \u{b7} {} of {} machines",
        thousands(p.calls_done.into()),
        thousands(p.calls_total.into()),
        thousands(p.machines_done.into()),
        thousands(p.machines_total.into()),
    );
    let budget = format!(
        "Rate budget: {} of {} calls this minute, {} of {} this hour",
        p.calls_this_minute,
        p.minute_limit,
        thousands(p.calls_this_hour.into()),
        thousands(p.hour_limit.into())
    );
    let eta = match (p.waiting_ms, p.eta_ms) {
        (Some(w), _) if w >= 1000 => format!("Waiting {} for the rate limit", duration(w)),
        (_, Some(0)) if p.calls_done == p.calls_total => "Finishing\u{2026}".to_owned(),
        (_, Some(e)) => format!("About {} left", duration(e)),
        (_, None) => "Estimating time left\u{2026}".to_owned(),
    };
    let announce = format!("{step_part}{}% done", percent / 10 * 10);
    ProgressText {
        percent,
        counts,
        budget,
        eta,
        announce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done: u32, total: u32) -> Progress {
        Progress {
            calls_done: done,
            calls_total: total,
            machines_done: done * 500,
            machines_total: total * 500,
            calls_this_minute: 12,
            calls_this_hour: 1_240,
            minute_limit: 100,
            hour_limit: 1_500,
            eta_ms: Some(65_000),
            waiting_ms: None,
        }
    }

    #[test]
    fn counts_budget_and_eta_read_naturally() {
        let t = progress_text(&progress(3, 6), 2, 3);
        assert_eq!(t.percent, 50);
        assert_eq!(
            t.counts,
            "Step 2 of 3 \u{b7} 3 of 6 calls \u{b7} 1,500 of 3,000 machines"
        );
        assert_eq!(
            t.budget,
            "Rate budget: 12 of 100 calls this minute, 1,240 of 1,500 this hour"
        );
        assert_eq!(t.eta, "About 1 min 5 s left");
        assert_eq!(t.announce, "Step 2 of 3 \u{b7} 50% done");
        let single = progress_text(&progress(1, 3), 1, 1);
        assert!(single.counts.starts_with("1 of 3 calls"));
        assert_eq!(single.announce, "30% done");
    }

    #[test]
    fn waits_and_unknown_eta_are_said_plainly() {
        let mut p = progress(0, 4);
        p.eta_ms = None;
        assert_eq!(progress_text(&p, 1, 1).eta, "Estimating time left\u{2026}");
        p.waiting_ms = Some(20_000);
        assert_eq!(
            progress_text(&p, 1, 1).eta,
            "Waiting 20 s for the rate limit"
        );
        let empty = Progress {
            calls_total: 0,
            ..progress(0, 0)
        };
        assert_eq!(progress_text(&empty, 1, 1).percent, 100);
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(1), "1 s");
        assert_eq!(duration(120_000), "2 min");
        assert_eq!(duration(3_720_000), "1 h 2 min");
    }
}
