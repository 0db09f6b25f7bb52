//! Running a bump under its recorded intent: the first run records it and executes the plan; a
//! later run of the same command finishes it from the first step not done; `--abort` restores
//! the recorded before-state; any other bump refuses.

use std::path::Path;

use anyhow::{anyhow, Result};
use semver::Version;
use serde_json::json;

use super::intent::{self, Intent, Mark};
use super::{Options, Prepared};
use crate::core::version::{self, BumpSpec};
use crate::run::exec::{self, Outcome};
use crate::run::plan::Step;
use crate::run::ui::{Style, Ui};

fn command_name(o: &Options) -> &'static str {
    if o.push.pushes() {
        "release"
    } else {
        "bump-version"
    }
}

/// Records the intent, runs the plan, removes the intent when the plan completed or when a
/// failure was rolled back to exactly the state before.
pub fn execute_recorded(p: &Prepared, o: &Options, what: &str, ui: &Ui) -> Result<Outcome> {
    let root = &p.cfg.root;
    let edits: Vec<_> = p
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Edit(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    let rec = Intent::new(
        what,
        &o.spec,
        o.pre.as_deref(),
        &p.current,
        &p.new,
        &p.branch,
        &edits,
        &p.plan,
        p.head.clone(),
    )?;
    rec.record(root)?;
    run_under(root, &rec, &p.plan, ui)
}

/// Executes `plan` for `rec`; on failure, says what was undone (the commit too) and whether the
/// bump is still pending.
fn run_under(root: &Path, rec: &Intent, plan: &crate::run::plan::Plan, ui: &Ui) -> Result<Outcome> {
    let mut committed = false;
    let commit_index = plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::Run(p) if p.args.first().is_some_and(|a| a == "commit")));
    let result = exec::execute_with(plan, ui, root, &mut |r| {
        if Some(r.index) == commit_index && r.result.is_ok() {
            committed = true;
        }
    });
    // Only on the failure path (a real run reads nothing its dry run did not list): the commit
    // the rollback undid is the one HEAD left (`git reset --soft HEAD~1` moved HEAD once).
    let commit_made = || {
        if committed {
            intent::rev_parse(root, "HEAD@{1}").ok().flatten()
        } else {
            None
        }
    };
    match result {
        Ok(outcome) => {
            Intent::remove(root)?;
            Ok(outcome)
        }
        Err(err) => {
            let state = rec.state(root, false);
            match state {
                Ok(s) if s.is_untouched() => {
                    Intent::remove(root)?;
                    let undone = match &commit_made() {
                        Some(sha) => format!(
                            "; the release commit {} was undone too (git reset --soft HEAD~1), \
                             the repository is as before",
                            intent::short(sha)
                        ),
                        None => "; the repository is as before".to_string(),
                    };
                    Err(anyhow!("{err:#}{undone}"))
                }
                Ok(s) => Err(anyhow!(
                    "{err:#}\nthe bump to {} is interrupted ({}): fix the cause, then re-run the same command (`{}`) \
                     to finish it, or undo it with `cargo xtask bump-version --abort`",
                    rec.new,
                    s.describe(rec),
                    rec.resume_command()
                )),
                Err(e) => Err(anyhow!("{err:#}\n(and the state could not be read: {e:#})")),
            }
        }
    }
}

/// Is this invocation the same command as the one recorded (same target version)?
fn same_command(rec: &Intent, o: &Options) -> bool {
    if rec.command != command_name(o) {
        return false;
    }
    if o.spec == "auto" {
        // `auto` resolved to the recorded version when it ran; after the commit, the history
        // it reads has changed, so the record decides.
        return rec.spec == "auto" && rec.pre.as_deref() == o.pre.as_deref();
    }
    let (Ok(old), Ok(spec)) = (Version::parse(&rec.old), BumpSpec::parse(&o.spec)) else {
        return false;
    };
    version::next_version(&old, &spec, o.pre.as_deref()).is_ok_and(|n| n.to_string() == rec.new)
}

