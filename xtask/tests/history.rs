//! The release ledger end to end: git notes `refs/notes/slipway` on the release commits of a
//! repository with a bare remote. Three releases' publish records (seeded with `git notes`,
//! with known stage and step times) and a real `rollback` against Debian's docker-registry make
//! four records; `history --json` lists them with per-stage durations and the comparison
//! figures; the rollback's own run pushed the notes; a second clone sees the same history after
//! fetching them; two clones appending at once merge (`cat_sort_uniq`). The HTML page renders in
//! headless Chromium with one row per release, and a screenshot is taken.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value as Json};
use slipway_rig::services::Registry;
use xtask::core::sha256::digest_hex;

const MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const IMAGE: &str = "acme/app";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

fn put_blob(addr: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", digest_hex(data));
    let a = agent();
    let resp = a
        .post(format!("http://{addr}/v2/{IMAGE}/blobs/uploads/"))
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "starting an upload");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let mut url = if location.starts_with('/') {
        format!("http://{addr}{location}")
    } else {
        location
    };
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&format!("digest={digest}"));
    let resp = a
        .put(&url)
        .header("Content-Type", "application/octet-stream")
        .send(data)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201, "uploading a blob");
    digest
}

/// A tiny image (one layer holding `content`) under each of `tags`; returns its digest.
fn push_image(addr: &str, content: &str, tags: &[String]) -> String {
    let layer = content.as_bytes();
    let layer_digest = put_blob(addr, layer);
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"content": content}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string();
    let config_digest = put_blob(addr, config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": layer_digest}],
    })
    .to_string();
    for tag in tags {
        let resp = agent()
            .put(format!("http://{addr}/v2/{IMAGE}/manifests/{tag}"))
            .header("Content-Type", MANIFEST)
            .send(manifest.as_bytes())
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "putting {tag}");
    }
    format!("sha256:{}", digest_hex(manifest.as_bytes()))
}

/// The tags the default tag plan gives `v` (committed as `short`).
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

/// Stage and step times (ms) of the seeded publish runs: build, push, upload, verify.
const TIMES: [(&str, [u64; 4]); 3] = [
    ("1.0.0", [10000, 12000, 5800, 2000]),
    ("1.1.0", [9000, 15900, 6200, 2100]),
    ("1.2.0", [9500, 14000, 6000, 2000]),
];

/// A publish-prod record as the tool writes it (slipway.ledger/1), with `TIMES`.
fn publish_record(v: &str, commit: &str, t: [u64; 4], started: u64) -> String {
    let step = |name: String, ms: u64| json!({"name": name, "status": "done", "duration_ms": ms});
    json!({
        "schema": "slipway.ledger/1",
        "version": v, "tag": format!("v{v}"), "commit": commit,
        "command": "publish-prod", "status": "success",
        "started": started, "duration_ms": t.iter().sum::<u64>(),
        "stages": [
            {"name": "build", "status": "ok", "duration_ms": t[0], "steps": [step(format!("build {IMAGE}:{v}"), t[0])]},
            {"name": "publish", "status": "ok", "duration_ms": t[1] + t[2], "steps": [
                step(format!("push {IMAGE}:{v} to ghcr.io"), t[1]),
                step(format!("upload acme_app-{v}.tar.gz to pypi"), t[2]),
            ]},
            {"name": "verify", "status": "ok", "duration_ms": t[3], "steps": [step(format!("verify {v}"), t[3])]},
        ],
        "gates": [{"name": "tests", "status": "passed", "blocking": true}],
        "artifacts": [{"kind": "image", "name": IMAGE, "where": "ghcr.io", "digest": format!("sha256:{}", digest_hex(v.as_bytes())), "sha256": null}],
        "moves": [], "host": "local", "notes": null, "error": null, "rolled_back_to": null,
        "run": format!("seed-{v}"),
        "a_field_from_the_future": {"ignored": true},
    })
    .to_string()
}

fn cargo_toml(registry: &str) -> String {
    format!(
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.docker]\nimage = \"{IMAGE}\"\nregistries = [\"{registry}\"]\n"
    )
}

