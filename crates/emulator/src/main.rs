//! defender-tags-emulator binary (work in progress).
fn main() {}
