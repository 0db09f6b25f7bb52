//! The release intent: what a `bump-version`/`release` is about to do, recorded under
//! `.git/slipway/` before its first write, so that a kill at any instant can be finished (the same
//! command again) or undone (`bump-version --abort`) exactly.
//!
//! The intent records the old and new version, every edited file with the sha256 of its content
//! before and after, the commit message, the
//! tag and the push; the contents before and after are kept in the intent itself (one file,
//! written atomically, so it is complete or absent). What is done is never recorded: it is read from the real state (a file at
//! its after-hash is written, HEAD is the bump's commit on the recorded parent, the tag points at
//! it, the remote has both), so the record cannot disagree with the repository.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::core::sha256::digest_hex;
use crate::facts::git;
use crate::run::atomic;
use crate::run::exec::write_atomic;
use crate::run::plan::{FileEdit, Plan, Process, Step};

/// One edited file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentFile {
    pub display: String,
    pub path: PathBuf,
    pub before_sha256: String,
    pub after_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// `bump-version` or `release`.
    pub command: String,
    /// The spec it was started with (`minor`, `auto`, `1.3.0`) and `--pre`.
    pub spec: String,
    pub pre: Option<String>,
    pub old: String,
    pub new: String,
    /// Milliseconds since the epoch when the intent was written.
    pub created_ms: u64,
    pub head_before: String,
    pub branch: String,
    pub files: Vec<IntentFile>,
    pub commit_message: Option<String>,
    pub tag: Option<String>,
    pub tag_message: Option<String>,
    pub push_remote: Option<String>,
    /// Every before and after content, by its sha256.
    pub contents: std::collections::BTreeMap<String, String>,
}

/// Where a step of the intent stands, read from the real state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    NotPlanned,
    Todo,
    /// Done; for the commit, its hash.
    Done(String),
}

#[derive(Debug)]
pub struct State {
    /// Per file: written (true) or still at its before-hash (false).
    pub files: Vec<bool>,
    pub commit: Mark,
    pub tag: Mark,
    pub push: Mark,
    /// Why the real state is neither before nor after the bump (then nothing is touched).
    pub problems: Vec<String>,
}

impl State {
    pub fn commit_sha(&self) -> Option<&str> {
        match &self.commit {
            Mark::Done(sha) => Some(sha),
            _ => None,
        }
    }

    /// `commit abc1234 done, tag missing`: what is done and the first step that is not.
    pub fn describe(&self, intent: &Intent) -> String {
        let written = self.files.iter().filter(|w| **w).count();
        let total = self.files.len();
        let mut parts = Vec::new();
        match &self.commit {
            Mark::Done(sha) => parts.push(format!("commit {} done", short(sha))),
            _ if written == total => parts.push("files written".to_string()),
            _ => parts.push(format!("{written} of {total} files written")),
        }
        match (&self.commit, &self.tag, &self.push) {
            (Mark::Todo, _, _) => parts.push("commit missing".into()),
            (_, Mark::Todo, _) => parts.push("tag missing".into()),
            (_, Mark::Done(_), Mark::Todo) => {
                parts.push(format!("tag {} done", intent.tag.as_deref().unwrap_or("")));
                parts.push("push missing".into());
            }
            _ if written < total => {}
            _ => parts.push("nothing left to do".into()),
        }
        parts.join(", ")
    }

    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|w| *w)
            && !matches!(self.commit, Mark::Todo)
            && !matches!(self.tag, Mark::Todo)
            && !matches!(self.push, Mark::Todo)
    }

    /// Nothing of the bump is in effect: every file at its before-hash, no commit, no tag.
    pub fn is_untouched(&self) -> bool {
        self.files.iter().all(|w| !*w)
            && !matches!(self.commit, Mark::Done(_))
            && !matches!(self.tag, Mark::Done(_))
            && self.problems.is_empty()
    }
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn dir(root: &Path) -> Result<PathBuf> {
    let git_dir = atomic::git_dir_of(root)
        .with_context(|| format!("{} has no git directory", root.display()))?;
    Ok(atomic::state_dir(&git_dir))
}

