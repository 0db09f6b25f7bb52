//! slipway's rehearsal rig: what the end-to-end tests and `cargo xtask rehearse`/`ci` need on
//! this machine, kept out of the tool itself (`xtask` never depends on this crate; `xtask`'s
//! commands run the `slipway-rig` binary as a process).
//!
//! - [`provision`]: Debian packages, a private Docker daemon, the local base image, the venvs;
//!   [`qemu`]: foreign platforms (opt-in).
//! - [`services`]: Debian's docker-registry and pypiserver on 127.0.0.1; [`up`]: all of them plus
//!   the GitHub stand-in, supervised, for `rehearse`.
//! - [`standin`] + [`openapi`]: the local GitHub REST API stand-in and its contract validator.

pub mod openapi;
pub mod provision;
pub mod qemu;
pub mod services;
pub mod standin;
pub mod up;
