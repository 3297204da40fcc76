//! `Machine` (the API's machine entity) and `MachineRef` (what a user typed).

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;

use super::datetime;
use super::enums::{
    DeviceValue, ExposureLevel, HealthStatus, OnboardingStatus, OperationalStatus, RiskScore,
};
use super::id::MachineId;

/// A machine entity as returned by the API (docs/defender-api.md §1): every documented and observed
/// field, each nullable, plus `extra` for fields we do not know, so a decode/encode round trip
/// loses nothing. Encoding writes `null` for absent fields, as the service does.
///
/// Tags already on machines stay `String`: the API may return tags our [`crate::Tag`] rules reject.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// Machine id (40 hex, lowercased).
    pub id: MachineId,
    /// Fully qualified computer name.
    #[serde(default)]
    pub computer_dns_name: Option<String>,
    /// First observed by Defender.
    #[serde(default, with = "datetime::option")]
    pub first_seen: Option<OffsetDateTime>,
    /// Last full device report (not the portal's "last seen").
    #[serde(default, with = "datetime::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// Operating system platform, e.g. `Windows10`, `WindowsServer2022` (no documented enum).
    #[serde(default)]
    pub os_platform: Option<String>,
    /// OS version (observed `null`).
    #[serde(default)]
    pub os_version: Option<String>,
    /// Processor (deprecated in favour of `osArchitecture`), e.g. `x64`.
    #[serde(default)]
    pub os_processor: Option<String>,
    /// OS version name, e.g. `21H2`.
    #[serde(default)]
    pub version: Option<String>,
    /// OS build number.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub os_build: Option<i64>,
    /// Last IP on a local NIC.
    #[serde(default)]
    pub last_ip_address: Option<String>,
    /// Last internet-facing IP.
    #[serde(default)]
    pub last_external_ip_address: Option<String>,
    /// Sensor health.
    #[serde(default)]
    pub health_status: Option<HealthStatus>,
    /// Device group name (`null` when ungrouped).
    #[serde(default)]
    pub rbac_group_name: Option<String>,
    /// Device group id. Documented as a string, sent as a number; both are accepted.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub rbac_group_id: Option<i64>,
    /// Risk score.
    #[serde(default)]
    pub risk_score: Option<RiskScore>,
    /// Entra device id (a GUID, kept as text).
    #[serde(default)]
    pub aad_device_id: Option<String>,
    /// Whether the device is Entra joined.
    #[serde(default)]
    pub is_aad_joined: Option<bool>,
    /// Tags on the machine (`null` decodes as empty).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub machine_tags: Vec<String>,
    /// Exposure level.
    #[serde(default)]
    pub exposure_level: Option<ExposureLevel>,
    /// Device value.
    #[serde(default)]
    pub device_value: Option<DeviceValue>,
    /// Network interfaces (`null` decodes as empty).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ip_addresses: Vec<IpAddress>,
    /// `32-bit` or `64-bit`.
    #[serde(default)]
    pub os_architecture: Option<String>,
    /// Onboarding status.
    #[serde(default)]
    pub onboarding_status: Option<OnboardingStatus>,
    /// Id of the machine this one was merged into.
    #[serde(default)]
    pub merged_into_machine_id: Option<String>,
    /// Whether the service thinks this is a duplicate device.
    #[serde(default)]
    pub is_potential_duplication: Option<bool>,
    /// Whether the device is excluded.
    #[serde(default)]
    pub is_excluded: Option<bool>,
    /// Why the device is excluded.
    #[serde(default)]
    pub exclusion_reason: Option<String>,
    /// Sensor (agent) version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// Antivirus status, e.g. `Updated` (no documented enum).
    #[serde(default)]
    pub defender_av_status: Option<String>,
    /// Management channel, e.g. `Intune`.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Management status.
    #[serde(default)]
    pub managed_by_status: Option<String>,
    /// VM metadata; shape unconfirmed for MDE, so kept as raw JSON.
    #[serde(default)]
    pub vm_metadata: Option<Value>,
    /// Every field not listed above (including `@odata.context`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `ipAddresses`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    /// The address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// MAC address without separators (`null` for loopback).
    #[serde(default)]
    pub mac_address: Option<String>,
    /// Interface type, e.g. `Ethernet`, `SoftwareLoopback` (observed, undocumented).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `Up`/`Down`.
    #[serde(default)]
    pub operational_status: Option<OperationalStatus>,
    /// Unknown fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Machine {
    /// A machine with only an id; every other field absent. Handy for tests and generators.
    pub fn new(id: MachineId) -> Self {
        Self {
            id,
            computer_dns_name: None,
            first_seen: None,
            last_seen: None,
            os_platform: None,
            os_version: None,
            os_processor: None,
            version: None,
            os_build: None,
            last_ip_address: None,
            last_external_ip_address: None,
            health_status: None,
            rbac_group_name: None,
            rbac_group_id: None,
            risk_score: None,
            aad_device_id: None,
            is_aad_joined: None,
            machine_tags: Vec::new(),
            exposure_level: None,
            device_value: None,
            ip_addresses: Vec::new(),
            os_architecture: None,
            onboarding_status: None,
            merged_into_machine_id: None,
            is_potential_duplication: None,
            is_excluded: None,
            exclusion_reason: None,
            agent_version: None,
            defender_av_status: None,
            managed_by: None,
            managed_by_status: None,
            vm_metadata: None,
            extra: Map::new(),
        }
    }

    /// Whether the machine carries exactly this tag (case-sensitive, as the API stores it).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.machine_tags.iter().any(|t| t == tag)
    }
}