pub fn resume(root: &Path, o: &Options, ui: &Ui, rec: Intent) -> Result<u8> {
    let what = command_name(o);
    if !same_command(&rec, o) {
        return Err(crate::Refusal {
            places: Vec::new(),
            what: what.into(),
            code: crate::EXIT_FAILURE,
            problems: vec![intent::pending_message(root, &rec, what)],
        }
        .into());
    }
    wrong_branch(root, &rec, what)?;
    let removed = rec.clear_stale_locks(root)?;
    let state = rec.state(root, rec.push_remote.is_some())?;
    if !state.problems.is_empty() {
        return Err(crate::Refusal {
            places: Vec::new(),
            what: what.into(),
            code: crate::EXIT_FAILURE,
            problems: state
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "cannot resume the interrupted bump to {}: {p}; nothing was touched. \
                         Restore it, or undo the bump with `cargo xtask bump-version --abort`",
                        rec.new
                    )
                })
                .collect(),
        }
        .into());
    }
    let sentence = format!(
        "resuming the interrupted bump to {} ({})",
        rec.new,
        state.describe(&rec)
    );
    let plan = rec.resume_plan(root, &state)?;
    if o.dry_run {
        if o.json {
            crate::run::ui::print_json(&json!({
                "dry_run": true, "resume": true, "new": rec.new, "tag": rec.tag,
                "state": state.describe(&rec), "steps": plan.to_json(root),
            }));
            return Ok(0);
        }
        ui.heading(&format!("{sentence} — dry run, nothing will be changed"));
        plan.render(ui, root);
        return Ok(0);
    }
    ui.heading(&sentence);
    for r in &removed {
        ui.warn(&format!("removed {r}, left by the interrupted git step"));
    }
    let outcome = run_under(root, &rec, &plan, ui)?;
    if o.json {
        crate::run::ui::print_json(&json!({
            "resume": true, "new": rec.new, "tag": rec.tag, "executed": outcome.executed,
        }));
    }
    let tag = rec.tag.as_deref().unwrap_or("");
    let summary = match (&rec.commit_message, &rec.tag, &rec.push_remote) {
        (_, _, Some(remote)) => format!(
            "released {}: pushed {} and {tag} to {remote}",
            rec.new, rec.branch
        ),
        (_, Some(_), None) => format!("committed and tagged {tag}"),
        (Some(_), None, None) => format!("committed {}", rec.new),
        (None, _, _) => format!("files updated to {}", rec.new),
    };
    ui.line(&format!("{} {summary}", ui.paint(Style::Green, "done:")));
    Ok(0)
}

/// Refuses to resume or abort a bump on another branch than the one it was cut from (its commit,
/// its push and its locks are that branch's).
fn wrong_branch(root: &Path, rec: &Intent, what: &str) -> Result<()> {
    let current = crate::facts::git::status(root)?.branch;
    // Without a commit no branch was required (a detached HEAD edits files only).
    if rec.commit_message.is_none() || current.as_deref() == Some(rec.branch.as_str()) {
        return Ok(());
    }
    Err(crate::Refusal {
        places: Vec::new(),
        what: what.into(),
        code: crate::EXIT_FAILURE,
        problems: vec![format!(
            "the interrupted bump to {} was cut from `{}`, but {}; `git switch {}` first, then run \
             the same command again (nothing was touched)",
            rec.new,
            rec.branch,
            match &current {
                Some(b) => format!("HEAD is on `{b}`"),
                None => "HEAD is detached".to_string(),
            },
            rec.branch
        )],
    }
    .into())
}

pub fn abort(root: &Path, o: &Options, ui: &Ui) -> Result<u8> {
    let Some(rec) = Intent::load(root)? else {
        ui.line("nothing to abort: no bump is interrupted");
        return Ok(0);
    };
    wrong_branch(root, &rec, "bump-version --abort")?;
    let removed = if o.dry_run {
        Vec::new()
    } else {
        rec.clear_stale_locks(root)?
    };
    let state = rec.state(root, rec.push_remote.is_some())?;
    let mut problems = state.problems.clone();
    if let (Some(remote), Mark::Done(_)) = (&rec.push_remote, &state.push) {
        problems.push(format!(
            "the bump to {} was pushed to `{remote}` already; undoing it is a new release, not an abort",
            rec.new
        ));
    }
    if !problems.is_empty() {
        return Err(crate::Refusal {
            places: Vec::new(),
            what: "bump-version --abort".into(),
            code: crate::EXIT_FAILURE,
            problems: problems
                .into_iter()
                .map(|p| format!("{p}; nothing was touched"))
                .collect(),
        }
        .into());
    }
    let sentence = format!(
        "aborting the interrupted bump to {} ({}): restoring the state before it",
        rec.new,
        state.describe(&rec)
    );
    let plan = rec.abort_plan(root, &state)?;
    if o.dry_run {
        ui.heading(&format!("{sentence} — dry run, nothing will be changed"));
        plan.render(ui, root);
        return Ok(0);
    }
    ui.heading(&sentence);
    for r in &removed {
        ui.warn(&format!("removed {r}, left by the interrupted git step"));
    }
    exec::execute(&plan, ui, root)?;
    Intent::remove(root)?;
    ui.line(&format!(
        "{} the bump to {} is undone; the repository is as before it ({} at {})",
        ui.paint(Style::Green, "done:"),
        rec.new,
        rec.branch,
        intent::short(&rec.head_before)
    ));
    Ok(0)
}
