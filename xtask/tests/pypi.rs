//! The Python target of `publish-prod` against a real package index (pypiserver on loopback):
//! build once, check, upload what is missing, verify by hash and by install; safe re-runs.

mod common;

#[path = "common/trace.rs"]
mod trace;

use std::path::Path;

use common::*;
use slipway_rig::services::PackageIndex;
use xtask::targets::pypi::Venv;

const USER: &str = "uploader";
const PASSWORD: &str = "pw-ZETA-7f3a91-secret";

struct Setup {
    repo: Repo,
    index: PackageIndex,
    _index_dir: tempfile::TempDir,
}

/// A repository with the reference payload at `version`, tagged, and a running index.
fn setup(version: &str) -> Option<Setup> {
    setup_with(version, false, "")
}

/// [`setup`] with pypiserver's default fallback (a missing project is redirected to
/// https://pypi.org/simple/<name>/) when `fallback`, and `python_extra` in the python table.
fn setup_with(version: &str, fallback: bool, python_extra: &str) -> Option<Setup> {
    if !require(
        "python3 with venv",
        std::process::Command::new("python3")
            .args(["-m", "venv", "--help"])
            .output()
            .is_ok_and(|o| o.status.success()),
    ) {
        return None;
    }
    let tools = tools_dir();
    let server = Venv::in_dir(
        &tools,
        "pypiserver",
        xtask::targets::pypi::SERVER_REQUIREMENTS,
    );
    server.ensure(Path::new("/")).expect("pypiserver venv");
    Venv::in_dir(
        &tools,
        "python-tools",
        xtask::targets::pypi::TOOL_REQUIREMENTS,
    )
    .ensure(Path::new("/"))
    .expect("tool venv");
    let index_dir = tempfile::tempdir().unwrap();
    let index = if fallback {
        PackageIndex::start_with_fallback(&server.dir, index_dir.path(), USER, PASSWORD)
    } else {
        PackageIndex::start(&server.dir, index_dir.path(), USER, PASSWORD)
    }
    .expect("pypiserver");

    let repo = payload_repo(
        version,
        &format!(
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n[workspace.metadata.release.python]\nrepository-url = \"{}\"\nindex-url = \"{}\"\n{python_extra}",
            index.url,
            index.simple_url()
        ),
    );
    Some(Setup {
        repo,
        index,
        _index_dir: index_dir,
    })
}

fn publish(s: &Setup, password: &str) -> Run {
    let out = publish_command(s, password).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn publish_command(s: &Setup, password: &str) -> std::process::Command {
    publish_in(s.repo.path(), password)
}

/// `publish-prod --only pypi` in the checkout `dir`.
fn publish_in(dir: &Path, password: &str) -> std::process::Command {
    let mut c = hermetic(BIN, dir);
    c.args(["publish-prod", "--only", "pypi", "--skip-ci-check"])
        .env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env("TWINE_USERNAME", USER)
        .env("TWINE_PASSWORD", password)
        .env("NO_COLOR", "1")
        .env_remove("PYPI_TOKEN");
    c
}

fn packages(s: &Setup) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.index.dir.join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file the index holds, with its bytes.
fn package_bytes(s: &Setup) -> Vec<(String, Vec<u8>)> {
    packages(s)
        .iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::read(s.index.dir.join("packages").join(p)).unwrap(),
            )
        })
        .collect()
}

fn assert_no_secret(r: &Run, s: &Setup) {
    assert!(
        !r.all().contains(PASSWORD),
        "the password leaked into the output"
    );
    for entry in files_under(&s.repo.path().join("target/slipway")) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(PASSWORD),
            "the password leaked into {}",
            entry.display()
        );
    }
}

