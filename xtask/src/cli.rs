//! The command line: every command declared once with clap's builder API (no proc macros), parsed
//! into plain values without any I/O, then dispatched to `cmd::*`.
//!
//! [`parse`] turns the arguments into an [`Invocation`]: text to print (help, version,
//! completions) or a command with its options. [`run`] carries it out. Usage errors become a
//! [`crate::Refusal`] with exit code 2 and one clear message (did-you-mean included).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::error::{ContextKind, ContextValue, ErrorKind};
// clap's command tree is `App` here: a `Command` in this crate is a child process (run::process).
use clap::{value_parser, Arg, ArgAction, ArgMatches, Command as App};

use crate::cmd::{self, bump::Push};
use crate::run::ui::Ui;
use crate::usage;

/// How the tool is started (shown in usage lines and examples).
pub const BIN: &str = "cargo xtask";

/// The values `bump-version`, `release` and `rehearse --version` take besides X.Y.Z.
const SPEC_WORDS: &[&str] = &["major", "minor", "patch", "auto"];
/// The pre-release labels `--pre` takes.
const PRE_LABELS: &[&str] = &["dev", "alpha", "beta", "rc"];
/// The shells `completions` writes a script for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Help, version or a completion script: printed to stdout as is, exit 0.
    Print(String),
    /// A command to run; `dir` is `-C <dir>` (None: the current directory).
    Run { dir: Option<PathBuf>, command: Cmd },
}

/// A command and its options, exactly as given (nothing read from disk yet).
#[derive(Debug)]
pub enum Cmd {
    /// `bump-version` and `release` (which pushes).
    Bump(cmd::bump::Options),
    CheckVersions {
        json: bool,
    },
    Publish(cmd::publish::Options),
    Verify {
        version: Option<String>,
        /// `--yanked`: check that the version is yanked on the index instead.
        yanked: bool,
        /// `--only <target>`: verify only these targets.
        only: Vec<cmd::publish::Target>,
    },
    Rollback(cmd::rollback::Options),
    History(cmd::history::Options),
    Promote(cmd::promote::Options),
    DockerValidate(cmd::docker_validate::Options),
    Changelog(cmd::changelog::Options),
    ReleaseNotes {
        version: Option<String>,
        template: Option<String>,
    },
    Ci {
        dry_run: bool,
    },
    Provision {
        dry_run: bool,
    },
    Rehearse {
        options: cmd::rehearse::Options,
        dry_run: bool,
    },
    Init(cmd::init::Options),
    Adopt(cmd::adopt::Options),
    Hotfix(cmd::hotfix::Options),
    ReleasePr(cmd::release_pr::Options),
    DevRelease(cmd::dev_release::Options),
    ReleaseMerged(cmd::release_merged::Options),
}

/// An "Examples:" section: 2–4 commands (`cargo xtask` is prepended unless the example names it,
/// e.g. after environment variables), each with what it does.
fn examples(list: &[(&str, &str)]) -> String {
    debug_assert!((2..=4).contains(&list.len()), "2–4 examples per command");
    let lines: Vec<String> = list
        .iter()
        .map(|(c, _)| {
            if c.contains(BIN) {
                c.to_string()
            } else {
                format!("{BIN} {c}")
            }
        })
        .collect();
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = String::from("Examples:");
    for (line, (_, what)) in lines.iter().zip(list) {
        out.push_str(&format!("\n  {line:<width$}  # {what}"));
    }
    out
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn opt(name: &'static str, value: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name(value)
        .action(ArgAction::Set)
        .help(help)
}

/// `--skip-gate <name>` (repeatable) and `--skip-gates`: the quality gates' emergency overrides.
fn skip_gate_args() -> [Arg; 2] {
    [
        opt(
            "skip-gate",
            "name",
            "emergency: do not run this quality gate (repeat for more); loud, recorded in the\n\
             report and the release notes",
        )
        .action(ArgAction::Append),
        flag(
            "skip-gates",
            "emergency: run no quality gate (loud, recorded like --skip-gate)",
        ),
    ]
}

fn skips(m: &ArgMatches) -> crate::core::gates::Skips {
    crate::core::gates::Skips {
        all: m.get_flag("skip-gates"),
        names: strings(m, "skip-gate"),
    }
}

fn json_flag(what: &'static str) -> Arg {
    flag("json", what)
}

fn pre_arg() -> Arg {
    opt(
        "pre",
        "label",
        "a pre-release: dev, alpha, beta or rc (1.2.3 minor --pre rc → 1.3.0-rc.1;\n\
         again → 1.3.0-rc.2; then `minor` alone → 1.3.0)",
    )
}

fn spec_arg(help: &'static str) -> Arg {
    Arg::new("spec")
        .value_name("X.Y.Z|major|minor|patch|auto")
        .help(help)
}

const RELEASE_ABOUT: &str = "\
Cuts a release from the current branch: preflight (a branch `branches` matches, clean, not behind the remote, tag absent locally and
on the remote), bump-version with changelog entries generated from Conventional Commits since
the last release, commit, annotated tag, then `git push --atomic <remote> <branch> <tag>`, so
branch and tag land together or not at all. If the push is rejected, the tag and the commit are
undone and the files restored: the repository is as before. `auto` picks the level from the
commits: breaking → major (minor while 0.x), feat → minor, fix/perf → patch. The remote is
`remote` in [workspace.metadata.release] (default origin). On a maintenance branch
`release/X.Y` (see `hotfix`) only X.Y.* versions are released.";

const BUMP_VERSION_ABOUT: &str = "\
Sets the release version in pyproject.toml, the project's own image tags in the compose files
and the CHANGELOG ([Unreleased] becomes the new section), then commits exactly those files and
creates an annotated tag. `auto` picks the level from the Conventional Commits since the last
release (breaking → major (minor while 0.x), feat → minor, fix/perf → patch) and implies
--generate-changelog.";

const HOTFIX_ABOUT: &str = "\
Switches to the maintenance branch `release/X.Y` of a released line: creates it from the newest
stable `<tag-prefix>X.Y.*` tag, or switches to it when it exists locally, or tracks
`<remote>/release/X.Y` when only the remote has it. Refuses (exit 2, nothing changed) a line
without a release (listing the lines that have one), uncommitted changes, and a `branches` key
that does not match `release/X.Y`. On that branch `release patch` cuts X.Y.(n+1), pushed with the
branch; minor and major releases stay on the main branch. Moving Docker tags (`latest`, `vX`) stay
on the newest line.";

const RELEASE_PR_ABOUT: &str = "\
Keeps one release pull request open (branch `slipway/release` into the main branch, title
`chore(release): X.Y.Z`, body = the changelog section) while Conventional Commits since the last
release tag are releasable: the branch is the main branch plus the commit `bump-version auto
--generate-changelog` makes (no tag). Nothing releasable: the open release PR is commented on and
closed, the branch deleted. A merged release PR whose version has no tag: its merge commit is
tagged and pushed, then `publish-prod` publishes it; a publish that failed is finished by the next
run. Every state is read from git and GitHub on each run, never from labels. Meant for CI after
every push to the main branch (`.github/workflows/release-pr.yml`).";

const DEV_RELEASE_ABOUT: &str = "\
The reviewed release, first half (what `.github/workflows/periodic_dev_image_release.yml` runs
weekly): bumps the version (the level given, else `[workspace.metadata.release.review] bump`,
default minor) with generated changelog entries, opens a GitHub issue, pushes the branch
`release/vX.Y.Z` (`branch-prefix`) with the release commit, opens a pull request (body: the
changelog section, how to test the dev image, its digest), asks the reviewer (a person, or a team
`org/team` as `team_reviewers`, whose members are assigned to the issue), builds and validates the
image and pushes it only as `dev-X.Y.Z` to `docker.staging-registry`, records its digest in the PR
body, and labels the PR (`automated-release`) last. Everything is checked before the first write;
every remote step reads first, so a re-run after a failure reuses the issue, branch, PR and image.";

const RELEASE_MERGED_ABOUT: &str = "\
The reviewed release, second half (what `.github/workflows/release_dev_image.yml` runs when a PR is
merged): refuses unless the PR is merged, carries the label, and `dev-X.Y.Z` in the staging
registry still holds the digest recorded in the PR (the digest reviewed is the digest released).
Then tags the merge commit (annotated, pushed), promotes that digest to the production registries
with the release tags (`promote --digest`, no rebuild), publishes the Python package and the GitHub
release (`publish-prod --only pypi,github`, the review as its gate), verifies, notifies, and closes
the issue with a comment linking the release. Every step reads first: a re-run finishes what is
missing.";

const CHECK_VERSIONS_ABOUT: &str = "\
Exit 0 when pyproject.toml, the own image tags in the compose files and the newest CHANGELOG
version heading agree (and equal the release tag at HEAD when HEAD is tagged); otherwise exit 1
and print a table of file:line, location and value.";

const PUBLISH_PROD_ABOUT: &str = "\
Publishes the version tagged at HEAD: builds every artifact once, publishes least reversible
last (docker registries, the package index, the GitHub release), then verifies everything.
Every publish step reads the real state first and skips what is already there, so a re-run
after any failure completes what is missing. Credentials come from the environment only:
PYPI_TOKEN (or TWINE_USERNAME/TWINE_PASSWORD), DOCKER_USERNAME/DOCKER_PASSWORD,
GH_TOKEN/GITHUB_TOKEN.";

