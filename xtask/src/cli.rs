//! Command-line parsing (lexopt: no macros, no compile-time cost) and dispatch.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use lexopt::prelude::*;

use crate::cmd;
use crate::run::ui::Ui;
use crate::usage;

const HELP: &str = "\
slipway — one-command releases for a Python package and its Docker image

USAGE:
    cargo xtask [-C <dir>] <command> [options]

COMMANDS:
    rehearse                                 the whole release, for real, against local services
    release <major|minor|patch|auto|X.Y.Z>   bump, generated changelog, commit, tag, atomic push
    bump-version <X.Y.Z|major|minor|patch|auto>  set the version in every managed file, commit and tag
    check-versions                           check that every managed file carries the same version
    publish-prod                             publish the release tagged at HEAD: image, dists, GitHub release
    verify [<version>]                       check a published version everywhere it was published
    docker-validate                          build the image from the release's wheel and prove it healthy
    changelog                                the changelog generated from Conventional Commits
    release-notes [<version>]                the notes of one version, from its CHANGELOG section
    ci                                       provision, format check, clippy -D warnings, all tests
    provision                                install/start what the end-to-end tests need (idempotent)

GLOBAL OPTIONS:
    -C <dir>       run as if started in <dir> (the repository is its git top level)
    -h, --help     this help (also `cargo xtask <command> --help`)

Exit codes: 0 success, 1 refused or failed, 2 invalid input. Nothing is changed when a command
refuses. Set NO_COLOR to disable colour.";

const BUMP_HELP: &str = "\
cargo xtask bump-version <X.Y.Z | major | minor | patch | auto> [options]

Sets the release version in pyproject.toml, the project's own image tags in the compose files and
the CHANGELOG ([Unreleased] becomes the new section), then commits exactly those files and creates
an annotated tag.

OPTIONS:
    --pre <label>   make a pre-release: dev, alpha, beta or rc (1.2.3 minor --pre rc → 1.3.0-rc.1;
                    again → 1.3.0-rc.2; `minor` alone then finishes it → 1.3.0)
    --dry-run       print the plan (a diff per file and every git command) and change nothing
    --no-commit     edit the files only (implies --no-tag)
    --no-tag        commit but do not tag
    --force         proceed although the managed files disagree on the current version
    --generate-changelog
                    add entries generated from Conventional Commits since the last release to
                    the changelog (implied by `auto`, which also picks the level from them:
                    breaking → major (minor while 0.x), feat → minor, fix/perf → patch)
    --json          print the plan / result as JSON on stdout";

const RELEASE_HELP: &str = "\
cargo xtask release <major | minor | patch | auto | X.Y.Z> [--pre <label>] [--dry-run] [--no-push]

Cuts a release: preflight (on `branch`, clean, not behind the remote, tag absent locally and on
the remote), bump-version with changelog entries generated from Conventional Commits since the
last release, commit, annotated tag, then `git push --atomic <remote> <branch> <tag>`, so branch
and tag land together or not at all. If the push is rejected, the tag and the commit are undone
and the files restored: the repository is as before. `auto` picks the level from the commits.

OPTIONS:
    --pre <label>   pre-release: dev, alpha, beta or rc
    --dry-run       print the diff and every command; change nothing
    --no-push       stop after the tag (like bump-version with generated entries)
    --force         proceed although the managed files disagree on the current version
    --json          print the plan / result as JSON";

const CHANGELOG_HELP: &str = "\
cargo xtask changelog [--from <ref>] [--to <ref>] [--all] [--format md|json|html] [-o FILE]

Prints the changelog generated from Conventional Commits: by default the commits since the last
release tag (or the release `--to` names); `--from` sets the start; `--all` gives every release
tag in history. feat → Added, fix → Fixed, perf/refactor/revert → Changed, breaking → Breaking
changes (first), non-conventional → Other (key `changelog-other`).";

const NOTES_HELP: &str = "\
cargo xtask release-notes [<version>] [--template default|minimal|detailed|breaking|<file>]

