//! The version model: one SemVer 2.0 version, bumped by pure rules and rendered per target.
//!
//! Renderings (all pure):
//! - git tag:    `<tag-prefix><semver>`            `v1.3.0-rc.1`
//! - PEP 440:    release + a/b/rc/.devN + local    `1.3.0rc1`
//! - Docker tag: semver with `+` → `_`             `1.3.0-rc.1`, `1.3.0_build.5`
//!
//! Pre-release labels are restricted to the ones that have a PEP 440 form
//! (see [`PRE_LABELS`]), so every version this tool produces can be published to a Python index.
//!
//! ## Bump rule (documented in the README)
//! - From a stable version: `major`, `minor`, `patch` increment that field and zero the lower ones.
//! - From a pre-release, a plain `major|minor|patch` *finishes* it when the pre-release is already
//!   on the way to that level (npm/semver rule): `1.3.0-rc.2` + `minor` → `1.3.0` (the minor bump
//!   is already "in" it), + `patch` → `1.3.0`, + `major` → `2.0.0`; `2.0.0-rc.1` + `major` →
//!   `2.0.0`; `1.2.4-rc.1` + `minor` → `1.3.0`.
//! - `--pre <label>` computes that same target release, then: if the current version is a
//!   pre-release of exactly that release with the same label, its number is incremented
//!   (`rc.1` → `rc.2`); otherwise the result is `<target>-<label>.1`.
//! - An explicit `X.Y.Z[-label.N]` is taken as is (with `--pre`, `-<label>.1` is appended).
//! - The result must be strictly greater than the current version under SemVer *and* under
//!   PEP 440 ordering (they disagree on `dev`: SemVer puts `dev` after `beta`, PEP 440 before `a`).

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// Pre-release labels that have a PEP 440 form, in PEP 440 order.
pub const PRE_LABELS: &[&str] = &["dev", "alpha", "beta", "rc"];

/// What the user asked `bump-version` for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BumpSpec {
    Major,
    Minor,
    Patch,
    Exact(Version),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Major,
    Minor,
    Patch,
}

impl BumpSpec {
    /// Parses `major|minor|patch|X.Y.Z[-pre][+build]` (a leading `v` is accepted for the exact form).
    pub fn parse(s: &str) -> Result<BumpSpec, String> {
        match s {
            "major" => Ok(BumpSpec::Major),
            "minor" => Ok(BumpSpec::Minor),
            "patch" => Ok(BumpSpec::Patch),
            _ => {
                let v = parse_semver(s).map_err(|e| {
                    format!("invalid version `{s}`: {e}; expected X.Y.Z (e.g. 1.3.0), major, minor or patch")
                })?;
                validate_pre(&v)?;
                Ok(BumpSpec::Exact(v))
            }
        }
    }
}

/// Parses a SemVer string, accepting an optional leading `v`.
pub fn parse_semver(s: &str) -> Result<Version, String> {
    let t = s.strip_prefix('v').unwrap_or(s);
    Version::parse(t).map_err(|e| e.to_string())
}

/// The pre-release of a version this tool can render: `label` or `label.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pre<'a> {
    pub label: &'a str,
    pub number: Option<u64>,
}

/// Splits a SemVer pre-release into label and number, if it has the supported shape.
pub fn split_pre(pre: &Prerelease) -> Option<Pre<'_>> {
    if pre.is_empty() {
        return None;
    }
    let s = pre.as_str();
    let (label, number) = match s.split_once('.') {
        Some((l, n)) => (l, Some(n.parse::<u64>().ok()?)),
        None => (s, None),
    };
    Some(Pre { label, number })
}

/// Checks that a version's pre-release has a PEP 440 form.
pub fn validate_pre(v: &Version) -> Result<(), String> {
    if v.pre.is_empty() {
        return Ok(());
    }
    match split_pre(&v.pre) {
        Some(p) if PRE_LABELS.contains(&p.label) => Ok(()),
        _ => Err(format!(
            "pre-release `{}` has no PEP 440 form; use <label> or <label>.<N> with label one of: {}",
            v.pre,
            PRE_LABELS.join(", ")
        )),
    }
}

