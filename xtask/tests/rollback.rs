//! `rollback` end to end: two real registries (Debian's docker-registry, one with htpasswd)
//! holding 1.2.0 and 1.3.0 under the tag plan's tags, the real `gh` against the GitHub stand-in
//! (every request checked against GitHub's REST contract). 1.3.0 rolled back to 1.2.0: the
//! moving tags hold 1.2.0's digest on both registries, the exact and sha- tags are untouched,
//! GitHub's latest is v1.2.0 and v1.3.0's notes carry the banner; again → nothing to do; the dry
//! run lists exactly the requests the real run made; a registry down → the other rolls back, exit
//! 1 naming it, and once it is back a re-run finishes. Bad input is refused before anything runs.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value as Json};
use slipway_rig::services::Registry;
use slipway_rig::standin::Standin;
use xtask::core::sha256::digest_hex;

const USER: &str = "roller";
const PASSWORD: &str = "pw-ROLLBACK-4b2d91-secret";
const GH_SECRET: &str = "ghs-ROLLBACK-77aa01-secret";
const MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

fn basic(creds: Option<(&str, &str)>) -> Option<String> {
    creds.map(|(u, p)| {
        format!(
            "Basic {}",
            xtask::targets::docker::registry::base64(format!("{u}:{p}").as_bytes())
        )
    })
}

/// Uploads a blob (monolithic: POST, then PUT with the digest); returns its digest.
fn put_blob(addr: &str, creds: Option<(&str, &str)>, path: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", digest_hex(data));
    let a = agent();
    let mut post = a.post(format!("http://{addr}/v2/{path}/blobs/uploads/"));
    if let Some(b) = basic(creds) {
        post = post.header("Authorization", b);
    }
    let resp = post.send_empty().unwrap();
    assert_eq!(resp.status().as_u16(), 202, "starting an upload");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let mut url = if location.starts_with('/') {
        format!("http://{addr}{location}")
    } else {
        location
    };
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&format!("digest={digest}"));
    let mut put = a
        .put(&url)
        .header("Content-Type", "application/octet-stream");
    if let Some(b) = basic(creds) {
        put = put.header("Authorization", b);
    }
    let resp = put.send(data).unwrap();
    assert_eq!(resp.status().as_u16(), 201, "uploading a blob");
    digest
}

/// Pushes a tiny image (one layer holding `content`) under each of `tags`; returns the digest.
fn push_image(
    addr: &str,
    creds: Option<(&str, &str)>,
    path: &str,
    content: &str,
    tags: &[String],
) -> String {
    let layer = content.as_bytes();
    let layer_digest = put_blob(addr, creds, path, layer);
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"content": content}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string();
    let config_digest = put_blob(addr, creds, path, config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": layer_digest}],
    })
    .to_string();
    for tag in tags {
        let mut put = agent()
            .put(format!("http://{addr}/v2/{path}/manifests/{tag}"))
            .header("Content-Type", MANIFEST);
        if let Some(b) = basic(creds) {
            put = put.header("Authorization", b);
        }
        let resp = put.send(manifest.as_bytes()).unwrap();
        assert_eq!(resp.status().as_u16(), 201, "putting {tag}");
    }
    format!("sha256:{}", digest_hex(manifest.as_bytes()))
}

/// What `tag` resolves to on a registry (through the tool's own client).
fn digest_of(reg: &Registry, path: &str, tag: &str) -> Option<String> {
    let creds = reg.credentials.clone();
    let mut c = xtask::targets::docker::registry::Client::new(
        &reg.addr,
        creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
    );
    c.manifest(path, tag).unwrap().map(|m| m.digest)
}

struct World {
    plain: Registry,
    auth: Registry,
    plain_dir: tempfile::TempDir,
    _auth_dir: tempfile::TempDir,
    standin: Standin,
    gh_config: tempfile::TempDir,
}

fn world() -> Option<World> {
    let gh = Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh) {
        return None;
    }
    if !require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
    ) {
        return None;
    }
    let plain_dir = tempfile::tempdir().unwrap();
    let auth_dir = tempfile::tempdir().unwrap();
    let plain = Registry::start(plain_dir.path(), None).unwrap();
    let auth = Registry::start(auth_dir.path(), Some((USER, PASSWORD))).unwrap();
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    Some(World {
        plain,
        auth,
        plain_dir,
        _auth_dir: auth_dir,
        standin,
        gh_config: tempfile::tempdir().unwrap(),
    })
}