/// What a tag call's answer says about one machine: its id and its tags, nothing else.
///
/// The tag endpoints answer with full machine entities, 500 of them per bulk call, but a run only
/// needs to know which machines came back and whether the tag is now on them. Decoding the full
/// [`Machine`] (some thirty fields, a dozen strings, unknown fields kept as JSON) made decoding
/// the biggest cost of a bulk call; this shape skips the other fields without building them. The JSON must still be well formed, `id` must be a valid machine id and
/// `machineTags` a list of strings (or `null`), so a malformed answer is still an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaggedMachine {
    /// Machine id (40 hex, lowercased).
    pub id: MachineId,
    /// Tags on the machine (`null` decodes as empty).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub machine_tags: Vec<String>,
}

impl TaggedMachine {
    /// Whether the machine carries exactly this tag (case-sensitive, as the API stores it).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.machine_tags.iter().any(|t| t == tag)
    }
}

impl From<Machine> for TaggedMachine {
    fn from(m: Machine) -> Self {
        Self {
            id: m.id,
            machine_tags: m.machine_tags,
        }
    }
}

// Decoding is written out rather than derived: with `#[serde(flatten)]` for `extra`, serde
// buffers every field of every machine into an intermediate tree before decoding it, which made
// decoding the main cost of loading and tagging 100k machines (and pulled float formatting into
// the wasm). Here each known field decodes straight into place and only unknown fields become
// `Value`s. The field list must match the struct: `decoding_reads_every_field_it_encodes` checks.

/// An object key, borrowed from the input when it can be.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `Option<OffsetDateTime>` in the service's formats (see [`datetime`]).
struct WireTime(Option<OffsetDateTime>);

impl<'de> Deserialize<'de> for WireTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        datetime::option::deserialize(deserializer).map(WireTime)
    }
}

/// A list where `null` means empty.
struct NullAsEmpty<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NullAsEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        null_as_empty(deserializer).map(NullAsEmpty)
    }
}

/// An integer sent as a number, a numeric string or null.
struct LenientI64(Option<i64>);

impl<'de> Deserialize<'de> for LenientI64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient_i64(deserializer).map(LenientI64)
    }
}

/// Marks `field` (bit `bit` of `seen`) as read; reading it twice is an error, as with derive.
fn duplicate<E: de::Error>(seen: &mut u64, bit: u32, field: &'static str) -> Result<(), E> {
    if *seen & (1 << bit) != 0 {
        return Err(E::duplicate_field(field));
    }
    *seen |= 1 << bit;
    Ok(())
}

impl<'de> Deserialize<'de> for Machine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MachineVisitor { listed: false })
    }
}

/// A machine decoded with only the fields a listing keeps: exactly
/// [`keep_listed_fields`] of the full decode, but the other fields are skipped in the text
/// rather than built and dropped (loading 100k machines decodes about 1.2 GB of JSON less
/// into strings and `Value`s). A field that is kept must still be well formed; one that is
/// skipped must only be valid JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedMachine(pub Machine);

impl<'de> Deserialize<'de> for ListedMachine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(MachineVisitor { listed: true })
            .map(ListedMachine)
    }
}

