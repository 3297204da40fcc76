//! Where each tag of a machine comes from: set by hand (portal or API), by the registry value
//! on the device, or by a dynamic (asset) rule — read from advanced hunting's `DeviceInfo`.
//!
//! Only manual tags can be removed through the API for good: a registry tag comes back with the
//! device's next report, and a rule tag is re-applied by its rule (docs/defender-api.md §6,
//! §14). So the UI asks this before offering a removal.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use thiserror::Error;

use super::HuntingQuery;
use super::decode::{Cell, HuntingResult};
use super::devices::DEVICE_ID_COLUMN;
use crate::model::MachineId;

/// `DeviceInfo` column with the tag set through the device's registry value (documented).
pub const REGISTRY_TAG_COLUMN: &str = "RegistryDeviceTag";
/// `DeviceInfo` column with the tags set by hand in the portal or through the API. Not in
/// Microsoft's table reference (**unconfirmed**: named by community queries and connectors);
/// change it here if the schema says otherwise.
pub const MANUAL_TAGS_COLUMN: &str = "DeviceManualTags";
/// `DeviceInfo` column with the tags set by dynamic (asset) rules (**unconfirmed**, as
/// [`MANUAL_TAGS_COLUMN`]).
pub const DYNAMIC_TAGS_COLUMN: &str = "DeviceDynamicTags";

/// Machine ids per provenance query: 200 ids of 43 characters each (quotes and comma) keep the
/// query under [`super::MAX_QUERY_CHARS`].
pub const PROVENANCE_CHUNK: usize = 200;

/// Where a tag comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagSource {
    /// Set by hand in the portal or through the API: the API can remove it.
    Manual,
    /// Set through the registry value on the device (or its managed equivalent): removing it
    /// through the API does not stick; clear the value on the device.
    Registry,
    /// Set by a dynamic (asset) rule: it cannot be removed by hand; change the rule.
    Rule,
}

impl TagSource {
    /// Lowercase name for chips and exports: `manual`, `registry`, `rule`.
    pub fn as_str(self) -> &'static str {
        match self {
            TagSource::Manual => "manual",
            TagSource::Registry => "registry",
            TagSource::Rule => "rule",
        }
    }

    /// What removing `tag` of this source through the API does, and what would actually
    /// remove it (for the planner's warnings and the chips' descriptions).
    pub fn removal_advice(self, tag: &str) -> String {
        match self {
            TagSource::Manual => format!(
                "manual tag \u{201c}{tag}\u{201d}: set by hand in the portal or through the API; \
                 removing it through the API sticks"
            ),
            TagSource::Registry => format!(
                "registry tag \u{201c}{tag}\u{201d}: set by the device's registry value \
                 (DeviceTagging\\Group); removing it through the API will not stick, it comes \
                 back at the device's next report (about daily) \u{2014} change the registry \
                 value on the device"
            ),
            TagSource::Rule => format!(
                "rule tag \u{201c}{tag}\u{201d}: set by a dynamic (asset) rule; removing it \
                 through the API will not stick, the rule re-applies it (about hourly) \u{2014} \
                 remove or change the dynamic rule in the Defender portal"
            ),
        }
    }
}

/// The tags of one machine by source, as hunting data saw them at its latest `DeviceInfo`
/// report (at most [`super::LOOKBACK_DAYS`] old; hourly to daily behind the API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MachineTagSources {
    /// Tags set by hand.
    pub manual: Vec<String>,
    /// The registry tag(s).
    pub registry: Vec<String>,
    /// Rule tags.
    pub rule: Vec<String>,
}

impl MachineTagSources {
    /// Every source `tag` has (ASCII case ignored, as the portal's tag filter does); empty when
    /// hunting data does not know the tag (e.g. added after the latest report).
    pub fn sources_of(&self, tag: &str) -> Vec<TagSource> {
        let has = |list: &[String]| list.iter().any(|t| t.eq_ignore_ascii_case(tag));
        let mut out = Vec::new();
        if has(&self.manual) {
            out.push(TagSource::Manual);
        }
        if has(&self.registry) {
            out.push(TagSource::Registry);
        }
        if has(&self.rule) {
            out.push(TagSource::Rule);
        }
        out
    }

    /// Whether removing `tag` through the API would stick: false when the registry or a rule
    /// sets it (whatever else does too).
    pub fn removal_sticks(&self, tag: &str) -> bool {
        !self
            .sources_of(tag)
            .iter()
            .any(|s| matches!(s, TagSource::Registry | TagSource::Rule))
    }

    fn merge(&mut self, other: MachineTagSources) {
        for (mine, theirs) in [
            (&mut self.manual, other.manual),
            (&mut self.registry, other.registry),
            (&mut self.rule, other.rule),
        ] {
            for t in theirs {
                if !mine.contains(&t) {
                    mine.push(t);
                }
            }
        }
    }
}

/// The decoded provenance of a set of machines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagProvenance {
    /// Per machine found in hunting data. A loaded machine absent here was not seen in the
    /// lookback window: its tags' sources are unknown.
    pub machines: BTreeMap<MachineId, MachineTagSources>,
    /// Tag columns the result lacked (their source reads as "not this one").
    pub missing_columns: Vec<&'static str>,
    /// Rows whose DeviceId is not a machine id.
    pub skipped_rows: usize,
}

impl TagProvenance {
    /// The sources of `tag` on machine `id` (`None`: the machine is not in hunting data).
    pub fn sources_of(&self, id: &MachineId, tag: &str) -> Option<Vec<TagSource>> {
        self.machines.get(id).map(|m| m.sources_of(tag))
    }

