//! The release intent end to end: kills at random instants and re-runs of the same command,
//! `--abort`, a tag blocked by a ref, placeholders, a missing base tag, git errors quoted whole.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The standard fixture with a changelog of several MB (10 000 older sections).
fn big_fixture() -> Repo {
    let mut cl = CHANGELOG
        .split("[Unreleased]: ")
        .next()
        .unwrap()
        .to_string();
    for minor in (0..100).rev() {
        for patch in (0..100).rev() {
            cl.push_str(&format!(
                "## [0.{minor}.{patch}] - 2025-01-01\n\n### Fixed\n\n- A fix in 0.{minor}.{patch}: {}\n\n",
                "words ".repeat(45)
            ));
        }
    }
    assert!(cl.len() > 3_000_000, "{}", cl.len());
    Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", PYPROJECT),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", &cl),
    ])
}

fn spawn(repo: &Repo, args: &[&str]) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    hermetic(BIN, repo.path())
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap()
}

fn kill(target: &str) -> bool {
    Command::new("kill")
        .args(["-KILL", "--", target])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Waits until no process of the group `pgid` is left (an orphaned git child finishing).
fn wait_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let alive = Command::new("kill")
            .args(["-0", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if !alive {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("process group {pgid} still alive after 20 s");
}

/// What an uninterrupted run leaves: files, HEAD, the tag object, the number of commits.
#[derive(Debug, PartialEq, Eq)]
struct End {
    files: Vec<(String, Vec<u8>)>,
    head: String,
    tag: Option<String>,
    tag_commit: Option<String>,
    commits: String,
    status: String,
    intent: bool,
}

fn end_state(repo: &Repo, tag: &str) -> End {
    let mut files: Vec<(String, Vec<u8>)> = files_under(repo.path())
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(repo.path()).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    let rev = |r: &str| {
        let out = git_cmd(repo.path())
            .args(["rev-parse", "-q", "--verify", r])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    };
    End {
        files,
        head: repo.git(&["rev-parse", "HEAD"]),
        tag: rev(&format!("refs/tags/{tag}")),
        tag_commit: rev(&format!("refs/tags/{tag}^{{commit}}")),
        commits: repo.git(&["rev-list", "--count", "--all"]),
        status: repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        intent: repo.path().join(".git/slipway/intent.json").exists(),
    }
}

fn temp_files_in_tree(repo: &Repo) -> Vec<String> {
    files_under(repo.path())
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".slipway-") || p.ends_with(".tmp"))
        .collect()
}

/// A small PRNG (xorshift64*), seeded from the clock or SLIPWAY_KILL_SEED.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn kill_anywhere_then_the_same_command_finishes_the_job() {
    let kills: usize = std::env::var("SLIPWAY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let seed: u64 = std::env::var("SLIPWAY_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill test: {kills} kills, SLIPWAY_KILL_SEED={seed}");

    // The fixture, copied for every kill; the uninterrupted run, when its intent appears (its
    // first write) and how long it takes: kills are spread from a little before the first write
    // to a little after the end.
    let template = big_fixture();
    let copy = || {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
            remote: None,
        };
        let ok = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", template.path().display()))
            .arg(repo.path())
            .status()
            .unwrap()
            .success();
        assert!(ok);
        repo
    };
    let reference = copy();
    let untouched = end_state(&reference, "v1.3.0");
    let t = Instant::now();
    let mut child = spawn(&reference, &["bump-version", "minor"]);
    let intent = reference.path().join(".git/slipway/intent.json");
    let mut first_write = None;
    while child.try_wait().unwrap().is_none() {
        if first_write.is_none() && intent.exists() {
            first_write = Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = t.elapsed();
    assert!(child.wait().unwrap().success());
    let first_write = first_write.unwrap_or(took / 2);
    eprintln!(
        "kill test: the uninterrupted run writes first after {first_write:?}, ends after {took:?}"
    );
    let want = end_state(&reference, "v1.3.0");
    assert_eq!(want.tag_commit.as_deref(), Some(want.head.as_str()));
    assert!(!want.intent);

    // Each kill: 0 = the tree was untouched, 1 = resumed, 2 = it had finished.
    let one = |i: usize, rng: &mut Rng| -> usize {
        let repo = copy();
        let group = i % 2 == 0;
        let mut child = spawn(&repo, &["bump-version", "minor"]);
        let pid = child.id();
        // One kill in 8 lands before the first write; the others after it, anywhere up to a
        // little after the reference run's end.
        let delay = if i % 8 == 7 {
            let d = Duration::from_micros(rng.next() % (first_write.as_micros() as u64).max(1));
            std::thread::sleep(d);
            d
        } else {
            let intent = repo.path().join(".git/slipway/intent.json");
            while !intent.exists() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_micros(100));
            }
            let rest = took.saturating_sub(first_write).as_micros() as u64 * 11 / 10;
            let d = Duration::from_micros(rng.next() % rest.max(1));
            std::thread::sleep(d);
            d
        };
        if group {
            kill(&format!("-{pid}"));
        } else {
            kill(&pid.to_string());
        }
        let status = child.wait().unwrap();
        // Orphaned git children finish (or were killed with the group) before the re-run.
        wait_group_gone(pid);
        let what = format!(
            "kill {i} {delay:?} after {} ({})",
            if i % 8 == 7 {
                "the start"
            } else {
                "the first write"
            },
            if group { "group" } else { "process" }
        );
        assert_eq!(temp_files_in_tree(&repo), Vec::<String>::new(), "{what}");
        let now = end_state(&repo, "v1.3.0");
        if now == want {
            // It finished before the kill.
            return 2;
        }
        assert!(
            status.code().is_none() || status.success(),
            "{what}: exit {status}"
        );
        let r = repo.run(&["bump-version", "minor"]);
        assert_eq!(r.code, 0, "{what}: the re-run failed:\n{}", r.all());
        if now != untouched {
            assert!(
                r.stdout
                    .contains("resuming the interrupted bump to 1.3.0 (")
                    || r.stdout.contains("1.2.3 → 1.3.0"),
                "{what}: {}",
                r.stdout
            );
        }
        let end = end_state(&repo, "v1.3.0");
        assert_eq!(end, want, "{what}: not the state of an uninterrupted run");
        assert_eq!(temp_files_in_tree(&repo), Vec::<String>::new(), "{what}");
        usize::from(now != untouched)
    };
    // Two workers: most of a run is waiting for fsync and git.
    let mut counts = [0usize; 3];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2u64)
            .map(|w| {
                let one = &one;
                s.spawn(move || {
                    let mut rng = Rng(seed ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let mut c = [0usize; 3];
                    for i in (w as usize..kills).step_by(2) {
                        c[one(i, &mut rng)] += 1;
                    }
                    c
                })
            })
            .collect();
        for w in workers {
            let c = w.join().unwrap();
            for k in 0..3 {
                counts[k] += c[k];
            }
        }
    });
    let [before_write, resumed, finished] = counts;
    eprintln!(
        "kill test: {before_write} untouched, {resumed} resumed, {finished} finished before the kill"
    );
}

