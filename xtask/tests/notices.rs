//! Notices end to end: the built binary on fixture repositories, a real SMTP server (aiosmtpd in
//! its venv on 127.0.0.1, recording every message) and a local HTTP sink for the webhooks.
//! One mail per failure, refusals included; success only with `notify-on`; a channel that is down
//! is a warning and the exit code is the real outcome's; secrets appear nowhere.

mod common;

use std::path::Path;

use common::*;
use slipway_rig::services::{MailSink, SMTPD_REQUIREMENTS};
use xtask::targets::pypi::Venv;

const SMTP_USER: &str = "notifier";
const SMTP_PASSWORD: &str = "smtp-PW-7731-secret";
const SLACK_PATH: &str = "/hooks/T0-SLACKTOKEN-4412";
const GH_SECRET: &str = "ghs-NOTICE-TOKEN-5519";

struct Sink {
    mail: MailSink,
    _dir: tempfile::TempDir,
}

/// The mail sink, AUTH required; None (skipped loudly, or failing under CI) without its venv.
fn sink() -> Option<Sink> {
    let venv = Venv::in_dir(&tools_dir(), "smtpd", SMTPD_REQUIREMENTS);
    let ready = venv.is_ready() || venv.ensure(Path::new("/")).is_ok();
    if !require("aiosmtpd (the mail sink's venv)", ready) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = MailSink::start(&venv.dir, dir.path(), Some((SMTP_USER, SMTP_PASSWORD))).unwrap();
    Some(Sink { mail, _dir: dir })
}

fn cargo_toml(extra: &str) -> String {
    CARGO_TOML.replace(
        "[workspace.metadata.release]\n",
        &format!("[workspace.metadata.release]\n{extra}"),
    )
}

fn repo_with(extra: &str) -> Repo {
    let repo = fixture().with_remote();
    repo.write("Cargo.toml", &cargo_toml(extra));
    repo.git(&["add", "-A"]);
    repo.commit("chore: notices");
    repo.git(&["push", "-q", "origin", "main"]);
    repo
}

/// The binary in `repo` with the notice channels in the environment.
fn run(repo: &Repo, smtp_url: &str, slack: &str, args: &[&str]) -> Run {
    let out = hermetic(BIN, repo.path())
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CLICOLOR_FORCE")
        .env("SMTP_URL", smtp_url)
        .env("MAIL_TO", "ops@example.com, lead@example.com")
        .env("MAIL_FROM", "releases@example.com")
        .env("SMTP_USERNAME", SMTP_USER)
        .env("SMTP_PASSWORD", SMTP_PASSWORD)
        .env("SLACK_WEBHOOK", slack)
        .env("GH_TOKEN", GH_SECRET)
        .env_remove("DISCORD_WEBHOOK")
        .env_remove("TWINE_PASSWORD")
        .env_remove("PYPI_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// No secret in the output, the mails, the webhook bodies or any file of the repository.
fn assert_no_secrets(repo: &Repo, r: &Run, sink: &MailSink, hooks: &Receiver) {
    let mut texts = vec![("output".to_string(), r.all())];
    texts.extend(
        sink.messages()
            .into_iter()
            .map(|m| ("a mail".to_string(), m)),
    );
    texts.extend(
        hooks
            .posts()
            .into_iter()
            .map(|(_, b)| ("a webhook body".to_string(), b)),
    );
    for f in files_under(repo.path()) {
        if let Ok(t) = std::fs::read_to_string(&f) {
            texts.push((f.display().to_string(), t));
        }
    }
    for (what, text) in texts {
        for secret in [SMTP_PASSWORD, GH_SECRET, "T0-SLACKTOKEN-4412"] {
            assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
        }
    }
}

fn header<'a>(mail: &'a str, name: &str) -> &'a str {
    mail.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or("")
}