const VERIFY_ABOUT: &str = "\
Checks a published version (default: the release tagged at HEAD) against the configured
targets: every tag and digest on every registry, the index's files by sha256 plus an install
smoke test, the GitHub release and its assets. Exit 0 only when everything is there and
consistent.";

const HISTORY_ABOUT: &str = "\
Lists every release in the ledger (the git notes `refs/notes/slipway` that publish-prod, promote,
rollback and verify append to on the release commit): stage durations, the slowest stage (the
bottleneck) and the change against the previous release, gate results, failures, rollbacks and
the rollback points (published, verified, not rolled back from). Reads the local notes; fetch
them first with --fetch, or `git fetch origin refs/notes/slipway:refs/notes/slipway`.";

const ROLLBACK_ABOUT: &str = "\
Rolls a bad release back to a good one everywhere it was published. Default: the newest stable
release (from the tags, the remote's included) back to the highest lower stable release of its
major line. On every registry, the bad release's moving tags (latest, vX, vX.Y) that still point
at its digest move to the good release's digest (its exact tag vX.Y.Z); exact and sha- tags are
never touched, a moving tag pointing elsewhere is left alone and reported. On GitHub the good
release becomes the latest and the bad one gets a banner on its notes (its assets stay). PyPI
cannot be yanked through its API: the page and the reason to paste are printed. Every step reads
first, so a re-run finishes what a failed run left. Report: target/slipway/rollback-<bad>.json.";
const PROMOTE_ABOUT: &str = "\
Copies a release's image, by digest, from the staging registry (`--from`, default
`staging-registry` in [workspace.metadata.release.docker]) to every production registry (`--to`,
default `registries`), then sets the release's tags there, as publish-prod computes them. The
source is `--digest`, else the tag dev-X.Y.Z, else vX.Y.Z. Blobs are mounted on the same
registry, else streamed registry to registry; an index's children, then the index, then the
tags: no docker build, no docker CLI. What is there is skipped; a release or sha- tag holding
another digest on any destination stops the run before anything is copied. Writes
target/slipway/promote-<version>.json.";

