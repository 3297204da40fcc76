//! Matching imported machine references to the tenant's machines. Names are never guessed: a
//! name that matches no machine is *unknown*, one that matches several is *ambiguous* (listed with
//! every candidate, so the user can paste the right id instead).
//!
//! Matching follows core's [`MachineRef::matches`] (id equality; computer names case-insensitive,
//! a short name also matching the first label of a fully qualified one), through indexes so a
//! 10,000-line list against 100,000 machines stays linear.

use std::collections::HashMap;

use defender_tags_core::{Machine, MachineRef};

use defender_tags_core::import::ImportRow;

/// Why an imported line does not lead to exactly one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedReason {
    /// No machine has this id or name.
    Unknown,
    /// Several machines share this name (ids and names of each).
    Ambiguous(Vec<(String, String)>),
    /// The line could not be read at all.
    Invalid(String),
}

/// An imported line that is not part of the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// 1-based line of the input.
    pub line: usize,
    /// What the line said.
    pub text: String,
    /// Why it is left out.
    pub reason: UnresolvedReason,
}

impl Unresolved {
    /// The reason as a sentence.
    pub fn explain(&self) -> String {
        match &self.reason {
            UnresolvedReason::Unknown => "No machine has this id or computer name.".to_owned(),
            UnresolvedReason::Ambiguous(candidates) => format!(
                "{} machines have this name; use one of their ids: {}.",
                candidates.len(),
                candidates
                    .iter()
                    .map(|(id, name)| format!("{id} ({name})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            UnresolvedReason::Invalid(reason) => reason.clone(),
        }
    }

    /// A short label for the kind of problem.
    pub fn kind(&self) -> &'static str {
        match self.reason {
            UnresolvedReason::Unknown => "unknown",
            UnresolvedReason::Ambiguous(_) => "ambiguous",
            UnresolvedReason::Invalid(_) => "invalid",
        }
    }
}

/// The outcome of matching: indices into the machine list, and what did not match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// Indices into the machines, one per resolved line, without repeats, in input order.
    pub resolved: Vec<usize>,
    /// Lines that name no machine or several.
    pub unresolved: Vec<Unresolved>,
}

impl Resolution {
    /// Settles the ambiguous line `line` with `machine` (an index into the machines the
    /// resolution was made against), as the user chose; the line leaves the unresolved list.
    /// Returns false (and changes nothing) when `line` is not an ambiguous line.
    pub fn pick(&mut self, line: usize, machine: usize) -> bool {
        let Some(at) = self
            .unresolved
            .iter()
            .position(|u| u.line == line && matches!(u.reason, UnresolvedReason::Ambiguous(_)))
        else {
            return false;
        };
        self.unresolved.remove(at);
        if !self.resolved.contains(&machine) {
            self.resolved.push(machine);
        }
        true
    }

