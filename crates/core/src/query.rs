//! The one search model behind the UI's search box and filters: free-text classification, a
//! [`MachineQuery`] that becomes the server-side [`Filter`] and narrows loaded machines
//! instantly ([`Matcher`]), and its URL form (so a search can be shared as a link).
//!
//! The UI, the API filter and the in-browser narrowing all come from here so they cannot drift.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use thiserror::Error;
use time::OffsetDateTime;

use crate::api::encode::{decode_query_component, encode_query_component};
use crate::model::{DeviceValue, ExposureLevel, HealthStatus, Machine, MachineId, RiskScore};
use crate::odata::{CmpOp, Field, Filter};

/// What free text in the search box means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextQuery {
    /// Nothing (blank).
    Empty,
    /// A full machine id.
    MachineId(MachineId),
    /// A complete IPv4 or IPv6 address.
    IpAddress(IpAddr),
    /// The start of an IPv4 address (`10.1.`), as typed: matches any of a machine's addresses.
    IpPrefix(String),
    /// Any part of a computer name (or, from 8 hex characters, of a machine id), as typed.
    NamePart(String),
}

/// Classifies search text (trimmed): 40 hex characters are an id, a parseable IP address is an
/// address, digits and dots with at least one dot are the start of an IPv4 address (so `2019`
/// stays a name), anything else is part of a computer name.
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
    if looks_like_ipv4_prefix(t) {
        return TextQuery::IpPrefix(t.to_owned());
    }
    TextQuery::NamePart(t.to_owned())
}

/// The `os` value that means "any Linux distribution" (the API reports each distribution as
/// its own `osPlatform`, so "Linux" alone finds almost nothing).
pub const OS_ANY_LINUX: &str = "AnyLinux";

/// `osPlatform` values of Linux distributions (observed; no list is published, see
/// docs/defender-api.md §2). One place to add a distribution.
pub const LINUX_PLATFORMS: [&str; 12] = [
    "Linux",
    "Ubuntu",
    "RedHatEnterpriseLinux",
    "CentOS",
    "Debian",
    "SuseLinux",
    "OracleLinux",
    "AmazonLinux",
    "Fedora",
    "AlmaLinux",
    "RockyLinux",
    "Mariner",
];

/// Whether `platform` is a Linux distribution ([`LINUX_PLATFORMS`], any case).
pub fn is_linux_platform(platform: &str) -> bool {
    LINUX_PLATFORMS
        .iter()
        .any(|l| l.eq_ignore_ascii_case(platform))
}

/// Shortest text that is also looked for in machine ids: shorter hex runs ("ab12") are common
/// inside ids and would flood a name search with unrelated machines.
pub const MIN_ID_PART: usize = 8;

