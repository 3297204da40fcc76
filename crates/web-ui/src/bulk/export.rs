//! A run's report as CSV (one row per machine and step) or JSON (the run plus its rows).

use serde::Serialize;

use super::job::{RunRecord, status_key};
use crate::activity::format_time;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRow<'a> {
    step: usize,
    machine_id: &'a str,
    computer_name: &'a str,
    tag: &'a str,
    action: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// A device-value row's value before the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStep {
    tag: String,
    action: &'static str,
    calls_planned: usize,
    calls_made: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    title: &'a str,
    kind: &'static str,
    source: &'a str,
    who: &'a str,
    started_at: String,
    finished_at: String,
    cancelled: bool,
    stopped_by: Option<String>,
    steps: Vec<JsonStep>,
    machines: Vec<JsonRow<'a>>,
    /// Imported lines not part of the run.
    unresolved: Vec<JsonUnresolved<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonUnresolved<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    input: &'a str,
    status: &'static str,
    reason: String,
}

/// `cell` as a spreadsheet will not run it: a cell starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return is a formula to Excel and friends (CSV injection), and tags, computer names
/// and error texts are text anyone with tag rights chose. Such cells get a leading `'`, which
/// spreadsheets show as text; the JSON exports keep every value exactly.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes one CSV row with every cell passed through [`spreadsheet_safe`].
pub fn write_safe_row<'a, W: std::io::Write>(
    w: &mut csv::Writer<W>,
    cells: impl IntoIterator<Item = &'a str>,
) -> Result<(), csv::Error> {
    w.write_record(cells.into_iter().map(|c| spreadsheet_safe(c).into_owned()))
}

