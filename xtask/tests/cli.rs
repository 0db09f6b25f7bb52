//! The command line itself, through the built binary: version, help, examples, did-you-mean,
//! completions, closed pipes, and `--json` owning stdout.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// The binary outside any repository, with a clean environment for output.
fn xtask(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = hermetic(BIN, dir.path())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    run_output(out)
}

fn run_output(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every command `--help` lists.
const COMMANDS: &[&str] = &[
    "rehearse",
    "release",
    "bump-version",
    "check-versions",
    "publish-prod",
    "verify",
    "rollback",
    "history",
    "promote",
    "hotfix",
    "release-pr",
    "dev-release",
    "release-merged",
    "init",
    "adopt",
    "docker-validate",
    "changelog",
    "release-notes",
    "ci",
    "provision",
    "completions",
    "help",
];

/// stdout must be exactly one JSON document.
fn one_json_document(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", r.all()))
}

#[test]
fn version_prints_the_name_and_version() {
    let r = xtask(&["--version"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.stdout, format!("slipway {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(r.stderr, "");
}

#[test]
fn a_closed_stdout_never_panics() {
    // The reader goes away at once (as `| head -1` does once it has its line): writes then fail
    // with EPIPE, which must end the output quietly, never a panic (exit 101).
    for args in [
        &["--version"][..],
        &["--help"],
        &["help", "ci"],
        &["completions", "bash"],
    ] {
        for _ in 0..20 {
            let mut child = Command::new(BIN)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            drop(child.stdout.take());
            let out = child.wait_with_output().unwrap();
            assert_ne!(
                out.status.code(),
                Some(101),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{args:?}: {:?}", out.status);
            assert!(
                out.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // And as people write it: `… --version | head -1`, the binary's status reported on stderr.
    for _ in 0..20 {
        let out = Command::new("sh")
            .args([
                "-c",
                "{ \"$0\" --version; echo \"rc=$?\" >&2; } | head -1 >/dev/null",
                BIN,
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "rc=0\n");
    }
}

#[test]
fn help_command_prints_that_commands_help() {
    for c in ["bump-version", "release", "ci", "verify"] {
        let via_help = xtask(&["help", c]);
        let via_flag = xtask(&[c, "--help"]);
        assert_eq!(via_help.code, 0, "{}", via_help.all());
        assert_eq!(via_help.stdout, via_flag.stdout, "help {c} = {c} --help");
        assert!(
            via_help.stdout.contains(&format!("Usage: cargo xtask {c}")),
            "{}",
            via_help.stdout
        );
        assert_eq!(xtask(&[c, "-h"]).stdout, via_flag.stdout, "-h = --help");
    }
    let r = xtask(&["help"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, xtask(&["--help"]).stdout);
    let r = xtask(&["help", "relese"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("did you mean `release`?"), "{}", r.stderr);
}

#[test]
fn every_help_ends_with_two_to_four_examples() {
    let mut helps = vec![("(top level)".to_string(), xtask(&["--help"]))];
    for c in COMMANDS {
        helps.push((c.to_string(), xtask(&[c, "--help"])));
    }
    for (c, r) in helps {
        assert_eq!(r.code, 0, "{c}: {}", r.all());
        let (_, examples) = r
            .stdout
            .rsplit_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{c}: no Examples section:\n{}", r.stdout));
        let lines: Vec<&str> = examples.lines().collect();
        assert!(
            (2..=4).contains(&lines.len()),
            "{c}: {} examples:\n{examples}",
            lines.len()
        );
        for l in lines {
            assert!(
                l.starts_with("  ") && l.contains("cargo xtask") && l.contains(" # "),
                "{c}: not an example line: {l:?}"
            );
        }
    }
}

#[test]
fn top_level_help_lists_every_command() {
    let r = xtask(&["--help"]);
    for c in COMMANDS {
        assert!(
            r.stdout.contains(&format!("\n  {c} ")),
            "{c}:\n{}",
            r.stdout
        );
    }
    // The GitHub stand-in belongs to the rehearsal rig, not to the tool.
    assert!(!r.stdout.contains("github-standin"));
}

#[test]
fn ci_help_says_everything_ci_does() {
    let h = xtask(&["ci", "--help"]).stdout;
    for what in [
        "Debian packages",
        "private Docker daemon",
        "base images",
        "Python venvs",
        "cargo fmt",
        "clippy",
        "-D warnings",
        "every test",
        "REQUIRED",
        "zizmor",
        "workflows",
        "rehearsal",
        "Python unit tests",
        "opt-in",
        "SLIPWAY_ARM64=1",
    ] {
        assert!(h.contains(what), "ci --help lacks {what:?}:\n{h}");
    }
}

#[test]
fn did_you_mean_for_values_and_commands() {
    let r = xtask(&["bump-version", "minr"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("did you mean `minor`?"), "{}", r.stderr);
    assert!(
        r.stderr.contains("X.Y.Z, major, minor, patch, auto"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");

    let r = xtask(&["relase", "minor"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("unknown command `relase`; did you mean `release`?"),
        "{}",
        r.stderr
    );
    for c in COMMANDS {
        assert!(r.stderr.contains(c), "the list misses {c}: {}", r.stderr);
    }

    let r = xtask(&["bump-version", "minor", "--dry-rn"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("did you mean `--dry-run`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_argument_is_named() {
    for (args, want) in [
        (
            &["adopt"][..],
            "adopt needs <path> (see `cargo xtask adopt --help`)",
        ),
        (&["hotfix"][..], "hotfix needs <X.Y>"),
        (&["completions"][..], "completions needs <shell>"),
    ] {
        let r = xtask(args);
        assert_eq!(r.code, 2, "{}", r.all());
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn global_dir_is_accepted_anywhere() {
    let repo = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = repo.path().to_str().unwrap();
    for args in [
        &["-C", dir, "check-versions"][..],
        &["check-versions", "-C", dir],
        &["check-versions", "--json", "-C", dir],
    ] {
        let r = repo.run_in(elsewhere.path(), args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
    }
}

#[test]
fn completions_parse_in_each_shell() {
    for (shell, check) in [
        ("bash", &["-n"][..]),
        ("zsh", &["-n"]),
        ("fish", &["--no-execute"]),
    ] {
        let r = xtask(&["completions", shell]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(r.stdout.contains("xtask"), "{shell}: {}", r.stdout);
        assert!(r.stdout.contains("bump-version"), "{shell}");
        let Some(program) = which(shell) else {
            // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
            let _ = std::io::stderr().write_all(
                format!("SKIPPED: {shell} is not installed: its completion script was generated but not parsed\n")
                    .as_bytes(),
            );
            continue;
        };
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().write_all(r.stdout.as_bytes()).unwrap();
        let out = Command::new(&program)
            .args(check)
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} {check:?} rejects the script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r = xtask(&["completions", "bash", "--bin-name", "slipway"]);
    assert!(r.stdout.contains("complete -F _slipway"), "{}", r.stdout);
    let r = xtask(&["completions", "bsh"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `bash`?"), "{}", r.stderr);
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[test]
fn json_failures_are_one_document_with_the_problems() {
    // A usage error.
    let r = xtask(&["check-versions", "--json", "--bogus"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let doc = one_json_document(&r);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("unexpected argument `--bogus`"),
        "{doc}"
    );
    assert_eq!(doc["problems"].as_array().unwrap().len(), 1, "{doc}");

    // Not in a repository.
    let r = xtask(&["check-versions", "--json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let doc = one_json_document(&r);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("not inside a git repository"),
        "{doc}"
    );

    // A refusal with several problems, each with its place when it has one.
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", "[project\nversion = \"1.2.3\"\n"),
        ("docker-compose.yml", "services:\n  app: [unclosed\n"),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let r = repo.run(&["bump-version", "minor", "--json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let doc = one_json_document(&r);
    assert!(doc["error"].as_str().unwrap().contains("refused"), "{doc}");
    let problems = doc["problems"].as_array().unwrap();
    assert!(problems.len() >= 2, "{doc}");
    let py = problems
        .iter()
        .find(|p| {
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("pyproject.toml: ")
        })
        .expect("the pyproject problem");
    assert_eq!(py["file"], "pyproject.toml", "{doc}");
    assert_eq!(py["line"], 1, "{doc}");
    // Human lines are still on stderr.
    assert!(
        r.stderr.contains("pyproject.toml: invalid TOML"),
        "{}",
        r.stderr
    );

    // Success: one document, no error.
    let repo = fixture();
    let r = repo.run(&["bump-version", "minor", "--dry-run", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let doc = one_json_document(&r);
    assert_eq!(doc["new"], "1.3.0", "{doc}");
    assert!(doc.get("error").is_none(), "{doc}");
}

#[test]
fn github_actions_annotations_carry_the_place() {
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", "[project\nversion = \"1.2.3\"\n"),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let out = hermetic(BIN, repo.path())
        .args(["bump-version", "minor", "--json"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let r = run_output(out);
    assert_eq!(r.code, 2, "{}", r.all());
    one_json_document(&r);
    assert!(
        r.stderr
            .contains("::error file=pyproject.toml,line=1::pyproject.toml: invalid TOML"),
        "{}",
        r.stderr
    );

    // Drift: an annotation on the line that differs.
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", PYPROJECT),
        (
            "docker-compose.yml",
            &COMPOSE.replace("app:v1.2.3", "app:v1.2.2"),
        ),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let out = hermetic(BIN, repo.path())
        .args(["check-versions"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let r = run_output(out);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("::error file=docker-compose.yml,line=3::")
            && r.stderr.contains("ghcr.io/acme/app:v1.2.2"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("::"), "{}", r.stdout);

    // The same drift as a JSON document: the command's own fields plus error and problems.
    let r = repo.run(&["check-versions", "--json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let doc = one_json_document(&r);
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(
        doc["error"], "the managed files disagree on the version",
        "{doc}"
    );
    assert_eq!(doc["problems"][0]["file"], "docker-compose.yml", "{doc}");
    assert_eq!(doc["problems"][0]["line"], 3, "{doc}");
}

#[test]
fn workflow_commands_never_reach_stdout_under_json() {
    // Secrets from the environment are registered (and masked with `::add-mask::`) while a
    // publish is planned; with --json stdout must still be exactly the one document. Every
    // address is on loopback, port 9 (nothing listens: reads fail fast, nothing leaves).
    let repo = payload_repo(
        "0.1.0",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.python]\nrepository-url = \"http://127.0.0.1:9/legacy/\"\n\
         index-url = \"http://127.0.0.1:9/simple/\"\n",
    );
    let out = hermetic(BIN, repo.path())
        .args(["publish-prod", "--dry-run", "--json", "--skip-ci-check"])
        .env("GITHUB_ACTIONS", "true")
        .env("PYPI_TOKEN", "pypi-SECRET-123456")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    let r = run_output(out);
    assert!(
        r.stderr.contains("::add-mask::pypi-SECRET-123456"),
        "the secret was not registered: {}",
        r.all()
    );
    assert!(
        !r.stdout.contains("::"),
        "workflow command on stdout:\n{}",
        r.stdout
    );
    assert!(!r.stdout.contains("SECRET"), "{}", r.stdout);
    one_json_document(&r);
}
