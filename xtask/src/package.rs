//! Builds the embeddable npm package (`target/pkg`). Owned by the wasm-client work (issue #4).

use std::path::PathBuf;

use crate::ctx::Ctx;

pub fn run(ctx: &Ctx) -> Result<PathBuf, String> {
    Err(format!(
        "the npm package build is not written yet (issue #4); it will write {}",
        ctx.target.join("pkg").display()
    ))
}
