//! Domain types: machine ids, tags, tag actions, the machine entity and its enums.

pub mod datetime;
mod enums;
mod id;
mod machine;
mod tag;
mod wire_str;

pub use enums::{
    DeviceValue, DeviceValueError, ExposureLevel, HealthStatus, OnboardingStatus,
    OperationalStatus, RiskScore,
};
pub use id::{MACHINE_ID_LEN, MachineId, MachineIdError};
pub use machine::{
    IpAddress, ListedMachine, MAX_COMPUTER_NAME_CHARS, Machine, MachineRef, MachineRefError,
    TaggedMachine, keep_listed_fields,
};
pub use tag::{
    MAX_TAG_CHARS, PORTAL_FILTER_BREAKERS, Tag, TagAction, TagActionError, TagError, TagWarning,
    eq_ignore_case, portal_filter_breakers, starts_with_ignore_case,
};
