//! `release-pr` end to end: a temp repository with a real bare remote, the real `gh` against the
//! GitHub stand-in (every request checked against GitHub's REST contract), publishing to the
//! cheapest targets that publish: the GitHub release and the Python package (its assets) to a
//! real package index (pypiserver), `--only pypi,github`.
//!
//! The loop: feat → PR opened with the minor version; fix → the same PR updated; a stale
//! "autorelease: pending" label changes nothing; merge → tagged, and a publish that failed after
//! the merge is finished by the next run, which also finds nothing releasable and deletes the
//! branch; nothing releasable with an open PR → commented on and closed, and a close that failed
//! is completed by the next run. Every real run starts only the (mutating) git and gh processes
//! its dry run listed just before.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value as Json;
use slipway_rig::services::PackageIndex;
use slipway_rig::standin::Standin;
use xtask::targets::pypi::{Venv, SERVER_REQUIREMENTS, TOOL_REQUIREMENTS};

const INDEX_USER: &str = "uploader";
const INDEX_PASSWORD: &str = "pw-RELEASEPR-7731";
const ONLY: &str = "pypi,github";

const TOKEN: &str = "ghs-RELEASEPR-token-4411";

fn cargo_toml(index: Option<&PackageIndex>) -> String {
    let mut s = "[workspace]\nmembers = []\n\n[workspace.metadata.release]\ntag-prefix = \"v\"\n\
                 branch = \"main\"\n\n[workspace.metadata.release.github]\nrepo = \"acme/app\"\n"
        .to_string();
    if let Some(i) = index {
        s.push_str(&format!(
            "\n[workspace.metadata.release.python]\nrepository-url = \"{}\"\nindex-url = \"{}\"\n",
            i.url,
            i.simple_url()
        ));
    }
    s
}
const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-10-01\n\n### Added\n\n- The first thing.\n";

struct World {
    repo: Repo,
    index: Option<(PackageIndex, tempfile::TempDir)>,
    standin: Standin,
    tmp: tempfile::TempDir,
    /// Every git and gh process slipway started: (cwd, program, args).
    log: PathBuf,
    path: String,
}

fn gh_available() -> bool {
    let ok = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require("gh (Debian package)", ok)
}

/// The repository (the demo Python package at 1.2.0, tagged, pushed), the stand-in, and with
/// `publish` a package index to publish to.
fn world(publish: bool) -> Option<World> {
    if !gh_available() {
        return None;
    }
    let index = publish.then(|| {
        let tools = tools_dir();
        let server = Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS);
        server.ensure(Path::new("/")).expect("pypiserver venv");
        Venv::in_dir(&tools, "python-tools", TOOL_REQUIREMENTS)
            .ensure(Path::new("/"))
            .expect("tool venv");
        let dir = tempfile::tempdir().unwrap();
        let index =
            PackageIndex::start(&server.dir, dir.path(), INDEX_USER, INDEX_PASSWORD).unwrap();
        (index, dir)
    });
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", "version = \"1.2.0\"");
            assert!(content.contains("version = \"1.2.0\""));
        }
    }
    files.push((
        "Cargo.toml".into(),
        cargo_toml(index.as_ref().map(|(i, _)| i)),
    ));
    files.push(("CHANGELOG.md".into(), CHANGELOG.into()));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs).with_remote();
    repo.git(&["tag", "-a", "v1.2.0", "-m", "Release v1.2.0"]);
    repo.git(&["push", "-q", "origin", "v1.2.0"]);
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("processes.log");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    for program in ["git", "gh"] {
        let real = std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{program} on PATH"));
        let wrapper = bin.join(program);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n{{ printf '%s\\037' \"$PWD\" {program} \"$@\"; printf '\\n'; }} >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    Some(World {
        repo,
        index,
        standin,
        tmp,
        log,
        path,
    })
}

