//! slipway: one-command releases for repositories that ship a Python package and a Docker image.
//!
//! Every command gathers facts read-only, builds a [`plan::Plan`], and hands it to the one
//! executor; `--dry-run` renders the same plan instead. The library holds everything; the binary
//! (`main.rs`) only calls [`run_main`]. Integration tests and `rehearse` share its service
//! starters.

pub mod cli;
pub mod cmd;
pub mod core;
pub mod facts;
pub mod rig;
pub mod run;
pub mod targets;

use std::fmt;
use std::process::ExitCode;

/// Exit code for invalid input (usage, malformed files, bad versions).
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a refusal or failure (dirty tree, drift, a step that failed).
pub const EXIT_FAILURE: u8 = 1;

/// Everything that stops a command before it changes anything, reported together.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<String>,
    pub invalid_input: bool,
}

impl Problems {
    /// A problem with the user's input (exit 2).
    pub fn invalid(&mut self, msg: impl Into<String>) {
        self.list.push(msg.into());
        self.invalid_input = true;
    }
    /// A problem with the repository's state (exit 1).
    pub fn failure(&mut self, msg: impl Into<String>) {
        self.list.push(msg.into());
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// `Err(Refusal)` when there is any problem.
    pub fn check(self, what: &str) -> anyhow::Result<()> {
        if self.list.is_empty() {
            return Ok(());
        }
        Err(Refusal {
            what: what.to_string(),
            code: if self.invalid_input {
                EXIT_INVALID
            } else {
                EXIT_FAILURE
            },
            problems: self.list,
        }
        .into())
    }
}

/// A command refused to run; nothing was changed.
#[derive(Debug)]
pub struct Refusal {
    pub what: String,
    pub code: u8,
    pub problems: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.problems.as_slice() {
            return f.write_str(one);
        }
        write!(
            f,
            "{} refused, nothing was changed ({} problems):",
            self.what,
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {}", p.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// A usage error (exit 2).
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    Refusal {
        what: "the command".into(),
        code: EXIT_INVALID,
        problems: vec![msg.into()],
    }
    .into()
}

/// The command line entry point.
pub fn run_main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args
        .first()
        .is_some_and(|a| a == run::process::WATCHDOG_ARG)
    {
        // A container watchdog this binary started (see `run::process::watchdog`): not a command.
        return run::process::watchdog_main(&args[1..]);
    }
    let json = args.iter().any(|a| a == "--json");
    let ui = run::ui::Ui::detect(json);
    let result = cli::run(args, &ui);
    // For `rehearse`'s accounting: how long this process waited for the tools it drives.
    if let Some(path) = std::env::var_os("SLIPWAY_CHILD_TIME_FILE") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = std::io::Write::write_all(
                &mut f,
                format!(
                    "{} {}\n",
                    run::exec::child_time().as_nanos(),
                    run::exec::child_busy().as_nanos()
                )
                .as_bytes(),
            );
        }
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if let Some(refusal) = err.downcast_ref::<Refusal>() {
                ui.error(&refusal.to_string());
                ExitCode::from(refusal.code)
            } else if let Some(e) = err.downcast_ref::<lexopt::Error>() {
                ui.error(&format!("{e}; see `cargo xtask --help`"));
                ExitCode::from(EXIT_INVALID)
            } else {
                ui.error(&format!("{err:#}"));
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}
