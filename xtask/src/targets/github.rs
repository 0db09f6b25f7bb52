//! The GitHub target of `publish-prod`: the GitHub release of the tag, with the Python
//! distributions and a `SHA256SUMS` as assets, its notes rendered from the CHANGELOG section.
//!
//! Everything goes through the `gh` CLI, REST only (`gh api`, `gh run list`): `gh release
//! view/upload` look releases up through GraphQL, which the REST contract does not cover.
//!
//! - [`gather`] reads facts (gh on PATH, a token, the repository, the CHANGELOG section) and
//!   reports every problem before anything runs; [`ci_check`] refuses a tag whose release
//!   workflow has not passed.
//! - build: write `SHA256SUMS` next to the distributions, and the release notes.
//! - publish: [`CreateRelease`] looks the release up by tag first and creates it (published, not
//!   a draft: drafts are invisible to the by-tag lookup, so a re-run after a failure would make a
//!   duplicate) only when it is absent; [`UploadAssets`] uploads each asset the release lacks,
//!   skips those already there with the same sha256, and refuses to touch one that differs.
//! - verify: [`VerifyRelease`] reads the release back and checks every asset's digest.
//!
//! The token travels as `GH_TOKEN` in gh's environment (a secret, registered for redaction),
//! never in argv. gh's other configuration (`GH_HOST`, proxies, `GH_CONFIG_DIR`, …) comes from
//! an explicit variable list ([`process_gh_env`] in production; tests inject the stand-in's).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::core::changelog::{self, Changelog};
use crate::facts::config::Config;
use crate::facts::notes as release_notes;
use crate::run::plan::{
    Answer, Decision, Planned, Process, Reconcile, Run, RunContext, Step, Sub, Val,
};
use crate::targets::publish::{Facts, Gathered, TargetPlan};
use crate::{core::sha256, core::template, run::ui, Problems};

/// The checksum file uploaded with the distributions.
pub const SUMS: &str = "SHA256SUMS";

/// Token variables, in the order they are preferred.
pub const TOKEN_VARS: &[&str] = &["GH_TOKEN", "GITHUB_TOKEN"];

/// Variables passed to gh as they are (when set): where GitHub is and how to reach it.
pub const PASSED_VARS: &[&str] = &[
    "GH_HOST",
    "GH_CONFIG_DIR",
    "GH_PROMPT_DISABLED",
    "GH_NO_UPDATE_NOTIFIER",
    "GH_PAGER",
    "NO_COLOR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PATH",
];

/// Token variables never passed on as they are (the chosen token goes as `GH_TOKEN`).
const TOKEN_LIKE: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
];

/// The gh-related variables of this process's environment: the tokens (registered for
/// redaction) and [`PASSED_VARS`]. What [`gather`] and a stand-alone verify use.
pub fn process_gh_env() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in TOKEN_VARS {
        if let Some(v) = crate::targets::publish::secret_env(name) {
            out.push((name.to_string(), v));
        }
    }
    for name in PASSED_VARS {
        if let Some(v) = std::env::var_os(name) {
            out.push((name.to_string(), v.to_string_lossy().into_owned()));
        }
    }
    // A proxy for gh alone (the local GitHub stand-in in tests and `rehearse`): given to gh
    // processes only, so builds and uploads keep talking to their hosts directly.
    if let Some(proxy) = std::env::var("SLIPWAY_GH_PROXY")
        .ok()
        .filter(|p| !p.is_empty())
    {
        out.retain(|(k, _)| !k.to_ascii_lowercase().ends_with("_proxy"));
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            out.push((k.to_string(), proxy.clone()));
        }
        out.push(("NO_PROXY".into(), String::new()));
        out.push(("no_proxy".into(), String::new()));
    }
    out
}

/// The GitHub repository (`owner/name`): `[workspace.metadata.release.github] repo`, else parsed
/// from the release remote's URL when it is a github.com URL.
pub fn repo(cfg: &Config) -> Option<String> {
    if let Some(r) = &cfg.github_repo {
        return Some(r.clone());
    }
    let url = crate::facts::history::remote_web_url(&cfg.root, &cfg.remote)?;
    let path = url.strip_prefix("https://github.com/")?;
    let mut parts = path.split('/').filter(|s| !s.is_empty());
    let (owner, name) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(format!("{owner}/{name}"))
}

/// How gh is run for one repository: the environment it gets on top of the inherited one.
#[derive(Debug, Clone)]
pub struct Gh {
    /// `owner/name`.
    pub repo: String,
    /// `GH_TOKEN` (secret) and the passed variables.
    pub env: Vec<(String, Val)>,
    /// Where gh runs (the repository root).
    pub cwd: PathBuf,
}

