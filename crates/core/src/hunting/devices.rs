//! The machines a hunting query found: its `DeviceId` (else `DeviceName`) column, one entry per
//! machine in the order the query returned them.

use std::collections::HashSet;

use thiserror::Error;

use super::decode::{Cell, HuntingResult};
use crate::model::{MachineId, MachineRef};

/// Column holding the Defender machine id (40 hex characters, the API's machine id).
pub const DEVICE_ID_COLUMN: &str = "DeviceId";
/// Column holding the machine's name (an FQDN in hunting data).
pub const DEVICE_NAME_COLUMN: &str = "DeviceName";

/// A result that names no machine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceColumnsError {
    /// Neither `DeviceId` nor `DeviceName` is among the columns.
    #[error(
        "the query's result has no DeviceId or DeviceName column (its columns: {}); keep one, \
         e.g. end the query with `| project DeviceId, DeviceName`",
        if .columns.is_empty() { "none".to_owned() } else { .columns.join(", ") }
    )]
    NoDeviceColumn {
        /// The columns the result has.
        columns: Vec<String>,
    },
}

/// One machine a query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuntedDevice {
    /// By id when the result has `DeviceId`, else by name (resolve it before tagging).
    pub machine: MachineRef,
    /// The `DeviceName` of its first row, when present.
    pub name: Option<String>,
    /// 1-based row of its first appearance.
    pub row: usize,
}

/// Why a row named no machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The device cell is null, empty or not text.
    NoDevice,
    /// `DeviceId` is not a Defender machine id (e.g. a device seen only by another product).
    NotAMachineId(String),
}

/// A row that named no machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// 1-based row.
    pub row: usize,
    /// Why.
    pub reason: SkipReason,
}

/// The machines of a result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HuntedDevices {
    /// One per machine, first appearance first.
    pub devices: Vec<HuntedDevice>,
    /// Rows naming no machine.
    pub skipped: Vec<SkippedRow>,
    /// Rows naming a machine already listed (hunting tables have one row per event or report).
    pub duplicate_rows: usize,
}

impl HuntingResult {
    /// The machines the result names, de-duplicated (by id, or by name ignoring case when the
    /// result has only `DeviceName`), in row order.
    pub fn devices(&self) -> Result<HuntedDevices, DeviceColumnsError> {
        let id_col = self.column_index(DEVICE_ID_COLUMN);
        let name_col = self.column_index(DEVICE_NAME_COLUMN);
        if id_col.is_none() && name_col.is_none() {
            return Err(DeviceColumnsError::NoDeviceColumn {
                columns: self.column_names(),
            });
        }
        let text = |row: &[Cell], col: Option<usize>| -> Option<String> {
            let s = row.get(col?)?.as_str()?.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let mut out = HuntedDevices::default();
        let mut seen: HashSet<String> = HashSet::new();
        for (i, row) in self.rows.iter().enumerate() {
            let row_no = i + 1;
            let name = text(row, name_col);
            let (machine, key) = if id_col.is_some() {
                let Some(raw) = text(row, id_col) else {
                    out.skipped.push(SkippedRow {
                        row: row_no,
                        reason: SkipReason::NoDevice,
                    });
                    continue;
                };
                match MachineId::parse(&raw) {
                    Ok(id) => {
                        let key = id.as_str().to_owned();
                        (MachineRef::Id(id), key)
                    }
                    Err(_) => {
                        out.skipped.push(SkippedRow {
                            row: row_no,
                            reason: SkipReason::NotAMachineId(raw),
                        });
                        continue;
                    }
                }
            } else {
                let Some(n) = name.clone() else {
                    out.skipped.push(SkippedRow {
                        row: row_no,
                        reason: SkipReason::NoDevice,
                    });
                    continue;
                };
                let key = n.to_lowercase();
                (MachineRef::Name(n), key)
            };
            if !seen.insert(key) {
                out.duplicate_rows += 1;
                continue;
            }
            out.devices.push(HuntedDevice {
                machine,
                name,
                row: row_no,
            });
        }
        Ok(out)
    }
}