/// Three tagged releases on three commits, pushed with their tags to a bare remote, each with
/// its seeded publish record in the notes (pushed too). Returns the repo and the short commits.
fn three_releases(registry: &str) -> (Repo, Vec<String>) {
    let repo = Repo::new(&[
        ("Cargo.toml", &cargo_toml(registry)),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"1.0.0\"\n",
        ),
    ])
    .with_remote();
    let mut shorts = Vec::new();
    for (i, (v, t)) in TIMES.iter().enumerate() {
        if i > 0 {
            repo.write(
                "pyproject.toml",
                &format!("[project]\nname = \"acme-app\"\nversion = \"{v}\"\n"),
            );
            repo.git(&["commit", "-qam", &format!("feat: {v}")]);
        }
        repo.git(&["tag", "-a", &format!("v{v}"), "-m", &format!("release {v}")]);
        let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        shorts.push(commit[..7].to_string());
        let line = publish_record(v, &commit, *t, 1_795_000_000 + i as u64 * 86_400);
        repo.git(&["notes", "--ref", "slipway", "append", "-m", &line, &commit]);
    }
    repo.git(&["push", "-q", "origin", "main", "--tags"]);
    repo.git(&["push", "-q", "origin", "refs/notes/slipway"]);
    (repo, shorts)
}

fn history_json(dir: &Path, extra: &[&str]) -> Json {
    let mut args = vec!["history", "--json"];
    args.extend_from_slice(extra);
    let r = run_in(dir, &args);
    assert_eq!(r.code, 0, "{}", r.all());
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()))
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = hermetic(BIN, dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stage_ms(release: &Json, stage: &str) -> u64 {
    release["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage}: {release}"))["duration_ms"]
        .as_u64()
        .unwrap()
}

