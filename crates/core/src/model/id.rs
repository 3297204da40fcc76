//! `MachineId`: the 40-hex-character Defender device id, parsed once and stored lowercase.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Number of hex characters in a Defender machine id (a SHA-1 sized value).
pub const MACHINE_ID_LEN: usize = 40;

/// A Defender for Endpoint machine (device) id: exactly 40 hex characters.
///
/// Always stored lowercase, so two ids that differ only in case compare equal and the
/// same id is never sent twice in one bulk call. Input is not trimmed: callers that read
/// user text (see [`crate::import`]) trim before parsing.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MachineId(String);

/// Why a string is not a machine id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MachineIdError {
    /// The input was empty.
    #[error("machine id is empty; expected 40 hex characters")]
    Empty,
    /// The input does not have 40 characters.
    #[error("machine id has {len} characters; expected exactly 40 hex characters")]
    WrongLength {
        /// Number of characters found.
        len: usize,
    },
    /// A character is not `0-9`, `a-f` or `A-F`.
    #[error(
        "machine id has a non-hex character {found:?} at position {position}; \
         only 0-9 and a-f are allowed"
    )]
    NotHex {
        /// 1-based character position of the first offending character.
        position: usize,
        /// The offending character.
        found: char,
    },
}

impl MachineId {
    /// Parses and normalises (lowercases) a machine id.
    pub fn parse(input: &str) -> Result<Self, MachineIdError> {
        if input.is_empty() {
            return Err(MachineIdError::Empty);
        }
        let len = input.chars().count();
        if len != MACHINE_ID_LEN {
            return Err(MachineIdError::WrongLength { len });
        }
        if let Some((i, c)) = input
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(MachineIdError::NotHex {
                position: i + 1,
                found: c,
            });
        }
        Ok(Self(input.to_ascii_lowercase()))
    }

    /// Whether `input` would parse as a machine id (used to tell ids from computer names).
    pub fn looks_like_id(input: &str) -> bool {
        input.len() == MACHINE_ID_LEN && input.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The normalised (lowercase) id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 20 bytes the 40 hex characters spell (half the size, for packed columns).
    pub fn to_bytes(&self) -> [u8; MACHINE_ID_LEN / 2] {
        let mut out = [0u8; MACHINE_ID_LEN / 2];
        for (o, pair) in out.iter_mut().zip(self.0.as_bytes().chunks_exact(2)) {
            *o = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        out
    }
}

/// The value of a lowercase hex digit (a parsed id holds nothing else).
fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c.wrapping_sub(b'a').wrapping_add(10),
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MachineId({})", self.0)
    }
}

impl FromStr for MachineId {
    type Err = MachineIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for MachineId {
    type Error = MachineIdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for MachineId {
    type Error = MachineIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl AsRef<str> for MachineId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for MachineId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl MachineId {
    /// An empty (so invalid, and allocation-free) id, only as a stand-in while a machine is being decoded (it is always
    /// replaced by the decoded id, or decoding fails with "missing field `id`").
    pub(crate) fn placeholder() -> Self {
        Self(String::new())
    }
}

impl<'de> Deserialize<'de> for MachineId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::wire_str::parse_str(deserializer, Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";

    #[test]
    fn parses_and_lowercases() {
        let id = MachineId::parse(&ID.to_ascii_uppercase()).unwrap();
        assert_eq!(id.as_str(), ID);
        assert_eq!(id, MachineId::parse(ID).unwrap());
    }

    #[test]
    fn each_bad_input_has_its_own_error() {
        assert_eq!(MachineId::parse(""), Err(MachineIdError::Empty));
        assert_eq!(
            MachineId::parse("abc"),
            Err(MachineIdError::WrongLength { len: 3 })
        );
        let bad = format!("{}g", &ID[..39]);
        assert_eq!(
            MachineId::parse(&bad),
            Err(MachineIdError::NotHex {
                position: 40,
                found: 'g'
            })
        );
        let msg = MachineId::parse(&bad).unwrap_err().to_string();
        assert!(msg.contains("'g'") && msg.contains("position 40"), "{msg}");
    }

    #[test]
    fn bytes_spell_the_hex() {
        let id = MachineId::parse(&ID.to_ascii_uppercase()).unwrap();
        let bytes = id.to_bytes();
        assert_eq!(bytes[0], 0x1e);
        assert_eq!(bytes[19], 0x07);
        let back: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(back, ID);
        let all = MachineId::parse("0123456789abcdefABCDEF0123456789abcdef00").unwrap();
        assert_eq!(
            all.to_bytes()[..8],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
    }

    #[test]
    fn serde_validates() {
        let ok: MachineId = serde_json::from_str(&format!("\"{ID}\"")).unwrap();
        assert_eq!(ok.as_str(), ID);
        let err = serde_json::from_str::<MachineId>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("4 characters"), "{err}");
    }
}