/// The tags the tag plan gives 1.2.0 and then 1.3.0 (default policy), by release.
fn tag_plan(v: &str, short: &str) -> Vec<String> {
    let ver = semver::Version::parse(v).unwrap();
    vec![
        format!("v{v}"),
        format!("v{}.{}", ver.major, ver.minor),
        format!("v{}", ver.major),
        "latest".into(),
        format!("sha-{short}"),
    ]
}

/// A repository with releases 1.2.0 and 1.3.0 (tags on two commits), `extra` appended to its
/// Cargo.toml; both releases pushed to both registries under `image` as the tag plan names them.
/// Returns the repository and (1.2.0's digest, 1.3.0's digest, the two short commits).
fn released(w: &World, image: &str, extra: &str) -> (Repo, [String; 4]) {
    let cargo = format!(
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.docker]\nimage = \"{image}\"\nregistries = [\"{}\", \"{}\"]\n{extra}",
        w.plain.addr, w.auth.addr
    );
    let repo = Repo::new(&[
        ("Cargo.toml", &cargo),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"1.2.0\"\n",
        ),
    ]);
    repo.git(&["tag", "-a", "v1.2.0", "-m", "release 1.2.0"]);
    let short1 = repo
        .git(&["rev-parse", "--short=7", "HEAD"])
        .trim()
        .to_string();
    repo.write(
        "pyproject.toml",
        "[project]\nname = \"acme-app\"\nversion = \"1.3.0\"\n",
    );
    repo.git(&["commit", "-qam", "feat: 1.3.0"]);
    repo.git(&["tag", "-a", "v1.3.0", "-m", "release 1.3.0"]);
    let short2 = repo
        .git(&["rev-parse", "--short=7", "HEAD"])
        .trim()
        .to_string();
    let mut digests = Vec::new();
    for (v, short) in [("1.2.0", &short1), ("1.3.0", &short2)] {
        let tags = tag_plan(v, short);
        let d1 = push_image(&w.plain.addr, None, image, v, &tags);
        let d2 = push_image(&w.auth.addr, Some((USER, PASSWORD)), image, v, &tags);
        assert_eq!(d1, d2, "the same image on both registries");
        digests.push(d1);
    }
    (
        repo,
        [digests[0].clone(), digests[1].clone(), short1, short2],
    )
}

/// `gh` against the stand-in (setup and checks).
fn gh(w: &World, args: &[&str]) -> Json {
    let out = Command::new("gh")
        .args(args)
        .envs(w.standin.gh_env(w.gh_config.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Json::Null)
}

/// The tool in `repo`, with the registry credentials and gh pointed at the stand-in.
fn tool(w: &World, repo: &Repo, args: &[&str]) -> Run {
    let mut c = hermetic(BIN, repo.path());
    for (k, v) in w.standin.gh_env(w.gh_config.path()) {
        // The proxy is for gh alone: slipway hands SLIPWAY_GH_PROXY to gh processes only.
        if k.to_ascii_lowercase().ends_with("_proxy") {
            continue;
        }
        c.env(k, v);
    }
    let out = c
        .args(args)
        .env("SLIPWAY_GH_PROXY", w.standin.url())
        .env("GH_TOKEN", GH_SECRET)
        .env("GH_ENTERPRISE_TOKEN", GH_SECRET)
        .env("DOCKER_USERNAME", USER)
        .env("DOCKER_PASSWORD", PASSWORD)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn json_of(r: &Run) -> Json {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", r.all()))
}

/// Does `got` match `template`, each `<…>` in it standing for one value?
fn matches_template(template: &str, got: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        parts.push(&rest[..start]);
        rest = &rest[start + end + 1..];
    }
    parts.push(rest);
    let mut at = 0;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            if !got.starts_with(p) {
                return false;
            }
            at = p.len();
        } else if i == parts.len() - 1 {
            return got.len() >= at && got[at..].ends_with(p);
        } else {
            match got[at..].find(p) {
                Some(k) => at += k + p.len(),
                None => return false,
            }
        }
    }
    got == template
}