/// Whether a folded name part is also looked for in machine ids: from [`MIN_ID_PART`]
/// characters, and only when every one is a hex digit (ids are lowercase hex, so any other
/// character rules every id out, and the ids need not be read).
pub fn looks_in_ids(folded: &str) -> bool {
    folded.len() >= MIN_ID_PART && folded.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `10.`, `10.1.2`: at most four groups of one to three digits, starting with a digit,
/// containing a dot; only the last group may be empty.
fn looks_like_ipv4_prefix(t: &str) -> bool {
    let groups: Vec<&str> = t.split('.').collect();
    let last = groups.len() - 1;
    t.contains('.')
        && groups.len() <= 4
        && groups.iter().enumerate().all(|(i, g)| {
            (g.is_empty() && i == last && i > 0)
                || (!g.is_empty() && g.len() <= 3 && g.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Case folding for text comparisons, the same as [`Filter::matches`] uses
/// (`char::to_lowercase`, char by char). Callers that pre-fold columns use this so their
/// answers equal core's.
pub fn fold(s: &str) -> String {
    // Machine names and addresses are nearly always ASCII, where `char::to_lowercase` is the
    // ASCII mapping: the fast path matters when 100k names are folded on every load.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().flat_map(char::to_lowercase).collect()
}

/// How an IP address is compared for [`TextQuery::IpAddress`]: parsed and printed back
/// (`FE80:0::1` and `fe80::1` are the same address); `None` when it is not an address.
///
/// An IPv4 address that parses is already in its printed form (the parser takes only four
/// decimal parts without leading zeros), so it is borrowed rather than printed again: most
/// addresses are IPv4, and a 100k-machine load canonicalises every one.
pub fn canonical_ip(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains(':') {
        return s.parse::<Ipv4Addr>().is_ok().then_some(Cow::Borrowed(s));
    }
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| Cow::Owned(ip.to_string()))
}

impl TextQuery {
    /// The server-side part of the text, only where the server can answer it without losing a
    /// match: `id eq` for a machine id. A name part needs "contains", which the machines list
    /// does not document (docs/defender-api.md §3), and the server can only test an address
    /// against `lastIpAddress`, not a machine's other interfaces; those are narrowed in the
    /// browser from the listing of the rest of the query.
    pub fn to_filter(&self) -> Option<Filter> {
        match self {
            TextQuery::MachineId(id) => Some(Filter::eq(Field::Id, id.as_str())),
            TextQuery::Empty
            | TextQuery::IpAddress(_)
            | TextQuery::IpPrefix(_)
            | TextQuery::NamePart(_) => None,
        }
    }

    /// Whether every machine this text matches is also matched by `self` (judged from the texts
    /// alone; `false` when unsure).
    pub fn covers(&self, next: &TextQuery) -> bool {
        match (self, next) {
            (TextQuery::Empty, _) => true,
            (a, b) if a == b => true,
            // A name containing "web0" contains "web"; an id part only counts from
            // [`MIN_ID_PART`] characters, so the longer text's id matches are the shorter's too
            // only when the shorter also reaches it.
            (TextQuery::NamePart(a), TextQuery::NamePart(b)) => {
                let (a, b) = (fold(a), fold(b));
                b.contains(&a) && (a.chars().count() >= MIN_ID_PART || !looks_in_ids(&b))
            }
            (TextQuery::IpPrefix(a), TextQuery::IpPrefix(b)) => fold(b).starts_with(&fold(a)),
            // An IPv4 address parses only in its canonical spelling, so the addresses equal to
            // it are spelled exactly as it is.
            (TextQuery::IpPrefix(a), TextQuery::IpAddress(b)) => {
                b.is_ipv4() && b.to_string().starts_with(&fold(a))
            }
            _ => false,
        }
    }
}

/// How recently machines must have been seen, relative to now (so a shared link keeps its
/// meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenWithin {
    /// In the last 24 hours (`1d`).
    Day,
    /// In the last 7 days (`7d`).
    Week,
    /// In the last 30 days (`30d`).
    Month,
    /// Seen, but not in the last 30 days (`stale`).
    Stale,
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl SeenWithin {
    /// Every choice, in display order.
    pub const ALL: [SeenWithin; 4] = [
        SeenWithin::Day,
        SeenWithin::Week,
        SeenWithin::Month,
        SeenWithin::Stale,
    ];

    /// URL spelling.
    pub fn as_param(self) -> &'static str {
        match self {
            SeenWithin::Day => "1d",
            SeenWithin::Week => "7d",
            SeenWithin::Month => "30d",
            SeenWithin::Stale => "stale",
        }
    }

    /// Parses the URL spelling.
    pub fn from_param(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_param() == s)
    }

    /// Display text.
    pub fn label(self) -> &'static str {
        match self {
            SeenWithin::Day => "Last 24 hours",
            SeenWithin::Week => "Last 7 days",
            SeenWithin::Month => "Last 30 days",
            SeenWithin::Stale => "Not in 30 days",
        }
    }

    /// The boundary in days.
    pub fn days(self) -> i64 {
        match self {
            SeenWithin::Day => 1,
            SeenWithin::Week => 7,
            SeenWithin::Month | SeenWithin::Stale => 30,
        }
    }

    /// `lastSeen gt now-N days`, or `le` for [`SeenWithin::Stale`] (never-seen machines match
    /// neither: OData comparisons with null are false). `None` only for an out-of-range clock.
    pub fn to_filter(self, now_ms: i64) -> Option<Filter> {
        let boundary_ms = now_ms - self.days() * DAY_MS;
        let boundary = OffsetDateTime::from_unix_timestamp(boundary_ms.div_euclid(1000)).ok()?;
        let op = if self == SeenWithin::Stale {
            CmpOp::Le
        } else {
            CmpOp::Gt
        };
        Some(Filter::compare(Field::LastSeen, op, boundary))
    }
}

/// Search-box text plus filters; unset fields (empty text, `None`) are no condition, and set
/// ones combine with `and`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct MachineQuery {
    /// Free text (see [`classify`]).
    pub text: String,
    /// Tag, exact (case-insensitive) or its start.
    pub tag: String,
    /// Match tags starting with [`MachineQuery::tag`] instead of equal to it.
    pub tag_prefix: bool,
    /// OS platform, e.g. `Windows11`.
    pub os: Option<String>,
    /// Sensor health.
    pub health: Option<HealthStatus>,
    /// Risk score.
    pub risk: Option<RiskScore>,
    /// Exposure level.
    pub exposure: Option<ExposureLevel>,
    /// Device value.
    pub value: Option<DeviceValue>,
    /// Device (RBAC) group id.
    pub group: Option<i64>,
    /// Last seen.
    pub seen: Option<SeenWithin>,
}

