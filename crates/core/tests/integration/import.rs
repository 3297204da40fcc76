//! Importing machine lists.

use defender_tags_core::import::{ImportErrorKind, parse_machine_list};
use defender_tags_core::{MachineRef, MachineRefError, TagAction};

use crate::fixtures::read;

#[test]
fn portal_export_prefers_the_id_column_and_reports_everything() {
    let r = parse_machine_list(&read("portal_export.csv"));
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
        parse_machine_list("1e5bc9d7e413ddd7902c2932e418702b84d0cc07\nWS-01\nws-01\nfin-ws-07\n");
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
    let r = parse_machine_list("device,Finance,add\nws-02,Finance,remove\n");
    assert!(!r.format.header);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].machine, MachineRef::Name("device".into()));
    assert_eq!(r.rows[1].action, Some(TagAction::Remove));
}

#[test]
fn header_with_only_machine_tag_action() {
    let r = parse_machine_list("machine,tag,action\nws-01, Finance , Add\n");
    assert!(r.format.header);
    assert!(r.is_clean());
    assert_eq!(r.rows[0].row, 2);
    assert_eq!(r.rows[0].tag.as_ref().map(|t| t.as_str()), Some("Finance"));
}

#[test]
fn empty_input_is_empty_not_an_error() {
    let r = parse_machine_list("\n  \n# nothing\n");
    assert!(r.rows.is_empty() && r.is_clean());
}

#[test]
fn an_unambiguous_machine_header_is_a_header_on_its_own() {
    let r = parse_machine_list(
        "owner,computerDnsName,notes\nalice,ws-01.contoso.com,laptop\nbob,FIN-LT-0001,\n",
    );
    assert!(r.format.header);
    assert_eq!(r.errors, vec![]);
    let rows: Vec<(usize, &str)> = r.rows.iter().map(|r| (r.row, r.machine.as_str())).collect();
    assert_eq!(rows, vec![(2, "ws-01.contoso.com"), (3, "FIN-LT-0001")]);
    assert!(
        r.rows.iter().all(|r| r.tag.is_none() && r.action.is_none()),
        "unknown columns are ignored, not read as tags"
    );

    let r = parse_machine_list("Device ID;Notes\n1e5bc9d7e413ddd7902c2932e418702b84d0cc07;spare\n");
    assert!(r.format.header);
    assert!(r.is_clean());
    assert!(matches!(r.rows[0].machine, MachineRef::Id(_)));
}

#[test]
fn two_cells_without_a_header_are_still_machine_and_tag() {
    let r = parse_machine_list("fin-lt-0001,Finance\nws-02,Lab\n");
    assert!(!r.format.header);
    assert!(r.is_clean());
    assert_eq!(r.rows[0].row, 1);
    assert_eq!(r.rows[0].machine, MachineRef::Name("fin-lt-0001".into()));
    assert_eq!(r.rows[0].tag.as_ref().map(|t| t.as_str()), Some("Finance"));

    // A plausible machine name in a header position stays a machine.
    let r = parse_machine_list("machine,Finance\nhost,Lab\n");
    assert!(!r.format.header);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].machine, MachineRef::Name("machine".into()));
}