#[test]
fn upload_verify_rerun_and_partial_upload() {
    let Some(s) = setup("0.1.0") else { return };
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("uploaded slipway_demo-0.1.0-py3-none-any.whl, slipway_demo-0.1.0.tar.gz"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("pip install slipway-demo==0.1.0 → importlib.metadata.version = 0.1.0"),
        "{}",
        r.stdout
    );
    assert_eq!(
        packages(&s),
        [
            "slipway_demo-0.1.0-py3-none-any.whl",
            "slipway_demo-0.1.0.tar.gz"
        ]
    );
    assert_no_secret(&r, &s);
    let journal =
        std::fs::read_to_string(s.repo.path().join("target/slipway/journal/v0.1.0.jsonl")).unwrap();
    assert!(journal.contains("\"status\":\"done\""), "{journal}");

    // Re-run: nothing uploaded, success, with the evidence.
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("skipped:") && r.stdout.contains("with the same sha256"),
        "{}",
        r.stdout
    );

    // The wheel goes missing (a partial upload): the re-run uploads only the wheel.
    std::fs::remove_file(
        s.index
            .dir
            .join("packages/slipway_demo-0.1.0-py3-none-any.whl"),
    )
    .unwrap();
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("uploaded slipway_demo-0.1.0-py3-none-any.whl; already there with the same sha256: slipway_demo-0.1.0.tar.gz"), "{}", r.stdout);
    assert_eq!(packages(&s).len(), 2);
}

/// The same commit built in a fresh clone makes byte-identical dists (the sdist's file and
/// gzip times come from SOURCE_DATE_EPOCH, not from the checkout or the clock), so publishing
/// it again from another checkout finds everything already there instead of refusing.
#[test]
fn a_fresh_checkout_rebuilds_the_same_bytes_and_republishes_as_a_no_op() {
    let Some(s) = setup("0.4.0") else { return };
    let first = publish(&s, PASSWORD);
    assert_eq!(first.code, 0, "{}", first.all());
    let before = package_bytes(&s);
    // Another checkout, a second later (other file times), and its own fresh build.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let other = tempfile::tempdir().unwrap();
    let clone = other.path().join("clone");
    s.repo.git(&["clone", "-q", ".", clone.to_str().unwrap()]);
    let r = Run::of(publish_in(&clone, PASSWORD).output().unwrap());
    assert_eq!(
        r.code,
        0,
        "the re-publish from a fresh checkout failed:\n{}",
        r.all()
    );
    let rebuilt = clone.join("target/slipway/dist/0.4.0");
    for (name, bytes) in &before {
        assert_eq!(
            &std::fs::read(rebuilt.join(name)).unwrap(),
            bytes,
            "{name} rebuilt in another checkout differs"
        );
    }
    let after = package_bytes(&s);
    assert_eq!(before, after, "nothing new was uploaded");
}

#[test]
fn same_version_other_content_is_refused() {
    let Some(s) = setup("0.2.0") else { return };
    assert_eq!(publish(&s, PASSWORD).code, 0);
    let before: Vec<Vec<u8>> = packages(&s)
        .iter()
        .map(|p| std::fs::read(s.index.dir.join("packages").join(p)).unwrap())
        .collect();
    // The same version, other content (the tag was moved).
    s.repo.write("src/slipway_demo/extra.py", "X = 1\n");
    s.repo.git(&["add", "-A"]);
    s.repo.git(&["commit", "-q", "-m", "sneaky change"]);
    s.repo.git(&["tag", "-f", "-a", "v0.2.0", "-m", "moved"]);
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("already has slipway_demo-0.2.0")
            && r.stderr
                .contains("an index never lets a version be replaced"),
        "{}",
        r.stderr
    );
    let after: Vec<Vec<u8>> = packages(&s)
        .iter()
        .map(|p| std::fs::read(s.index.dir.join("packages").join(p)).unwrap())
        .collect();
    assert_eq!(before, after, "nothing was uploaded");
}

#[test]
fn wrong_password_and_index_down_are_clear() {
    let Some(mut s) = setup("1.3.0-rc.1") else {
        return;
    };
    let wrong = "WRONG-pw-d41d8c";
    let r = publish(&s, wrong);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("refused the credentials"), "{}", r.stderr);
    assert!(!r.all().contains(wrong), "the wrong password leaked");
    assert!(packages(&s).is_empty());

    // Pre-release end to end.
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("pip install slipway-demo==1.3.0rc1 → importlib.metadata.version = 1.3.0rc1"),
        "{}",
        r.stdout
    );

    let url = s.index.url.clone();
    s.index.stop();
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains(&format!("the package index {}simple/ is unreachable", url)),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_credentials_and_untagged_head_are_refused_before_anything_runs() {
    let Some(s) = setup("0.3.0") else { return };
    let out = hermetic(BIN, s.repo.path())
        .args(["publish-prod", "--only", "pypi", "--skip-ci-check"])
        .env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env_remove("TWINE_USERNAME")
        .env_remove("TWINE_PASSWORD")
        .env_remove("PYPI_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no credentials for"), "{err}");
    s.repo.commit("chore: after the tag");
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HEAD has no release tag"), "{}", r.stderr);
    assert!(packages(&s).is_empty());
    assert!(
        !s.repo.path().join("target/slipway/dist").exists(),
        "nothing was built"
    );
}

