//! `publish-prod` end to end in a sandbox: a temp repository, a real package index (pypiserver),
//! the real `gh` against the GitHub stand-in (every request checked against GitHub's REST
//! contract), a local webhook receiver. Dry run == real run; failures injected, then re-runs
//! complete with an identical end state; refusals before anything is published; secrets appear
//! nowhere (output, files, argv of every spawned process).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use slipway_rig::services::PackageIndex;
use slipway_rig::standin::Standin;
use xtask::targets::pypi::{Venv, SERVER_REQUIREMENTS, TOOL_REQUIREMENTS};

const INDEX_USER: &str = "uploader";
const INDEX_PASSWORD: &str = "pw-ORCA-5521-secret";
const GH_SECRET: &str = "ghs-TOKEN-8f0c2a-secret";
const SLACK_PATH: &str = "/hooks/T0-SLACKSECRET-77";

struct Sandbox {
    repo: Repo,
    index: PackageIndex,
    index_dir: tempfile::TempDir,
    standin: Standin,
    gh_config: tempfile::TempDir,
    receiver: Receiver,
    tools: PathBuf,
}

fn sandbox(version: &str) -> Option<Sandbox> {
    let gh = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh) {
        return None;
    }
    let tools = tools_dir();
    let server = Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS);
    server.ensure(Path::new("/")).expect("pypiserver venv");
    Venv::in_dir(&tools, "python-tools", TOOL_REQUIREMENTS)
        .ensure(Path::new("/"))
        .expect("tool venv");
    let index_dir = tempfile::tempdir().unwrap();
    let index = PackageIndex::start(
        &Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS).dir,
        index_dir.path(),
        INDEX_USER,
        INDEX_PASSWORD,
    )
    .unwrap();
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let receiver = Receiver::start(200);

    let repo = payload_repo(
        version,
        &format!(
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\nwebhooks = [\"{}/generic\"]\n\n\
             [workspace.metadata.release.python]\nrepository-url = \"{}\"\nindex-url = \"{}\"\n\n\
             [workspace.metadata.release.github]\nrepo = \"acme/app\"\nrelease-workflow = \"release.yml\"\n",
            receiver.url,
            index.url,
            index.simple_url()
        ),
    );
    seed_ci(&standin, &repo, &format!("v{version}"), "success");
    Some(Sandbox {
        repo,
        index,
        index_dir,
        standin,
        gh_config: tempfile::tempdir().unwrap(),
        receiver,
        tools,
    })
}

/// A completed run of the release workflow on `tag`, for the commit the tag points at.
fn seed_ci(standin: &Standin, repo: &Repo, tag: &str, conclusion: &str) {
    let sha = repo
        .git(&["rev-parse", &format!("{tag}^{{commit}}")])
        .trim()
        .to_string();
    standin
        .seed_run_with(&slipway_rig::standin::RunSeed {
            owner: "acme".into(),
            repo: "app".into(),
            workflow: "release.yml".into(),
            branch: tag.into(),
            conclusion: Some(conclusion.into()),
            status: None,
            head_sha: Some(sha),
            event: Some("push".into()),
        })
        .unwrap();
}

impl Sandbox {
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = hermetic(BIN, self.repo.path());
        for (k, v) in self.standin.gh_env(self.gh_config.path()) {
            // The proxy is for gh alone: slipway hands SLIPWAY_GH_PROXY to gh processes only.
            if k.to_ascii_lowercase().ends_with("_proxy") {
                continue;
            }
            c.env(k, v);
        }
        c.args(args)
            .env("SLIPWAY_GH_PROXY", self.standin.url())
            .env("GH_TOKEN", GH_SECRET)
            .env("GH_ENTERPRISE_TOKEN", GH_SECRET)
            .env("SLIPWAY_TOOLS_DIR", &self.tools)
            .env("TWINE_USERNAME", INDEX_USER)
            .env("TWINE_PASSWORD", INDEX_PASSWORD)
            .env(
                "SLACK_WEBHOOK",
                format!("{}{SLACK_PATH}", self.receiver.url),
            )
            .env("NO_COLOR", "1")
            .env_remove("PYPI_TOKEN")
            .env_remove("GITHUB_TOKEN");
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