/// What the server is asked for a [`MachineQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerQuery {
    /// `GET /api/machines?$filter=...` (all pages; `None` = every machine).
    List(Option<Filter>),
    /// `GET /api/machines/findbytag?tag=...&useStartsWithFilter=true`: the documented way to
    /// search by tag prefix; the rest of the query is applied to what it returns.
    FindByTagPrefix(String),
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
    /// The last-seen parameter is not one of the offered windows.
    #[error("URL parameter {key}={value:?} must be 1d, 7d, 30d or stale")]
    NotASeenWindow {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// The tag mode is neither `prefix` nor `exact`.
    #[error("URL parameter {key}={value:?} must be prefix or exact")]
    NotATagMode {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
}

/// URL parameter names, stable because they end up in shared links and bookmarks.
pub mod keys {
    /// Free text.
    pub const TEXT: &str = "q";
    /// Tag.
    pub const TAG: &str = "tag";
    /// Tag mode: `prefix` (or `exact`, the default).
    pub const TAG_MODE: &str = "tagmode";
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
    /// Last seen window (see [`super::SeenWithin::as_param`]).
    pub const SEEN: &str = "seen";
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl MachineQuery {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        *self == MachineQuery::default()
    }

    /// The tag condition, if a tag is given.
    fn tag_filter(&self) -> Option<Filter> {
        let tag = self.tag.trim();
        if tag.is_empty() {
            None
        } else if self.tag_prefix {
            Some(Filter::TagAnyStartsWith {
                prefix: tag.to_owned(),
            })
        } else {
            Some(Filter::has_tag(tag))
        }
    }

    /// Every condition but the text, `now_ms` anchoring "last seen".
    fn rest_filter(&self, now_ms: i64) -> Option<Filter> {
        Filter::all(self.rest_parts(now_ms, false))
    }

    /// The conditions besides the text. `for_server`: only what the machines list documents
    /// (`eq`, `and`, ...): "any Linux" needs `or`, which no API page shows, so the server is not
    /// asked it and the browser narrows instead (a superset is never wrong).
    fn rest_parts(&self, now_ms: i64, for_server: bool) -> Vec<Filter> {
        let mut parts = Vec::new();
        parts.extend(self.tag_filter());
        if let Some(os) = non_empty(&self.os) {
            if os == OS_ANY_LINUX {
                if !for_server {
                    parts.extend(Filter::any(
                        LINUX_PLATFORMS
                            .iter()
                            .map(|p| Filter::eq(Field::OsPlatform, *p)),
                    ));
                }
            } else {
                parts.push(Filter::eq(Field::OsPlatform, os));
            }
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
        if let Some(v) = &self.value {
            parts.push(Filter::eq(Field::DeviceValue, v.as_str()));
        }
        if let Some(g) = self.group {
            parts.push(Filter::eq(Field::RbacGroupId, g));
        }
        parts.extend(self.seen.and_then(|s| s.to_filter(now_ms)));
        parts
    }

    /// The server-side `$filter` (`None` = everything); `now_ms` anchors "last seen".
    pub fn to_filter(&self, now_ms: i64) -> Option<Filter> {
        Filter::all(
            classify(&self.text)
                .to_filter()
                .into_iter()
                .chain(self.rest_parts(now_ms, true)),
        )
    }

    /// The query the server is asked: this one without a text the server cannot answer (a name
    /// part or an address; see [`TextQuery::to_filter`]). Pages key their listing by it, so
    /// typing narrows what is loaded instead of listing the tenant again per keystroke.
    pub fn server_part(&self) -> MachineQuery {
        let text = match classify(&self.text) {
            TextQuery::MachineId(_) => self.text.clone(),
            _ => String::new(),
        };
        MachineQuery {
            text,
            ..self.clone()
        }
    }

    /// The request for this query: a tag prefix goes through `findbytag`, the rest through the
    /// machine list's `$filter`.
    pub fn server_query(&self, now_ms: i64) -> ServerQuery {
        let tag = self.tag.trim();
        if self.tag_prefix && !tag.is_empty() {
            ServerQuery::FindByTagPrefix(tag.to_owned())
        } else {
            ServerQuery::List(self.to_filter(now_ms))
        }
    }

    /// The in-browser test for this query (build once, test many machines).
    pub fn matcher(&self, now_ms: i64) -> Matcher {
        let text = classify(&self.text);
        let text_filter = match &text {
            TextQuery::MachineId(_) => text.to_filter(),
            _ => None,
        };
        let needle = match &text {
            TextQuery::IpAddress(ip) => ip.to_string(),
            TextQuery::IpPrefix(p) | TextQuery::NamePart(p) => fold(p),
            _ => String::new(),
        };
        Matcher {
            text,
            needle,
            text_filter,
            rest: self.rest_filter(now_ms),
        }
    }

    /// Whether `machine` matches (see [`Matcher`]); for many machines build a [`Matcher`] once.
    pub fn matches(&self, machine: &Machine, now_ms: i64) -> bool {
        self.matcher(now_ms).matches(machine)
    }

    /// Whether every machine matching `next` also matches `self`, judged from the queries alone,
    /// so `next` can be narrowed from `self`'s result instead of from every loaded machine: the
    /// usual case while typing (`web` → `web0`). Only the text may differ; anything unsure
    /// answers `false` (a full narrowing is always correct, just slower).
    pub fn refines_to(&self, next: &MachineQuery) -> bool {
        let rest = |q: &MachineQuery| MachineQuery {
            text: String::new(),
            ..q.clone()
        };
        rest(self) == rest(next) && classify(&self.text).covers(&classify(&next.text))
    }

    /// URL query pairs for the set conditions (raw; see [`MachineQuery::to_query_string`]).
    pub fn to_query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut push = |k: &'static str, v: &str| {
            if !v.is_empty() {
                out.push((k, v.to_owned()));
            }
        };
        push(keys::TEXT, self.text.trim());
        push(keys::TAG, self.tag.trim());
        if self.tag_prefix && !self.tag.trim().is_empty() {
            push(keys::TAG_MODE, "prefix");
        }
        push(keys::OS, non_empty(&self.os).unwrap_or(""));
        push(
            keys::HEALTH,
            self.health.as_ref().map_or("", |v| v.as_str()),
        );
        push(keys::RISK, self.risk.as_ref().map_or("", |v| v.as_str()));
        push(
            keys::EXPOSURE,
            self.exposure.as_ref().map_or("", |v| v.as_str()),
        );
        push(keys::VALUE, self.value.as_ref().map_or("", |v| v.as_str()));
        push(
            keys::GROUP,
            &self.group.map(|g| g.to_string()).unwrap_or_default(),
        );
        push(keys::SEEN, self.seen.map_or("", SeenWithin::as_param));
        out
    }

    /// Reads URL query pairs, keeping what it can: a hand-edited link still opens, and each
    /// malformed value is reported (naming its key) and left unset. Unknown keys belong to the
    /// page and are ignored; empty values mean "not set"; enum values keep unknown spellings.
    pub fn from_query_pairs_lenient<K, V>(pairs: &[(K, V)]) -> (Self, Vec<QueryParamError>)
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = MachineQuery::default();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            let v = v.as_ref().trim();
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                keys::TEXT => q.text = v.to_owned(),
                keys::TAG => q.tag = v.to_owned(),
                keys::TAG_MODE => match v {
                    "prefix" => q.tag_prefix = true,
                    "exact" => q.tag_prefix = false,
                    _ => errors.push(QueryParamError::NotATagMode {
                        key: keys::TAG_MODE,
                        value: v.to_owned(),
                    }),
                },
                keys::OS => q.os = Some(v.to_owned()),
                keys::HEALTH => q.health = Some(HealthStatus::from_wire(v)),
                keys::RISK => q.risk = Some(RiskScore::from_wire(v)),
                keys::EXPOSURE => q.exposure = Some(ExposureLevel::from_wire(v)),
                keys::VALUE => q.value = Some(DeviceValue::from_wire(v)),
                keys::GROUP => match v.parse() {
                    Ok(g) => q.group = Some(g),
                    Err(_) => errors.push(QueryParamError::NotAnInteger {
                        key: keys::GROUP,
                        value: v.to_owned(),
                    }),
                },
                keys::SEEN => match SeenWithin::from_param(v) {
                    Some(s) => q.seen = Some(s),
                    None => errors.push(QueryParamError::NotASeenWindow {
                        key: keys::SEEN,
                        value: v.to_owned(),
                    }),
                },
                _ => {}
            }
        }
        (q, errors)
    }

    /// [`MachineQuery::from_query_pairs_lenient`], failing on the first malformed value.
    pub fn from_query_pairs<K, V>(pairs: &[(K, V)]) -> Result<Self, QueryParamError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (q, mut errors) = Self::from_query_pairs_lenient(pairs);
        match errors.is_empty() {
            true => Ok(q),
            false => Err(errors.remove(0)),
        }
    }

    /// `q=...&tag=...` (percent-encoded, no leading `?`).
    pub fn to_query_string(&self) -> String {
        encode_pairs(&self.to_query_pairs())
    }

    /// Reads a query string (with or without the leading `?`), failing on a malformed value.
    pub fn from_query_string(qs: &str) -> Result<Self, QueryParamError> {
        Self::from_query_pairs(&decode_pairs(qs))
    }
}