/// pypiserver as it runs by default: a project it lacks is redirected to
/// https://pypi.org/simple/<name>/. Without `index-fallback` that redirect is an error naming
/// both fixes, and nothing is uploaded; with it, the redirect counts as "not listed", the new
/// project is published and verified, and no connection of the run goes anywhere but loopback —
/// except those of `python -m build`'s isolated environment, which installs the build backend
/// (`[build-system].requires`) from the machine's configured package registry: building, not
/// reading the index.
#[test]
fn an_index_with_its_default_fallback_is_read_on_its_own_host_only() {
    let Some(s) = setup_with("0.4.0", true, "") else {
        return;
    };
    let r = publish(&s, PASSWORD);
    assert_eq!(r.code, 1, "{}", r.all());
    for want in [
        "redirected",
        "to another host (https://pypi.org/simple/slipway-demo/)",
        "`--disable-fallback`",
        "`index-fallback = true`",
    ] {
        assert!(r.stderr.contains(want), "missing {want:?} in\n{}", r.stderr);
    }
    assert!(packages(&s).is_empty(), "nothing was uploaded");

    let Some(s) = setup_with("0.4.0", true, "index-fallback = true\n") else {
        return;
    };
    if !require("strace (ptrace allowed)", trace::strace_works()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, connects) = trace::traced_connects(&publish_command(&s, PASSWORD), dir.path());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("uploaded slipway_demo-0.4.0-py3-none-any.whl, slipway_demo-0.4.0.tar.gz"),
        "{all}"
    );
    assert!(
        all.contains("pip install slipway-demo==0.4.0 → importlib.metadata.version = 0.4.0"),
        "{all}"
    );
    let port = s
        .index
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert!(
        connects
            .iter()
            .any(|c| c.addr == format!("127.0.0.1:{port}") && c.argv[0] == BIN),
        "the trace saw no read of the index by the tool: {connects:#?}"
    );
    let building = |a: &[String]| a.get(1..3).is_some_and(|m| m == ["-m", "build"]);
    let off: Vec<&trace::Connect> = connects
        .iter()
        .filter(|c| !c.addr.starts_with("127.0.0.1:") && !c.under(building))
        .collect();
    assert!(off.is_empty(), "connections off loopback: {off:?}");
}

/// Without a readme the metadata has no `long_description`: PyPI accepts that, so `twine check`
/// warnings are shown and the package is published; with `python.strict-check = true` the same
/// warnings stop the build before anything is uploaded.
#[test]
fn twine_check_warnings_are_shown_and_stop_only_with_strict_check() {
    for strict in [false, true] {
        let extra = if strict { "strict-check = true\n" } else { "" };
        let Some(s) = setup_with("1.5.0", false, extra) else {
            return;
        };
        let pyproject = s.repo.path().join("pyproject.toml");
        let text = std::fs::read_to_string(&pyproject).unwrap();
        let without: String = text
            .lines()
            .filter(|l| !l.starts_with("readme"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(without, text, "the fixture's pyproject names a readme");
        std::fs::write(&pyproject, without).unwrap();
        s.repo.git(&["commit", "-q", "-am", "no readme"]);
        s.repo.git(&["tag", "-f", "-a", "v1.5.0", "-m", "release"]);
        let r = publish(&s, PASSWORD);
        if strict {
            assert_ne!(r.code, 0, "{}", r.all());
            assert!(r.all().contains("twine check"), "{}", r.all());
            assert!(r.all().contains("long_description"), "{}", r.all());
            assert!(packages(&s).is_empty(), "uploaded: {:?}", packages(&s));
        } else {
            assert_eq!(r.code, 0, "{}", r.all());
            assert!(r.all().contains("passed with warnings"), "{}", r.all());
            assert!(
                r.all().contains("`long_description` missing"),
                "{}",
                r.all()
            );
            assert_eq!(packages(&s).len(), 2, "{:?}", packages(&s));
        }
    }
}