const DOCKER_VALIDATE_ABOUT: &str = "\
Builds the wheel (once per commit) and the image from it, once per platform (`docker build
--network none`; a base named by the build-args must be in the engine, the Dockerfile's own
default base is pulled visibly when absent), runs it in a container with no network (`docker
run --rm --init --network none --pull=never`), waits until its HEALTHCHECK says healthy within
health.timeout-s (or, without one, until the health path answers 200), then requires
GET <health.path> = {\"status\": \"healthy\"} and GET /version = the PEP 440 version, probing from
inside the container. The container is always removed, also on failure, timeout or Ctrl-C.
Exit 0 only when healthy. Configured in [workspace.metadata.release.docker].";

const CHANGELOG_ABOUT: &str = "\
Prints the changelog generated from Conventional Commits: by default the commits since the
last release tag (or the release `--to` names); `--from` sets the start; `--all` gives every
release tag in history. feat → Added, fix → Fixed, perf/refactor/revert → Changed, breaking →
Breaking changes (first), non-conventional → Other (key `changelog-other`).";

const RELEASE_NOTES_ABOUT: &str = "\
Renders the notes of one version (default: the release tag at HEAD, else the newest CHANGELOG
version) from its CHANGELOG section. A template file uses {{variable}} placeholders and
{{#variable}}…{{/variable}} blocks shown only when the variable is not empty.";

const CI_ABOUT: &str = "\
Everything CI runs, as one plan (`--dry-run` prints exactly it), stopping at the first failure:
  1. build the rehearsal rig (cargo build -p slipway-rig) and run `slipway-rig provision`
     (idempotent; each step says whether it acted or skipped): the Debian packages (docker.io,
     docker-registry, gh, mmdebstrap…), a private Docker daemon on its own socket with no
     bridge network, the local base images (built once, cached with docker save) and the
     Python venvs of the test tools;
  2. cargo fmt --all -- --check;
  3. cargo clippy --workspace --all-targets --locked -- -D warnings;
  4. cargo test --workspace: every test, with the services REQUIRED (a missing service fails
     its test instead of skipping it);
  5. zizmor (offline) on the workflows in .github/workflows/: no findings allowed;
  6. a full rehearsal (`cargo xtask rehearse`): the whole release against local services;
  7. the Python unit tests (python3 -m unittest discover -s tests).
Then, whatever happened, a Docker daemon its provisioning started is stopped. Inner cargo calls
get cargo's build variables cleared, so the next `cargo xtask` compiles nothing.
arm64 is opt-in: only with SLIPWAY_ARM64=1 does provisioning enable qemu-aarch64 (machine-wide
binfmt) and build the arm64 base image (about 2 minutes); the two-architecture test is then
required instead of skipped.";

const PROVISION_ABOUT: &str = "\
Builds the rehearsal rig (cargo build -p slipway-rig) and runs `slipway-rig provision`: installs
and starts what the end-to-end tests and `rehearse` need: Debian packages (docker.io,
docker-registry, gh, mmdebstrap…), a Docker daemon on a private socket with no bridge network,
the local base image (built once, cached with docker save), the Python venvs. Idempotent: every
step says whether it acted or skipped. The daemon is left running. SLIPWAY_ARM64=1 adds
qemu-aarch64 (machine-wide binfmt) and the arm64 base image.";

const REHEARSE_ABOUT: &str = "\
The whole release, for real, against local services: in a throwaway clone (your work tree is
never touched) with a bare git remote, two local container registries (one with auth), a local
package index and the local GitHub stand-in, it runs `release`, `docker-validate`,
`publish-prod` and `verify` exactly as production would, then prints what was published where
and how long each stage took, and tears everything down (`--keep` leaves it running).
`--scenario dev` rehearses the reviewed loop instead: `dev-release`, the PR it opened merged
through the GitHub stand-in, `release-merged` of that PR, `verify`. Prerequisites are
provisioned as `cargo xtask ci` does.";

const INIT_ABOUT: &str = "\
Writes a commented [workspace.metadata.release] into the top-level Cargo.toml from what the
repository shows: every pyproject.toml and where its version lives (static, a module, a file,
git tags), every compose file and which images are the project's own (built here, or named
like the package or the GitHub repository under its owner; the others are listed as left
alone, with the reason), the tag prefix of the existing tags, the changelog and its style (none:
changelog-style = \"none\"), and the extra version files it recognises (VERSION, .release,
server.json, package.json, .env.example version keys, Helm Chart.yaml / values.yaml,
__version__). Shows the change as a diff; every other byte of Cargo.toml stays. A repository
that has the table already is left alone, so running it twice changes nothing.";

const ADOPT_ABOUT: &str = "\
Run from a slipway checkout: copies the tool (xtask/ and the crates it is built from, without
slipway's own tests) and .cargo/config.toml (the `cargo xtask` alias) into the repository at
<path>, adds xtask to its top-level Cargo.toml workspace (created when absent; every other table
kept), and writes the `init` configuration there, all as one plan. Refuses, before writing
anything, a target with a different xtask crate or alias, or whose top-level Cargo.toml is a
package.";

const COMPLETIONS_ABOUT: &str = "\
Prints a completion script for the tool's binary (`xtask`, as cargo builds it; `--bin-name`
names another, e.g. a wrapper or an alias on PATH). Load it from your shell's startup file.";

/// A command's help: its full description (not the one-line `about` of the command list), then
/// usage, arguments, options and the examples. (No `long_about`: that would turn on clap's long
/// layout, every option on two lines.)
const SUB_TEMPLATE: &str = "{before-help}{usage-heading} {usage}\n\n{all-args}{after-help}";

/// The whole command tree: parsing, help, completions and the tests all read this one.
pub fn command() -> App {
    root().subcommands(COMMAND_NAMES.iter().filter_map(|n| subcommand(n)))
}

/// The top level: its options and help, no commands.
fn root() -> App {
    App::new("slipway")
        .bin_name(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .about("slipway — one-command releases for a Python package and its Docker image")
        .after_help(format!(
            "Exit codes: 0 success, 1 refused or failed, 2 invalid input. Nothing is changed when a\n\
             command refuses. Set NO_COLOR to disable colour. With --json, stdout carries exactly \
             one\nJSON document, also on failure: {{\"error\": \"…\", \"problems\": […]}}.\n\n{}",
            examples(&[
                ("release auto --dry-run", "what the next release would do"),
                ("release auto", "cut it: bump, changelog, commit, tag, push"),
                ("-C ../app check-versions", "check another checkout"),
                ("help release", "the help of one command"),
            ])
        ))
        .subcommand_value_name("command")
        .subcommand_help_heading("Commands")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .display_order(1000)
                .help("print this help (`help <command>`: a command's)"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("print the version: slipway X.Y.Z"),
        )
        .arg(
            Arg::new("dir")
                .short('C')
                .value_name("dir")
                .value_parser(value_parser!(PathBuf))
                .action(ArgAction::Set)
                .global(true)
                .display_order(999)
                .help("run as if started in <dir> (the repository is its git top level)"),
        )
}

/// Every command, in the order the command list shows them.
const COMMAND_NAMES: &[&str] = &[
    "rehearse",
    "release",
    "bump-version",
    "hotfix",
    "release-pr",
    "dev-release",
    "release-merged",
    "check-versions",
    "publish-prod",
    "verify",
    "rollback",
    "history",
    "promote",
    "docker-validate",
    "changelog",
    "release-notes",
    "ci",
    "provision",
    "init",
    "adopt",
    "completions",
    "help",
];

/// One command's definition.
fn subcommand(name: &str) -> Option<App> {
    Some(match name {
        "rehearse" => rehearse(),
        "release" => release(),
        "bump-version" => bump_version(),
        "hotfix" => hotfix(),
        "release-pr" => release_pr(),
        "dev-release" => dev_release(),
        "release-merged" => release_merged(),
        "check-versions" => check_versions(),
        "publish-prod" => publish_prod(),
        "verify" => verify(),
        "rollback" => rollback(),
        "history" => history(),
        "promote" => promote(),
        "docker-validate" => docker_validate(),
        "changelog" => changelog(),
        "release-notes" => release_notes(),
        "ci" => ci(),
        "provision" => provision(),
        "init" => init(),
        "adopt" => adopt(),
        "completions" => completions(),
        "help" => help(),
        _ => return None,
    })
}

/// The tree with only the command `args` names (its first word that is not `-C <dir>`), when
/// that is a command: parsing it is the same as parsing the whole tree, without building the
/// other commands' definitions (a fifth of `bump-version`'s instructions). `None`: the whole
/// tree is needed (no command, an unknown one, top-level help).
fn lean_command(args: &[OsString]) -> Option<App> {
    let mut it = args.iter().map(|a| a.to_str());
    let name = loop {
        match it.next()?? {
            "-C" => {
                it.next()?;
            }
            a if a.starts_with("-C") => {}
            a if a.starts_with('-') => return None,
            a => break a,
        }
    };
    if name == "help" || name == "completions" {
        return None;
    }
    Some(root().subcommand(subcommand(name)?))
}

fn help() -> App {
    App::new("help")
        .about("the help of a command, or this list")
        .arg(
            Arg::new("command")
                .value_name("command")
                .help("the command"),
        )
        .after_help(examples(&[
            ("help", "the list of commands"),
            ("help release", "everything about `release`"),
        ]))
}

fn release() -> App {
    App::new("release")
        .about("bump, generated changelog, commit, tag, atomic push")
        .before_help(RELEASE_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(spec_arg("the new version, or the level to bump"))
        .arg(pre_arg())
        .arg(flag(
            "dry-run",
            "print the diff and every command; change nothing",
        ))
        .arg(flag(
            "no-push",
            "stop after the tag (like bump-version with generated entries)",
        ))
        .arg(flag(
            "force",
            "proceed although the managed files disagree on the version",
        ))
        .arg(flag(
            "allow-placeholders",
            "tag a release whose changelog section only has the `_TODO_` placeholders",
        ))
        .args(skip_gate_args())
        .arg(json_flag("print the plan / result as JSON on stdout"))
        .after_help(examples(&[
            (
                "release auto --dry-run",
                "show the diff and every git command",
            ),
            (
                "release auto",
                "level from the commits since the last release",
            ),
            ("release minor --pre rc", "1.2.3 → 1.3.0-rc.1"),
            ("release 2.0.0 --no-push", "commit and tag; push by hand"),
        ]))
}

fn bump_version() -> App {
    App::new("bump-version")
        .about("set the version in every managed file, commit and tag")
        .before_help(BUMP_VERSION_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(spec_arg("the new version, or the level to bump"))
        .arg(pre_arg())
        .arg(flag(
            "dry-run",
            "print the plan (a diff per file, every git command); change nothing",
        ))
        .arg(flag("no-commit", "edit the files only (implies --no-tag)"))
        .arg(flag("no-tag", "commit but do not tag"))
        .arg(flag(
            "force",
            "proceed although the managed files disagree on the version",
        ))
        .arg(flag(
            "generate-changelog",
            "add entries generated from Conventional Commits since the last release\n\
             to the changelog (implied by `auto`)",
        ))
        .arg(flag(
            "allow-placeholders",
            "tag a release whose changelog section only has the `_TODO_` placeholders",
        ))
        .arg(flag(
            "abort",
            "undo an interrupted bump: restore the state recorded before it (no version needed)",
        ))
        .args(skip_gate_args())
        .arg(json_flag("print the plan / result as JSON on stdout"))
        .after_help(examples(&[
            (
                "bump-version minor --dry-run",
                "the diff per file, nothing changed",
            ),
            ("bump-version 1.4.0", "an exact version"),
            ("bump-version patch --no-tag", "commit without tagging"),
            ("bump-version --abort", "undo a bump that was interrupted"),
        ]))
}

fn check_versions() -> App {
    App::new("check-versions")
        .about("check that every managed file carries the same version")
        .before_help(CHECK_VERSIONS_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(json_flag("print the readings as JSON on stdout"))
        .after_help(examples(&[
            (
                "check-versions",
                "a table of every place a version is stated",
            ),
            ("check-versions --json", "the same, for scripts"),
        ]))
}

fn publish_prod() -> App {
    App::new("publish-prod")
        .about("publish the release tagged at HEAD: image, dists, GitHub release")
        .before_help(PUBLISH_PROD_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag(
            "dry-run",
            "run every read and check, print the full plan, change nothing",
        ))
        .arg(
            opt(
                "only",
                "target",
                "publish only these targets: docker, pypi, github (repeat, or docker,pypi)",
            )
            .action(ArgAction::Append)
            .value_delimiter(','),
        )
        .arg(flag(
            "skip-ci-check",
            "emergency: do not require the release workflow to have passed for the tag",
        ))
        .arg(
            opt(
                "reviewed",
                "what",
                "the tag is the merge of this reviewed PR (release-merged passes it): the review is the gate, no CI check",
            )
            .hide(true),
        )
        .args(skip_gate_args())
        .arg(json_flag("print the report as JSON on stdout"))
        .arg(flag("notify", "also send the webhooks on success"))
        .arg(flag(
            "no-deploy",
            "do not run the deploy command of [workspace.metadata.release.deploy] (shown as skipped)",
        ))
        .arg(
            opt(
                "from-digests",
                "FILE",
                "publish the image from these per-platform digest files (docker-validate --push-by-digest): no build",
            )
            .num_args(1..)
            .action(ArgAction::Append),
        )
        .after_help(examples(&[
            (
                "publish-prod --dry-run",
                "every read and check, the full plan",
            ),
            ("publish-prod", "publish what is missing, then verify"),
            (
                "publish-prod --only docker,pypi --json",
                "two targets, a JSON report",
            ),
            (
                "publish-prod --no-deploy",
                "publish and verify, without running the deploy command",
            ),
        ]))
}

fn verify() -> App {
    App::new("verify")
        .about("check a published version everywhere it was published")
        .before_help(VERIFY_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("version")
                .value_name("version")
                .help("the version to check (default: the release tagged at HEAD)"),
        )
        .arg(flag(
            "yanked",
            "check instead that every file of the version is yanked on the package index (PEP 592/691)",
        ))
        .arg(
            opt(
                "only",
                "target",
                "verify only these targets: docker, pypi, github (repeat, or docker,pypi)",
            )
            .action(ArgAction::Append)
            .value_delimiter(','),
        )
        .after_help(examples(&[
            ("verify", "the release tagged at HEAD"),
            ("verify 1.3.0", "an earlier release"),
            ("verify 1.2.3 --yanked", "1.2.3 is yanked on the index, with its reason"),
        ]))
}

fn history() -> App {
    App::new("history")
        .about("every release from the ledger: stage times, bottleneck, changes, rollback points")
        .before_help(HISTORY_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(opt(
            "last",
            "N",
            "only the N newest releases (compared with the ones before all the same)",
        ))
        .arg(json_flag(
            "the history as JSON on stdout (same as --format json)",
        ))
        .arg(opt(
            "format",
            "format",
            "text (default), json, or html (a standalone page)",
        ))
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .value_name("file")
                .action(ArgAction::Set)
                .help("write it to <file> instead of stdout"),
        )
        .arg(flag(
            "fetch",
            "fetch origin's refs/notes/slipway first (merged when both sides have new records)",
        ))
        .after_help(examples(&[
            ("history", "every release, newest last"),
            ("history --last 5 --json", "the five newest, for scripts"),
            (
                "history --format html -o target/slipway/history.html",
                "a page to open in a browser",
            ),
            (
                "history --fetch",
                "origin's records first (a fresh clone or CI runner)",
            ),
        ]))
}

fn rollback() -> App {
    App::new("rollback")
        .about("roll a bad release back to the previous good one everywhere")
        .before_help(ROLLBACK_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("bad-version")
                .value_name("bad-version")
                .help("the release to roll back (default: the newest stable release)"),
        )
        .arg(opt(
            "to",
            "good-version",
            "the release to go back to (default: the stable one below it in its major line)",
        ))
        .arg(flag(
            "dry-run",
            "read the tags, print every request it would make, change nothing",
        ))
        .arg(json_flag(
            "print the rollback report (or the dry run's plan) as JSON",
        ))
        .after_help(examples(&[
            (
                "rollback --dry-run",
                "what rolling back the newest release would do",
            ),
            ("rollback", "the newest release back to the one before it"),
            (
                "rollback 1.3.0 --to 1.1.0",
                "a given release back to a given one",
            ),
            ("rollback --json", "the report as JSON on stdout"),
        ]))
}

fn promote() -> App {
    App::new("promote")
        .about("copy a validated image by digest from staging to the production registries")
        .before_help(PROMOTE_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("promote-version")
                .value_name("version")
                .help("the released version to promote (1.3.0 or v1.3.0; its git tag must exist)"),
        )
        .arg(opt(
            "from",
            "registry",
            "the source registry (default: `staging-registry` in the docker table)",
        ))
        .arg(
            opt(
                "to",
                "registry",
                "a destination registry (repeat, or a,b; default: `registries`)",
            )
            .action(ArgAction::Append)
            .value_delimiter(','),
        )
        .arg(opt(
            "digest",
            "sha256:…",
            "the image to promote (default: the tag dev-X.Y.Z, else vX.Y.Z, on the source)",
        ))
        .arg(flag(
            "dry-run",
            "read the source, print every request a real run makes, change nothing",
        ))
        .arg(json_flag(
            "print the plan (dry run) or the report as JSON on stdout",
        ))
        .after_help(examples(&[
            ("promote 1.3.0 --dry-run", "the requests, nothing copied"),
            ("promote 1.3.0", "staging → every production registry"),
            (
                "promote 1.3.0 --from 127.0.0.1:5000 --to ghcr.io --digest sha256:…",
                "one image, named by digest",
            ),
        ]))
}

fn docker_validate() -> App {
    App::new("docker-validate")
        .about("build the image from the release's wheel and prove it healthy")
        .before_help(DOCKER_VALIDATE_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("image-version")
                .long("version")
                .value_name("V")
                .action(ArgAction::Set)
                .help(
                    "the version to validate (default: the release tag at HEAD, else pyproject's)",
                ),
        )
        .arg(opt(
            "platform",
            "P",
            "validate this platform only (default: every configured platform)",
        ))
        .arg(flag("dry-run", "print the plan; build and run nothing"))
        .arg(flag(
            "push-by-digest",
            "after validating, push the image to the staging registry as <exact>-<arch> and write its digest file",
        ))
        .arg(flag(
            "push-dev",
            "after validating, push the image to the staging registry as dev-X.Y.Z only (what dev-release runs)",
        ))
        .arg(opt(
            "digest-file",
            "FILE",
            "where --push-by-digest writes the digest (default: target/slipway/digests/<arch>.json)",
        ))
        .arg(flag(
            "list-platforms",
            "print the configured platforms and their GitHub runners (with --json: a workflow matrix)",
        ))
        .arg(flag(
            "dist-only",
            "build the Python dists only (the wheel the image installs), no image",
        ))
        .arg(json_flag("with --list-platforms: a JSON matrix {\"include\": [...]}"))
        .after_help(examples(&[
            ("docker-validate", "every configured platform"),
            ("docker-validate --platform linux/arm64", "one platform"),
            (
                "docker-validate --platform linux/amd64 --push-by-digest",
                "validate, push to staging by digest, write target/slipway/digests/amd64.json",
            ),
            ("docker-validate --dry-run", "the plan only"),
        ]))
}

fn changelog() -> App {
    App::new("changelog")
        .about("the changelog generated from Conventional Commits")
        .before_help(CHANGELOG_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(opt(
            "from",
            "ref",
            "start after this ref (default: the last release tag)",
        ))
        .arg(opt("to", "ref", "end at this ref (default: HEAD)"))
        .arg(flag("all", "every release tag in history"))
        .arg(opt(
            "format",
            "md|json|html",
            "the output format (default md)",
        ))
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .value_name("FILE")
                .action(ArgAction::Set)
                .help("write to FILE instead of stdout"),
        )
        .after_help(examples(&[
            ("changelog", "what the next release would add"),
            (
                "changelog --all --format html -o changes.html",
                "the whole history as HTML",
            ),
            (
                "changelog --from v1.2.0 --to v1.3.0",
                "one release's commits",
            ),
        ]))
}

fn release_notes() -> App {
    App::new("release-notes")
        .about("the notes of one version, from its CHANGELOG section")
        .before_help(RELEASE_NOTES_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("version").value_name("version").help(
                "the version (default: the release tag at HEAD, else the newest in CHANGELOG)",
            ),
        )
        .arg(opt(
            "template",
            "default|minimal|detailed|breaking|<file>",
            "a built-in template or a template file",
        ))
        .after_help(examples(&[
            ("release-notes", "the notes of the release at HEAD"),
            (
                "release-notes 1.3.0 --template minimal",
                "an older release, short",
            ),
            ("release-notes --template notes.tmpl", "your own template"),
        ]))
}

fn ci() -> App {
    App::new("ci")
        .about("everything CI runs: provision, fmt, clippy, all tests, zizmor, rehearsal")
        .before_help(CI_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag(
            "dry-run",
            "print every step of the provisioning and of the checks; run nothing",
        ))
        .after_help(examples(&[
            ("ci", "all of it, as CI does"),
            ("ci --dry-run", "the steps only"),
            (
                "SLIPWAY_ARM64=1 cargo xtask ci",
                "also prove arm64 under qemu",
            ),
        ]))
}

fn hotfix() -> App {
    App::new("hotfix")
        .about("switch to the maintenance branch release/X.Y of a released line")
        .before_help(HOTFIX_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("line")
                .value_name("X.Y")
                .required(true)
                .help("the released line to patch (1.2 → branch release/1.2)"),
        )
        .arg(flag("dry-run", "print the git steps; change nothing"))
        .arg(json_flag(
            "print the plan (--dry-run) or the result as JSON on stdout",
        ))
        .after_help(examples(&[
            (
                "hotfix 1.2 --dry-run",
                "the git steps that reach release/1.2",
            ),
            ("hotfix 1.2", "create or switch to release/1.2"),
            (
                "release patch",
                "then, on release/1.2: cut 1.2.(n+1) and push it",
            ),
        ]))
}

fn release_pr() -> App {
    App::new("release-pr")
        .about("open, update or close the release PR; tag and publish a merged one")
        .before_help(RELEASE_PR_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag(
            "dry-run",
            "read git and GitHub, print every step it may take; change nothing",
        ))
        .arg(
            opt(
                "only",
                "target",
                "publish a merged release to these targets only (passed to publish-prod; must include github)",
            )
            .action(ArgAction::Append)
            .value_delimiter(','),
        )
        .arg(flag(
            "skip-ci-check",
            "passed to publish-prod: do not require the release workflow to have passed for the tag",
        ))
        .arg(json_flag(
            "print the state seen, the decision and the steps as one JSON document",
        ))
        .after_help(examples(&[
            (
                "release-pr --dry-run",
                "what it would open, update, close, tag or publish",
            ),
            ("release-pr", "make the release PR what the commits say"),
            (
                "release-pr --dry-run --json",
                "the state seen, the decision, the steps",
            ),
        ]))
}

fn dev_release() -> App {
    App::new("dev-release")
        .about("bump, open the issue and the PR for review, push the dev image to staging")
        .before_help(DEV_RELEASE_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("level")
                .value_name("major|minor|patch")
                .action(ArgAction::Set)
                .help("the bump (default: [workspace.metadata.release.review] bump, else minor)"),
        )
        .arg(opt(
            "reviewer",
            "user|org/team",
            "ask this person, or this team (org/team), to review (default: review.reviewer / review.team)",
        ))
        .arg(opt(
            "assignee",
            "user",
            "assign the issue to this person (default: the members of the team reviewing)",
        ))
        .arg(opt(
            "label",
            "label",
            "the label whose merge releases (default: review.label, else automated-release)",
        ))
        .arg(flag(
            "dry-run",
            "check everything, print every step it may take; change nothing",
        ))
        .arg(json_flag(
            "print the version, the names and the steps as one JSON document",
        ))
        .after_help(examples(&[
            ("dev-release --dry-run", "what the weekly run would do"),
            (
                "dev-release minor --reviewer acme/release-team",
                "the next minor, reviewed by a team (its members assigned)",
            ),
            (
                "dev-release patch --reviewer octocat --assignee octocat",
                "a patch, one person reviewing",
            ),
            (
                "dev-release --json",
                "the same as JSON (the PR number for the next step)",
            ),
        ]))
}

fn release_merged() -> App {
    App::new("release-merged")
        .about("release the reviewed dev image of a merged PR: tag, promote, publish, notify")
        .before_help(RELEASE_MERGED_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("pr")
                .value_name("pr-number")
                .action(ArgAction::Set)
                .help("the merged pull request dev-release opened"),
        )
        .arg(flag(
            "dry-run",
            "check the PR and the digest, print every step; change nothing",
        ))
        .arg(json_flag(
            "print the PR seen and the steps as one JSON document",
        ))
        .after_help(examples(&[
            (
                "release-merged 42 --dry-run",
                "what merging PR #42 releases",
            ),
            ("release-merged 42", "tag, promote, publish, verify, notify"),
            ("release-merged 42 --dry-run --json", "the same as JSON"),
        ]))
}

fn provision() -> App {
    App::new("provision")
        .about("install/start what the end-to-end tests need (idempotent)")
        .before_help(PROVISION_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag("dry-run", "print the steps; run nothing"))
        .after_help(examples(&[
            ("provision", "install and start what is missing"),
            ("provision --dry-run", "the steps only"),
        ]))
}

fn rehearse() -> App {
    App::new("rehearse")
        .about("the whole release, for real, against local services")
        .before_help(REHEARSE_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag("keep", "leave the services and the clone running"))
        .arg(flag(
            "dry-run",
            "print the plan and its teardown; run nothing",
        ))
        .arg(json_flag(
            "with --dry-run: the plan and its teardown as JSON on stdout",
        ))
        .arg(
            Arg::new("rehearse-version")
                .long("version")
                .value_name("X.Y.Z|major|minor|patch|auto")
                .action(ArgAction::Set)
                .help("what `release` is given (default patch)"),
        )
        .arg(flag(
            "split",
            "as the release workflow: one docker-validate --push-by-digest per platform in parallel, then publish-prod --from-digests (default with 2+ platforms)",
        ))
        .arg(
            Arg::new("platform")
                .long("platform")
                .value_name("PLATFORM")
                .action(ArgAction::Append)
                .help("rehearse these platforms instead of `docker.platforms` (repeatable; linux/amd64, linux/arm64: a foreign one is provisioned with qemu)"),
        )
        .arg(opt(
            "scenario",
            "release|dev",
            "dev: the reviewed loop — dev-release (the configured bump), the PR merged through the GitHub stand-in, release-merged, verify",
        ))
        .after_help(examples(&[
            ("rehearse", "a patch release, rehearsed"),
            (
                "rehearse --platform linux/amd64 --platform linux/arm64",
                "two platforms: per-platform processes, then the publish from their digests",
            ),
            (
                "rehearse --scenario dev",
                "dev-release → merge → release-merged → verify",
            ),
            (
                "rehearse --dry-run",
                "every step it would run, and its teardown",
            ),
        ]))
}

fn init() -> App {
    App::new("init")
        .about("write the release configuration from what the repository shows")
        .before_help(INIT_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(flag(
            "dry-run",
            "show what it found and the diff of Cargo.toml; write nothing",
        ))
        .after_help(examples(&[
            ("init --dry-run", "what it found, and the table as a diff"),
            ("init", "write it; then check-versions"),
            ("-C ../app init", "configure another checkout"),
        ]))
}

fn adopt() -> App {
    App::new("adopt")
        .about("put slipway into another repository and configure it there")
        .before_help(ADOPT_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("path")
                .value_name("path")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help("the repository to adopt slipway (its git checkout)"),
        )
        .arg(flag(
            "dry-run",
            "show every file it would write; write nothing",
        ))
        .after_help(examples(&[
            ("adopt ../app --dry-run", "what it would copy and configure"),
            ("adopt ../app", "copy the tool and write the configuration"),
        ]))
}

fn completions() -> App {
    App::new("completions")
        .about("print a shell completion script (bash, zsh, fish)")
        .before_help(COMPLETIONS_ABOUT)
        .help_template(SUB_TEMPLATE)
        .arg(
            Arg::new("shell")
                .value_name("shell")
                .required(true)
                .help("bash, zsh or fish"),
        )
        .arg(opt(
            "bin-name",
            "name",
            "the command the script completes (default xtask)",
        ))
        .after_help(examples(&[
            (
                "completions bash > ~/.local/share/bash-completion/completions/xtask",
                "bash",
            ),
            (
                "completions zsh > ~/.zfunc/_xtask",
                "zsh (with ~/.zfunc in fpath)",
            ),
            (
                "completions fish > ~/.config/fish/completions/xtask.fish",
                "fish",
            ),
        ]))
}

/// Parses the arguments (without the program name). Pure: reads no file, no git, no config.
pub fn parse(args: Vec<OsString>) -> Result<Invocation> {
    let mut argv = vec![OsString::from(BIN)];
    argv.extend(args.iter().cloned());
    // The lean tree when the command is known; any error or help is parsed again with the
    // whole tree, so what is printed is the same either way.
    let lean = lean_command(&args).and_then(|mut lean| {
        let m = lean.try_get_matches_from_mut(argv.clone()).ok()?;
        Some((lean, m))
    });
    let (mut root, m) = match lean {
        Some(found) => found,
        None => {
            let mut root = command();
            match root.try_get_matches_from_mut(argv) {
                Ok(m) => (root, m),
                Err(e) => return clap_outcome(e, &root, &args),
            }
        }
    };
    let dir = m.get_one::<PathBuf>("dir").cloned();
    let Some((name, sub)) = m.subcommand() else {
        return Err(usage(format!(
            "no command given; commands: {}\n\n{}",
            command_names(&root).join(", "),
            root.render_help()
        )));
    };
    let command = match name {
        "bump-version" => Cmd::Bump(cmd::bump::Options {
            spec: if sub.get_flag("abort") && string(sub, "spec").is_none() {
                String::new()
            } else {
                spec(sub, "bump-version")?
            },
            abort: sub.get_flag("abort"),
            allow_placeholders: sub.get_flag("allow-placeholders"),
            skips: skips(sub),
            pre: pre(sub)?,
            dry_run: sub.get_flag("dry-run"),
            no_commit: sub.get_flag("no-commit"),
            no_tag: sub.get_flag("no-tag"),
            force: sub.get_flag("force"),
            json: sub.get_flag("json"),
            generate: sub.get_flag("generate-changelog"),
            push: Push::No,
        }),
        "release" => Cmd::Bump(cmd::bump::Options {
            spec: spec(sub, "release")?,
            pre: pre(sub)?,
            dry_run: sub.get_flag("dry-run"),
            force: sub.get_flag("force"),
            json: sub.get_flag("json"),
            generate: true,
            allow_placeholders: sub.get_flag("allow-placeholders"),
            skips: skips(sub),
            push: if sub.get_flag("no-push") {
                Push::No
            } else {
                Push::ConfiguredRemote
            },
            ..Default::default()
        }),
        "check-versions" => Cmd::CheckVersions {
            json: sub.get_flag("json"),
        },
        "publish-prod" => {
            let mut only = Vec::new();
            for t in strings(sub, "only") {
                let t = t.trim();
                choose(t, "--only <target>", &["docker", "pypi", "github"])?;
                only.push(cmd::publish::Target::parse(t)?);
            }
            let from_digests = strings(sub, "from-digests");
            if !from_digests.is_empty()
                && !only.is_empty()
                && !only.contains(&cmd::publish::Target::Docker)
            {
                return Err(usage(
                    "--from-digests publishes the image: add docker to --only, or leave --from-digests out",
                ));
            }
            Cmd::Publish(cmd::publish::Options {
                dry_run: sub.get_flag("dry-run"),
                only,
                skip_ci_check: sub.get_flag("skip-ci-check"),
                json: sub.get_flag("json"),
                notify: sub.get_flag("notify"),
                no_deploy: sub.get_flag("no-deploy"),
                skips: skips(sub),
                from_digests,
                reviewed: string(sub, "reviewed"),
            })
        }
        "verify" => {
            let mut only = Vec::new();
            for t in strings(sub, "only") {
                let t = t.trim();
                choose(t, "--only <target>", &["docker", "pypi", "github"])?;
                only.push(cmd::publish::Target::parse(t)?);
            }
            Cmd::Verify {
                version: string(sub, "version"),
                yanked: sub.get_flag("yanked"),
                only,
            }
        }
        "history" => {
            let last = match string(sub, "last") {
                Some(n) => Some(n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    usage(format!(
                        "invalid value `{n}` for --last: give a number of releases, 1 or more"
                    ))
                })?),
                None => None,
            };
            let format = match string(sub, "format") {
                Some(f) => {
                    let f = choose(&f, "--format", &cmd::history::Format::NAMES)?;
                    cmd::history::Format::parse(f).expect("listed")
                }
                None if sub.get_flag("json") => cmd::history::Format::Json,
                None => cmd::history::Format::Text,
            };
            if sub.get_flag("json") && format != cmd::history::Format::Json {
                return Err(usage("--json and --format other than json: pick one"));
            }
            Cmd::History(cmd::history::Options {
                last,
                format,
                output: string(sub, "output").map(PathBuf::from),
                fetch: sub.get_flag("fetch"),
            })
        }
        "rollback" => Cmd::Rollback(cmd::rollback::Options {
            bad: string(sub, "bad-version"),
            to: string(sub, "to"),
            dry_run: sub.get_flag("dry-run"),
            json: sub.get_flag("json"),
        }),
        "promote" => Cmd::Promote(cmd::promote::Options {
            version: string(sub, "promote-version").ok_or_else(|| {
                usage(format!(
                    "promote needs the released version to promote (e.g. `{BIN} promote 1.3.0`)"
                ))
            })?,
            from: string(sub, "from"),
            to: strings(sub, "to")
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            digest: string(sub, "digest"),
            dry_run: sub.get_flag("dry-run"),
            json: sub.get_flag("json"),
        }),
        "docker-validate" if sub.get_flag("push-dev") && sub.get_flag("push-by-digest") => {
            return Err(usage(
                "--push-dev pushes dev-X.Y.Z, --push-by-digest the per-architecture tag: pass one of them",
            ));
        }
        "docker-validate" => Cmd::DockerValidate(cmd::docker_validate::Options {
            version: string(sub, "image-version"),
            platform: string(sub, "platform"),
            dry_run: sub.get_flag("dry-run"),
            push_by_digest: sub.get_flag("push-by-digest"),
            digest_file: string(sub, "digest-file"),
            list_platforms: sub.get_flag("list-platforms"),
            dist_only: sub.get_flag("dist-only"),
            json: sub.get_flag("json"),
            push_dev: sub.get_flag("push-dev"),
        }),
        "changelog" => {
            let format = string(sub, "format");
            if let Some(f) = &format {
                choose(f, "--format", &["md", "json", "html"])?;
            }
            Cmd::Changelog(cmd::changelog::Options {
                from: string(sub, "from"),
                to: string(sub, "to"),
                all: sub.get_flag("all"),
                format,
                output: string(sub, "output"),
            })
        }
        "release-notes" => Cmd::ReleaseNotes {
            version: string(sub, "version"),
            template: string(sub, "template"),
        },
        "ci" => Cmd::Ci {
            dry_run: sub.get_flag("dry-run"),
        },
        "provision" => Cmd::Provision {
            dry_run: sub.get_flag("dry-run"),
        },
        "rehearse" => {
            let version = string(sub, "rehearse-version").unwrap_or_else(|| "patch".into());
            check_spec(&version, "rehearse --version")?;
            let scenario = string(sub, "scenario");
            if let Some(s) = &scenario {
                choose(s, "--scenario", &["release", "dev"])?;
            }
            let scenario = scenario.filter(|s| s == "dev");
            Cmd::Rehearse {
                options: cmd::rehearse::Options {
                    keep: sub.get_flag("keep"),
                    json: sub.get_flag("json"),
                    version,
                    split: sub.get_flag("split"),
                    platforms: sub
                        .get_many::<String>("platform")
                        .map(|v| v.cloned().collect())
                        .unwrap_or_default(),
                    scenario,
                },
                dry_run: sub.get_flag("dry-run"),
            }
        }
        "init" => Cmd::Init(cmd::init::Options {
            dry_run: sub.get_flag("dry-run"),
        }),
        "hotfix" => Cmd::Hotfix(cmd::hotfix::Options {
            line: string(sub, "line").unwrap_or_default(),
            dry_run: sub.get_flag("dry-run"),
            json: sub.get_flag("json"),
        }),
        "release-pr" => {
            let mut only = Vec::new();
            for t in strings(sub, "only") {
                let t = t.trim();
                choose(t, "--only <target>", &["docker", "pypi", "github"])?;
                only.push(cmd::publish::Target::parse(t)?);
            }
            Cmd::ReleasePr(cmd::release_pr::Options {
                dry_run: sub.get_flag("dry-run"),
                json: sub.get_flag("json"),
                only,
                skip_ci_check: sub.get_flag("skip-ci-check"),
            })
        }
        "dev-release" => {
            let level = string(sub, "level");
            if let Some(l) = &level {
                choose(l, "<major|minor|patch>", &["major", "minor", "patch"])?;
            }
            Cmd::DevRelease(cmd::dev_release::Options {
                level,
                reviewer: string(sub, "reviewer"),
                assignee: string(sub, "assignee"),
                label: string(sub, "label"),
                dry_run: sub.get_flag("dry-run"),
                json: sub.get_flag("json"),
            })
        }
        "release-merged" => {
            let pr = string(sub, "pr").ok_or_else(|| {
                usage(format!(
                    "release-merged needs the merged PR's number (e.g. `{BIN} release-merged 42`)"
                ))
            })?;
            let number = pr
                .trim_start_matches('#')
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    usage(format!("`{pr}` is not a pull request number: give e.g. 42"))
                })?;
            Cmd::ReleaseMerged(cmd::release_merged::Options {
                number,
                dry_run: sub.get_flag("dry-run"),
                json: sub.get_flag("json"),
            })
        }
        "adopt" => Cmd::Adopt(cmd::adopt::Options {
            path: sub.get_one::<PathBuf>("path").cloned().unwrap_or_default(),
            dry_run: sub.get_flag("dry-run"),
        }),
        "help" => {
            let name = string(sub, "command");
            if let Some(name) = &name {
                if root.find_subcommand(name).is_none() {
                    return Err(unknown_command(name, &root));
                }
            }
            // Exactly as `[<command>] --help` renders it.
            let mut argv = vec![BIN.to_string()];
            argv.extend(name);
            argv.push("--help".into());
            return match command().try_get_matches_from_mut(&argv) {
                Err(e) if e.kind() == ErrorKind::DisplayHelp => {
                    Ok(Invocation::Print(e.render().to_string()))
                }
                _ => unreachable!("`{argv:?}` displays help"),
            };
        }
        "completions" => {
            let shell = string(sub, "shell").unwrap_or_default();
            let shell = choose(&shell, "<shell>", SHELLS)?;
            let bin = string(sub, "bin-name").unwrap_or_else(|| "xtask".into());
            return Ok(Invocation::Print(completion_script(shell, &bin)));
        }
        other => unreachable!("command `{other}` is declared but not dispatched"),
    };
    Ok(Invocation::Run { dir, command })
}

/// Parses and runs the command line.
pub fn run(args: Vec<OsString>, ui: &Ui) -> Result<u8> {
    match parse(args)? {
        Invocation::Print(text) => {
            crate::run::ui::print_stdout(&text);
            Ok(0)
        }
        Invocation::Run { dir, command } => {
            let dir = match dir {
                Some(d) => d,
                None => std::env::current_dir()?,
            };
            dispatch(&cmd::Global { dir }, command, ui)
        }
    }
}

fn dispatch(global: &cmd::Global, command: Cmd, ui: &Ui) -> Result<u8> {
    match command {
        Cmd::Bump(o) => cmd::bump::run(global, &o, ui),
        Cmd::CheckVersions { json } => cmd::check_versions::run(global, json, ui),
        Cmd::Publish(o) => cmd::publish::run(global, &o, ui),
        Cmd::Verify {
            version,
            yanked,
            only,
        } => cmd::verify::run_with(
            global,
            &cmd::verify::Options {
                version,
                yanked,
                only,
            },
            ui,
        ),
        Cmd::Rollback(o) => cmd::rollback::run(global, &o, ui),
        Cmd::History(o) => cmd::history::run(global, &o, ui),
        Cmd::Promote(o) => cmd::promote::run(global, &o, ui),
        Cmd::DockerValidate(o) => cmd::docker_validate::run(global, &o, ui),
        Cmd::Changelog(o) => cmd::changelog::run(global, &o, ui),
        Cmd::ReleaseNotes { version, template } => {
            cmd::release_notes::run(global, version.as_deref(), template.as_deref(), ui)
        }
        Cmd::Ci { dry_run } => cmd::ci::run(global, dry_run, ui),
        Cmd::Provision { dry_run } => cmd::ci::provision(global, dry_run, ui),
        Cmd::Init(o) => cmd::init::run(global, &o, ui),
        Cmd::Adopt(o) => cmd::adopt::run(global, &o, ui),
        Cmd::Hotfix(o) => cmd::hotfix::run(global, &o, ui),
        Cmd::ReleasePr(o) => cmd::release_pr::run(global, &o, ui),
        Cmd::DevRelease(o) => cmd::dev_release::run(global, &o, ui),
        Cmd::ReleaseMerged(o) => cmd::release_merged::run(global, &o, ui),
        Cmd::Rehearse {
            options,
            dry_run: true,
        } => cmd::rehearse::dry_run(global, &options, ui),
        Cmd::Rehearse {
            options,
            dry_run: false,
        } => cmd::rehearse::run(global, &options, ui),
    }
}

fn string(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_one::<String>(id).cloned()
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

/// The version argument of `bump-version` / `release`: required, and a word must be one of
/// [`SPEC_WORDS`] (a version-like value is checked against the files later, with the others).
fn spec(m: &ArgMatches, command: &str) -> Result<String> {
    let Some(s) = string(m, "spec") else {
        return Err(usage(format!(
            "{command} needs the new version: X.Y.Z, major, minor, patch or auto (e.g. `{BIN} \
             {command} {}`)",
            if command == "release" {
                "auto"
            } else {
                "minor"
            }
        )));
    };
    check_spec(&s, command)?;
    Ok(s)
}

fn check_spec(s: &str, what: &str) -> Result<()> {
    if let Some(bare) = s
        .strip_prefix(['v', 'V'])
        .filter(|b| b.starts_with(|c: char| c.is_ascii_digit()))
    {
        // A tag name, not a version: taking it silently would hide which one was meant.
        return Err(usage(format!(
            "`{s}` for {what} is a tag name, not a version; give the version without the tag \
             prefix: `{BIN} {what} {bare}` (the tag is named from `tag-prefix`)"
        )));
    }
    let versionish = s.starts_with(|c: char| c.is_ascii_digit());
    if versionish || SPEC_WORDS.contains(&s) {
        return Ok(());
    }
    Err(usage(format!(
        "invalid version `{s}` for {what};{} valid values: X.Y.Z, {}",
        did_you_mean(s, SPEC_WORDS),
        SPEC_WORDS.join(", ")
    )))
}

fn pre(m: &ArgMatches) -> Result<Option<String>> {
    let Some(label) = string(m, "pre") else {
        return Ok(None);
    };
    if !PRE_LABELS.contains(&label.as_str()) {
        return Err(usage(format!(
            "invalid pre-release label `{label}` for --pre;{} allowed labels: {}",
            did_you_mean(&label, PRE_LABELS),
            PRE_LABELS.join(", ")
        )));
    }
    Ok(Some(label))
}

/// `value` when it is one of `valid`, else a usage error that suggests the nearest.
fn choose<'a>(value: &str, what: &str, valid: &[&'a str]) -> Result<&'a str> {
    match valid.iter().find(|v| **v == value) {
        Some(v) => Ok(v),
        None => Err(usage(format!(
            "invalid value `{value}` for {what};{} valid values: {}",
            did_you_mean(value, valid),
            valid.join(", ")
        ))),
    }
}

/// ` did you mean `x`?` for the nearest candidate if one is near enough, else `` (after a `;`).
fn did_you_mean(input: &str, candidates: &[&str]) -> String {
    nearest(input, candidates)
        .map(|c| format!(" did you mean `{c}`?"))
        .unwrap_or_default()
}

/// The candidate with the smallest edit distance, when that distance is small for its length.
pub fn nearest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(input, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3) && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The visible commands, in the order of `--help`.
pub fn command_names(root: &App) -> Vec<String> {
    root.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

fn unknown_command(given: &str, root: &App) -> anyhow::Error {
    let names = command_names(root);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    usage(format!(
        "unknown command `{given}`;{} commands: {} (see `{BIN} --help`)",
        did_you_mean(given, &refs),
        names.join(", ")
    ))
}

/// Turns clap's outcome into ours: help and version are text to print; every usage error is one
/// clear message with exit code 2.
fn clap_outcome(e: clap::Error, root: &App, args: &[OsString]) -> Result<Invocation> {
    let context = |kind: ContextKind| -> Option<String> {
        match e.get(kind)? {
            ContextValue::String(s) => Some(s.clone()),
            ContextValue::Strings(v) => Some(v.join(", ")),
            other => Some(other.to_string()),
        }
    };
    let subcommand = args
        .iter()
        .filter_map(|a| a.to_str())
        .find(|a| root.find_subcommand(a).is_some());
    let see = match subcommand {
        Some(c) => format!("(see `{BIN} {c} --help`)"),
        None => format!("(see `{BIN} --help`)"),
    };
    let msg = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            return Ok(Invocation::Print(e.render().to_string()));
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            format!("a command is missing\n\n{}", e.render())
        }
        ErrorKind::InvalidSubcommand => {
            let given = context(ContextKind::InvalidSubcommand).unwrap_or_default();
            return Err(unknown_command(&given, root));
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = context(ContextKind::InvalidArg).unwrap_or_default();
            let at = subcommand.map(|c| format!("{c} ")).unwrap_or_default();
            format!("{at}needs {missing} {see}")
        }
        ErrorKind::UnknownArgument => {
            let given = context(ContextKind::InvalidArg).unwrap_or_default();
            let suggestion = context(ContextKind::SuggestedArg)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let at = subcommand.map(|c| format!(" for {c}")).unwrap_or_default();
            format!("unexpected argument `{given}`{at}{suggestion} {see}")
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .replace('\'', "`");
            format!("{first} {see}")
        }
    };
    Err(usage(msg))
}

