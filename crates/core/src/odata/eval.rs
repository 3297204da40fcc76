//! Evaluating a [`Filter`] against a [`Machine`]: one semantics for the emulator (which answers
//! `$filter` with it) and the UI (which narrows loaded results with it).
//!
//! Semantics, and why:
//! - **Strings compare case-insensitively** (simple Unicode lowercase folding) for `eq`, `ne`,
//!   the ordering operators and `startswith`. Computer names are DNS names (case-insensitive),
//!   ids are hex we normalise, the documented enum values differ in case between docs and the
//!   service (`onboarded` vs `Onboarded`), and the service's SQL-style collation is
//!   case-insensitive in practice. Choosing the lenient side means the UI never hides a machine
//!   the server would return.
//! - **Tags** (`machineTags/any`) also compare case-insensitively, for the same reason; note that
//!   the planner's "already has this tag" check is exact, because that predicts the effect of an
//!   Add/Remove call, which is a different question.
//! - **Enum ordering** (`riskScore gt 'Low'`) uses the documented severity order (RiskScore
//!   `None < Informational < Low < Medium < High`, ExposureLevel `None < Low < Medium < High`,
//!   DeviceValue `Low < Normal < High`); a value we do not know is never greater or smaller.
//! - **Null** follows OData: `x eq null` is true when the property is null or absent, `x ne null`
//!   when present; comparing a null property with a non-null value is false except for `ne`.
//! - `lastSeen` compares instants; `rbacGroupId` compares integers (a quoted integer is read as one).
//! - A literal of the wrong type for its field (only constructible by hand, never by `parse`)
//!   makes the comparison false.

use std::cmp::Ordering;

use time::OffsetDateTime;

use super::ast::{CmpOp, Field, Filter, Literal};
use crate::model::datetime::parse_datetime;
use crate::model::{
    DeviceValue, ExposureLevel, Machine, RiskScore, eq_ignore_case, starts_with_ignore_case,
};

enum Value<'a> {
    Text(Option<&'a str>),
    Ranked(Option<&'a str>, Option<usize>, fn(&str) -> Option<usize>),
    Time(Option<OffsetDateTime>),
    Int(Option<i64>),
    Tags,
}

fn rank_risk(s: &str) -> Option<usize> {
    RiskScore::from_wire(s).rank()
}
fn rank_exposure(s: &str) -> Option<usize> {
    ExposureLevel::from_wire(s).rank()
}
fn rank_device_value(s: &str) -> Option<usize> {
    DeviceValue::from_wire(s).rank()
}
fn no_rank(_: &str) -> Option<usize> {
    None
}

fn value_of(field: Field, m: &Machine) -> Value<'_> {
    match field {
        Field::ComputerDnsName => Value::Text(m.computer_dns_name.as_deref()),
        Field::Id => Value::Text(Some(m.id.as_str())),
        Field::Version => Value::Text(m.version.as_deref()),
        Field::AadDeviceId => Value::Text(m.aad_device_id.as_deref()),
        Field::LastIpAddress => Value::Text(m.last_ip_address.as_deref()),
        Field::OsPlatform => Value::Text(m.os_platform.as_deref()),
        Field::DeviceValue => Value::Ranked(
            m.device_value.as_ref().map(|v| v.as_str()),
            m.device_value.as_ref().and_then(DeviceValue::rank),
            rank_device_value,
        ),
        Field::ExposureLevel => Value::Ranked(
            m.exposure_level.as_ref().map(|v| v.as_str()),
            m.exposure_level.as_ref().and_then(ExposureLevel::rank),
            rank_exposure,
        ),
        Field::RiskScore => Value::Ranked(
            m.risk_score.as_ref().map(|v| v.as_str()),
            m.risk_score.as_ref().and_then(RiskScore::rank),
            rank_risk,
        ),
        Field::HealthStatus => {
            Value::Ranked(m.health_status.as_ref().map(|v| v.as_str()), None, no_rank)
        }
        Field::OnboardingStatus => Value::Ranked(
            m.onboarding_status.as_ref().map(|v| v.as_str()),
            None,
            no_rank,
        ),
        Field::LastSeen => Value::Time(m.last_seen),
        Field::RbacGroupId => Value::Int(m.rbac_group_id),
        Field::MachineTags => Value::Tags,
    }
}

