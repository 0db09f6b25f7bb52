//! The reviewed dev-image release end to end (`dev-release`, then `release-merged`), against
//! real components: a temp repository with a bare remote, the real `gh` against the GitHub
//! stand-in (every request checked against GitHub's REST contract), Debian's docker-registry for
//! staging and production, the real engine (the payload image FROM scratch, busybox httpd, as in
//! `tests/split.rs`) and pypiserver.
//!
//! The loop: a failure injected at each step (the PR creation, the review request, the label)
//! leaves issue-but-no-PR, PR-but-no-image, image-but-no-label; each re-run completes what is
//! missing with no duplicate issue, PR or image; merge → tagged, promoted by digest, published,
//! verified, the issue closed. A PR merged without the label releases nothing; a dev digest
//! replaced after review is refused. The dry runs list exactly the steps the real runs take.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value as Json};
use slipway_rig::services::{PackageIndex, Registry};
use slipway_rig::standin::Standin;
use xtask::targets::docker::registry::Client;
use xtask::targets::pypi::{Venv, SERVER_REQUIREMENTS, TOOL_REQUIREMENTS};

const BUSYBOX: &str = "/bin/busybox";
const INDEX_USER: &str = "uploader";
const INDEX_PASSWORD: &str = "pw-DEVREL-5521";
const TOKEN: &str = "ghs-DEVREL-token-8812";

fn docker() -> Command {
    docker_cli("slipway-test-dev-release-docker-config")
}

fn services(publish: bool) -> bool {
    let gh = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh)
        || !require(
            "docker-registry",
            Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
        )
        || !require(
            "a Docker engine (cargo xtask provision)",
            xtask::targets::docker::engine::is_up(),
        )
    {
        return false;
    }
    if publish
        && !require(
            "busybox-static (cargo xtask provision)",
            Path::new(BUSYBOX).exists(),
        )
    {
        return false;
    }
    true
}

struct World {
    repo: Repo,
    standin: Standin,
    staging: Registry,
    prod: Registry,
    index: Option<(PackageIndex, tempfile::TempDir)>,
    tmp: tempfile::TempDir,
    _dirs: tempfile::TempDir,
    /// Every git and gh process slipway started: (cwd, program, args).
    log: std::path::PathBuf,
    path: String,
    /// `SLACK_WEBHOOK` points here: every POST (path, body).
    slack: Receiver,
}

fn cargo_toml(staging: &Registry, prod: &Registry, index: Option<&PackageIndex>) -> String {
    let mut s = format!(
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\ntag-prefix = \"v\"\nbranch = \"main\"\n\n\
         [workspace.metadata.release.github]\nrepo = \"acme/app\"\n\n\
         [workspace.metadata.release.docker]\nimage = \"acme/app\"\nregistries = [\"{}\"]\n\
         staging-registry = \"{}\"\nplatforms = [\"linux/amd64\"]\nhealth = {{ timeout-s = 20 }}\n\n\
         [workspace.metadata.release.review]\nteam = \"acme/releasers\"\n\n\
         [[workspace.metadata.release.files]]\npath = \"scratch/www/version\"\nkind = \"json\"\npointer = \"/version\"\n",
        prod.addr, staging.addr
    );
    if let Some(i) = index {
        s.push_str(&format!(
            "\n[workspace.metadata.release.python]\nrepository-url = \"{}\"\nindex-url = \"{}\"\n",
            i.url,
            i.simple_url()
        ));
    }
    s
}

