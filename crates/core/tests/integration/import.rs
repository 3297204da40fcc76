//! Importing machine lists.

use defender_tags_core::import::{ImportErrorKind, parse_machine_list};
use defender_tags_core::{MachineRef, MachineRefError, TagAction};

use crate::fixtures::read;

#[test]
fn portal_export_prefers_the_id_column_and_reports_everything() {
    let r = parse_machine_list(&read("portal_export.csv")).unwrap();
    assert!(r.format.header);
    assert_eq!(r.format.delimiter, Some(','));
    assert_eq!(r.rows.len(), 2);
    assert!(
        r.rows
            .iter()
            .all(|row| matches!(row.machine, MachineRef::Id(_)))
    );
    assert_eq!(
        r.rows[1].machine.as_str(),
        "2a398439b4975924e87a65943972bc702469b329"
    );
    assert_eq!(
        r.rows[0].tag, None,
        "an export's Tags column is current state, not an action"
    );
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].row, 6);
    assert!(matches!(
        r.errors[0].kind,
        ImportErrorKind::Machine(MachineRefError::Whitespace { .. })
    ));
    assert_eq!(r.duplicates.len(), 1);
    assert_eq!((r.duplicates[0].row, r.duplicates[0].first_row), (7, 2));
    assert_eq!(r.machine_ids().len(), 2);
    assert!(!r.is_clean());
}

#[test]
fn ids_and_names_are_told_apart() {
    let r =
        parse_machine_list("1e5bc9d7e413ddd7902c2932e418702b84d0cc07\nWS-01\nws-01\nfin-ws-07\n")
            .unwrap();
    assert_eq!(r.machine_ids().len(), 1);
    assert_eq!(
        r.computer_names(),
        vec!["WS-01".to_owned(), "fin-ws-07".to_owned()]
    );
    assert_eq!(
        r.duplicates.len(),
        1,
        "computer names compare case-insensitively"
    );
}

#[test]
fn a_machine_named_like_a_header_is_not_swallowed() {
    let r = parse_machine_list("device,Finance,add\nws-02,Finance,remove\n").unwrap();
    assert!(!r.format.header);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].machine, MachineRef::Name("device".into()));
    assert_eq!(r.rows[1].action, Some(TagAction::Remove));
}

#[test]
fn header_with_only_machine_tag_action() {
    let r = parse_machine_list("machine,tag,action\nws-01, Finance , Add\n").unwrap();
    assert!(r.format.header);
    assert!(r.is_clean());
    assert_eq!(r.rows[0].row, 2);
    assert_eq!(r.rows[0].tag.as_ref().map(|t| t.as_str()), Some("Finance"));
}

#[test]
fn empty_input_is_empty_not_an_error() {
    let r = parse_machine_list("\n  \n# nothing\n").unwrap();
    assert!(r.rows.is_empty() && r.is_clean());
}

#[test]
fn an_unambiguous_machine_header_is_a_header_on_its_own() {
    let r = parse_machine_list(
        "owner,computerDnsName,notes\nalice,ws-01.contoso.com,laptop\nbob,FIN-LT-0001,\n",
    )
    .unwrap();
    assert!(r.format.header);
    assert_eq!(r.errors, vec![]);
    let rows: Vec<(usize, &str)> = r.rows.iter().map(|r| (r.row, r.machine.as_str())).collect();
    assert_eq!(rows, vec![(2, "ws-01.contoso.com"), (3, "FIN-LT-0001")]);
    assert!(
        r.rows.iter().all(|r| r.tag.is_none() && r.action.is_none()),
        "unknown columns are ignored, not read as tags"
    );

    let r = parse_machine_list("Device ID;Notes\n1e5bc9d7e413ddd7902c2932e418702b84d0cc07;spare\n")
        .unwrap();
    assert!(r.format.header);
    assert!(r.is_clean());
    assert!(matches!(r.rows[0].machine, MachineRef::Id(_)));
}

#[test]
fn two_cells_without_a_header_are_still_machine_and_tag() {
    let r = parse_machine_list("fin-lt-0001,Finance\nws-02,Lab\n").unwrap();
    assert!(!r.format.header);
    assert!(r.is_clean());
    assert_eq!(r.rows[0].row, 1);
    assert_eq!(r.rows[0].machine, MachineRef::Name("fin-lt-0001".into()));
    assert_eq!(r.rows[0].tag.as_ref().map(|t| t.as_str()), Some("Finance"));

    // A plausible machine name in a header position stays a machine.
    let r = parse_machine_list("machine,Finance\nhost,Lab\n").unwrap();
    assert!(!r.format.header);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].machine, MachineRef::Name("machine".into()));
}

