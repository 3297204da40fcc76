//! `cargo xtask bench`: benchmarks written to BENCHMARKS.md (issue #7).

use crate::ctx::Ctx;

pub fn run(_ctx: &Ctx, _args: &[String]) -> Result<(), String> {
    Err("benchmarks are not written yet (issue #7)".into())
}
