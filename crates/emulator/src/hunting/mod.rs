//! Microsoft Graph's advanced hunting call, as the emulator serves it.

pub mod kql;