    /// Adds another chunk's answer.
    pub fn extend(&mut self, other: TagProvenance) {
        for (id, sources) in other.machines {
            self.machines.entry(id).or_default().merge(sources);
        }
        for c in other.missing_columns {
            if !self.missing_columns.contains(&c) {
                self.missing_columns.push(c);
            }
        }
        self.skipped_rows += other.skipped_rows;
    }
}

/// A result that cannot be read as provenance.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProvenanceError {
    /// No `DeviceId` column.
    #[error(
        "the tag-source query's result has no DeviceId column (its columns: {})",
        .columns.join(", ")
    )]
    NoDeviceId {
        /// The columns it has.
        columns: Vec<String>,
    },
}

/// The queries asking where the tags of `ids` come from, [`PROVENANCE_CHUNK`] machines each
/// (duplicates dropped, order kept). Empty for no ids.
pub fn provenance_queries(ids: &[MachineId]) -> Vec<HuntingQuery> {
    let mut seen = HashSet::new();
    let unique: Vec<&MachineId> = ids.iter().filter(|id| seen.insert(id.as_str())).collect();
    unique
        .chunks(PROVENANCE_CHUNK)
        .map(|chunk| {
            // Ids are 40 hex characters: no quoting problem, and the length is bounded, so the
            // query is built directly rather than through HuntingQuery::parse.
            let list: Vec<String> = chunk.iter().map(|id| format!("\"{id}\"")).collect();
            HuntingQuery(format!(
                "DeviceInfo\n| where DeviceId in ({})\n| summarize arg_max(Timestamp, *) by \
                 DeviceId\n| project DeviceId, {REGISTRY_TAG_COLUMN}, {MANUAL_TAGS_COLUMN}, \
                 {DYNAMIC_TAGS_COLUMN}",
                list.join(", ")
            ))
        })
        .collect()
}

/// The one query asking where the tags of the loaded machines `ids` come from. Up to
/// [`PROVENANCE_CHUNK`] distinct ids, it names them (`where DeviceId in (...)`); beyond, it asks
/// for every device of the tenant instead (`summarize arg_max(Timestamp, *) by DeviceId`, one
/// row per device). Why not one query per chunk: 100,000 loaded machines would be 500 calls,
/// over eleven minutes of the 45 calls/min hunting quota, for one page of chips. The
/// tenant-wide query is one call whatever the number of machines, at most one row per device
/// (so within [`super::MAX_ROWS`] for a tenant of up to 100,000 devices seen in 30 days;
/// beyond, the decoder refuses the answer as too many rows and the sources stay unknown), and
/// about 100 bytes per row (some 10 MB at 100,000, far under [`super::MAX_RESPONSE_BYTES`]).
/// The second value says whether the query covers the whole tenant.
pub fn provenance_query(ids: &[MachineId]) -> (HuntingQuery, bool) {
    let mut seen = HashSet::new();
    let distinct = ids.iter().filter(|id| seen.insert(id.as_str())).count();
    if distinct <= PROVENANCE_CHUNK
        && let Some(q) = provenance_queries(ids).into_iter().next()
    {
        return (q, false);
    }
    (
        HuntingQuery(format!(
            "DeviceInfo\n| summarize arg_max(Timestamp, *) by DeviceId\n| project DeviceId, \
             {REGISTRY_TAG_COLUMN}, {MANUAL_TAGS_COLUMN}, {DYNAMIC_TAGS_COLUMN}"
        )),
        true,
    )
}

/// A tag cell as a list: null or blank = none; a JSON array (the manual and dynamic columns
/// hold one as text, **observed** in community data) = its strings; other text = one tag.
pub fn parse_tag_list(cell: &Cell) -> Vec<String> {
    let from_array = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let text = match cell {
        Cell::String(s) => s.as_str(),
        Cell::Dynamic(Value::String(s)) => s.as_str(),
        Cell::Dynamic(Value::Array(items)) => return from_array(items),
        _ => return Vec::new(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if text.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text)
    {
        return from_array(&items);
    }
    vec![text.to_owned()]
}

/// Reads the answer of a [`provenance_queries`] query (any result with `DeviceId` and some of
/// the tag columns will do). Several rows for one machine are merged.
pub fn decode_provenance(result: &HuntingResult) -> Result<TagProvenance, ProvenanceError> {
    let id_col =
        result
            .column_index(DEVICE_ID_COLUMN)
            .ok_or_else(|| ProvenanceError::NoDeviceId {
                columns: result.column_names(),
            })?;
    let mut out = TagProvenance::default();
    let cols: Vec<(&'static str, Option<usize>)> =
        [MANUAL_TAGS_COLUMN, REGISTRY_TAG_COLUMN, DYNAMIC_TAGS_COLUMN]
            .into_iter()
            .map(|name| (name, result.column_index(name)))
            .collect();
    out.missing_columns = cols
        .iter()
        .filter(|(_, i)| i.is_none())
        .map(|(n, _)| *n)
        .collect();
    let list = |row: &[Cell], i: Option<usize>| -> Vec<String> {
        i.and_then(|i| row.get(i))
            .map(parse_tag_list)
            .unwrap_or_default()
    };
    for row in &result.rows {
        let id = row
            .get(id_col)
            .and_then(Cell::as_str)
            .and_then(|s| MachineId::parse(s.trim()).ok());
        let Some(id) = id else {
            out.skipped_rows += 1;
            continue;
        };
        let sources = MachineTagSources {
            manual: list(row, cols[0].1),
            registry: list(row, cols[1].1),
            rule: list(row, cols[2].1),
        };
        out.machines.entry(id).or_default().merge(sources);
    }
    Ok(out)
}
