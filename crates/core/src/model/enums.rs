//! The API's enum-like string fields. Each keeps values we do not know as `Other(String)`,
//! because Microsoft adds values without notice and a tagging tool must not fail on them.
//!
//! Decoding matches known values case-insensitively: the docs say `onboarded` while the real
//! service sends `Onboarded` (docs/defender-api.md §1). Encoding writes the documented spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value not in the documentation, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every documented value, in documented order.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The wire spelling (documented casing for known values).
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(s) => s,
                }
            }

            /// Maps a wire value to a variant, ignoring case for known values.
            pub fn from_wire(s: &str) -> Self {
                $( if s.eq_ignore_ascii_case($wire) { return $name::$variant; } )+
                $name::Other(s.to_owned())
            }

            /// Position among the documented values (their documented order), `None` for `Other`.
            pub fn known_index(&self) -> Option<usize> {
                Self::KNOWN.iter().position(|k| k == self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::wire_str::parse_str(deserializer, |s| {
                    Ok::<_, std::convert::Infallible>(Self::from_wire(s))
                })
            }
        }
    };
}

string_enum! {
    /// `healthStatus`: the sensor's health.
    HealthStatus {
        /// Reporting normally.
        Active => "Active",
        /// Stopped reporting.
        Inactive => "Inactive",
        /// Impaired communication.
        ImpairedCommunication => "ImpairedCommunication",
        /// No sensor data.
        NoSensorData => "NoSensorData",
        /// No sensor data and impaired communication.
        NoSensorDataImpairedCommunication => "NoSensorDataImpairedCommunication",
        /// Unknown.
        Unknown => "Unknown",
    }
}

string_enum! {
    /// `riskScore`, ordered from lowest to highest.
    RiskScore {
        /// No risk.
        None => "None",
        /// Informational.
        Informational => "Informational",
        /// Low.
        Low => "Low",
        /// Medium.
        Medium => "Medium",
        /// High.
        High => "High",
    }
}

string_enum! {
    /// `exposureLevel`, ordered from lowest to highest.
    ExposureLevel {
        /// No exposure.
        None => "None",
        /// Low.
        Low => "Low",
        /// Medium.
        Medium => "Medium",
        /// High.
        High => "High",
    }
}

string_enum! {
    /// `deviceValue`. Its documented order is `Normal, Low, High`; [`DeviceValue::rank`] gives
    /// the meaningful order `Low < Normal < High`.
    DeviceValue {
        /// Normal (the default).
        Normal => "Normal",
        /// Low value.
        Low => "Low",
        /// High value.
        High => "High",
    }
}

string_enum! {
    /// `onboardingStatus` (documented as `onboardingstatus`; the real key is camelCase).
    OnboardingStatus {
        /// Onboarded (the docs write `onboarded`; the service sends `Onboarded`).
        Onboarded => "Onboarded",
        /// Can be onboarded.
        CanBeOnboarded => "CanBeOnboarded",
        /// Unsupported.
        Unsupported => "Unsupported",
        /// Insufficient information.
        InsufficientInfo => "InsufficientInfo",
    }
}

string_enum! {
    /// `ipAddresses[].operationalStatus`.
    OperationalStatus {
        /// Interface up.
        Up => "Up",
        /// Interface down.
        Down => "Down",
    }
}

impl RiskScore {
    /// Ordering rank (`None` lowest); `None` (the Rust value) for unknown values.
    pub fn rank(&self) -> Option<usize> {
        self.known_index()
    }
}

impl ExposureLevel {
    /// Ordering rank (`None` lowest); `None` (the Rust value) for unknown values.
    pub fn rank(&self) -> Option<usize> {
        self.known_index()
    }
}

impl DeviceValue {
    /// Ordering rank: `Low` 0, `Normal` 1, `High` 2; `None` for unknown values.
    pub fn rank(&self) -> Option<usize> {
        match self {
            Self::Low => Some(0),
            Self::Normal => Some(1),
            Self::High => Some(2),
            Self::Other(_) => None,
        }
    }
}

/// A device value that `setDeviceValue` does not accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceValueError {
    /// Not exactly `Low`, `Normal` or `High` (the API compares case-sensitively).
    #[error("device value {found:?} is not one of Low, Normal, High (exact spelling)")]
    NotSettable {
        /// What was given.
        found: String,
    },
}

impl DeviceValue {
    /// The values `setDeviceValue` accepts, from lowest to highest.
    pub const SETTABLE: [DeviceValue; 3] = [Self::Low, Self::Normal, Self::High];

    /// Reads a value to *set*: exactly `Low`, `Normal` or `High`. Stricter than decoding a
    /// machine (which keeps any spelling), because the API refuses other spellings and a
    /// refused call should be caught before it costs a slot of the rate budget.
    pub fn parse_settable(s: &str) -> Result<Self, DeviceValueError> {
        match s {
            "Low" => Ok(Self::Low),
            "Normal" => Ok(Self::Normal),
            "High" => Ok(Self::High),
            other => Err(DeviceValueError::NotSettable {
                found: other.to_owned(),
            }),
        }
    }

    /// Whether this value can be sent to `setDeviceValue`.
    pub fn is_settable(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_decode_case_insensitively_and_encode_documented() {
        let v: OnboardingStatus = serde_json::from_str("\"onboarded\"").unwrap();
        assert_eq!(v, OnboardingStatus::Onboarded);
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"Onboarded\"");
    }

    #[test]
    fn unknown_values_survive() {
        let v: HealthStatus = serde_json::from_str("\"Quarantined\"").unwrap();
        assert_eq!(v, HealthStatus::Other("Quarantined".into()));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"Quarantined\"");
    }

    #[test]
    fn settable_values_are_exact() {
        assert_eq!(DeviceValue::parse_settable("High"), Ok(DeviceValue::High));
        for bad in ["high", "HIGH", " High", "Critical", ""] {
            assert!(DeviceValue::parse_settable(bad).is_err(), "{bad:?}");
        }
        assert!(!DeviceValue::Other("Critical".into()).is_settable());
    }

    #[test]
    fn ranks_order_severity() {
        assert!(RiskScore::High.rank() > RiskScore::Low.rank());
        assert!(DeviceValue::Low.rank() < DeviceValue::Normal.rank());
        assert_eq!(ExposureLevel::Other("x".into()).rank(), None);
    }
}
