//! The release split as the workflow runs it, against real registries (Debian's docker-registry
//! on loopback: a staging registry and two production ones) and the real engine:
//! `docker-validate --platform P --push-by-digest` (the image validated, pushed to staging under
//! its per-arch tag, its digest file written), then `publish-prod --from-digests` (no docker
//! process at all: the index assembled from exactly those digests, promoted, every tag read
//! back). The second platform is fabricated as `tests/promote.rs` does: a tiny linux/arm64
//! `FROM scratch` image (no qemu needed to build it) pushed to staging, its file written by
//! hand. Bad digest files are refused with nothing published; the dry runs list what runs.

mod common;

#[path = "common/trace.rs"]
mod trace;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value as Json};
use slipway_rig::services::Registry;
use xtask::targets::docker::registry::{parse_index, Client};

const BUSYBOX: &str = "/bin/busybox";

fn docker() -> Command {
    docker_cli("slipway-test-split-docker-config")
}

/// The engine, docker-registry, busybox and the tool venv (`cargo xtask provision`).
/// One test of this file at a time builds or removes images: the engine's legacy builder looks
/// through the images sharing a parent (for `FROM scratch`: every image without one) for a
/// cached step, and fails with "unable to find image" when another test removes one of them
/// meanwhile (seen in CI).
static ENGINE_IMAGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn engine_images() -> std::sync::MutexGuard<'static, ()> {
    ENGINE_IMAGES.lock().unwrap_or_else(|e| e.into_inner())
}

/// The engine, docker-registry, busybox and the tool venv are there: the lock on this file's
/// images while the test runs (`None`: skip, said loudly).
fn services() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) || !require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
    ) || !require(
        "busybox-static (cargo xtask provision)",
        Path::new(BUSYBOX).exists(),
    ) {
        return None;
    }
    xtask::targets::pypi::Venv::in_dir(
        &tools_dir(),
        "python-tools",
        xtask::targets::pypi::TOOL_REQUIREMENTS,
    )
    .ensure(Path::new("/"))
    .expect("tool venv");
    Some(engine_images())
}