/// The registry requests a dry-run plan lists for its apply lanes: (lane, `METHOD url`).
fn planned_registry_requests(plan: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for step in plan["steps"].as_array().unwrap() {
        for sub in step["apply"].as_array().unwrap() {
            if sub["kind"] != "parallel" {
                continue;
            }
            for lane in sub["lanes"].as_array().unwrap() {
                for s in lane["subs"].as_array().unwrap() {
                    for r in s["requests"].as_array().into_iter().flatten() {
                        out.push((
                            lane["label"].as_str().unwrap().to_string(),
                            format!(
                                "{} {}",
                                r["method"].as_str().unwrap(),
                                r["url"].as_str().unwrap()
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The requests the report says each moved tag took: (repository, `METHOD url`).
fn reported_requests(report: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in report["registries"].as_array().unwrap() {
        for t in r["tags"].as_array().unwrap() {
            for q in t["requests"].as_array().into_iter().flatten() {
                out.push((
                    r["repository"].as_str().unwrap().to_string(),
                    q.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

fn tag_results(report: &Json, repository: &str) -> Vec<(String, String)> {
    let r = report["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == repository)
        .unwrap_or_else(|| panic!("no {repository} in {report:#}"));
    r["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_string(),
                t["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_no_secret(r: &Run, repo: &Repo) {
    for s in [PASSWORD, GH_SECRET] {
        assert!(!r.all().contains(s), "a secret leaked:\n{}", r.all());
        for f in files_under(&repo.path().join("target")) {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            assert!(!text.contains(s), "a secret in {}", f.display());
        }
    }
}

#[test]
fn rolls_back_every_registry_and_github_then_nothing_to_do() {
    let Some(w) = world() else {
        return;
    };
    // The deploy hook: a script recording its argv next to itself.
    let hook_dir = tempfile::tempdir().unwrap();
    let hook = hook_dir.path().join("deploy");
    std::fs::write(&hook, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$0.log\"\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let deployed = || std::fs::read_to_string(hook.with_extension("log")).unwrap_or_default();
    let (repo, [d120, d130, short1, short2]) = released(
        &w,
        "acme/app",
        &format!(
            "\n[workspace.metadata.release.github]\nrepo = \"acme/app\"\n\
             \n[workspace.metadata.release.deploy]\ncommand = [\"{}\", \"{{version}}\", \"{{tag}}\", \"{{digest}}\"]\n\
             environment = \"staging\"\ngithub-deployment = false\n",
            hook.display()
        ),
    );
    for tag in ["v1.2.0", "v1.3.0"] {
        gh(
            &w,
            &[
                "api",
                "-X",
                "POST",
                "repos/acme/app/releases",
                "-f",
                &format!("tag_name={tag}"),
                "-f",
                &format!("body=Notes of {tag}."),
            ],
        );
    }
    assert_eq!(
        gh(&w, &["api", "repos/acme/app/releases/latest"])["tag_name"],
        "v1.3.0"
    );
    let repos = [
        format!("{}/acme/app", w.plain.addr),
        format!("{}/acme/app", w.auth.addr),
    ];

    // The dry run changes nothing and lists every request.
    let dry = tool(&w, &repo, &["rollback", "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let plan = json_of(&dry);
    assert_eq!(plan["bad"], "1.3.0");
    assert_eq!(plan["good"], "1.2.0");
    assert_eq!(
        plan["pypi"]["page"],
        "https://pypi.org/manage/project/acme-app/release/1.3.0/"
    );
    assert_eq!(
        digest_of(&w.plain, "acme/app", "latest"),
        Some(d130.clone())
    );
    let before = w.standin.exchanges().len();

    assert_eq!(deployed(), "", "the dry run deploys nothing");
    assert!(
        dry.stdout.contains(&hook.display().to_string()),
        "{}",
        dry.stdout
    );

    // The real run.
    let r = tool(&w, &repo, &["rollback", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // The deploy hook ran once, with the good release and its digest.
    assert_eq!(deployed(), format!("1.2.0 v1.2.0 {d120}\n"));
    assert_no_secret(&r, &repo);
    let report = json_of(&r);
    assert_eq!(report["status"], "success", "{report:#}");
    let saved: Json =
        serde_json::from_str(&repo.read("target/slipway/rollback-1.3.0.json")).unwrap();
    assert_eq!(saved, report);
    for (reg, name) in [(&w.plain, &repos[0]), (&w.auth, &repos[1])] {
        for tag in ["latest", "v1", "v1.3"] {
            assert_eq!(
                digest_of(reg, "acme/app", tag).as_ref(),
                Some(&d120),
                "{name}:{tag}"
            );
        }
        // Never touched: the exact tags, the sha- tags, and 1.2.0's own line.
        assert_eq!(digest_of(reg, "acme/app", "v1.3.0"), Some(d130.clone()));
        assert_eq!(
            digest_of(reg, "acme/app", &format!("sha-{short2}")),
            Some(d130.clone())
        );
        assert_eq!(
            digest_of(reg, "acme/app", &format!("sha-{short1}")),
            Some(d120.clone())
        );
        assert_eq!(digest_of(reg, "acme/app", "v1.2"), Some(d120.clone()));
        assert_eq!(
            tag_results(&report, name),
            [("v1.3", "moved"), ("v1", "moved"), ("latest", "moved")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
    let moved = &report["registries"][0]["tags"][0];
    assert_eq!(moved["from"], d130.as_str());
    assert_eq!(moved["to"], d120.as_str());
    // GitHub: v1.2.0 is the latest, v1.3.0 carries the banner above its notes.
    assert_eq!(
        gh(&w, &["api", "repos/acme/app/releases/latest"])["tag_name"],
        "v1.2.0"
    );
    let bad = gh(&w, &["api", "repos/acme/app/releases/tags/v1.3.0"]);
    assert_eq!(
        bad["body"],
        format!(
            "{}Notes of v1.3.0.",
            xtask::targets::github::rollback_banner(DATE, "v1.2.0")
        )
    );
    assert!(bad["body"]
        .as_str()
        .unwrap()
        .starts_with("> **Rolled back** on 2026-11-21: this release was rolled back to v1.2.0."));
    w.standin.ensure_no_violations().unwrap();

    // The dry run listed exactly the requests the real run made: the registries' …
    let planned = planned_registry_requests(&plan);
    let made = reported_requests(&report);
    assert_eq!(planned.len(), made.len(), "{planned:#?}\n{made:#?}");
    for ((pl, pr), (ml, mr)) in planned.iter().zip(&made) {
        assert_eq!(pl, ml);
        assert!(matches_template(pr, mr), "planned {pr}, made {mr}");
    }
    assert!(made
        .iter()
        .any(|(_, m)| m == &format!("GET http://{}/v2/acme/app/manifests/{d120}", w.auth.addr)));
    // … and GitHub's writes (its reads are the steps' observations).
    let writes: Vec<String> = w.standin.exchanges()[before..]
        .iter()
        .filter(|e| e.method != "GET")
        .map(|e| format!("{} {}", e.method, e.target))
        .collect();
    let planned_writes: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["apply"].as_array().unwrap().clone())
        .filter(|s| s["kind"] == "run" && s["program"] == "gh")
        .map(|s| {
            let args: Vec<&str> = s["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let x = args.iter().position(|a| *a == "-X").unwrap();
            format!("{} /{}", args[x + 1], args[x + 2])
        })
        .collect();
    assert_eq!(
        planned_writes.len(),
        writes.len(),
        "{planned_writes:?} vs {writes:?}"
    );
    for (p, m) in planned_writes.iter().zip(&writes) {
        assert!(matches_template(p, m), "planned {p}, made {m}");
    }

    // Again: nothing to do, exit 0, and nothing written.
    let before = w.standin.exchanges().len();
    let r = tool(&w, &repo, &["rollback", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let again = json_of(&r);
    for name in &repos {
        assert_eq!(
            tag_results(&again, name),
            [
                ("v1.3", "already"),
                ("v1", "already"),
                ("latest", "already")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
    let statuses: Vec<&str> = again["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    // The registry logins are tried first; the registries and GitHub have nothing to do; the
    // deploy is applied again (a rollback whose deploy failed completes on a re-run), with the
    // same release.
    assert_eq!(
        statuses[..4],
        ["done", "skipped", "skipped", "skipped"],
        "{again:#}"
    );
    assert_eq!(statuses.len(), 5, "{again:#}");
    assert_eq!(deployed(), format!("1.2.0 v1.2.0 {d120}\n").repeat(2));
    assert!(w.standin.exchanges()[before..]
        .iter()
        .all(|e| e.method == "GET"));
    // The human report says the same.
    let r = tool(&w, &repo, &["rollback"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "  {}: nothing to do\n    v1.3 already at {d120}",
            repos[0]
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("yank acme-app 1.3.0 by hand")
            && r.stdout.contains("cargo xtask verify 1.3.0 --yanked"),
        "{}",
        r.stdout
    );
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn a_registry_down_fails_alone_and_a_rerun_finishes() {
    let Some(mut w) = world() else {
        return;
    };
    let (repo, [d120, d130, ..]) = released(&w, "acme/two", "");
    // A moving tag someone pointed elsewhere is left alone and reported.
    let other = push_image(
        &w.auth.addr,
        Some((USER, PASSWORD)),
        "acme/two",
        "hotfix",
        &["v1.3".to_string()],
    );
    let (plain, auth) = (
        format!("{}/acme/two", w.plain.addr),
        format!("{}/acme/two", w.auth.addr),
    );

    w.plain.stop();
    let r = tool(&w, &repo, &["rollback", "1.3.0", "--to", "1.2.0"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "rolling back failed for {plain}: registry {}",
            w.plain.addr
        )),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr
            .contains(&format!("rolling back failed for {auth}")),
        "{}",
        r.stderr
    );
    assert_no_secret(&r, &repo);
    let report: Json =
        serde_json::from_str(&repo.read("target/slipway/rollback-1.3.0.json")).unwrap();
    assert_eq!(report["status"], "failure");
    let down = report["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["repository"] == plain.as_str())
        .unwrap();
    assert_eq!(down["status"], "failed");
    assert!(
        down["error"].as_str().unwrap().contains("unreachable"),
        "{down}"
    );
    assert_eq!(
        tag_results(&report, &auth),
        [("v1.3", "left"), ("v1", "moved"), ("latest", "moved")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(
        r.stdout.contains(&format!("  {plain}: failed: ")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "    v1.3 left alone at {other} (points at neither v1.3.0 nor v1.2.0)"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(digest_of(&w.auth, "acme/two", "latest"), Some(d120.clone()));
    assert_eq!(digest_of(&w.auth, "acme/two", "v1.3"), Some(other.clone()));

    // Back on the same port with the same storage: the re-run finishes the plain registry only.
    w.plain = Registry::start_on(w.plain_dir.path(), None, w.plain.port()).unwrap();
    assert_eq!(
        digest_of(&w.plain, "acme/two", "latest"),
        Some(d130.clone())
    );
    let r = tool(&w, &repo, &["rollback", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = json_of(&r);
    assert_eq!(
        tag_results(&report, &plain),
        [("v1.3", "moved"), ("v1", "moved"), ("latest", "moved")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        tag_results(&report, &auth),
        [("v1.3", "left"), ("v1", "already"), ("latest", "already")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for tag in ["latest", "v1", "v1.3"] {
        assert_eq!(
            digest_of(&w.plain, "acme/two", tag),
            Some(d120.clone()),
            "{tag}"
        );
    }
    assert_eq!(digest_of(&w.plain, "acme/two", "v1.3.0"), Some(d130));
}

/// A repository with only the Python target (nothing to reach), tagged `tags`.
fn tagged(tags: &[&str]) -> Repo {
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"1.0.0\"\n",
        ),
    ]);
    for t in tags {
        repo.commit(&format!("release {t}"));
        repo.git(&["tag", t]);
    }
    repo
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let repo = tagged(&["v1.2.0", "v1.3.0", "v2.0.0"]).with_remote();
    repo.git(&["push", "-q", "origin", "--tags"]);
    let snapshot = repo.snapshot();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["rollback", "1.x"], 2, "invalid version `1.x` for <bad-version>"),
        (&["rollback", "--to", "one"], 2, "invalid version `one` for --to"),
        (&["rollback", "1.4.0"], 1, "there is no release tag v1.4.0"),
        (
            &["rollback", "1.3.0", "--to", "1.2.5"],
            1,
            "there is no release tag v1.2.5 to roll back to: pass --to",
        ),
        (
            &["rollback", "1.3.0", "--to", "2.0.0"],
            2,
            "--to v2.0.0 is not lower than v1.3.0",
        ),
        // The newest is 2.0.0, alone in its line.
        (
            &["rollback"],
            1,
            "nothing to roll back to: there is no stable release of the 2.x line below v2.0.0; pass --to <version>",
        ),
        (
            &["rollback", "1.2.0"],
            1,
            "nothing to roll back to: there is no stable release of the 1.x line below v1.2.0",
        ),
    ];
    for (args, code, msg) in cases {
        let r = repo.run(args);
        assert_eq!(r.code, *code, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(msg), "{args:?}: {}", r.stderr);
    }
    assert_eq!(repo.snapshot(), snapshot, "nothing changed");

    // The remote's tags count too (a clone that lacks one locally still sees it).
    repo.git(&["tag", "-d", "v2.0.0"]);
    let r = repo.run(&["rollback", "--dry-run", "--to", "1.2.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let plan = json_of(&r);
    assert_eq!(plan["bad"], "2.0.0");
    assert_eq!(plan["good"], "1.2.0");
    let r = repo.run(&["rollback", "--dry-run"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("below v2.0.0; pass --to <version>"),
        "{}",
        r.stderr
    );

    // No release tag at all.
    let r = tagged(&[]).run(&["rollback"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("there is no stable release tag (vX.Y.Z)"),
        "{}",
        r.stderr
    );
}
