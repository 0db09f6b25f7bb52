//! `cargo xtask promote` against real registries (Debian's docker-registry on loopback, one
//! with htpasswd): tiny images built on the engine and pushed to a staging registry with the
//! docker CLI (test setup only; the tool itself never runs docker), then promoted by digest to
//! two production registries. Single-arch and a two-arch OCI index (PUT by the test), a re-run
//! that copies nothing, a release tag holding another digest (refused, nothing changed anywhere),
//! a same-registry promotion (mounts), the dry run's requests against the real run's, bad input.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value as Json};
use slipway_rig::services::Registry;
use xtask::targets::docker::registry::Client;

const USER: &str = "promoter";
const PASSWORD: &str = "pw-PROMOTE-51d0a3-secret";

fn docker() -> Command {
    docker_cli("slipway-test-promote-docker-config")
}

fn services() -> bool {
    require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) && require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
    )
}

/// A tiny `FROM scratch` image holding `content`, pushed as `target` (no auth on its registry);
/// returns the pushed digest. The local name is removed again.
fn push_image(target: &str, content: &str) -> String {
    push_scratch_image(&docker, target, None, content, true)
}

fn client(r: &Registry) -> Client {
    Client::new(
        &r.addr,
        r.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str())),
    )
}

/// What `path:reference` resolves to on `r` (None: absent).
fn digest_at(r: &Registry, path: &str, reference: &str) -> Option<String> {
    client(r)
        .manifest(path, reference)
        .unwrap()
        .map(|m| m.digest)
}

/// Every tag of `path` on `r` (none when the repository does not exist).
fn tags_of(r: &Registry, path: &str) -> Vec<String> {
    let mut req = ureq::get(format!("http://{}/v2/{path}/tags/list", r.addr));
    if let Some((u, p)) = &r.credentials {
        req = req.header(
            "Authorization",
            format!(
                "Basic {}",
                xtask::targets::docker::registry::base64(format!("{u}:{p}").as_bytes())
            ),
        );
    }
    let Ok(mut resp) = req.call() else {
        return Vec::new();
    };
    let json: Json = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let mut tags: Vec<String> = json["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

/// An OCI index of `children` (digest, platform) stored on `r` as `path:tag`; its digest.
fn put_index(r: &Registry, path: &str, tag: &str, children: &[(&str, &str)]) -> String {
    let mut c = client(r);
    let manifests: Vec<Json> = children
        .iter()
        .map(|(digest, platform)| {
            let (m, body) = c.manifest_raw(path, digest).unwrap().expect("child");
            let (os, arch) = platform.split_once('/').unwrap();
            json!({
                "mediaType": m.media_type,
                "digest": digest,
                "size": body.len(),
                "platform": {"os": os, "architecture": arch},
            })
        })
        .collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    c.put_manifest(
        path,
        tag,
        "application/vnd.oci.image.index.v1+json",
        &index.to_string(),
    )
    .unwrap()
}

/// A released project (only docker configured) at `version`, an older release `v1.1.0` before
/// it, `docker_toml` as its docker table.
fn project(version: &str, docker_toml: &str) -> Repo {
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            &format!(
                "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n[workspace.metadata.release.docker]\n{docker_toml}"
            ),
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"1.1.0\"\n",
        ),
        (
            "CHANGELOG.md",
            "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-11-01\n\n- Old.\n",
        ),
        (".gitignore", "/target\n"),
    ]);
    repo.git(&["tag", "-a", "v1.1.0", "-m", "release"]);
    repo.write(
        "pyproject.toml",
        &format!("[project]\nname = \"acme-app\"\nversion = \"{version}\"\n"),
    );
    repo.git(&["commit", "-qam", "release"]);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

fn table(staging: Option<&str>, registries: &[&str], extra: &str) -> String {
    let list: Vec<String> = registries.iter().map(|r| format!("\"{r}\"")).collect();
    let mut t = format!(
        "image = \"acme/app\"\nregistries = [{}]\n{extra}",
        list.join(", ")
    );
    if let Some(s) = staging {
        t.push_str(&format!("staging-registry = \"{s}\"\n"));
    }
    t
}