/// Checks a `--pre` label.
pub fn validate_label(label: &str) -> Result<(), String> {
    if PRE_LABELS.contains(&label) {
        Ok(())
    } else {
        Err(format!(
            "pre-release label `{label}` has no PEP 440 form; allowed labels: {}",
            PRE_LABELS.join(", ")
        ))
    }
}

/// The release a `major|minor|patch` bump targets from `cur`, finishing a pre-release when it is
/// already on the way to that level.
fn target_release(cur: &Version, level: Level) -> Version {
    let (ma, mi, pa) = (cur.major, cur.minor, cur.patch);
    let pre = !cur.pre.is_empty();
    let (ma, mi, pa) = match level {
        Level::Major if pre && mi == 0 && pa == 0 => (ma, 0, 0),
        Level::Major => (ma + 1, 0, 0),
        Level::Minor if pre && pa == 0 => (ma, mi, 0),
        Level::Minor => (ma, mi + 1, 0),
        Level::Patch if pre => (ma, mi, pa),
        Level::Patch => (ma, mi, pa + 1),
    };
    Version::new(ma, mi, pa)
}

/// Computes the next version. Pure; the only error is "not greater than current".
pub fn next_version(cur: &Version, spec: &BumpSpec, pre: Option<&str>) -> Result<Version, String> {
    if let Some(label) = pre {
        validate_label(label)?;
    }
    let next = match (spec, pre) {
        (BumpSpec::Exact(v), None) => v.clone(),
        (BumpSpec::Exact(v), Some(label)) => {
            if !v.pre.is_empty() {
                return Err(format!(
                    "`{v}` already has a pre-release; drop --pre or give X.Y.Z"
                ));
            }
            with_pre(&release_of(v), label, 1)
        }
        (spec, label) => {
            let level = match spec {
                BumpSpec::Major => Level::Major,
                BumpSpec::Minor => Level::Minor,
                _ => Level::Patch,
            };
            let target = target_release(cur, level);
            match label {
                None => target,
                Some(label) => {
                    let same_release = release_of(cur) == target;
                    match split_pre(&cur.pre) {
                        Some(p) if same_release && p.label == label => {
                            with_pre(&target, label, p.number.unwrap_or(0) + 1)
                        }
                        _ => with_pre(&target, label, 1),
                    }
                }
            }
        }
    };
    if !is_greater(&next, cur) {
        let semver_greater = next.cmp_precedence(cur) == Ordering::Greater;
        let pep_greater = pep440_key(&next) > pep440_key(cur);
        if semver_greater != pep_greater {
            return Err(format!(
                "the new version {next} must be greater than the current version {cur} under both \
                 SemVer and PEP 440, but the two orders disagree here (SemVer sorts `dev` after \
                 `beta`, PEP 440 before `alpha`); go from `dev` to `rc`, or to the next release"
            ));
        }
        return Err(format!(
            "the new version {next} must be greater than the current version {cur}"
        ));
    }
    Ok(next)
}

fn release_of(v: &Version) -> Version {
    Version::new(v.major, v.minor, v.patch)
}

fn with_pre(release: &Version, label: &str, n: u64) -> Version {
    let mut v = release.clone();
    v.pre = Prerelease::new(&format!("{label}.{n}")).expect("label.N is a valid pre-release");
    v
}

/// `a > b` under both SemVer precedence (build metadata ignored) and PEP 440 ordering.
pub fn is_greater(a: &Version, b: &Version) -> bool {
    a.cmp_precedence(b) == Ordering::Greater && pep440_key(a) > pep440_key(b)
}

/// Sort key in PEP 440 order for the versions this tool renders:
/// release, then `.devN` < `aN` < `bN` < `rcN` < final.
fn pep440_key(v: &Version) -> (u64, u64, u64, u8, u64) {
    let (rank, n) = match split_pre(&v.pre) {
        None => (4, 0),
        Some(p) => {
            let rank = match p.label {
                "dev" => 0,
                "alpha" => 1,
                "beta" => 2,
                "rc" => 3,
                _ => 0,
            };
            (rank, p.number.unwrap_or(0))
        }
    };
    (v.major, v.minor, v.patch, rank, n)
}

/// The git tag for a version.
pub fn git_tag(prefix: &str, v: &Version) -> String {
    format!("{prefix}{v}")
}

