//! Integration tests for the public API of defender-tags-core, one module per topic.

mod fixtures;
mod model;