/// A machine as a listing keeps it: the fields the web UI reads (the table's columns, the
/// filters, the details panel and bulk planning: id and tags), and of the network interfaces
/// only their addresses, without loopback ones (nobody searches for `127.0.0.1`). At 100k
/// machines the rest is about a third of the memory, and nothing shows it.
/// [`ListedMachine`] decodes straight into this shape.
pub fn keep_listed_fields(m: Machine) -> Machine {
    Machine {
        computer_dns_name: m.computer_dns_name,
        last_seen: m.last_seen,
        os_platform: m.os_platform,
        os_version: m.os_version,
        last_ip_address: m.last_ip_address,
        health_status: m.health_status,
        rbac_group_name: m.rbac_group_name,
        rbac_group_id: m.rbac_group_id,
        risk_score: m.risk_score,
        machine_tags: m.machine_tags,
        exposure_level: m.exposure_level,
        device_value: m.device_value,
        is_potential_duplication: m.is_potential_duplication,
        ip_addresses: m
            .ip_addresses
            .into_iter()
            .filter_map(|a| listed_address(a.ip_address))
            .collect(),
        ..Machine::new(m.id)
    }
}

/// An interface as a listing keeps it: its address alone, unless it has none or a loopback one.
fn listed_address(address: Option<String>) -> Option<IpAddress> {
    let ip = address?;
    (!is_loopback(&ip)).then(|| IpAddress {
        ip_address: Some(ip),
        ..IpAddress::default()
    })
}

/// Whether `text` is a loopback address. Only texts that could be one are parsed: an IPv4
/// loopback starts with `127.`, and an IPv6 one is spelled with `0`, `1` and `:` alone.
fn is_loopback(text: &str) -> bool {
    let candidate = text.starts_with("127.")
        || (text.contains(':') && text.bytes().all(|b| matches!(b, b'0' | b'1' | b':')));
    candidate
        && text
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One interface of a listed machine: its address, the rest skipped.
struct ListedAddress(Option<String>);

impl<'de> Deserialize<'de> for ListedAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressVisitor;
        impl<'de> Visitor<'de> for AddressVisitor {
            type Value = ListedAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a network interface object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListedAddress, A::Error> {
                let mut address = None;
                let mut seen = 0u64;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if key.as_str() == "ipAddress" {
                        duplicate(&mut seen, 0, "ipAddress")?;
                        address = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ListedAddress(address))
            }
        }
        deserializer.deserialize_map(AddressVisitor)
    }
}

/// The fields [`keep_listed_fields`] keeps, by their names in the API's JSON.
fn is_listed_key(key: &str) -> bool {
    matches!(
        key,
        "id" | "computerDnsName"
            | "lastSeen"
            | "osPlatform"
            | "osVersion"
            | "lastIpAddress"
            | "healthStatus"
            | "rbacGroupName"
            | "rbacGroupId"
            | "riskScore"
            | "machineTags"
            | "exposureLevel"
            | "deviceValue"
            | "isPotentialDuplication"
            | "ipAddresses"
    )
}

/// Decodes a machine object: every field, or (`listed`) only [`keep_listed_fields`]'s.
struct MachineVisitor {
    listed: bool,
}