/// `k=v&k2=v2`, percent-encoded (no leading `?`).
pub fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_query_component(k.as_ref()),
                encode_query_component(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The decoded pairs of a query string (with or without the leading `?`).
pub fn decode_pairs(qs: &str) -> Vec<(String, String)> {
    qs.trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_query_component(k), decode_query_component(v))
        })
        .collect()
}

/// A [`MachineQuery`] prepared for testing many loaded machines. Its answer includes everything
/// the server filter returns, plus machines whose other interface addresses match an IP (the
/// server can only filter on `lastIpAddress`), so narrowing never hides a machine the server
/// search returned.
#[derive(Debug, Clone)]
pub struct Matcher {
    text: TextQuery,
    /// Folded prefix, or the canonical address, for the text.
    needle: String,
    text_filter: Option<Filter>,
    rest: Option<Filter>,
}

impl Matcher {
    /// The classified search text.
    pub fn text(&self) -> &TextQuery {
        &self.text
    }

    /// For [`TextQuery::IpAddress`] the canonical address ([`canonical_ip`]); for a prefix, the
    /// prefix folded ([`fold`]); otherwise empty. Pre-folded columns compare against this.
    pub fn needle(&self) -> &str {
        &self.needle
    }

    /// Whether `machine` satisfies the query.
    pub fn matches(&self, machine: &Machine) -> bool {
        self.text_matches(machine) && self.rest_matches(machine)
    }

