//! Publishing a release: the facts every target shares, and the shape of a target's plan.
//!
//! `publish-prod` gathers [`Facts`] once (read-only), asks each target (docker, pypi, github)
//! for its [`TargetPlan`] — problems are collected from all targets and reported together before
//! anything is built — then runs one plan: every build first, then the publish steps least
//! reversible last (docker registries, then the package index, then the GitHub release), then
//! every verification.

use std::path::PathBuf;

use anyhow::Result;
use semver::Version;

use crate::facts::config::Config;
use crate::run::plan::Step;

/// What every target knows about the release being published.
#[derive(Debug, Clone)]
pub struct Facts {
    pub cfg: Config,
    /// The version tagged at HEAD.
    pub version: Version,
    /// The release tag (`v1.3.0`).
    pub tag: String,
    /// HEAD's full commit hash and its short form.
    pub commit: String,
    pub short: String,
    /// HEAD's commit time (Unix seconds): SOURCE_DATE_EPOCH for reproducible builds.
    pub commit_time: i64,
    /// Every release version that has a tag (for the moving Docker tags).
    pub released: Vec<Version>,
    /// The distribution name (`[project].name`, or `python.package`).
    pub package: String,
    /// `target/slipway/` in the repository: tool venvs, dist files, journal, reports.
    pub work: PathBuf,
    /// `Released with gates skipped: tests (--skip-gate)` when an override skipped gates: the
    /// release notes say so.
    pub gates_skipped: Option<String>,
}

impl Facts {
    pub fn pep440(&self) -> String {
        crate::core::version::pep440(&self.version)
    }

    /// Where the Python distributions of this version are built: `target/slipway/dist/<pep440>/`.
    pub fn dist_dir(&self) -> PathBuf {
        self.work.join("dist").join(self.pep440())
    }
}

/// One target's part of the publish plan.
#[derive(Debug, Default)]
pub struct TargetPlan {
    /// Make an input this target needs that another target may already plan (the Docker image
    /// installs the wheel the Python target builds): planned only when no other target does.
    pub inputs: Vec<Step>,
    /// Build and validate the artifacts (reversible: nothing leaves the machine).
    pub build: Vec<Step>,
    /// Publish them; each step checks the real state first and skips what is already there.
    pub publish: Vec<Step>,
    /// Prove that what was published is there and is what was built.
    pub verify: Vec<Step>,
    /// Its build needs nothing another target builds (an image that does not install the
    /// wheel): it runs at the same time as the Python build.
    pub independent_build: bool,
}

/// `target/slipway` under the repository root, whatever `CARGO_TARGET_DIR` says: slipway's
/// outputs (the wheel the docker build context COPYs, the image and validation records, journal,
/// reports, rehearsal sandboxes) belong to the repository, not to cargo's (maybe shared) target
/// directory.
pub fn work_dir(cfg: &Config) -> PathBuf {
    cfg.root.join("target").join("slipway")
}

/// A secret from the environment, registered for redaction; empty values count as missing.
pub fn secret_env(name: &str) -> Option<String> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    crate::run::ui::register_secret(&v);
    Some(v)
}

/// Runs in GitHub Actions with an OIDC token available (trusted publishing).
pub fn github_oidc_available() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
        && std::env::var_os("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
        && std::env::var_os("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some()
}

/// The result type of a target's gather function: `None` when the target is not configured.
pub type Gathered = Result<Option<TargetPlan>>;
