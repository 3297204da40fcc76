//! Which columns hold the machine, tag and action: from a header row, or `machine,tag,action`.
//!
//! Header cells are compared by their key: letters and digits only, lowercased, so
//! `Device ID`, `device_id` and `deviceId` are the same header.

/// Headers of an id column (preferred over a name column: portal exports carry both).
const MACHINE_ID_HEADERS: &[&str] = &["machineid", "deviceid", "id"];
/// Headers of a computer-name column.
const MACHINE_NAME_HEADERS: &[&str] = &[
    "machine",
    "computer",
    "computername",
    "computerdnsname",
    "device",
    "devicename",
    "name",
    "host",
    "hostname",
];
/// Machine headers that make a 2–3 cell row a header on their own (`owner,computerDnsName,notes`).
///
/// Only compound names that no one gives a computer: `machine`, `device`, `computer`, `name`,
/// `host`, `hostname` and `id` are plausible machine names, so `machine,Finance` stays a machine
/// tagged Finance unless another known column (tag, action, a second machine column) is named.
const UNAMBIGUOUS_MACHINE_HEADERS: &[&str] = &[
    "computerdnsname",
    "computername",
    "machineid",
    "deviceid",
    "devicename",
];
// Not "tags": in portal exports that column lists a machine's current tags, not one to apply.
const TAG_HEADERS: &[&str] = &["tag", "value", "machinetag", "devicetag"];
const ACTION_HEADERS: &[&str] = &["action"];

fn header_key(cell: &str) -> String {
    cell.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each column is.
#[derive(Debug)]
pub(super) struct Columns {
    pub(super) machine: usize,
    pub(super) tag: Option<usize>,
    pub(super) action: Option<usize>,
    /// Whether extra columns are allowed (a header named them).
    pub(super) extra_ok: bool,
}

impl Columns {
    /// No header: `machine,tag,action` and nothing more.
    pub(super) const POSITIONAL: Columns = Columns {
        machine: 0,
        tag: Some(1),
        action: Some(2),
        extra_ok: false,
    };
}

/// The columns named by `cells` when they are a header row, else `None`.
///
/// A header names the machine column (an id header is preferred over a name header) and may
/// name a tag and an action column; any other column is ignored. With two or three cells the
/// row is a header only when it names another known column too, or when its machine header is
/// one of [`UNAMBIGUOUS_MACHINE_HEADERS`]: `device,Finance` is a machine named "device" tagged
/// Finance, while `owner,computerDnsName,notes` is a header whose machine column is the second.
pub(super) fn header_columns(cells: &[&str]) -> Option<Columns> {
    let keys: Vec<String> = cells.iter().map(|c| header_key(c)).collect();
    let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
    let machine = find(MACHINE_ID_HEADERS).or_else(|| find(MACHINE_NAME_HEADERS))?;
    let tag = find(TAG_HEADERS);
    let action = find(ACTION_HEADERS);
    let known_others = keys.iter().enumerate().filter(|(i, k)| {
        *i != machine
            && (TAG_HEADERS.contains(&k.as_str())
                || ACTION_HEADERS.contains(&k.as_str())
                || MACHINE_ID_HEADERS.contains(&k.as_str())
                || MACHINE_NAME_HEADERS.contains(&k.as_str()))
    });
    let unambiguous = keys
        .get(machine)
        .is_some_and(|k| UNAMBIGUOUS_MACHINE_HEADERS.contains(&k.as_str()));
    if (2..=3).contains(&cells.len()) && !unambiguous && known_others.count() == 0 {
        return None;
    }
    Some(Columns {
        machine,
        tag,
        action,
        extra_ok: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unambiguous_headers_are_machine_headers_in_canonical_form() {
        for h in UNAMBIGUOUS_MACHINE_HEADERS {
            assert_eq!(header_key(h), *h);
            assert!(MACHINE_ID_HEADERS.contains(h) || MACHINE_NAME_HEADERS.contains(h));
        }
    }

    #[test]
    fn a_lone_machine_header_counts_only_when_unambiguous() {
        let col = |cells: &[&str]| header_columns(cells).map(|c| (c.machine, c.tag, c.action));
        assert_eq!(
            col(&["owner", "computerDnsName", "notes"]),
            Some((1, None, None))
        );
        assert_eq!(col(&["Device Name", "notes"]), Some((0, None, None)));
        assert_eq!(col(&["COMPUTERNAME", "x"]), Some((0, None, None)));
        assert_eq!(col(&["x", "MachineId"]), Some((1, None, None)));
        assert_eq!(col(&["device_id", "a", "b"]), Some((0, None, None)));
        for ambiguous in [
            "machine", "device", "computer", "name", "host", "hostname", "id",
        ] {
            assert!(col(&[ambiguous, "Finance"]).is_none(), "{ambiguous}");
            assert!(col(&["owner", ambiguous, "notes"]).is_none(), "{ambiguous}");
        }
        assert_eq!(col(&["machine", "tag"]), Some((0, Some(1), None)));
        assert!(col(&["fin-lt-0001", "Finance"]).is_none());
    }
}
