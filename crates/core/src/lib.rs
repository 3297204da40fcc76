//! defender-tags-core: the Defender for Endpoint machine-tag domain, with no I/O.
#![deny(missing_docs)]
