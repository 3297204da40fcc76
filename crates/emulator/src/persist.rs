//! `--data FILE`: machine state as JSON, written atomically (temp file + rename).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use defender_tags_core::Machine;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const FORMAT: u32 = 1;

#[derive(Serialize)]
struct DataFileOut<'a> {
    format: u32,
    machines: &'a [Machine],
}

#[derive(Deserialize)]
struct DataFileIn {
    format: u32,
    machines: Vec<Machine>,
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
    #[error("{path} has data format {found}; this emulator reads format {FORMAT}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format number.
        found: u32,
    },
}

/// Loads the machines saved in `path`; `Ok(None)` if the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Vec<Machine>>, PersistError> {
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
    let file: DataFileIn = serde_json::from_slice(&bytes).map_err(|source| PersistError::Json {
        path: path.into(),
        source,
    })?;
    if file.format != FORMAT {
        return Err(PersistError::Format {
            path: path.into(),
            found: file.format,
        });
    }
    Ok(Some(file.machines))
}

/// Serialises machines for [`write_atomic`] (done under the store's read lock).
pub fn encode(machines: &[Machine]) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&DataFileOut {
        format: FORMAT,
        machines,
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
        write_atomic(&path, &encode(&ms).unwrap()).unwrap();
        assert_eq!(load(&path).unwrap().unwrap(), ms);
        std::fs::write(&path, b"{\"format\":2,\"machines\":[]}").unwrap();
        assert!(matches!(
            load(&path),
            Err(PersistError::Format { found: 2, .. })
        ));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Json { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