/// `bump-version --abort` through the binary.
fn abort(repo: &Repo) -> common::Run {
    repo.run(&["bump-version", "--abort"])
}

/// Kills the bump after the commit, before the tag: a post-commit hook kills slipway (the
/// parent of `git commit`).
fn killed_after_commit() -> Repo {
    let repo = fixture();
    kill_after_commit(&repo);
    repo
}

fn kill_after_commit(repo: &Repo) {
    let hook = repo.path().join(".git/hooks/post-commit");
    // git runs the hook as a child of `git commit`, a child of slipway: kill slipway.
    std::fs::write(
        &hook,
        "#!/bin/sh\nslipway=$(ps -o ppid= -p $PPID | tr -d ' ')\nkill -KILL $slipway\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = repo.run(&["bump-version", "minor"]);
    assert_ne!(r.code, 0, "{}", r.all());
    std::fs::remove_file(&hook).unwrap();
    // `git commit` itself finishes after its hook.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]),
        "chore(release): bump version to v1.3.0\n"
    );
    assert_eq!(repo.git(&["tag", "-l"]), "");
}

#[test]
fn a_kill_between_commit_and_tag_is_resumed_never_bumped_twice() {
    let repo = killed_after_commit();
    let commit = repo.git(&["rev-parse", "HEAD"]);
    let short = &commit[..7];

    // Every other command refuses with the sentence and both ways out.
    for args in [
        &["check-versions"][..],
        &["bump-version", "patch"],
        &["release", "minor"],
    ] {
        let r = repo.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        for want in [
            format!("a bump to 1.3.0 was interrupted (commit {short} done, tag missing)"),
            "cargo xtask bump-version minor".to_string(),
            "cargo xtask bump-version --abort".to_string(),
        ] {
            assert!(r.stderr.contains(&want), "{args:?}: {}", r.stderr);
        }
    }

    // The dry run says what it would do; the same command finishes: the tag on that commit.
    let r = repo.run(&["bump-version", "minor", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("run git tag -a v1.3.0 -m 'Release v1.3.0' "),
        "{}",
        r.stdout
    );
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "resuming the interrupted bump to 1.3.0 (commit {short} done, tag missing)"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), commit);
    assert_eq!(repo.git(&["rev-parse", "v1.3.0^{commit}"]), commit);
    assert_eq!(repo.git(&["rev-list", "--count", "HEAD"]), "2\n");
    assert!(repo.read("pyproject.toml").contains("version = \"1.3.0\""));
    assert!(!repo.path().join(".git/slipway/intent.json").exists());
    assert_eq!(repo.run(&["check-versions"]).code, 0);
    // And then it is an ordinary repository again: the next bump is 1.4.0 (refused only for
    // its empty [Unreleased]).
    let r = repo.run(&["bump-version", "minor", "--dry-run"]);
    assert!(r.stderr.contains("the 1.4.0 section"), "{}", r.all());
    assert!(!r.stderr.contains("interrupted"), "{}", r.all());
}

