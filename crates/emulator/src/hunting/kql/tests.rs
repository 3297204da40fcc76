//! The KQL conformance table: queries over a fixed six-row `DeviceInfo` with the rows each must
//! return, and the errors (with positions) the subset must give. The expectations were worked
//! out by hand from Kusto's documented semantics, not from this implementation's output.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;

const NOW: OffsetDateTime = datetime!(2026-12-06 12:00 UTC);
const A: &str = "pc-fin-01.contoso.com";
const B: &str = "srv-web-01.contoso.com";
const C: &str = "LNX-build-7.contoso.com";
const D: &str = "mac-hr-02.contoso.com";

struct One(Table);

impl Catalog for One {
    fn table(&self, name: &str) -> Option<&Table> {
        (name == "DeviceInfo").then_some(&self.0)
    }
}

fn device_info() -> Table {
    #[allow(clippy::too_many_arguments)]
    fn row(
        ago: Duration,
        id: &str,
        name: &str,
        os: &str,
        build: Option<i64>,
        group: &str,
        aad: bool,
        reg: &str,
        manual: &str,
    ) -> Vec<Val> {
        let s = |v: &str| Val::Str(v.to_owned());
        vec![
            Val::DateTime(NOW - ago),
            s(id),
            s(name),
            s(os),
            build.map_or(Val::Null, Val::Long),
            s(group),
            Val::Bool(aad),
            s(reg),
            s(manual),
        ]
    }
    Table {
        columns: vec![
            ("Timestamp".into(), Type::DateTime),
            ("DeviceId".into(), Type::Str),
            ("DeviceName".into(), Type::Str),
            ("OSPlatform".into(), Type::Str),
            ("OSBuild".into(), Type::Long),
            ("MachineGroup".into(), Type::Str),
            ("IsAzureADJoined".into(), Type::Bool),
            ("RegistryDeviceTag".into(), Type::Str),
            ("DeviceManualTags".into(), Type::Str),
        ],
        rows: vec![
            row(
                Duration::hours(1),
                "a",
                A,
                "Windows11",
                Some(22631),
                "Finance",
                true,
                "",
                r#"["VIP"]"#,
            ),
            row(
                Duration::days(2),
                "a",
                A,
                "Windows11",
                Some(22621),
                "Finance",
                true,
                "",
                "[]",
            ),
            row(
                Duration::hours(3),
                "b",
                B,
                "WindowsServer2022",
                Some(20348),
                "Engineering",
                false,
                "Kiosk",
                "[]",
            ),
            row(
                Duration::days(10),
                "c",
                C,
                "Linux",
                None,
                "Engineering",
                false,
                "",
                r#"["Build","VIP"]"#,
            ),
            row(
                Duration::days(20),
                "d",
                D,
                "macOS",
                None,
                "HR",
                true,
                "HR-Reg",
                "[]",
            ),
            row(
                Duration::hours(5),
                "b",
                B,
                "WindowsServer2022",
                Some(20349),
                "Engineering",
                false,
                "Kiosk",
                r#"["Web"]"#,
            ),
        ],
    }
}

fn render(v: &Val) -> String {
    match v {
        Val::Null => "null".to_owned(),
        Val::Str(s) => s.clone(),
        Val::Long(n) => n.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::DateTime(d) => defender_tags_core::model::datetime::format_datetime(*d),
    }
}

fn rows_of(q: &str) -> Vec<String> {
    let t = run(q, &One(device_info()), NOW).unwrap_or_else(|e| panic!("{q}: {}", e.describe(q)));
    t.rows
        .iter()
        .map(|r| r.iter().map(render).collect::<Vec<_>>().join("|"))
        .collect()
}