impl World {
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = hermetic(BIN, self.repo.path());
        let config = self.tmp.path().join("gh-config");
        std::fs::create_dir_all(&config).unwrap();
        for (k, v) in self.standin.gh_env(&config) {
            if k.to_ascii_lowercase().ends_with("_proxy") {
                continue;
            }
            c.env(k, v);
        }
        c.args(args)
            .env("SLIPWAY_GH_PROXY", self.standin.url())
            .env("GH_TOKEN", TOKEN)
            .env("GH_ENTERPRISE_TOKEN", TOKEN)
            .env("PATH", &self.path)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("SLIPWAY_TOOLS_DIR", tools_dir())
            .env("TWINE_USERNAME", INDEX_USER)
            .env("TWINE_PASSWORD", INDEX_PASSWORD)
            .env_remove("PYPI_TOKEN")
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_ACTIONS");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn processes(&self) -> Vec<(String, String, Vec<String>)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut f: Vec<String> = l.split('\x1f').map(String::from).collect();
                f.pop(); // after the last separator
                let cwd = f.remove(0);
                let program = f.remove(0);
                (cwd, program, f)
            })
            .collect()
    }

    /// The dry run (JSON), then the real run; asserts the real run started only the mutating
    /// processes the dry run listed (publish-prod's own, in its worktree, are its plan's).
    fn release_pr(&self) -> (Json, Run) {
        let dry = self.run(&[
            "release-pr",
            "--dry-run",
            "--json",
            "--only",
            ONLY,
            "--skip-ci-check",
        ]);
        assert_eq!(dry.code, 0, "{}", dry.all());
        let plan: Json = serde_json::from_str(&dry.stdout).expect("one JSON document");
        let _ = std::fs::remove_file(&self.log);
        let real = self.run(&["release-pr", "--only", ONLY, "--skip-ci-check"]);
        let templates = templates(&plan);
        let publish_wt = self
            .repo
            .path()
            .join("target/slipway/release-pr/publish")
            .display()
            .to_string();
        for (cwd, program, args) in self.processes() {
            if cwd.starts_with(&publish_wt) || !mutating(&program, &args) {
                continue;
            }
            assert!(
                templates
                    .iter()
                    .any(|(p, t)| *p == program && matches(t, &args)),
                "{program} {args:?} (in {cwd}) is not in the dry run's steps:\n{}",
                templates
                    .iter()
                    .map(|(p, t)| format!("  {p} {}", t.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        self.standin.ensure_no_violations().unwrap();
        (plan, real)
    }

    fn pulls(&self) -> Vec<Json> {
        let state = self.standin.state();
        state["repos"][0]["issues"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| !i["pull_request"].is_null())
            .collect()
    }

    fn remote_ref(&self, r: &str) -> Option<String> {
        let out = self
            .repo
            .remote_git(&["for-each-ref", "--format=%(objectname)", r]);
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_string())
    }

    fn remote_file(&self, rev: &str, path: &str) -> String {
        self.repo.remote_git(&["show", &format!("{rev}:{path}")])
    }

    fn commit_and_push(&self, message: &str) {
        self.repo.commit(message);
        self.repo.git(&["push", "-q", "origin", "main"]);
    }

    /// Merges the release PR as GitHub would (a merge commit on main in the remote), tells the
    /// stand-in, and brings the checkout up to date (what CI's checkout of the push sees).
    fn merge(&self, number: u64) -> String {
        self.repo.git(&["fetch", "-q", "origin", "slipway/release"]);
        self.repo.git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge pull request #{number} from acme/slipway/release"),
            "FETCH_HEAD",
        ]);
        self.repo.git(&["push", "-q", "origin", "main"]);
        let sha = self.repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        self.standin
            .merge_pull("acme", "app", number, &sha)
            .unwrap();
        sha
    }

    fn gh(&self, args: &[&str]) {
        let config = self.tmp.path().join("gh-config");
        let mut c = std::process::Command::new("gh");
        for (k, v) in self.standin.gh_env(&config) {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "gh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Processes with effects (reads are not listed one by one: `rev-parse`, `show`, …).
fn mutating(program: &str, args: &[String]) -> bool {
    match program {
        "git" => matches!(
            args.first().map(String::as_str),
            Some("push" | "tag" | "commit" | "add" | "worktree")
        ),
        "gh" => args.iter().any(|a| a == "-X"),
        _ => false,
    }
}

/// Every `run` sub-step of the plan (observe and apply): (program, args).
fn templates(plan: &Json) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for step in plan["steps"].as_array().unwrap() {
        for list in ["observe", "apply"] {
            for sub in step[list].as_array().into_iter().flatten() {
                if sub["kind"] == "run" {
                    let program = sub["program"].as_str().unwrap().to_string();
                    let args = sub["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    out.push((program, args));
                }
            }
        }
    }
    out
}

/// Does `args` match the template (`<x>` stands for one argument, `<x>…` for one or more)?
fn matches(template: &[String], args: &[String]) -> bool {
    let placeholder = |t: &str| t.starts_with('<') && (t.ends_with('>') || t.ends_with(">…"));
    match (template.first(), args.first()) {
        (None, None) => true,
        (Some(t), Some(_)) if t.ends_with(">…") => {
            (1..=args.len()).any(|n| matches(&template[1..], &args[n..]))
        }
        (Some(t), Some(a)) => {
            (t == a || placeholder(t) || t.contains('<') && like(t, a))
                && matches(&template[1..], &args[1..])
        }
        _ => false,
    }
}

/// `refs/tags/<tag>` against `refs/tags/v1.3.0`: the literal parts in order.
fn like(template: &str, arg: &str) -> bool {
    let mut rest = arg;
    for (i, part) in template.split(['<', '>']).enumerate() {
        if i % 2 == 1 || part.is_empty() {
            continue;
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_release_pr_loop_feat_fix_merge_failed_publish_then_finished() {
    let Some(w) = world(true) else { return };

    // Nothing releasable yet: nothing happens.
    let (plan, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(plan["state"]["releasable"].is_null());
    assert!(w.pulls().is_empty());
    assert_eq!(w.remote_ref("refs/heads/slipway/release"), None);

    // feat → a PR for the minor version. The dry run for people lists the processes.
    w.commit_and_push("feat: a health endpoint");
    let human = w.run(&["release-pr", "--dry-run", "--only", ONLY, "--skip-ci-check"]);
    assert_eq!(human.code, 0, "{}", human.all());
    for line in [
        "release-pr: open the release PR for 1.3.0 — dry run, nothing will be changed",
        "gh api --include -X POST repos/acme/app/pulls --input target/slipway/release-pr/pr-create.json",
        "gh api --include 'repos/acme/app/releases/tags/<tag>'",
        "$ git push --quiet --force origin HEAD:refs/heads/slipway/release",
        "$ git push --quiet origin --delete slipway/release",
    ] {
        assert!(human.all().contains(line), "{line}\n{}", human.all());
    }
    assert!(!human.all().contains(TOKEN), "{}", human.all());
    let (plan, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(plan["state"]["releasable"]["version"], "1.3.0");
    assert_eq!(plan["decision"][0], "open the release PR for 1.3.0");
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(pulls[0]["title"], "chore(release): 1.3.0");
    assert_eq!(pulls[0]["state"], "open");
    assert_eq!(pulls[0]["pull_request"]["head"], "slipway/release");
    assert!(
        pulls[0]["body"]
            .as_str()
            .unwrap()
            .contains("health endpoint"),
        "{pulls:?}"
    );
    let head = w.repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let branch = w.remote_ref("refs/heads/slipway/release").expect("pushed");
    assert_eq!(
        w.repo
            .remote_git(&["rev-parse", &format!("{branch}^1")])
            .trim(),
        head
    );
    assert!(w
        .remote_file(&branch, "pyproject.toml")
        .contains("version = \"1.3.0\""));
    assert!(w
        .remote_file(&branch, "CHANGELOG.md")
        .contains("## [1.3.0] - 2026-11-21"));
    assert_eq!(w.remote_ref("refs/tags/v1.3.0"), None, "no tag for the PR");
    assert_eq!(
        w.repo.git(&["status", "--porcelain"]),
        "",
        "the checkout is untouched"
    );
    // The check against the dry run saw the effects (it is not vacuous).
    let started = w.processes();
    assert!(
        started.iter().any(|(_, p, a)| p == "git"
            && a.iter().any(|x| x == "HEAD:refs/heads/slipway/release")),
        "{started:?}"
    );
    assert!(
        started
            .iter()
            .any(|(_, p, a)| p == "gh" && a.iter().any(|x| x == "repos/acme/app/pulls")),
        "{started:?}"
    );

    // A re-run changes nothing.
    let (_, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        w.remote_ref("refs/heads/slipway/release"),
        Some(branch.clone())
    );
    assert_eq!(w.pulls().len(), 1);
    assert!(run.all().contains("already is"), "{}", run.all());

    // A stale "pending" label changes nothing either; fix → the same PR updated.
    w.gh(&[
        "api",
        "-X",
        "POST",
        "repos/acme/app/issues/1/labels",
        "-f",
        "labels[]=autorelease: pending",
    ]);
    w.commit_and_push("fix: a startup race");
    let (plan, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        plan["decision"][0],
        "update release PR #1 to 1.3.0 (if it differs)"
    );
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 1, "no second PR: {pulls:?}");
    assert!(pulls[0]["body"].as_str().unwrap().contains("startup race"));
    let branch2 = w.remote_ref("refs/heads/slipway/release").unwrap();
    assert_ne!(branch2, branch, "rebuilt on the new main");

    // Merged; the GitHub release creation fails once: tagged, not published.
    let merge = w.merge(1);
    w.standin
        .fail_next("POST", "/repos/{owner}/{repo}/releases", 500, 1)
        .unwrap();
    let (plan, run) = w.release_pr();
    assert_ne!(run.code, 0, "the publish failed: {}", run.all());
    assert_eq!(plan["state"]["merged"]["version"], "1.3.0");
    assert_eq!(plan["state"]["merged"]["tagged"], false);
    let tag = w.remote_ref("refs/tags/v1.3.0").expect("tag pushed");
    assert_eq!(
        w.repo
            .remote_git(&["rev-parse", &format!("{tag}^{{commit}}")])
            .trim(),
        merge
    );
    assert_eq!(
        w.repo.remote_git(&["cat-file", "-t", &tag]).trim(),
        "tag",
        "annotated"
    );
    assert!(w.standin.state()["repos"][0]["releases"]
        .as_array()
        .unwrap()
        .is_empty());

    // The next run sees the tag without its release and finishes; nothing is releasable any
    // more, so the branch goes.
    let (plan, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(plan["state"]["merged"]["tagged"], true);
    let releases = w.standin.state()["repos"][0]["releases"].clone();
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    assert_eq!(releases[0]["tag_name"], "v1.3.0");
    assert_eq!(w.remote_ref("refs/heads/slipway/release"), None, "deleted");
    assert_eq!(w.pulls().len(), 1);
    let (index, _) = w.index.as_ref().unwrap();
    let mut files: Vec<String> = std::fs::read_dir(index.dir.join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "wheel and sdist of 1.3.0: {files:?}");
    assert!(files.iter().all(|f| f.contains("1.3.0")), "{files:?}");

    // And once more: everything is as it should be, nothing is done.
    let (_, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("the publish completed"), "{}", run.all());
    assert_eq!(
        w.standin.state()["repos"][0]["releases"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn nothing_releasable_closes_the_open_pr_even_after_a_failed_close() {
    let Some(w) = world(false) else { return };
    w.commit_and_push("feat: a thing");
    let (_, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(w.pulls().len(), 1);

    // Released another way (`bump-version auto` on main, pushed): nothing releasable; closing
    // fails once.
    let bump = w.run(&["bump-version", "auto"]);
    assert_eq!(bump.code, 0, "{}", bump.all());
    w.repo.git(&["push", "-q", "origin", "main", "v1.3.0"]);
    w.standin
        .fail_next("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", 502, 1)
        .unwrap();
    let (plan, run) = w.release_pr();
    assert_ne!(run.code, 0, "{}", run.all());
    assert_eq!(
        plan["decision"][0],
        "close release PR #1 (nothing releasable since v1.3.0)"
    );
    assert_eq!(w.pulls()[0]["state"], "open", "left open by the failed run");

    // The next run is not blocked: it closes the PR and deletes the branch.
    let (_, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    let pulls = w.pulls();
    assert_eq!(pulls[0]["state"], "closed");
    assert!(pulls[0]["comments"][0]
        .as_str()
        .unwrap()
        .contains("nothing is releasable since v1.3.0"));
    assert_eq!(w.remote_ref("refs/heads/slipway/release"), None);

    // A new feat opens a new PR (the closed one is not reused).
    w.commit_and_push("feat: another thing");
    let (_, run) = w.release_pr();
    assert_eq!(run.code, 0, "{}", run.all());
    let pulls = w.pulls();
    assert_eq!(pulls.len(), 2);
    assert_eq!(pulls[1]["title"], "chore(release): 1.4.0");
    assert_eq!(pulls[1]["state"], "open");
}

#[test]
fn refuses_off_the_main_branch_and_without_a_token_changing_nothing() {
    let Some(w) = world(false) else { return };
    w.repo.git(&["switch", "-q", "-c", "topic"]);
    let before = w.repo.snapshot();
    let run = w
        .command(&["release-pr"])
        .env_remove("GH_TOKEN")
        .env_remove("GH_ENTERPRISE_TOKEN")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(1), "{all}");
    assert!(all.contains("nothing was changed"), "{all}");
    assert!(all.contains("`git switch main` first"), "{all}");
    assert!(all.contains("no GitHub token"), "{all}");
    assert_eq!(w.repo.snapshot(), before);
    assert!(w.standin.requests().is_empty());
    w.repo.git(&["switch", "-q", "main"]);
    let run = w.run(&["release-pr", "--only", "docker"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.all().contains("--only must include github"),
        "{}",
        run.all()
    );
    assert!(w.standin.requests().is_empty());
}
