//! defender-tags-web-ui (work in progress).
