//! Where a release is published: the Docker registries, the Python package index, GitHub, and
//! the notices sent about it. Each target gathers its facts, then plans build, publish and
//! verify steps; `publish` holds what every target shares.

pub mod credentials;
pub mod deploy;
pub mod docker;
pub mod gates;
pub mod github;
pub mod github_dev;
pub mod github_pr;
pub mod incident;
pub mod ledger;
pub mod notices;
pub mod publish;
pub mod pypi;

use crate::run::plan::Step;
use crate::Problems;
use publish::{Facts, Gathered};

/// Where a release goes. `publish-prod` and `verify` iterate over [`registered`] targets.
pub trait Target: Sync {
    /// The name `--only` takes (`docker`, `pypi`, `github`).
    fn name(&self) -> &'static str;
    /// Reads this target's facts (read-only), records its problems, and plans its build,
    /// publish and verify steps — also when there are problems, so a dry run can show the plan.
    /// None: the project does not use this target.
    fn gather(&self, facts: &Facts, problems: &mut Problems) -> Gathered;
    /// The problem `--only <name>` is when [`Target::gather`] found the target unconfigured.
    fn unconfigured(&self) -> Option<String> {
        None
    }
    /// The verify steps alone (`cargo xtask verify`, from any machine).
    fn verify(&self, facts: &Facts, problems: &mut Problems) -> Vec<Step>;
    /// Its place among the builds (lower first): the wheel first (the image installs it,
    /// SHA256SUMS lists it).
    fn build_rank(&self) -> u8;
    /// Its place among the publish steps (lower first): least reversible last.
    fn publish_rank(&self) -> u8;
    /// Its build makes the wheel another target's inputs need (then those are not planned).
    fn builds_the_wheel(&self) -> bool {
        false
    }
}

/// Every target, in gathering order (the order problems are reported in).
pub fn registered() -> [&'static dyn Target; 3] {
    [&docker::Docker, &pypi::Pypi, &github::Github]
}