impl<'de> Visitor<'de> for MachineVisitor {
    type Value = Machine;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a machine object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Machine, A::Error> {
        let mut id: Option<MachineId> = None;
        // Every other field starts absent, as in `Machine::new`; the id is set last.
        let mut m = Machine::new(MachineId::placeholder());
        let mut seen = 0u64;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.listed && !is_listed_key(key.as_str()) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            macro_rules! field {
                ($bit:literal, $name:literal, $slot:expr) => {{
                    duplicate(&mut seen, $bit, $name)?;
                    $slot = map.next_value()?;
                }};
                ($bit:literal, $name:literal, $slot:expr, $wrapper:ident) => {{
                    duplicate(&mut seen, $bit, $name)?;
                    $slot = map.next_value::<$wrapper<_>>()?.0;
                }};
            }
            match key.as_str() {
                "id" => {
                    duplicate(&mut seen, 0, "id")?;
                    id = Some(map.next_value()?);
                }
                "computerDnsName" => field!(1, "computerDnsName", m.computer_dns_name),
                "firstSeen" => {
                    duplicate(&mut seen, 2, "firstSeen")?;
                    m.first_seen = map.next_value::<WireTime>()?.0;
                }
                "lastSeen" => {
                    duplicate(&mut seen, 3, "lastSeen")?;
                    m.last_seen = map.next_value::<WireTime>()?.0;
                }
                "osPlatform" => field!(4, "osPlatform", m.os_platform),
                "osVersion" => field!(5, "osVersion", m.os_version),
                "osProcessor" => field!(6, "osProcessor", m.os_processor),
                "version" => field!(7, "version", m.version),
                "osBuild" => {
                    duplicate(&mut seen, 8, "osBuild")?;
                    m.os_build = map.next_value::<LenientI64>()?.0;
                }
                "lastIpAddress" => field!(9, "lastIpAddress", m.last_ip_address),
                "lastExternalIpAddress" => {
                    field!(10, "lastExternalIpAddress", m.last_external_ip_address)
                }
                "healthStatus" => field!(11, "healthStatus", m.health_status),
                "rbacGroupName" => field!(12, "rbacGroupName", m.rbac_group_name),
                "rbacGroupId" => {
                    duplicate(&mut seen, 13, "rbacGroupId")?;
                    m.rbac_group_id = map.next_value::<LenientI64>()?.0;
                }
                "riskScore" => field!(14, "riskScore", m.risk_score),
                "aadDeviceId" => field!(15, "aadDeviceId", m.aad_device_id),
                "isAadJoined" => field!(16, "isAadJoined", m.is_aad_joined),
                "machineTags" => field!(17, "machineTags", m.machine_tags, NullAsEmpty),
                "exposureLevel" => field!(18, "exposureLevel", m.exposure_level),
                "deviceValue" => field!(19, "deviceValue", m.device_value),
                "ipAddresses" if self.listed => {
                    duplicate(&mut seen, 20, "ipAddresses")?;
                    m.ip_addresses = map
                        .next_value::<NullAsEmpty<ListedAddress>>()?
                        .0
                        .into_iter()
                        .filter_map(|a| listed_address(a.0))
                        .collect();
                }
                "ipAddresses" => field!(20, "ipAddresses", m.ip_addresses, NullAsEmpty),
                "osArchitecture" => field!(21, "osArchitecture", m.os_architecture),
                "onboardingStatus" => field!(22, "onboardingStatus", m.onboarding_status),
                "mergedIntoMachineId" => {
                    field!(23, "mergedIntoMachineId", m.merged_into_machine_id)
                }
                "isPotentialDuplication" => {
                    field!(24, "isPotentialDuplication", m.is_potential_duplication)
                }
                "isExcluded" => field!(25, "isExcluded", m.is_excluded),
                "exclusionReason" => field!(26, "exclusionReason", m.exclusion_reason),
                "agentVersion" => field!(27, "agentVersion", m.agent_version),
                "defenderAvStatus" => field!(28, "defenderAvStatus", m.defender_av_status),
                "managedBy" => field!(29, "managedBy", m.managed_by),
                "managedByStatus" => field!(30, "managedByStatus", m.managed_by_status),
                "vmMetadata" => field!(31, "vmMetadata", m.vm_metadata),
                _ => {
                    let value: Value = map.next_value()?;
                    m.extra.insert(key.into_owned(), value);
                }
            }
        }
        m.id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        Ok(m)
    }
}

impl<'de> Deserialize<'de> for IpAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IpVisitor;
        impl<'de> Visitor<'de> for IpVisitor {
            type Value = IpAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a network interface object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IpAddress, A::Error> {
                let mut ip = IpAddress {
                    ip_address: None,
                    mac_address: None,
                    kind: None,
                    operational_status: None,
                    extra: Map::new(),
                };
                let mut seen = 0u64;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.as_str() {
                        "ipAddress" => {
                            duplicate(&mut seen, 0, "ipAddress")?;
                            ip.ip_address = map.next_value()?;
                        }
                        "macAddress" => {
                            duplicate(&mut seen, 1, "macAddress")?;
                            ip.mac_address = map.next_value()?;
                        }
                        "type" => {
                            duplicate(&mut seen, 2, "type")?;
                            ip.kind = map.next_value()?;
                        }
                        "operationalStatus" => {
                            duplicate(&mut seen, 3, "operationalStatus")?;
                            ip.operational_status = map.next_value()?;
                        }
                        _ => {
                            let value: Value = map.next_value()?;
                            ip.extra.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(ip)
            }
        }
        deserializer.deserialize_map(IpVisitor)
    }
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Accepts a JSON number, a numeric string or null. (A visitor rather than an untagged enum,
/// which would buffer the value first.)
fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct LenientVisitor;
    impl<'de> Visitor<'de> for LenientVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, a numeric string or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            i64::try_from(v).map(Some).map_err(|_| {
                E::custom(format!(
                    "expected an integer, found {v}, which is too large"
                ))
            })
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<i64>, E> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            s.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("expected an integer, found the text {s:?}")))
        }
    }
    deserializer.deserialize_option(LenientVisitor)
}

