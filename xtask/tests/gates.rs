//! Quality gates and stage timeouts, end to end: real gate processes (small `python3 -c`
//! programs), real git with a bare remote, the real package index (pypiserver) and the real
//! `gh` against the GitHub stand-in. A failing blocking gate stops `release` before any write
//! and `publish-prod` before any publish; an advisory one warns; overrides are loud and
//! recorded; a gate or a stage past its time is killed with its children and reaped.

mod common;

#[path = "common/trace.rs"]
mod trace;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use slipway_rig::services::PackageIndex;
use slipway_rig::standin::Standin;
use xtask::targets::pypi::{Venv, SERVER_REQUIREMENTS, TOOL_REQUIREMENTS};

const INDEX_USER: &str = "uploader";
const INDEX_PASSWORD: &str = "pw-GATE-3141-secret";
const GH_SECRET: &str = "ghs-GATE-2718-secret";

/// The gate tools' venv, shared by every test run (made once, from the index).
fn gate_tools() {
    Venv::in_dir(
        &tools_dir(),
        "gate-tools",
        xtask::targets::gates::GATE_REQUIREMENTS,
    )
    .ensure(Path::new("/"))
    .expect("gate tools venv");
}

/// A `[[workspace.metadata.release.gates]]` entry running `python3 -c <code>`.
fn gate(name: &str, stage: &str, code: &str, extra: &str) -> String {
    format!(
        "\n[[workspace.metadata.release.gates]]\nname = \"{name}\"\nstage = \"{stage}\"\n\
         command = [\"python3\", \"-c\", {}]\n{extra}\n",
        toml_string(code)
    )
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The standard fixture with `gates` appended to its release table, tagged v1.2.3, with a
/// bare remote that has main and the tag.
fn release_repo(gates: &str) -> Repo {
    gate_tools();
    let repo = Repo::new(&[
        ("Cargo.toml", &format!("{CARGO_TOML}{gates}")),
        ("pyproject.toml", PYPROJECT),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", CHANGELOG),
        (".gitignore", "/target\n"),
    ]);
    repo.git(&["tag", "-a", "v1.2.3", "-m", "Release v1.2.3"]);
    let repo = repo.with_remote();
    repo.git(&["push", "-q", "origin", "v1.2.3"]);
    repo.commit("feat(cli): new flag");
    repo
}

fn tool(repo: &Repo, args: &[&str]) -> std::process::Command {
    let mut c = hermetic(BIN, repo.path());
    c.args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run(repo: &Repo, args: &[&str]) -> Run {
    let out = tool(repo, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The remote's refs, to prove that nothing was pushed.
fn remote_refs(repo: &Repo) -> String {
    repo.remote_git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// A state of `/proc/<pid>/stat` other than a zombie: the process still runs.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
}

/// Which `python3.X` runs here (the one `python3` is).
fn installed_python() -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_failing_blocking_gate_stops_release_before_any_write() {
    let repo = release_repo(&format!(
        "{}{}",
        gate(
            "tests",
            "pre-release",
            "import sys; print('FAILED test_health (expected 200, got 500)'); sys.exit(1)",
            ""
        ),
        gate("lint", "pre-release", "print('all clean')", "")
    ));
    let before = repo.snapshot();
    let remote_before = remote_refs(&repo);
    let r = run(&repo, &["release", "auto"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let all = r.all();
    assert!(
        all.contains("gate `tests` (blocking) failed: tests: failed (exited with status 1)"),
        "{all}"
    );
    assert!(
        all.contains("FAILED test_health (expected 200, got 500)"),
        "the gate's output is shown: {all}"
    );
    assert!(
        all.contains("release stopped by the pre-release gates; nothing was changed"),
        "{all}"
    );
    assert_eq!(repo.snapshot(), before, "nothing written");
    assert_eq!(remote_refs(&repo), remote_before, "nothing pushed");
    assert!(!repo.path().join(".git/slipway/intent.json").exists());

    // Unknown gate names: usage (exit 2), naming the gates.
    let r = run(&repo, &["release", "auto", "--skip-gate", "test"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("--skip-gate test: no such gate; the gates are: tests, lint"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);

    // The override: loud, and the release goes ahead.
    let r = run(&repo, &["release", "auto", "--skip-gate", "tests"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("quality gates SKIPPED by")
            && r.all()
                .contains("gates skipped: tests (--skip-gate) — emergency use only"),
        "{}",
        r.all()
    );
    assert!(r.all().contains("gate lint: passed"), "{}", r.all());
    assert!(remote_refs(&repo).contains("refs/tags/v1.3.0"));
    // Recorded in the tag's message, which publish-prod carries into the release notes.
    assert_eq!(
        repo.git(&["tag", "-l", "--format=%(contents)", "v1.3.0"])
            .trim_end(),
        "Release v1.3.0\n\nReleased with gates skipped: tests (--skip-gate)"
    );
}

#[test]
fn an_advisory_failure_warns_and_does_not_stop() {
    let repo = release_repo(&gate(
        "mypy",
        "pre-release",
        "import sys; print('src/x.py:1: error: untyped'); sys.exit(1)",
        "blocking = false",
    ));
    let r = run(&repo, &["bump-version", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains(
            "warning: gate `mypy` (advisory) failed: mypy: failed (exited with status 1)"
        ),
        "{}",
        r.all()
    );
    assert!(
        r.all().contains("src/x.py:1: error: untyped"),
        "{}",
        r.all()
    );
    assert!(repo.git(&["tag", "-l"]).contains("v1.2.4"));
}

#[test]
fn a_gate_past_its_timeout_is_killed_with_its_children_and_reaped() {
    let pids = tempfile::tempdir().unwrap();
    let pidfile = pids.path().join("sleep.pid");
    let code = format!(
        "import subprocess, os\n\
         p = subprocess.Popen(['sleep', '300'])\n\
         open({}, 'w').write(str(p.pid))\n\
         open({}, 'w').write(str(os.getpid()))\n\
         print('waiting for the service', flush=True)\n\
         p.wait()",
        toml_string(&pidfile.display().to_string()),
        toml_string(&pids.path().join("gate.pid").display().to_string()),
    );
    let repo = release_repo(&gate("hang", "pre-release", &code, "timeout-s = 2"));
    let before = repo.snapshot();
    let t = Instant::now();
    let r = run(&repo, &["bump-version", "patch"]);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains(
            "gate `hang` (blocking) failed: hang: timed out after 2 s (killed with its children)"
        ),
        "{}",
        r.all()
    );
    assert!(r.all().contains("waiting for the service"), "{}", r.all());
    let sleep = std::fs::read_to_string(&pidfile).unwrap();
    let gate = std::fs::read_to_string(pids.path().join("gate.pid")).unwrap();
    assert!(!alive(&sleep), "the gate's child `sleep 300` was killed");
    assert!(
        !Path::new(&format!("/proc/{}", gate.trim())).exists(),
        "the gate was reaped (no zombie)"
    );
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn python_versions_not_installed_are_not_run_never_passed() {
    let here = installed_python();
    let repo = release_repo(&format!(
        "{}{}",
        gate(
            "tests",
            "pre-release",
            "import os, sys; sys.exit(0 if sys.prefix == os.environ['VIRTUAL_ENV'] else 3)",
            &format!("python = [\"{here}\", \"3.99\"]")
        ),
        gate(
            "future",
            "pre-release",
            "print('never')",
            "python = [\"3.99\"]\nblocking = false"
        ),
    ));
    let dry = run(&repo, &["bump-version", "patch", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains(
            "tests (python 3.99) (timeout 600 s, blocking): not run (python3.99 not installed)"
        ),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("$ python{here} -m venv --clear --without-pip")),
        "{}",
        dry.stdout
    );
    let r = run(&repo, &["bump-version", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let all = r.all();
    assert!(
        all.contains(&format!("gate tests (python {here}): passed")),
        "{all}"
    );
    // It ran under its own venv (it exits 3 elsewhere), made by that interpreter.
    let cfg = std::fs::read_to_string(
        repo.path()
            .join(format!("target/slipway/gates/tests-py{here}/pyvenv.cfg")),
    )
    .unwrap();
    assert!(cfg.contains(&format!("version = {here}")), "{cfg}");
    assert!(
        all.contains("warning: tests (python 3.99): not run (python3.99 not installed)"),
        "{all}"
    );
    assert!(
        all.contains("warning: gate `future` (advisory) not run: future (python 3.99): not run (python3.99 not installed)"),
        "{all}"
    );
    assert!(!all.contains("gate future: passed"), "{all}");
}

/// `requirements` are installed from the package index into each interpreter's own venv (by
/// the gate tools' pip, `--python <venv>`), listed in the dry run; an unpinned one is refused
/// before anything runs.
#[test]
fn a_gates_requirements_are_installed_into_each_interpreters_venv() {
    let here = installed_python();
    let repo = release_repo(&gate(
        "tests",
        "pre-release",
        "import os, sys, six; sys.exit(0 if os.path.realpath(six.__file__).startswith(os.path.realpath(sys.prefix)) else 4)",
        &format!("python = [\"{here}\"]\nrequirements = [\"six==1.16.0\"]"),
    ));
    let dry = run(&repo, &["bump-version", "patch", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains(&format!(
            "-m pip --python {}",
            repo.path()
                .join(format!("target/slipway/gates/tests-py{here}/bin/python"))
                .display()
        )) && dry
            .stdout
            .contains("install --quiet --no-input --disable-pip-version-check six==1.16.0"),
        "{}",
        dry.stdout
    );
    let r = run(&repo, &["bump-version", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all()
            .contains(&format!("gate tests (python {here}): passed")),
        "{}",
        r.all()
    );
    let site = repo.path().join(format!(
        "target/slipway/gates/tests-py{here}/lib/python{here}/site-packages/six.py"
    ));
    assert!(
        site.exists(),
        "six is not in the gate's venv: {}",
        site.display()
    );

    let unpinned = release_repo(&gate(
        "tests",
        "pre-release",
        "pass",
        &format!("python = [\"{here}\"]\nrequirements = [\"six>=1\"]"),
    ));
    let r = run(&unpinned, &["bump-version", "patch"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("requirements must be a non-empty array of pinned requirements"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_interpreter_for_a_blocking_gate_refuses() {
    let repo = release_repo(&gate(
        "tests",
        "pre-release",
        "print('never')",
        "python = [\"3.98\", \"3.99\"]",
    ));
    let before = repo.snapshot();
    let r = run(&repo, &["bump-version", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("gate `tests` (blocking) not run: tests (python 3.98): not run (python3.98 not installed); tests (python 3.99): not run (python3.99 not installed)"),
        "{}",
        r.all()
    );
    assert_eq!(repo.snapshot(), before);
}

/// Under strace: the gate processes `release` starts are exactly those its dry run lists.
#[test]
fn release_starts_only_the_gate_processes_its_dry_run_lists() {
    if !require("strace (ptrace allowed)", trace::strace_works()) {
        return;
    }
    let here = installed_python();
    let repo = release_repo(&format!(
        "{}{}",
        gate(
            "tests",
            "pre-release",
            "print('ok')",
            &format!("python = [\"{here}\", \"3.99\"]")
        ),
        gate("lint", "pre-release", "print('clean')", "blocking = false"),
    ));
    let dry_dir = tempfile::tempdir().unwrap();
    let (dry, observed) = trace::traced(
        &tool(&repo, &["release", "auto", "--dry-run", "--json"]),
        dry_dir.path(),
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let mut planned = trace::planned(&plan["gates"]["steps"]);
    let gate_processes = planned.clone();
    assert!(
        gate_processes
            .iter()
            .filter(|t| t.len() > 1 && t[0] == "python3" && t[1] == "-c")
            .count()
            == 2,
        "one process for lint, one for tests under {here} (3.99 is not installed): {gate_processes:#?}"
    );
    planned.extend(trace::planned(&plan["steps"]));
    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&tool(&repo, &["release", "auto"]), real_dir.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    for argv in &acted {
        assert!(
            planned.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {planned:#?}"
        );
    }
    // Every gate process ran (the venv steps of a ready venv are not needed).
    for t in gate_processes.iter().filter(|t| t[0] != "<python>") {
        if t.iter().any(|a| a.contains("gate-tools")) {
            continue;
        }
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// publish-prod: the pre-publish gates and stage timeouts, with the real index and stand-in.

struct Sandbox {
    repo: Repo,
    index: PackageIndex,
    _index_dir: tempfile::TempDir,
    standin: Standin,
    gh_config: tempfile::TempDir,
}

/// The reference payload at `version`, tagged, with `extra` in its release table, a running
/// index and the GitHub stand-in with a green release workflow run for the tag.
fn sandbox(version: &str, extra: &str) -> Option<Sandbox> {
    let gh = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh) {
        return None;
    }
    gate_tools();
    let tools = tools_dir();
    let server = Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS);
    server.ensure(Path::new("/")).expect("pypiserver venv");
    Venv::in_dir(&tools, "python-tools", TOOL_REQUIREMENTS)
        .ensure(Path::new("/"))
        .expect("tool venv");
    let index_dir = tempfile::tempdir().unwrap();
    let index = PackageIndex::start(&server.dir, index_dir.path(), INDEX_USER, INDEX_PASSWORD)
        .expect("pypiserver");
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let repo = payload_repo(
        version,
        &format!(
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
             [workspace.metadata.release.python]\nrepository-url = \"{}\"\nindex-url = \"{}\"\n\n\
             [workspace.metadata.release.github]\nrepo = \"acme/app\"\nrelease-workflow = \"release.yml\"\n{extra}",
            index.url,
            index.simple_url()
        ),
    );
    Some(Sandbox {
        repo,
        index,
        _index_dir: index_dir,
        standin,
        gh_config: tempfile::tempdir().unwrap(),
    })
}

impl Sandbox {
    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = hermetic(BIN, self.repo.path());
        for (k, v) in self.standin.gh_env(self.gh_config.path()) {
            if k.to_ascii_lowercase().ends_with("_proxy") {
                continue;
            }
            c.env(k, v);
        }
        c.args(args)
            .env("SLIPWAY_GH_PROXY", self.standin.url())
            .env("GH_TOKEN", GH_SECRET)
            .env("GH_ENTERPRISE_TOKEN", GH_SECRET)
            .env("SLIPWAY_TOOLS_DIR", tools_dir())
            .env("TWINE_USERNAME", INDEX_USER)
            .env("TWINE_PASSWORD", INDEX_PASSWORD)
            .env("NO_COLOR", "1")
            .env_remove("PYPI_TOKEN")
            .env_remove("GITHUB_TOKEN")
            .env_remove("SLACK_WEBHOOK")
            .env_remove("GITHUB_ACTIONS");
        c
    }

    fn index_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.index.dir.join("packages"))
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn release_bodies(&self) -> Vec<String> {
        let state = self.standin.state();
        let repo = state["repos"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["full_name"] == "acme/app"))
            .cloned()
            .unwrap_or_default();
        repo["releases"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| r["body"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn report(&self, tag: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(
            self.repo
                .path()
                .join(format!("target/slipway/reports/publish-{tag}.json")),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

#[test]
fn a_failing_pre_publish_gate_publishes_nothing_and_the_override_is_recorded() {
    let smoke = gate(
        "smoke",
        "pre-publish",
        "import sys; print('smoke test: /health answered 503'); sys.exit(1)",
        "",
    );
    let Some(s) = sandbox("0.4.0", &smoke) else {
        return;
    };
    let r = s.run(&["publish-prod", "--only", "pypi,github", "--skip-ci-check"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("smoke test: /health answered 503"),
        "{}",
        r.all()
    );
    assert!(
        r.all().contains("gate `smoke` (blocking) failed"),
        "{}",
        r.all()
    );
    assert!(s.index_files().is_empty(), "nothing uploaded");
    assert!(s.release_bodies().is_empty(), "no GitHub release");
    let report = s.report("v0.4.0");
    let stages: Vec<(&str, &str)> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["name"].as_str().unwrap(), st["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            ("preflight", "ok"),
            ("build", "ok"),
            ("test", "failed"),
            ("publish", "not run"),
            ("verify", "not run")
        ]
    );
    assert_eq!(report["gates"]["ran"]["gates"][0]["status"], "failed");

    // The override: published, loud, in the report and the release notes — with the gates
    // `release` skipped, as its tag's message says.
    s.repo.git(&[
        "tag",
        "-f",
        "-a",
        "v0.4.0",
        "-m",
        "Release v0.4.0\n\nReleased with gates skipped: tests (--skip-gate)",
    ]);
    let r = s.run(&[
        "publish-prod",
        "--only",
        "pypi,github",
        "--skip-ci-check",
        "--skip-gate",
        "smoke",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("publish-prod: quality gates SKIPPED by"),
        "{}",
        r.all()
    );
    assert_eq!(s.index_files().len(), 2);
    let report = s.report("v0.4.0");
    assert_eq!(
        report["gates"]["skipped"],
        serde_json::json!([{"name": "smoke", "flag": "--skip-gate"}])
    );
    assert_eq!(
        report["gates"]["notes_line"],
        "Released with gates skipped: tests (--skip-gate), smoke (--skip-gate)"
    );
    let bodies = s.release_bodies();
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].contains("Released with gates skipped: tests (--skip-gate), smoke (--skip-gate)"),
        "{}",
        bodies[0]
    );
}

/// A build backend that sleeps while a marker file exists: the build stage's timeout stops it
/// (killed, reaped), nothing is published, and a re-run without the marker completes.
#[test]
fn a_stage_timeout_stops_a_slow_build_and_a_rerun_completes() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("slow");
    let pidfile = marker_dir.path().join("backend.pid");
    std::fs::write(&marker, "").unwrap();
    let Some(s) = sandbox(
        "0.5.0",
        "\n[workspace.metadata.release.timeouts]\nbuild = 5\n",
    ) else {
        return;
    };
    // The in-tree backend: setuptools, slowed by the marker.
    let backend = format!(
        "import os, time\n\
         from setuptools import build_meta as _b\n\
         from setuptools.build_meta import *\n\
         def _slow():\n    \
             if os.path.exists({m}):\n        \
                 open({p}, 'w').write(str(os.getpid()))\n        \
                 time.sleep(300)\n\
         def build_sdist(*a, **k):\n    _slow()\n    return _b.build_sdist(*a, **k)\n\
         def build_wheel(*a, **k):\n    _slow()\n    return _b.build_wheel(*a, **k)\n",
        m = toml_string(&marker.display().to_string()),
        p = toml_string(&pidfile.display().to_string()),
    );
    s.repo.write("_backend/slow_backend.py", &backend);
    let pyproject = s.repo.read("pyproject.toml").replace(
        "build-backend = \"setuptools.build_meta\"",
        "build-backend = \"slow_backend\"\nbackend-path = [\"_backend\"]",
    );
    s.repo.write("pyproject.toml", &pyproject);
    s.repo.git(&["add", "-A"]);
    s.repo.git(&["commit", "-q", "-m", "build: a slow backend"]);
    s.repo
        .git(&["tag", "-f", "-a", "v0.5.0", "-m", "Release v0.5.0"]);

    let t = Instant::now();
    let r = s.run(&["publish-prod", "--only", "pypi,github", "--skip-ci-check"]);
    assert!(t.elapsed() < Duration::from_secs(120), "{:?}", t.elapsed());
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("timed out after 5 s in build while running `"),
        "{}",
        r.all()
    );
    let backend_pid = std::fs::read_to_string(&pidfile).expect("the backend ran");
    assert!(
        !alive(&backend_pid),
        "the sleeping build backend was killed"
    );
    assert!(s.index_files().is_empty(), "nothing uploaded");

    std::fs::remove_file(&marker).unwrap();
    let r = s.run(&["publish-prod", "--only", "pypi,github", "--skip-ci-check"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(s.index_files().len(), 2);
    assert_eq!(s.release_bodies().len(), 1);
}

/// The `[[workspace.metadata.release.gates]]` tables of the repository's own Cargo.toml.
fn reference_gates() -> String {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line.trim() == "[[workspace.metadata.release.gates]]";
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.contains("name = \"mypy\""), "{out}");
    out
}

/// The reference payload's own gates (its unittest suite, ruff, bandit, mypy from the pinned
/// gate tools) pass on it: listed by the dry run, then run for real.
#[test]
fn the_reference_payload_passes_its_own_gates() {
    gate_tools();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = payload_repo(
        "0.1.0",
        &format!(
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n{}",
            reference_gates()
        ),
    );
    repo.write(
        "tests/test_server.py",
        &std::fs::read_to_string(root.join("tests/test_server.py")).unwrap(),
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "test: the payload's tests"]);
    let dry = run(
        &repo,
        &[
            "bump-version",
            "patch",
            "--allow-placeholders",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.all());
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let planned = trace::planned(&plan["gates"]["steps"]);
    for want in [
        vec!["python", "-m", "unittest", "discover", "-s", "tests"],
        vec!["ruff", "check", "src", "tests"],
        vec!["bandit", "-q", "-r", "src"],
        vec!["mypy", "src"],
    ] {
        assert!(
            planned.iter().any(|t| *t == want),
            "{want:?} not in {planned:#?}"
        );
    }
    let here = installed_python();
    let r = run(&repo, &["bump-version", "patch", "--allow-placeholders"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let all = r.all();
    for passed in ["ruff", "bandit", "mypy"] {
        assert!(all.contains(&format!("gate {passed}: passed")), "{all}");
    }
    if here == "3.11" || here == "3.12" {
        assert!(
            all.contains(&format!("gate tests (python {here}): passed")),
            "{all}"
        );
        assert!(all.contains("gate tests: passed"), "{all}");
    }
    assert!(
        repo.git(&["status", "--porcelain", "--ignored"])
            .lines()
            .all(|l| l.contains("target/")),
        "the gates wrote nothing into the tree: {}",
        repo.git(&["status", "--porcelain", "--ignored"])
    );
}

/// The `test` stage's limit bounds the gates (tighter than their own `timeout-s`).
#[test]
fn the_test_stage_timeout_stops_the_gates() {
    let repo = release_repo(&format!(
        "\n[workspace.metadata.release.timeouts]\ntest = 2\n{}",
        gate(
            "slow",
            "pre-release",
            "import time; print('still testing', flush=True); time.sleep(300)",
            ""
        )
    ));
    let before = repo.snapshot();
    let t = Instant::now();
    let r = run(&repo, &["bump-version", "patch"]);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("timed out after 2 s in test while running gate `slow` (`python3 -c"),
        "{}",
        r.all()
    );
    assert!(r.all().contains("still testing"), "{}", r.all());
    assert_eq!(repo.snapshot(), before);
}

/// Under strace: `publish-prod` starts exactly the gate processes (and every other process) its
/// dry run lists, the gates between the builds and the first publish step.
#[test]
fn publish_starts_only_the_gate_processes_its_dry_run_lists() {
    if !require("strace (ptrace allowed)", trace::strace_works()) {
        return;
    }
    let here = installed_python();
    let gates = format!(
        "{}{}",
        gate(
            "smoke",
            "pre-publish",
            "print('healthy')",
            &format!("python = [\"{here}\", \"3.99\"]")
        ),
        gate("lint", "pre-publish", "print('clean')", "blocking = false"),
    );
    let Some(s) = sandbox("0.6.0", &gates) else {
        return;
    };
    let args = ["publish-prod", "--only", "pypi,github", "--skip-ci-check"];
    let dry_dir = tempfile::tempdir().unwrap();
    let mut dry_args = args.to_vec();
    dry_args.extend(["--dry-run", "--json"]);
    let (dry, observed) = trace::traced(&s.command(&dry_args), dry_dir.path());
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let headers: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["header"].as_str().unwrap())
        .collect();
    let gates_at = headers
        .iter()
        .position(|h| h.starts_with("quality gates (pre-publish): smoke, lint"))
        .unwrap_or_else(|| panic!("{headers:#?}"));
    assert!(
        headers[..gates_at].iter().any(|h| h.contains("build")),
        "after the builds: {headers:#?}"
    );
    let mut planned = trace::planned(&plan["steps"]);
    // The ledger's steps (append the record, push the notes, ledger.json), after the plan.
    planned.extend(trace::planned(&plan["ledger"]));
    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&s.command(&args), real_dir.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    for argv in &acted {
        assert!(
            planned.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {planned:#?}"
        );
    }
    for t in planned
        .iter()
        .filter(|t| {
            t.len() > 1 && (t[1] == "-c" || t[1] == "-m" && t.get(2).is_some_and(|a| a == "venv"))
        })
        .filter(|t| !t.iter().any(|a| a.contains("gate-tools")))
    {
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
    let report = s.report("v0.6.0");
    assert_eq!(report["gates"]["ran"]["gates"][0]["status"], "passed");
    assert_eq!(report["gates"]["ran"]["gates"][1]["status"], "passed");
    let runs = report["gates"]["ran"]["runs"].as_array().unwrap();
    assert!(
        runs.iter()
            .any(|r| r["python"] == "3.99" && r["status"] == "not run"),
        "{runs:#?}"
    );
}

/// In GitHub Actions every gate's output is a fold of its own.
#[test]
fn in_github_actions_each_gates_output_is_folded() {
    let repo = release_repo(&format!(
        "{}{}",
        gate(
            "mypy",
            "pre-release",
            "import sys; print('src/x.py:1: error: untyped'); sys.exit(1)",
            "blocking = false",
        ),
        gate("lint", "pre-release", "print('all clean')", ""),
    ));
    let out = tool(&repo, &["bump-version", "patch"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    // On one stream (the workflow commands'), so the runner sees fold and content in order.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (title, body) in [
        (
            "::group::gate mypy: failed (exited with status 1)",
            "src/x.py:1: error: untyped",
        ),
        ("::group::gate lint: passed", "all clean"),
    ] {
        let at = stderr
            .find(title)
            .unwrap_or_else(|| panic!("{title}: {all}"));
        let rest = &stderr[at..];
        let end = rest.find("::endgroup::").expect("closed");
        assert!(rest[..end].contains(body), "{title}: {all}");
    }
    assert!(
        all.contains("::warning::gate `mypy` (advisory) failed"),
        "{all}"
    );
}
