//! defender-tags-core: the Microsoft Defender for Endpoint machine-tag domain, with no I/O.
//!
//! Everything here is pure and synchronous, so it compiles natively and to wasm32 alike:
//! transports (the wasm client, the emulator's tests) build [`api::ApiRequest`]s with this crate,
//! send them however they like, and hand the `(status, headers, body)` back to it for decoding.
//!
//! Clocks are injected (Unix epoch milliseconds) and nothing calls `now()`.
#![deny(missing_docs)]

pub mod api;
pub mod cloud;
pub mod import;
pub mod inventory;
pub mod model;
pub mod odata;
pub mod plan;
pub mod query;
pub mod throttle;
pub mod wire;

pub use api::{ApiError, ApiRequest, ListQuery, Method};
pub use cloud::{BaseUrl, BaseUrlError, Cloud, CloudConfig, DEFAULT_SCOPE, Region};
pub use import::{ImportError, ImportResult, ImportRow, parse_machine_list};
pub use inventory::{Inventory, inventory};
pub use model::{
    DeviceValue, ExposureLevel, HealthStatus, IpAddress, Machine, MachineId, MachineIdError,
    MachineRef, MachineRefError, OnboardingStatus, OperationalStatus, RiskScore, Tag, TagAction,
    TagError, TagWarning,
};
pub use odata::{CmpOp, Field, Filter, Literal, ODataError};
pub use plan::{ExpectedOutcome, MachineState, Plan, PlannedCall, plan};
pub use query::{MachineQuery, TextQuery};
pub use wire::{
    BulkBodyError, BulkTagBody, ErrorBody, ErrorEnvelope, MAX_BULK_IDS, MAX_PAGE_SIZE, ODataList,
    TagBody,
};