    /// Settles every ambiguous line with its most recently seen candidate; returns how many.
    pub fn pick_most_recently_seen(&mut self, machines: &[Machine]) -> usize {
        let choices: Vec<(usize, usize)> = self
            .unresolved
            .iter()
            .filter_map(|u| match &u.reason {
                UnresolvedReason::Ambiguous(candidates) => {
                    Some((u.line, most_recently_seen(candidates, machines)?))
                }
                _ => None,
            })
            .collect();
        choices
            .into_iter()
            .filter(|&(line, machine)| self.pick(line, machine))
            .count()
    }
}

/// The index in `machines` of the candidate (id, name) seen last; candidates never seen count
/// as oldest, ties go to the first listed.
pub fn most_recently_seen(candidates: &[(String, String)], machines: &[Machine]) -> Option<usize> {
    candidates
        .iter()
        .filter_map(|(id, _)| machines.iter().position(|m| m.id.as_str() == id))
        .enumerate()
        .max_by(|(ia, a), (ib, b)| {
            machines[*a]
                .last_seen
                .cmp(&machines[*b].last_seen)
                .then(ib.cmp(ia))
        })
        .map(|(_, index)| index)
}

/// Matches `rows` against `machines`.
pub fn resolve(rows: &[ImportRow], machines: &[Machine]) -> Resolution {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut by_full: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in machines.iter().enumerate() {
        by_id.insert(m.id.as_str(), i);
        if let Some(dns) = m.computer_dns_name.as_deref().filter(|d| !d.is_empty()) {
            let full = dns.to_ascii_lowercase();
            if let Some(host) = full.split('.').next().filter(|h| *h != full) {
                by_host.entry(host.to_owned()).or_default().push(i);
            }
            by_full.entry(full).or_default().push(i);
        }
    }
    let mut out = Resolution::default();
    let mut taken = vec![false; machines.len()];
    for row in rows {
        let candidates: Vec<usize> = match &row.machine {
            MachineRef::Id(id) => by_id.get(id.as_str()).copied().into_iter().collect(),
            MachineRef::Name(name) => {
                let key = name.to_ascii_lowercase();
                let mut c: Vec<usize> = by_full.get(&key).cloned().unwrap_or_default();
                if !key.contains('.') {
                    c.extend(by_host.get(&key).into_iter().flatten().copied());
                }
                c.sort_unstable();
                c.dedup();
                c
            }
        };
        match candidates.as_slice() {
            [] => out.unresolved.push(Unresolved {
                line: row.row,
                text: row.machine.as_str().to_owned(),
                reason: UnresolvedReason::Unknown,
            }),
            [only] => {
                // Two lines naming one machine (a name and its id) plan it once.
                if !taken[*only] {
                    taken[*only] = true;
                    out.resolved.push(*only);
                }
            }
            many => out.unresolved.push(Unresolved {
                line: row.row,
                text: row.machine.as_str().to_owned(),
                reason: UnresolvedReason::Ambiguous(
                    many.iter()
                        .map(|&i| {
                            let m = &machines[i];
                            (
                                m.id.to_string(),
                                m.computer_dns_name.clone().unwrap_or_default(),
                            )
                        })
                        .collect(),
                ),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::MachineId;
    use defender_tags_core::import::parse_machine_list;

    fn machine(n: u32, name: &str) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(name.into());
        m
    }

    #[test]
    fn names_and_ids_resolve_unknown_and_ambiguous_are_listed_never_guessed() {
        let ms = vec![
            machine(1, "web01.contoso.com"),
            machine(2, "db01"),
            machine(3, "kiosk7.contoso.com"),
            machine(4, "KIOSK7.fabrikam.com"),
        ];
        let input = format!("WEB01\n{:040x}\nnope\nkiosk7\nkiosk7.contoso.com\n", 2);
        let r = resolve(&parse_machine_list(&input).unwrap().rows, &ms);
        assert_eq!(r.resolved, vec![0, 1, 2]);
        assert_eq!(r.unresolved.len(), 2);
        assert_eq!(r.unresolved[0].line, 3);
        assert_eq!(r.unresolved[0].reason, UnresolvedReason::Unknown);
        assert_eq!(r.unresolved[1].line, 4);
        match &r.unresolved[1].reason {
            UnresolvedReason::Ambiguous(c) => assert_eq!(c.len(), 2),
            other => panic!("expected ambiguous, got {other:?}"),
        }
        assert!(r.unresolved[1].explain().contains(&format!("{:040x}", 4)));
    }

    #[test]
    fn an_ambiguous_name_is_settled_only_by_a_choice() {
        let mut old = machine(1, "kiosk7.contoso.com");
        old.last_seen = Some(time::macros::datetime!(2026-01-01 0:00 UTC));
        let mut recent = machine(2, "KIOSK7.fabrikam.com");
        recent.last_seen = Some(time::macros::datetime!(2026-11-01 0:00 UTC));
        let ms = vec![old, recent, machine(3, "web01")];
        let rows = parse_machine_list("kiosk7\nweb01\nnope").unwrap().rows;
        let mut r = resolve(&rows, &ms);
        assert_eq!(r.resolved, vec![2]);
        let mut by_hand = r.clone();
        assert!(!by_hand.pick(3, 0), "an unknown line cannot be picked");
        assert!(by_hand.pick(1, 0));
        assert_eq!(by_hand.resolved, vec![2, 0]);
        assert_eq!(by_hand.unresolved.len(), 1);
        assert_eq!(r.pick_most_recently_seen(&ms), 1);
        assert_eq!(r.resolved, vec![2, 1], "the machine seen last");
        assert_eq!(r.unresolved[0].kind(), "unknown");
    }

    #[test]
    fn a_machine_named_twice_is_planned_once() {
        let ms = vec![machine(1, "web01")];
        let input = format!("web01\n{:040x}\n", 1);
        let r = resolve(&parse_machine_list(&input).unwrap().rows, &ms);
        assert_eq!(r.resolved, vec![0]);
        assert!(r.unresolved.is_empty());
    }

    #[test]
    fn an_exact_duplicate_name_is_ambiguous() {
        let ms = vec![machine(1, "dup"), machine(2, "DUP")];
        let r = resolve(&parse_machine_list("dup").unwrap().rows, &ms);
        assert!(r.resolved.is_empty());
        assert_eq!(r.unresolved[0].kind(), "ambiguous");
    }
}