#[test]
fn abort_restores_the_recorded_state_byte_exact() {
    // After the commit (files, commit, staging): everything undone.
    let repo = fixture();
    let before = repo.snapshot();
    kill_after_commit(&repo);
    let r = abort(&repo);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(repo.snapshot(), before);
    assert!(!repo.path().join(".git/slipway/intent.json").exists());
    // Nothing left to abort.
    let r = abort(&repo);
    assert_eq!(r.code, 0, "{}", r.all());

    // Half-written files (one at the new version, the others not), no commit.
    let repo = big_fixture();
    let before = repo.snapshot();
    let mut child = spawn(&repo, &["bump-version", "minor"]);
    let pid = child.id();
    // Kill as soon as pyproject.toml is written (the first edit).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !repo.read("pyproject.toml").contains("1.3.0") {
        assert!(
            Instant::now() < deadline,
            "the bump never wrote pyproject.toml"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    kill(&format!("-{pid}"));
    let _ = child.wait();
    wait_group_gone(pid);
    if repo.path().join(".git/slipway/intent.json").exists() {
        let r = repo.run(&["check-versions"]);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(r.stderr.contains("was interrupted"), "{}", r.stderr);
        let r = abort(&repo);
        assert_eq!(r.code, 0, "{}", r.all());
    }
    assert_eq!(repo.snapshot(), before);

    // A file edited by hand since: abort refuses and touches nothing.
    let repo = killed_after_commit();
    repo.write("pyproject.toml", "edited by hand\n");
    let snap = repo.snapshot();
    let r = abort(&repo);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("pyproject.toml is neither as before"),
        "{}",
        r.all()
    );
    assert_eq!(repo.snapshot(), snap);
}