fn fold_cmp(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

fn compare(field: Field, op: CmpOp, lit: &Literal, m: &Machine) -> bool {
    let value = value_of(field, m);
    let present = match &value {
        Value::Text(v) | Value::Ranked(v, _, _) => v.is_some(),
        Value::Time(v) => v.is_some(),
        Value::Int(v) => v.is_some(),
        Value::Tags => return false,
    };
    if *lit == Literal::Null {
        return match op {
            CmpOp::Eq => !present,
            CmpOp::Ne => present,
            _ => false,
        };
    }
    if !present {
        return op == CmpOp::Ne;
    }
    let ordering = match (value, lit) {
        (Value::Text(Some(v)), Literal::String(s)) => Some(fold_cmp(v, s)),
        (Value::Ranked(Some(v), rank, rank_of), Literal::String(s)) => match op {
            CmpOp::Eq | CmpOp::Ne => Some(if eq_ignore_case(v, s) {
                Ordering::Equal
            } else {
                Ordering::Less
            }),
            _ => rank.zip(rank_of(s)).map(|(a, b)| a.cmp(&b)),
        },
        (Value::Time(Some(t)), Literal::DateTime(d)) => Some(t.cmp(d)),
        (Value::Time(Some(t)), Literal::String(s)) => parse_datetime(s).ok().map(|d| t.cmp(&d)),
        (Value::Int(Some(n)), Literal::Number(k)) => Some(n.cmp(k)),
        (Value::Int(Some(n)), Literal::String(s)) => {
            s.trim().parse::<i64>().ok().map(|k| n.cmp(&k))
        }
        _ => None,
    };
    ordering.is_some_and(|o| op.holds(o))
}

impl Filter {
    /// Whether the machine satisfies the filter (semantics in the module docs).
    pub fn matches(&self, machine: &Machine) -> bool {
        match self {
            Filter::Compare { field, op, value } => compare(*field, *op, value, machine),
            Filter::StartsWith { field, prefix } => match value_of(*field, machine) {
                Value::Text(Some(v)) | Value::Ranked(Some(v), _, _) => {
                    starts_with_ignore_case(v, prefix)
                }
                _ => false,
            },
            Filter::TagAny { value } => machine
                .machine_tags
                .iter()
                .any(|t| eq_ignore_case(t, value)),
            Filter::TagAnyStartsWith { prefix } => machine
                .machine_tags
                .iter()
                .any(|t| starts_with_ignore_case(t, prefix)),
            Filter::HasAnyTag => !machine.machine_tags.is_empty(),
            Filter::And(l, r) => l.matches(machine) && r.matches(machine),
            Filter::Or(l, r) => l.matches(machine) || r.matches(machine),
            Filter::Not(inner) => !inner.matches(machine),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthStatus, MachineId};
    use crate::odata::parse;
    use time::macros::datetime;

    fn machine() -> Machine {
        let mut m = Machine::new(MachineId::parse(&"ab".repeat(20)).unwrap());
        m.computer_dns_name = Some("WS-Fin-01.contoso.com".into());
        m.risk_score = Some(RiskScore::Medium);
        m.device_value = Some(DeviceValue::Normal);
        m.health_status = Some(HealthStatus::Active);
        m.last_seen = Some(datetime!(2026-11-01 12:00 UTC));
        m.rbac_group_id = Some(140);
        m.machine_tags = vec!["Finance".into(), "VIP (EU)".into()];
        m
    }

    fn check(filter: &str) -> bool {
        parse(filter).unwrap().matches(&machine())
    }

    #[test]
    fn strings_and_enums_compare_case_insensitively() {
        assert!(check("computerDnsName eq 'ws-fin-01.CONTOSO.com'"));
        assert!(check("startswith(computerDnsName,'ws-fin')"));
        assert!(check("healthStatus eq 'active'"));
        assert!(!check("healthStatus ne 'ACTIVE'"));
        assert!(check(&format!("id eq '{}'", "AB".repeat(20))));
    }

    #[test]
    fn enum_ordering_uses_severity() {
        assert!(check("riskScore gt 'Low'"));
        assert!(check("riskScore le 'Medium'"));
        assert!(!check("riskScore ge 'High'"));
        assert!(check("deviceValue gt 'Low'"));
        assert!(!check("riskScore gt 'Catastrophic'"));
    }

    #[test]
    fn nulls_follow_odata() {
        assert!(check("aadDeviceId eq null"));
        assert!(!check("aadDeviceId ne null"));
        assert!(check("aadDeviceId ne 'x'"));
        assert!(!check("aadDeviceId eq 'x'"));
        assert!(!check("aadDeviceId gt 'x'"));
        assert!(check("rbacGroupId ne null"));
    }

    #[test]
    fn dates_numbers_and_tags() {
        assert!(check("lastSeen gt 2026-10-01Z"));
        assert!(!check("lastSeen lt 2026-10-01T00:00:00Z"));
        assert!(check("rbacGroupId eq 140 and rbacGroupId ge '100'"));
        assert!(check("machineTags/any(t: t eq 'finance')"));
        assert!(check("machineTags/any(t: startswith(t,'vip'))"));
        assert!(!check("not machineTags/any()"));
        assert!(check("not (riskScore eq 'High') or id eq null"));
    }

    #[test]
    fn ill_typed_hand_built_comparisons_are_false() {
        let f = Filter::eq(Field::RbacGroupId, datetime!(2020-01-01 0:00 UTC));
        assert!(!f.matches(&machine()));
        let f = Filter::eq(Field::MachineTags, "Finance");
        assert!(!f.matches(&machine()));
    }
}