#[test]
fn a_refused_release_sends_one_mail_and_one_slack_message_with_the_problems() {
    let Some(s) = sink() else { return };
    let hooks = Receiver::start(200);
    let repo = repo_with("notify = [\"slack\", \"email\"]\n");
    repo.write("docker-compose.yml", &(COMPOSE.to_string() + "# edited\n"));
    let before = repo.snapshot();
    let slack = format!("{}{SLACK_PATH}", hooks.url);
    let r = run(&repo, &s.mail.url(), &slack, &["release", "patch"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert_eq!(repo.snapshot(), before, "a refusal changes nothing");
    let mails = s.mail.messages();
    assert_eq!(
        mails.len(),
        1,
        "one mail per failure: {mails:?}\n{}",
        r.all()
    );
    let m = &mails[0];
    assert_eq!(header(m, "X-Sink-Auth"), "yes", "AUTH before MAIL: {m}");
    assert_eq!(header(m, "X-Sink-Mail-From"), "releases@example.com");
    assert_eq!(
        header(m, "X-Sink-Rcpt-To"),
        "ops@example.com,lead@example.com"
    );
    assert_eq!(
        header(m, "Subject"),
        "[slipway] release acme-app: refused",
        "refused before the version was computed: {m}"
    );
    for want in [
        "command: release",
        "package: acme-app",
        "outcome: refused",
        "uncommitted",
        "docker-compose.yml",
    ] {
        assert!(m.contains(want), "{want:?} in the mail:\n{m}");
    }
    let posts = hooks.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, SLACK_PATH);
    assert!(
        posts[0].1.contains("refused before changing anything"),
        "{posts:?}"
    );
    assert!(
        r.all().contains("notice sent to smtp://127.0.0.1:"),
        "{}",
        r.all()
    );
    assert_no_secrets(&repo, &r, &s.mail, &hooks);
}

#[test]
fn success_is_told_only_with_notify_on_success() {
    let Some(s) = sink() else { return };
    let hooks = Receiver::start(200);
    let slack = format!("{}{SLACK_PATH}", hooks.url);

    // Default notify-on = ["failure"]: a successful bump tells nobody.
    let repo = repo_with("");
    let r = run(&repo, &s.mail.url(), &slack, &["bump-version", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(s.mail.messages().is_empty(), "{:?}", s.mail.messages());
    assert!(hooks.posts().is_empty(), "{:?}", hooks.posts());

    let repo = repo_with("notify-on = [\"failure\", \"success\"]\n");
    let r = run(&repo, &s.mail.url(), &slack, &["bump-version", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let mails = s.mail.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(
        header(&mails[0], "Subject"),
        "[slipway] bump-version acme-app v1.2.4: succeeded"
    );
    assert!(mails[0].contains("outcome: succeeded"), "{}", mails[0]);
    // No `notify`: every channel whose settings are present (Slack and e-mail here).
    assert_eq!(hooks.posts().len(), 1, "{:?}", hooks.posts());
    assert_no_secrets(&repo, &r, &s.mail, &hooks);
}

#[test]
fn a_dry_run_lists_the_notices_and_sends_nothing() {
    let Some(s) = sink() else { return };
    let hooks = Receiver::start(200);
    let slack = format!("{}{SLACK_PATH}", hooks.url);
    let repo = repo_with("notify = [\"slack\", \"email\"]\n");
    let r = run(
        &repo,
        &s.mail.url(),
        &slack,
        &["release", "patch", "--dry-run"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains(&format!(
            "MAIL {}  to ops@example.com, lead@example.com from releases@example.com: \
             [slipway] release acme-app v1.2.4: failed",
            s.mail.url()
        )),
        "{}",
        r.all()
    );
    assert!(
        r.all().contains("POST ***"),
        "the webhook URL is masked: {}",
        r.all()
    );
    assert!(s.mail.messages().is_empty());
    assert!(hooks.posts().is_empty());
    assert_no_secrets(&repo, &r, &s.mail, &hooks);
}

#[test]
fn channels_that_are_down_are_warnings_and_the_outcome_stands() {
    // A closed SMTP port and a webhook answering 500.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hooks = Receiver::start(500);
    let slack = format!("{}{SLACK_PATH}", hooks.url);
    let repo = repo_with("notify-on = [\"failure\", \"success\"]\n");
    let smtp = format!("smtp://127.0.0.1:{closed}");

    let r = run(&repo, &smtp, &slack, &["bump-version", "patch"]);
    assert_eq!(
        r.code,
        0,
        "a failing channel never changes the exit code: {}",
        r.all()
    );
    assert!(
        r.all().contains(&format!(
            "the notice to smtp://127.0.0.1:{closed} (mail) was not sent"
        )),
        "{}",
        r.all()
    );
    assert!(r.all().contains("HTTP 500"), "{}", r.all());
    assert_eq!(hooks.posts().len(), 1);

    repo.write("docker-compose.yml", &(COMPOSE.to_string() + "# edited\n"));
    let r = run(&repo, &smtp, &slack, &["release", "patch"]);
    assert_eq!(r.code, 1, "the refusal's exit code: {}", r.all());
    assert!(r.all().contains("uncommitted"), "{}", r.all());
    assert!(r.all().contains("was not sent"), "{}", r.all());
    for s in [SMTP_PASSWORD, GH_SECRET, "T0-SLACKTOKEN-4412"] {
        assert!(!r.all().contains(s), "{s}: {}", r.all());
    }
}

#[test]
fn publish_prod_without_credentials_sends_a_notice() {
    let Some(s) = sink() else { return };
    let hooks = Receiver::start(200);
    let repo = payload_repo(
        "1.5.0",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\nnotify = [\"email\"]\n\n\
         [workspace.metadata.release.python]\nrepository-url = \"http://127.0.0.1:9/\"\n\
         index-url = \"http://127.0.0.1:9/simple/\"\n",
    );
    let r = run(
        &repo,
        &s.mail.url(),
        &format!("{}{SLACK_PATH}", hooks.url),
        &["publish-prod", "--only", "pypi", "--skip-ci-check"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let mails = s.mail.messages();
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", r.all());
    assert_eq!(
        header(&mails[0], "Subject"),
        "[slipway] publish-prod slipway-demo v1.5.0: refused",
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("TWINE_PASSWORD") || mails[0].contains("PYPI_TOKEN"),
        "{}",
        mails[0]
    );
    assert!(hooks.posts().is_empty(), "notify names email only");
    assert_no_secrets(&repo, &r, &s.mail, &hooks);
}

#[test]
fn an_unknown_channel_is_refused_naming_the_key() {
    let repo = fixture();
    repo.write("Cargo.toml", &cargo_toml("notify = [\"pager\"]\n"));
    repo.git(&["add", "-A"]);
    repo.commit("chore: pager");
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "notify entry \"pager\" is unknown; use any of slack, discord, webhook, email"
        ),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// The CI gate on the tag's commit: the real `gh` against the GitHub stand-in.

use slipway_rig::standin::{CheckSeed, RunSeed, Standin};

struct Gate {
    repo: Repo,
    standin: Standin,
    gh_config: tempfile::TempDir,
    sha: String,
}

/// A payload repository tagged v1.6.0 whose release workflow passed, publishing only the GitHub
/// release (its distributions already built), with `ci-wait-s = 30`.
fn gate() -> Option<Gate> {
    let gh = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("gh (Debian package)", gh) {
        return None;
    }
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let repo = payload_repo(
        "1.6.0",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.github]\nrepo = \"acme/app\"\nrelease-workflow = \"release.yml\"\n\
         ci-wait-s = 30\n",
    );
    let sha = repo
        .git(&["rev-parse", "v1.6.0^{commit}"])
        .trim()
        .to_string();
    standin
        .seed_run_with(&RunSeed {
            owner: "acme".into(),
            repo: "app".into(),
            workflow: "release.yml".into(),
            branch: "v1.6.0".into(),
            conclusion: Some("success".into()),
            status: None,
            head_sha: Some(sha.clone()),
            event: Some("push".into()),
        })
        .unwrap();
    let dist = repo.path().join("target/slipway/dist/1.6.0");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("slipway_demo-1.6.0.tar.gz"), b"sdist bytes").unwrap();
    Some(Gate {
        repo,
        standin,
        gh_config: tempfile::tempdir().unwrap(),
        sha,
    })
}

impl Gate {
    fn seed(&self, kind: &str, name: &str, status: Option<&str>, conclusion: Option<&str>) {
        self.standin
            .seed_check(&CheckSeed {
                owner: "acme".into(),
                repo: "app".into(),
                sha: self.sha.clone(),
                kind: kind.into(),
                name: name.into(),
                status: status.map(String::from),
                conclusion: conclusion.map(String::from),
                url: Some(format!("https://ci.example/{name}")),
            })
            .unwrap();
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = hermetic(BIN, self.repo.path());
        for (k, v) in self.standin.gh_env(self.gh_config.path()) {
            if k.to_ascii_lowercase().ends_with("_proxy") {
                continue;
            }
            c.env(k, v);
        }
        c.args(args)
            .env("SLIPWAY_GH_PROXY", self.standin.url())
            .env("GH_TOKEN", GH_SECRET)
            .env("GH_ENTERPRISE_TOKEN", GH_SECRET)
            .env("SLIPWAY_CI_POLL_MS", "200")
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN")
            .env_remove("SLACK_WEBHOOK")
            .env_remove("SMTP_URL")
            .env_remove("MAIL_TO");
        c
    }

    fn publish(&self, extra: &[&str]) -> Run {
        let mut args = vec!["publish-prod", "--only", "github"];
        args.extend(extra);
        let out = self.command(&args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn releases(&self) -> usize {
        self.standin.state()["repos"][0]["releases"]
            .as_array()
            .map_or(0, Vec::len)
    }
}

#[test]
fn a_red_check_run_or_status_on_the_tags_commit_refuses_publishing() {
    let Some(g) = gate() else { return };
    g.seed("check", "test", None, Some("success"));
    g.seed("check", "lint", None, Some("failure"));
    g.seed("status", "ci/legacy", Some("error"), None);
    let r = g.publish(&[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("the check run `lint` is failure (https://ci.example/lint)"),
        "{}",
        r.all()
    );
    assert!(
        r.all()
            .contains("the status `ci/legacy` is error (https://ci.example/ci/legacy)"),
        "{}",
        r.all()
    );
    assert!(
        !r.all().contains("`test`"),
        "green checks are not problems: {}",
        r.all()
    );
    assert_eq!(g.releases(), 0, "nothing published");
    assert!(!r.all().contains(GH_SECRET));

    // --skip-ci-check bypasses it, loudly.
    let r = g.publish(&["--skip-ci-check"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("--skip-ci-check: NOT checking"),
        "{}",
        r.all()
    );
    assert_eq!(g.releases(), 1);
    g.standin.ensure_no_violations().unwrap();
}

#[test]
fn pending_checks_are_waited_for_then_pass() {
    let Some(g) = gate() else { return };
    g.seed("check", "test", Some("in_progress"), None);
    g.seed("status", "ci/legacy", Some("pending"), None);
    let started = std::time::Instant::now();
    let child = g
        .command(&["publish-prod", "--only", "github"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        g.releases(),
        0,
        "nothing is published while checks are pending"
    );
    g.seed("check", "test", None, Some("success"));
    g.seed("status", "ci/legacy", Some("success"), None);
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(started.elapsed().as_secs_f64() >= 2.0);
    assert!(
        all.contains("waiting up to 30 s for 2 pending check(s)"),
        "{all}"
    );
    assert!(all.contains("all 2 checks on v1.6.0's commit"), "{all}");
    assert_eq!(g.releases(), 1);
    g.standin.ensure_no_violations().unwrap();
}

#[test]
fn a_dry_run_does_not_wait_and_no_checks_pass_with_a_note() {
    let Some(g) = gate() else { return };
    // No checks at all: passes, with a note (the dry run reads them too).
    let r = g.publish(&["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all()
            .contains("no check runs or statuses on v1.6.0's commit"),
        "{}",
        r.all()
    );
    // A dry run does not wait: a pending check is reported as such.
    g.seed("check", "slow", Some("queued"), None);
    let r = g.publish(&["--dry-run"]);
    assert!(
        r.all().contains("the check run `slow` is queued (https://ci.example/slow) (ci-wait-s is 0: not waiting)"),
        "{}",
        r.all()
    );
    assert_eq!(g.releases(), 0);
    g.standin.ensure_no_violations().unwrap();
}

/// A CA and a server certificate for 127.0.0.1 signed by it (openssl): (ca.pem, cert, key).
fn certificates(
    dir: &Path,
) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require("openssl (Debian package)", ok) {
        return None;
    }
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=slipway test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Some((
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    ))
}

#[test]
fn starttls_when_the_server_offers_it_and_credentials_only_inside_it() {
    let venv = Venv::in_dir(&tools_dir(), "smtpd", SMTPD_REQUIREMENTS);
    let ready = venv.is_ready() || venv.ensure(Path::new("/")).is_ok();
    if !require("aiosmtpd (the mail sink's venv)", ready) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path()) else {
        return;
    };
    // The sink requires STARTTLS before MAIL and AUTH only inside it.
    let sink = MailSink::start_with(
        &venv.dir,
        &dir.path().join("sink"),
        Some((SMTP_USER, SMTP_PASSWORD)),
        Some((&cert, &key)),
    )
    .unwrap();
    let hooks = Receiver::start(200);
    let repo = repo_with("notify = [\"email\"]\n");
    repo.write("docker-compose.yml", &(COMPOSE.to_string() + "# edited\n"));

    // A certificate no root vouches for: the handshake fails, nothing falls back to plain text.
    let r = run(&repo, &sink.url(), "", &["release", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("the TLS handshake with smtp://127.0.0.1:"),
        "{}",
        r.all()
    );
    assert!(sink.messages().is_empty());

    // With the relay's CA in SMTP_CA_FILE: sent over TLS, authenticated.
    let out = hermetic(BIN, repo.path())
        .args(["release", "patch"])
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env("SMTP_URL", sink.url())
        .env("SMTP_CA_FILE", &ca)
        .env("MAIL_TO", "ops@example.com")
        .env("SMTP_USERNAME", SMTP_USER)
        .env("SMTP_PASSWORD", SMTP_PASSWORD)
        .env_remove("SLACK_WEBHOOK")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "{mails:?}\n{all}");
    assert_eq!(header(&mails[0], "X-Sink-TLS"), "yes", "{}", mails[0]);
    assert_eq!(header(&mails[0], "X-Sink-Auth"), "yes", "{}", mails[0]);
    assert!(!all.contains(SMTP_PASSWORD) && !mails[0].contains(SMTP_PASSWORD));
    assert!(hooks.posts().is_empty());
}