/// The payload at 1.2.0 (tagged, pushed), its image FROM scratch; the stand-in with the team
/// `acme/releasers` (ann, bob); staging and production registries; with `publish` a package
/// index.
fn world(publish: bool) -> Option<World> {
    if !services(publish) {
        return None;
    }
    let dirs = tempfile::tempdir().unwrap();
    let staging = Registry::start(&dirs.path().join("staging"), None).unwrap();
    let prod = Registry::start(&dirs.path().join("prod"), None).unwrap();
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
        }
    }
    files.push((
        "Cargo.toml".into(),
        cargo_toml(&staging, &prod, index.as_ref().map(|(i, _)| i)),
    ));
    files.push((
        "CHANGELOG.md".into(),
        "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-10-01\n\n### Added\n\n- The first thing.\n"
            .into(),
    ));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    files.push((
        "Dockerfile".into(),
        "FROM scratch\nARG DIST=dist\nCOPY scratch/busybox /busybox\nCOPY scratch/www /www\nEXPOSE 8080\n\
         HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD [\"/busybox\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/health\"]\n\
         ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
            .into(),
    ));
    files.push((
        ".dockerignore".into(),
        "*\n!target/slipway/dist/\n!scratch/\n".into(),
    ));
    files.push((
        "scratch/www/version".into(),
        "{\"version\": \"1.2.0\"}\n".into(),
    ));
    files.push((
        "scratch/www/health".into(),
        "{\"status\": \"healthy\"}\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    if publish {
        std::fs::copy(BUSYBOX, repo.path().join("scratch/busybox")).unwrap();
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "--amend", "--no-edit"]);
    }
    let repo = repo.with_remote();
    repo.git(&["tag", "-a", "v1.2.0", "-m", "Release v1.2.0"]);
    repo.git(&["push", "-q", "origin", "v1.2.0"]);
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    standin.seed_team("acme", "releasers", &["ann", "bob"]);
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
                "#!/bin/sh\n{{ printf '%s\\037' \"$PWD\" \"$(tr '\\000' ' ' < /proc/$PPID/cmdline)\" {program} \"$@\"; printf '\\n'; }} >> '{}'\nexec '{}' \"$@\"\n",
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
        standin,
        staging,
        prod,
        index,
        tmp,
        _dirs: dirs,
        log,
        path,
        slack: Receiver::start(200),
    })
}

