//! Captures to recordings (TODO).
use super::{ConvertError, Converted};
use std::path::Path;

/// Writes every WebSocket connection of `input` into `out_dir`.
pub fn convert(input: &Path, out_dir: &Path) -> Result<Converted, ConvertError> {
    let _ = (input, out_dir);
    todo!()
}