/// The completion script for `shell`, completing the command `bin`: written from the command
/// tree here (clap_complete cost seconds of every cold build for one command).
pub fn completion_script(shell: &str, bin: &str) -> String {
    let tree = Tree::of(&command());
    match shell {
        "bash" => tree.bash(bin),
        "zsh" => tree.zsh(bin),
        _ => tree.fish(bin),
    }
}

/// What completion needs from the command tree.
struct Tree {
    /// The top level's options (globals included).
    top: Vec<Opt>,
    /// (name, about, options incl. globals, positional values)
    subs: Vec<Sub>,
}

struct Sub {
    name: String,
    about: String,
    opts: Vec<Opt>,
    /// Words the positional arguments take, when the tree names them.
    words: Vec<String>,
}

struct Opt {
    short: Option<char>,
    long: Option<String>,
    help: String,
    takes_value: bool,
    /// The values it takes, when the tree names them.
    values: Vec<String>,
    /// `-C <dir>`: completes directories.
    dir: bool,
}

impl Opt {
    fn of(a: &Arg) -> Option<Opt> {
        if a.is_positional() || a.is_hide_set() {
            return None;
        }
        Some(Opt {
            short: a.get_short(),
            long: a.get_long().map(str::to_string),
            help: first_line(a.get_help().map(|h| h.to_string()).unwrap_or_default()),
            takes_value: a.get_action().takes_values(),
            values: a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect(),
            dir: a.get_id() == "dir",
        })
        .map(|mut o| {
            if o.values.is_empty() && o.long.as_deref() == Some("pre") {
                o.values = PRE_LABELS.iter().map(|w| w.to_string()).collect();
            }
            o
        })
    }

