//! The `$filter` AST: only what the machines endpoint documents (docs/defender-api.md §2).

use std::fmt;

use time::OffsetDateTime;

/// A filterable machine property (the documented set for `GET /api/machines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `computerDnsName`
    ComputerDnsName,
    /// `id`
    Id,
    /// `version`
    Version,
    /// `deviceValue`
    DeviceValue,
    /// `aadDeviceId`
    AadDeviceId,
    /// `machineTags` (only through `machineTags/any(...)`)
    MachineTags,
    /// `lastSeen`
    LastSeen,
    /// `exposureLevel`
    ExposureLevel,
    /// `onboardingStatus`
    OnboardingStatus,
    /// `lastIpAddress`
    LastIpAddress,
    /// `healthStatus`
    HealthStatus,
    /// `osPlatform`
    OsPlatform,
    /// `riskScore`
    RiskScore,
    /// `rbacGroupId`
    RbacGroupId,
}

/// What kind of value a field holds, which decides the literals and semantics it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text (names, ids, versions, addresses, platform).
    Text,
    /// One of a documented set of values (string literals, compared case-insensitively).
    Enum,
    /// A date-time (unquoted datetime literals).
    DateTime,
    /// An integer (number literals; a quoted number is also accepted).
    Integer,
    /// The tag collection: only `machineTags/any(...)`.
    Tags,
}

impl Field {
    /// Every filterable field, in documented order.
    pub const ALL: [Field; 14] = [
        Field::ComputerDnsName,
        Field::Id,
        Field::Version,
        Field::DeviceValue,
        Field::AadDeviceId,
        Field::MachineTags,
        Field::LastSeen,
        Field::ExposureLevel,
        Field::OnboardingStatus,
        Field::LastIpAddress,
        Field::HealthStatus,
        Field::OsPlatform,
        Field::RiskScore,
        Field::RbacGroupId,
    ];

    /// The documented camelCase name used on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Field::ComputerDnsName => "computerDnsName",
            Field::Id => "id",
            Field::Version => "version",
            Field::DeviceValue => "deviceValue",
            Field::AadDeviceId => "aadDeviceId",
            Field::MachineTags => "machineTags",
            Field::LastSeen => "lastSeen",
            Field::ExposureLevel => "exposureLevel",
            Field::OnboardingStatus => "onboardingStatus",
            Field::LastIpAddress => "lastIpAddress",
            Field::HealthStatus => "healthStatus",
            Field::OsPlatform => "osPlatform",
            Field::RiskScore => "riskScore",
            Field::RbacGroupId => "rbacGroupId",
        }
    }

    /// Looks a field up by name, ignoring ASCII case (the ASP.NET service does too).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.wire_name().eq_ignore_ascii_case(name))
    }

    /// The kind of value the field holds.
    pub fn kind(self) -> FieldKind {
        match self {
            Field::ComputerDnsName
            | Field::Id
            | Field::Version
            | Field::AadDeviceId
            | Field::LastIpAddress
            | Field::OsPlatform => FieldKind::Text,
            Field::DeviceValue
            | Field::ExposureLevel
            | Field::OnboardingStatus
            | Field::HealthStatus
            | Field::RiskScore => FieldKind::Enum,
            Field::LastSeen => FieldKind::DateTime,
            Field::RbacGroupId => FieldKind::Integer,
            Field::MachineTags => FieldKind::Tags,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl CmpOp {
    /// All operators.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Lt,
        CmpOp::Le,
    ];

    /// The OData keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    /// Looks an operator up by keyword, ignoring ASCII case.
    pub fn from_keyword(s: &str) -> Option<CmpOp> {
        CmpOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether `ordering` (left compared to right) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` (a `'` inside is written `''`).
    String(String),
    /// An integer, e.g. `140`.
    Number(i64),
    /// An unquoted date-time, e.g. `2024-05-01T00:00:00Z` (equality is by instant).
    DateTime(OffsetDateTime),
    /// `null`
    Null,
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Literal::String(s.to_owned())
    }
}

impl From<String> for Literal {
    fn from(s: String) -> Self {
        Literal::String(s)
    }
}

impl From<i64> for Literal {
    fn from(n: i64) -> Self {
        Literal::Number(n)
    }
}

impl From<OffsetDateTime> for Literal {
    fn from(dt: OffsetDateTime) -> Self {
        Literal::DateTime(dt)
    }
}

/// A `$filter` expression. Build it with the helper constructors, [`crate::odata::parse`] it,
/// [`crate::odata::render`] it, or evaluate it against a machine with [`Filter::matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `field op literal`, e.g. `riskScore eq 'High'`.
    Compare {
        /// The property.
        field: Field,
        /// The operator.
        op: CmpOp,
        /// The value.
        value: Literal,
    },
    /// `startswith(field,'prefix')`.
    StartsWith {
        /// The property (text or enum fields).
        field: Field,
        /// The prefix.
        prefix: String,
    },
    /// `machineTags/any(t: t eq 'value')`: the machine has this tag.
    TagAny {
        /// The tag.
        value: String,
    },
    /// `machineTags/any(t: startswith(t,'prefix'))`: some tag starts with the prefix.
    /// An extension: the service's support for it is unconfirmed; `findbytag` with
    /// `useStartsWithFilter=true` is the documented way to search by tag prefix.
    TagAnyStartsWith {
        /// The prefix.
        prefix: String,
    },
    /// `machineTags/any()`: the machine has at least one tag (negate it to find untagged
    /// machines). An extension; the service's support is unconfirmed.
    HasAnyTag,
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
}

impl Filter {
    /// `field op value`.
    pub fn compare(field: Field, op: CmpOp, value: impl Into<Literal>) -> Filter {
        Filter::Compare {
            field,
            op,
            value: value.into(),
        }
    }

    /// `field eq value`.
    pub fn eq(field: Field, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, CmpOp::Eq, value)
    }

    /// `startswith(field,'prefix')`.
    pub fn starts_with(field: Field, prefix: impl Into<String>) -> Filter {
        Filter::StartsWith {
            field,
            prefix: prefix.into(),
        }
    }

    /// `machineTags/any(t: t eq 'tag')`.
    pub fn has_tag(tag: impl Into<String>) -> Filter {
        Filter::TagAny { value: tag.into() }
    }

    /// `self and other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// `not (self)`.
    #[allow(clippy::should_implement_trait)] // `!filter` would read worse than `filter.not()`.
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// All of the filters joined with `and` (left-nested); `None` when there are none.
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        filters.into_iter().reduce(Filter::and)
    }

    /// Any of the filters joined with `or` (left-nested); `None` when there are none.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        filters.into_iter().reduce(Filter::or)
    }
}
