//! defender-tags-core: the Microsoft Defender for Endpoint machine-tag domain, with no I/O.
//!
//! Everything here is pure and synchronous, so it compiles natively and to wasm32 alike:
//! transports (the wasm client, the emulator's tests) build [`api::ApiRequest`]s with this crate,
//! send them however they like, and hand the `(status, headers, body)` back to it for decoding.
//!
//! Clocks are injected (Unix epoch milliseconds) and nothing calls `now()`.
//!
//! ```
//! use defender_tags_core::api::{self, ListQuery};
//! use defender_tags_core::odata::{self, Field, Filter};
//! use defender_tags_core::plan::{MachineState, plan};
//! use defender_tags_core::{BaseUrl, Tag, TagAction};
//!
//! // Find high-risk machines that do not carry the tag yet.
//! let base = BaseUrl::parse("https://api.security.microsoft.com")?;
//! let filter = Filter::eq(Field::RiskScore, "High").and(Filter::has_tag("Quarantine").not());
//! let query = ListQuery::new().with_filter(Some(filter)).with_top(500)?;
//! let request = api::list_machines(&query);
//! assert!(request.url(&base).starts_with("https://api.security.microsoft.com/api/machines?$filter="));
//!
//! // ... the transport sends it and hands back status, headers and body:
//! let body = br#"{"value": [{"id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
//!                            "riskScore": "High", "machineTags": ["VIP"]}]}"#;
//! let page = api::decode_list_machines(200, &[("Content-Type", "application/json")], body)?;
//! assert!(page.value.iter().all(|m| query.filter().is_some_and(|f| f.matches(m))));
//!
//! // Plan the change: the fewest calls, and the plan that undoes it.
//! let tag = Tag::parse("Quarantine")?;
//! let states: Vec<MachineState> = page.value.iter().map(MachineState::from).collect();
//! let change = plan(&tag, TagAction::Add, &states);
//! assert_eq!(change.calls.len(), 1);
//! assert_eq!(change.calls[0].to_request().path,
//!            "/api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/tags");
//! assert_eq!(change.inverse().action, TagAction::Remove);
//! # assert_eq!(odata::parse(&odata::render(query.filter().unwrap()))?, *query.filter().unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod cloud;
pub mod device_value;
pub mod fresh;
pub mod hunting;
pub mod import;
pub mod inventory;
pub mod model;
pub mod odata;
pub mod plan;
pub mod query;
pub mod rules;
pub mod site_config;
pub mod throttle;
pub mod wire;

pub use api::{ApiError, ApiRequest, ListQuery, Method};
pub use cloud::{BaseUrl, BaseUrlError, Cloud, CloudConfig, DEFAULT_SCOPE, Region};
pub use import::{ImportError, ImportRefused, ImportResult, ImportRow, parse_machine_list};
pub use inventory::{Inventory, inventory};
pub use model::{
    DeviceValue, DeviceValueError, ExposureLevel, HealthStatus, IpAddress, Machine, MachineId,
    MachineIdError, MachineRef, MachineRefError, OnboardingStatus, OperationalStatus, RiskScore,
    Tag, TagAction, TagError, TagWarning, TaggedMachine,
};
pub use odata::{CmpOp, Field, Filter, Literal, ODataError};
pub use plan::{ExpectedOutcome, MachineState, Plan, PlannedCall, plan};
pub use query::{MachineQuery, Matcher, SeenWithin, ServerQuery, TextQuery};
pub use site_config::{ConfigError, SiteConfig, TenantConfig};
pub use wire::{
    BulkBodyError, BulkTagBody, ErrorBody, ErrorEnvelope, MAX_BULK_IDS, MAX_PAGE_SIZE, ODataList,
    TagBody,
};