Renders the notes of one version (default: the release tag at HEAD, else the newest CHANGELOG
version) from its CHANGELOG section. A template file uses {{variable}} placeholders and
{{#variable}}…{{/variable}} blocks shown only when the variable is not empty.";

const PUBLISH_HELP: &str = "\
cargo xtask publish-prod [--dry-run] [--only docker|pypi|github]... [--skip-ci-check] [--json] [--notify]

Publishes the version tagged at HEAD: builds every artifact once, publishes least reversible last
(docker registries, the package index, the GitHub release), then verifies everything. Every
publish step reads the real state first and skips what is already there, so a re-run after any
failure completes what is missing. Credentials come from the environment only: PYPI_TOKEN (or
TWINE_USERNAME/TWINE_PASSWORD), DOCKER_USERNAME/DOCKER_PASSWORD, GH_TOKEN/GITHUB_TOKEN.

OPTIONS:
    --dry-run         run every read and check, print the full plan, change nothing
    --only <target>   publish only these targets (repeat, or docker,pypi)
    --skip-ci-check   emergency: do not require the release workflow to have passed for the tag
    --json            print the report as JSON on stdout
    --notify          also send the webhooks on success";

const DOCKER_VALIDATE_HELP: &str = "\
cargo xtask docker-validate [--version V] [--platform P] [--dry-run]

Builds the wheel (once per commit) and the image from it, once per platform (`docker build
--network none`; a base named by the build-args must be in the engine, the Dockerfile's own
default base is pulled visibly when absent), runs it in a container
with no network (`docker run --rm --init --network none --pull=never`), waits until its
HEALTHCHECK says healthy within health.timeout-s (or, without one, until the health path answers
200), then requires GET <health.path> = {\"status\": \"healthy\"} and GET /version = the PEP 440
version, probing from inside the container. The container is always removed, also on failure,
timeout or Ctrl-C. Exit 0 only when healthy. Configured in [workspace.metadata.release.docker].

OPTIONS:
    --version V     the version to validate (default: the release tag at HEAD, else pyproject's)
    --platform P    validate this platform only (default: every configured platform)
    --dry-run       print the plan; build and run nothing";

const PROVISION_HELP: &str = "\
cargo xtask provision [--dry-run]

Installs and starts what the end-to-end tests and `rehearse` need: Debian packages (docker.io,
docker-registry, gh, mmdebstrap…), a Docker daemon on a private socket with no bridge network,
the local base image (built once, cached with docker save), the Python venvs. Idempotent: every
step says whether it acted or skipped.";

const REHEARSE_HELP: &str = "\
cargo xtask rehearse [--keep] [--version <X.Y.Z|major|minor|patch|auto>]

The whole release, for real, against local services: in a throwaway clone (your work tree is
never touched) with a bare git remote, two local container registries (one with auth), a local
package index and the local GitHub stand-in, it runs `release`, `docker-validate`,
`publish-prod` and `verify` exactly as production would, then prints what was published where
and how long each stage took, and tears everything down (`--keep` leaves it running).
Prerequisites are provisioned as `cargo xtask ci` does. --version defaults to patch.";

const VERIFY_HELP: &str = "\
cargo xtask verify [<version>]

Checks a published version (default: the release tagged at HEAD) against the configured targets:
every tag and digest on every registry, the index's files by sha256 plus an install smoke test,
the GitHub release and its assets. Exit 0 only when everything is there and consistent.";

const CHECK_HELP: &str = "\
cargo xtask check-versions [--json]

Exit 0 when pyproject.toml, the own image tags in the compose files and the newest CHANGELOG
version heading agree (and equal the release tag at HEAD when HEAD is tagged); otherwise exit 1
and print a table of file:line, location and value.";

const CI_HELP: &str = "\
cargo xtask ci [--dry-run]

What CI runs: cargo fmt --check, cargo clippy -D warnings, and every test.";

/// Options shared by every command.
pub struct Global {
    pub dir: PathBuf,
}

pub fn run(args: Vec<OsString>, ui: &Ui) -> Result<u8> {
    let mut p = lexopt::Parser::from_args(args);
    let mut dir: Option<PathBuf> = None;
    let mut command: Option<String> = None;
    let mut rest: Vec<OsString> = Vec::new();
    // Split: global options and the command name; everything after the command goes to it
    // (except -C, accepted anywhere).
    while let Some(arg) = p.next()? {
        match arg {
            Short('C') => dir = Some(p.value()?.into()),
            Short('h') | Long("help") if command.is_none() => {
                println!("{HELP}");
                return Ok(0);
            }
            Value(v) if command.is_none() => command = Some(v.string()?),
            Value(v) => rest.push(v),
            Short(c) => rest.push(format!("-{c}").into()),
            Long(l) => {
                let l = format!("--{l}");
                match p.optional_value() {
                    Some(v) => rest.push(format!("{l}={}", v.to_string_lossy()).into()),
                    None => rest.push(l.into()),
                }
            }
        }
    }
    let dir = match dir {
        Some(d) => d,
        None => std::env::current_dir()?,
    };
    let global = Global { dir };
    let Some(command) = command else {
        println!("{HELP}");
        return Err(usage("no command given; see the list above"));
    };
    let mut p = lexopt::Parser::from_args(rest);
    match command.as_str() {
        "bump-version" => {
            let mut o = cmd::bump::Options::default();
            let mut spec: Option<String> = None;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("pre") => o.pre = Some(p.value()?.string()?),
                    Long("dry-run") => o.dry_run = true,
                    Long("no-commit") => o.no_commit = true,
                    Long("no-tag") => o.no_tag = true,
                    Long("force") => o.force = true,
                    Long("json") => o.json = true,
                    Long("generate-changelog") => o.generate = true,
                    Short('h') | Long("help") => return help(BUMP_HELP),
                    Value(v) if spec.is_none() => spec = Some(v.string()?),
                    other => return Err(unexpected(other, "bump-version")),
                }
            }
            o.spec = spec.ok_or_else(|| {
                usage("bump-version needs the new version: X.Y.Z, major, minor or patch (e.g. `cargo xtask bump-version minor`)")
            })?;
            cmd::bump::run(&global, &o, ui)
        }
        "release" => {
            let mut o = cmd::bump::Options { generate: true, ..Default::default() };
            let mut spec: Option<String> = None;
            let mut push = true;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("pre") => o.pre = Some(p.value()?.string()?),
                    Long("dry-run") => o.dry_run = true,
                    Long("no-push") => push = false,
                    Long("force") => o.force = true,
                    Long("json") => o.json = true,
                    Short('h') | Long("help") => return help(RELEASE_HELP),
                    Value(v) if spec.is_none() => spec = Some(v.string()?),
                    other => return Err(unexpected(other, "release")),
                }
            }
            o.spec = spec.ok_or_else(|| {
                usage("release needs the version: major, minor, patch, auto or X.Y.Z (e.g. `cargo xtask release auto`)")
            })?;
            let root = crate::facts::git::toplevel(&global.dir)?;
            if push {
                let remote = crate::facts::config::load(&root).map(|c| c.remote).unwrap_or_else(|_| "origin".into());
                o.push = Some(remote);
            }
            cmd::bump::run(&global, &o, ui)
        }
        "publish-prod" => {
            let mut o = cmd::publish::Options::default();
            while let Some(arg) = p.next()? {
                match arg {
                    Long("dry-run") => o.dry_run = true,
                    Long("only") => {
                        for t in p.value()?.string()?.split(',') {
                            o.only.push(cmd::publish::Target::parse(t.trim())?);
                        }
                    }
                    Long("skip-ci-check") => o.skip_ci_check = true,
                    Long("json") => o.json = true,
                    Long("notify") => o.notify = true,
                    Short('h') | Long("help") => return help(PUBLISH_HELP),
                    other => return Err(unexpected(other, "publish-prod")),
                }
            }
            cmd::publish::run(&global, &o, ui)
        }
        "docker-validate" => {
            let mut o = cmd::docker_validate::Options::default();
            while let Some(arg) = p.next()? {
                match arg {
                    Long("version") => o.version = Some(p.value()?.string()?),
                    Long("platform") => o.platform = Some(p.value()?.string()?),
                    Long("dry-run") => o.dry_run = true,
                    Short('h') | Long("help") => return help(DOCKER_VALIDATE_HELP),
                    other => return Err(unexpected(other, "docker-validate")),
                }
            }
            cmd::docker_validate::run(&global, &o, ui)
        }
        "changelog" => {
            let mut o = cmd::changelog::Options::default();
            while let Some(arg) = p.next()? {
                match arg {
                    Long("from") => o.from = Some(p.value()?.string()?),
                    Long("to") => o.to = Some(p.value()?.string()?),
                    Long("all") => o.all = true,
                    Long("format") => o.format = Some(p.value()?.string()?),
                    Short('o') | Long("output") => o.output = Some(p.value()?.string()?),
                    Short('h') | Long("help") => return help(CHANGELOG_HELP),
                    other => return Err(unexpected(other, "changelog")),
                }
            }
            cmd::changelog::run(&global, &o, ui)
        }
        "release-notes" => {
            let mut version: Option<String> = None;
            let mut template: Option<String> = None;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("template") => template = Some(p.value()?.string()?),
                    Short('h') | Long("help") => return help(NOTES_HELP),
                    Value(v) if version.is_none() => version = Some(v.string()?),
                    other => return Err(unexpected(other, "release-notes")),
                }
            }
            cmd::release_notes::run(&global, version.as_deref(), template.as_deref(), ui)
        }
        "check-versions" => {
            let mut json = false;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("json") => json = true,
                    Short('h') | Long("help") => return help(CHECK_HELP),
                    other => return Err(unexpected(other, "check-versions")),
                }
            }
            cmd::check_versions::run(&global, json, ui)
        }
        "ci" => {
            let mut dry_run = false;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("dry-run") => dry_run = true,
                    Short('h') | Long("help") => return help(CI_HELP),
                    other => return Err(unexpected(other, "ci")),
                }
            }
            cmd::ci::run(&global, dry_run, ui)
        }
        "provision" => {
            let mut dry_run = false;
            while let Some(arg) = p.next()? {
                match arg {
                    Long("dry-run") => dry_run = true,
                    Short('h') | Long("help") => return help(PROVISION_HELP),
                    other => return Err(unexpected(other, "provision")),
                }
            }
            cmd::ci::provision(&global, dry_run, ui)
        }
        "rehearse" => {
            let mut o = cmd::rehearse::Options { keep: false, version: "patch".into() };
            while let Some(arg) = p.next()? {
                match arg {
                    Long("keep") => o.keep = true,
                    Long("version") => o.version = p.value()?.string()?,
                    Short('h') | Long("help") => return help(REHEARSE_HELP),
                    other => return Err(unexpected(other, "rehearse")),
                }
            }
            cmd::rehearse::run(&global, &o, ui)
        }
        "verify" => {
            let mut version: Option<String> = None;
            while let Some(arg) = p.next()? {
                match arg {
                    Short('h') | Long("help") => return help(VERIFY_HELP),
                    Value(v) if version.is_none() => version = Some(v.string()?),
                    other => return Err(unexpected(other, "verify")),
                }
            }
            cmd::verify::run(&global, version.as_deref(), ui)
        }
        "help" => {
            println!("{HELP}");
            Ok(0)
        }
        other => Err(usage(format!(
            "unknown command `{other}`; commands: release, bump-version, check-versions, publish-prod, docker-validate, changelog, release-notes, ci (see `cargo xtask --help`)"
        ))),
    }
}

fn help(text: &str) -> Result<u8> {
    println!("{text}");
    Ok(0)
}

fn unexpected(arg: lexopt::Arg<'_>, command: &str) -> anyhow::Error {
    let shown = match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => v.to_string_lossy().into_owned(),
    };
    usage(format!(
        "unexpected argument `{shown}` for {command}; see `cargo xtask {command} --help`"
    ))
}