/// The reference payload at `version` whose image is FROM scratch (busybox httpd serving
/// `/health` and `/version`), with `docker_toml` as its docker table; committed and tagged.
fn fixture(version: &str, docker_toml: &str) -> Repo {
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
        }
    }
    files.push((
        "Cargo.toml".into(),
        format!("[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n[workspace.metadata.release.docker]\n{docker_toml}"),
    ));
    files.push((
        "CHANGELOG.md".into(),
        format!("# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Added\n\n- Things.\n"),
    ));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    // Each fixture's layers its own (a label first): the engine's build cache is shared by the
    // tests running at once, and a test removing its image takes the untagged intermediate
    // images of an identical chain with it while another test builds on them.
    static FIXTURES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = FIXTURES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    files.push((
        "Dockerfile".into(),
        format!(
            "FROM scratch\nLABEL slipway.test.fixture=\"{}-{n}\"\nARG DIST=dist\nCOPY scratch/busybox /busybox\nCOPY scratch/www /www\nEXPOSE 8080\n\
             HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD [\"/busybox\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/health\"]\n\
             ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
            std::process::id()
        ),
    ));
    files.push((
        ".dockerignore".into(),
        // The image does not install the wheel (it builds while the dists are made): the dists
        // stay out of its build context.
        "*\n!scratch/\n".into(),
    ));
    files.push((
        "scratch/www/version".into(),
        format!("{{\"version\": \"{version}\"}}\n"),
    ));
    files.push((
        "scratch/www/health".into(),
        "{\"status\": \"healthy\"}\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    std::fs::copy(BUSYBOX, repo.path().join("scratch/busybox")).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "--amend", "--no-edit"]);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

fn table(staging: &Registry, prod: &[&Registry], platforms: &[&str]) -> String {
    let list: Vec<String> = prod.iter().map(|r| format!("\"{}\"", r.addr)).collect();
    let plats: Vec<String> = platforms.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "image = \"acme/app\"\nregistries = [{}]\nstaging-registry = \"{}\"\nplatforms = [{}]\nhealth = {{ timeout-s = 20 }}\n",
        list.join(", "),
        staging.addr,
        plats.join(", ")
    )
}

fn command(repo: &Repo, args: &[&str]) -> Command {
    let mut cmd = hermetic(BIN, repo.path());
    cmd.args(args)
        .env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env("NO_COLOR", "1")
        .env(
            "DOCKER_CONFIG",
            repo.path().join("target/user-docker-config"),
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("DOCKER_USERNAME")
        .env_remove("DOCKER_PASSWORD")
        .env_remove("GITHUB_ACTIONS");
    cmd
}

fn tool(repo: &Repo, args: &[&str]) -> Run {
    let out = command(repo, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Removes the local `<addr>/…` names pushing to the test registries leaves in the engine.
struct Untag(Vec<String>);

impl Drop for Untag {
    fn drop(&mut self) {
        let Ok(out) = docker()
            .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
        else {
            return;
        };
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| self.0.iter().any(|a| l.starts_with(&format!("{a}/"))))
            .map(str::to_string)
            .collect();
        if !names.is_empty() {
            let _ = docker().arg("rmi").args(&names).output();
        }
    }
}

fn digest_at(r: &Registry, reference: &str) -> Option<String> {
    Client::new(&r.addr, None)
        .manifest("acme/app", reference)
        .unwrap()
        .map(|m| m.digest)
}

fn tags_of(r: &Registry) -> Vec<String> {
    let Ok(mut resp) = ureq::get(format!("http://{}/v2/acme/app/tags/list", r.addr)).call() else {
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

fn read_json(repo: &Repo, path: &str) -> Json {
    serde_json::from_str(&repo.read(path)).unwrap()
}

/// A tiny FROM scratch image for `platform` holding `content`, pushed as `target`; its digest.
fn push_fabricated(target: &str, platform: &str, content: &str) -> String {
    push_scratch_image(&docker, target, Some(platform), content, true)
}

fn write_digest_file(repo: &Repo, name: &str, platform: &str, digest: &str, staging: &Registry) {
    repo.write(
        name,
        &json!({
            "platform": platform,
            "digest": digest,
            "repository": format!("{}/acme/app", staging.addr),
            "image_id": null,
        })
        .to_string(),
    );
}

/// Runs `docker-validate --platform linux/amd64 --push-by-digest` (dry run first: what it
/// lists); returns the digest file's digest, checked against the staging registry.
fn push_amd64(repo: &Repo, staging: &Registry) -> String {
    let dry = tool(
        repo,
        &[
            "docker-validate",
            "--platform",
            "linux/amd64",
            "--push-by-digest",
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.all());
    for line in [
        "docker-validate acme/app v4.1.0 (linux/amd64) --push-by-digest — dry run".to_string(),
        format!("push v4.1.0-amd64 to {}/acme/app", staging.addr),
        "record the pushed digest of linux/amd64 in".to_string(),
        "target/slipway/digests/amd64.json".to_string(),
    ] {
        assert!(
            dry.stdout.contains(&line),
            "dry run lacks {line:?}:\n{}",
            dry.stdout
        );
    }
    assert!(tags_of(staging).is_empty(), "the dry run pushed");

    let r = tool(
        repo,
        &[
            "docker-validate",
            "--platform",
            "linux/amd64",
            "--push-by-digest",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("linux/amd64: healthy after"),
        "{}",
        r.stdout
    );
    let file = read_json(repo, "target/slipway/digests/amd64.json");
    assert_eq!(file["platform"], "linux/amd64");
    assert_eq!(
        file["repository"],
        format!("{}/acme/app", staging.addr).as_str()
    );
    let digest = file["digest"].as_str().unwrap().to_string();
    assert!(xtask::core::sha256::valid_digest(&digest), "{file}");
    assert!(file["image_id"].as_str().unwrap().starts_with("sha256:"));
    // The digest is on staging, under the per-arch tag, and its config is the validated image.
    assert_eq!(
        digest_at(staging, &digest).as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(
        digest_at(staging, "v4.1.0-amd64").as_deref(),
        Some(digest.as_str())
    );
    let (_, manifest) = Client::new(&staging.addr, None)
        .manifest_json("acme/app", &digest)
        .unwrap()
        .unwrap();
    assert_eq!(manifest["config"]["digest"], file["image_id"]);
    assert_eq!(tags_of(staging), ["v4.1.0-amd64"]);

    // A re-run pushes nothing again and leaves the file as it is.
    let again = tool(
        repo,
        &[
            "docker-validate",
            "--platform",
            "linux/amd64",
            "--push-by-digest",
        ],
    );
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("already records"), "{}", again.stdout);
    assert_eq!(read_json(repo, "target/slipway/digests/amd64.json"), file);
    digest
}

/// `publish-prod --from-digests` under strace: no docker process at all.
fn publish_traced(repo: &Repo, files: &[&str]) -> (Run, Vec<Vec<String>>) {
    let mut args = vec![
        "publish-prod",
        "--only",
        "docker",
        "--skip-ci-check",
        "--from-digests",
    ];
    args.extend_from_slice(files);
    let cmd = command(repo, &args);
    if !trace::strace_works() {
        eprintln!("strace cannot trace here: the no-docker-process check is skipped");
        return (tool(repo, &args), Vec::new());
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, children) = trace::traced(&cmd, dir.path());
    (
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        },
        children,
    )
}

fn assert_no_docker(children: &[Vec<String>]) {
    let docker = xtask::targets::docker::engine::client();
    for argv in children {
        let prog = argv.first().map(String::as_str).unwrap_or_default();
        assert!(
            !(prog == docker || prog.ends_with("/docker")),
            "publish-prod --from-digests started {argv:?}"
        );
    }
}

#[test]
fn one_platform_pushed_by_digest_is_published_without_a_build() {
    let Some(_engine) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let staging = Registry::start(&dir.path().join("staging"), None).unwrap();
    let a = Registry::start(&dir.path().join("a"), None).unwrap();
    let b = Registry::start(&dir.path().join("b"), None).unwrap();
    let _untag = Untag(vec![staging.addr.clone(), a.addr.clone(), b.addr.clone()]);
    let repo = fixture("4.1.0", &table(&staging, &[&a, &b], &["linux/amd64"]));
    let digest = push_amd64(&repo, &staging);

    let dry = tool(
        &repo,
        &[
            "publish-prod",
            "--only",
            "docker",
            "--skip-ci-check",
            "--from-digests",
            "target/slipway/digests/amd64.json",
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(!dry.stdout.contains("docker build"), "{}", dry.stdout);
    for r in [&a, &b] {
        for t in ["v4.1.0", "latest"] {
            let put = format!("PUT http://{}/v2/acme/app/manifests/{t}", r.addr);
            assert!(
                dry.stdout.contains(&put),
                "dry run lacks {put}:\n{}",
                dry.stdout
            );
        }
    }
    assert!(
        tags_of(&a).is_empty() && tags_of(&b).is_empty(),
        "the dry run published"
    );

    let (r, children) = publish_traced(&repo, &["target/slipway/digests/amd64.json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_docker(&children);
    for reg in [&a, &b] {
        let tags = tags_of(reg);
        assert!(
            tags.contains(&"v4.1.0".to_string()) && tags.contains(&"latest".to_string()),
            "{tags:?}"
        );
        for t in &tags {
            assert_eq!(
                digest_at(reg, t).as_deref(),
                Some(digest.as_str()),
                "{}:{t}",
                reg.addr
            );
        }
    }
    // A re-run completes nothing more.
    let (again, _) = publish_traced(&repo, &["target/slipway/digests/amd64.json"]);
    assert_eq!(again.code, 0, "{}", again.all());
}

/// An image that does not install the wheel is built while the Python dists are made: one step
/// of two lanes, listed by the dry run with each lane's steps, each lane's time and the overlap
/// in the real run's output.
#[test]
fn an_image_without_the_wheel_builds_at_the_same_time_as_the_dists() {
    let Some(_engine) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let staging = Registry::start(&dir.path().join("staging"), None).unwrap();
    let _untag = Untag(vec![staging.addr.clone()]);
    let repo = fixture("4.3.0", &table(&staging, &[&staging], &["linux/amd64"]));
    let dry = tool(&repo, &["docker-validate", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains(
            "the builds that do not depend on each other, at the same time: python dists ("
        ) && dry.stdout.contains("‖ docker image (2 step(s))"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("[python dists] build sdist + wheel 4.3.0"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("[docker image] build image acme/app:v4.3.0"),
        "{}",
        dry.stdout
    );
    let r = tool(&repo, &["docker-validate"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let all = r.all();
    for want in ["python dists: ", "docker image: ", "overlap"] {
        assert!(all.contains(want), "{want:?} in\n{all}");
    }
    for line in all.lines().filter(|l| {
        l.contains("python dists: ") || l.contains("docker image: ") || l.contains("overlap")
    }) {
        eprintln!("{line}");
    }
    assert!(
        repo.path()
            .join("target/slipway/dist/4.3.0/slipway_demo-4.3.0-py3-none-any.whl")
            .exists(),
        "{all}"
    );
}

#[test]
fn two_platforms_make_an_index_of_exactly_those_digests() {
    let Some(_engine) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let staging = Registry::start(&dir.path().join("staging"), None).unwrap();
    let a = Registry::start(&dir.path().join("a"), None).unwrap();
    let b = Registry::start(&dir.path().join("b"), None).unwrap();
    let _untag = Untag(vec![staging.addr.clone(), a.addr.clone(), b.addr.clone()]);
    let repo = fixture(
        "4.1.0",
        &table(&staging, &[&a, &b], &["linux/amd64", "linux/arm64"]),
    );
    let amd = push_amd64(&repo, &staging);
    // The arm64 job, fabricated: a real linux/arm64 image on staging, its file by hand.
    let arm = push_fabricated(
        &format!("{}/acme/app:v4.1.0-arm64", staging.addr),
        "linux/arm64",
        "arm64 build",
    );
    write_digest_file(
        &repo,
        "target/slipway/digests/arm64.json",
        "linux/arm64",
        &arm,
        &staging,
    );
    let files = [
        "target/slipway/digests/arm64.json",
        "target/slipway/digests/amd64.json",
    ];
    let mut dry_args = vec![
        "publish-prod",
        "--only",
        "docker",
        "--skip-ci-check",
        "--dry-run",
        "--from-digests",
    ];
    dry_args.extend_from_slice(&files);
    let dry = tool(&repo, &dry_args);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let index = dry
        .stdout
        .lines()
        .find_map(|l| l.split("assemble the index ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no index in the dry run:\n{}", dry.stdout))
        .to_string();
    assert!(xtask::core::sha256::valid_digest(&index), "{index}");
    for reg in [&a, &b] {
        for t in [
            index.as_str(),
            amd.as_str(),
            arm.as_str(),
            "v4.1.0",
            "latest",
            "v4.1.0-amd64",
            "v4.1.0-arm64",
        ] {
            let put = format!("PUT http://{}/v2/acme/app/manifests/{t}", reg.addr);
            assert!(
                dry.stdout.contains(&put),
                "dry run lacks {put}:\n{}",
                dry.stdout
            );
        }
    }

    // The manifest writes the plan lists (`--dry-run --json`), per registry.
    dry_args.push("--json");
    let plan = tool(&repo, &dry_args);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let plan: Json = serde_json::from_str(&plan.stdout).unwrap();
    let mut puts = Vec::new();
    manifest_puts(&plan["steps"], &mut puts);
    let planned = |reg: &Registry| -> Vec<String> {
        let prefix = format!("http://{}/v2/acme/app/manifests/", reg.addr);
        let mut refs: Vec<String> = puts
            .iter()
            .filter_map(|u| u.strip_prefix(&prefix).map(str::to_string))
            .collect();
        refs.sort();
        refs.dedup();
        refs
    };
    assert_eq!(planned(&staging), vec![index.clone()]);

    let (r, children) = publish_traced(&repo, &files);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_no_docker(&children);
    // Exactly the tags the plan listed were set, and every manifest it listed is there.
    for reg in [&a, &b] {
        let refs = planned(reg);
        let tags: Vec<String> = refs
            .iter()
            .filter(|r| !r.starts_with("sha256:"))
            .cloned()
            .collect();
        assert_eq!(tags_of(reg), tags, "{}", reg.addr);
        for d in refs.iter().filter(|r| r.starts_with("sha256:")) {
            assert_eq!(digest_at(reg, d).as_ref(), Some(d), "{}@{d}", reg.addr);
        }
    }
    // The index the dry run announced is on staging and both productions, and lists exactly
    // the two digests, each with its config's platform.
    for reg in [&staging, &a, &b] {
        let (m, body) = Client::new(&reg.addr, None)
            .manifest_raw("acme/app", &index)
            .unwrap()
            .unwrap_or_else(|| panic!("{} lacks the index", reg.addr));
        assert_eq!(m.digest, index);
        let listed: Vec<(String, String)> = parse_index(&serde_json::from_str(&body).unwrap())
            .into_iter()
            .map(|p| (p.platform, p.digest))
            .collect();
        assert_eq!(
            listed,
            [
                ("linux/amd64".to_string(), amd.clone()),
                ("linux/arm64".to_string(), arm.clone())
            ]
        );
    }
    for reg in [&a, &b] {
        let tags = tags_of(reg);
        assert!(tags.contains(&"latest".to_string()), "{tags:?}");
        for t in &tags {
            let want = match t.as_str() {
                "v4.1.0-amd64" => &amd,
                "v4.1.0-arm64" => &arm,
                _ => &index,
            };
            assert_eq!(digest_at(reg, t).as_ref(), Some(want), "{}:{t}", reg.addr);
        }
    }
}

/// Every `PUT …/manifests/<ref>` URL in a plan's JSON.
fn manifest_puts(j: &Json, out: &mut Vec<String>) {
    match j {
        Json::Object(m) => {
            if m.get("method").and_then(Json::as_str) == Some("PUT") {
                if let Some(u) = m.get("url").and_then(Json::as_str) {
                    if u.contains("/manifests/") {
                        out.push(u.to_string());
                    }
                }
            }
            m.values().for_each(|v| manifest_puts(v, out));
        }
        Json::Array(a) => a.iter().for_each(|v| manifest_puts(v, out)),
        _ => {}
    }
}

#[test]
fn bad_digest_files_are_refused_and_nothing_is_published() {
    let Some(_engine) = services() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let staging = Registry::start(&dir.path().join("staging"), None).unwrap();
    let a = Registry::start(&dir.path().join("a"), None).unwrap();
    let _untag = Untag(vec![staging.addr.clone(), a.addr.clone()]);
    let repo = fixture(
        "4.1.0",
        &table(&staging, &[&a], &["linux/amd64", "linux/arm64"]),
    );
    let arm = push_fabricated(
        &format!("{}/acme/app:v4.1.0-arm64", staging.addr),
        "linux/arm64",
        "arm64",
    );
    let missing = format!("sha256:{}", "0".repeat(64));
    write_digest_file(&repo, "d/gone.json", "linux/amd64", &missing, &staging);
    write_digest_file(&repo, "d/s390x.json", "linux/s390x", &arm, &staging);
    write_digest_file(&repo, "d/arm-1.json", "linux/arm64", &arm, &staging);
    write_digest_file(&repo, "d/arm-2.json", "linux/arm64", &arm, &staging);
    write_digest_file(&repo, "d/liar.json", "linux/amd64", &arm, &staging);
    repo.write("d/junk.json", "not json");
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["d/gone.json", "d/arm-1.json"],
            &["is not on the staging registry"],
        ),
        (
            &["d/s390x.json"],
            &[
                "linux/s390x, which is not a configured platform",
                "has no file for linux/amd64",
            ],
        ),
        (
            &["d/arm-1.json", "d/arm-2.json"],
            &["are both for linux/arm64"],
        ),
        (
            &["d/liar.json", "d/arm-1.json"],
            &["says linux/amd64, but the image", "is linux/arm64"],
        ),
        (
            &["d/junk.json", "d/nope.json"],
            &["d/junk.json is not JSON", "d/nope.json: cannot read it"],
        ),
    ];
    for (files, said) in cases {
        for dry in [true, false] {
            let mut args = vec![
                "publish-prod",
                "--only",
                "docker",
                "--skip-ci-check",
                "--from-digests",
            ];
            args.extend_from_slice(files);
            if dry {
                args.push("--dry-run");
            }
            let r = tool(&repo, &args);
            assert_eq!(r.code, 2, "{files:?}: {}", r.all());
            for s in said {
                assert!(r.stderr.contains(s), "{files:?}: no {s:?} in\n{}", r.stderr);
            }
            assert!(tags_of(&a).is_empty(), "{files:?} published something");
        }
    }
    // Only the image the fabricated arm64 push left on staging, nothing more.
    assert_eq!(tags_of(&staging), ["v4.1.0-arm64"]);
    // Not docker in --only: refused as a usage error.
    let r = tool(
        &repo,
        &[
            "publish-prod",
            "--only",
            "pypi",
            "--from-digests",
            "d/arm-1.json",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("add docker to --only"), "{}", r.stderr);
}

#[test]
fn push_by_digest_needs_one_platform_and_a_staging_registry() {
    let repo = fixture("4.1.0", "image = \"acme/app\"\nregistries = [\"127.0.0.1:1\"]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n");
    let r = tool(&repo, &["docker-validate", "--push-by-digest", "--dry-run"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("pass --platform P (one of linux/amd64, linux/arm64)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("set `staging-registry`"), "{}", r.stderr);
    // The matrix of the workflow's build job.
    let r = tool(&repo, &["docker-validate", "--list-platforms", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let m: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        m,
        json!({"include": [
            {"platform": "linux/amd64", "arch": "amd64", "runner": "ubuntu-24.04"},
            {"platform": "linux/arm64", "arch": "arm64", "runner": "ubuntu-24.04-arm"},
        ]})
    );
}

#[test]
fn the_release_workflow_is_zizmor_clean_and_splits_per_platform() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wf = std::fs::read_to_string(root.join(".github/workflows/release.yml")).unwrap();
    for want in [
        "docker-validate --list-platforms --json",
        "--push-by-digest",
        "--from-digests digests/*.json",
        "docker-validate --dist-only",
        "environment: release",
        "id-token: write",
        "runs-on: ${{ matrix.runner }}",
        "force_publish",
        "skip_tests",
    ] {
        assert!(wf.contains(want), "release.yml lacks {want:?}");
    }
    // Inputs reach `run:` through env only.
    for line in wf.lines().filter(|l| l.trim_start().starts_with("run:")) {
        assert!(!line.contains("${{"), "expression in run: {line}");
    }
    let zizmor = xtask::targets::pypi::Venv::in_dir(
        &tools_dir(),
        "zizmor",
        xtask::targets::pypi::ZIZMOR_REQUIREMENTS,
    )
    .dir
    .join("bin/zizmor");
    if !require("zizmor (cargo xtask provision)", zizmor.exists()) {
        return;
    }
    let out = Command::new(&zizmor)
        .args(["--offline", "--no-progress"])
        .arg(root.join(".github/workflows/release.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zizmor: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rehearse <args> --dry-run` on this repository: its stdout.
fn rehearse_dry_run(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dry = Command::new(BIN)
        .arg("-C")
        .arg(&root)
        .args(args)
        .arg("--dry-run")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.status.success(), "{text}");
    text
}

/// `rehearse <args>` on this repository, which must pass: everything it printed, and its report.
fn rehearse_passes(args: &[&str]) -> (String, Json) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(BIN)
        .arg("-C")
        .arg(&root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the rehearsal failed:\n{}",
        &all[all.len().saturating_sub(8000)..]
    );
    let report = all
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("rehearsal-") && w.ends_with(".json"))
        })
        .unwrap_or_else(|| panic!("no report path in:\n{all}"));
    let report: Json = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["status"], "success", "{report:#}");
    (all, report)
}

/// `rehearse --split` on this repository (one platform, amd64, for real): one
/// `docker-validate --push-by-digest` process per platform, then `publish-prod --from-digests`;
/// the report gives each platform's time and the total. (Two real platforms: the next test.)
#[test]
fn rehearse_split_validates_per_platform_then_publishes_from_the_digests() {
    if !require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) {
        return;
    }
    let _engine = engine_images();
    let text = rehearse_dry_run(&["rehearse", "--split"]);
    for want in [
        "docker-validate: one process per platform, in parallel (linux/amd64)",
        "docker-validate --platform linux/amd64 --push-by-digest --digest-file",
        "publish-prod --from-digests",
    ] {
        assert!(text.contains(want), "the dry run lacks {want:?}:\n{text}");
    }
    let (all, report) = rehearse_passes(&["rehearse", "--split"]);
    assert!(
        all.contains("linux/amd64: validated and pushed in"),
        "{all}"
    );
    let split = &report["split"];
    assert_eq!(
        split["platforms"][0]["platform"], "linux/amd64",
        "{report:#}"
    );
    assert_eq!(split["platforms"][0]["ok"], true, "{report:#}");
    assert!(split["wall_ms"].as_u64().unwrap() > 0, "{report:#}");
    // One platform is published as the image itself: the check read that it is the one the
    // platform process validated.
    assert_eq!(
        split["validated"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    assert_eq!(
        split["validated"][0]["platform"], "linux/amd64",
        "{report:#}"
    );
}

/// `rehearse --platform linux/amd64 --platform linux/arm64` on this repository: both images
/// built for real (arm64 under qemu binfmt, from its own base image), each validated and pushed
/// by digest in its own process at the same time, then published from their digest files; the
/// rehearsal's last check reads the index back from both production registries and it must list
/// exactly the two validated digests (no rebuild on the way). Needs `SLIPWAY_ARM64=1 cargo xtask
/// provision`; required when SLIPWAY_ARM64=1 (as CI runs), skipped loudly otherwise.
#[test]
fn rehearse_two_platforms_publishes_exactly_the_validated_digests() {
    let binfmt = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|s| s.starts_with("enabled"));
    let base = xtask::targets::docker::engine::BASE_IMAGE;
    let has = |image: &str| {
        docker()
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ready = xtask::targets::docker::engine::is_up()
        && binfmt
        && has(&format!("{base}-arm64"))
        && has(&format!("{base}-amd64"));
    if !ready {
        if std::env::var("SLIPWAY_ARM64").is_ok_and(|v| v == "1") {
            panic!("SLIPWAY_ARM64=1 but the arm64 base image or qemu binfmt is missing: run `SLIPWAY_ARM64=1 cargo xtask provision`");
        }
        eprintln!("SKIPPED: rehearse_two_platforms_publishes_exactly_the_validated_digests (run SLIPWAY_ARM64=1 cargo xtask provision)");
        return;
    }
    let _engine = engine_images();
    let two = [
        "rehearse",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
    ];
    let text = rehearse_dry_run(&two);
    for want in [
        "docker-validate --dist-only",
        "docker-validate: one process per platform, in parallel (linux/amd64, linux/arm64)",
        "docker-validate --platform linux/arm64 --push-by-digest --digest-file",
        "publish-prod --from-digests",
        "lists exactly the digests the per-platform steps validated (linux/amd64, linux/arm64)",
    ] {
        assert!(text.contains(want), "the dry run lacks {want:?}:\n{text}");
    }
    let (all, report) = rehearse_passes(&two);
    let split = &report["split"];
    let platforms: Vec<&str> = split["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["ok"], true, "{report:#}");
            p["platform"].as_str().unwrap()
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{report:#}");
    let validated = split["validated"].as_array().unwrap();
    assert_eq!(validated.len(), 2, "{report:#}");
    let digests: Vec<&str> = validated
        .iter()
        .map(|v| v["digest"].as_str().unwrap())
        .collect();
    assert_ne!(
        digests[0], digests[1],
        "two platforms, two images: {report:#}"
    );
    // The check passed, naming both digests as what every production registry serves.
    for d in &digests {
        assert!(
            all.lines()
                .any(|l| l.contains("check that the index") && l.contains(d)),
            "the index check does not name {d}:\n{all}"
        );
    }
    eprintln!(
        "two platforms: all in {} ms, the sum of their times {} ms",
        split["wall_ms"], split["sum_ms"]
    );
}

/// A platform the rig has no base image for is refused before anything runs: exit 2, one line
/// naming the platforms it can rehearse, no sandbox made.
#[test]
fn rehearse_refuses_a_platform_the_rig_cannot_provision() {
    // No other rehearsal of this file makes a sandbox meanwhile.
    let _engine = engine_images();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sandboxes = root.join("target/slipway/rehearsals");
    let before = std::fs::read_dir(&sandboxes)
        .map(|d| d.count())
        .unwrap_or(0);
    let out = Command::new(BIN)
        .arg("-C")
        .arg(&root)
        .args(["rehearse", "--platform", "linux/riscv64"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--platform `linux/riscv64` cannot be rehearsed")
            && stderr.contains("linux/amd64 and linux/arm64"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = std::fs::read_dir(&sandboxes)
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(after <= before, "a sandbox was made");
}