fn tool(repo: &Repo, args: &[&str]) -> Run {
    let mut cmd = hermetic(BIN, repo.path());
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env(
            "DOCKER_CONFIG",
            repo.path().join("target/user-docker-config"),
        )
        .env("DOCKER_USERNAME", USER)
        .env("DOCKER_PASSWORD", PASSWORD)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("GITHUB_ACTIONS");
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn report(repo: &Repo, version: &str) -> Json {
    let text = std::fs::read_to_string(
        repo.path()
            .join(format!("target/slipway/promote-{version}.json")),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn dest<'a>(report: &'a Json, registry: &Registry) -> &'a Json {
    report["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["registry"] == format!("{}/acme/app", registry.addr).as_str())
        .unwrap_or_else(|| panic!("no destination {} in {report:#}", registry.addr))
}

fn strs(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Every `METHOD url` of the requests under `v` (a dry run's `observe` or `apply`).
fn request_lines(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Object(o) => {
            if let (Some(m), Some(u)) = (o.get("method"), o.get("url")) {
                out.push(format!("{} {}", m.as_str().unwrap(), u.as_str().unwrap()));
            }
            for v in o.values() {
                request_lines(v, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| request_lines(v, out)),
        _ => {}
    }
}

/// A read: a `HEAD`, or the preflight's login check (`GET …/v2/`).
fn is_read(l: &str) -> bool {
    l.starts_with("HEAD ") || (l.starts_with("GET ") && l.ends_with("/v2/"))
}

/// Does `line` (an executed request) match `template` (`<…>` stands for any text)?
fn matches(template: &str, line: &str) -> bool {
    let mut rest = line;
    let mut parts = template.split('<').peekable();
    let first = parts.next().unwrap();
    let Some(r) = rest.strip_prefix(first) else {
        return false;
    };
    rest = r;
    let mut pieces: Vec<&str> = Vec::new();
    for p in parts {
        let (_, literal) = p.split_once('>').unwrap_or(("", p));
        pieces.push(literal);
    }
    for (i, lit) in pieces.iter().enumerate() {
        if i + 1 == pieces.len() {
            return rest.len() > lit.len() && rest.ends_with(lit);
        }
        match rest[1.min(rest.len())..].find(lit) {
            Some(at) => rest = &rest[1 + at + lit.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[test]
fn templates_match_what_they_stand_for() {
    let t = "PUT <upload location>&digest=sha256:ab";
    assert!(matches(
        t,
        "PUT http://r/v2/a/blobs/uploads/u?_state=x&digest=sha256:ab"
    ));
    assert!(!matches(
        t,
        "PUT http://r/v2/a/blobs/uploads/u?_state=x&digest=sha256:cd"
    ));
    assert!(!matches(
        t,
        "POST http://r/v2/a/blobs/uploads/&digest=sha256:ab"
    ));
    assert!(matches(
        "HEAD http://r/v2/a/manifests/v1",
        "HEAD http://r/v2/a/manifests/v1"
    ));
    assert!(!matches(
        "HEAD http://r/v2/a/manifests/v1",
        "HEAD http://r/v2/a/manifests/v1.2"
    ));
    assert!(matches("GET <a>/x/<b>/y", "GET 1/x/2/y"));
    assert!(!matches("GET <a>/x/<b>/y", "GET 1/x/2/z"));
}

/// The dry run (observe, apply request lines) of `promote <args>`.
fn dry_run(repo: &Repo, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut all = vec!["promote"];
    all.extend(args);
    all.extend(["--dry-run", "--json"]);
    let run = tool(repo, &all);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan: Json = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["dry_run"], true);
    let (mut observe, mut apply) = (Vec::new(), Vec::new());
    for step in plan["steps"].as_array().unwrap() {
        request_lines(&step["observe"], &mut observe);
        request_lines(&step["apply"], &mut apply);
    }
    (observe, apply)
}

/// The dry run's requests are exactly the real run's: its `HEAD` reads are the reads made
/// (observed again after applying), and its writes, matched one to one, are the rest.
fn assert_same_requests(observe: &[String], apply: &[String], executed: &[String]) {
    // Reads: the manifests' HEADs and the preflight's login checks (`GET …/v2/`).
    let (heads, writes): (Vec<&String>, Vec<&String>) = executed.iter().partition(|l| is_read(l));
    let mut reads: Vec<&String> = observe.iter().collect();
    reads.sort();
    reads.dedup();
    let mut made: Vec<&String> = heads.clone();
    made.sort();
    made.dedup();
    assert_eq!(made, reads, "reads made vs listed");
    let mut left: Vec<&String> = apply.iter().collect();
    for w in &writes {
        let at = left
            .iter()
            .position(|t| matches(t, w))
            .unwrap_or_else(|| panic!("{w} was made but not listed by the dry run: {apply:#?}"));
        left.remove(at);
    }
    assert!(
        left.is_empty(),
        "listed by the dry run but not made: {left:#?}"
    );
}

/// `cargo xtask verify <version>`: its docker step passes (the output of that step). The
/// Python target's verification runs too and fails here (no package index is configured for
/// this docker-only fixture, so it reads pypi.org): only the docker step is judged.
fn verify_docker(repo: &Repo, version: &str) -> String {
    let v = tool(repo, &["verify", version]);
    let out = v.all();
    let passed = out
        .lines()
        .any(|l| l.starts_with("✓ [") && l.contains("tag(s) of acme/app on"));
    assert!(passed, "the docker verification did not pass:\n{out}");
    out
}

fn started(n: usize, auth: &[bool]) -> (Vec<tempfile::TempDir>, Vec<Registry>) {
    let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let regs = dirs
        .iter()
        .zip(auth)
        .map(|(d, a)| Registry::start(d.path(), a.then_some((USER, PASSWORD))).unwrap())
        .collect();
    (dirs, regs)
}

fn git_short(repo: &Repo) -> String {
    repo.git(&["rev-parse", "--short=7", "v1.2.0^{commit}"])
        .trim()
        .to_string()
}

#[test]
fn single_arch_promote_lists_its_requests_then_a_rerun_copies_nothing() {
    if !services() {
        return;
    }
    // staging (no auth), production A (no auth), production B (htpasswd).
    let (_d, regs) = started(3, &[false, false, true]);
    let (staging, a, b) = (&regs[0], &regs[1], &regs[2]);
    let digest = push_image(&format!("{}/acme/app:dev-1.2.0", staging.addr), "one\n");
    let repo = project(
        "1.2.0",
        &table(Some(&staging.addr), &[&a.addr, &b.addr], ""),
    );
    // The tag vX.Y.Z on staging holds something else: the dev tag is preferred.
    push_image(&format!("{}/acme/app:v1.2.0", staging.addr), "other\n");

    let (observe, apply) = dry_run(&repo, &["1.2.0"]);
    assert!(
        tags_of(a, "acme/app").is_empty(),
        "a dry run changes nothing"
    );
    assert!(
        apply.iter().all(|l| !l.contains("mount=")),
        "different registries stream: {apply:#?}"
    );

    let run = tool(&repo, &["promote", "1.2.0"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("found by the dev tag `dev-1.2.0`"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(PASSWORD), "{}", run.all());
    let r = report(&repo, "1.2.0");
    assert_eq!(r["digest"], digest.as_str());
    assert_eq!(r["source"]["via"], "the dev tag");
    let short = git_short(&repo);
    let tags = ["v1.2.0", "v1.2", "v1", "latest", &format!("sha-{short}")];
    for reg in [a, b] {
        let d = dest(&r, reg);
        assert_eq!(d["blobs"]["copied"], 2, "config + one layer: {d:#}");
        assert_eq!(d["blobs"]["present"], 0);
        assert!(d["bytes_copied"].as_u64().unwrap() > 0);
        assert_eq!(strs(&d["tags_set"]), tags);
        for t in tags {
            assert_eq!(
                digest_at(reg, "acme/app", t).as_deref(),
                Some(digest.as_str()),
                "{t}"
            );
        }
    }
    assert_same_requests(&observe, &apply, &strs(&r["requests"]));
    // Published like publish-prod publishes: verify passes without any local build.
    let verified = verify_docker(&repo, "1.2.0");
    assert!(verified.contains(&digest), "{verified}");

    let again = tool(&repo, &["promote", "1.2.0", "--json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.all().contains("already promoted"), "{}", again.all());
    let r2: Json = serde_json::from_str(&again.stdout).unwrap();
    for reg in [a, b] {
        let d = dest(&r2, reg);
        assert_eq!(d["blobs"]["copied"], 0, "{d:#}");
        assert_eq!(d["blobs"]["present"], 2);
        assert!(strs(&d["tags_set"]).is_empty());
    }
    assert!(
        strs(&r2["requests"]).iter().all(|l| is_read(l)),
        "a re-run only reads: {:#?}",
        r2["requests"]
    );
}

#[test]
fn two_arch_index_promotes_children_then_index_then_tags() {
    if !services() {
        return;
    }
    let (_d, regs) = started(3, &[false, true, false]);
    let (staging, a, b) = (&regs[0], &regs[1], &regs[2]);
    let amd = push_image(&format!("{}/acme/app:src-amd64", staging.addr), "amd64\n");
    let arm = push_image(&format!("{}/acme/app:src-arm64", staging.addr), "arm64\n");
    let index = put_index(
        staging,
        "acme/app",
        "v1.2.0",
        &[(&amd, "linux/amd64"), (&arm, "linux/arm64")],
    );
    let repo = project(
        "1.2.0",
        &table(
            Some(&staging.addr),
            &[&a.addr, &b.addr],
            "platforms = [\"linux/amd64\", \"linux/arm64\"]\n",
        ),
    );
    let (observe, apply) = dry_run(&repo, &["1.2.0"]);
    let run = tool(&repo, &["promote", "1.2.0", "--json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("found by the exact tag `v1.2.0`"),
        "{}",
        run.all()
    );
    let r: Json = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(r["digest"], index.as_str());
    let short = git_short(&repo);
    for reg in [a, b] {
        let d = dest(&r, reg);
        assert_eq!(d["blobs"]["copied"], 4, "two configs, two layers: {d:#}");
        for t in ["v1.2.0", "v1.2", "v1", "latest", &format!("sha-{short}")] {
            assert_eq!(
                digest_at(reg, "acme/app", t).as_deref(),
                Some(index.as_str()),
                "{t}"
            );
        }
        assert_eq!(
            digest_at(reg, "acme/app", "v1.2.0-amd64"),
            Some(amd.clone())
        );
        assert_eq!(
            digest_at(reg, "acme/app", "v1.2.0-arm64"),
            Some(arm.clone())
        );
        assert!(digest_at(reg, "acme/app", &amd).is_some());
    }
    // Children before the index, the index before its tags (per destination).
    let writes: Vec<String> = strs(&r["requests"])
        .into_iter()
        .filter(|l| l.starts_with("PUT ") && l.contains(&a.addr) && l.contains("/manifests/"))
        .collect();
    let pos = |s: &str| writes.iter().position(|l| l.ends_with(s)).unwrap();
    assert!(
        pos(&amd) < pos(&index) && pos(&arm) < pos(&index),
        "{writes:#?}"
    );
    assert!(pos(&index) < pos("/manifests/latest"), "{writes:#?}");
    assert_same_requests(&observe, &apply, &strs(&r["requests"]));
    let verified = verify_docker(&repo, "1.2.0");
    assert!(verified.contains(&index), "{verified}");

    let again = tool(&repo, &["promote", "1.2.0", "--json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let r2: Json = serde_json::from_str(&again.stdout).unwrap();
    for reg in [a, b] {
        assert_eq!(dest(&r2, reg)["blobs"]["copied"], 0);
        assert!(strs(&dest(&r2, reg)["tags_set"]).is_empty());
    }
}

#[test]
fn a_release_tag_holding_another_digest_stops_every_registry() {
    if !services() {
        return;
    }
    let (_d, regs) = started(3, &[false, false, true]);
    let (staging, a, b) = (&regs[0], &regs[1], &regs[2]);
    push_image(&format!("{}/acme/app:dev-1.2.0", staging.addr), "release\n");
    // B's v1.2.0 is another image, stored there with the library's own copy.
    let other = push_image(&format!("{}/acme/other:x", staging.addr), "another\n");
    let repo = project(
        "1.2.0",
        &table(Some(&staging.addr), &[&a.addr, &b.addr], ""),
    );
    let mut bc = client(b);
    let mut sc = Client::new(&staging.addr, None);
    let (m, body) = sc.manifest_raw("acme/other", &other).unwrap().unwrap();
    // The blobs first (streamed by the library's own copy), then the manifest as v1.2.0.
    let json: Json = serde_json::from_str(&body).unwrap();
    for blob in std::iter::once(&json["config"]).chain(json["layers"].as_array().unwrap()) {
        bc.copy_blob_from(
            &mut sc,
            "acme/other",
            "acme/app",
            blob["digest"].as_str().unwrap(),
        )
        .unwrap();
    }
    bc.put_manifest("acme/app", "v1.2.0", &m.media_type, &body)
        .unwrap();
    assert_eq!(tags_of(b, "acme/app"), ["v1.2.0"]);

    let run = tool(&repo, &["promote", "1.2.0"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains(&format!(
            "{}/acme/app:v1.2.0 already points at {other}",
            b.addr
        )) && run.all().contains("nothing was copied to any registry"),
        "{}",
        run.all()
    );
    assert!(tags_of(a, "acme/app").is_empty(), "A was not touched");
    assert_eq!(tags_of(b, "acme/app"), ["v1.2.0"], "B was not touched");
    assert_eq!(digest_at(b, "acme/app", "v1.2.0"), Some(other));
    let r = report(&repo, "1.2.0");
    assert_eq!(r["ok"], false);
    assert!(
        strs(&r["requests"]).iter().all(|l| is_read(l)),
        "{:#?}",
        r["requests"]
    );
}

#[test]
fn same_registry_promotion_mounts_blobs() {
    if !services() {
        return;
    }
    let (_d, regs) = started(1, &[true]);
    let reg = &regs[0];
    // Staging is another repository on the same registry: `<addr>/staging/acme/app`.
    let login = docker()
        .args(["login", &reg.addr, "--username", USER, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(PASSWORD.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let digest = push_image(
        &format!("{}/staging/acme/app:dev-1.2.0", reg.addr),
        "same\n",
    );
    let _ = docker().args(["logout", &reg.addr]).output();
    let repo = project(
        "1.2.0",
        &table(Some(&format!("{}/staging", reg.addr)), &[&reg.addr], ""),
    );
    // A newer release exists: promoting 1.2.0 moves v1.2 but never v1 or latest backwards.
    repo.git(&["commit", "--allow-empty", "-qm", "next"]);
    repo.git(&["tag", "-a", "v1.3.0", "-m", "release"]);
    let (observe, apply) = dry_run(&repo, &["1.2.0"]);
    assert!(
        apply.iter().filter(|l| l.contains("?mount=")).count() == 2,
        "{apply:#?}"
    );
    let run = tool(&repo, &["promote", "1.2.0", "--json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let r: Json = serde_json::from_str(&run.stdout).unwrap();
    let d = dest(&r, reg);
    assert_eq!(d["blobs"]["mounted"], 2, "{d:#}");
    assert_eq!(d["blobs"]["copied"], 0);
    assert_eq!(d["bytes_copied"], 0);
    let short = git_short(&repo);
    assert_eq!(
        strs(&d["tags_set"]),
        ["v1.2.0", "v1.2", &format!("sha-{short}")]
    );
    assert_eq!(digest_at(reg, "acme/app", "v1.2"), Some(digest.clone()));
    assert_eq!(digest_at(reg, "acme/app", "latest"), None);
    assert_eq!(digest_at(reg, "acme/app", "v1"), None);
    assert!(
        !strs(&r["requests"])
            .iter()
            .any(|l| l.contains("/blobs/uploads/") && l.starts_with("PUT ")),
        "no upload: {:#?}",
        r["requests"]
    );
    assert_same_requests(&observe, &apply, &strs(&r["requests"]));
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    if !services() {
        return;
    }
    let (_d, regs) = started(2, &[false, false]);
    let (staging, prod) = (&regs[0], &regs[1]);
    let repo = project("1.2.0", &table(Some(&staging.addr), &[&prod.addr], ""));

    let r = tool(&repo, &["promote", "1.2.0", "--digest", "sha256:abc"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all().contains("--digest `sha256:abc` is not a digest"),
        "{}",
        r.all()
    );

    let r = tool(&repo, &["promote", "9.9.9"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("there is no tag v9.9.9"), "{}", r.all());

    let r = tool(&repo, &["promote", "not-a-version"]);
    assert_eq!(r.code, 2, "{}", r.all());

    // Nothing on staging: neither dev-1.2.0 nor v1.2.0.
    let r = tool(&repo, &["promote", "1.2.0"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("holds none of dev-1.2.0, v1.2.0")
            && r.all().contains("--digest")
            && r.all().contains("--from"),
        "{}",
        r.all()
    );
    let r = tool(
        &repo,
        &[
            "promote",
            "1.2.0",
            "--digest",
            &format!("sha256:{}", "0".repeat(64)),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("--digest"), "{}", r.all());
    assert!(tags_of(prod, "acme/app").is_empty());

    // No staging registry configured and no --from.
    let repo = project("1.2.0", &table(None, &[&prod.addr], ""));
    let r = tool(&repo, &["promote", "1.2.0"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all().contains("--from <registry>") && r.all().contains("`staging-registry`"),
        "{}",
        r.all()
    );
    let r = tool(&repo, &["promote", "1.2.0", "--from", &prod.addr]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.all().contains("is the source itself"), "{}", r.all());
}

/// The calls `rollback` builds on, against real registries (one with htpasswd): a manifest
/// copied byte for byte with its tags after its blobs, then a tag moved with `Retag`.
#[test]
fn copy_manifest_and_retag_on_real_registries() {
    use xtask::run::plan::Call;
    use xtask::targets::docker::calls::{CopyBlob, CopyManifest, Endpoint, Retag};
    use xtask::targets::docker::registry::Repo;
    if !services() {
        return;
    }
    let (_d, regs) = started(2, &[false, true]);
    let (src, dst) = (&regs[0], &regs[1]);
    let one = push_image(&format!("{}/acme/app:one", src.addr), "one\n");
    let two = push_image(&format!("{}/acme/app:two", src.addr), "two\n");
    let at = |r: &Registry| {
        Endpoint::new(
            Repo::parse(&format!("{}/acme/app", r.addr)),
            r.credentials.clone(),
        )
    };
    for digest in [&one, &two] {
        let (_, body) = client(src)
            .manifest_raw("acme/app", digest)
            .unwrap()
            .unwrap();
        let json: Json = serde_json::from_str(&body).unwrap();
        for blob in std::iter::once(&json["config"]).chain(json["layers"].as_array().unwrap()) {
            let copied = CopyBlob {
                from: at(src),
                to: at(dst),
                digest: blob["digest"].as_str().unwrap().into(),
            }
            .call()
            .unwrap();
            assert!(copied[0].1.starts_with("streamed "), "{copied:?}");
        }
        CopyManifest {
            from: at(src),
            to: at(dst),
            digest: (*digest).clone(),
            tags: vec![if *digest == one { "stable" } else { "next" }.into()],
        }
        .call()
        .unwrap();
    }
    assert_eq!(digest_at(dst, "acme/app", "stable"), Some(one.clone()));
    assert_eq!(digest_at(dst, "acme/app", "next"), Some(two.clone()));
    // Move `stable` to the other image, then back.
    for digest in [&two, &one] {
        Retag {
            at: at(dst),
            digest: digest.clone(),
            tag: "stable".into(),
        }
        .call()
        .unwrap();
        assert_eq!(digest_at(dst, "acme/app", "stable").as_ref(), Some(digest));
    }
    // A digest the repository does not hold is refused, naming it.
    let missing = format!("sha256:{}", "0".repeat(64));
    let err = Retag {
        at: at(dst),
        digest: missing.clone(),
        tag: "stable".into(),
    }
    .call()
    .unwrap_err()
    .to_string();
    assert!(err.contains(&missing), "{err}");
    assert_eq!(digest_at(dst, "acme/app", "stable"), Some(one));
}
