//! Notices end to end: the built binary on fixture repositories, a real SMTP server (aiosmtpd in
//! its venv on 127.0.0.1, recording every message) and a local HTTP sink for the webhooks.
//! One mail per failure, refusals included; success only with `notify-on`; a channel that is down
//! is a warning and the exit code is the real outcome's; secrets appear nowhere.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use slipway_rig::services::{MailSink, SMTPD_REQUIREMENTS};
use xtask::targets::pypi::Venv;

const SMTP_USER: &str = "notifier";
const SMTP_PASSWORD: &str = "smtp-PW-7731-secret";
const SLACK_PATH: &str = "/hooks/T0-SLACKTOKEN-4412";
const GH_SECRET: &str = "ghs-NOTICE-TOKEN-5519";

/// A tiny HTTP receiver: records every POST (path and body), answers `status`.
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let store = posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut len = 0usize;
                let mut path = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if path.is_empty() {
                        path = line.split(' ').nth(1).unwrap_or("").to_string();
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                store
                    .lock()
                    .unwrap()
                    .push((path, String::from_utf8_lossy(&body).into_owned()));
                let _ = reader.get_mut().write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    )
                    .as_bytes(),
                );
            }
        });
        Receiver { url, posts }
    }

    fn posts(&self) -> Vec<(String, String)> {
        self.posts.lock().unwrap().clone()
    }
}

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
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
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
