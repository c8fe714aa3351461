//! Out-of-core array operations: [`copy`] transposes, rechunks, re-encodes
//! and converts an array into another under a memory budget, with progress,
//! cancellation and resume.
//!
//! * [`plan`]: which destination cells are produced together, how many
//!   source decodes that costs, and how the budget is spent.
//! * [`copy`](mod@copy): the API ([`CopyOptions`], [`copy()`], [`plan_copy`]).
//! * [`meta`]: the destination's metadata.
//! * [`cast`]: data type conversion (NumPy `astype` semantics).
//! * [`permute`]: the blocked transpose kernel.
//! * [`journal`]: the resume journal.

pub mod cast;
pub mod copy;
mod exec;
pub mod journal;
pub mod meta;
pub mod permute;
pub mod plan;

pub use self::cast::Casting;
pub use self::copy::{
    copy, plan_copy, CopyOptions, CopyProgress, CopyReport, Outcome, PreparedCopy, DEFAULT_MEMORY,
};
pub use self::meta::{DestLayout, Shards};
pub use self::plan::{Plan, PlanError};