impl World {
    fn command(&self, args: &[&str]) -> Command {
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
            .env("SLACK_WEBHOOK", format!("{}/hook", self.slack.url))
            .env_remove("DISCORD_WEBHOOK")
            .env_remove("SMTP_URL")
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("SLIPWAY_TOOLS_DIR", tools_dir())
            .env("TWINE_USERNAME", INDEX_USER)
            .env("TWINE_PASSWORD", INDEX_PASSWORD)
            .env(
                "DOCKER_CONFIG",
                self.repo.path().join("target/user-docker-config"),
            )
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("DOCKER_USERNAME")
            .env_remove("DOCKER_PASSWORD")
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

    /// `args --json`: the exit code, the document (the last JSON object on stdout) and all
    /// the output.
    fn json(&self, args: &[&str]) -> (i32, Json, String) {
        let mut a = args.to_vec();
        a.push("--json");
        let r = self.run(&a);
        let doc = r
            .stdout
            .find('{')
            .and_then(|at| serde_json::from_str(&r.stdout[at..]).ok())
            .unwrap_or(Json::Null);
        (r.code, doc, r.all())
    }

    /// (cwd, the parent's command line, program, args) of every git/gh process.
    fn processes(&self) -> Vec<(String, String, String, Vec<String>)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut f: Vec<String> = l.split('\x1f').map(String::from).collect();
                f.pop(); // after the last separator
                let cwd = f.remove(0);
                let parent = f.remove(0);
                let program = f.remove(0);
                (cwd, parent, program, f)
            })
            .collect()
    }

    /// `args --json` for real, asserting that every mutating git/gh process it started (those
    /// of its child commands in their worktrees are their own plans') is one `dry` lists.
    fn real(&self, args: &[&str], dry: &Json) -> (i32, Json, String) {
        let args_command = args[0];
        let _ = std::fs::remove_file(&self.log);
        let out = self.json(args);
        let templates = templates(dry);
        let children = self.repo.path().join("target/slipway");
        let children = [
            children.join("dev-release/image").display().to_string(),
            children
                .join("release-merged/publish")
                .display()
                .to_string(),
        ];
        for (cwd, parent, program, args) in self.processes() {
            // A child command's processes (promote, verify, publish-prod: started by an xtask
            // whose command line is not `args`' command) are that command's own plan's.
            let by_a_child = !parent.split(' ').any(|w| w == args_command);
            if by_a_child
                || children.iter().any(|c| cwd.starts_with(c.as_str()))
                || !mutating(&program, &args)
            {
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
        out
    }

    fn issues(&self) -> Vec<Json> {
        self.standin.state()["repos"][0]["issues"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn only_issues(&self) -> Vec<Json> {
        self.issues()
            .into_iter()
            .filter(|i| i["pull_request"].is_null())
            .collect()
    }

    fn pulls(&self) -> Vec<Json> {
        self.issues()
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

    fn commit_and_push(&self, message: &str) {
        self.repo.commit(message);
        self.repo.git(&["push", "-q", "origin", "main"]);
    }

    /// Merges the PR's branch as GitHub would (a merge commit on main in the remote), tells the
    /// stand-in, and brings the checkout up to date.
    fn merge(&self, number: u64, branch: &str) -> String {
        self.repo.git(&["fetch", "-q", "origin", branch]);
        self.repo.git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge pull request #{number} from acme/{branch}"),
            "FETCH_HEAD",
        ]);
        self.repo.git(&["push", "-q", "origin", "main"]);
        let sha = self.repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        self.standin
            .merge_pull("acme", "app", number, &sha)
            .unwrap();
        sha
    }

    fn digest_at(&self, r: &Registry, reference: &str) -> Option<String> {
        Client::new(&r.addr, None)
            .manifest("acme/app", reference)
            .unwrap()
            .map(|m| m.digest)
    }

    fn gh(&self, args: &[&str]) -> String {
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
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Processes with effects (reads are not listed one by one: `rev-parse`, `show`, …).
fn mutating(program: &str, args: &[String]) -> bool {
    match program {
        "git" => {
            let listing = |flags: &[&str]| args.iter().any(|a| flags.contains(&a.as_str()));
            match args.first().map(String::as_str) {
                Some("tag") => !listing(&["-l", "--list", "--points-at", "--contains", "--merged"]),
                Some("worktree") => args.get(1).is_some_and(|a| a != "list"),
                Some("push" | "commit" | "add" | "merge") => true,
                _ => false,
            }
        }
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

/// `repos/acme/app/pulls/<dev.pr>/requested_reviewers` against `…/pulls/2/…`: the literal
/// parts in order.
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

/// Every tag of acme/app on `r`.
fn tags_of(r: &Registry) -> Vec<String> {
    let Ok(mut resp) = ureq::get(format!("http://{}/v2/acme/app/tags/list", r.addr)).call() else {
        return Vec::new();
    };
    let json: Json = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let mut tags: Vec<String> = json["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

/// The step headers of a `--json` document.
fn headers(doc: &Json) -> Vec<String> {
    doc["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {doc}"))
        .iter()
        .map(|s| s["header"].as_str().unwrap().to_string())
        .collect()
}

/// A tiny FROM scratch image holding `content`, pushed as `target`; its digest.
fn push_fabricated(target: &str, content: &str) -> String {
    // Unique per target: tests running at once never build (and remove) the same image.
    push_scratch_image(&docker, target, None, &format!("{content} {target}"), true)
}

#[test]
fn the_dev_loop_with_a_failure_at_each_step_completes_without_duplicates_then_releases() {
    let Some(w) = world(true) else { return };
    w.commit_and_push("feat: a health endpoint");

    // The dry run: every step, nothing changed.
    let before = w.repo.snapshot();
    let (code, dry, all) = w.json(&["dev-release", "--dry-run"]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(dry["version"], "1.3.0", "the configured bump (minor)");
    assert_eq!(dry["branch"], "release/v1.3.0");
    let planned = headers(&dry);
    assert_eq!(planned.len(), 8, "{planned:?}");
    assert_eq!(w.repo.snapshot(), before);
    assert!(w.issues().is_empty());
    assert_eq!(w.remote_ref("refs/heads/release/v1.3.0"), None);
    let human = w.run(&["dev-release", "--dry-run"]);
    assert_eq!(human.code, 0, "{}", human.all());
    for line in [
        "dev-release 1.3.0 (branch release/v1.3.0, dev-1.3.0 to",
        "gh api --include -X POST repos/acme/app/issues --input target/slipway/dev-release/issue-create.json",
        "$ git push --quiet origin HEAD:refs/heads/release/v1.3.0",
        "docker-validate --version 1.3.0 --push-dev",
        "repos/acme/app/pulls/<dev.pr>/requested_reviewers",
    ] {
        assert!(human.all().contains(line), "{line}\n{}", human.all());
    }
    assert!(!human.all().contains(TOKEN), "{}", human.all());

    // 1. The PR creation fails: an issue, no PR.
    w.standin
        .fail_next("POST", "/repos/{owner}/{repo}/pulls", 502, 1)
        .unwrap();
    let (code, _, all) = w.real(&["dev-release"], &dry);
    assert_ne!(code, 0, "{all}");
    assert_eq!(w.only_issues().len(), 1, "{all}");
    assert!(w.pulls().is_empty());
    assert!(w.remote_ref("refs/heads/release/v1.3.0").is_some());

    // 2. The review request fails: a PR, no image.
    w.standin
        .fail_next(
            "POST",
            "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
            502,
            1,
        )
        .unwrap();
    let (code, _, all) = w.real(&["dev-release"], &dry);
    assert_ne!(code, 0, "{all}");
    assert_eq!(w.only_issues().len(), 1, "{all}");
    assert_eq!(w.pulls().len(), 1, "{all}");
    assert_eq!(w.digest_at(&w.staging, "dev-1.3.0"), None);

    // 3. The label fails: the image pushed and recorded, no label.
    w.standin
        .fail_next(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            502,
            1,
        )
        .unwrap();
    let (code, _, all) = w.real(&["dev-release"], &dry);
    assert_ne!(code, 0, "{all}");
    let digest = w
        .digest_at(&w.staging, "dev-1.3.0")
        .unwrap_or_else(|| panic!("dev image pushed: {all}"));
    let pr = &w.pulls()[0];
    assert!(
        pr["body"]
            .as_str()
            .unwrap()
            .contains(&format!("<!-- slipway:dev-digest {digest} -->")),
        "{pr}"
    );
    assert!(pr["labels"].as_array().unwrap().is_empty(), "{pr}");
    assert_eq!(w.only_issues().len(), 1);
    assert_eq!(w.pulls().len(), 1);

    // 4. The re-run completes: the label; nothing duplicated, the image reused. Every git and
    // gh process with an effect that the runs above started is one the dry run listed.
    let (code, real, all) = w.real(&["dev-release"], &dry);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        headers(&real),
        planned,
        "the dry run listed exactly these steps"
    );
    assert_eq!(real["executed"].as_array().unwrap().len(), planned.len());
    assert_eq!(real["digest"], digest.as_str());
    let number = real["pr"].as_u64().expect("the PR number in --json");
    let issues = w.only_issues();
    let pulls = w.pulls();
    assert_eq!((issues.len(), pulls.len()), (1, 1), "{issues:?} {pulls:?}");
    let pr = &pulls[0];
    assert_eq!(pr["number"].as_u64(), Some(number));
    assert_eq!(pr["title"], "chore(release): 1.3.0");
    assert_eq!(pr["pull_request"]["head"], "release/v1.3.0");
    assert!(pr["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "automated-release"));
    let body = pr["body"].as_str().unwrap();
    for want in [
        "health endpoint",
        &format!("docker pull {}/acme/app:dev-1.3.0", w.staging.addr),
        &format!("Tracking issue: #{}", issues[0]["number"]),
    ] {
        assert!(body.contains(want), "{want}: {body}");
    }
    assert_eq!(
        pr["pull_request"]["requested_teams"],
        json!(["releasers"]),
        "{pr}"
    );
    let listed: Json = serde_json::from_str(&w.gh(&[
        "api",
        "repos/acme/app/issues?state=all&labels=automated-release",
    ]))
    .unwrap();
    let tracking = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["pull_request"].is_null())
        .unwrap();
    let logins: Vec<&str> = tracking["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["ann", "bob"], "the team's members: {listed}");
    assert_eq!(issues[0]["title"], "Release 1.3.0");
    assert_eq!(
        w.repo.git(&["status", "--porcelain"]),
        "",
        "the checkout is untouched"
    );
    assert_eq!(
        w.remote_ref("refs/tags/v1.3.0"),
        None,
        "no tag before the merge"
    );

    // Once more: every step finds its work done.
    let (code, again, all) = w.real(&["dev-release"], &dry);
    assert_eq!(code, 0, "{all}");
    assert!(
        again["done"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.get("skipped").is_some()),
        "{}",
        again["done"]
    );
    assert_eq!(w.digest_at(&w.staging, "dev-1.3.0"), Some(digest.clone()));
    assert_eq!(
        tags_of(&w.staging),
        ["dev-1.3.0"],
        "only the dev tag in staging"
    );

    // Not merged yet: release-merged refuses, nothing changed.
    let n = number.to_string();
    let early = w.run(&["release-merged", &n]);
    assert_eq!(early.code, 1, "{}", early.all());
    assert!(early.all().contains("is not merged"), "{}", early.all());

    // Merged: the dry run, then the real run — the same steps.
    let merge = w.merge(number, "release/v1.3.0");
    let (code, dry, all) = w.json(&["release-merged", &n, "--dry-run"]);
    assert_eq!(code, 0, "{all}");
    let planned = headers(&dry);
    for want in [
        "tag the merge",
        "promote",
        "publish",
        "verify",
        "close issue",
    ] {
        assert!(
            planned.iter().any(|h| h.contains(want)),
            "{want}: {planned:?}"
        );
    }
    assert_eq!(w.remote_ref("refs/tags/v1.3.0"), None);
    let (code, real, all) = w.real(&["release-merged", &n], &dry);
    assert_eq!(code, 0, "{all}");
    assert_eq!(headers(&real), planned);
    assert!(
        w.processes().iter().any(|(_, parent, p, a)| p == "git"
            && parent.split(' ').any(|w| w == "release-merged")
            && a.iter().any(|x| x == "refs/tags/v1.3.0")),
        "the check saw the effects, started by release-merged itself (not vacuous)"
    );
    assert!(!all.contains("--skip-ci-check"), "{all}");
    assert!(!all.contains("NOT checking"), "{all}");
    assert!(all.contains("the review of the merge is the gate"), "{all}");

    // Tagged (annotated) on the merge commit; the reviewed digest promoted; published; closed.
    let tag = w.remote_ref("refs/tags/v1.3.0").expect("tag pushed");
    assert_eq!(w.repo.remote_git(&["cat-file", "-t", &tag]).trim(), "tag");
    assert_eq!(
        w.repo
            .remote_git(&["rev-parse", &format!("{tag}^{{commit}}")])
            .trim(),
        merge
    );
    assert_eq!(w.digest_at(&w.prod, "v1.3.0"), Some(digest.clone()));
    assert_eq!(w.digest_at(&w.prod, "dev-1.3.0"), None, "only release tags");
    let releases = w.standin.state()["repos"][0]["releases"].clone();
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    assert_eq!(releases[0]["tag_name"], "v1.3.0");
    let (index, _) = w.index.as_ref().unwrap();
    let files: Vec<String> = std::fs::read_dir(index.dir.join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "wheel and sdist: {files:?}");
    let issue = &w.only_issues()[0];
    assert_eq!(issue["state"], "closed", "{issue}");
    assert!(
        issue["comments"][0]
            .as_str()
            .unwrap()
            .contains("releases/tag/v1.3.0"),
        "{issue}"
    );

    // publish-prod's report is kept in the checkout (its worktree is gone).
    assert!(!w
        .repo
        .path()
        .join("target/slipway/release-merged/publish")
        .exists());
    let reports: Vec<String> = std::fs::read_dir(w.repo.path().join("target/slipway/reports"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(!reports.is_empty(), "no publish report kept");

    // The team is told on Slack: the early refusal (a failure notice, `notify-on` default),
    // then the release's success, naming it and what was published.
    let told = w.slack.bodies();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("refused before changing anything"),
        "{told:?}"
    );
    for want in ["release-merged slipway-demo v1.3.0 succeeded", &digest] {
        assert!(told[1].contains(want), "{want}: {told:?}");
    }

    // What publish-prod says of its CI check when release-merged runs it: the review is the
    // gate, not a skipped check.
    let said = w.run(&[
        "publish-prod",
        "--only",
        "pypi,github",
        "--reviewed",
        "PR #2",
        "--dry-run",
    ]);
    assert!(
        said.all().contains("the review is the gate"),
        "{}",
        said.all()
    );
    assert!(!said.all().contains("NOT checking"), "{}", said.all());

    // A re-run finds everything done (verify still runs).
    let (code, again, all) = w.json(&["release-merged", &n]);
    assert_eq!(code, 0, "{all}");
    let done = again["done"].as_array().unwrap();
    assert!(done[0].get("skipped").is_some(), "{done:?}");
    assert!(done[1].get("skipped").is_some(), "{done:?}");
    assert!(done[2].get("skipped").is_some(), "{done:?}");
    w.standin.ensure_no_violations().unwrap();
}

/// A PR from a release branch with the digest of a fabricated `dev-1.3.0` recorded, merged.
fn reviewed_pr(w: &World, label: bool) -> (u64, String) {
    let digest = push_fabricated(
        &format!("{}/acme/app:dev-1.3.0", w.staging.addr),
        "reviewed",
    );
    w.repo.git(&["switch", "-q", "-c", "release/v1.3.0"]);
    w.repo.commit("chore(release): 1.3.0");
    w.repo.git(&["push", "-q", "origin", "release/v1.3.0"]);
    w.repo.git(&["switch", "-q", "main"]);
    let v = semver::Version::new(1, 3, 0);
    let body = xtask::core::devpr::pr_body(
        &v,
        "### Added\n\n- x",
        "1",
        &format!("{}/acme/app", w.staging.addr),
        Some(&digest),
    );
    let file = w.tmp.path().join("pr.json");
    std::fs::write(
        &file,
        json!({"title": "chore(release): 1.3.0", "head": "release/v1.3.0", "base": "main", "body": body})
            .to_string(),
    )
    .unwrap();
    let out = w.gh(&[
        "api",
        "-X",
        "POST",
        "repos/acme/app/pulls",
        "--input",
        file.to_str().unwrap(),
    ]);
    let number = serde_json::from_str::<Json>(&out).unwrap()["number"]
        .as_u64()
        .unwrap();
    if label {
        w.gh(&[
            "api",
            "-X",
            "POST",
            &format!("repos/acme/app/issues/{number}/labels"),
            "-f",
            "labels[]=automated-release",
        ]);
    }
    w.merge(number, "release/v1.3.0");
    (number, digest)
}

#[test]
fn merged_without_the_label_nothing_is_released() {
    let Some(w) = world(false) else { return };
    let (number, _) = reviewed_pr(&w, false);
    let run = w.run(&["release-merged", &number.to_string()]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("is not labelled `automated-release`: nothing released"),
        "{}",
        run.all()
    );
    assert_eq!(w.remote_ref("refs/tags/v1.3.0"), None);
    assert_eq!(w.digest_at(&w.prod, "v1.3.0"), None);
    assert!(w.standin.state()["repos"][0]["releases"]
        .as_array()
        .unwrap()
        .is_empty());
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn a_dev_digest_replaced_after_review_is_refused() {
    let Some(w) = world(false) else { return };
    let (number, reviewed) = reviewed_pr(&w, true);
    // Someone pushes another image under the dev tag after the review.
    let replaced = push_fabricated(
        &format!("{}/acme/app:dev-1.3.0", w.staging.addr),
        "not what was reviewed",
    );
    assert_ne!(replaced, reviewed);
    for args in [vec!["release-merged", "--dry-run"], vec!["release-merged"]] {
        let mut a = args.clone();
        let n = number.to_string();
        a.insert(1, &n);
        let run = w.run(&a);
        assert_eq!(run.code, 1, "{}", run.all());
        for want in [
            format!("holds {replaced}, but PR #{number} was reviewed with {reviewed}"),
            "the digest reviewed is the digest released".to_string(),
        ] {
            assert!(run.all().contains(&want), "{want}\n{}", run.all());
        }
    }
    assert_eq!(w.remote_ref("refs/tags/v1.3.0"), None);
    assert_eq!(w.digest_at(&w.prod, "v1.3.0"), None);
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn bad_input_is_refused_naming_the_fix() {
    let Some(mut w) = world(false) else { return };
    let before = w.repo.snapshot();
    for (args, want) in [
        (vec!["dev-release", "banana"], "major, minor, patch"),
        (
            vec!["dev-release", "--reviewer", "a/b/c"],
            "a team is `org/team`",
        ),
        (
            vec!["release-merged", "abc"],
            "is not a pull request number",
        ),
        (vec!["release-merged"], "needs the merged PR's number"),
    ] {
        let run = w.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(run.all().contains(want), "{want}: {}", run.all());
    }
    assert_eq!(w.repo.snapshot(), before);
    // Dirty tree, and the staging registry down: all at once, nothing changed.
    w.repo.write("scratch/www/health", "changed\n");
    w.staging.stop();
    let run = w.run(&["dev-release"]);
    assert_eq!(run.code, 1, "{}", run.all());
    for want in ["uncommitted changes", "the staging registry"] {
        assert!(run.all().contains(want), "{want}: {}", run.all());
    }
    assert!(w.issues().is_empty());
}
