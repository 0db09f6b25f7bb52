//! The one executor: runs a [`Plan`] step by step, printing each step with the plan renderer
//! before running it, timing it, and rolling back file edits when a later step fails before the
//! edits were sealed (committed).

pub use crate::run::process::{child_busy, child_time, count_child, count_child_span, timed};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::run::plan::{Done, FileEdit, Plan, Process, RunContext, Step};
use crate::run::process;
use crate::run::ui::{self, Ui};

/// What a run did, for reports and tests.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Headers of the steps that were executed, in order.
    pub executed: Vec<String>,
    pub timings: Vec<Duration>,
    /// What each step did (skipped steps carry their evidence).
    pub done: Vec<Done>,
    /// Values the steps produced (image IDs, digests…).
    pub values: std::collections::BTreeMap<String, String>,
}

/// One finished step, as the journal and reports see it.
#[derive(Debug)]
pub struct StepRecord<'a> {
    pub index: usize,
    pub header: &'a str,
    /// Ok(what it did), or the error (secrets masked).
    pub result: std::result::Result<&'a Done, String>,
    pub took: Duration,
}

pub fn execute(plan: &Plan, ui: &Ui, root: &Path) -> Result<Outcome> {
    execute_with(plan, ui, root, &mut |_| {})
}

/// Runs the plan, calling `on_step` after every step (also the one that failed).
pub fn execute_with(
    plan: &Plan,
    ui: &Ui,
    root: &Path,
    on_step: &mut dyn FnMut(&StepRecord),
) -> Result<Outcome> {
    let total = plan.steps.len();
    let mut outcome = Outcome::default();
    // Effects not yet sealed, undone in reverse order if anything fails.
    let mut unsealed: Vec<Undo> = Vec::new();
    let mut cx = RunContext {
        ui,
        root,
        values: Default::default(),
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let header = step.header(root);
        ui.step_start(i + 1, total, &header);
        if let Some(detail) = step.detail(ui) {
            ui.detail(&detail);
        }
        let started = Instant::now();
        let result = match step {
            Step::Edit(e) => apply_edit(e).map(|()| {
                unsealed.push(Undo::Edit(e));
                Done::Ran(String::new())
            }),
            Step::Run(p) => run(p).map(|()| {
                if p.seals {
                    unsealed.clear();
                } else if let Some(undo) = &p.undo {
                    unsealed.push(Undo::Run(undo));
                }
                Done::Ran(String::new())
            }),
            Step::Action(a) => a.execute(&mut cx),
        };
        let took = started.elapsed();
        match &result {
            Ok(Done::Skipped(why)) => ui.step_skipped(i + 1, total, &header, why, took),
            Ok(Done::Ran(what)) => {
                if !what.is_empty() {
                    ui.detail(what);
                }
                ui.step_end(i + 1, total, &header, true, took)
            }
            Err(_) => ui.step_end(i + 1, total, &header, false, took),
        }
        on_step(&StepRecord {
            index: i,
            header: &header,
            result: result.as_ref().map_err(|e| ui::redact(&format!("{e:#}"))),
            took,
        });
        if let Err(err) = result {
            if !unsealed.is_empty() {
                match rollback(&unsealed) {
                    Ok(n) => ui.warn(&format!("restored {n} file(s) to their original content")),
                    Err(e) => ui.error(&format!("could not undo every earlier step: {e:#}")),
                }
            }
            return Err(err.context(format!("step {}/{total} failed: {header}", i + 1)));
        }
        outcome.executed.push(header);
        outcome.timings.push(took);
        outcome.done.push(result.expect("errors returned above"));
    }
    outcome.values = cx.values;
    Ok(outcome)
}

/// Writes the new content atomically, after checking that the file still holds what the plan
/// was computed from.
fn apply_edit(e: &FileEdit) -> Result<()> {
    let current =
        std::fs::read_to_string(&e.path).with_context(|| format!("cannot read {}", e.display))?;
    if current != e.before {
        bail!(
            "{} changed on disk since the plan was made; run the command again",
            e.display
        );
    }
    write_atomic(&e.path, &e.after).with_context(|| format!("cannot write {}", e.display))
}

