//! The read-only fast path for `git status` and `git tag -l` (`facts::gitdir`) against real git:
//! each scenario builds a real repository in a temp dir, then compares what the files say with
//! what `git status --porcelain=v2` / `git tag -l` print, and checks which path answered (the
//! files, or git because the files could not be sure).

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::facts::git::{self, parse_status, Source, Status};
use xtask::facts::gitdir::{self, Env};

struct Repo {
    _dir: Option<tempfile::TempDir>,
    home: PathBuf,
    root: PathBuf,
}

fn hermetic(program: &str, dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
    for v in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
    ] {
        c.env_remove(v);
    }
    c
}

impl Repo {
    /// A repository on `main` with `files` committed.
    fn new(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let repo = Repo {
            _dir: Some(dir),
            home,
            root,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        for (name, content) in files {
            repo.write(name, content);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "initial"]);
        repo
    }

    /// Another checkout (or a new repository) at `root`, with the same hermetic home.
    fn at(&self, root: PathBuf) -> Repo {
        Repo {
            _dir: None,
            home: self.home.clone(),
            root,
        }
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = hermetic("git", dir, &self.home)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn git_fails(&self, args: &[&str]) {
        let out = hermetic("git", &self.root, &self.home)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "git {args:?} should fail");
    }

    fn write(&self, name: &str, content: &str) {
        let p = self.root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn env(&self) -> Env {
        Env {
            moving: None,
            home: Some(self.home.clone()),
            xdg_config_home: None,
            config_global: Some("/dev/null".into()),
            config_system: None,
            no_system: true,
            attr_no_system: true,
            path: std::env::var_os("PATH"),
        }
    }

    /// What git says (this refreshes the index, as git status does).
    fn real(&self) -> Status {
        parse_status(&self.git(&[
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=no",
            "-z",
        ]))
    }

    fn real_tags(&self) -> Vec<String> {
        self.git(&["tag", "-l"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The fast path's answer, then git's: equal, and from the files; asked again after git
    /// refreshed the index, the same.
    fn files_agree(&self, scenario: &str) -> Status {
        let fast = git::status_in(&self.root, &self.env()).unwrap();
        let real = self.real();
        assert_eq!(
            fast,
            (real.clone(), Source::Files),
            "{scenario}: files vs git"
        );
        let again = git::status_in(&self.root, &self.env()).unwrap();
        assert_eq!(
            again,
            (real.clone(), Source::Files),
            "{scenario}: after git refreshed the index"
        );
        real
    }

    /// Whichever path answers, the answer is git's.
    fn agrees(&self, scenario: &str) -> Status {
        let (st, _) = git::status_in(&self.root, &self.env()).unwrap();
        let real = self.real();
        assert_eq!(st, real, "{scenario}");
        real
    }

    /// The fast path declines (with a reason containing `why`), and the answer, from git, is
    /// git's.
    fn falls_back(&self, scenario: &str, why: &str) -> Status {
        let fast = gitdir::status(&self.root, &self.env());
        let reason = fast.expect_err(scenario);
        assert!(
            reason.contains(why),
            "{scenario}: fell back because {reason:?}, expected {why:?}"
        );
        let (st, source) = git::status_in(&self.root, &self.env()).unwrap();
        assert_eq!(source, Source::Git(reason), "{scenario}");
        let real = self.real();
        assert_eq!(st, real, "{scenario}: the fallback is git's answer");
        real
    }

    fn index_mtime(&self) -> String {
        let m = std::fs::metadata(self.root.join(".git/index")).unwrap();
        let t = m.modified().unwrap();
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
        format!("@{}.{:09}", d.as_secs(), d.subsec_nanos())
    }

    fn touch(&self, path: &str, stamp: &str) {
        let ok = Command::new("touch")
            .args(["-h", "-d", stamp])
            .arg(self.root.join(path))
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

fn base() -> Repo {
    Repo::new(&[
        ("a.txt", "alpha\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        ("src/deep/x.txt", "x\n"),
        ("run.sh", "#!/bin/sh\n"),
    ])
}

fn changed(st: &Status) -> Vec<&str> {
    st.changed.iter().map(String::as_str).collect()
}

#[test]
fn clean_and_work_tree_changes_come_from_the_files() {
    let r = base();
    let st = r.files_agree("clean");
    assert_eq!(st.branch.as_deref(), Some("main"));
    assert_eq!(
        st.head.as_deref(),
        Some(r.git(&["rev-parse", "HEAD"]).trim())
    );
    assert!(st.changed.is_empty());

    r.write("untracked.txt", "new\n");
    r.write("src/new/also.txt", "new\n");
    assert!(r.files_agree("untracked files").changed.is_empty());

    r.write("src/lib.rs", "pub fn g() {}\n");
    assert_eq!(
        changed(&r.files_agree("same size, new content")),
        ["src/lib.rs"]
    );
    r.git(&["checkout", "-q", "--", "."]);
    assert!(r
        .files_agree("right after git checkout -- .")
        .changed
        .is_empty());

    r.write("a.txt", "alpha and more\n");
    assert_eq!(changed(&r.files_agree("size")), ["a.txt"]);
    r.git(&["checkout", "-q", "--", "a.txt"]);

    std::fs::remove_file(r.root.join("src/deep/x.txt")).unwrap();
    assert_eq!(changed(&r.files_agree("deleted")), ["src/deep/x.txt"]);
    std::fs::remove_dir(r.root.join("src/deep")).unwrap();
    assert_eq!(
        changed(&r.files_agree("its directory deleted")),
        ["src/deep/x.txt"]
    );
    r.git(&["checkout", "-q", "--", "."]);

    Command::new("chmod")
        .args(["+x"])
        .arg(r.root.join("a.txt"))
        .status()
        .unwrap();
    assert_eq!(changed(&r.files_agree("chmod +x")), ["a.txt"]);
    r.git(&["config", "core.filemode", "false"]);
    assert!(r
        .files_agree("chmod +x, core.filemode false")
        .changed
        .is_empty());
    r.git(&["config", "core.filemode", "true"]);
    Command::new("chmod")
        .args(["-x"])
        .arg(r.root.join("a.txt"))
        .status()
        .unwrap();
    assert!(r.files_agree("chmod back").changed.is_empty());

    std::fs::remove_file(r.root.join("a.txt")).unwrap();
    std::os::unix::fs::symlink("run.sh", r.root.join("a.txt")).unwrap();
    assert_eq!(changed(&r.files_agree("file to symlink")), ["a.txt"]);
    std::fs::remove_file(r.root.join("a.txt")).unwrap();
    std::fs::create_dir(r.root.join("a.txt")).unwrap();
    assert_eq!(changed(&r.files_agree("file to directory")), ["a.txt"]);
    std::fs::remove_dir(r.root.join("a.txt")).unwrap();
    r.git(&["checkout", "-q", "--", "."]);

    // A directory replaced by a symlink to a copy: to git, the files below are gone.
    let copy = r.root.join("../copy");
    std::fs::create_dir_all(copy.join("deep")).unwrap();
    std::fs::write(copy.join("lib.rs"), "pub fn f() {}\n").unwrap();
    std::fs::write(copy.join("deep/x.txt"), "x\n").unwrap();
    std::fs::rename(r.root.join("src"), r.root.join("../src-moved")).unwrap();
    std::os::unix::fs::symlink(&copy, r.root.join("src")).unwrap();
    assert_eq!(
        changed(&r.files_agree("directory to symlink")),
        ["src/deep/x.txt", "src/lib.rs"]
    );
    std::fs::remove_file(r.root.join("src")).unwrap();
    std::fs::rename(r.root.join("../src-moved"), r.root.join("src")).unwrap();
    assert!(r.files_agree("restored").changed.is_empty());
}

#[test]
fn racy_entries_are_hashed() {
    let r = base();
    // Same size, mtime set back to the index's own time: the stat data cannot tell.
    let stamp = r.index_mtime();
    r.write("a.txt", "ALPHA\n");
    r.touch("a.txt", &stamp);
    assert_eq!(
        changed(&r.files_agree("same size and mtime as the index")),
        ["a.txt"]
    );
    r.git(&["checkout", "-q", "--", "."]);
    r.touch("a.txt", &stamp);
    assert!(r.files_agree("content back, racy mtime").changed.is_empty());

    // Written, added and rewritten within the same clock tick: every stat field may match.
    for i in 0..5 {
        r.write("a.txt", &format!("v{i}-one\n"));
        r.git(&["add", "a.txt"]);
        r.git(&["commit", "-q", "-m", "one"]);
        r.write("a.txt", &format!("v{i}-two\n"));
        assert_eq!(changed(&r.files_agree("rewritten at once")), ["a.txt"]);
        r.git(&["checkout", "-q", "--", "."]);
    }

    // A symlink's target changed, same length.
    std::os::unix::fs::symlink("aaaa", r.root.join("l")).unwrap();
    r.git(&["add", "l"]);
    r.git(&["commit", "-q", "-m", "link"]);
    std::fs::remove_file(r.root.join("l")).unwrap();
    std::os::unix::fs::symlink("bbbb", r.root.join("l")).unwrap();
    assert_eq!(changed(&r.files_agree("symlink retargeted")), ["l"]);
}

/// Rewrites the index entry of `path` with the file's current stat data (content unchanged in
/// the index), as if git had recorded it in the same instant the file was last written, then
/// sets the index file's mtime to `index_mtime`.
fn record_stat_as_git_would_racily(r: &Repo, path: &str, index_mtime: &str) {
    use std::os::unix::fs::MetadataExt;
    let idx = r.root.join(".git/index");
    let mut d = std::fs::read(&idx).unwrap();
    assert_eq!(&d[4..8], &2u32.to_be_bytes(), "a version 2 index");
    let needle = format!("{path}\0").into_bytes();
    let at = (62..d.len())
        .find(|&p| {
            d[p..].starts_with(&needle)
                && u16::from_be_bytes([d[p - 2], d[p - 1]]) & 0xfff == path.len() as u16
        })
        .expect("the entry");
    let start = at - 62;
    let m = std::fs::symlink_metadata(r.root.join(path)).unwrap();
    let fields = [
        (0, m.ctime() as u32),
        (4, m.ctime_nsec() as u32),
        (8, m.mtime() as u32),
        (12, m.mtime_nsec() as u32),
        (16, m.dev() as u32),
        (20, m.ino() as u32),
        (28, m.uid()),
        (32, m.gid()),
        (36, m.size() as u32),
    ];
    for (off, v) in fields {
        d[start + off..start + off + 4].copy_from_slice(&v.to_be_bytes());
    }
    let n = d.len() - 20;
    let sum = xtask::core::sha1::digest(&d[..n]);
    d[n..].copy_from_slice(&sum);
    std::fs::write(&idx, d).unwrap();
    r.touch(".git/index", index_mtime);
}

fn mtime_of(r: &Repo, path: &str, plus_s: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(r.root.join(path)).unwrap();
    format!("@{}.{:09}", m.mtime() as u64 + plus_s, m.mtime_nsec())
}

#[test]
fn a_racily_clean_entry_is_hashed_and_a_trusted_one_is_not() {
    let r = base();
    // The content changes (same size) but the index holds the new file's exact stat data: only
    // the racy rule (entry mtime not before the index's) makes git look at the content.
    r.write("a.txt", "ALPHA\n");
    record_stat_as_git_would_racily(&r, "a.txt", &mtime_of(&r, "a.txt", 0));
    assert_eq!(changed(&r.files_agree("racily clean")), ["a.txt"]);

    // The same with the index written well after the file: git trusts the stat data and does
    // not see the change. Neither does the fast path: it gives git's answer, not a better one.
    r.git(&["checkout", "-q", "--", "."]);
    r.write("a.txt", "alphA\n");
    record_stat_as_git_would_racily(&r, "a.txt", &mtime_of(&r, "a.txt", 10));
    assert!(r.files_agree("stat data trusted").changed.is_empty());
}

#[test]
fn staged_changes_fall_back_to_git() {
    let r = base();
    r.write("a.txt", "staged\n");
    r.git(&["add", "a.txt"]);
    r.git(&["checkout", "-q", "HEAD", "--", "a.txt"]);
    r.agrees("staged, then restored in the index and the work tree");
    r.git(&["reset", "-q", "--hard"]);
    r.files_agree("reset --hard");

    r.write("a.txt", "staged\n");
    r.git(&["add", "a.txt"]);
    r.write("a.txt", "alpha\n");
    assert_eq!(
        changed(&r.falls_back("staged, then restored in the work tree", "staged")),
        ["a.txt"]
    );
    r.git(&["reset", "-q", "--hard"]);

    r.write("new.txt", "n\n");
    r.git(&["add", "new.txt"]);
    assert_eq!(
        changed(&r.falls_back("staged new file", "staged")),
        ["new.txt"]
    );
    r.git(&["reset", "-q", "--hard"]);

    r.git(&["rm", "-q", "--cached", "a.txt"]);
    assert_eq!(
        changed(&r.falls_back("git rm --cached", "staged")),
        ["a.txt"]
    );
    r.git(&["reset", "-q", "--hard"]);

    r.git(&["mv", "a.txt", "b.txt"]);
    assert_eq!(changed(&r.falls_back("rename staged", "staged")), ["b.txt"]);
    r.git(&["reset", "-q", "--hard"]);
    std::fs::remove_file(r.root.join("b.txt")).ok();

    r.write("ita.txt", "i\n");
    r.git(&["add", "-N", "ita.txt"]);
    r.falls_back("intent to add", "intent-to-add");
    r.git(&["reset", "-q", "--hard"]);

    r.git(&["update-index", "--assume-unchanged", "a.txt"]);
    r.falls_back("assume-unchanged", "assume-unchanged");
    r.git(&["update-index", "--no-assume-unchanged", "a.txt"]);
    r.agrees("back to normal");
}

#[test]
fn heads_refs_and_objects() {
    let r = base();
    r.git(&["commit", "-q", "--allow-empty", "-m", "second"]);
    r.git(&["checkout", "-q", "--detach"]);
    let st = r.files_agree("detached HEAD");
    assert_eq!(st.branch, None);
    assert!(st.head.is_some());
    r.git(&["switch", "-q", "-c", "topic/x"]);
    assert_eq!(
        r.files_agree("a new branch").branch.as_deref(),
        Some("topic/x")
    );
    r.git(&["switch", "-q", "main"]);

    r.git(&["pack-refs", "--all"]);
    assert!(!r.root.join(".git/refs/heads/main").exists());
    r.write("a.txt", "packed refs\n");
    assert_eq!(changed(&r.files_agree("packed refs")), ["a.txt"]);
    r.git(&["checkout", "-q", "--", "."]);

    r.git(&["gc", "-q"]);
    r.falls_back("after git gc (the HEAD commit is packed)", "packed");
    // A new commit is a loose object again.
    r.write("a.txt", "after gc\n");
    r.git(&["commit", "-q", "-am", "third"]);
    r.files_agree("a commit after gc");
}

#[test]
fn what_the_files_cannot_tell_falls_back() {
    let r = base();
    r.write(".gitattributes", "*.txt text eol=crlf\n");
    r.falls_back("an untracked .gitattributes", "attributes");
    r.git(&["add", ".gitattributes"]);
    r.git(&["commit", "-q", "-m", "attrs"]);
    r.falls_back(".gitattributes committed", "attributes");
    r.git(&["rm", "-q", ".gitattributes"]);
    r.git(&["commit", "-q", "-m", "no attrs"]);
    r.files_agree("attributes gone");

    r.write("src/.gitattributes", "*.rs -text\n");
    r.falls_back("a .gitattributes in a directory", "src/.gitattributes");
    std::fs::remove_file(r.root.join("src/.gitattributes")).unwrap();
    std::fs::create_dir_all(r.root.join(".git/info")).unwrap();
    std::fs::write(r.root.join(".git/info/attributes"), "* -text\n").unwrap();
    r.falls_back("info/attributes", "attributes");
    std::fs::remove_file(r.root.join(".git/info/attributes")).unwrap();

    for (key, value) in [
        ("core.autocrlf", "true"),
        ("core.ignorecase", "true"),
        ("filter.lfs.clean", "git-lfs clean -- %f"),
        ("core.trustctime", "false"),
    ] {
        r.git(&["config", key, value]);
        r.falls_back(key, key);
        r.git(&["config", "--unset", key]);
    }
    r.files_agree("config back to plain");

    // A conflict.
    r.git(&["switch", "-q", "-c", "other"]);
    r.write("a.txt", "theirs\n");
    r.git(&["commit", "-q", "-am", "theirs"]);
    r.git(&["switch", "-q", "main"]);
    r.write("a.txt", "ours\n");
    r.git(&["commit", "-q", "-am", "ours"]);
    r.git_fails(&["merge", "-q", "other"]);
    assert_eq!(changed(&r.falls_back("unmerged", "")), ["a.txt"]);
    r.git(&["merge", "--abort"]);
    r.files_agree("merge aborted");

    // A submodule entry.
    let sub = Repo::new(&[("s.txt", "s\n")]);
    r.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.root.to_str().unwrap(),
        "sub",
    ]);
    r.git(&["commit", "-q", "-m", "sub"]);
    r.falls_back("a submodule", "submodule");
}

#[test]
fn worktrees_and_gitfiles() {
    let r = base();
    r.git(&["tag", "v1.0.0"]);
    let wt_path = r.root.join("../wt");
    r.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "side",
        wt_path.to_str().unwrap(),
    ]);
    let wt = r.at(std::fs::canonicalize(&wt_path).unwrap());
    assert!(wt.root.join(".git").is_file());
    let st = wt.files_agree("a worktree");
    assert_eq!(st.branch.as_deref(), Some("side"));
    wt.write("a.txt", "in the worktree\n");
    assert_eq!(
        changed(&wt.files_agree("a change in the worktree")),
        ["a.txt"]
    );
    assert!(r
        .files_agree("the main checkout is unaffected")
        .changed
        .is_empty());
    let (tags, source) = git::tags_in(&wt.root, &wt.env()).unwrap();
    assert_eq!((tags, source), (wt.real_tags(), Source::Files));

    // A separate git dir: `.git` is a `gitdir:` file without a commondir.
    let dir = tempfile::tempdir().unwrap();
    let sep = r.at(dir.path().join("work"));
    let gitdir = dir.path().join("store.git");
    std::fs::create_dir_all(&sep.root).unwrap();
    sep.git(&[
        "init",
        "-q",
        "-b",
        "main",
        "--separate-git-dir",
        gitdir.to_str().unwrap(),
    ]);
    sep.write("f.txt", "f\n");
    sep.git(&["add", "-A"]);
    sep.git(&["commit", "-q", "-m", "one"]);
    sep.files_agree("a separate git dir");
    sep.write("f.txt", "g\n");
    assert_eq!(
        changed(&sep.files_agree("a separate git dir, changed")),
        ["f.txt"]
    );
}

#[test]
fn own_outputs_are_not_changes() {
    let r = Repo::new(&[
        ("target/slipway/journal.jsonl", "{}\n"),
        ("target/slipwayish", "x\n"),
    ]);
    r.write("target/slipway/journal.jsonl", "{\"a\":1}\n");
    r.write("target/slipwayish", "yy\n");
    assert_eq!(
        changed(&r.files_agree("own output changed")),
        ["target/slipwayish"]
    );
}

#[test]
fn moving_variables_fall_back() {
    let r = base();
    let env = Env {
        moving: Some("GIT_DIR".into()),
        ..r.env()
    };
    assert_eq!(
        gitdir::status(&r.root, &env),
        Err("GIT_DIR is set".to_string())
    );
    assert_eq!(
        gitdir::tags(&r.root, &env),
        Err("GIT_DIR is set".to_string())
    );
}

#[test]
fn tags_come_from_loose_and_packed_refs() {
    let r = base();
    let tags_agree = |scenario: &str| {
        let (tags, source) = git::tags_in(&r.root, &r.env()).unwrap();
        assert_eq!(tags, r.real_tags(), "{scenario}");
        assert_eq!(source, Source::Files, "{scenario}");
        tags
    };
    assert!(tags_agree("no tags").is_empty());
    for t in [
        "v1.2.0",
        "v1.10.0",
        "V2",
        "app/v1.0.0",
        "0.9.0",
        "v1.2.0-rc.1",
    ] {
        r.git(&["tag", t]);
    }
    r.git(&["tag", "-a", "-m", "annotated", "v1.11.0"]);
    assert_eq!(
        tags_agree("loose"),
        [
            "0.9.0",
            "V2",
            "app/v1.0.0",
            "v1.10.0",
            "v1.11.0",
            "v1.2.0",
            "v1.2.0-rc.1"
        ]
    );
    r.git(&["pack-refs", "--all"]);
    assert!(!r.root.join(".git/refs/tags/v1.2.0").exists());
    tags_agree("packed (annotated ones have peeled lines)");
    r.git(&["tag", "v3.0.0"]);
    r.git(&["tag", "-f", "v1.2.0", "HEAD"]);
    r.git(&["tag", "-d", "V2"]);
    assert_eq!(
        tags_agree("loose beside packed, one deleted"),
        [
            "0.9.0",
            "app/v1.0.0",
            "v1.10.0",
            "v1.11.0",
            "v1.2.0",
            "v1.2.0-rc.1",
            "v3.0.0"
        ]
    );
    r.git(&["gc", "-q"]);
    tags_agree("after gc");

    r.git(&["config", "tag.sort", "-v:refname"]);
    let (tags, source) = git::tags_in(&r.root, &r.env()).unwrap();
    assert_eq!(tags, r.real_tags());
    assert_eq!(tags[0], "v3.0.0");
    assert!(matches!(source, Source::Git(why) if why.contains("tag.sort")));
    r.git(&["config", "--unset", "tag.sort"]);
    tags_agree("tag.sort unset");

    std::fs::write(r.root.join(".git/refs/tags/broken"), "not a ref\n").unwrap();
    let (tags, source) = git::tags_in(&r.root, &r.env()).unwrap();
    assert!(matches!(source, Source::Git(_)), "{source:?}");
    assert!(
        !tags.contains(&"broken".to_string()),
        "git skips broken refs"
    );
}

#[test]
fn reftable_repositories_fall_back() {
    let first = Repo::new(&[("a", "a\n")]);
    let r = first.at(first.root.join("../reftable"));
    std::fs::create_dir_all(&r.root).unwrap();
    r.git(&["init", "-q", "-b", "main", "--ref-format=reftable"]);
    r.write("a", "a\n");
    r.git(&["add", "a"]);
    r.git(&["commit", "-q", "-m", "one"]);
    r.git(&["tag", "v1.0.0"]);
    let (tags, source) = git::tags_in(&r.root, &r.env()).unwrap();
    assert_eq!(tags, ["v1.0.0"]);
    assert!(matches!(source, Source::Git(why) if why.contains("reftable")));
    r.falls_back("reftable", "reftable");
}

/// The bench fixture (bench/bump-version.sh) takes the fast path for both reads, right after
/// the bench's own `git checkout -q -- .` (every managed file racy).
#[test]
fn the_benchmark_fixture_reads_from_the_files() {
    let mut changelog =
        String::from("# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Something.\n\n");
    for i in (1..=200).rev() {
        let v = if i == 200 {
            "1.2.3".to_string()
        } else {
            format!("1.1.{i}")
        };
        changelog.push_str(&format!(
            "## [{v}] - 2025-01-01\n\n### Fixed\n\n- Fix {i}.\n\n"
        ));
    }
    changelog.push_str("[Unreleased]: https://github.com/acme/app/compare/v1.2.3...HEAD\n");
    let r = Repo::new(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = []\n[workspace.metadata.release]\ncompose = [\"docker-compose.yml\"]\nimages = [\"ghcr.io/acme/app\"]\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"1.2.3\"  # the release version\ndependencies = [\"acme-sdk==1.2.3\"]\n",
        ),
        (
            "docker-compose.yml",
            "services:\r\n  app:\r\n    image: ghcr.io/acme/app:v1.2.3  # own\r\n",
        ),
        ("CHANGELOG.md", &changelog),
    ]);
    let out = hermetic(env!("CARGO_BIN_EXE_xtask"), &r.root, &r.home)
        .args(["bump-version", "minor", "--no-commit"])
        .env("SOURCE_DATE_EPOCH", "1795219200")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        changed(&r.files_agree("after the bump")),
        ["CHANGELOG.md", "docker-compose.yml", "pyproject.toml"]
    );
    r.git(&["checkout", "-q", "--", "."]);
    let fast = gitdir::status(&r.root, &r.env());
    assert!(
        fast.as_ref().is_ok_and(|s| s.changed.is_empty()),
        "{fast:?}"
    );
    assert_eq!(gitdir::tags(&r.root, &r.env()), Ok(vec![]));
    r.files_agree("after git checkout -- .");
}