    fn publish(&self) -> Run {
        self.run(&["publish-prod", "--only", "pypi,github", "--json"])
    }

    fn index_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.index.dir.join("packages"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Releases and their assets (name + digest) as the stand-in holds them.
    fn releases(&self) -> Vec<(String, Vec<String>)> {
        let state = self.standin.state();
        let repo = state["repos"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["full_name"] == "acme/app"))
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for r in repo["releases"].as_array().cloned().unwrap_or_default() {
            let mut assets: Vec<String> = r["assets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a["name"].as_str().unwrap_or(""),
                        a["digest"].as_str().unwrap_or("")
                    )
                })
                .collect();
            assets.sort();
            out.push((r["tag_name"].as_str().unwrap_or("").to_string(), assets));
        }
        out
    }
}

fn executed_steps(report: &serde_json::Value) -> Vec<String> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|st| st["step"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn full_publish_dry_run_equals_real_run_then_rerun_skips() {
    let Some(sb) = sandbox("1.3.0") else { return };
    let dry = sb.run(&[
        "publish-prod",
        "--only",
        "pypi,github",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let dry: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let planned: Vec<String> = dry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["header"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sb.index_files().is_empty() && sb.releases().is_empty(),
        "the dry run published nothing"
    );
    // The alert a failure would send is listed too, its webhook URL masked.
    assert_eq!(dry["alerts"]["on"], serde_json::json!(["failure"]));
    let alert = &dry["alerts"]["requests"][0];
    assert_eq!(alert["method"], "POST", "{alert}");
    assert!(
        !alert.to_string().contains(SLACK_PATH) && alert.to_string().contains("***"),
        "the webhook URL is a secret: {alert}"
    );
    assert!(alert.to_string().contains("<failing step>"), "{alert}");

    let real = sb.publish();
    assert_eq!(real.code, 0, "{}", real.all());
    let report: serde_json::Value = serde_json::from_str(&real.stdout).unwrap();
    assert_eq!(report["status"], "success");
    assert_eq!(
        executed_steps(&report),
        planned,
        "the real run executed exactly the dry-run plan"
    );

    assert_eq!(
        sb.index_files(),
        [
            "slipway_demo-1.3.0-py3-none-any.whl",
            "slipway_demo-1.3.0.tar.gz"
        ]
    );
    let releases = sb.releases();
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(releases[0].0, "v1.3.0");
    assert_eq!(
        releases[0].1.len(),
        4,
        "two dists, SHA256SUMS and the ledger's ledger.json: {releases:?}"
    );
    // The ledger holds the run: the report's stages and durations, the dists with their sha256
    // and the release; ledger.json on the release holds the same record.
    let h = sb.run(&["history", "--json"]);
    assert_eq!(h.code, 0, "{}", h.all());
    let h: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    let record = &h["releases"][0]["records"][0];
    assert_eq!(
        (
            record["command"].as_str(),
            record["status"].as_str(),
            record["tag"].as_str()
        ),
        (Some("publish-prod"), Some("success"), Some("v1.3.0"))
    );
    let stages = |v: &serde_json::Value| -> Vec<(String, u64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["duration_ms"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(stages(&record["stages"]), stages(&report["stages"]));
    let artifacts = record["artifacts"].to_string();
    for needle in [
        "slipway_demo-1.3.0-py3-none-any.whl",
        "slipway_demo-1.3.0.tar.gz",
        "\"kind\":\"release\"",
    ] {
        assert!(artifacts.contains(needle), "{needle}: {artifacts}");
    }
    let asset = sb
        .standin
        .asset_bytes("acme", "app", "v1.3.0", "ledger.json")
        .expect("ledger.json on the release");
    let asset: serde_json::Value = serde_json::from_slice(&asset).unwrap();
    assert_eq!(asset["records"][0]["run"], record["run"]);
    sb.standin.ensure_no_violations().unwrap();
    assert!(
        real.stderr
            .contains("pip install slipway-demo==1.3.0 → importlib.metadata.version = 1.3.0"),
        "{}",
        real.stderr
    );

    // Re-run: everything is there; every publish step skips with its evidence.
    let again = sb.publish();
    assert_eq!(again.code, 0, "{}", again.all());
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let publish = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "publish")
        .unwrap();
    for step in publish["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "skipped", "{step}");
    }
    // Nothing duplicated; ledger.json alone changed: it now holds both runs' records.
    let without_ledger = |rs: Vec<(String, Vec<String>)>| -> Vec<(String, Vec<String>)> {
        rs.into_iter()
            .map(|(t, a)| {
                (
                    t,
                    a.into_iter()
                        .filter(|x| !x.starts_with("ledger.json "))
                        .collect(),
                )
            })
            .collect()
    };
    let now = sb.releases();
    assert_eq!(now[0].1.len(), 4, "{now:?}");
    assert_eq!(
        without_ledger(now),
        without_ledger(releases),
        "nothing duplicated"
    );
    sb.standin.ensure_no_violations().unwrap();
}

#[test]
fn failures_at_each_publish_step_then_rerun_completes_identically() {
    let Some(mut sb) = sandbox("1.4.0-rc.1") else {
        return;
    };
    // 1. The index is down: the run stops at the upload; alerts go out; nothing else published.
    let port = sb
        .index
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    sb.index.stop();
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("is unreachable"), "{}", r.stderr);
    assert!(
        sb.releases().is_empty(),
        "the GitHub release comes after the index"
    );
    let bodies = sb.receiver.bodies();
    assert_eq!(bodies.len(), 2, "slack + generic webhook: {bodies:?}");
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("\"blocks\"") && b.contains("failed at publish")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("\"event\":\"slipway.publish\"")
                && b.contains("\"status\":\"failure\"")),
        "{bodies:?}"
    );

    // Fix the cause (the index is back on the same port with the same data), then:
    // 2. the release API fails once with 500.
    let venv = Venv::in_dir(&sb.tools, "pypiserver", SERVER_REQUIREMENTS).dir;
    sb.index = PackageIndex::start_on(&venv, sb.index_dir.path(), INDEX_USER, INDEX_PASSWORD, port)
        .unwrap();
    sb.standin
        .fail_next("POST", "/repos/{owner}/{repo}/releases", 500, 1)
        .unwrap();
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(sb.index_files().len(), 2, "the index step completed");
    assert!(sb.releases().is_empty());

    // 3. An asset upload fails once.
    sb.standin
        .fail_next(
            "POST",
            "/repos/{owner}/{repo}/releases/{release_id}/assets",
            500,
            1,
        )
        .unwrap();
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());

    // The final re-run completes: same end state as a clean run, nothing duplicated.
    let r = sb.publish();
    assert_eq!(r.code, 0, "{}", r.all());
    let releases = sb.releases();
    assert_eq!(releases.len(), 1, "{releases:?}");
    // The three release assets and ledger.json, and the incident report of the run whose asset upload failed
    // (the release existed by then, so its report was attached).
    let (reports, assets): (Vec<&String>, Vec<&String>) = releases[0]
        .1
        .iter()
        .partition(|a| a.starts_with("incident-v1.4.0-rc.1-"));
    assert_eq!(assets.len(), 4, "with ledger.json: {releases:?}");
    assert_eq!(reports.len(), 1, "{releases:?}");
    assert_eq!(
        sb.index_files(),
        [
            "slipway_demo-1.4.0rc1-py3-none-any.whl",
            "slipway_demo-1.4.0rc1.tar.gz"
        ]
    );
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let pypi_upload = executed_steps(&report)
        .into_iter()
        .find(|s| s.starts_with("upload to"))
        .unwrap();
    assert!(
        r.stderr.contains("skipped:"),
        "the index step was skipped with evidence: {pypi_upload}\n{}",
        r.stderr
    );
    let state = sb.standin.state();
    assert_eq!(state["repos"][0]["releases"][0]["prerelease"], true);
    // Every run is in the ledger: the three that failed (with their error) and the last one.
    let h = sb.run(&["history", "--json"]);
    assert_eq!(h.code, 0, "{}", h.all());
    let h: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    let runs = h["releases"][0]["records"].as_array().unwrap();
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["failure", "failure", "failure", "success"],
        "{h:#}"
    );
    for failed in &runs[..3] {
        assert!(
            failed["error"]
                .as_str()
                .is_some_and(|e| e.contains("failed")),
            "{failed}"
        );
    }
    assert_eq!(h["releases"][0]["state"], "published");
    sb.standin.ensure_no_violations().unwrap();
}

