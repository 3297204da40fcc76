//! The UI's search box and filters: free-text classification, a [`MachineQuery`] that becomes a
//! server-side [`Filter`] and narrows loaded machines instantly, and its URL form (so a search
//! can be shared as a link).

use std::net::IpAddr;

use thiserror::Error;
use time::OffsetDateTime;

use crate::api::encode::{decode_query_component, encode_query_component};
use crate::model::datetime::{format_datetime, parse_datetime};
use crate::model::{DeviceValue, ExposureLevel, HealthStatus, Machine, MachineId, RiskScore};
use crate::odata::{CmpOp, Field, Filter};

/// What free text in the search box means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextQuery {
    /// Nothing (blank).
    Empty,
    /// A full machine id.
    MachineId(MachineId),
    /// An IPv4 or IPv6 address.
    IpAddress(IpAddr),
    /// The start of a computer name.
    NamePrefix(String),
}

/// Classifies trimmed search text: 40 hex characters are an id, a parseable IP address is an
/// address, anything else is a computer-name prefix.
pub fn classify(text: &str) -> TextQuery {
    let t = text.trim();
    if t.is_empty() {
        return TextQuery::Empty;
    }
    if let Ok(id) = MachineId::parse(t) {
        return TextQuery::MachineId(id);
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return TextQuery::IpAddress(ip);
    }
    TextQuery::NamePrefix(t.to_owned())
}

/// A tag condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagQuery {
    /// The tag, or its start.
    pub value: String,
    /// Match tags starting with `value` instead of equal to it.
    pub prefix: bool,
}

/// Search-box text plus filters; every field is optional and they combine with `and`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MachineQuery {
    /// Free text (see [`classify`]).
    pub text: Option<String>,
    /// Tag, exact or prefix.
    pub tag: Option<TagQuery>,
    /// OS platform, e.g. `Windows11`.
    pub os_platform: Option<String>,
    /// Health status.
    pub health: Option<HealthStatus>,
    /// Risk score.
    pub risk: Option<RiskScore>,
    /// Exposure level.
    pub exposure: Option<ExposureLevel>,
    /// Device value.
    pub device_value: Option<DeviceValue>,
    /// Device group id.
    pub rbac_group_id: Option<i64>,
    /// Last seen strictly after this instant.
    pub last_seen_after: Option<OffsetDateTime>,
}

