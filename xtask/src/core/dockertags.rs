//! Which Docker tags a release gets (pure, table-tested).
//!
//! A stable `1.2.3` gets `v1.2.3`, and the moving tags `v1.2`, `v1` and `latest` — each only when
//! this version is the highest stable release in that line among the existing release tags, so
//! a hotfix of an old line never moves `latest` (or `v1`) backwards — plus `sha-<short commit>`.
//! A pre-release gets only its exact tag. Dev images get `dev-<version>`. Which moving tags exist
//! is configurable (`tags = ["minor", "major", "latest", "sha"]`).

use semver::Version;

use crate::version::docker_tag;

/// The kinds of tag a release can get besides its exact version.
pub const MOVING_KINDS: &[&str] = &["minor", "major", "latest", "sha"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// `v1.2.3`: never moves; pointing elsewhere is a conflict.
    Exact,
    /// `v1.2`, `v1`, `latest`: move to the newest release of their line.
    Moving,
    /// `sha-abc1234`: names one commit; never moves.
    Commit,
    /// `dev-1.2.3`: a development image; may be rebuilt and moved.
    Dev,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTag {
    pub tag: String,
    pub kind: TagKind,
}

impl PlannedTag {
    /// May an existing tag with another digest be overwritten?
    pub fn may_move(&self) -> bool {
        matches!(self.kind, TagKind::Moving | TagKind::Dev)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPolicy {
    /// Prefix of version tags (`v` gives `v1.2.3`, `v1.2`, `v1`).
    pub prefix: String,
    pub minor: bool,
    pub major: bool,
    pub latest: bool,
    pub sha: bool,
}

impl Default for TagPolicy {
    fn default() -> Self {
        TagPolicy {
            prefix: "v".into(),
            minor: true,
            major: true,
            latest: true,
            sha: true,
        }
    }
}

impl TagPolicy {
    /// From the configured list of moving kinds (`MOVING_KINDS`).
    pub fn from_kinds(prefix: &str, kinds: &[String]) -> Result<TagPolicy, String> {
        for k in kinds {
            if !MOVING_KINDS.contains(&k.as_str()) {
                return Err(format!(
                    "unknown tag kind `{k}`; known: {}",
                    MOVING_KINDS.join(", ")
                ));
            }
        }
        let has = |k: &str| kinds.iter().any(|x| x == k);
        Ok(TagPolicy {
            prefix: prefix.into(),
            minor: has("minor"),
            major: has("major"),
            latest: has("latest"),
            sha: has("sha"),
        })
    }
}

/// The exact, never-moving tag of a release (`v1.3.0-rc.1`).
pub fn exact_tag(prefix: &str, v: &Version) -> String {
    format!("{prefix}{}", docker_tag(v))
}

/// The tags for releasing `v`, given every existing release version (may include `v` itself).
pub fn plan(
    v: &Version,
    existing: &[Version],
    short_sha: &str,
    policy: &TagPolicy,
) -> Vec<PlannedTag> {
    let p = &policy.prefix;
    let mut tags = vec![PlannedTag {
        tag: exact_tag(p, v),
        kind: TagKind::Exact,
    }];
    if !v.pre.is_empty() {
        return tags;
    }
    let stable = || existing.iter().filter(|e| e.pre.is_empty());
    let highest_in = |same: &dyn Fn(&Version) -> bool| {
        stable()
            .filter(|e| same(e))
            .all(|e| e.cmp_precedence(v).is_le())
    };
    let moving = |tag: String| PlannedTag {
        tag,
        kind: TagKind::Moving,
    };
    if policy.minor && highest_in(&|e| e.major == v.major && e.minor == v.minor) {
        tags.push(moving(format!("{p}{}.{}", v.major, v.minor)));
    }
    if policy.major && highest_in(&|e| e.major == v.major) {
        tags.push(moving(format!("{p}{}", v.major)));
    }
    if policy.latest && highest_in(&|_| true) {
        tags.push(moving("latest".into()));
    }
    if policy.sha && !short_sha.is_empty() {
        tags.push(PlannedTag {
            tag: format!("sha-{short_sha}"),
            kind: TagKind::Commit,
        });
    }
    tags
}

/// The tag of a development image of `v`.
pub fn dev_tag(v: &Version) -> PlannedTag {
    PlannedTag {
        tag: format!("dev-{}", docker_tag(v)),
        kind: TagKind::Dev,
    }
}

/// Checks a Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(t: &str) -> bool {
    let mut chars = t.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && t.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn tags(version: &str, existing: &[&str], policy: &TagPolicy) -> Vec<String> {
        let existing: Vec<Version> = existing.iter().map(|s| v(s)).collect();
        plan(&v(version), &existing, "abc1234", policy)
            .into_iter()
            .map(|t| t.tag)
            .collect()
    }

    #[test]
    fn tag_table() {
        let p = TagPolicy::default();
        let cases: &[(&str, &[&str], &[&str])] = &[
            // newest stable: everything
            (
                "1.2.3",
                &["1.2.2", "1.1.0", "1.2.3"],
                &["v1.2.3", "v1.2", "v1", "latest", "sha-abc1234"],
            ),
            (
                "2.0.0",
                &["1.9.9"],
                &["v2.0.0", "v2.0", "v2", "latest", "sha-abc1234"],
            ),
            // first release ever
            (
                "0.1.0",
                &[],
                &["v0.1.0", "v0.1", "v0", "latest", "sha-abc1234"],
            ),
            // hotfix of an old line: its minor and major lines move, latest does not
            (
                "1.4.1",
                &["1.4.0", "2.0.0", "1.5.0"],
                &["v1.4.1", "v1.4", "sha-abc1234"],
            ),
            (
                "1.5.1",
                &["1.5.0", "2.0.0"],
                &["v1.5.1", "v1.5", "v1", "sha-abc1234"],
            ),
            // an older patch re-released after a newer one in its line: only exact + sha
            ("1.2.3", &["1.2.4"], &["v1.2.3", "sha-abc1234"]),
            // pre-releases: only the exact tag; and they never hold back stable moving tags
            ("1.3.0-rc.1", &["1.2.0"], &["v1.3.0-rc.1"]),
            (
                "1.3.0",
                &["1.3.0-rc.2", "1.4.0-alpha.1"],
                &["v1.3.0", "v1.3", "v1", "latest", "sha-abc1234"],
            ),
            // build metadata never reaches a tag as `+`
            (
                "1.3.0+build.7",
                &[],
                &["v1.3.0_build.7", "v1.3", "v1", "latest", "sha-abc1234"],
            ),
        ];
        for (version, existing, want) in cases {
            assert_eq!(
                tags(version, existing, &p),
                *want,
                "{version} with {existing:?}"
            );
        }
    }

    #[test]
    fn configurable_moving_tags_and_prefix() {
        let p = TagPolicy::from_kinds("", &["latest".into()]).unwrap();
        assert_eq!(tags("1.2.3", &[], &p), ["1.2.3", "latest"]);
        assert!(TagPolicy::from_kinds("v", &["newest".into()])
            .unwrap_err()
            .contains("known: minor, major, latest, sha"));
        let kinds: Vec<TagKind> = plan(&v("1.0.0"), &[], "abc", &TagPolicy::default())
            .iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                TagKind::Exact,
                TagKind::Moving,
                TagKind::Moving,
                TagKind::Moving,
                TagKind::Commit
            ]
        );
        assert_eq!(dev_tag(&v("1.2.3-rc.1")).tag, "dev-1.2.3-rc.1");
        assert!(dev_tag(&v("1.2.3")).may_move());
    }

    #[test]
    fn every_planned_tag_is_a_valid_docker_tag() {
        let mut rng = crate::testutil::Rng::new(7);
        let labels = [
            "",
            "-rc.1",
            "-alpha.3",
            "-dev.2",
            "+build.5",
            "-beta.1+sha.abc",
        ];
        for _ in 0..500 {
            let s = format!(
                "{}.{}.{}{}",
                rng.below(20),
                rng.below(20),
                rng.below(20),
                labels[rng.below(labels.len())]
            );
            let existing: Vec<Version> = (0..rng.below(5))
                .map(|_| Version::new(rng.below(20) as u64, rng.below(20) as u64, 0))
                .collect();
            for t in plan(&v(&s), &existing, "0123abc", &TagPolicy::default()) {
                assert!(is_valid_tag(&t.tag), "{s}: {}", t.tag);
            }
        }
    }
}