#[test]
fn refusals_before_anything_is_published() {
    let Some(sb) = sandbox("2.0.0") else { return };
    let nothing_published = |sb: &Sandbox| sb.index_files().is_empty() && sb.releases().is_empty();

    // Missing token.
    let out = sb
        .command(&["publish-prod", "--only", "pypi,github"])
        .env_remove("GH_TOKEN")
        .env_remove("GH_ENTERPRISE_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("GH_TOKEN"), "{err}");
    assert!(nothing_published(&sb));

    // CI not green for the tag.
    seed_ci(&sb.standin, &sb.repo, "v2.0.0", "failure");
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("CI has not passed for v2.0.0") || r.stderr.contains("concluded failure"),
        "{}",
        r.stderr
    );
    assert!(nothing_published(&sb));
    seed_ci(&sb.standin, &sb.repo, "v2.0.0", "success");

    // A placeholder in the changelog section.
    sb.repo.write("CHANGELOG.md", "# Changelog\n\n## [2.0.0] - 2026-11-21\n\n### Added\n\n- _TODO: describe this change (placeholder inserted by slipway)_\n");
    sb.repo.git(&["commit", "-q", "-am", "placeholder"]);
    sb.repo.git(&["tag", "-f", "-a", "v2.0.0", "-m", "moved"]);
    seed_ci(&sb.standin, &sb.repo, "v2.0.0", "success");
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("placeholders"), "{}", r.stderr);
    assert!(nothing_published(&sb));

    // Tag not at HEAD.
    sb.repo.commit("chore: after the tag");
    let r = sb.publish();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("HEAD has no release tag"), "{}", r.stderr);

    // A wrong index password fails at the upload: the GitHub release (published after the
    // index) is not created.
    sb.repo
        .git(&["tag", "-f", "-a", "v2.0.0", "-m", "moved again"]);
    sb.repo.write(
        "CHANGELOG.md",
        "# Changelog\n\n## [2.0.0] - 2026-11-21\n\n### Added\n\n- Real entry.\n",
    );
    sb.repo.git(&["commit", "-q", "-am", "entries"]);
    sb.repo
        .git(&["tag", "-f", "-a", "v2.0.0", "-m", "moved again"]);
    seed_ci(&sb.standin, &sb.repo, "v2.0.0", "success");
    let out = sb
        .command(&["publish-prod", "--only", "pypi,github"])
        .env("TWINE_PASSWORD", "WRONG-pw-112358")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("refused the credentials"), "{all}");
    assert!(!all.contains("WRONG-pw-112358"));
    assert!(nothing_published(&sb));
}

