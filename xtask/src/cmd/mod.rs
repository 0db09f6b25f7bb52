//! One module per command: gather facts, build a plan, render it (`--dry-run`) or execute it.

pub mod bump;
pub mod changelog;
pub mod check_versions;
pub mod ci;
pub mod docker_validate;
pub mod publish;
pub mod rehearse;
pub mod release_notes;
pub mod verify;