/// The report as CSV (cells made [`spreadsheet_safe`]).
pub fn report_csv(record: &RunRecord) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "step",
        "machineId",
        "computerName",
        "tag",
        "action",
        "status",
        "error",
        "line",
        "input",
        // Last, so readers that go by position keep their columns: a device-value row's value
        // before the run (a tag row has none).
        "previous",
    ])?;
    for r in record.rows() {
        write_safe_row(
            &mut w,
            [
                r.step.to_string().as_str(),
                &r.id,
                &r.name,
                &r.tag,
                &r.action,
                status_key(r.status),
                r.error.as_deref().unwrap_or(""),
                "",
                "",
                r.previous.as_deref().unwrap_or(""),
            ],
        )?;
    }
    // The imported lines that were not part of the run (no machine, several machines, or not
    // readable), with their line number and text as given, so nothing of the input is lost.
    let (tag, action) = record.job.steps.first().map_or((String::new(), ""), |s| {
        (s.plan.tag.as_str().to_owned(), s.plan.action.as_str())
    });
    for u in &record.job.unresolved {
        let line = if u.line > 0 {
            u.line.to_string()
        } else {
            String::new()
        };
        write_safe_row(
            &mut w,
            [
                "",
                "",
                "",
                tag.as_str(),
                action,
                u.kind(),
                u.explain().as_str(),
                line.as_str(),
                u.text.as_str(),
                "",
            ],
        )?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The report as JSON.
pub fn report_json(record: &RunRecord) -> String {
    let rows = record.rows();
    let report = JsonReport {
        title: &record.job.title,
        kind: record.job.kind.as_str(),
        source: &record.job.source,
        who: &record.who,
        started_at: format_time(record.started_ms),
        finished_at: format_time(record.finished_ms),
        cancelled: record.cancelled(),
        stopped_by: record.stopped_by(),
        steps: record
            .job
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| JsonStep {
                tag: s.plan.tag.as_str().to_owned(),
                action: s.plan.action.as_str(),
                calls_planned: s.plan.calls.len(),
                calls_made: record.reports.get(i).map(|r| r.calls_made),
            })
            .collect(),
        machines: rows
            .iter()
            .map(|r| JsonRow {
                step: r.step,
                machine_id: &r.id,
                computer_name: &r.name,
                tag: &r.tag,
                action: &r.action,
                status: status_key(r.status),
                error: r.error.as_deref(),
                previous: r.previous.as_deref(),
            })
            .collect(),
        unresolved: record
            .job
            .unresolved
            .iter()
            .map(|u| JsonUnresolved {
                line: (u.line > 0).then_some(u.line),
                input: &u.text,
                status: u.kind(),
                reason: u.explain(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A file name for a run's export: `defender-tags-run-2026-11-29T08-30-00Z.csv`.
pub fn file_name(record: &RunRecord, ext: &str) -> String {
    let stamp: String = format_time(record.finished_ms)
        .chars()
        .take(19)
        .map(|c| if c == ':' { '-' } else { c })
        .collect();
    format!("defender-tags-run-{stamp}Z.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::job::Job;
    use defender_tags_core::{Machine, MachineId, Tag, TagAction};
    use defender_tags_wasm::{MachineOutcome, OutcomeStatus, RunReport};

    fn record() -> RunRecord {
        let mut a = Machine::new(MachineId::parse(&format!("{:040x}", 1)).unwrap());
        a.computer_dns_name = Some("web, \"01\"".into());
        let b = Machine::new(MachineId::parse(&format!("{:040x}", 2)).unwrap());
        let job = Job::change(
            &Tag::parse("Pilot").unwrap(),
            TagAction::Add,
            &[&a, &b],
            vec![],
            "test",
        );
        let report = RunReport {
            tag: "Pilot".into(),
            action: "Add".into(),
            outcomes: vec![
                MachineOutcome {
                    machine: a.id.to_string(),
                    status: OutcomeStatus::Applied,
                    error: None,
                },
                MachineOutcome {
                    machine: b.id.to_string(),
                    status: OutcomeStatus::NotAttempted,
                    error: None,
                },
            ],
            aborted: true,
            stopped_by: None,
            calls_planned: 1,
            calls_made: 1,
        };
        record_of(job, report)
    }

    /// A run by "Ann" of `job`, finished one second after it started, with `report` as its one
    /// step's outcome.
    fn record_of(job: Job, report: RunReport) -> RunRecord {
        RunRecord {
            job,
            reports: vec![report],
            who: "Ann".into(),
            started_ms: 0,
            finished_ms: 1_000,
        }
    }

    #[test]
    fn csv_has_one_row_per_machine_and_survives_quotes() {
        let text = report_csv(&record()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][2], "web, \"01\"");
        assert_eq!(&rows[0][5], "applied");
        assert_eq!(&rows[1][5], "notAttempted");
    }

    #[test]
    fn lines_not_part_of_the_run_are_in_both_exports_with_their_line_and_text() {
        use crate::bulk::resolve::{Unresolved, UnresolvedReason};
        let mut rec = record();
        rec.job.unresolved = vec![
            Unresolved {
                line: 3,
                text: "ghost-01".into(),
                reason: UnresolvedReason::Unknown,
            },
            Unresolved {
                line: 7,
                text: "=cmd|' /C calc'!A0".into(),
                reason: UnresolvedReason::Invalid("not an id or a computer name".into()),
            },
        ];
        let text = report_csv(&rec).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (&rows[2][5], &rows[2][7], &rows[2][8]),
            ("unknown", "3", "ghost-01")
        );
        assert_eq!((&rows[3][5], &rows[3][7]), ("invalid", "7"));
        assert!(
            rows[3][8].starts_with("'="),
            "the raw text is defused in CSV"
        );
        let v: serde_json::Value = serde_json::from_str(&report_json(&rec)).unwrap();
        assert_eq!(v["unresolved"][0]["line"], 3);
        assert_eq!(v["unresolved"][1]["input"], "=cmd|' /C calc'!A0");
    }

    #[test]
    fn device_value_rows_carry_the_previous_value_in_both_exports() {
        use defender_tags_core::DeviceValue;
        let mut a = Machine::new(MachineId::parse(&format!("{:040x}", 1)).unwrap());
        a.device_value = Some(DeviceValue::Normal);
        let mut b = Machine::new(MachineId::parse(&format!("{:040x}", 2)).unwrap());
        b.device_value = Some(DeviceValue::Low);
        let job = Job::set_device_value(&DeviceValue::High, &[&a, &b], Vec::new(), "t").unwrap();
        let outcome = |m: &Machine| MachineOutcome {
            machine: m.id.to_string(),
            status: OutcomeStatus::Applied,
            error: None,
        };
        let rec = record_of(
            job,
            RunReport {
                tag: String::new(),
                action: "setDeviceValue".into(),
                outcomes: vec![outcome(&a), outcome(&b)],
                aborted: false,
                stopped_by: None,
                calls_planned: 2,
                calls_made: 2,
            },
        );
        let text = report_csv(&rec).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().get(9), Some("previous"));
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        let got: Vec<(&str, &str, &str)> = rows.iter().map(|x| (&x[1], &x[3], &x[9])).collect();
        let (id_a, id_b) = (a.id.to_string(), b.id.to_string());
        assert_eq!(
            got,
            vec![
                (id_a.as_str(), "High", "Normal"),
                (id_b.as_str(), "High", "Low")
            ]
        );
        let v: serde_json::Value = serde_json::from_str(&report_json(&rec)).unwrap();
        assert_eq!(v["machines"][1]["previous"], "Low");
        // A tag run's rows have no previous value: the column is there and empty.
        let text = report_csv(&record()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert!(rows.iter().all(|x| x.len() == 10 && x[9].is_empty()));
    }

    #[test]
    fn json_carries_the_run_and_its_machines() {
        let v: serde_json::Value = serde_json::from_str(&report_json(&record())).unwrap();
        assert_eq!(v["cancelled"], true);
        assert_eq!(v["who"], "Ann");
        assert_eq!(v["steps"][0]["callsMade"], 1);
        assert_eq!(v["machines"].as_array().unwrap().len(), 2);
        assert_eq!(v["machines"][0]["status"], "applied");
        assert_eq!(
            file_name(&record(), "csv"),
            "defender-tags-run-1970-01-01T00-00-01Z.csv"
        );
    }

    #[test]
    fn formula_like_cells_are_defused_in_csv_but_exact_in_json() {
        let mut rec = record();
        rec.reports[0].outcomes[1].error = Some(defender_tags_wasm::report::ErrorInfo {
            code: "Failed".into(),
            message: "=HYPERLINK(\"http://x\")".into(),
            status: None,
            retry_after: None,
        });
        let text = report_csv(&rec).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(&rows[1][6], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&rows[0][3], "Pilot", "ordinary cells are untouched");
        let v: serde_json::Value = serde_json::from_str(&report_json(&rec)).unwrap();
        assert_eq!(v["machines"][1]["error"], "=HYPERLINK(\"http://x\")");
        for bad in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet_safe(bad).starts_with('\''), "{bad:?}");
        }
        for fine in ["Pilot", "VIP-1", "", "a=b", "web01"] {
            assert_eq!(spreadsheet_safe(fine), fine);
        }
    }
}
