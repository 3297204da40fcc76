//! Reusable pieces of the pages.

pub mod bulk_compose;
pub mod bulk_job;
pub mod filter_bar;
pub mod interrupted_runs;
pub mod machine_panel;
pub mod machine_table;
pub mod notice;
pub mod read_only;
pub mod search_box;
pub mod sign_in_card;
pub mod tag_editor;
pub mod tag_sources;
pub mod top_bar;