    /// Whether `machine` satisfies every condition but the text.
    pub fn rest_matches(&self, machine: &Machine) -> bool {
        self.rest.as_ref().is_none_or(|f| f.matches(machine))
    }

    /// Whether `machine` satisfies the text.
    pub fn text_matches(&self, machine: &Machine) -> bool {
        match &self.text {
            TextQuery::Empty => true,
            TextQuery::IpAddress(_) => {
                addresses(machine).any(|a| canonical_ip(a).is_some_and(|a| a == self.needle))
            }
            TextQuery::IpPrefix(_) => addresses(machine).any(|a| fold(a).starts_with(&self.needle)),
            TextQuery::NamePart(_) => {
                machine
                    .computer_dns_name
                    .as_deref()
                    .is_some_and(|n| fold(n).contains(&self.needle))
                    || self.id_part_matches(machine.id.as_str())
            }
            TextQuery::MachineId(_) => self.text_filter.as_ref().is_none_or(|f| f.matches(machine)),
        }
    }
}

impl Matcher {
    /// Whether a machine id (lowercase hex) contains the needle of a [`TextQuery::NamePart`] of
    /// at least [`MIN_ID_PART`] characters.
    pub fn id_part_matches(&self, id: &str) -> bool {
        self.searches_ids() && id.contains(&self.needle)
    }

