//! Request and response bodies with the API's exact casing (docs/defender-api.md §2, §4, §5, §7).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{MachineId, Tag, TagAction};

/// Maximum machine ids in one bulk call ("up to 500 machines per API call").
pub const MAX_BULK_IDS: usize = 500;
/// Maximum `$top` for list machines ("Maximum page size is 10,000").
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// Body of `POST /api/machines/{id}/tags`: `{"Value": ..., "Action": ...}`.
///
/// The service's body parameters are case-sensitive (common-errors.md), hence the PascalCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagBody {
    /// The tag.
    #[serde(rename = "Value")]
    pub value: Tag,
    /// Add or remove.
    #[serde(rename = "Action")]
    pub action: TagAction,
}

/// Body of `POST /api/machines/AddOrRemoveTagForMultipleMachines`:
/// `{"Value", "Action", "MachineIds"}` with 1..=500 distinct ids, checked at construction and
/// when decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBulkTagBody")]
pub struct BulkTagBody {
    #[serde(rename = "Value")]
    value: Tag,
    #[serde(rename = "Action")]
    action: TagAction,
    #[serde(rename = "MachineIds")]
    machine_ids: Vec<MachineId>,
}

#[derive(Deserialize)]
struct RawBulkTagBody {
    #[serde(rename = "Value")]
    value: Tag,
    #[serde(rename = "Action")]
    action: TagAction,
    #[serde(rename = "MachineIds")]
    machine_ids: Vec<MachineId>,
}

impl TryFrom<RawBulkTagBody> for BulkTagBody {
    type Error = BulkBodyError;
    fn try_from(raw: RawBulkTagBody) -> Result<Self, Self::Error> {
        Self::new(raw.value, raw.action, raw.machine_ids)
    }
}

/// Why a bulk body cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BulkBodyError {
    /// No machine ids.
    #[error("bulk tag request has no machine ids; select at least one machine")]
    NoMachines,
    /// More than [`MAX_BULK_IDS`] distinct ids.
    #[error(
        "bulk tag request has {count} machine ids; the API allows at most {max} per call, \
         split the list (the planner does this for you)"
    )]
    TooManyMachines {
        /// Distinct ids given.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl BulkTagBody {
    /// Builds a bulk body. Duplicate ids are dropped (first occurrence kept) before the
    /// 1..=500 check, so the count that matters is the number of distinct machines.
    pub fn new(
        value: Tag,
        action: TagAction,
        machine_ids: Vec<MachineId>,
    ) -> Result<Self, BulkBodyError> {
        let mut seen = std::collections::HashSet::with_capacity(machine_ids.len());
        let machine_ids: Vec<MachineId> = machine_ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        match machine_ids.len() {
            0 => Err(BulkBodyError::NoMachines),
            n if n > MAX_BULK_IDS => Err(BulkBodyError::TooManyMachines {
                count: n,
                max: MAX_BULK_IDS,
            }),
            _ => Ok(Self {
                value,
                action,
                machine_ids,
            }),
        }
    }

    /// The tag.
    pub fn value(&self) -> &Tag {
        &self.value
    }

    /// The action.
    pub fn action(&self) -> TagAction {
        self.action
    }

    /// The distinct machine ids (1..=500).
    pub fn machine_ids(&self) -> &[MachineId] {
        &self.machine_ids
    }
}

/// The OData collection envelope: `{"@odata.context", "value", "@odata.nextLink"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ODataList<T> {
    /// Metadata URL, e.g. `https://api.security.microsoft.com/api/$metadata#Machines`.
    #[serde(
        rename = "@odata.context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// Absolute URL of the next page, when the service pages.
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
}

impl<T> ODataList<T> {
    /// A single page with no context and no next link.
    pub fn new(value: Vec<T>) -> Self {
        Self {
            context: None,
            value,
            next_link: None,
        }
    }
}

impl<T> Default for ODataList<T> {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

/// The error envelope: `{"error": {"code", "message", "target"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The inside of [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `ResourceNotFound`, `InvalidRequestBody`.
    #[serde(default)]
    pub code: String,
    /// Free text; Microsoft says it can change, so never match on it.
    #[serde(default)]
    pub message: String,
    /// Correlation id to quote to Microsoft support.
    #[serde(default)]
    pub target: Option<String>,
}

impl ErrorEnvelope {
    /// Builds an envelope (used by the emulator).
    pub fn new(
        code: impl Into<String>,
        message: impl Into<String>,
        target: Option<String>,
    ) -> Self {
        Self {
            error: ErrorBody {
                code: code.into(),
                message: message.into(),
                target,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    #[test]
    fn tag_body_uses_pascal_case() {
        let body = TagBody {
            value: Tag::parse("t").unwrap(),
            action: TagAction::Add,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"Value":"t","Action":"Add"}"#
        );
        assert!(serde_json::from_str::<TagBody>(r#"{"value":"t","Action":"Add"}"#).is_err());
    }

    #[test]
    fn bulk_body_limits_are_checked_when_decoding_too() {
        let tag = Tag::parse("t").unwrap();
        assert_eq!(
            BulkTagBody::new(tag.clone(), TagAction::Add, vec![]),
            Err(BulkBodyError::NoMachines)
        );
        let ids: Vec<_> = (0..501).map(id).collect();
        let e = BulkTagBody::new(tag.clone(), TagAction::Add, ids.clone()).unwrap_err();
        assert!(e.to_string().contains("501 machine ids"), "{e}");
        let json = serde_json::json!({"Value": "t", "Action": "Add", "MachineIds": ids});
        let e = serde_json::from_value::<BulkTagBody>(json).unwrap_err();
        assert!(e.to_string().contains("at most 500"), "{e}");
        let dup = BulkTagBody::new(tag, TagAction::Add, vec![id(1), id(1), id(2)]).unwrap();
        assert_eq!(dup.machine_ids(), &[id(1), id(2)]);
    }

    #[test]
    fn odata_list_envelope_names() {
        let list: ODataList<u32> = serde_json::from_str(
            r#"{"@odata.context":"c","value":[1,2],"@odata.nextLink":"https://x/next"}"#,
        )
        .unwrap();
        assert_eq!(list.value, vec![1, 2]);
        assert_eq!(list.next_link.as_deref(), Some("https://x/next"));
        let out = serde_json::to_string(&ODataList::new(vec![1])).unwrap();
        assert_eq!(out, r#"{"value":[1]}"#);
    }
}