/// The PEP 440 rendering (normalized form). Panics never: callers validate pre-releases first;
/// an unsupported pre-release is rendered as a local segment-free best effort.
pub fn pep440(v: &Version) -> String {
    let mut s = format!("{}.{}.{}", v.major, v.minor, v.patch);
    if let Some(p) = split_pre(&v.pre) {
        let n = p.number.unwrap_or(0);
        match p.label {
            "alpha" => s.push_str(&format!("a{n}")),
            "beta" => s.push_str(&format!("b{n}")),
            "rc" => s.push_str(&format!("rc{n}")),
            "dev" => s.push_str(&format!(".dev{n}")),
            other => s.push_str(&format!("+{other}{n}")),
        }
    }
    if !v.build.is_empty() {
        // PEP 440 local versions allow [a-z0-9.]; SemVer build metadata adds `-`.
        let local = v.build.as_str().to_ascii_lowercase().replace('-', ".");
        s.push(if s.contains('+') { '.' } else { '+' });
        s.push_str(&local);
    }
    s
}

/// Parses the PEP 440 forms this tool writes (and their common spellings) back into SemVer.
/// `1.3.0rc1` → `1.3.0-rc.1`, `1.3.0.dev2` → `1.3.0-dev.2`, `1.3` → `1.3.0`.
pub fn parse_pep440(s: &str) -> Result<Version, String> {
    let err = || {
        format!(
            "`{s}` is not a PEP 440 version slipway understands (X.Y.Z[aN|bN|rcN|.devN][+local])"
        )
    };
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let (main, local) = match s.split_once('+') {
        Some((m, l)) => (m, Some(l)),
        None => (s, None),
    };
    let lower = main.to_ascii_lowercase();
    // Release segment: digits and dots.
    let rel_end = lower
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_digit()
                || (*c == '.' && lower[i + 1..].starts_with(|d: char| d.is_ascii_digit())))
        })
        .map(|(i, _)| i)
        .unwrap_or(lower.len());
    let rel = &lower[..rel_end];
    let nums: Vec<u64> = rel
        .split('.')
        .map(|p| p.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| err())?;
    if nums.is_empty() || nums.len() > 3 {
        return Err(err());
    }
    let mut v = Version::new(
        nums[0],
        *nums.get(1).unwrap_or(&0),
        *nums.get(2).unwrap_or(&0),
    );
    let rest = &lower[rel_end..];
    if !rest.is_empty() {
        let rest = rest.trim_start_matches(['.', '-', '_']);
        let (label, num) = split_alpha_num(rest).ok_or_else(err)?;
        let label = match label {
            "a" | "alpha" => "alpha",
            "b" | "beta" => "beta",
            "rc" | "c" | "pre" | "preview" => "rc",
            "dev" => "dev",
            _ => return Err(err()),
        };
        v.pre = Prerelease::new(&format!("{label}.{num}")).map_err(|_| err())?;
    }
    if let Some(local) = local {
        v.build = BuildMetadata::new(local).map_err(|_| err())?;
    }
    Ok(v)
}

fn split_alpha_num(s: &str) -> Option<(&str, u64)> {
    let i = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (label, num) = s.split_at(i);
    let label = label.trim_end_matches(['.', '-', '_']);
    let num = if num.is_empty() { 0 } else { num.parse().ok()? };
    if label.is_empty() {
        return None;
    }
    Some((label, num))
}

/// The Docker tag for a version: SemVer with `+` replaced by `_` (Docker tags cannot contain `+`).
pub fn docker_tag(v: &Version) -> String {
    v.to_string().replace('+', "_")
}