mod limits {
    use defender_tags_core::import::{
        ImportLimits, ImportRefused, MAX_IMPORT_BYTES, MAX_IMPORT_CELL_CHARS, check_import_size,
        parse_machine_list, parse_within,
    };
    use proptest::prelude::*;

    #[test]
    fn an_oversized_input_is_refused_before_any_row_is_read() {
        // Valid rows all the way: only the size refuses it.
        let line = "ws-01,Finance\n";
        let n = usize::try_from(MAX_IMPORT_BYTES).unwrap() / line.len() + 1;
        let text = line.repeat(n);
        let e = parse_machine_list(&text).unwrap_err();
        assert!(
            matches!(e, ImportRefused::TooLarge { max: MAX_IMPORT_BYTES, bytes } if bytes == text.len() as u64),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("32.0 MB") && msg.contains("Nothing was imported"),
            "{msg}"
        );
        // The file check (the UI's, on File.size) says the same without the text.
        assert_eq!(check_import_size(text.len() as u64), Err(e));
        assert_eq!(check_import_size(MAX_IMPORT_BYTES), Ok(()));
        assert!(check_import_size(400 * 1024 * 1024).is_err());
    }

    #[test]
    fn a_runaway_cell_refuses_the_whole_input_naming_its_row_and_column() {
        let long = "x".repeat(MAX_IMPORT_CELL_CHARS + 1);
        let text = format!("ws-01,Finance\nws-02,\"{long}\n");
        assert_eq!(
            parse_machine_list(&text),
            Err(ImportRefused::CellTooLong {
                row: 2,
                column: 2,
                chars: MAX_IMPORT_CELL_CHARS + 1,
                max: MAX_IMPORT_CELL_CHARS,
            })
        );
        // Counted in characters, not bytes: 4096 two-byte characters pass.
        let wide = "é".repeat(MAX_IMPORT_CELL_CHARS);
        let r = parse_machine_list(&format!("Device Name,Notes\nws-01,{wide}\n")).unwrap();
        assert_eq!(r.rows.len(), 1);
        let e = parse_machine_list(&format!("Device Name,Notes\nws-01,{wide}é\n")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("row 2, column 2: a cell of 4097 characters"),
            "{e}"
        );
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("# comment".to_owned()),
            "[a-z]{1,12}",
            "[a-z]{1,12},[A-Za-z]{0,20}",
            "[a-z]{1,12},[a-z]{0,40},Add",
            "\"[a-z,]{0,30}\",x",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the input and the limits: either it is refused for a limit it really
        /// breaks, or everything imported is within every limit.
        #[test]
        fn the_caps_hold(
            lines in prop::collection::vec(line(), 0..40),
            bytes in 0u64..600,
            rows in 0usize..30,
            cell_chars in 0usize..30,
        ) {
            let text = lines.join("\n");
            let limits = ImportLimits { bytes, rows, cell_chars };
            let content = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count();
            match parse_within(&text, &limits) {
                Ok(r) => {
                    prop_assert!(text.len() as u64 <= bytes);
                    prop_assert!(content <= rows);
                    prop_assert!(r.rows.len() + r.errors.len() + r.duplicates.len() <= rows);
                    for row in &r.rows {
                        prop_assert!(row.machine.as_str().chars().count() <= cell_chars);
                        if let Some(t) = &row.tag {
                            prop_assert!(t.as_str().chars().count() <= cell_chars);
                        }
                    }
                }
                Err(ImportRefused::TooLarge { bytes: b, max }) => {
                    prop_assert_eq!(max, bytes);
                    prop_assert!(b > max);
                }
                Err(ImportRefused::TooManyRows { max, .. }) => {
                    prop_assert_eq!(max, rows);
                    prop_assert!(content > rows);
                }
                Err(ImportRefused::CellTooLong { row, chars, max, .. }) => {
                    prop_assert_eq!(max, cell_chars);
                    prop_assert!(chars > max);
                    let line = text.lines().nth(row - 1).unwrap_or_default();
                    prop_assert!(line.chars().count() >= chars, "{} / {}", line, chars);
                }
                Err(e) => prop_assert!(false, "unexpected refusal {e:?}"),
            }
        }
    }
}