fn intent_path(root: &Path) -> Result<PathBuf> {
    Ok(dir(root)?.join("intent.json"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Intent {
    /// The intent of a bump about to run `edits` (and commit/tag/push as given).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        command: &str,
        spec: &str,
        pre: Option<&str>,
        old: &semver::Version,
        new: &semver::Version,
        branch: &str,
        edits: &[FileEdit],
        plan: &Plan,
        head_before: String,
    ) -> Result<Intent> {
        let mut commit_message = None;
        let mut tag = None;
        let mut tag_message = None;
        let mut push_remote = None;
        for step in &plan.steps {
            if let Step::Run(p) = step {
                match p.args.first().map(String::as_str) {
                    Some("commit") => commit_message = arg_after(&p.args, "-m"),
                    Some("tag") => {
                        tag = p.args.get(2).cloned();
                        tag_message = arg_after(&p.args, "-m");
                    }
                    Some("push") => push_remote = p.args.get(2).cloned(),
                    _ => {}
                }
            }
        }
        // Each content hashed once (the file list and the content store share the digests).
        let hashed: Vec<(String, String)> = edits
            .iter()
            .map(|e| {
                (
                    digest_hex(e.before.as_bytes()),
                    digest_hex(e.after.as_bytes()),
                )
            })
            .collect();
        Ok(Intent {
            command: command.into(),
            spec: spec.into(),
            pre: pre.map(str::to_string),
            old: old.to_string(),
            new: new.to_string(),
            created_ms: now_ms(),
            head_before,
            branch: branch.into(),
            files: edits
                .iter()
                .zip(&hashed)
                .map(|(e, (before, after))| IntentFile {
                    display: e.display.clone(),
                    path: e.path.clone(),
                    before_sha256: before.clone(),
                    after_sha256: after.clone(),
                })
                .collect(),
            commit_message,
            tag,
            tag_message,
            push_remote,
            contents: edits
                .iter()
                .zip(&hashed)
                .flat_map(|(e, (before, after))| {
                    [
                        (before.clone(), e.before.clone()),
                        (after.clone(), e.after.clone()),
                    ]
                })
                .collect(),
        })
    }

    /// Writes the intent atomically (one file with the contents: complete or absent). Temp files
    /// of earlier killed runs are cleared first.
    pub fn record(&self, root: &Path) -> Result<()> {
        let dir = dir(root)?;
        clear_stale_temp_files(&dir.join("tmp"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let text = crate::core::json::text(&self.to_json());
        write_atomic(&intent_path(root)?, &text).context("cannot record the release intent")
    }

    /// The pending intent, if any.
    pub fn load(root: &Path) -> Result<Option<Intent>> {
        let path = intent_path(root)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let v: Json = crate::core::json::parse(&text).with_context(|| {
            format!(
                "{} is not valid JSON; remove it if no bump is interrupted",
                path.display()
            )
        })?;
        Intent::from_json(&v)
            .map(Some)
            .with_context(|| format!("{} is not a release intent", path.display()))
    }

    /// Removes the intent (and temp files of killed writes).
    pub fn remove(root: &Path) -> Result<()> {
        let path = intent_path(root)?;
        clear_stale_temp_files(&dir(root)?.join("tmp"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
        Ok(())
    }

    fn to_json(&self) -> Json {
        json!({
            "version": 1,
            "command": self.command,
            "spec": self.spec,
            "pre": self.pre,
            "old": self.old,
            "new": self.new,
            "created_ms": self.created_ms,
            "head_before": self.head_before,
            "branch": self.branch,
            "files": self.files.iter().map(|f| json!({
                "path": f.display,
                "abs": f.path.display().to_string(),
                "before_sha256": f.before_sha256,
                "after_sha256": f.after_sha256,
            })).collect::<Vec<_>>(),
            "commit": self.commit_message.as_ref().map(|m| json!({"message": m})),
            "tag": self.tag.as_ref().map(|t| json!({"name": t, "message": self.tag_message})),
            "push": self.push_remote.as_ref().map(|r| json!({
                "remote": r,
                "refs": [format!("refs/heads/{}", self.branch), format!("refs/tags/{}", self.tag.as_deref().unwrap_or(""))],
            })),
            "contents": self.contents,
        })
    }

    fn from_json(v: &Json) -> Result<Intent> {
        let s = |key: &str| -> Result<String> {
            v[key]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("no `{key}`"))
        };
        let mut files = Vec::new();
        for f in v["files"].as_array().context("no `files`")? {
            let g = |key: &str| -> Result<String> {
                f[key]
                    .as_str()
                    .map(str::to_string)
                    .with_context(|| format!("no `files[].{key}`"))
            };
            files.push(IntentFile {
                display: g("path")?,
                path: PathBuf::from(g("abs")?),
                before_sha256: g("before_sha256")?,
                after_sha256: g("after_sha256")?,
            });
        }
        Ok(Intent {
            command: s("command")?,
            spec: s("spec")?,
            pre: v["pre"].as_str().map(str::to_string),
            old: s("old")?,
            new: s("new")?,
            created_ms: v["created_ms"].as_u64().unwrap_or(0),
            head_before: s("head_before")?,
            branch: s("branch")?,
            files,
            commit_message: v["commit"]["message"].as_str().map(str::to_string),
            tag: v["tag"]["name"].as_str().map(str::to_string),
            tag_message: v["tag"]["message"].as_str().map(str::to_string),
            push_remote: v["push"]["remote"].as_str().map(str::to_string),
            contents: v["contents"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// `cargo xtask bump-version 0.2.0`: the command that resumes this intent.
    pub fn resume_command(&self) -> String {
        let mut s = format!("cargo xtask {} {}", self.command, self.spec);
        if let Some(p) = &self.pre {
            s.push_str(&format!(" --pre {p}"));
        }
        s
    }

    fn blob(&self, _root: &Path, sha: &str) -> Result<String> {
        match self.contents.get(sha) {
            Some(c) if digest_hex(c.as_bytes()) == sha => Ok(c.clone()),
            _ => bail!(
                "the intent lacks the recorded content {}; it cannot be resumed or aborted",
                short(sha)
            ),
        }
    }

    /// Reads where every step stands. `remote`: also ask the remote whether the push is done.
    pub fn state(&self, root: &Path, remote: bool) -> Result<State> {
        let mut problems = Vec::new();
        let mut files = Vec::new();
        for f in &self.files {
            let hash = std::fs::read(&f.path).map(|b| digest_hex(&b));
            match hash {
                Ok(h) if h == f.after_sha256 => files.push(true),
                Ok(h) if h == f.before_sha256 => files.push(false),
                Ok(_) => {
                    problems.push(format!(
                        "{} is neither as before the bump nor as after it (edited since?)",
                        f.display
                    ));
                    files.push(false);
                }
                Err(e) => {
                    problems.push(format!("cannot read {}: {e}", f.display));
                    files.push(false);
                }
            }
        }
        let head = rev_parse(root, "HEAD")?.unwrap_or_default();
        let commit = match &self.commit_message {
            None => Mark::NotPlanned,
            Some(_) if head == self.head_before => Mark::Todo,
            Some(message) => {
                let parent = rev_parse(root, "HEAD^")?.unwrap_or_default();
                if parent == self.head_before && head_message(root)?.trim_end() == message {
                    // Its tree holds the files as after the bump (when they are written).
                    if files.iter().all(|w| *w) && !tree_matches(root, &self.files)? {
                        problems.push(format!(
                            "HEAD {} is the bump's commit, but its files differ from the work tree's",
                            short(&head)
                        ));
                    }
                    Mark::Done(head.clone())
                } else {
                    problems.push(format!(
                        "HEAD moved to {} since the bump started at {}, and it is not the bump's commit",
                        short(&head),
                        short(&self.head_before)
                    ));
                    Mark::Todo
                }
            }
        };
        let tag = match &self.tag {
            None => Mark::NotPlanned,
            Some(t) => match rev_parse(root, &format!("refs/tags/{t}^{{commit}}"))? {
                None => Mark::Todo,
                Some(at) if Some(at.as_str()) == commit.sha() => {
                    Mark::Done(rev_parse(root, &format!("refs/tags/{t}"))?.unwrap_or_default())
                }
                Some(at) => {
                    problems.push(format!(
                        "tag {t} exists but points at {}, not at the bump's commit",
                        short(&at)
                    ));
                    Mark::Todo
                }
            },
        };
        let push = match (&self.push_remote, &tag) {
            (None, _) => Mark::NotPlanned,
            (Some(r), Mark::Done(tag_obj)) if remote => {
                let t = self.tag.as_deref().unwrap_or("");
                let refs = git::ls_remote(
                    root,
                    r,
                    &[
                        format!("refs/heads/{}", self.branch),
                        format!("refs/tags/{t}"),
                    ],
                )?;
                let has = |name: &str, want: &str| refs.iter().any(|(n, h)| n == name && h == want);
                if has(&format!("refs/tags/{t}"), tag_obj)
                    && has(
                        &format!("refs/heads/{}", self.branch),
                        commit.sha().unwrap_or(""),
                    )
                {
                    Mark::Done(String::new())
                } else {
                    Mark::Todo
                }
            }
            _ => Mark::Todo,
        };
        Ok(State {
            files,
            commit,
            tag,
            push,
            problems,
        })
    }

    /// The plan that finishes the bump from `state`: the edits not written, then the git steps
    /// not done (the tag on the bump's commit).
    pub fn resume_plan(&self, root: &Path, state: &State) -> Result<Plan> {
        let g = || Process::new("git", root);
        let mut plan = Plan::default();
        for (f, written) in self.files.iter().zip(&state.files) {
            if !written {
                plan.push(Step::Edit(FileEdit::new(
                    f.display.clone(),
                    f.path.clone(),
                    self.blob(root, &f.before_sha256)?,
                    self.blob(root, &f.after_sha256)?,
                )));
            }
        }
        let paths: Vec<String> = self.files.iter().map(|f| f.display.clone()).collect();
        if let (Mark::Todo, Some(message)) = (&state.commit, &self.commit_message) {
            plan.push(Step::Run(
                g().args(["add", "--"])
                    .args(paths.clone())
                    .undone_by(g().args(["reset", "-q", "--"]).args(paths.clone())),
            ));
            plan.push(Step::Run(
                g().args(["commit", "--quiet", "-m", message, "--"])
                    .args(paths)
                    .undone_by(g().args(["reset", "-q", "--soft", "HEAD~1"])),
            ));
        }
        if let (Mark::Todo, Some(tag)) = (&state.tag, &self.tag) {
            let message = self
                .tag_message
                .clone()
                .unwrap_or_else(|| format!("Release {tag}"));
            let mut p = g().args(["tag", "-a", tag, "-m", &message]);
            if let Some(sha) = state.commit_sha() {
                p = p.args([sha]);
            }
            plan.push(Step::Run(p.undone_by(g().args(["tag", "-d", tag]))));
        }
        if let (Mark::Todo, Some(remote), Some(tag)) = (&state.push, &self.push_remote, &self.tag) {
            plan.push(Step::Run(
                g().args(["push", "--atomic", remote, &self.branch, tag])
                    .sealing(),
            ));
        }
        Ok(plan)
    }

    /// The plan that restores the recorded before-state: tag and commit undone (when they are the
    /// bump's), the staging undone, every file back to its recorded bytes.
    pub fn abort_plan(&self, root: &Path, state: &State) -> Result<Plan> {
        let g = || Process::new("git", root);
        let mut plan = Plan::default();
        if let (Mark::Done(_), Some(tag)) = (&state.tag, &self.tag) {
            plan.push(Step::Run(g().args(["tag", "-d", tag])));
        }
        if let Mark::Done(_) = &state.commit {
            plan.push(Step::Run(g().args([
                "reset",
                "-q",
                "--soft",
                &self.head_before,
            ])));
        }
        let paths: Vec<String> = self.files.iter().map(|f| f.display.clone()).collect();
        if !paths.is_empty() && !self.head_before.is_empty() {
            plan.push(Step::Run(g().args(["reset", "-q", "--"]).args(paths)));
        }
        for (f, written) in self.files.iter().zip(&state.files) {
            if *written {
                plan.push(Step::Edit(FileEdit::new(
                    f.display.clone(),
                    f.path.clone(),
                    self.blob(root, &f.after_sha256)?,
                    self.blob(root, &f.before_sha256)?,
                )));
            }
        }
        Ok(plan)
    }

    /// Lock files a killed git step of this bump may have left: removed when they were made after
    /// the intent (by our own interrupted step) and nobody releases them within a few seconds;
    /// reported with the fix otherwise.
    pub fn clear_stale_locks(&self, root: &Path) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for lock in lock_candidates(root, &self.branch, self.tag.as_deref()) {
            if !lock.exists() {
                continue;
            }
            // A git child of a killed run may still be finishing: wait while a git process
            // works in this repository (or, where that cannot be known, a few seconds).
            let started = std::time::Instant::now();
            while lock.exists() {
                let waited = started.elapsed();
                match live_git_in(root) {
                    Some(true) if waited < Duration::from_secs(30) => {}
                    None if waited < Duration::from_secs(3) => {}
                    _ => break,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let Ok(meta) = std::fs::metadata(&lock) else {
                continue;
            };
            let made_ms = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as u64);
            let shown = shown_path(root, &lock);
            // Filesystem timestamps may be coarser than our clock: a little slack.
            if made_ms + 2000 >= self.created_ms {
                std::fs::remove_file(&lock)
                    .with_context(|| format!("cannot remove the stale {shown}"))?;
                removed.push(shown);
            } else {
                bail!(
                    "{shown} exists and is older than the interrupted bump: another git process may be running; \
                     if none is, remove it (`rm {shown}`) and run again"
                );
            }
        }
        Ok(removed)
    }
}

/// Is a git process running with its working directory in `root`? None where processes cannot be
/// listed (no `/proc`).
fn live_git_in(root: &Path) -> Option<bool> {
    let rd = std::fs::read_dir("/proc").ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !comm.trim().starts_with("git") {
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) {
            if cwd.starts_with(&root) {
                return Some(true);
            }
        }
    }
    Some(false)
}

fn arg_after(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The lock files git takes for add, commit and tag.
fn lock_candidates(root: &Path, branch: &str, tag: Option<&str>) -> Vec<PathBuf> {
    let Some(git_dir) = atomic::git_dir_of(root) else {
        return Vec::new();
    };
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    let mut out = vec![git_dir.join("index.lock"), git_dir.join("HEAD.lock")];
    out.push(common.join(format!("refs/heads/{branch}.lock")));
    if let Some(t) = tag {
        out.push(common.join(format!("refs/tags/{t}.lock")));
    }
    out.push(common.join("packed-refs.lock"));
    out
}

fn shown_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// A problem when `.git/index.lock` exists and no intent explains it: git refuses to commit.
pub fn index_lock_problem(root: &Path) -> Option<String> {
    let lock = atomic::git_dir_of(root)?.join("index.lock");
    lock.exists().then(|| {
        let shown = shown_path(root, &lock);
        format!(
            "{shown} exists: another git process is running, or one was killed and left it; \
             if no git is running, remove it (`rm {shown}`) and run again"
        )
    })
}

/// Temp files of killed atomic writes (their process is gone).
fn clear_stale_temp_files(tmp: &Path) {
    let Ok(rd) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .rsplit_once(".slipway-")
            .and_then(|(_, rest)| rest.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Mark {
    fn sha(&self) -> Option<&str> {
        match self {
            Mark::Done(s) => Some(s),
            _ => None,
        }
    }
}

/// `git rev-parse -q --verify <rev>`; None when it does not resolve.
pub fn rev_parse(root: &Path, rev: &str) -> Result<Option<String>> {
    let out = git::git_output(root, ["rev-parse", "-q", "--verify", rev])?;
    Ok(out.ok.then(|| out.stdout.trim().to_string()))
}

/// Do HEAD's versions of `files` equal the work tree's?
fn tree_matches(root: &Path, files: &[IntentFile]) -> Result<bool> {
    let mut args = vec!["diff", "--quiet", "HEAD", "--"];
    args.extend(files.iter().map(|f| f.display.as_str()));
    Ok(git::git_output(root, args)?.ok)
}

fn head_message(root: &Path) -> Result<String> {
    git::git_read(root, ["log", "-1", "--format=%B", "HEAD"])
}

/// The sentence every command says while an intent is pending, and the two ways out.
pub fn pending_message(root: &Path, intent: &Intent, what: &str) -> String {
    let state = intent
        .state(root, false)
        .map(|s| s.describe(intent))
        .unwrap_or_else(|e| format!("state unknown: {e:#}"));
    format!(
        "{what} refused: a bump to {} was interrupted ({state}); either resume it by re-running the same command (`{}`), \
         or undo it with `cargo xtask bump-version --abort`",
        intent.new,
        intent.resume_command()
    )
}

/// For every other command: refuse while a bump is interrupted.
pub fn refuse_if_pending(root: &Path, what: &str) -> Result<()> {
    if let Some(intent) = Intent::load(root)? {
        return Err(crate::Refusal {
            places: Vec::new(),
            what: what.into(),
            code: crate::EXIT_FAILURE,
            problems: vec![pending_message(root, &intent, what)],
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_intent_round_trips() {
        let i = Intent {
            command: "release".into(),
            spec: "minor".into(),
            pre: Some("rc".into()),
            old: "1.2.3".into(),
            new: "1.3.0-rc.1".into(),
            created_ms: 5,
            head_before: "abc".into(),
            branch: "main".into(),
            files: vec![IntentFile {
                display: "a".into(),
                path: "/r/a".into(),
                before_sha256: "b".into(),
                after_sha256: "c".into(),
            }],
            commit_message: Some("m".into()),
            tag: Some("v1.3.0-rc.1".into()),
            tag_message: Some("Release v1.3.0-rc.1".into()),
            push_remote: Some("origin".into()),
            contents: [("c0ffee".to_string(), "text\r\n".to_string())].into(),
        };
        assert_eq!(Intent::from_json(&i.to_json()).unwrap(), i);
        assert_eq!(i.resume_command(), "cargo xtask release minor --pre rc");
    }
}