#[test]
fn a_tag_blocked_by_a_ref_rolls_the_commit_back_and_the_dry_run_sees_it() {
    let repo = fixture();
    // refs/tags/v1.3.0/x blocks refs/tags/v1.3.0.
    repo.git(&["tag", "v1.3.0/x"]);
    let before = repo.snapshot();

    let dry = repo.run(&["bump-version", "minor", "--dry-run"]);
    assert_eq!(dry.code, 1, "{}", dry.all());
    assert!(
        dry.stderr
            .contains("tag v1.3.0 cannot be created: the ref refs/tags/v1.3.0/x blocks it"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr.contains("git update-ref -d refs/tags/v1.3.0/x"),
        "{}",
        dry.stderr
    );

    // The real run refuses the same way, before any write.
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(repo.snapshot(), before);

    // When `git tag` fails after the commit anyway (the ref appears after the preflight, here
    // from a post-commit hook), the commit is rolled back too, and the message says so.
    repo.git(&["update-ref", "-d", "refs/tags/v1.3.0/x"]);
    let before = repo.snapshot();
    let hook = repo.path().join(".git/hooks/post-commit");
    std::fs::write(&hook, "#!/bin/sh\ngit tag v1.3.0/x HEAD~1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let err = r.all();
    assert!(err.contains("run git tag -a v1.3.0"), "{err}");
    assert!(err.contains("the release commit"), "{err}");
    assert!(err.contains("was undone too"), "{err}");
    assert!(err.contains("restored 3 file(s)"), "{err}");
    std::fs::remove_file(&hook).unwrap();
    repo.git(&["update-ref", "-d", "refs/tags/v1.3.0/x"]);
    assert_eq!(
        repo.snapshot(),
        before,
        "commit, staging and files are as before"
    );
    assert!(!repo.path().join(".git/slipway/intent.json").exists());
}

#[test]
fn an_empty_unreleased_is_refused_unless_placeholders_are_allowed() {
    let empty = CHANGELOG.replace("### Added\n\n- A feature.\n\n", "");
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", PYPROJECT),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", &empty),
    ]);
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    for want in [
        "[Unreleased] is empty",
        "_TODO: describe this change…_",
        "fill [Unreleased]",
        "`cargo xtask release`",
        "--generate-changelog",
        "--allow-placeholders",
    ] {
        assert!(r.stderr.contains(want), "missing {want:?}: {}", r.stderr);
    }
    assert_eq!(repo.snapshot(), before);

    // Generated entries fill it: no placeholders, no refusal.
    repo.commit("feat: a generated entry");
    let r = repo.run(&[
        "bump-version",
        "minor",
        "--generate-changelog",
        "--no-commit",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!repo.read("CHANGELOG.md").contains("_TODO"));
    repo.git(&["checkout", "-q", "--", "."]);

    // --allow-placeholders tags them anyway (said loudly).
    let r = repo.run(&["bump-version", "minor", "--allow-placeholders"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(repo
        .read("CHANGELOG.md")
        .contains("_TODO: describe this change"));
    assert!(repo.git_ok(&["rev-parse", "refs/tags/v1.3.0"]));
}

#[test]
fn a_missing_base_tag_is_said_and_the_range_starts_at_the_version_commit() {
    // The changelog names 1.2.3, no tag v1.2.3: history before the version commit is old.
    let repo = Repo::new(&[("README.md", "old\n")]);
    repo.commit("feat: an old feature, released in 1.2.3 already");
    repo.write("Cargo.toml", CARGO_TOML);
    repo.write("pyproject.toml", PYPROJECT);
    repo.write("docker-compose.yml", COMPOSE);
    repo.write("CHANGELOG.md", CHANGELOG);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore(release): 1.2.3"]);
    let version_commit = repo.git(&["rev-parse", "--short=7", "HEAD"]);
    repo.commit("fix: the new fix");
    let r = repo.run(&["bump-version", "auto", "--no-commit"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let out = r.all();
    assert!(
        out.contains("names 1.2.3 as the newest release, but there is no tag v1.2.3"),
        "{out}"
    );
    assert!(out.contains(version_commit.trim()), "{out}");
    assert!(
        out.contains("1.2.3 → 1.2.4"),
        "auto sees only the fix: {out}"
    );
    let cl = repo.read("CHANGELOG.md");
    assert!(cl.contains("- the new fix ("), "{cl}");
    assert!(!cl.contains("an old feature"), "{cl}");

    // No commit states the version: refused, with the fix.
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", &PYPROJECT.replace("1.2.3", "1.2.2")),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    repo.write("pyproject.toml", PYPROJECT);
    let r = repo.run(&[
        "bump-version",
        "patch",
        "--generate-changelog",
        "--no-commit",
        "--force",
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("there is no tag v1.2.3 and no commit of pyproject.toml states 1.2.3"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("git tag -a v1.2.3 <commit>"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_remote_is_quoted_from_the_line_that_says_what_went_wrong() {
    let repo = fixture();
    repo.git(&["remote", "add", "origin", "/nonexistent/remote.git"]);
    let r = repo.run(&["release", "minor", "--dry-run"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "cannot read the remote `origin`: fatal: '/nonexistent/remote.git' does not appear to be a git repository"
        ),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("`origin`: and the repository exists"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_release_killed_before_its_push_is_pushed_by_the_same_command() {
    let repo = fixture().with_remote();
    repo.git(&["tag", "-a", "v1.2.3", "-m", "Release v1.2.3"]);
    repo.git(&["push", "-q", "origin", "v1.2.3"]);
    repo.commit("feat: something");
    // The pre-push hook runs under `git push`, a child of slipway: kill slipway there.
    let hook = repo.path().join(".git/hooks/pre-push");
    std::fs::write(
        &hook,
        "#!/bin/sh\nslipway=$(ps -o ppid= -p $PPID | tr -d ' ')\nkill -KILL $slipway\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = repo.run(&["release", "minor"]);
    assert_ne!(r.code, 0, "{}", r.all());
    std::fs::remove_file(&hook).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let commit = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(repo.git(&["rev-parse", "v1.3.0^{commit}"]), commit);
    assert!(!repo.remote_git(&["show-ref"]).contains("v1.3.0"));

    let r = repo.run(&["release", "minor"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "resuming the interrupted bump to 1.3.0 (commit {} done, tag v1.3.0 done, push missing)",
            &commit[..7]
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        repo.remote_git(&["rev-parse", "main", "v1.3.0^{commit}"]),
        format!("{commit}{commit}")
    );
    assert!(!repo.path().join(".git/slipway/intent.json").exists());
}

#[test]
fn a_stale_index_lock_is_reported_or_cleared_when_the_intent_explains_it() {
    // No intent explains it: refused with the fix, nothing changed.
    let repo = fixture();
    std::fs::write(repo.path().join(".git/index.lock"), "").unwrap();
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "minor", "--dry-run"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("rm .git/index.lock"), "{}", r.stderr);
    assert_eq!(repo.snapshot(), before);

    // Left by the interrupted bump's git step (newer than the intent): removed, then resumed.
    let repo = killed_after_commit();
    std::fs::write(repo.path().join(".git/index.lock"), "").unwrap();
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all()
            .contains("removed .git/index.lock, left by the interrupted git step"),
        "{}",
        r.all()
    );
    assert!(repo.git_ok(&["rev-parse", "refs/tags/v1.3.0"]));
}