/// A machine as a user names it: by id or by computer name. The API's "get machine" accepts both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MachineRef {
    /// A 40-hex machine id.
    Id(MachineId),
    /// A computer (DNS) name, as typed (trimmed).
    Name(String),
}

/// Maximum length of a computer name we accept (DNS names are at most 253 characters).
pub const MAX_COMPUTER_NAME_CHARS: usize = 253;

/// Why text cannot name a machine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MachineRefError {
    /// Nothing was given.
    #[error("machine is empty; give a 40-character machine id or a computer name")]
    Empty,
    /// The name contains whitespace, which no computer name has.
    #[error(
        "computer name {name:?} contains whitespace at position {position}; \
         put one machine per line"
    )]
    Whitespace {
        /// The rejected name.
        name: String,
        /// 1-based character position.
        position: usize,
    },
    /// The name contains a control character.
    #[error("computer name contains a control character at position {position}")]
    ControlCharacter {
        /// 1-based character position.
        position: usize,
    },
    /// The name is too long to be a DNS name.
    #[error("computer name has {chars} characters; the maximum is {max}")]
    TooLong {
        /// Characters found.
        chars: usize,
        /// The limit.
        max: usize,
    },
}

impl MachineRef {
    /// Classifies trimmed text: 40 hex characters are an id, anything else a computer name.
    pub fn parse(input: &str) -> Result<Self, MachineRefError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(MachineRefError::Empty);
        }
        if MachineId::looks_like_id(s)
            && let Ok(id) = MachineId::parse(s)
        {
            return Ok(Self::Id(id));
        }
        if let Some(i) = s.chars().position(char::is_control) {
            return Err(MachineRefError::ControlCharacter { position: i + 1 });
        }
        if let Some(i) = s.chars().position(char::is_whitespace) {
            return Err(MachineRefError::Whitespace {
                name: s.to_owned(),
                position: i + 1,
            });
        }
        let chars = s.chars().count();
        if chars > MAX_COMPUTER_NAME_CHARS {
            return Err(MachineRefError::TooLong {
                chars,
                max: MAX_COMPUTER_NAME_CHARS,
            });
        }
        Ok(Self::Name(s.to_owned()))
    }

    /// The id or the name, as text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(id) => id.as_str(),
            Self::Name(n) => n,
        }
    }

    /// Whether this reference names `machine` (id equality, or case-insensitive computer name;
    /// a short name also matches the first label of a fully qualified one).
    pub fn matches(&self, machine: &Machine) -> bool {
        match self {
            Self::Id(id) => &machine.id == id,
            Self::Name(name) => machine.computer_dns_name.as_deref().is_some_and(|dns| {
                dns.eq_ignore_ascii_case(name)
                    || (!name.contains('.')
                        && dns
                            .split('.')
                            .next()
                            .is_some_and(|h| h.eq_ignore_ascii_case(name)))
            }),
        }
    }
}

impl fmt::Display for MachineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<MachineId> for MachineRef {
    fn from(id: MachineId) -> Self {
        Self::Id(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "556b3952acb0bff29816d267822305781cc183ec";

    #[test]
    fn minimal_machine_decodes_with_nulls_everywhere() {
        let json = format!(
            r#"{{"id":"{ID}","machineTags":null,"ipAddresses":null,"rbacGroupId":null,
                "lastSeen":null,"riskScore":null,"osBuild":null}}"#
        );
        let m: Machine = serde_json::from_str(&json).unwrap();
        assert!(m.machine_tags.is_empty());
        assert_eq!(m.rbac_group_id, None);
    }