impl Gh {
    /// Resolves gh, the token and the repository from `gh_env` (see [`process_gh_env`]).
    /// Problems are one sentence each, naming the fix.
    pub fn resolve(cfg: &Config, gh_env: &[(String, String)]) -> Result<Gh, Vec<String>> {
        let get = |k: &str| {
            gh_env
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let mut problems = Vec::new();
        let path = get("PATH")
            .map(String::from)
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        if find_program("gh", &path).is_none() {
            problems.push(
                "gh is not installed: apt-get install gh (or see https://cli.github.com)".into(),
            );
        }
        let token = TOKEN_VARS
            .iter()
            .find_map(|k| get(k).filter(|v| !v.is_empty()));
        if token.is_none() {
            problems.push(
                "no GitHub token: set GH_TOKEN (or GITHUB_TOKEN) to a token that may create releases"
                    .to_string(),
            );
        }
        let repo = repo(cfg);
        if repo.is_none() {
            problems.push(format!(
                "no GitHub repository: set [workspace.metadata.release.github] repo = \"owner/name\" in {} \
                 (the `{}` remote is not a github.com URL)",
                crate::facts::config::FILE,
                cfg.remote
            ));
        }
        let (Some(token), Some(repo), true) = (token, repo, problems.is_empty()) else {
            return Err(problems);
        };
        ui::register_secret(token);
        let mut env = vec![("GH_TOKEN".to_string(), Val::Secret(token.to_string()))];
        // gh reads GH_ENTERPRISE_TOKEN for a GitHub Enterprise host.
        if get("GH_HOST").is_some_and(|h| !matches!(h, "" | "github.com" | "github.localhost")) {
            env.push((
                "GH_ENTERPRISE_TOKEN".to_string(),
                Val::Secret(token.to_string()),
            ));
        }
        for (k, v) in gh_env {
            if PASSED_VARS.contains(&k.as_str()) && !TOKEN_LIKE.contains(&k.as_str()) {
                env.retain(|(n, _)| n != k);
                env.push((k.clone(), Val::Plain(v.clone())));
            }
        }
        Ok(Gh {
            repo,
            env,
            cwd: cfg.root.clone(),
        })
    }

    /// The `gh` a real run would use, for a plan that is only shown (a dry run that a real run
    /// would refuse): the token, if missing, is the placeholder `<GH_TOKEN>`. None without a
    /// repository.
    pub fn preview(cfg: &Config, gh_env: &[(String, String)]) -> Option<Gh> {
        Some(Gh {
            repo: repo(cfg)?,
            env: vec![("GH_TOKEN".to_string(), Val::Plain("<GH_TOKEN>".into()))],
            cwd: cfg.root.clone(),
        })
        .map(|gh| Gh::resolve(cfg, gh_env).unwrap_or(gh))
    }

    /// `gh <args>` with this environment.
    pub fn process<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Process {
        let mut p = Process::new("gh", &self.cwd).args(args);
        p.env = self.env.clone();
        p
    }

    /// `gh api --include <args>`: the status line tells a 404 from a failure.
    pub fn api<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Process {
        let mut p = self.process(["api", "--include"]);
        p.args.extend(args.into_iter().map(Into::into));
        p
    }

    /// `repos/<owner>/<name>/releases/tags/<tag>`.
    pub fn release_by_tag_path(&self, tag: &str) -> String {
        format!("repos/{}/releases/tags/{}", self.repo, encode(tag))
    }
}

/// The command line without its environment (the token is in it only as `***`, but the
/// passed variables would repeat on every line).
fn shown(p: &Process) -> String {
    let mut bare = p.clone();
    bare.env.clear();
    ui::redact(&bare.command_line())
}

fn find_program(name: &str, path: &str) -> Option<PathBuf> {
    crate::run::process::find_program(name, path)
}

/// Percent-encodes everything outside RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A finished gh process.
struct Captured {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Captured {
    /// The last lines gh printed, secrets masked.
    fn tail(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .chain(self.stdout.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        ui::redact(lines[lines.len().saturating_sub(8)..].join("\n").trim())
    }
}

fn run(p: &Process) -> Result<Captured> {
    let out = crate::run::process::output(p)?;
    Ok(Captured {
        ok: out.ok,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// An answer of `gh api --include`.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Json,
}

/// Runs a `gh api --include` process. `Err` when gh got no HTTP answer at all.
pub fn api(p: &Process) -> Result<Reply> {
    let out = run(p)?;
    reply(
        p,
        &Answer {
            ok: out.ok,
            stdout: out.stdout,
            stderr: out.stderr,
        },
    )
    .map_err(|e| anyhow!("{e}"))
}

/// The HTTP answer in what `gh api --include` printed (pure). `Err` is the sentence for no
/// answer at all.
pub fn reply(p: &Process, out: &Answer) -> Result<Reply, String> {
    let text = out.stdout.replace("\r\n", "\n");
    let status = text
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status else {
        let tail = Captured {
            ok: out.ok,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
        }
        .tail();
        return Err(format!(
            "`{}` got no answer from GitHub; run again once GitHub is reachable (every step checks \
             what is already there first):\n{}",
            shown(p),
            if tail.is_empty() {
                "(no output)".to_string()
            } else {
                tail
            }
        ));
    };
    let body_text = text.split_once("\n\n").map_or("", |(_, b)| b).trim();
    let body = if body_text.is_empty() {
        Json::Null
    } else {
        serde_json::from_str(body_text).unwrap_or_else(|_| Json::String(body_text.to_string()))
    };
    Ok(Reply { status, body })
}

/// GitHub's error message from an error answer (`message` and the `errors` codes).
pub fn gh_message(body: &Json) -> String {
    let mut msg = body
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or("no message")
        .to_string();
    if let Some(errors) = body.get("errors").and_then(Json::as_array) {
        let codes: Vec<String> = errors
            .iter()
            .map(|e| {
                let field = e.get("field").and_then(Json::as_str).unwrap_or("");
                let code = e.get("code").and_then(Json::as_str).unwrap_or("");
                format!("{field} {code}").trim().to_string()
            })
            .collect();
        if !codes.is_empty() {
            msg.push_str(&format!(" ({})", codes.join(", ")));
        }
    }
    ui::redact(&msg)
}

pub fn unexpected(p: &Process, r: &Reply) -> anyhow::Error {
    anyhow!(
        "`{}` answered HTTP {}: {}",
        shown(p),
        r.status,
        gh_message(&r.body)
    )
}

/// The release for `tag`, or `None` when GitHub answers 404.
pub fn release_by_tag(gh: &Gh, tag: &str) -> Result<Option<Json>> {
    let p = gh.api([gh.release_by_tag_path(tag)]);
    let r = api(&p)?;
    match r.status {
        200 => Ok(Some(r.body)),
        404 => Ok(None),
        _ => Err(unexpected(&p, &r)),
    }
}

fn str_of<'a>(v: &'a Json, key: &str) -> &'a str {
    v.get(key).and_then(Json::as_str).unwrap_or("")
}

/// Pushes a problem unless the very same sentence is already listed (gather and the CI check
/// share their prerequisites).
fn push_once(problems: &mut Problems, msg: String) {
    if !problems.list.contains(&msg) {
        problems.failure(msg);
    }
}

// ---------------------------------------------------------------------------------------------
// Facts

/// Refuses the tag unless the newest run of the release workflow for it completed with success
/// (on the tagged commit, when the run names its commit).
pub fn ci_check(facts: &Facts, gh_env: &[(String, String)], problems: &mut Problems) -> Result<()> {
    let gh = match Gh::resolve(&facts.cfg, gh_env) {
        Ok(gh) => gh,
        Err(list) => {
            list.into_iter().for_each(|m| push_once(problems, m));
            return Ok(());
        }
    };
    let wf = &facts.cfg.release_workflow;
    let tag = &facts.tag;
    let p = gh.process([
        "run",
        "list",
        "--repo",
        &gh.repo,
        "--workflow",
        wf,
        "--branch",
        tag,
        "--json",
        "conclusion,status,url,headSha",
        "--limit",
        "20",
    ]);
    let emergency = "or pass --skip-ci-check in an emergency";
    let out = run(&p)?;
    if !out.ok {
        let tail = out.tail();
        if tail.contains("HTTP 404") {
            problems.failure(format!(
                "cannot check CI for {tag}: the workflow {wf} does not exist in {}; set \
                 [workspace.metadata.release.github] release-workflow to the workflow that tests \
                 release tags, {emergency}",
                gh.repo
            ));
        } else {
            problems.failure(format!(
                "cannot check CI for {tag}: `{}` failed: {tail}; check the token may read Actions \
                 in {}, {emergency}",
                shown(&p),
                gh.repo
            ));
        }
        return Ok(());
    }
    let runs: Json = serde_json::from_str(&out.stdout)
        .with_context(|| format!("`{}` printed no JSON", shown(&p)))?;
    let Some(newest) = runs.as_array().and_then(|a| a.first()) else {
        problems.failure(format!(
            "CI has not run for {tag}: no {wf} run on {tag} in {}; push the tag and let the \
             workflow pass, {emergency}",
            gh.repo
        ));
        return Ok(());
    };
    let url = str_of(newest, "url");
    let status = str_of(newest, "status");
    let conclusion = str_of(newest, "conclusion");
    let head = str_of(newest, "headSha");
    if status != "completed" {
        problems.failure(format!(
            "CI has not passed for {tag}: run {url} is still {status}; wait for it to finish, {emergency}"
        ));
    } else if conclusion != "success" {
        let c = if conclusion.is_empty() {
            "without a conclusion"
        } else {
            conclusion
        };
        problems.failure(format!(
            "CI has not passed for {tag}: run {url} concluded {c}; fix it, {emergency}"
        ));
    } else if !head.is_empty() && head != facts.commit {
        problems.failure(format!(
            "CI has not passed for {tag}: run {url} tested {} but {tag} is {}; run {wf} for the \
             tag again, {emergency}",
            &head[..head.len().min(7)],
            facts.short
        ));
    }
    Ok(())
}

/// One check on a commit: a check run or a commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCheck {
    /// `check run` or `status`.
    pub kind: &'static str,
    pub name: String,
    /// `success`, `failure`, `in_progress`, `pending`, … (a conclusion, else the status).
    pub state: String,
    pub url: String,
}

/// What the checks of a commit say (pure): the red ones, the pending ones, how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitVerdict {
    pub red: Vec<CommitCheck>,
    pub pending: Vec<CommitCheck>,
    pub total: usize,
}

/// Judges every check run and commit status (pure): a check run is green when completed with
/// `success`, `neutral` or `skipped`, pending until completed; a status is green with `success`,
/// pending with `pending`, red otherwise.
pub fn judge_commit(check_runs: &[Json], statuses: &[Json]) -> CommitVerdict {
    let mut v = CommitVerdict::default();
    for c in check_runs {
        let url = [str_of(c, "details_url"), str_of(c, "html_url")]
            .into_iter()
            .find(|u| !u.is_empty())
            .unwrap_or("")
            .to_string();
        let status = str_of(c, "status");
        let conclusion = str_of(c, "conclusion");
        let check = |state: &str| CommitCheck {
            kind: "check run",
            name: str_of(c, "name").to_string(),
            state: state.to_string(),
            url: url.clone(),
        };
        v.total += 1;
        if status != "completed" {
            v.pending
                .push(check(if status.is_empty() { "pending" } else { status }));
        } else if !["success", "neutral", "skipped"].contains(&conclusion) {
            v.red.push(check(if conclusion.is_empty() {
                "without a conclusion"
            } else {
                conclusion
            }));
        }
    }
    for st in statuses {
        let state = str_of(st, "state");
        let check = CommitCheck {
            kind: "status",
            name: str_of(st, "context").to_string(),
            state: state.to_string(),
            url: str_of(st, "target_url").to_string(),
        };
        v.total += 1;
        match state {
            "success" => {}
            "pending" => v.pending.push(check),
            _ => v.red.push(check),
        }
    }
    v
}

/// Every check run and every commit status of `sha` (all pages).
fn read_commit_checks(gh: &Gh, sha: &str) -> Result<(Vec<Json>, Vec<Json>), String> {
    let mut out = (Vec::new(), Vec::new());
    for (path, key) in [("check-runs", "check_runs"), ("status", "statuses")] {
        let list = if key == "check_runs" {
            &mut out.0
        } else {
            &mut out.1
        };
        for page in 1.. {
            let p = gh.api([format!(
                "repos/{}/commits/{sha}/{path}?per_page=100&page={page}",
                gh.repo
            )]);
            let r = api(&p).map_err(|e| format!("{e:#}"))?;
            if r.status != 200 {
                return Err(format!("{:#}", unexpected(&p, &r)));
            }
            let items = r
                .body
                .get(key)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let total = r
                .body
                .get("total_count")
                .and_then(Json::as_u64)
                .unwrap_or(0) as usize;
            let n = items.len();
            list.extend(items);
            if n == 0 || list.len() >= total || page >= 50 {
                break;
            }
        }
    }
    Ok(out)
}

/// How often pending checks are read again while waiting (`SLIPWAY_CI_POLL_MS`, default 5 s).
fn ci_poll() -> Duration {
    std::env::var("SLIPWAY_CI_POLL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

/// Refuses the tag unless every check run and commit status of its commit is green; pending
/// ones are waited for up to `wait` (`[workspace.metadata.release.github] ci-wait-s`), read
/// again every [`ci_poll`]. A commit with no checks at all passes, with a note.
pub fn commit_check(
    facts: &Facts,
    gh_env: &[(String, String)],
    wait: Duration,
    ui: &ui::Ui,
    problems: &mut Problems,
) -> Result<()> {
    let gh = match Gh::resolve(&facts.cfg, gh_env) {
        Ok(gh) => gh,
        Err(list) => {
            list.into_iter().for_each(|m| push_once(problems, m));
            return Ok(());
        }
    };
    let tag = &facts.tag;
    let emergency = "or pass --skip-ci-check in an emergency";
    let deadline = std::time::Instant::now() + wait;
    let mut told = false;
    loop {
        let (runs, statuses) = match read_commit_checks(&gh, &facts.commit) {
            Ok(x) => x,
            Err(e) => {
                problems.failure(format!(
                    "cannot read the checks of {tag}'s commit {}: {e}; check the token may read \
                     checks and statuses in {}, {emergency}",
                    facts.short, gh.repo
                ));
                return Ok(());
            }
        };
        let v = judge_commit(&runs, &statuses);
        if v.total == 0 {
            ui.note(&format!(
                "no check runs or statuses on {tag}'s commit {}: nothing to wait for",
                facts.short
            ));
            return Ok(());
        }
        let line = |c: &CommitCheck| {
            let url = if c.url.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.url)
            };
            format!("{} `{}` is {}{url}", c.kind, c.name, c.state)
        };
        if !v.red.is_empty() {
            for c in &v.red {
                problems.failure(format!(
                    "CI has not passed for {tag}: on its commit {}, the {}; fix it, {emergency}",
                    facts.short,
                    line(c)
                ));
            }
            return Ok(());
        }
        if v.pending.is_empty() {
            ui.note(&format!(
                "all {} checks on {tag}'s commit {} are green",
                v.total, facts.short
            ));
            return Ok(());
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            let waited = if wait.is_zero() {
                "(ci-wait-s is 0: not waiting)".to_string()
            } else {
                format!("after waiting {} s", wait.as_secs())
            };
            for c in &v.pending {
                problems.failure(format!(
                    "CI has not finished for {tag}: on its commit {}, the {} {waited}; wait for \
                     it, raise [workspace.metadata.release.github] ci-wait-s, {emergency}",
                    facts.short,
                    line(c)
                ));
            }
            return Ok(());
        }
        if !told {
            ui.note(&format!(
                "waiting up to {} s for {} pending check(s) on {tag}'s commit {}: {}",
                wait.as_secs(),
                v.pending.len(),
                facts.short,
                v.pending
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            told = true;
        }
        std::thread::sleep(ci_poll().min(deadline - now));
    }
}

/// The GitHub part of the publish plan (see the module docs). Reads gh's configuration from this
/// process's environment.
pub fn gather(facts: &Facts, problems: &mut Problems) -> Gathered {
    gather_with(facts, &process_gh_env(), problems)
}

/// [`gather`] with gh's environment given explicitly (`process_gh_env()`, or a stand-in's).
pub fn gather_with(
    facts: &Facts,
    gh_env: &[(String, String)],
    problems: &mut Problems,
) -> Gathered {
    // With problems (no token, no gh), the plan is still made, with a placeholder token, so a
    // dry run shows it; a real run refuses before any step runs.
    let gh = match Gh::resolve(&facts.cfg, gh_env) {
        Ok(gh) => Some(gh),
        Err(list) => {
            list.into_iter().for_each(|m| push_once(problems, m));
            Gh::preview(&facts.cfg, gh_env)
        }
    };
    let notes = match notes(facts) {
        Ok(n) => Some(n),
        Err(msg) => {
            push_once(problems, msg);
            None
        }
    };
    let (Some(gh), Some(notes)) = (gh, notes) else {
        return Ok(Some(TargetPlan::default()));
    };
    let root = &facts.cfg.root;
    let dist = facts.dist_dir();
    let notes_path = release_dir(facts).join(format!("{}.md", file_safe(&facts.tag)));
    let prerelease = !facts.version.pre.is_empty();
    let stable_max = facts
        .released
        .iter()
        .filter(|v| v.pre.is_empty())
        .all(|v| v.cmp_precedence(&facts.version).is_le());
    let plan = TargetPlan {
        inputs: Vec::new(),
        build: vec![
            Step::Action(Box::new(WriteSums {
                dir: dist.clone(),
                display: rel(root, &dist),
            })),
            Step::Action(Box::new(WriteNotes {
                path: notes_path.clone(),
                display: rel(root, &notes_path),
                notes: notes.clone(),
            })),
        ],
        publish: vec![
            Step::Action(Box::new(CreateRelease {
                gh: gh.clone(),
                tag: facts.tag.clone(),
                name: facts.tag.clone(),
                body: notes,
                prerelease,
                make_latest: (!prerelease).then_some(if stable_max { "true" } else { "false" }),
                body_file: release_dir(facts)
                    .join(format!("{}.create.json", file_safe(&facts.tag))),
            })),
            Step::Action(Box::new(UploadAssets {
                gh: gh.clone(),
                tag: facts.tag.clone(),
                dist: dist.clone(),
                root: root.clone(),
            })),
        ],
        verify: verify_steps_with(facts, gh),
        independent_build: false,
    };
    Ok(Some(plan))
}

/// The verification step alone (for a stand-alone `verify`), with gh configured from `gh_env`.
/// Problems (no gh, no token, no repository) are pushed like [`gather_with`] does.
/// The GitHub release target.
pub struct Github;

impl crate::targets::Target for Github {
    fn name(&self) -> &'static str {
        "github"
    }
    fn gather(&self, facts: &Facts, problems: &mut Problems) -> Gathered {
        gather(facts, problems)
    }
    fn verify(&self, facts: &Facts, problems: &mut Problems) -> Vec<Step> {
        if repo(&facts.cfg).is_none() {
            return Vec::new();
        }
        verify_steps(facts, &process_gh_env(), problems)
    }
    fn build_rank(&self) -> u8 {
        2
    }
    fn publish_rank(&self) -> u8 {
        2
    }
}

pub fn verify_steps(
    facts: &Facts,
    gh_env: &[(String, String)],
    problems: &mut Problems,
) -> Vec<Step> {
    match Gh::resolve(&facts.cfg, gh_env) {
        Ok(gh) => verify_steps_with(facts, gh),
        Err(list) => {
            list.into_iter().for_each(|m| push_once(problems, m));
            Vec::new()
        }
    }
}

fn verify_steps_with(facts: &Facts, gh: Gh) -> Vec<Step> {
    vec![Step::Action(Box::new(VerifyRelease {
        gh,
        tag: facts.tag.clone(),
        prerelease: !facts.version.pre.is_empty(),
        dist: facts.dist_dir(),
        root: facts.cfg.root.clone(),
    }))]
}

/// `target/slipway/release/`: notes and request bodies.
fn release_dir(facts: &Facts) -> PathBuf {
    facts.work.join("release")
}

fn file_safe(tag: &str) -> String {
    tag.replace(['/', '\\'], "_")
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The release notes: the `default` template over the CHANGELOG section, with one `docker pull`
/// line per configured registry. `Err` is the problem sentence.
pub fn notes(facts: &Facts) -> Result<String, String> {
    let notes = changelog_notes(facts)?;
    Ok(match &facts.gates_skipped {
        Some(line) => format!("{}\n\n> **{line}**\n", notes.trim_end()),
        None => notes,
    })
}

/// [`notes`] without the line on skipped gates.
fn changelog_notes(facts: &Facts) -> Result<String, String> {
    let cfg = &facts.cfg;
    let v = &facts.version;
    if cfg.changelog_style == Some(crate::core::clstyle::StyleName::None) {
        // No changelog: the notes are the release's commits (release_notes::variables).
        let vars = release_notes::variables(cfg, Some(&v.to_string()))
            .map_err(|e| format!("release notes for {v}: {e:#}"))?;
        return template::render(crate::core::notes::DEFAULT, &vars)
            .map_err(|e| format!("release notes: {e}"));
    }
    let text = std::fs::read_to_string(cfg.path(&cfg.changelog)).map_err(|e| {
        format!(
            "cannot read {}: {e}; it holds the release notes",
            cfg.changelog
        )
    })?;
    let cl = Changelog::parse(&text).map_err(|e| {
        format!(
            "{}: {e}; fix it, the release notes come from it",
            cfg.changelog
        )
    })?;
    let section = cl.section(v).ok_or_else(|| {
        format!(
            "{} has no section for {v}: add `## [{v}] - <date>` with the release's changes",
            cfg.changelog
        )
    })?;
    let body = cl.body(&text, section);
    if changelog::has_placeholders(body) {
        return Err(format!(
            "{} still has placeholders in [{v}]: fill them in",
            cfg.changelog
        ));
    }
    if changelog::is_empty_body(body) {
        return Err(format!(
            "{} has no entries in [{v}]: describe the release's changes",
            cfg.changelog
        ));
    }
    // The docker pull lines come from the same repositories and exact tag the docker target pushes.
    let vars = release_notes::variables(cfg, Some(&v.to_string()))
        .map_err(|e| format!("release notes for {v}: {e:#}"))?;
    template::render(crate::core::notes::DEFAULT, &vars).map_err(|e| format!("release notes: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Local assets

/// One file to be a release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAsset {
    /// The asset name (the file name).
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// The files of the dist directory that go into `SHA256SUMS`: regular files, not hidden, not
/// `SHA256SUMS` itself; sorted by name.
fn dist_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == SUMS || !e.file_type()?.is_file() {
            continue;
        }
        out.push((name, e.path()));
    }
    out.sort();
    Ok(out)
}

/// The content of `SHA256SUMS` for `files` (sha256, two spaces, name; sorted by name).
fn sums_text(files: &[(String, PathBuf)]) -> Result<String> {
    let mut s = String::new();
    for (name, path) in files {
        let hex = crate::facts::files::file_hex(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        s.push_str(&format!("{hex}  {name}\n"));
    }
    Ok(s)
}

/// The assets of a release: every file `SHA256SUMS` lists (checked against the file on disk),
/// then `SHA256SUMS` itself.
pub fn local_assets(dist: &Path, root: &Path) -> Result<Vec<LocalAsset>> {
    let sums_path = dist.join(SUMS);
    let shown = rel(root, &sums_path);
    let text = std::fs::read_to_string(&sums_path).map_err(|e| {
        anyhow!("cannot read {shown}: {e}; the build step writes it, run the whole publish again")
    })?;
    let mut assets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((hex, name)) = line.split_once("  ") else {
            bail!(
                "{shown} line {}: expected `<sha256>  <file>`, got {line:?}",
                i + 1
            );
        };
        let path = dist.join(name);
        let actual = crate::facts::files::file_hex(&path).map_err(|e| {
            anyhow!(
                "{}: {e}; it is listed in {shown}, rebuild the distributions",
                rel(root, &path)
            )
        })?;
        if actual != hex {
            bail!(
                "{} changed after {shown} was written (sha256 {actual}, listed {hex}); rebuild the distributions",
                rel(root, &path)
            );
        }
        let size = std::fs::metadata(&path)?.len();
        assets.push(LocalAsset {
            name: name.to_string(),
            path,
            sha256: actual,
            size,
        });
    }
    let extra: Vec<String> = dist_files(dist)?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !assets.iter().any(|a| &a.name == n))
        .collect();
    if !extra.is_empty() {
        bail!(
            "{} has files {shown} does not list ({}); rebuild so that {SUMS} is written again",
            rel(root, dist),
            extra.join(", ")
        );
    }
    if assets.is_empty() {
        bail!("{shown} lists no files; the python build step makes the distributions");
    }
    assets.push(LocalAsset {
        name: SUMS.to_string(),
        sha256: sha256::digest_hex(text.as_bytes()),
        size: text.len() as u64,
        path: sums_path,
    });
    Ok(assets)
}

/// The name GitHub stores an uploaded asset under: characters other than `A-Za-z0-9._+-`
/// become `.`, leading and trailing dots are dropped.
pub fn github_asset_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    s.trim_matches('.').to_string()
}

/// How a release's asset compares to the local file.
#[derive(Debug, PartialEq, Eq)]
enum Match {
    Absent,
    /// Same content; the text is the evidence (`sha256 …` or `size …`).
    Same(String),
    /// Another content, or a broken upload; the text says what differs.
    Differs(String),
}

fn compare(release: &Json, local: &LocalAsset) -> Match {
    let want = github_asset_name(&local.name);
    let Some(remote) = release
        .get("assets")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().find(|x| str_of(x, "name") == want))
    else {
        return Match::Absent;
    };
    let state = str_of(remote, "state");
    if !state.is_empty() && state != "uploaded" {
        return Match::Differs(format!("a broken upload (state {state})"));
    }
    match remote.get("digest").and_then(Json::as_str) {
        Some(d) => {
            let got = d.strip_prefix("sha256:").unwrap_or(d);
            if got == local.sha256 {
                Match::Same(format!("sha256 {}", &got[..got.len().min(12)]))
            } else {
                Match::Differs(format!("{d}, the local file has sha256:{}", local.sha256))
            }
        }
        None => {
            let size = remote.get("size").and_then(Json::as_u64).unwrap_or(0);
            if size == local.size {
                Match::Same(format!("size {size} (GitHub gave no digest)"))
            } else {
                Match::Differs(format!(
                    "{size} bytes, the local file has {} (GitHub gave no digest)",
                    local.size
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Actions

/// Writes `SHA256SUMS` next to the distributions.
#[derive(Debug)]
pub struct WriteSums {
    pub dir: PathBuf,
    pub display: String,
}

/// What [`WriteSums`] reads: how many distributions, the `SHA256SUMS` they make, the one there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsSeen {
    pub files: usize,
    pub text: String,
    pub current: Option<String>,
}

impl Reconcile for WriteSums {
    type Seen = SumsSeen;
    fn header(&self) -> String {
        format!("write {}/{SUMS}", self.display)
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "sha256 of every distribution in {}, as `<sha256>  <file>`; skipped when it already says that",
            self.display
        ))
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Write {
            path: self.dir.join(SUMS),
            content: "<sums>".into(),
        }])
    }
    fn observe(&self, _cx: &RunContext) -> Result<SumsSeen> {
        let files = dist_files(&self.dir)?;
        Ok(SumsSeen {
            files: files.len(),
            text: sums_text(&files)?,
            current: std::fs::read_to_string(self.dir.join(SUMS)).ok(),
        })
    }
    fn decide(&self, seen: &SumsSeen) -> Result<Decision> {
        if seen.files == 0 {
            bail!(
                "no distributions in {}: the python build step makes them; build them first",
                self.display
            );
        }
        if seen.current.as_deref() == Some(seen.text.as_str()) {
            return Ok(Decision::done(format!(
                "{SUMS} already lists these {} file(s) with these digests",
                seen.files
            )));
        }
        Ok(Decision::apply(
            vec![Sub::Write {
                path: self.dir.join(SUMS),
                content: seen.text.clone(),
            }],
            seen.text.trim_end(),
        ))
    }
    fn json(&self) -> Json {
        json!({"path": format!("{}/{SUMS}", self.display)})
    }
}

/// Writes the release notes to `target/slipway/release/<tag>.md`.
#[derive(Debug)]
pub struct WriteNotes {
    pub path: PathBuf,
    pub display: String,
    pub notes: String,
}

impl Reconcile for WriteNotes {
    /// The notes file as it is.
    type Seen = Option<String>;
    fn header(&self) -> String {
        format!("write release notes {}", self.display)
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![self.write()])
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<String>> {
        Ok(std::fs::read_to_string(&self.path).ok())
    }
    fn decide(&self, current: &Option<String>) -> Result<Decision> {
        Ok(if current.as_deref() == Some(self.notes.as_str()) {
            Decision::done(format!("{} is up to date", self.display))
        } else {
            Decision::apply(vec![self.write()], "")
        })
    }
    fn json(&self) -> Json {
        json!({"path": self.display, "notes": self.notes})
    }
}

impl WriteNotes {
    fn write(&self) -> Sub {
        Sub::Write {
            path: self.path.clone(),
            content: self.notes.clone(),
        }
    }
}

/// Creates the (published) release for the tag, unless it exists.
#[derive(Debug)]
pub struct CreateRelease {
    pub gh: Gh,
    pub tag: String,
    pub name: String,
    pub body: String,
    pub prerelease: bool,
    /// `make_latest` for a stable release: "false" for a hotfix of an older line.
    pub make_latest: Option<&'static str>,
    /// Where the JSON request body is written (`gh api --input`).
    pub body_file: PathBuf,
}

impl CreateRelease {
    fn request(&self) -> Json {
        let mut body = json!({
            "tag_name": self.tag,
            "name": self.name,
            "body": self.body,
            "draft": false,
            "prerelease": self.prerelease,
        });
        if let Some(latest) = self.make_latest {
            body["make_latest"] = json!(latest);
        }
        body
    }
    fn lookup(&self) -> Process {
        self.gh.api([self.gh.release_by_tag_path(&self.tag)])
    }
    fn create(&self) -> Process {
        self.gh.api([
            "-X".to_string(),
            "POST".into(),
            format!("repos/{}/releases", self.gh.repo),
            "--input".into(),
            rel(&self.gh.cwd, &self.body_file),
        ])
    }
}

fn evidence(rel: &Json) -> String {
    let id = rel.get("id").and_then(Json::as_u64).unwrap_or(0);
    let when = str_of(rel, "published_at");
    let mut s = format!(
        "release {} already exists (id {id}",
        str_of(rel, "html_url")
    );
    if !when.is_empty() {
        s.push_str(&format!(", published {when}"));
    }
    s.push(')');
    s
}

/// The release GitHub has for a tag (`None`: it answered 404).
pub type ReleaseSeen = Option<Json>;

impl Reconcile for CreateRelease {
    type Seen = ReleaseSeen;
    fn header(&self) -> String {
        format!(
            "create GitHub release {} in {}{}",
            self.tag,
            self.gh.repo,
            if self.prerelease {
                " (pre-release)"
            } else {
                ""
            }
        )
    }
    fn rule(&self) -> Option<String> {
        Some("created (published, not a draft) only when the lookup by tag answers 404".to_string())
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(self.lookup())],
            apply: self.creation(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<ReleaseSeen> {
        release_by_tag(&self.gh, &self.tag)
    }
    fn decide(&self, seen: &ReleaseSeen) -> Result<Decision> {
        if let Some(rel) = seen {
            return Ok(Decision::done(evidence(rel))
                .recording("github.release_url", str_of(rel, "html_url")));
        }
        // GitHub's 201 is the evidence (a lookup right after may not see it yet).
        Ok(Decision::finish(
            self.creation(),
            "created release <github.release_url> (id <github.release_id>)",
        ))
    }
    fn json(&self) -> Json {
        json!({
            "repo": self.gh.repo,
            "tag": self.tag,
            "request": self.request(),
        })
    }
}

impl CreateRelease {
    /// Write the request body, POST it.
    fn creation(&self) -> Vec<Sub> {
        let create = self.create();
        let (tag, repo) = (self.tag.clone(), self.gh.repo.clone());
        let judged = create.clone();
        vec![
            Sub::Write {
                path: self.body_file.clone(),
                content: serde_json::to_string_pretty(&self.request()).unwrap_or_default(),
            },
            Run::new(create)
                .verdict(move |out| {
                    let r = reply(&judged, out)?;
                    match r.status {
                        201 => Ok(vec![
                            (
                                "github.release_url".into(),
                                str_of(&r.body, "html_url").to_string(),
                            ),
                            (
                                "github.release_id".into(),
                                r.body
                                    .get("id")
                                    .and_then(Json::as_u64)
                                    .unwrap_or(0)
                                    .to_string(),
                            ),
                        ]),
                        422 if gh_message(&r.body).contains("already_exists") => Err(format!(
                            "GitHub already has a release for {tag} in {repo} that is not visible by tag (a draft?): \
                             publish or delete it in the web UI, then run again"
                        )),
                        _ => Err(unexpected(&judged, &r).to_string()),
                    }
                })
                .sub(),
        ]
    }
}

/// Uploads the assets the release lacks; refuses when one differs.
#[derive(Debug)]
pub struct UploadAssets {
    pub gh: Gh,
    pub tag: String,
    pub dist: PathBuf,
    pub root: PathBuf,
}

impl UploadAssets {
    fn upload(&self, upload_url: &str, a: &LocalAsset) -> Process {
        let base = upload_url.split('{').next().unwrap_or(upload_url);
        self.gh.api([
            "-X".to_string(),
            "POST".into(),
            format!("{base}?name={}", encode(&a.name)),
            "--input".into(),
            rel(&self.gh.cwd, &a.path),
            "-H".into(),
            "Content-Type: application/octet-stream".into(),
        ])
    }
}

/// What [`UploadAssets`] and [`VerifyRelease`] read: the local assets and the release by tag.
#[derive(Debug, Clone)]
pub struct AssetsSeen {
    pub assets: Vec<LocalAsset>,
    pub release: Option<Json>,
}

fn observe_assets(gh: &Gh, tag: &str, dist: &Path, root: &Path) -> Result<AssetsSeen> {
    Ok(AssetsSeen {
        assets: local_assets(dist, root)?,
        release: release_by_tag(gh, tag)?,
    })
}

impl Reconcile for UploadAssets {
    type Seen = AssetsSeen;
    fn header(&self) -> String {
        format!("upload release assets to {} in {}", self.tag, self.gh.repo)
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "each file of {}/{SUMS} and {SUMS} itself: skipped when the release has it with the same sha256, refused when it has another",
            rel(&self.root, &self.dist)
        ))
    }
    fn planned(&self) -> Planned {
        let file = LocalAsset {
            name: "<file>".into(),
            path: self.dist.join("<file>"),
            sha256: String::new(),
            size: 0,
        };
        let mut upload = self.upload("<upload_url>", &file);
        for a in &mut upload.args {
            *a = a.replace(&encode("<file>"), "<file>");
        }
        Planned {
            observe: vec![Sub::run(
                self.gh.api([self.gh.release_by_tag_path(&self.tag)]),
            )],
            apply: vec![Sub::run(upload)],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<AssetsSeen> {
        observe_assets(&self.gh, &self.tag, &self.dist, &self.root)
    }
    fn decide(&self, seen: &AssetsSeen) -> Result<Decision> {
        let Some(release) = &seen.release else {
            bail!(
                "there is no published release for {} in {}: the create step makes it; run the publish again",
                self.tag,
                self.gh.repo
            );
        };
        let url = str_of(release, "html_url").to_string();
        let mut same = Vec::new();
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        for a in &seen.assets {
            match compare(release, a) {
                Match::Absent => missing.push(a),
                Match::Same(why) => same.push(format!("{} ({why})", a.name)),
                Match::Differs(why) => conflicts.push(format!("{}: the release has {why}", a.name)),
            }
        }
        if !conflicts.is_empty() {
            bail!(
                "release {url} already has different asset(s), nothing was uploaded:\n  {}\n\
                 GitHub does not replace an asset silently: delete it in the web UI and run again \
                 if the local file is right, or release a new version",
                conflicts.join("\n  ")
            );
        }
        if missing.is_empty() {
            return Ok(Decision::done(format!(
                "release {url} has all {} assets with the same content: {}",
                seen.assets.len(),
                same.join(", ")
            ))
            .recording("github.release_url", url));
        }
        let upload_url = str_of(release, "upload_url");
        if upload_url.is_empty() {
            bail!("GitHub gave no upload_url for release {url}");
        }
        let mut subs = vec![Sub::Record("github.release_url".into(), url)];
        for (i, a) in missing.iter().enumerate() {
            let p = self.upload(upload_url, a);
            let judged = p.clone();
            let (name, sha) = (a.name.clone(), a.sha256.clone());
            subs.push(
                Run::new(p)
                    .verdict(move |out| {
                        let failed = || {
                            format!(
                                "uploading {name} failed after {i} upload(s); run again: what is there is kept"
                            )
                        };
                        let r = reply(&judged, out).map_err(|e| format!("{}: {e}", failed()))?;
                        if r.status != 201 {
                            return Err(format!("{}: {}", failed(), unexpected(&judged, &r)));
                        }
                        if let Some(d) = r.body.get("digest").and_then(Json::as_str) {
                            if d.strip_prefix("sha256:").unwrap_or(d) != sha {
                                return Err(format!(
                                    "GitHub stored {name} with {d}, not sha256:{sha}: delete it in the web UI and run again"
                                ));
                            }
                        }
                        Ok(Vec::new())
                    })
                    .sub(),
            );
        }
        let names: Vec<&str> = missing.iter().map(|a| a.name.as_str()).collect();
        let mut msg = format!("uploaded {}", names.join(", "));
        if !same.is_empty() {
            msg.push_str(&format!("; already there: {}", same.join(", ")));
        }
        // GitHub's 201 with the digest is the evidence; the verify step reads the release back.
        Ok(Decision::finish(subs, msg))
    }
    fn json(&self) -> Json {
        json!({
            "repo": self.gh.repo,
            "tag": self.tag,
            "dist": rel(&self.root, &self.dist),
        })
    }
}

/// Reads the release back: published, the right pre-release flag, every asset with its digest.
#[derive(Debug)]
pub struct VerifyRelease {
    pub gh: Gh,
    pub tag: String,
    pub prerelease: bool,
    pub dist: PathBuf,
    pub root: PathBuf,
}

impl Reconcile for VerifyRelease {
    type Seen = AssetsSeen;
    fn header(&self) -> String {
        format!("verify GitHub release {} in {}", self.tag, self.gh.repo)
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "published (not a draft), prerelease = {}, every file of {}/{SUMS} and {SUMS} itself attached with the same sha256",
            self.prerelease,
            rel(&self.root, &self.dist)
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(
                self.gh.api([self.gh.release_by_tag_path(&self.tag)]),
            )],
            apply: Vec::new(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<AssetsSeen> {
        observe_assets(&self.gh, &self.tag, &self.dist, &self.root)
    }
    fn decide(&self, seen: &AssetsSeen) -> Result<Decision> {
        let Some(release) = &seen.release else {
            bail!(
                "there is no published release for {} in {}; run the publish again",
                self.tag,
                self.gh.repo
            );
        };
        let url = str_of(release, "html_url");
        let mut wrong = Vec::new();
        if release.get("draft").and_then(Json::as_bool) != Some(false) {
            wrong.push("it is a draft: publish it in the web UI".to_string());
        }
        let pre = release.get("prerelease").and_then(Json::as_bool);
        if pre != Some(self.prerelease) {
            wrong.push(format!(
                "it is {}marked as a pre-release: {} the box in the web UI",
                if pre == Some(true) { "" } else { "not " },
                if self.prerelease { "tick" } else { "untick" }
            ));
        }
        if str_of(release, "tag_name") != self.tag {
            wrong.push(format!("its tag is {:?}", str_of(release, "tag_name")));
        }
        let mut by_size = 0;
        for a in &seen.assets {
            match compare(release, a) {
                Match::Absent => wrong.push(format!("asset {} is missing: run the publish again", a.name)),
                Match::Differs(why) => wrong.push(format!(
                    "asset {} differs: the release has {why}; delete it in the web UI and run the publish again",
                    a.name
                )),
                Match::Same(why) => {
                    if why.starts_with("size") {
                        by_size += 1;
                    }
                }
            }
        }
        if !wrong.is_empty() {
            bail!(
                "release {url} is not what was built:\n  {}",
                wrong.join("\n  ")
            );
        }
        let how = if by_size == 0 {
            "sha256".to_string()
        } else {
            format!("sha256 ({by_size} by size only: GitHub gave no digest)")
        };
        Ok(Decision::Verified(format!(
            "release {url}: {} assets verified by {how}",
            seen.assets.len()
        )))
    }
    fn json(&self) -> Json {
        json!({
            "repo": self.gh.repo,
            "tag": self.tag,
            "prerelease": self.prerelease,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Rollback: the good release becomes the latest, the bad one gets a banner (its assets stay).

/// The line that starts a rolled-back release's notes (how a re-run knows it is there).
pub const ROLLBACK_MARK: &str = "> **Rolled back**";

/// The banner prepended to the notes of a rolled-back release.
pub fn rollback_banner(date: &str, good_tag: &str) -> String {
    format!(
        "{ROLLBACK_MARK} on {date}: this release was rolled back to {good_tag}. Use {good_tag} \
         (or a later release) instead; the assets below stay for reference.\n\n"
    )
}

/// `repos/<owner>/<name>/releases/latest`.
fn latest_path(gh: &Gh) -> String {
    format!("repos/{}/releases/latest", gh.repo)
}

/// `gh api --include -X PATCH repos/<owner>/<name>/releases/<id> <args>`, judged: 200 or the
/// error sentence.
fn patch_release(gh: &Gh, id: &str, args: &[String]) -> Sub {
    let mut all = vec![
        "-X".to_string(),
        "PATCH".into(),
        format!("repos/{}/releases/{id}", gh.repo),
    ];
    all.extend(args.iter().cloned());
    let p = gh.api(all);
    let judged = p.clone();
    Run::new(p)
        .verdict(move |out| {
            let r = reply(&judged, out)?;
            match r.status {
                200 => Ok(Vec::new()),
                _ => Err(unexpected(&judged, &r).to_string()),
            }
        })
        .sub()
}

/// Makes the release of `tag` the repository's latest (`make_latest: "true"`), unless it is.
#[derive(Debug)]
pub struct MakeLatest {
    pub gh: Gh,
    pub tag: String,
}

/// The release of a tag and the repository's latest release (`None`: 404).
#[derive(Debug)]
pub struct LatestSeen {
    pub release: Option<Json>,
    pub latest: Option<Json>,
}

impl Reconcile for MakeLatest {
    type Seen = LatestSeen;
    fn header(&self) -> String {
        format!(
            "make GitHub release {} the latest in {}",
            self.tag, self.gh.repo
        )
    }
    fn rule(&self) -> Option<String> {
        Some("skipped when releases/latest already is this release".into())
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![
                Sub::run(self.gh.api([self.gh.release_by_tag_path(&self.tag)])),
                Sub::run(self.gh.api([latest_path(&self.gh)])),
            ],
            apply: vec![patch_release(
                &self.gh,
                &format!("<release id of {}>", self.tag),
                &["-f".into(), "make_latest=true".into()],
            )],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<LatestSeen> {
        let release = release_by_tag(&self.gh, &self.tag)?;
        let p = self.gh.api([latest_path(&self.gh)]);
        let r = api(&p)?;
        let latest = match r.status {
            200 => Some(r.body),
            404 => None,
            _ => return Err(unexpected(&p, &r)),
        };
        Ok(LatestSeen { release, latest })
    }
    fn decide(&self, seen: &LatestSeen) -> Result<Decision> {
        let Some(rel) = &seen.release else {
            bail!(
                "GitHub has no published release {} in {}: nothing to make the latest; publish it \
                 (`cargo xtask publish-prod --only github` at {}) or pass another --to",
                self.tag,
                self.gh.repo,
                self.tag
            );
        };
        if rel.get("prerelease").and_then(Json::as_bool) == Some(true) {
            bail!(
                "GitHub release {} in {} is a pre-release, which GitHub never makes the latest: \
                 untick \"pre-release\" in the web UI, or pass another --to",
                self.tag,
                self.gh.repo
            );
        }
        let id = rel.get("id").and_then(Json::as_u64).unwrap_or(0);
        let latest_id = seen
            .latest
            .as_ref()
            .and_then(|l| l.get("id").and_then(Json::as_u64));
        if latest_id == Some(id) {
            return Ok(Decision::done(format!(
                "{} is already the latest release of {}",
                self.tag, self.gh.repo
            )));
        }
        let was = seen
            .latest
            .as_ref()
            .map(|l| str_of(l, "tag_name").to_string())
            .unwrap_or_else(|| "none".into());
        Ok(Decision::finish(
            vec![patch_release(
                &self.gh,
                &id.to_string(),
                &["-f".into(), "make_latest=true".into()],
            )],
            format!(
                "{} is now the latest release of {} (was {was})",
                self.tag, self.gh.repo
            ),
        ))
    }
    fn json(&self) -> Json {
        json!({"repo": self.gh.repo, "tag": self.tag, "request": {"make_latest": "true"}})
    }
}

/// Prepends the rollback banner to the notes of the release of `tag`, unless they start with
/// one; its assets are left as they are.
#[derive(Debug)]
pub struct MarkRolledBack {
    pub gh: Gh,
    pub tag: String,
    /// The banner ([`rollback_banner`]).
    pub banner: String,
    /// Where the JSON request body is written (`gh api --input`).
    pub body_file: PathBuf,
}

impl MarkRolledBack {
    fn update(&self, id: &str, content: String) -> Vec<Sub> {
        vec![
            Sub::Write {
                path: self.body_file.clone(),
                content,
            },
            patch_release(
                &self.gh,
                id,
                &["--input".into(), rel(&self.gh.cwd, &self.body_file)],
            ),
        ]
    }
}

impl Reconcile for MarkRolledBack {
    type Seen = ReleaseSeen;
    fn header(&self) -> String {
        format!(
            "mark GitHub release {} in {} as rolled back (a banner on its notes)",
            self.tag, self.gh.repo
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "skipped when its notes already start with `{ROLLBACK_MARK}`; its assets stay"
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(
                self.gh.api([self.gh.release_by_tag_path(&self.tag)]),
            )],
            apply: self.update(
                &format!("<release id of {}>", self.tag),
                "<{\"body\": the banner, then the notes}>".into(),
            ),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<ReleaseSeen> {
        release_by_tag(&self.gh, &self.tag)
    }
    fn decide(&self, seen: &ReleaseSeen) -> Result<Decision> {
        let Some(rel) = seen else {
            return Ok(Decision::done(format!(
                "GitHub has no published release {} in {}: no notes to mark",
                self.tag, self.gh.repo
            )));
        };
        let body = str_of(rel, "body");
        if body.trim_start().starts_with(ROLLBACK_MARK) {
            return Ok(Decision::done(format!(
                "the notes of {} already start with the rollback banner",
                self.tag
            )));
        }
        let id = rel.get("id").and_then(Json::as_u64).unwrap_or(0);
        let request = json!({"body": format!("{}{body}", self.banner)});
        Ok(Decision::finish(
            self.update(
                &id.to_string(),
                serde_json::to_string_pretty(&request).unwrap_or_default(),
            ),
            format!(
                "{} is marked as rolled back: {}",
                self.tag,
                str_of(rel, "html_url")
            ),
        ))
    }
    fn json(&self) -> Json {
        json!({"repo": self.gh.repo, "tag": self.tag, "banner": self.banner})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_checks_are_judged_green_pending_or_red() {
        let run = |name: &str, status: &str, conclusion: Json| {
            json!({"name": name, "status": status, "conclusion": conclusion,
                   "details_url": format!("https://ci.example/{name}"), "html_url": "https://h"})
        };
        let v = judge_commit(
            &[
                run("test", "completed", json!("success")),
                run("docs", "completed", json!("skipped")),
                run("info", "completed", json!("neutral")),
                run("lint", "completed", json!("failure")),
                run("slow", "queued", Json::Null),
            ],
            &[
                json!({"context": "ci/a", "state": "success", "target_url": null}),
                json!({"context": "ci/b", "state": "pending", "target_url": "https://s/b"}),
                json!({"context": "ci/c", "state": "error", "target_url": "https://s/c"}),
            ],
        );
        assert_eq!(v.total, 8);
        let names = |l: &[CommitCheck]| l.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&v.red), ["lint", "ci/c"]);
        assert_eq!(names(&v.pending), ["slow", "ci/b"]);
        assert_eq!(v.red[0].url, "https://ci.example/lint");
        assert_eq!(v.red[0].state, "failure");
        assert_eq!(v.pending[0].state, "queued");
        assert_eq!(judge_commit(&[], &[]), CommitVerdict::default());
    }

    #[test]
    fn asset_names_and_encoding() {
        assert_eq!(
            github_asset_name("acme_app-1.3.0.tar.gz"),
            "acme_app-1.3.0.tar.gz"
        );
        assert_eq!(github_asset_name("a b~c.whl"), "a.b.c.whl");
        assert_eq!(github_asset_name(".hidden."), "hidden");
        assert_eq!(
            encode("acme_app-1.3.0+b.1.tar.gz"),
            "acme_app-1.3.0%2Bb.1.tar.gz"
        );
        assert_eq!(encode("v1.3.0-rc.1"), "v1.3.0-rc.1");
    }

    fn asset(sha: &str, size: u64) -> LocalAsset {
        LocalAsset {
            name: "a.whl".into(),
            path: "/x/a.whl".into(),
            sha256: sha.into(),
            size,
        }
    }

    #[test]
    fn remote_assets_compare_by_digest_else_size() {
        let rel = json!({"assets": [
            {"name": "a.whl", "state": "uploaded", "size": 3, "digest": "sha256:abc"},
        ]});
        assert!(matches!(compare(&rel, &asset("abc", 3)), Match::Same(_)));
        assert!(matches!(compare(&rel, &asset("abd", 3)), Match::Differs(_)));
        assert_eq!(
            compare(&json!({"assets": []}), &asset("abc", 3)),
            Match::Absent
        );
        let no_digest = json!({"assets": [{"name": "a.whl", "size": 3, "digest": null}]});
        assert!(
            matches!(compare(&no_digest, &asset("x", 3)), Match::Same(w) if w.starts_with("size"))
        );
        assert!(matches!(
            compare(&no_digest, &asset("x", 4)),
            Match::Differs(_)
        ));
        let open =
            json!({"assets": [{"name": "a.whl", "state": "open", "size": 0, "digest": null}]});
        assert!(
            matches!(compare(&open, &asset("x", 0)), Match::Differs(w) if w.contains("broken"))
        );
    }

    fn gh() -> Gh {
        Gh {
            repo: "acme/app".into(),
            env: Vec::new(),
            cwd: "/r".into(),
        }
    }

    #[test]
    fn create_skips_an_existing_release_and_posts_otherwise() {
        let c = CreateRelease {
            gh: gh(),
            tag: "v1.3.0".into(),
            name: "v1.3.0".into(),
            body: "notes".into(),
            prerelease: false,
            make_latest: Some("true"),
            body_file: "/r/target/slipway/release/v1.3.0.create.json".into(),
        };
        let rel = json!({"id": 7, "html_url": "http://gh/r/v1.3.0"});
        let d = c.decide(&Some(rel)).unwrap();
        assert!(
            matches!(&d, Decision::Done { evidence, record }
                if evidence.starts_with("release http://gh/r/v1.3.0 already exists (id 7")
                && record[0] == ("github.release_url".to_string(), "http://gh/r/v1.3.0".to_string())),
            "{d:?}"
        );
        let d = c.decide(&None).unwrap();
        assert!(
            matches!(&d.subs()[0], Sub::Write { content, .. } if content.contains("\"make_latest\": \"true\""))
        );
        assert!(
            matches!(&d.subs()[1], Sub::Run(r) if r.process.args.join(" ") == "api --include -X POST repos/acme/app/releases --input target/slipway/release/v1.3.0.create.json")
        );
        // The POST's answer is judged purely: 201 records the URL, a hidden draft is refused.
        let Sub::Run(r) = &d.subs()[1] else {
            unreachable!()
        };
        let judge = &r.verdict.as_ref().unwrap().0;
        let answer = |stdout: &str| Answer {
            ok: true,
            stdout: stdout.into(),
            stderr: String::new(),
        };
        let got = judge(&answer(
            "HTTP/2.0 201 Created\n\n{\"id\": 9, \"html_url\": \"http://gh/x\"}",
        ))
        .unwrap();
        assert_eq!(got[0], ("github.release_url".into(), "http://gh/x".into()));
        let err = judge(&answer("HTTP/2.0 422 Unprocessable\n\n{\"message\": \"Validation Failed\", \"errors\": [{\"field\": \"tag_name\", \"code\": \"already_exists\"}]}")).unwrap_err();
        assert!(err.contains("not visible by tag (a draft?)"), "{err}");
        assert!(judge(&answer(""))
            .unwrap_err()
            .contains("got no answer from GitHub"));
    }

    #[test]
    fn upload_decides_per_asset() {
        let u = UploadAssets {
            gh: gh(),
            tag: "v1.3.0".into(),
            dist: "/r/d".into(),
            root: "/r".into(),
        };
        let assets = vec![asset("abc", 3)];
        let release = |assets: Json| {
            Some(
                json!({"html_url": "http://gh/r", "upload_url": "http://up/assets{?name,label}", "assets": assets}),
            )
        };
        let seen = |release| AssetsSeen {
            assets: assets.clone(),
            release,
        };
        assert!(u
            .decide(&seen(None))
            .unwrap_err()
            .to_string()
            .contains("there is no published release for v1.3.0"));
        let d = u.decide(&seen(release(json!([])))).unwrap();
        assert!(
            d.subs().iter().any(|s| matches!(s, Sub::Run(r) if r.process.args.join(" ") == "api --include -X POST http://up/assets?name=a.whl --input /x/a.whl -H Content-Type: application/octet-stream")),
            "{d:?}"
        );
        let same =
            json!([{"name": "a.whl", "state": "uploaded", "size": 3, "digest": "sha256:abc"}]);
        let d = u.decide(&seen(release(same))).unwrap();
        assert!(
            matches!(&d, Decision::Done { evidence, .. } if evidence.contains("has all 1 assets with the same content")),
            "{d:?}"
        );
        let other =
            json!([{"name": "a.whl", "state": "uploaded", "size": 3, "digest": "sha256:zzz"}]);
        assert!(u
            .decide(&seen(release(other)))
            .unwrap_err()
            .to_string()
            .contains("already has different asset(s), nothing was uploaded"));
    }

    #[test]
    fn verify_refuses_a_draft_or_a_wrong_pre_release_flag() {
        let v = VerifyRelease {
            gh: gh(),
            tag: "v1.3.0".into(),
            prerelease: false,
            dist: "/r/d".into(),
            root: "/r".into(),
        };
        let seen = |draft: bool, pre: bool| AssetsSeen {
            assets: vec![asset("abc", 3)],
            release: Some(
                json!({"html_url": "http://gh/r", "tag_name": "v1.3.0", "draft": draft, "prerelease": pre,
                "assets": [{"name": "a.whl", "state": "uploaded", "size": 3, "digest": "sha256:abc"}]}),
            ),
        };
        assert!(
            matches!(v.decide(&seen(false, false)).unwrap(), Decision::Verified(e) if e == "release http://gh/r: 1 assets verified by sha256")
        );
        assert!(v
            .decide(&seen(true, false))
            .unwrap_err()
            .to_string()
            .contains("it is a draft"));
        assert!(v
            .decide(&seen(false, true))
            .unwrap_err()
            .to_string()
            .contains("untick the box"));
    }

    #[test]
    fn the_token_goes_to_env_as_a_secret_and_never_plain() {
        let cfg = Config {
            github_repo: Some("acme/app".into()),
            ..Config::defaults("/r".into())
        };
        let env = vec![
            (
                "GITHUB_TOKEN".to_string(),
                "ghs_unit-test-token".to_string(),
            ),
            ("GH_HOST".to_string(), "github.localhost".to_string()),
            ("GH_ENTERPRISE_TOKEN".to_string(), "other".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
        ];
        let Ok(gh) = Gh::resolve(&cfg, &env) else {
            // No gh on this machine: the problem list says so; nothing more to check here.
            return;
        };
        assert_eq!(
            gh.env[0],
            ("GH_TOKEN".into(), Val::Secret("ghs_unit-test-token".into()))
        );
        assert!(gh
            .env
            .iter()
            .all(|(k, _)| k != "GH_ENTERPRISE_TOKEN" && k != "UNRELATED"));
        let p = gh.api(["repos/acme/app"]);
        assert!(!p.args.iter().any(|a| a.contains("unit-test-token")));
        assert!(!format!("{p:?}").contains("unit-test-token"));
        assert!(!shown(&p).contains("unit-test-token"));
    }
}