    fn spellings(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.short.map(|c| format!("-{c}")));
        out.extend(self.long.as_ref().map(|l| format!("--{l}")));
        out
    }
}

fn first_line(s: String) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

impl Tree {
    fn of(app: &App) -> Tree {
        let globals: Vec<&Arg> = app.get_arguments().filter(|a| a.is_global_set()).collect();
        let top = app.get_arguments().filter_map(Opt::of).collect();
        let subs = app
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| {
                let mut opts: Vec<Opt> = s.get_arguments().filter_map(Opt::of).collect();
                opts.extend(globals.iter().copied().filter_map(Opt::of));
                let mut words: Vec<String> = s
                    .get_arguments()
                    .filter(|a| a.is_positional())
                    .flat_map(|a| a.get_possible_values())
                    .map(|v| v.get_name().to_string())
                    .collect();
                match s.get_name() {
                    "completions" => words.extend(SHELLS.iter().map(|w| w.to_string())),
                    "bump-version" | "release" => {
                        words.extend(SPEC_WORDS.iter().map(|w| w.to_string()))
                    }
                    "help" => words.extend(app.get_subcommands().map(|c| c.get_name().to_string())),
                    _ => {}
                }
                Sub {
                    name: s.get_name().to_string(),
                    about: first_line(s.get_about().map(|h| h.to_string()).unwrap_or_default()),
                    opts,
                    words,
                }
            })
            .collect();
        Tree { top, subs }
    }

    fn bash(&self, bin: &str) -> String {
        let func = format!("_{}", ident(bin));
        let mut s = format!("# bash completion for {bin}\n{func}() {{\n");
        s.push_str(
            "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n",
        );
        s.push_str("    local cmd=\"\" i\n    for ((i = 1; i < COMP_CWORD; i++)); do\n");
        s.push_str("        case \"${COMP_WORDS[i]}\" in\n");
        let valued: Vec<String> = self
            .top
            .iter()
            .chain(self.subs.iter().flat_map(|s| &s.opts))
            .filter(|o| o.takes_value)
            .flat_map(Opt::spellings)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !valued.is_empty() {
            s.push_str(&format!("            {}) ((i++)) ;;\n", valued.join("|")));
        }
        s.push_str("            -*) ;;\n            *) cmd=\"${COMP_WORDS[i]}\"; break ;;\n");
        s.push_str("        esac\n    done\n    local words\n    case \"$cmd\" in\n");
        let mut top: Vec<String> = self.top.iter().flat_map(Opt::spellings).collect();
        top.extend(self.subs.iter().map(|s| s.name.clone()));
        s.push_str(&format!("        \"\") words=\"{}\" ;;\n", top.join(" ")));
        for sub in &self.subs {
            let mut w: Vec<String> = sub.opts.iter().flat_map(Opt::spellings).collect();
            w.extend(sub.words.iter().cloned());
            s.push_str(&format!(
                "        {}) words=\"{}\" ;;\n",
                sub.name,
                w.join(" ")
            ));
        }
        s.push_str("        *) words=\"\" ;;\n    esac\n    case \"$prev\" in\n");
        let mut seen = std::collections::BTreeSet::new();
        for o in self
            .top
            .iter()
            .chain(self.subs.iter().flat_map(|s| &s.opts))
        {
            if !o.takes_value {
                continue;
            }
            for sp in o.spellings() {
                if !seen.insert(sp.clone()) {
                    continue;
                }
                let reply = if o.dir {
                    "COMPREPLY=($(compgen -d -- \"$cur\"))".to_string()
                } else if o.values.is_empty() {
                    "COMPREPLY=($(compgen -f -- \"$cur\"))".to_string()
                } else {
                    format!(
                        "COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))",
                        o.values.join(" ")
                    )
                };
                s.push_str(&format!("        {sp}) {reply}; return 0 ;;\n"));
            }
        }
        s.push_str("    esac\n    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n");
        s.push_str(&format!(
            "complete -F {func} -o bashdefault -o default {bin}\n"
        ));
        s
    }

    fn zsh(&self, bin: &str) -> String {
        let func = format!("_{}", ident(bin));
        let spec = |o: &Opt| -> Vec<String> {
            let help = zsh_quote(&o.help);
            let action = if !o.takes_value {
                String::new()
            } else if o.dir {
                ":dir:_files -/".to_string()
            } else if o.values.is_empty() {
                ":value:_files".to_string()
            } else {
                format!(":value:({})", o.values.join(" "))
            };
            o.spellings()
                .into_iter()
                .map(|sp| {
                    let eq = if o.takes_value && sp.starts_with("--") {
                        "="
                    } else {
                        ""
                    };
                    format!("'{sp}{eq}[{help}]{action}'")
                })
                .collect()
        };
        let mut s = format!("#compdef {bin}\n\n{func}() {{\n    local context state state_descr line\n    typeset -A opt_args\n    local -a commands\n    commands=(\n");
        for sub in &self.subs {
            s.push_str(&format!(
                "        '{}:{}'\n",
                sub.name,
                zsh_quote(&sub.about)
            ));
        }
        s.push_str("    )\n    _arguments -C \\\n");
        for o in &self.top {
            for sp in spec(o) {
                s.push_str(&format!("        {sp} \\\n"));
            }
        }
        s.push_str("        '1: :->command' \\\n        '*:: :->args'\n");
        s.push_str("    case $state in\n        command) _describe -t commands 'command' commands ;;\n        args)\n            case $line[1] in\n");
        for sub in &self.subs {
            s.push_str(&format!(
                "                {})\n                    _arguments \\\n",
                sub.name
            ));
            for o in &sub.opts {
                for sp in spec(o) {
                    s.push_str(&format!("                        {sp} \\\n"));
                }
            }
            if sub.words.is_empty() {
                s.push_str("                        '*: :_default'\n");
            } else {
                s.push_str(&format!(
                    "                        '*: :({})'\n",
                    sub.words.join(" ")
                ));
            }
            s.push_str("                    ;;\n");
        }
        s.push_str("            esac\n            ;;\n    esac\n}\n\n");
        s.push_str(&format!(
            "if [ \"$funcstack[1]\" = \"{func}\" ]; then\n    {func} \"$@\"\nelse\n    compdef {func} {bin}\nfi\n"
        ));
        s
    }

    fn fish(&self, bin: &str) -> String {
        let mut s = format!("# fish completion for {bin}\ncomplete -c {bin} -f\n");
        let opt_line = |cond: &str, o: &Opt| -> String {
            let mut l = format!("complete -c {bin}");
            if !cond.is_empty() {
                l.push_str(&format!(" -n {}", fish_quote(cond)));
            }
            if let Some(c) = o.short {
                l.push_str(&format!(" -s {c}"));
            }
            if let Some(long) = &o.long {
                l.push_str(&format!(" -l {long}"));
            }
            if o.takes_value {
                l.push_str(" -r");
                if o.dir {
                    l.push_str(" -a '(__fish_complete_directories)'");
                } else if o.values.is_empty() {
                    l.push_str(" -F");
                } else {
                    l.push_str(&format!(" -a {}", fish_quote(&o.values.join(" "))));
                }
            }
            if !o.help.is_empty() {
                l.push_str(&format!(" -d {}", fish_quote(&o.help)));
            }
            l.push('\n');
            l
        };
        for o in &self.top {
            s.push_str(&opt_line("__fish_use_subcommand", o));
        }
        for sub in &self.subs {
            s.push_str(&format!(
                "complete -c {bin} -n __fish_use_subcommand -a {} -d {}\n",
                sub.name,
                fish_quote(&sub.about)
            ));
        }
        for sub in &self.subs {
            let cond = format!("__fish_seen_subcommand_from {}", sub.name);
            for o in &sub.opts {
                s.push_str(&opt_line(&cond, o));
            }
            if !sub.words.is_empty() {
                s.push_str(&format!(
                    "complete -c {bin} -n {} -a {}\n",
                    fish_quote(&cond),
                    fish_quote(&sub.words.join(" "))
                ));
            }
        }
        s
    }
}

