//! zarrcore fuzz targets (see `targets`).
pub mod targets;