/// Parses a Docker image tag that carries a version (`1.2.3`, `v1.2.3`, `1.3.0-rc.1`,
/// `1.2.3_build`). Returns the version and whether the tag had a `v` prefix.
/// Floating tags (`latest`, `dev`, `1.2`) return `None`.
pub fn parse_docker_tag(tag: &str) -> Option<(Version, bool)> {
    let (body, v_prefix) = match tag.strip_prefix('v') {
        Some(b) => (b, true),
        None => (tag, false),
    };
    let v = Version::parse(&body.replacen('_', "+", 1)).ok()?;
    Some((v, v_prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn bump_table() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            // stable
            ("1.2.3", "patch", None, "1.2.4"),
            ("1.2.3", "minor", None, "1.3.0"),
            ("1.2.3", "major", None, "2.0.0"),
            ("0.9.9", "minor", None, "0.10.0"),
            // stable → pre
            ("1.2.3", "minor", Some("rc"), "1.3.0-rc.1"),
            ("1.2.3", "major", Some("alpha"), "2.0.0-alpha.1"),
            ("1.2.3", "patch", Some("beta"), "1.2.4-beta.1"),
            ("1.2.3", "minor", Some("dev"), "1.3.0-dev.1"),
            // pre → next pre of the same release
            ("1.3.0-rc.1", "minor", Some("rc"), "1.3.0-rc.2"),
            ("1.3.0-rc.1", "patch", Some("rc"), "1.3.0-rc.2"),
            ("1.3.0-rc.9", "patch", Some("rc"), "1.3.0-rc.10"),
            ("1.3.0-alpha.3", "minor", Some("beta"), "1.3.0-beta.1"),
            ("1.3.0-beta.2", "minor", Some("rc"), "1.3.0-rc.1"),
            ("1.3.0-dev.4", "minor", Some("rc"), "1.3.0-rc.1"),
            ("1.3.0-dev.4", "minor", Some("dev"), "1.3.0-dev.5"),
            ("1.3.0-rc", "minor", Some("rc"), "1.3.0-rc.1"),
            // pre → finish
            ("1.3.0-rc.2", "minor", None, "1.3.0"),
            ("1.3.0-rc.2", "patch", None, "1.3.0"),
            ("1.3.0-rc.2", "major", None, "2.0.0"),
            ("2.0.0-rc.1", "major", None, "2.0.0"),
            ("2.0.0-rc.1", "minor", None, "2.0.0"),
            ("1.2.4-rc.1", "minor", None, "1.3.0"),
            ("1.2.4-rc.1", "patch", None, "1.2.4"),
            // pre of a release, bumped to a higher level with --pre
            ("1.3.0-rc.2", "major", Some("rc"), "2.0.0-rc.1"),
            // exact
            ("1.2.3", "1.2.10", None, "1.2.10"),
            ("1.2.3", "v2.0.0", None, "2.0.0"),
            ("1.2.3", "2.0.0", Some("rc"), "2.0.0-rc.1"),
            ("1.3.0-rc.1", "1.3.0", None, "1.3.0"),
        ];
        for (cur, spec, pre, want) in cases {
            let got = next_version(&v(cur), &BumpSpec::parse(spec).unwrap(), *pre);
            assert_eq!(got, Ok(v(want)), "{cur} + {spec} {pre:?}");
        }
    }

    #[test]
    fn bump_refusals() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            (
                "1.2.3",
                "1.2.3",
                None,
                "must be greater than the current version 1.2.3",
            ),
            ("1.2.3", "1.2.2", None, "must be greater"),
            ("1.3.0-rc.1", "1.3.0-alpha.1", None, "must be greater"),
            ("1.3.0-rc.1", "minor", Some("beta"), "must be greater"),
            // SemVer says dev > beta, PEP 440 says .dev < b: refused.
            (
                "1.3.0-beta.1",
                "minor",
                Some("dev"),
                "the two orders disagree",
            ),
            (
                "1.3.0-dev.4",
                "minor",
                Some("alpha"),
                "the two orders disagree",
            ),
            (
                "1.2.3",
                "minor",
                Some("nightly"),
                "allowed labels: dev, alpha, beta, rc",
            ),
            (
                "1.2.3",
                "2.0.0-rc.1",
                Some("rc"),
                "already has a pre-release",
            ),
        ];
        for (cur, spec, pre, want) in cases {
            let err = next_version(&v(cur), &BumpSpec::parse(spec).unwrap(), *pre).unwrap_err();
            assert!(err.contains(want), "{cur} + {spec} {pre:?}: {err}");
        }
    }

    #[test]
    fn spec_parse_errors() {
        assert!(BumpSpec::parse("1.2")
            .unwrap_err()
            .contains("expected X.Y.Z"));
        assert!(BumpSpec::parse("mayor")
            .unwrap_err()
            .contains("invalid version `mayor`"));
        assert!(BumpSpec::parse("1.3.0-nightly.1")
            .unwrap_err()
            .contains("label one of: dev, alpha, beta, rc"));
    }

    #[test]
    fn renderings() {
        let cases: &[(&str, &str, &str, &str)] = &[
            // semver, tag, pep440, docker
            ("1.3.0", "v1.3.0", "1.3.0", "1.3.0"),
            ("1.3.0-rc.1", "v1.3.0-rc.1", "1.3.0rc1", "1.3.0-rc.1"),
            (
                "1.3.0-alpha.2",
                "v1.3.0-alpha.2",
                "1.3.0a2",
                "1.3.0-alpha.2",
            ),
            ("1.3.0-beta.3", "v1.3.0-beta.3", "1.3.0b3", "1.3.0-beta.3"),
            ("1.3.0-dev.4", "v1.3.0-dev.4", "1.3.0.dev4", "1.3.0-dev.4"),
            ("1.3.0-rc", "v1.3.0-rc", "1.3.0rc0", "1.3.0-rc"),
            (
                "1.3.0+build.5",
                "v1.3.0+build.5",
                "1.3.0+build.5",
                "1.3.0_build.5",
            ),
            (
                "1.3.0-rc.1+Git-abc",
                "v1.3.0-rc.1+Git-abc",
                "1.3.0rc1+git.abc",
                "1.3.0-rc.1_Git-abc",
            ),
        ];
        for (sv, tag, pep, docker) in cases {
            let ver = v(sv);
            assert_eq!(git_tag("v", &ver), *tag);
            assert_eq!(pep440(&ver), *pep, "{sv}");
            assert_eq!(docker_tag(&ver), *docker);
            assert!(!docker_tag(&ver).contains('+'));
        }
    }

    #[test]
    fn pep440_round_trip() {
        for sv in [
            "1.3.0",
            "1.3.0-rc.1",
            "1.3.0-alpha.2",
            "1.3.0-beta.3",
            "1.3.0-dev.4",
            "0.0.1",
            "10.20.30-rc.11",
        ] {
            let ver = v(sv);
            assert_eq!(parse_pep440(&pep440(&ver)).unwrap(), ver, "{sv}");
        }
        let spellings: &[(&str, &str)] = &[
            ("1.3", "1.3.0"),
            ("1", "1.0.0"),
            ("1.3.0RC1", "1.3.0-rc.1"),
            ("1.3.0c1", "1.3.0-rc.1"),
            ("1.3.0-rc1", "1.3.0-rc.1"),
            ("1.3.0.rc.1", "1.3.0-rc.1"),
            ("1.3.0alpha1", "1.3.0-alpha.1"),
            ("1.3.0b", "1.3.0-beta.0"),
            ("1.3.0dev2", "1.3.0-dev.2"),
            ("1.3.0+local.7", "1.3.0+local.7"),
        ];
        for (pep, sv) in spellings {
            assert_eq!(parse_pep440(pep).unwrap(), v(sv), "{pep}");
        }
        for bad in ["", "x", "1.2.3.4", "1.2.3foo1", "1..2", "1.2.3-"] {
            assert!(parse_pep440(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_tag_parse() {
        assert_eq!(parse_docker_tag("v1.2.3"), Some((v("1.2.3"), true)));
        assert_eq!(
            parse_docker_tag("1.3.0-rc.1"),
            Some((v("1.3.0-rc.1"), false))
        );
        assert_eq!(
            parse_docker_tag("1.3.0_build.5"),
            Some((v("1.3.0+build.5"), false))
        );
        for floating in ["latest", "dev", "1.2", "v1", "main", "sha-abc123"] {
            assert_eq!(parse_docker_tag(floating), None, "{floating}");
        }
    }

    #[test]
    fn pep440_order_disagrees_with_semver_on_dev() {
        assert!(v("1.3.0-dev.1") > v("1.3.0-beta.1")); // SemVer
        assert!(!is_greater(&v("1.3.0-dev.1"), &v("1.3.0-beta.1"))); // but not for PEP 440
        assert!(!is_greater(&v("1.3.0-alpha.1"), &v("1.3.0-dev.9")));
        assert!(is_greater(&v("1.3.0-rc.1"), &v("1.3.0-dev.9")));
        assert!(is_greater(&v("1.3.0"), &v("1.3.0-rc.9")));
    }
}
