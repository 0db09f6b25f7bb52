//! Plan and execute: the typed [`plan::Plan`], the one executor, the one process boundary, the
//! HTTP agent, and output (colour, GitHub Actions, secret masking).

pub mod atomic;
pub mod concurrent;
pub mod exec;
pub mod net;
pub mod plan;
pub mod process;
pub mod record;
pub mod smtp;
pub mod ui;
