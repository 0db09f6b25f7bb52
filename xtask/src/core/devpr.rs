//! The reviewed dev-image release's texts, pure: the issue's and the PR's titles and bodies, and
//! the machine-readable lines a PR body carries (the dev image's digest, the tracking issue),
//! written by `dev-release` and read back by `release-merged`.

use semver::Version;

/// `<!-- slipway:dev-digest sha256:… -->`: the digest of `dev-X.Y.Z` the PR was opened (and
/// reviewed) with. `pending` until the image is pushed.
const DIGEST_MARK: &str = "<!-- slipway:dev-digest ";
/// `<!-- slipway:dev-issue 12 -->`: the issue `release-merged` closes.
const ISSUE_MARK: &str = "<!-- slipway:dev-issue ";
const END: &str = " -->";

/// The title of the issue that tracks the release of `version`.
pub fn issue_title(version: &Version) -> String {
    format!("Release {version}")
}

/// The issue's body.
pub fn issue_body(version: &Version, branch: &str) -> String {
    format!(
        "Tracks the release of {version}: the pull request from `{branch}` carries the changelog \
         section and the dev image to test. Merging it releases {version} (the reviewed \
         `dev-{version}` image is promoted, the package and the GitHub release are published); \
         this issue is closed then, with a link to the release.\n\n_Opened by `cargo xtask \
         dev-release`._"
    )
}

/// The PR's title.
pub fn pr_title(version: &Version) -> String {
    format!("chore(release): {version}")
}

/// The release branch of `version`.
pub fn branch(prefix: &str, version: &Version) -> String {
    format!("{prefix}{version}")
}

/// The version a release branch names (`release/v1.3.0` with prefix `release/v`).
pub fn branch_version(prefix: &str, branch: &str) -> Option<Version> {
    Version::parse(branch.strip_prefix(prefix)?).ok()
}

/// The PR's body: the changelog section, how to test the dev image, its digest (`None`: not
/// pushed yet), the tracking issue.
pub fn pr_body(
    version: &Version,
    section: &str,
    issue: &str,
    image: &str,
    digest: Option<&str>,
) -> String {
    let dev = format!("{image}:dev-{version}");
    let shown = digest.map_or(
        "_pending: the image is pushed after the PR is opened_".to_string(),
        |d| format!("`{d}`"),
    );
    format!(
        "{section}\n\n## Test the dev image\n\n```sh\ndocker pull {dev}\ndocker run --rm {dev}\n```\n\n\
         - Image: `{dev}`\n- Digest: {shown}\n\nMerging this PR releases exactly this digest: \
         `cargo xtask release-merged` refuses when `dev-{version}` holds another one.\n\n\
         Tracking issue: #{issue}\n\n{ISSUE_MARK}{issue}{END}\n{DIGEST_MARK}{}{END}\n",
        digest.unwrap_or("pending")
    )
}

fn marked(body: &str, mark: &str) -> Option<String> {
    body.lines().rev().find_map(|l| {
        let rest = l.trim().strip_prefix(mark)?.strip_suffix(END)?;
        Some(rest.trim().to_string())
    })
}

/// The digest the PR body records (`None`: none, or still `pending`).
pub fn recorded_digest(body: &str) -> Option<String> {
    marked(body, DIGEST_MARK).filter(|d| d.starts_with("sha256:"))
}

/// The tracking issue the PR body names.
pub fn recorded_issue(body: &str) -> Option<u64> {
    marked(body, ISSUE_MARK)?.parse().ok()
}

/// `body` with `digest` recorded: the machine line and the `- Digest:` line replaced (added
/// when missing); every other line as it was (a reviewer's edits stay).
pub fn with_digest(body: &str, digest: &str) -> String {
    let mut out = Vec::new();
    let mut marked_line = false;
    for l in body.lines() {
        if l.trim().starts_with(DIGEST_MARK) {
            out.push(format!("{DIGEST_MARK}{digest}{END}"));
            marked_line = true;
        } else if l.starts_with("- Digest: ") {
            out.push(format!("- Digest: `{digest}`"));
        } else {
            out.push(l.to_string());
        }
    }
    if !marked_line {
        out.push(format!("{DIGEST_MARK}{digest}{END}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The comment that closes the issue.
pub fn close_comment(version: &Version, pr: u64, release_url: &str, digest: &str) -> String {
    format!(
        "Released {version} by `cargo xtask release-merged` after PR #{pr} was merged: {release_url}\n\n\
         The reviewed dev image `{digest}` was promoted to the release registries, byte for byte."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_records_the_digest_and_the_issue() {
        let v = Version::new(1, 3, 0);
        let body = pr_body(&v, "### Added\n\n- x", "7", "127.0.0.1:5000/acme/app", None);
        assert!(body.contains("docker pull 127.0.0.1:5000/acme/app:dev-1.3.0"));
        assert_eq!(recorded_digest(&body), None);
        assert_eq!(recorded_issue(&body), Some(7));
        let d = format!("sha256:{}", "a".repeat(64));
        let with = with_digest(&body, &d);
        assert_eq!(recorded_digest(&with), Some(d.clone()));
        assert!(with.contains(&format!("- Digest: `{d}`")));
        assert_eq!(recorded_issue(&with), Some(7));
        // Idempotent; a body without the line gets it.
        assert_eq!(with_digest(&with, &d), with);
        assert_eq!(recorded_digest(&with_digest("edited by hand", &d)), Some(d));
    }

    #[test]
    fn branches_name_versions() {
        let v = Version::new(1, 3, 0);
        assert_eq!(branch("release/v", &v), "release/v1.3.0");
        assert_eq!(branch_version("release/v", "release/v1.3.0"), Some(v));
        assert_eq!(branch_version("release/v", "main"), None);
        assert_eq!(branch_version("release/v", "release/vx"), None);
    }
}