#[test]
fn conformance_table() {
    let cases: &[(&str, &[&str])] = &[
        ("DeviceInfo | count", &["6"]),
        (
            "DeviceInfo | where OSPlatform == \"Linux\" | project DeviceName",
            &[C],
        ),
        (
            "DeviceInfo | where OSPlatform == \"linux\" | project DeviceName",
            &[],
        ),
        (
            "DeviceInfo | where OSPlatform =~ \"linux\" | project DeviceName",
            &[C],
        ),
        (
            "DeviceInfo | where OSPlatform != \"Windows11\" | distinct DeviceName",
            &[B, C, D],
        ),
        (
            "DeviceInfo | where OSPlatform !~ \"windows11\" | distinct DeviceName",
            &[B, C, D],
        ),
        (
            "DeviceInfo | where DeviceName has \"contoso\" | count",
            &["6"],
        ),
        (
            "DeviceInfo | where DeviceName has \"FIN\" | distinct DeviceName",
            &[A],
        ),
        (
            "DeviceInfo | where DeviceName has \"srv-web\" | distinct DeviceName",
            &[B],
        ),
        (
            "DeviceInfo | where DeviceName has \"we\" | distinct DeviceName",
            &[],
        ),
        (
            "DeviceInfo | where DeviceName !has \"fin\" | distinct DeviceName",
            &[B, C, D],
        ),
        (
            "DeviceInfo | where DeviceName contains \"WE\" | distinct DeviceName",
            &[B],
        ),
        (
            "DeviceInfo | where DeviceName !contains \"contoso\" | count",
            &["0"],
        ),
        (
            "DeviceInfo | where DeviceName startswith \"lnx\" | project DeviceName",
            &[C],
        ),
        (
            "DeviceInfo | where DeviceName endswith \".COM\" | count",
            &["6"],
        ),
        (
            "DeviceInfo | where DeviceName !startswith \"pc\" | distinct DeviceName",
            &[B, C, D],
        ),
        (
            "DeviceInfo | where DeviceName !endswith \"02.contoso.com\" | distinct DeviceName",
            &[A, B, C],
        ),
        (
            "DeviceInfo | where OSPlatform in (\"Linux\", \"macOS\") | project DeviceName",
            &[C, D],
        ),
        (
            "DeviceInfo | where OSPlatform in (\"linux\", \"MACOS\") | project DeviceName",
            &[],
        ),
        (
            "DeviceInfo | where OSPlatform in~ (\"linux\", \"MACOS\") | project DeviceName",
            &[C, D],
        ),
        (
            "DeviceInfo | where OSPlatform !in (\"Windows11\", \"WindowsServer2022\") | project DeviceName",
            &[C, D],
        ),
        (
            "DeviceInfo | where OSBuild > 22000 | project DeviceName, OSBuild",
            &["pc-fin-01.contoso.com|22631", "pc-fin-01.contoso.com|22621"],
        ),
        (
            "DeviceInfo | where OSBuild <= 20348 | project OSBuild",
            &["20348"],
        ),
        ("DeviceInfo | where OSBuild != 1 | count", &["4"]),
        (
            "DeviceInfo | where OSBuild == 20349 or OSPlatform == \"macOS\" | project DeviceName",
            &[D, B],
        ),
        (
            "DeviceInfo | where MachineGroup == \"Engineering\" and OSPlatform != \"Linux\" | project OSBuild",
            &["20348", "20349"],
        ),
        (
            "DeviceInfo | where not(MachineGroup == \"Engineering\") | distinct DeviceName",
            &[A, D],
        ),
        (
            "DeviceInfo | where Timestamp > ago(1d) | project DeviceName",
            &[A, B, B],
        ),
        (
            "DeviceInfo | where Timestamp < ago(7d) | project DeviceName",
            &[C, D],
        ),
        (
            "DeviceInfo | where Timestamp >= datetime(2026-12-06) | count",
            &["3"],
        ),
        (
            "DeviceInfo | where Timestamp > datetime(2026-12-06T10:30:00Z) | project DeviceName",
            &[A],
        ),
        (
            "DeviceInfo | where IsAzureADJoined | distinct DeviceName",
            &[A, D],
        ),
        (
            "DeviceInfo | where IsAzureADJoined == false | distinct DeviceName",
            &[B, C],
        ),
        (
            "DeviceInfo | where isnotempty(RegistryDeviceTag) | distinct DeviceName, RegistryDeviceTag",
            &[
                "srv-web-01.contoso.com|Kiosk",
                "mac-hr-02.contoso.com|HR-Reg",
            ],
        ),
        (
            "DeviceInfo | where isempty(RegistryDeviceTag) | count",
            &["3"],
        ),
        (
            "DeviceInfo | where DeviceManualTags has \"VIP\" | distinct DeviceName",
            &[A, C],
        ),
        (
            "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, OSBuild",
            &["a|22631", "b|20348", "c|null", "d|null"],
        ),
        (
            "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId | count",
            &["4"],
        ),
        (
            "DeviceInfo | where DeviceId in (\"a\", \"b\") | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, RegistryDeviceTag, DeviceManualTags",
            &["a||[\"VIP\"]", "b|Kiosk|[]"],
        ),
        (
            "DeviceInfo | summarize count() by MachineGroup",
            &["Finance|2", "Engineering|3", "HR|1"],
        ),
        ("DeviceInfo | summarize count()", &["6"]),
        (
            "DeviceInfo | distinct MachineGroup",
            &["Finance", "Engineering", "HR"],
        ),
        ("DeviceInfo | take 2 | project DeviceName", &[A, A]),
        ("DeviceInfo | limit 0 | count", &["0"]),
        (
            "DeviceInfo | project Name = DeviceName, OSBuild | where OSBuild > 22630 | project Name",
            &[A],
        ),
        (
            "DeviceInfo | sort by OSBuild asc | project OSBuild",
            &["20348", "20349", "22621", "22631", "null", "null"],
        ),
        (
            "DeviceInfo | order by Timestamp desc | take 1 | project DeviceName",
            &[A],
        ),
        (
            "DeviceInfo | sort by DeviceName | take 1 | project DeviceName",
            &[B],
        ),
        (
            "DeviceInfo | where DeviceName == @\"pc-fin-01.contoso.com\" | count",
            &["2"],
        ),
        (
            "DeviceInfo | where DeviceName == 'srv-web-01.contoso.com' and (OSBuild == 1 or OSBuild == 20349) | count",
            &["1"],
        ),
        (
            "DeviceInfo // every report\n| where DeviceName == \"a\\\"b\" | count",
            &["0"],
        ),
    ];
    let mut failures = Vec::new();
    for (q, want) in cases {
        let got = rows_of(q);
        let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        if got != want {
            failures.push(format!("{q}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 40);
}

#[test]
fn arg_max_puts_the_group_then_the_max_column_first() {
    let t = run(
        "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId",
        &One(device_info()),
        NOW,
    )
    .expect("runs");
    let names: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..3], &["DeviceId", "Timestamp", "DeviceName"]);
    assert_eq!(names.len(), 9);
}

#[test]
fn errors_name_their_position() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("DeviceInfo | whre x", (1, 14), "at 'whre'"),
        (
            "DeviceInfo | where Foo == 1",
            (1, 20),
            "scalar expression named 'Foo'",
        ),
        ("Devices | count", (1, 1), "resolve table 'Devices'"),
        (
            "DeviceInfo | where OSBuild == \"x\"",
            (1, 28),
            "types long and string",
        ),
        (
            "DeviceInfo\n| where DeviceName == \"x",
            (2, 23),
            "unterminated string",
        ),
        (
            "DeviceInfo | where OSBuild has \"1\"",
            (1, 28),
            "needs string operands",
        ),
        (
            "DeviceInfo | where OSPlatform > \"a\"",
            (1, 31),
            "needs long or datetime",
        ),
        ("DeviceInfo | take", (1, 18), "at '<end of query>'"),
        (
            "DeviceInfo | summarize arg_max(Timestamp, DeviceName) by DeviceId",
            (1, 43),
            "'*'",
        ),
        (
            "DeviceInfo | where Timestamp > ago(7x)",
            (1, 36),
            "timespan unit",
        ),
        (
            "DeviceInfo | where DeviceName",
            (1, 20),
            "boolean expression",
        ),
        ("", (1, 1), "expected a table name"),
        ("DeviceInfo | count extra", (1, 20), "expected '|'"),
        (
            "DeviceInfo | where OSPlatform in (\"a\", 3)",
            (1, 40),
            "types string and long",
        ),
        (
            "DeviceInfo | join (DeviceInfo) on DeviceId",
            (1, 14),
            "unsupported operator",
        ),
        (
            "DeviceInfo | where DeviceName == \"a\" ; x",
            (1, 38),
            "unexpected character",
        ),
        (
            "DeviceInfo | project DeviceName, DeviceName",
            (1, 34),
            "projected twice",
        ),
    ];
    let mut failures = Vec::new();
    for (q, at, contains) in cases {
        match run(q, &One(device_info()), NOW) {
            Ok(t) => failures.push(format!("{q}: ran ({} rows)", t.rows.len())),
            Err(e) => {
                let msg = e.describe(q);
                let (line, col) = *at;
                if e.line_col(q) != *at
                    || !msg.contains(contains)
                    || !msg.contains(&format!("line [{line},{col}]"))
                {
                    failures.push(format!("{q}: {msg} (want {at:?}, {contains:?})"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let q = format!(
        "DeviceInfo | where {}OSBuild == 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let e = run(&q, &One(device_info()), NOW).expect_err("too deep");
    assert!(
        e.describe(&q).contains("levels of nesting"),
        "{}",
        e.describe(&q)
    );
    let ok = format!(
        "DeviceInfo | where {}OSBuild == 20348{} | count",
        "(".repeat(60),
        ")".repeat(60)
    );
    assert_eq!(rows_of(&ok), ["1"]);
}

proptest::proptest! {
    #[test]
    fn any_text_is_answered_never_a_panic(
        q in "(DeviceInfo|\\||where|project|summarize|arg_max|by|count|take|distinct|sort|\\(|\\)|,|\\*|==|=~|!~|!=|<|>=|has|!in|in~|contains|ago|datetime|1d|2026-12-01|\"x\"|'y'|@\"z|OSBuild|DeviceName|Timestamp|not|and|or|isempty|-?[0-9]{1,3}| |\\PC){0,40}"
    ) {
        if let Err(e) = run(&q, &One(device_info()), NOW) {
            let (line, col) = e.line_col(&q);
            proptest::prop_assert!(line >= 1 && col >= 1);
            proptest::prop_assert!(e.pos <= q.chars().count());
        }
    }
}
