//! slipway: one-command releases for repositories that ship a Python package and a Docker image.
//!
//! Every command gathers facts read-only, builds a [`plan::Plan`], and hands it to the one
//! executor; `--dry-run` renders the same plan instead. The library holds everything; the binary
//! (`main.rs`) only calls [`run_main`]. The rehearsal rig (local services, provisioning, the
//! GitHub stand-in) is the separate `slipway-rig` crate, which this one never depends on.

pub mod cli;
pub mod cmd;
pub use slipway_core as core;
pub mod facts;
pub mod run;
pub mod targets;

use std::process::ExitCode;

pub use crate::core::problems::{usage, Place, Problems, Refusal, EXIT_FAILURE, EXIT_INVALID};

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
    if json {
        run::ui::defer_json();
    }
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
                    "{} {}{}\n",
                    run::exec::child_time().as_nanos(),
                    run::exec::child_busy().as_nanos(),
                    run::process::child_spans_unix()
                        .iter()
                        .map(|(s, e)| format!(" {s}:{e}"))
                        .collect::<String>()
                )
                .as_bytes(),
            );
        }
    }
    let (code, failure) = match &result {
        Ok(0) => (0, None),
        Ok(code) => (
            *code,
            Some((format!("the command failed (exit code {code})"), Vec::new())),
        ),
        Err(err) => {
            let (code, summary, problems) = report(&ui, err);
            (code, Some((summary, problems)))
        }
    };
    // The incident report of a failed release command, linked from its notice.
    let refused = matches!(&result, Err(e) if e.downcast_ref::<Refusal>().is_some());
    let links = targets::incident::after(failure.as_ref().map(|f| f.0.as_str()), refused, &ui);
    targets::notices::links(links);
    // Notices: how a command that can fail a release ended (it called `notices::begin`).
    targets::notices::after(&outcome(&result, failure.as_ref()), &ui);
    if json {
        run::ui::finish_json(failure);
    }
    ExitCode::from(code)
}

/// The outcome a notice tells: a refusal's problems, else the error (or exit code) as one.
fn outcome(
    result: &anyhow::Result<u8>,
    failure: Option<&(String, Vec<serde_json::Value>)>,
) -> targets::notices::Outcome {
    use targets::notices::Outcome;
    match (result, failure) {
        (Ok(0), _) => Outcome::Success,
        (Err(err), _) if err.downcast_ref::<Refusal>().is_some() => {
            let r = err.downcast_ref::<Refusal>().expect("checked");
            Outcome::Failure {
                refused: true,
                problems: r.problems.iter().map(|p| run::ui::redact(p)).collect(),
            }
        }
        (_, failure) => Outcome::Failure {
            refused: false,
            problems: failure.map(|f| vec![f.0.clone()]).unwrap_or_default(),
        },
    }
}

/// Reports an error on stderr (in GitHub Actions one annotation per problem, with its place) and
/// returns the exit code, the summary and the problems for the JSON error document.
fn report(ui: &run::ui::Ui, err: &anyhow::Error) -> (u8, String, Vec<serde_json::Value>) {
    let problem = |msg: &str, place: Option<&Place>| {
        let mut p = serde_json::Map::new();
        p.insert("message".into(), run::ui::redact(msg).into());
        if let Some(place) = place {
            p.insert("file".into(), place.file.clone().into());
            if let Some(line) = place.line {
                p.insert("line".into(), line.into());
            }
        }
        serde_json::Value::Object(p)
    };
    if let Some(refusal) = err.downcast_ref::<Refusal>() {
        if ui.gha {
            for p in &refusal.problems {
                ui.error_at(p, refusal.place_of(p).as_ref());
            }
        } else {
            ui.error(&refusal.to_string());
        }
        let problems = refusal
            .problems
            .iter()
            .map(|p| problem(p, refusal.place_of(p).as_ref()))
            .collect();
        (refusal.code, run::ui::redact(&refusal.summary()), problems)
    } else {
        let msg = format!("{err:#}");
        let place = Place::guess(&msg);
        ui.error_at(&msg, place.as_ref());
        (
            EXIT_FAILURE,
            run::ui::redact(&msg),
            vec![problem(&msg, place.as_ref())],
        )
    }
}