#[test]
fn secrets_appear_nowhere_not_even_in_argv() {
    let Some(sb) = sandbox("3.1.0") else { return };
    let strace = slipway_rig::services::which("strace");
    if !require("strace (Debian package)", strace.is_some()) {
        return;
    }
    // A private temp dir: never a fixed path shared with other runs (and outside the repository,
    // whose files are searched for secrets below).
    let trace_dir = tempfile::tempdir().unwrap();
    let log = trace_dir.path().join("strace.log");
    let cmd = sb.command(&["publish-prod", "--only", "pypi,github"]);
    let program = cmd.get_program().to_os_string();
    let args: Vec<std::ffi::OsString> = cmd.get_args().map(|a| a.to_os_string()).collect();
    let mut traced = std::process::Command::new(strace.unwrap());
    traced
        .args(["-f", "-qq", "-s", "65536", "-e", "trace=execve", "-o"])
        .arg(&log)
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => traced.env(k, v),
            None => traced.env_remove(k),
        };
    }
    traced.current_dir(sb.repo.path());
    let out = traced.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    let execs = std::fs::read_to_string(&log).unwrap();
    assert!(
        execs.lines().filter(|l| l.contains("execve(")).count() > 10,
        "strace saw the spawned processes"
    );
    for secret in [INDEX_PASSWORD, GH_SECRET, SLACK_PATH] {
        assert!(!all.contains(secret), "{secret} in the output");
        for line in execs.lines().filter(|l| l.contains("execve(")) {
            // argv is the second argument; the environment (where secrets belong) comes after it.
            let argv = line.split("], ").next().unwrap_or(line);
            assert!(!argv.contains(secret), "{secret} in argv: {argv}");
        }
        for file in files_under(sb.repo.path()) {
            let text =
                String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
            assert!(!text.contains(secret), "{secret} in {}", file.display());
        }
    }
}