/// A shell function name for `bin`.
fn ident(bin: &str) -> String {
    bin.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text for a single-quoted zsh `_arguments`/`_describe` spec: no quote, brackets or colons.
fn zsh_quote(s: &str) -> String {
    s.replace('\'', "'\\''")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(':', "\\:")
}

/// A fish single-quoted word.
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Invocation {
        parse(args.iter().map(OsString::from).collect()).unwrap()
    }

    fn parse_err(args: &[&str]) -> String {
        let e = parse(args.iter().map(OsString::from).collect()).unwrap_err();
        let r = e.downcast_ref::<crate::Refusal>().expect("a usage error");
        assert_eq!(r.code, crate::EXIT_INVALID);
        r.to_string()
    }

    #[test]
    fn the_tree_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn release_resolves_no_remote_while_parsing() {
        // No repository here, no config: parsing must not need one.
        match parse_ok(&["release", "minor", "-C", "/nonexistent"]) {
            Invocation::Run {
                dir,
                command: Cmd::Bump(o),
            } => {
                assert_eq!(dir, Some(PathBuf::from("/nonexistent")));
                assert_eq!(o.push, Push::ConfiguredRemote);
                assert!(o.generate);
            }
            other => panic!("{other:?}"),
        }
        match parse_ok(&["-C", "x", "release", "auto", "--no-push", "--pre=rc"]) {
            Invocation::Run {
                command: Cmd::Bump(o),
                ..
            } => {
                assert_eq!(o.push, Push::No);
                assert_eq!(o.pre.as_deref(), Some("rc"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn did_you_mean_for_values_and_commands() {
        let e = parse_err(&["bump-version", "minr"]);
        assert!(e.contains("did you mean `minor`?"), "{e}");
        assert!(e.contains("X.Y.Z, major, minor, patch, auto"), "{e}");
        let e = parse_err(&["relase"]);
        assert!(
            e.contains("unknown command `relase`; did you mean `release`?"),
            "{e}"
        );
        for c in ["rehearse", "verify", "provision", "completions", "help"] {
            assert!(e.contains(c), "{e}");
        }
        let e = parse_err(&["publish-prod", "--only", "docker,pypy"]);
        assert!(e.contains("did you mean `pypi`?"), "{e}");
        let e = parse_err(&["bump-version", "minor", "--pre", "rcc"]);
        assert!(
            e.contains("did you mean `rc`?") && e.contains("allowed labels: dev, alpha, beta, rc"),
            "{e}"
        );
        let e = parse_err(&["bump-version", "minor", "--dry-rn"]);
        assert!(
            e.contains(
                "unexpected argument `--dry-rn` for bump-version; did you mean `--dry-run`?"
            ),
            "{e}"
        );
        assert_eq!(nearest("xyzzy", SPEC_WORDS), None);
    }

    #[test]
    fn only_is_repeatable_and_comma_separated() {
        match parse_ok(&["publish-prod", "--only", "docker,pypi", "--only=github"]) {
            Invocation::Run {
                command: Cmd::Publish(o),
                ..
            } => assert_eq!(o.only.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verify_takes_yanked_and_only_publish_takes_no_deploy() {
        match parse_ok(&["verify", "1.2.3", "--yanked", "--only", "pypi"]) {
            Invocation::Run {
                command:
                    Cmd::Verify {
                        version,
                        yanked,
                        only,
                    },
                ..
            } => {
                assert_eq!(version.as_deref(), Some("1.2.3"));
                assert!(yanked);
                assert_eq!(only, [cmd::publish::Target::Pypi]);
            }
            other => panic!("{other:?}"),
        }
        match parse_ok(&["publish-prod", "--no-deploy"]) {
            Invocation::Run {
                command: Cmd::Publish(o),
                ..
            } => assert!(o.no_deploy),
            other => panic!("{other:?}"),
        }
        let e = parse_err(&["verify", "--only", "pypy"]);
        assert!(e.contains("did you mean `pypi`?"), "{e}");
    }

    #[test]
    fn every_help_ends_with_two_to_four_examples() {
        let mut root = command();
        root.build();
        for sub in root.get_subcommands_mut() {
            let help = sub.render_long_help().to_string();
            let tail = help.rsplit("Examples:").next().unwrap();
            let n = tail
                .lines()
                .filter(|l| l.trim_start().starts_with(BIN) || l.contains(BIN))
                .count();
            assert!((2..=4).contains(&n), "{}: {help}", sub.get_name());
            assert!(help.contains("Examples:"), "{}", sub.get_name());
        }
    }

    #[test]
    fn version_and_help_are_printed_not_errors() {
        match parse_ok(&["--version"]) {
            Invocation::Print(t) => {
                assert_eq!(t.trim(), format!("slipway {}", env!("CARGO_PKG_VERSION")))
            }
            other => panic!("{other:?}"),
        }
        match parse_ok(&["help", "bump-version"]) {
            Invocation::Print(t) => assert!(
                t.contains("bump-version") && t.contains("--no-commit"),
                "{t}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