#[test]
fn three_releases_and_a_rollback_make_four_records_every_clone_sees() {
    if !require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
    ) {
        return;
    }
    let reg_dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(reg_dir.path(), None).unwrap();
    let (repo, shorts) = three_releases(&registry.addr);
    let mut digests = Vec::new();
    for (i, (v, _)) in TIMES.iter().enumerate() {
        digests.push(push_image(&registry.addr, v, &tag_plan(v, &shorts[i])));
    }

    // The dry run lists the ledger's steps, the record a placeholder.
    let dry = run_in(
        repo.path(),
        &["rollback", "1.2.0", "--to", "1.1.0", "--dry-run", "--json"],
    );
    assert_eq!(dry.code, 0, "{}", dry.all());
    let plan: Json = serde_json::from_str(&dry.stdout).unwrap();
    let ledger_steps = plan["ledger"].as_array().expect("the ledger's steps");
    let headers: Vec<&str> = ledger_steps
        .iter()
        .map(|s| s["header"].as_str().unwrap())
        .collect();
    assert!(
        headers[0].starts_with("append the run's record to the refs/notes/slipway note"),
        "{headers:?}"
    );
    assert_eq!(headers[1], "push refs/notes/slipway to origin");
    let append = &ledger_steps[0]["apply"][0];
    assert_eq!(append["program"], "git");
    assert_eq!(append["stdin"], "<ledger record>");
    assert!(
        append["args"]
            .to_string()
            .contains("\"append\",\"-F\",\"-\""),
        "{append}"
    );
    assert_eq!(
        ledger_steps[1]["apply"]
            .to_string()
            .matches("cat_sort_uniq")
            .count(),
        1
    );

    // The real rollback: its record, from the run itself, goes onto v1.2.0's commit and is pushed.
    let r = run_in(repo.path(), &["rollback", "1.2.0", "--to", "1.1.0"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("ledger: rollback success of v1.2.0"),
        "{}",
        r.all()
    );
    let local = repo.git(&["rev-parse", "refs/notes/slipway"]);
    let remote = repo.remote_git(&["rev-parse", "refs/notes/slipway"]);
    assert_eq!(local, remote, "the rollback pushed the notes");

    let h = history_json(repo.path(), &[]);
    assert_eq!(h["records"], 4, "{h:#}");
    assert_eq!(h["malformed"], 0);
    let releases = h["releases"].as_array().unwrap();
    let tags: Vec<&str> = releases
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1.0.0", "v1.1.0", "v1.2.0"]);
    for (rel, (_, t)) in releases.iter().zip(TIMES) {
        assert_eq!(stage_ms(rel, "build"), t[0]);
        assert_eq!(stage_ms(rel, "publish"), t[1] + t[2]);
        assert_eq!(stage_ms(rel, "verify"), t[3]);
    }
    let c = &releases[1]["comparison"];
    assert_eq!(c["previous"], "v1.0.0");
    assert_eq!(c["bottleneck"], "publish");
    assert_eq!(
        c["line"],
        "publish 22.1 s, +4.3 s (+24%) vs v1.0.0: push acme/app:1.1.0 to ghcr.io +3.9 s"
    );
    let publish = c["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "publish")
        .unwrap();
    assert_eq!(
        (publish["delta_ms"].as_i64(), publish["percent"].as_i64()),
        (Some(4300), Some(24))
    );
    assert_eq!(
        releases[2]["comparison"]["line"],
        "publish 20.0 s, -2.1 s (-10%) vs v1.1.0: push acme/app:1.2.0 to ghcr.io -1.9 s"
    );
    assert_eq!(releases[0]["comparison"]["line"], "publish 17.8 s");
    // The rollback: v1.2.0 is rolled back to v1.1.0, its moving tags moved back by digest.
    assert_eq!(releases[2]["state"], "rolled back");
    assert_eq!(releases[2]["rolled_back_to"], "v1.1.0");
    let rb = releases[2]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["command"] == "rollback")
        .unwrap();
    assert_eq!(rb["status"], "success");
    assert_eq!(rb["host"], "local");
    let moves = rb["moves"].as_array().unwrap();
    assert!(!moves.is_empty(), "{rb:#}");
    for m in moves {
        assert_eq!(m["from"], digests[2].as_str(), "{m}");
        assert_eq!(m["to"], digests[1].as_str(), "{m}");
        assert_eq!(m["registry"], format!("{}/{IMAGE}", registry.addr));
    }
    let moved: Vec<&str> = moves.iter().map(|m| m["tag"].as_str().unwrap()).collect();
    assert!(moved.contains(&"latest"), "{moved:?}");
    assert_eq!(h["rollback_points"], json!(["v1.1.0", "v1.0.0"]));
    let text = run_in(repo.path(), &["history"]);
    assert!(text.stdout.contains("v1.2.0"), "{}", text.all());
    assert!(
        text.stdout.contains("rolled back to v1.1.0"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("rollback points: v1.1.0, v1.0.0"),
        "{}",
        text.stdout
    );
    let last = history_json(repo.path(), &["--last", "1"]);
    assert_eq!(last["releases"].as_array().unwrap().len(), 1);
    assert_eq!(last["releases"][0]["comparison"]["previous"], "v1.1.0");

    // A second clone sees the same history once it fetched the notes (by hand, or --fetch).
    let remote_path = repo
        .git(&["remote", "get-url", "origin"])
        .trim()
        .to_string();
    let second = tempfile::tempdir().unwrap();
    let third = tempfile::tempdir().unwrap();
    for d in [second.path(), third.path()] {
        git_in(
            Path::new("/"),
            &["clone", "-q", &remote_path, d.to_str().unwrap()],
        );
    }
    assert_eq!(
        history_json(second.path(), &[])["records"],
        0,
        "no notes before fetching"
    );
    git_in(
        second.path(),
        &[
            "fetch",
            "-q",
            "origin",
            "refs/notes/slipway:refs/notes/slipway",
        ],
    );
    let seen = history_json(second.path(), &[]);
    assert_eq!(seen["releases"], h["releases"]);
    let fetched = history_json(third.path(), &["--fetch"]);
    assert_eq!(fetched["releases"], h["releases"]);

    // Concurrent appends: the second clone appends (and pushes) a record; the first, not having
    // fetched it, runs a real rollback again (nothing to move: still a run, recorded). Its push
    // finds origin moved, fetches, merges with cat_sort_uniq, pushes: every record once.
    let b_line = publish_record(
        "1.1.0",
        git_in(second.path(), &["rev-parse", "v1.1.0^{commit}"]).trim(),
        TIMES[1].1,
        1_795_900_000,
    )
    .replace("seed-1.1.0", "second-clone-1.1.0")
    .replace("\"command\":\"publish-prod\"", "\"command\":\"verify\"");
    git_in(
        second.path(),
        &[
            "notes",
            "--ref",
            "slipway",
            "append",
            "-m",
            &b_line,
            "v1.1.0^{commit}",
        ],
    );
    git_in(
        second.path(),
        &["push", "-q", "origin", "refs/notes/slipway"],
    );
    let again = run_in(repo.path(), &["rollback", "1.2.0", "--to", "1.1.0"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.all().contains("cat_sort_uniq"), "{}", again.all());
    let local = repo.git(&["rev-parse", "refs/notes/slipway"]);
    assert_eq!(local, repo.remote_git(&["rev-parse", "refs/notes/slipway"]));
    let merged = history_json(repo.path(), &[]);
    assert_eq!(merged["records"], 6, "{merged:#}");
    let runs: Vec<String> = merged["releases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["run"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(runs.contains(&"second-clone-1.1.0".to_string()), "{runs:?}");
    // The second clone gets the merged history with --fetch (a fast-forward now).
    let b = history_json(second.path(), &["--fetch"]);
    assert_eq!(b["releases"], merged["releases"]);

    // A run that fails is history too: the registry is gone, the rollback fails, and its record
    // (status failure, the error) is appended and pushed all the same.
    drop(registry);
    let failed = run_in(repo.path(), &["rollback", "1.2.0", "--to", "1.1.0"]);
    assert_eq!(failed.code, 1, "{}", failed.all());
    assert!(
        failed.all().contains("ledger: rollback failure of v1.2.0"),
        "{}",
        failed.all()
    );
    let after = history_json(repo.path(), &[]);
    assert_eq!(after["records"], 7);
    let v12 = &after["releases"][2];
    let last = v12["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["command"].as_str(), last["status"].as_str()),
        (Some("rollback"), Some("failure"))
    );
    assert!(
        !last["error"].as_str().unwrap_or_default().is_empty(),
        "{last:#}"
    );
    assert_eq!(v12["state"], "rolled back", "an earlier rollback succeeded");
    assert_eq!(
        repo.git(&["rev-parse", "refs/notes/slipway"]),
        repo.remote_git(&["rev-parse", "refs/notes/slipway"])
    );
    let text = run_in(repo.path(), &["history", "--last", "1"]);
    assert!(
        text.stdout.contains("  failed: rollback "),
        "{}",
        text.stdout
    );
}

/// `/usr/bin/chromium` (Debian's), or None — a failure under SLIPWAY_REQUIRE_SERVICES=1 / CI.
fn chromium() -> Option<&'static str> {
    let path = "/usr/bin/chromium";
    require("chromium (Debian package)", Path::new(path).exists()).then_some(path)
}

fn chromium_cmd(bin: &str, profile: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// `--dump-dom` of `url` in a fresh profile: (the DOM, Chromium's log); fails unless it exits 0.
fn dump_dom(bin: &str, url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let dump = chromium_cmd(bin, profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dump.stderr).into_owned();
    assert!(dump.status.success(), "{stderr}");
    (String::from_utf8_lossy(&dump.stdout).into_owned(), stderr)
}

/// The page's console messages in Chromium's `--enable-logging=stderr` log (`…:CONSOLE:1] "…"`,
/// `Uncaught …`): what "no console errors" is checked against.
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("CONSOLE(") || l.contains("Uncaught"))
        .collect()
}

/// The console check can fail: the same Chromium invocation on a page that logs an error and
/// calls an undefined function reports both.
#[test]
fn the_console_check_sees_a_page_that_logs_errors() {
    let Some(bin) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><p>x</p><script>console.error(\"boom-from-page\"); undefinedFn();</script></body></html>",
    )
    .unwrap();
    let (_, stderr) = dump_dom(bin, &format!("file://{}", page.display()));
    let console = console_messages(&stderr);
    assert!(
        console.iter().any(|l| l.contains("boom-from-page")),
        "console.error seen: {console:#?}\n{stderr}"
    );
    assert!(
        console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError")),
        "the uncaught error seen: {console:#?}\n{stderr}"
    );
}

#[test]
fn the_html_page_renders_in_headless_chromium_one_row_per_release() {
    let Some(bin) = chromium() else {
        return;
    };
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
    for (i, (v, t)) in TIMES.iter().enumerate() {
        repo.commit(&format!("feat: {v}"));
        repo.git(&["tag", &format!("v{v}")]);
        let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
        let mut line = publish_record(v, &commit, *t, 1_795_000_000 + i as u64 * 86_400);
        if i == 2 {
            // A failure, with markup in its error: marked, and escaped.
            line = line
                .replace("\"status\":\"success\"", "\"status\":\"failure\"")
                .replace(
                    "\"error\":null",
                    "\"error\":\"<script>alert('x')</script> push failed\"",
                );
        }
        repo.git(&["notes", "--ref", "slipway", "append", "-m", &line, &commit]);
    }
    let out_dir = tempfile::tempdir().unwrap();
    let page = out_dir.path().join("history.html");
    let r = run_in(
        repo.path(),
        &["history", "--format", "html", "-o", page.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "the error is escaped");

    let url = format!("file://{}", page.display());
    let (dom, stderr) = dump_dom(bin, &url);
    assert_eq!(dom.matches("<tr class=\"release").count(), 3, "{dom}");
    for (v, _) in TIMES {
        assert!(dom.contains(&format!("data-tag=\"v{v}\"")), "v{v}: {dom}");
    }
    assert!(dom.contains("class=\"release failed\""), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    let console = console_messages(&stderr);
    assert!(console.is_empty(), "console messages:\n{console:#?}");

    let shot = out_dir.path().join("history.png");
    let profile = tempfile::tempdir().unwrap();
    let s = chromium_cmd(bin, profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,900")
        .arg(&url)
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 10_000,
        "a non-trivial page: {} bytes",
        png.len()
    );
    // For CI's artifacts.
    let keep = target_dir().join("slipway");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(&shot, keep.join("history.png")).unwrap();
    std::fs::copy(&page, keep.join("history.html")).unwrap();
}

/// `ledger.json` on the GitHub release (the stand-in, real `gh`): attached when absent, kept
/// when the same, replaced (deleted, uploaded) once the note holds another record; every
/// request within GitHub's REST contract.
#[test]
fn ledger_json_is_attached_then_kept_then_replaced_on_the_release() {
    use xtask::run::plan::{Done, Plan, Step, Val};
    let gh_ok = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh_ok) {
        return;
    }
    let standin = slipway_rig::standin::Standin::start(
        &slipway_rig::standin::default_spec_path().expect("the GitHub contract"),
    )
    .unwrap();
    standin.seed_repo("acme", "app");
    let config = tempfile::tempdir().unwrap();
    let env = standin.gh_env(config.path());
    let out = std::process::Command::new("gh")
        .args(["api", "repos/acme/app/releases", "-f", "tag_name=v1.0.0"])
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let repo = Repo::new(&[("Cargo.toml", "[workspace]\nmembers = []\n")]);
    repo.git(&["tag", "v1.0.0"]);
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.git(&[
        "notes",
        "--ref",
        "slipway",
        "append",
        "-m",
        &publish_record("1.0.0", &commit, TIMES[0].1, 1),
        &commit,
    ]);
    let gh = xtask::targets::github::Gh {
        repo: "acme/app".into(),
        env: env
            .iter()
            .map(|(k, v)| {
                let v = if k.contains("TOKEN") {
                    Val::Secret(v.clone())
                } else {
                    Val::Plain(v.clone())
                };
                (k.clone(), v)
            })
            .collect(),
        cwd: repo.path().to_path_buf(),
    };
    let step = || {
        let mut plan = Plan::default();
        plan.push(Step::Action(Box::new(
            xtask::targets::ledger::UploadLedger {
                gh: xtask::targets::github::Gh {
                    repo: gh.repo.clone(),
                    env: gh.env.clone(),
                    cwd: gh.cwd.clone(),
                },
                tag: "v1.0.0".into(),
                commit: commit.clone(),
                path: repo.path().join("target/slipway/ledger/v1.0.0/ledger.json"),
                root: repo.path().to_path_buf(),
            },
        )));
        let o = xtask::run::exec::execute(&plan, &xtask::run::ui::Ui::captured(), repo.path())
            .unwrap_or_else(|e| panic!("{e:#}"));
        o.done[0].clone()
    };
    let asset = || -> Json {
        let rel = &standin.state()["repos"][0]["releases"][0];
        let assets: Vec<&Json> = rel["assets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == "ledger.json")
            .collect();
        assert_eq!(assets.len(), 1, "{rel:#}");
        assets[0].clone()
    };
    let ran = |d: Done| match d {
        Done::Ran(s) => s,
        Done::Skipped(s) => panic!("skipped: {s}"),
    };
    assert!(ran(step()).contains("attached ledger.json"));
    let first = asset();
    let bytes = standin
        .asset_bytes("acme", "app", "v1.0.0", "ledger.json")
        .unwrap();
    let doc: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["records"].as_array().unwrap().len(), 1);
    assert_eq!(doc["records"][0]["run"], "seed-1.0.0");
    assert!(matches!(step(), Done::Skipped(s) if s.contains("same records")));
    let verify = publish_record("1.0.0", &commit, TIMES[0].1, 2)
        .replace("seed-1.0.0", "verify-1")
        .replace("\"command\":\"publish-prod\"", "\"command\":\"verify\"");
    repo.git(&[
        "notes", "--ref", "slipway", "append", "-m", &verify, &commit,
    ]);
    assert!(ran(step()).contains("replaced ledger.json"));
    let second = asset();
    assert_ne!(first["digest"], second["digest"]);
    let bytes = standin
        .asset_bytes("acme", "app", "v1.0.0", "ledger.json")
        .unwrap();
    let doc: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["records"].as_array().unwrap().len(), 2);
    assert_eq!(standin.violations(), Vec::<String>::new());
}