#[test]
fn dry_run_without_any_secret_shows_the_whole_plan_and_what_would_refuse() {
    let Some(sb) = sandbox("1.6.0") else { return };
    let with = sb.run(&["publish-prod", "--only", "pypi,github", "--dry-run"]);
    assert_eq!(with.code, 0, "{}", with.all());
    let mut c = sb.command(&["publish-prod", "--only", "pypi,github", "--dry-run"]);
    for k in [
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
    ] {
        c.env_remove(k);
    }
    let out = c.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let steps = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim_start_matches("✗ ").strip_prefix('['))
            .map(|l| l.split_once("] ").map_or(l, |(_, h)| h).to_string())
            .collect()
    };
    assert_eq!(
        steps(&stdout),
        steps(&with.stdout),
        "the same plan, with and without secrets:\n{stdout}"
    );
    for refusal in [
        format!("✗ would refuse: no credentials for {}", sb.index.url),
        "✗ would refuse: no GitHub token".to_string(),
    ] {
        assert!(stdout.contains(&refusal), "{refusal}:\n{stdout}");
    }
    assert!(
        stderr.contains("publish-prod refused, nothing was changed")
            && stderr.contains("no GitHub token"),
        "{stderr}"
    );
    assert!(sb.index_files().is_empty() && sb.releases().is_empty());
}

#[path = "common/trace.rs"]
mod trace;

/// Under strace: every process `publish-prod` starts, beyond the read-only observations its dry
/// run makes too, is one its `--dry-run --json` plan listed (placeholders match run-time values).
#[test]
fn publish_starts_only_the_processes_its_dry_run_lists() {
    if !trace::strace_works() {
        eprintln!("SKIPPED: strace cannot trace here");
        return;
    }
    let Some(sb) = sandbox("1.7.0") else { return };
    let dry_dir = tempfile::tempdir().unwrap();
    let (dry, observed) = trace::traced(
        &sb.command(&[
            "publish-prod",
            "--only",
            "pypi,github",
            "--dry-run",
            "--json",
        ]),
        dry_dir.path(),
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned = trace::planned(&plan["steps"]);
    // The ledger's steps run after the plan; those that depend on what they find (a merge when
    // origin's notes moved, replacing ledger.json) may be planned and not started.
    let with_ledger: Vec<_> = planned
        .iter()
        .cloned()
        .chain(trace::planned(&plan["ledger"]))
        .collect();

    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(
        &sb.command(&["publish-prod", "--only", "pypi,github", "--json"]),
        real_dir.path(),
    );
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    assert!(!acted.is_empty());
    for argv in &acted {
        assert!(
            with_ledger.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {with_ledger:#?}"
        );
    }
    for t in &planned {
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
}