    #[test]
    fn decoding_reads_every_field_it_encodes() {
        // Encoding writes every field (null when absent); a field the hand-written decoder
        // does not know would land in `extra` instead.
        let empty = Machine::new(MachineId::parse(ID).unwrap());
        let back: Machine = serde_json::from_value(serde_json::to_value(&empty).unwrap()).unwrap();
        assert!(
            back.extra.is_empty(),
            "unread fields: {:?}",
            back.extra.keys()
        );
        assert_eq!(back, empty);

        let full: Machine = serde_json::from_str(&format!(
            r#"{{"id":"{ID}","computerDnsName":"a.b","firstSeen":"2024-01-02T03:04:05.1234567Z",
            "lastSeen":"2024-02-03","osPlatform":"Windows11","osVersion":"10.0","osProcessor":"x64",
            "version":"23H2","osBuild":"22631","lastIpAddress":"10.0.0.1",
            "lastExternalIpAddress":"203.0.113.1","healthStatus":"SomethingNew","rbacGroupName":"G",
            "rbacGroupId":7,"riskScore":"High","aadDeviceId":"x","isAadJoined":true,
            "machineTags":["a","b"],"exposureLevel":"Low","deviceValue":"High",
            "ipAddresses":[{{"ipAddress":"10.0.0.1","macAddress":"AA","type":"Ethernet",
            "operationalStatus":"Up","futureNic":1}}],"osArchitecture":"64-bit",
            "onboardingStatus":"Onboarded","mergedIntoMachineId":null,"isPotentialDuplication":false,
            "isExcluded":true,"exclusionReason":"r","agentVersion":"1","defenderAvStatus":"Updated",
            "managedBy":"Intune","managedByStatus":"Success","vmMetadata":{{"vmId":"v"}},
            "futureField":[1,2.5,"x"],"@odata.context":"c"}}"#
        ))
        .unwrap();
        assert_eq!(full.os_build, Some(22631));
        assert_eq!(
            full.health_status,
            Some(HealthStatus::Other("SomethingNew".into()))
        );
        assert_eq!(full.ip_addresses[0].extra["futureNic"], 1);
        assert_eq!(
            full.extra.len(),
            2,
            "only the unknown fields: {:?}",
            full.extra.keys()
        );
        let again: Machine = serde_json::from_value(serde_json::to_value(&full).unwrap()).unwrap();
        assert_eq!(again, full);
    }

    #[test]
    fn malformed_machines_are_errors_naming_the_problem() {
        let cases = [
            (
                r#"{"computerDnsName":"x"}"#.to_owned(),
                "missing field `id`",
            ),
            (
                format!(r#"{{"id":"{ID}","id":"{ID}"}}"#),
                "duplicate field `id`",
            ),
            (
                format!(r#"{{"id":"{ID}","machineTags":"a"}}"#),
                "invalid type",
            ),
            (
                format!(r#"{{"id":"{ID}","osBuild":1.5}}"#),
                "expected an integer",
            ),
            (
                format!(r#"{{"id":"{ID}","lastSeen":"soon"}}"#),
                "not a date-time",
            ),
            (r#"{"id":"nope"}"#.to_owned(), "40"),
            (r#"[1]"#.to_owned(), "invalid type"),
        ];
        for (json, want) in cases {
            let e = serde_json::from_str::<Machine>(&json)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn rbac_group_id_accepts_number_and_numeric_string_only() {
        let m: Machine =
            serde_json::from_str(&format!(r#"{{"id":"{ID}","rbacGroupId":140}}"#)).unwrap();
        assert_eq!(m.rbac_group_id, Some(140));
        let m: Machine =
            serde_json::from_str(&format!(r#"{{"id":"{ID}","rbacGroupId":"7"}}"#)).unwrap();
        assert_eq!(m.rbac_group_id, Some(7));
        let e = serde_json::from_str::<Machine>(&format!(r#"{{"id":"{ID}","rbacGroupId":"x"}}"#))
            .unwrap_err();
        assert!(e.to_string().contains("expected an integer"), "{e}");
    }

    #[test]
    fn machine_ref_classifies() {
        assert!(matches!(
            MachineRef::parse(&ID.to_uppercase()),
            Ok(MachineRef::Id(_))
        ));
        assert_eq!(
            MachineRef::parse("  se-pov-desktop "),
            Ok(MachineRef::Name("se-pov-desktop".into()))
        );
        assert_eq!(MachineRef::parse(" "), Err(MachineRefError::Empty));
        let e = MachineRef::parse("two names").unwrap_err();
        assert!(e.to_string().contains("whitespace at position 4"), "{e}");
        assert!(matches!(
            MachineRef::parse(&"a".repeat(300)),
            Err(MachineRefError::TooLong { chars: 300, .. })
        ));
    }

    #[test]
    fn machine_ref_matches_names_case_insensitively() {
        let mut m = Machine::new(MachineId::parse(ID).unwrap());
        m.computer_dns_name = Some("WS-01.contoso.com".into());
        assert!(MachineRef::Name("ws-01".into()).matches(&m));
        assert!(MachineRef::Name("ws-01.CONTOSO.com".into()).matches(&m));
        assert!(!MachineRef::Name("ws-0".into()).matches(&m));
        assert!(MachineRef::Id(MachineId::parse(ID).unwrap()).matches(&m));
    }
}