/// A URL parameter that cannot become part of a query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryParamError {
    /// The group parameter is not an integer.
    #[error("URL parameter {key}={value:?} is not a device group id (a whole number)")]
    NotAnInteger {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// The date parameter is not a date-time.
    #[error(
        "URL parameter {key}={value:?} is not a date; use e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
    )]
    NotADate {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// A flag that is not 1/0/true/false.
    #[error("URL parameter {key}={value:?} must be 1, 0, true or false")]
    NotAFlag {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
}

/// URL parameter names, stable because they end up in shared links.
pub mod keys {
    /// Free text.
    pub const TEXT: &str = "q";
    /// Tag.
    pub const TAG: &str = "tag";
    /// Tag prefix flag.
    pub const TAG_PREFIX: &str = "tagPrefix";
    /// OS platform.
    pub const OS: &str = "os";
    /// Health status.
    pub const HEALTH: &str = "health";
    /// Risk score.
    pub const RISK: &str = "risk";
    /// Exposure level.
    pub const EXPOSURE: &str = "exposure";
    /// Device value.
    pub const VALUE: &str = "value";
    /// Device group id.
    pub const GROUP: &str = "group";
    /// Last seen after.
    pub const SEEN_AFTER: &str = "seenAfter";
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl MachineQuery {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.to_filter().is_none()
    }

    /// The server-side `$filter` (`None` = everything).
    pub fn to_filter(&self) -> Option<Filter> {
        let mut parts = Vec::new();
        match classify(self.text.as_deref().unwrap_or("")) {
            TextQuery::Empty => {}
            TextQuery::MachineId(id) => parts.push(Filter::eq(Field::Id, id.as_str())),
            TextQuery::IpAddress(ip) => {
                parts.push(Filter::eq(Field::LastIpAddress, ip.to_string()));
            }
            TextQuery::NamePrefix(p) => parts.push(Filter::starts_with(Field::ComputerDnsName, p)),
        }
        if let Some(t) = self.tag.as_ref().filter(|t| !t.value.trim().is_empty()) {
            parts.push(if t.prefix {
                Filter::TagAnyStartsWith {
                    prefix: t.value.clone(),
                }
            } else {
                Filter::has_tag(t.value.clone())
            });
        }
        if let Some(os) = non_empty(&self.os_platform) {
            parts.push(Filter::eq(Field::OsPlatform, os));
        }
        if let Some(h) = &self.health {
            parts.push(Filter::eq(Field::HealthStatus, h.as_str()));
        }
        if let Some(r) = &self.risk {
            parts.push(Filter::eq(Field::RiskScore, r.as_str()));
        }
        if let Some(e) = &self.exposure {
            parts.push(Filter::eq(Field::ExposureLevel, e.as_str()));
        }
        if let Some(v) = &self.device_value {
            parts.push(Filter::eq(Field::DeviceValue, v.as_str()));
        }
        if let Some(g) = self.rbac_group_id {
            parts.push(Filter::eq(Field::RbacGroupId, g));
        }
        if let Some(t) = self.last_seen_after {
            parts.push(Filter::compare(Field::LastSeen, CmpOp::Gt, t));
        }
        Filter::all(parts)
    }

    /// Instant client-side narrowing: the same semantics as [`Filter::matches`] on
    /// [`MachineQuery::to_filter`], except that an IP address also matches any of the machine's
    /// interface addresses (the server can only filter on `lastIpAddress`), so narrowing never
    /// hides a machine the server search returned.
    pub fn matches(&self, machine: &Machine) -> bool {
        let rest = MachineQuery {
            text: None,
            ..self.clone()
        };
        let text_ok = match classify(self.text.as_deref().unwrap_or("")) {
            TextQuery::IpAddress(ip) => {
                let ip = ip.to_string();
                let same = |a: &str| a.parse::<IpAddr>().is_ok_and(|a| a.to_string() == ip);
                machine.last_ip_address.as_deref().is_some_and(same)
                    || machine
                        .ip_addresses
                        .iter()
                        .any(|a| a.ip_address.as_deref().is_some_and(same))
            }
            TextQuery::Empty => true,
            _ => MachineQuery {
                text: self.text.clone(),
                ..MachineQuery::default()
            }
            .to_filter()
            .is_none_or(|f| f.matches(machine)),
        };
        text_ok && rest.to_filter().is_none_or(|f| f.matches(machine))
    }

    /// URL query pairs for the set conditions (raw; see [`MachineQuery::to_query_string`]).
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |k: &str, v: String| out.push((k.to_owned(), v));
        if let Some(t) = non_empty(&self.text) {
            push(keys::TEXT, t.to_owned());
        }
        if let Some(t) = self.tag.as_ref().filter(|t| !t.value.trim().is_empty()) {
            push(keys::TAG, t.value.clone());
            if t.prefix {
                push(keys::TAG_PREFIX, "1".to_owned());
            }
        }
        if let Some(os) = non_empty(&self.os_platform) {
            push(keys::OS, os.to_owned());
        }
        if let Some(h) = &self.health {
            push(keys::HEALTH, h.as_str().to_owned());
        }
        if let Some(r) = &self.risk {
            push(keys::RISK, r.as_str().to_owned());
        }
        if let Some(e) = &self.exposure {
            push(keys::EXPOSURE, e.as_str().to_owned());
        }
        if let Some(v) = &self.device_value {
            push(keys::VALUE, v.as_str().to_owned());
        }
        if let Some(g) = self.rbac_group_id {
            push(keys::GROUP, g.to_string());
        }
        if let Some(t) = self.last_seen_after {
            push(keys::SEEN_AFTER, format_datetime(t));
        }
        out
    }

    /// Reads URL query pairs; unknown keys are ignored (they belong to the page), empty values
    /// mean "not set", malformed values are errors naming the key.
    pub fn from_query_pairs<K, V>(pairs: &[(K, V)]) -> Result<Self, QueryParamError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = MachineQuery::default();
        let mut tag_prefix = false;
        for (k, v) in pairs {
            let v = v.as_ref().trim();
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                keys::TEXT => q.text = Some(v.to_owned()),
                keys::TAG => {
                    q.tag = Some(TagQuery {
                        value: v.to_owned(),
                        prefix: false,
                    });
                }
                keys::TAG_PREFIX => {
                    tag_prefix = match v {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => {
                            return Err(QueryParamError::NotAFlag {
                                key: keys::TAG_PREFIX,
                                value: v.to_owned(),
                            });
                        }
                    };
                }
                keys::OS => q.os_platform = Some(v.to_owned()),
                keys::HEALTH => q.health = Some(HealthStatus::from_wire(v)),
                keys::RISK => q.risk = Some(RiskScore::from_wire(v)),
                keys::EXPOSURE => q.exposure = Some(ExposureLevel::from_wire(v)),
                keys::VALUE => q.device_value = Some(DeviceValue::from_wire(v)),
                keys::GROUP => {
                    q.rbac_group_id =
                        Some(v.parse().map_err(|_| QueryParamError::NotAnInteger {
                            key: keys::GROUP,
                            value: v.to_owned(),
                        })?);
                }
                keys::SEEN_AFTER => {
                    q.last_seen_after =
                        Some(parse_datetime(v).map_err(|_| QueryParamError::NotADate {
                            key: keys::SEEN_AFTER,
                            value: v.to_owned(),
                        })?);
                }
                _ => {}
            }
        }
        if let Some(t) = &mut q.tag {
            t.prefix = tag_prefix;
        }
        Ok(q)
    }

    /// `q=...&tag=...` (percent-encoded, no leading `?`).
    pub fn to_query_string(&self) -> String {
        self.to_query_pairs()
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    encode_query_component(k),
                    encode_query_component(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Reads a query string (with or without the leading `?`).
    pub fn from_query_string(qs: &str) -> Result<Self, QueryParamError> {
        let pairs: Vec<(String, String)> = qs
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode_query_component(k), decode_query_component(v))
            })
            .collect();
        Self::from_query_pairs(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::render;
    use time::macros::datetime;

    #[test]
    fn classifies_free_text() {
        assert_eq!(classify("  "), TextQuery::Empty);
        assert!(matches!(
            classify(&"AB".repeat(20)),
            TextQuery::MachineId(_)
        ));
        assert!(matches!(classify("10.0.0.5"), TextQuery::IpAddress(_)));
        assert!(matches!(classify("fe80::1"), TextQuery::IpAddress(_)));
        assert_eq!(classify(" ws-fin "), TextQuery::NamePrefix("ws-fin".into()));
        assert_eq!(classify("10.0.0"), TextQuery::NamePrefix("10.0.0".into()));
    }

    #[test]
    fn builds_the_server_filter() {
        let q = MachineQuery {
            text: Some("ws-".into()),
            tag: Some(TagQuery {
                value: "Fin".into(),
                prefix: true,
            }),
            risk: Some(RiskScore::High),
            rbac_group_id: Some(7),
            last_seen_after: Some(datetime!(2026-01-01 0:00 UTC)),
            ..MachineQuery::default()
        };
        assert_eq!(
            render(&q.to_filter().unwrap()),
            "startswith(computerDnsName,'ws-') and machineTags/any(t: startswith(t,'Fin')) and \
             riskScore eq 'High' and rbacGroupId eq 7 and lastSeen gt 2026-01-01T00:00:00Z"
        );
        assert!(MachineQuery::default().is_empty());
    }

    #[test]
    fn url_round_trip_and_errors_name_the_key() {
        let q = MachineQuery {
            text: Some("a&b c".into()),
            tag: Some(TagQuery {
                value: "R&D".into(),
                prefix: true,
            }),
            health: Some(HealthStatus::Inactive),
            last_seen_after: Some(datetime!(2026-01-01 0:00 UTC)),
            ..MachineQuery::default()
        };
        let qs = q.to_query_string();
        assert_eq!(
            MachineQuery::from_query_string(&format!("?{qs}&page=3")).unwrap(),
            q
        );
        let e = MachineQuery::from_query_string("group=abc").unwrap_err();
        assert!(e.to_string().contains("group=\"abc\""), "{e}");
        assert!(matches!(
            MachineQuery::from_query_string("seenAfter=yesterday"),
            Err(QueryParamError::NotADate { .. })
        ));
        assert!(matches!(
            MachineQuery::from_query_string("tag=x&tagPrefix=maybe"),
            Err(QueryParamError::NotAFlag { .. })
        ));
    }
}