    /// Whether the text is also looked for in machine ids (a [`TextQuery::NamePart`] of at least
    /// [`MIN_ID_PART`] characters).
    pub fn searches_ids(&self) -> bool {
        matches!(self.text, TextQuery::NamePart(_)) && looks_in_ids(&self.needle)
    }
}

/// Up to `limit` of `names` closest to `text` (case-folded Jaro-Winkler similarity of at least
/// 0.75), best first: what a search that matched nothing offers instead.
pub fn closest_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    text: &str,
    limit: usize,
) -> Vec<&'a str> {
    let wanted = fold(text.trim());
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(|n| {
            // A name's first label ("ws-fin-01" of "ws-fin-01.contoso.local") is what people
            // type; compare with it as well as the whole name.
            let folded = fold(n);
            let first = folded.split('.').next().unwrap_or("");
            let score =
                strsim::jaro_winkler(&wanted, &folded).max(strsim::jaro_winkler(&wanted, first));
            (score, n)
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(limit).map(|(_, n)| n).collect()
}

/// The machine's last IP address, then its interfaces' addresses.
pub fn addresses(machine: &Machine) -> impl Iterator<Item = &str> {
    machine.last_ip_address.as_deref().into_iter().chain(
        machine
            .ip_addresses
            .iter()
            .filter_map(|a| a.ip_address.as_deref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::render;

    const NOW_MS: i64 = 1_800_000_000_000;

    #[test]
    fn classifies_free_text() {
        assert_eq!(classify("  "), TextQuery::Empty);
        assert!(matches!(
            classify(&"AB".repeat(20)),
            TextQuery::MachineId(_)
        ));
        assert!(matches!(classify("10.0.0.5"), TextQuery::IpAddress(_)));
        assert!(matches!(classify("fe80::1"), TextQuery::IpAddress(_)));
        assert_eq!(classify(" ws-fin "), TextQuery::NamePart("ws-fin".into()));
        assert_eq!(classify("10.0.0"), TextQuery::IpPrefix("10.0.0".into()));
        assert_eq!(classify("10.1."), TextQuery::IpPrefix("10.1.".into()));
        // A bare number is a name, and so is anything that cannot start an IPv4 address.
        assert_eq!(classify("2019"), TextQuery::NamePart("2019".into()));
        assert_eq!(
            classify("1.2.3.4.5"),
            TextQuery::NamePart("1.2.3.4.5".into())
        );
        assert_eq!(classify("10..1"), TextQuery::NamePart("10..1".into()));
        assert_eq!(classify(".1"), TextQuery::NamePart(".1".into()));
        assert_eq!(classify("1000.1"), TextQuery::NamePart("1000.1".into()));
    }

    #[test]
    fn builds_the_server_filter() {
        let q = MachineQuery {
            text: "ws-".into(),
            tag: "Fin".into(),
            tag_prefix: true,
            risk: Some(RiskScore::High),
            group: Some(7),
            seen: Some(SeenWithin::Day),
            ..MachineQuery::default()
        };
        // A name part is not sent (the server has no "contains"); the rest is.
        assert_eq!(
            render(&q.to_filter(NOW_MS).unwrap()),
            "machineTags/any(t: startswith(t,'Fin')) and \
             riskScore eq 'High' and rbacGroupId eq 7 and lastSeen gt 2027-01-14T08:00:00Z"
        );
        assert_eq!(
            q.server_query(NOW_MS),
            ServerQuery::FindByTagPrefix("Fin".into())
        );
        let ip = MachineQuery {
            text: "10.1.".into(),
            ..MachineQuery::default()
        };
        // Nor an address: the server only sees `lastIpAddress`, not the other interfaces.
        assert_eq!(ip.to_filter(NOW_MS), None);
        let id = MachineQuery {
            text: "AB".repeat(20),
            ..MachineQuery::default()
        };
        assert_eq!(
            render(&id.to_filter(NOW_MS).unwrap()),
            format!("id eq '{}'", "ab".repeat(20))
        );
        assert!(MachineQuery::default().is_empty());
        assert_eq!(MachineQuery::default().to_filter(NOW_MS), None);
        assert_eq!(
            MachineQuery::default().server_query(NOW_MS),
            ServerQuery::List(None)
        );
    }

    #[test]
    fn url_round_trip_and_errors_name_the_key() {
        let q = MachineQuery {
            text: "a&b c".into(),
            tag: "R&D".into(),
            tag_prefix: true,
            health: Some(HealthStatus::Inactive),
            seen: Some(SeenWithin::Stale),
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
            MachineQuery::from_query_string("seen=yesterday"),
            Err(QueryParamError::NotASeenWindow { .. })
        ));
        assert!(matches!(
            MachineQuery::from_query_string("tag=x&tagmode=maybe"),
            Err(QueryParamError::NotATagMode { .. })
        ));
        // Lenient reading keeps the good parts and reports each bad one.
        let (q, errors) = MachineQuery::from_query_pairs_lenient(&[
            ("q", "web"),
            ("group", "x"),
            ("seen", "forever"),
        ]);
        assert_eq!(q.text, "web");
        assert_eq!((q.group, q.seen), (None, None));
        assert_eq!(errors.len(), 2);
        // A tag mode without a tag is not written.
        let q = MachineQuery {
            tag_prefix: true,
            ..MachineQuery::default()
        };
        assert_eq!(q.to_query_string(), "");
    }

    #[test]
    fn ip_text_matches_any_interface_address() {
        let mut m = Machine::new(MachineId::parse(&"a".repeat(40)).unwrap());
        m.last_ip_address = Some("10.0.0.1".into());
        m.ip_addresses = vec![serde_json::from_str(r#"{"ipAddress":"FE80:0::1"}"#).unwrap()];
        let q = |t: &str| MachineQuery {
            text: t.into(),
            ..MachineQuery::default()
        };
        assert!(q("fe80::1").matches(&m, NOW_MS));
        assert!(q("10.0.").matches(&m, NOW_MS));
        assert!(!q("10.0.0.2").matches(&m, NOW_MS));
        assert!(!q("10.1.").matches(&m, NOW_MS));
    }

    #[test]
    fn a_name_part_matches_anywhere_in_the_name_and_long_hex_parts_in_the_id() {
        let mut m = Machine::new(
            MachineId::parse(&format!(
                "{}{}",
                "0".repeat(20),
                "1234abcd".repeat(2) + "0000"
            ))
            .unwrap(),
        );
        m.computer_dns_name = Some("WS-FIN-0042.contoso.local".into());
        let q = |t: &str| MachineQuery {
            text: t.into(),
            ..MachineQuery::default()
        };
        assert!(q("fin-00").matches(&m, NOW_MS), "a middle part, any case");
        assert!(q("CONTOSO").matches(&m, NOW_MS));
        assert!(!q("fin-01").matches(&m, NOW_MS));
        assert!(
            q("1234abcd").matches(&m, NOW_MS),
            "8 hex characters of the id"
        );
        assert!(
            !q("1234abc").matches(&m, NOW_MS),
            "shorter hex runs are not looked for in ids"
        );
        let none = Machine::new(MachineId::parse(&"f".repeat(40)).unwrap());
        assert!(!q("fin").matches(&none, NOW_MS), "no name, no match");
    }

    #[test]
    fn any_linux_matches_every_distribution_and_nothing_else() {
        let q = MachineQuery {
            os: Some(OS_ANY_LINUX.into()),
            ..MachineQuery::default()
        };
        let on = |platform: &str| {
            let mut m = Machine::new(MachineId::parse(&"c".repeat(40)).unwrap());
            m.os_platform = Some(platform.into());
            q.matches(&m, NOW_MS)
        };
        assert!(on("Ubuntu") && on("RedHatEnterpriseLinux") && on("Linux"));
        assert!(!on("Windows11") && !on("macOS"));
        // The server is not asked (`or` is undocumented for machines); the browser narrows.
        assert_eq!(q.to_filter(NOW_MS), None);
        let with_health = MachineQuery {
            health: Some(HealthStatus::Active),
            ..q.clone()
        };
        assert_eq!(
            render(&with_health.to_filter(NOW_MS).unwrap()),
            "healthStatus eq 'Active'"
        );
        assert!(is_linux_platform("ubuntu"));
    }

    #[test]
    fn the_server_part_drops_only_a_text_the_server_cannot_answer() {
        let q = |t: &str| MachineQuery {
            text: t.into(),
            risk: Some(RiskScore::High),
            ..MachineQuery::default()
        };
        assert_eq!(q("web").server_part(), q(""));
        assert_eq!(q("10.1.").server_part(), q(""));
        let id = "ab".repeat(20);
        assert_eq!(q(&id).server_part(), q(&id));
        // Same request either way.
        assert_eq!(
            q("web").server_part().server_query(NOW_MS),
            q("web").server_query(NOW_MS)
        );
    }

    #[test]
    fn closest_names_offer_what_was_probably_meant() {
        let names = [
            "ws-fin-0042.contoso.local",
            "ws-hr-0001.contoso.local",
            "dc-srv-0100.contoso.local",
        ];
        assert_eq!(
            closest_names(names, "ws-fin-042", 3).first(),
            Some(&"ws-fin-0042.contoso.local")
        );
        assert!(closest_names(names, "zzzzzz", 3).is_empty());
        assert!(closest_names(names, " ", 3).is_empty());
        assert_eq!(closest_names(names, "ws-", 1).len(), 1);
    }

    #[test]
    fn refining_needs_the_same_filters_and_a_covering_text() {
        let q = |t: &str| MachineQuery {
            text: t.into(),
            ..MachineQuery::default()
        };
        assert!(q("").refines_to(&q("web")));
        assert!(q("Web").refines_to(&q("wEB0")));
        assert!(q("eb").refines_to(&q("web0")), "a part of a part");
        assert!(!q("1234abcd").refines_to(&q("1234abc")));
        assert!(
            !q("1234abc").refines_to(&q("1234abcd")),
            "the longer text also matches ids"
        );
        assert!(q("1234abcd").refines_to(&q("1234abcde")));
        assert!(
            q("sales-w").refines_to(&q("sales-ws")),
            "not hex: the longer text cannot match an id"
        );
        assert!(q("1234ABC").refines_to(&q("1234ABC-")));
        assert!(q("10.1.").refines_to(&q("10.1.2.3")));
        assert!(!q("10.1.2.3").refines_to(&q("10.1.2.30")));
        assert!(!q("10").refines_to(&q("10.")));
        assert!(!q("web0").refines_to(&q("web")));
        assert!(!q("web").refines_to(&MachineQuery {
            risk: Some(RiskScore::High),
            ..q("web0")
        }));
    }
}
