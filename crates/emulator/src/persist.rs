//! `--data FILE`: every tenant's machine state as JSON, written atomically (temp file + rename).
//!
//! Format 2 is `{"format": 2, "tenants": [{"id", "machines": [...]}]}`. Format 1 (one tenant,
//! `{"format": 1, "machines": [...]}`, written before the emulator served several tenants) is
//! still read, as the demo tenant's machines.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use defender_tags_core::Machine;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const FORMAT: u32 = 2;
const FORMAT_ONE_TENANT: u32 = 1;

#[derive(Serialize)]
struct DataFileOut<'a> {
    format: u32,
    tenants: Vec<TenantOut<'a>>,
}

#[derive(Serialize)]
struct TenantOut<'a> {
    id: &'a str,
    machines: &'a [Machine],
}

/// The format number first, so a file of another version is named as such rather than
/// failing on a missing field.
#[derive(Deserialize)]
struct Version {
    format: u32,
}

#[derive(Deserialize)]
struct DataFileV1 {
    machines: Vec<Machine>,
}

#[derive(Deserialize)]
struct DataFileV2 {
    tenants: Vec<TenantIn>,
}

/// One tenant's saved machines.
#[derive(Debug, Deserialize)]
pub struct TenantIn {
    /// Tenant id.
    pub id: String,
    /// Its machines.
    pub machines: Vec<Machine>,
}

/// Loading or saving the data file failed.
#[derive(Debug, Error)]
pub enum PersistError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a data file we wrote.
    #[error("{path} is not an emulator data file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Written by an incompatible version.
    #[error(
        "{path} has data format {found}; this emulator reads formats {FORMAT_ONE_TENANT} and {FORMAT}"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format number.
        found: u32,
    },
}

/// Loads the tenants saved in `path`; `Ok(None)` if the file does not exist yet. A format-1 file
/// gives the demo tenant's machines.
pub fn load(path: &Path) -> Result<Option<Vec<TenantIn>>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.into(),
                source,
            });
        }
    };
    let json = |source| PersistError::Json {
        path: path.into(),
        source,
    };
    let version: Version = serde_json::from_slice(&bytes).map_err(json)?;
    match version.format {
        FORMAT => {
            let file: DataFileV2 = serde_json::from_slice(&bytes).map_err(json)?;
            Ok(Some(file.tenants))
        }
        FORMAT_ONE_TENANT => {
            let file: DataFileV1 = serde_json::from_slice(&bytes).map_err(json)?;
            Ok(Some(vec![TenantIn {
                id: crate::DEMO_TENANT.to_owned(),
                machines: file.machines,
            }]))
        }
        found => Err(PersistError::Format {
            path: path.into(),
            found,
        }),
    }
}

/// Serialises `(tenant id, machines)` pairs for [`write_atomic`] (done under the stores' read
/// locks).
pub fn encode(tenants: &[(&str, &[Machine])]) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&DataFileOut {
        format: FORMAT,
        tenants: tenants
            .iter()
            .map(|(id, machines)| TenantOut { id, machines })
            .collect(),
    })
}

/// Writes `bytes` to `path` via a temporary file in the same directory and a rename, so a crash
/// leaves either the old or the new file, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: path.into(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_corrupt_files() {
        let dir = std::env::temp_dir().join(format!("emu-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let _ = std::fs::remove_file(&path);
        assert!(load(&path).unwrap().is_none());
        let ms = crate::dataset::generate(20, 1);
        let other = crate::dataset::generate(5, 2);
        let ids = [crate::DEMO_TENANT, crate::SECOND_TENANT];
        write_atomic(&path, &encode(&[(ids[0], &ms), (ids[1], &other)]).unwrap()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!((loaded[0].id.as_str(), &loaded[0].machines), (ids[0], &ms));
        assert_eq!(
            (loaded[1].id.as_str(), &loaded[1].machines),
            (ids[1], &other)
        );

        // A file written before there were several tenants is the demo tenant's.
        let v1 = serde_json::json!({ "format": 1, "machines": ms });
        std::fs::write(&path, v1.to_string()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!((loaded[0].id.as_str(), &loaded[0].machines), (ids[0], &ms));

        std::fs::write(&path, b"{\"format\":3,\"tenants\":[]}").unwrap();
        assert!(matches!(
            load(&path),
            Err(PersistError::Format { found: 3, .. })
        ));
        std::fs::write(&path, b"{\"format\":2,\"machines\":[]}").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Json { .. })));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Json { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
