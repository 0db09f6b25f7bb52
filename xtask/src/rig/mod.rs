//! The rehearsal rig: the GitHub stand-in and its contract validator, local registries and
//! package index, provisioning.

pub mod openapi;
pub mod provision;
pub mod qemu;
pub mod services;
pub mod standin;
