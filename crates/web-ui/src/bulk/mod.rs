//! Bulk tag changes (issue #6): selecting or importing machines, previewing, running with
//! progress and cancel, the per-machine report, undo, and the tag inventory's clean-ups.
//!
//! Parsing imported lists, planning and counting tags are core's (`import`, `plan`,
//! `inventory`); this adds what the pages need around them. Everything here except [`flow`] is
//! plain logic with native tests; [`flow`] holds the page's
//! bulk state in signals and drives a run.

pub mod export;
pub mod flow;
pub mod format;
pub mod guard;
pub mod inventory;
pub mod job;
pub mod journal;
pub mod resolve;
pub mod runner;
pub mod selection;