enum Undo<'a> {
    Edit(&'a FileEdit),
    Run(&'a Process),
}

/// Undoes unsealed effects, newest first. Returns how many files were restored.
fn rollback(applied: &[Undo]) -> Result<usize> {
    let mut files = 0;
    for u in applied.iter().rev() {
        match u {
            Undo::Edit(e) => {
                write_atomic(&e.path, &e.before)
                    .with_context(|| format!("restoring {}", e.display))?;
                files += 1;
            }
            Undo::Run(p) => run(p).context("undoing an earlier step")?,
        }
    }
    Ok(files)
}

/// Temp file on the same filesystem (under `.git/slipway/tmp` in a git work tree, else the same
/// directory), same permissions, then rename. A symlink is written through: the file it points
/// to gets the content and the link stays a link. slipway's own outputs (`target/slipway/…`)
/// are registered in `.git/info/exclude` on the first write there.
pub fn write_atomic(path: &Path, content: &str) -> Result<()> {
    let resolved = crate::run::atomic::through_symlinks(path)?;
    let path = resolved.as_path();
    crate::run::atomic::exclude_own_output(path)?;
    let dir = crate::run::atomic::temp_dir_for(path)
        .ok_or_else(|| anyhow!("{} has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.slipway-{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        // No fsync: the rename is atomic for every process that reads the file, and a killed
        // slipway (kill -9) loses nothing the kernel already holds; the release intent under
        // `.git/slipway/` lets the next run finish or abort. Surviving a power cut would need an
        // fsync of the file and its directory on every write (about 1 ms each here, four writes
        // a bump: most of its cost).
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Runs a process to completion; its captured output is returned on success (and relayed, last
/// lines, secrets masked, in the error on failure). See [`crate::run::process::captured`].
pub fn run_captured(p: &Process) -> Result<String> {
    process::captured(p)
}

/// A plan's process: streamed when it asks to be, else captured.
fn run(p: &Process) -> Result<()> {
    if p.stream {
        process::streamed(p)
    } else {
        process::captured(p).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::FileEdit;

    fn edit(dir: &Path, name: &str, before: &str, after: &str) -> FileEdit {
        let path = dir.join(name);
        std::fs::write(&path, before).unwrap();
        FileEdit::new(name, path, before.into(), after.into())
    }

    #[test]
    fn edits_are_rolled_back_when_a_later_step_fails() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut plan = Plan::default();
        plan.push(Step::Edit(edit(root, "a.txt", "a1\r\n", "a2\r\n")));
        plan.push(Step::Edit(edit(root, "b.txt", "b1", "b2")));
        plan.push(Step::Run(Process::new("false", root)));
        let err = execute(&plan, &Ui::plain(), root).unwrap_err();
        assert!(
            format!("{err:#}").contains("step 3/3 failed: run false"),
            "{err:#}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a.txt")).unwrap(),
            "a1\r\n"
        );
        assert_eq!(std::fs::read_to_string(root.join("b.txt")).unwrap(), "b1");
        // No temp files are left behind.
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 2);
    }

    #[test]
    fn sealed_edits_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut plan = Plan::default();
        plan.push(Step::Edit(edit(root, "a.txt", "a1", "a2")));
        plan.push(Step::Run(Process::new("true", root).sealing()));
        plan.push(Step::Run(Process::new("python3", root).args([
            "-c",
            "import sys; sys.stderr.write('boom\\n'); sys.exit(3)",
        ])));
        let err = format!("{:#}", execute(&plan, &Ui::plain(), root).unwrap_err());
        assert!(err.contains("exited with status 3:\nboom"), "{err}");
        assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "a2");
    }

    #[test]
    fn a_file_changed_since_planning_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let e = edit(root, "a.txt", "a1", "a2");
        std::fs::write(&e.path, "someone else").unwrap();
        let mut plan = Plan::default();
        plan.push(Step::Edit(e));
        let err = format!("{:#}", execute(&plan, &Ui::plain(), root).unwrap_err());
        assert!(
            err.contains("changed on disk since the plan was made"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a.txt")).unwrap(),
            "someone else"
        );
    }

    #[test]
    fn executed_headers_are_the_rendered_headers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut plan = Plan::default();
        plan.push(Step::Edit(edit(root, "a.txt", "x\n", "y\n")));
        plan.push(Step::Run(Process::new("true", root).args(["a b"])));
        let out = execute(&plan, &Ui::plain(), root).unwrap();
        let rendered: Vec<String> = plan.steps.iter().map(|s| s.header(root)).collect();
        assert_eq!(out.executed, rendered);
        assert_eq!(out.executed[1], "run true 'a b'");
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::default();
        plan.push(Step::Run(Process::new(
            "definitely-not-a-program-xyz",
            dir.path(),
        )));
        let err = format!(
            "{:#}",
            execute(&plan, &Ui::plain(), dir.path()).unwrap_err()
        );
        assert!(
            err.contains("cannot run `definitely-not-a-program-xyz`"),
            "{err}"
        );
    }
}
