//! Credentials checked before the first publish step, all at once, in parallel: the
//! `preflight` stage of `publish-prod` (and of `promote` and `rollback`, for the registries they
//! write).
//!
//! - each registry's login is tried (`GET /v2/` with the credentials, the challenge answered:
//!   a 401 is "wrong password for <registry>"), every registry on its own thread;
//! - the GitHub token against the repository: `repos/get`'s `permissions` (push or admin to
//!   create releases), and its expiry from the `github-authentication-token-expiration` header:
//!   a warning `credentials.warn-days` (default 14) before, a refusal once expired;
//! - a PyPI API token's form (`pypi-` + a macaroon that decodes), when the token looks like one
//!   or the index is PyPI's (a local index with a user and password is not judged).
//!
//! Every problem is reported together and the step fails: nothing after it runs, so nothing is
//! published. With trusted publishing, the OIDC exchange is twine's, at upload: not checked here.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde_json::{json, Value as Json};

use crate::core::credentials::{self as judge, Expiry};
use crate::run::plan::{Action, Answer, Call, Done, Planned, Request, RunContext, Step, Sub, Val};
use crate::run::ui;
use crate::targets::docker::registry::{api_base, Client, Repo};
use crate::targets::docker::{registry_credentials, Login};
use crate::targets::github::Gh;

/// One registry to log in to.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub repo: Repo,
    /// From DOCKER_USERNAME/DOCKER_PASSWORD; None: the docker config's login (read when the
    /// step runs), else anonymous.
    pub env: Option<Login>,
}

/// The PyPI side: the upload URL and, for a PyPI API token, its form's problem.
#[derive(Debug, Clone)]
pub struct PypiCheck {
    pub repository_url: String,
    /// `Some(problem)` for a token of the wrong form; `None` when fine or not judged.
    pub problem: Option<String>,
    /// How it authenticates, for the evidence.
    pub how: String,
}

/// The preflight step.
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    pub registries: Vec<RegistryLogin>,
    pub github: Option<Gh>,
    pub pypi: Option<PypiCheck>,
    pub warn_days: u64,
}

/// What the step read.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Per registry: what its login check found.
    pub registries: Vec<(String, LoginResult)>,
    /// `gh api --include repos/<repo>`'s answer.
    pub github: Option<Result<GithubSeen, String>>,
    /// The clock (Unix seconds), for the expiry.
    pub now: i64,
}

/// A registry's answer to its login check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginResult {
    Accepted,
    /// The credentials were refused (or needed and missing): the sentence naming the fix.
    Refused(String),
    /// No answer (or an unexpected one): the publish lanes fail alone on it, so it is a
    /// warning here, not a refusal.
    Unreachable(String),
}

#[derive(Debug, Clone)]
pub struct GithubSeen {
    pub status: u16,
    pub body: Json,
    pub expiry: Option<String>,
}

/// What [`decide`] concluded: problems (the step fails with all of them), warnings, evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub evidence: Vec<String>,
}

impl PypiCheck {
    /// From the upload credentials in the environment (as the upload step reads them).
    pub fn from_env(repository_url: &str) -> PypiCheck {
        use crate::targets::pypi::Credentials;
        let public = repository_url.contains("pypi.org");
        let (problem, how) = match Credentials::from_env(repository_url) {
            Some(Credentials::Password { user, password })
                if password.starts_with("pypi-") || (public && user == "__token__") =>
            {
                (
                    judge::pypi_token_problem(&password),
                    "a PyPI API token".to_string(),
                )
            }
            Some(Credentials::Password { user, .. }) => (None, format!("user `{user}`")),
            Some(Credentials::TrustedPublishing) => (
                None,
                "trusted publishing (twine makes the OIDC exchange at upload)".to_string(),
            ),
            None => (None, "no credentials".to_string()),
        };
        PypiCheck {
            repository_url: repository_url.to_string(),
            problem,
            how,
        }
    }
}

impl Preflight {
    pub fn is_empty(&self) -> bool {
        self.registries.is_empty() && self.github.is_none() && self.pypi.is_none()
    }

    fn gh_process(gh: &Gh) -> crate::run::plan::Process {
        gh.api([format!("repos/{}", gh.repo)])
    }

    /// Reads everything at once: one thread per registry and one for GitHub.
    pub fn observe(&self) -> Seen {
        std::thread::scope(|s| {
            let logins: Vec<_> = self
                .registries
                .iter()
                .map(|r| s.spawn(move || (r.repo.registry.clone(), try_login(r))))
                .collect();
            let github = self.github.as_ref().map(|gh| {
                s.spawn(move || {
                    let p = Preflight::gh_process(gh);
                    let out = crate::run::process::output(&p).map_err(|e| format!("{e:#}"))?;
                    let answer = Answer {
                        ok: out.ok,
                        stdout: out.stdout,
                        stderr: out.stderr,
                    };
                    let reply = crate::targets::github::reply(&p, &answer)?;
                    Ok(GithubSeen {
                        status: reply.status,
                        body: reply.body,
                        expiry: header_of(&answer.stdout, judge::EXPIRY_HEADER),
                    })
                })
            });
            Seen {
                registries: logins
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                String::new(),
                                LoginResult::Unreachable("internal error: a check panicked".into()),
                            )
                        })
                    })
                    .collect(),
                github: github.map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("internal error: a check panicked".into()))
                }),
                now: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            }
        })
    }
}

fn try_login(r: &RegistryLogin) -> LoginResult {
    let creds = registry_credentials(&r.repo.registry, &r.env);
    let mut client = Client::new(
        &r.repo.registry,
        creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
    );
    match client.check_login(&r.repo.path) {
        Ok(true) => LoginResult::Accepted,
        Ok(false) => LoginResult::Refused(client.refusal()),
        Err(e) => LoginResult::Unreachable(ui::redact(&format!("{e:#}"))),
    }
}

/// A response header in what `gh api --include` printed (pure): the lines between the status
/// line and the first blank one.
pub fn header_of(stdout: &str, name: &str) -> Option<String> {
    let text = stdout.replace("\r\n", "\n");
    let head = text.split("\n\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Pure: every problem, warning and piece of evidence in what was read.
pub fn decide(p: &Preflight, seen: &Seen) -> Verdict {
    let mut v = Verdict::default();
    for (registry, result) in &seen.registries {
        match result {
            LoginResult::Accepted => v
                .evidence
                .push(format!("registry {registry}: login accepted")),
            LoginResult::Refused(e) => v.problems.push(e.clone()),
            LoginResult::Unreachable(e) => v.warnings.push(format!(
                "the login to {registry} could not be checked ({e}); its publish lane fails alone \
                 if it stays down, and a re-run completes it"
            )),
        }
    }
    if let (Some(gh), Some(result)) = (&p.github, &seen.github) {
        let repo = &gh.repo;
        match result {
            Err(e) => v.problems.push(e.clone()),
            Ok(r) if r.status == 401 => v.problems.push(format!(
                "GitHub refused the token (HTTP 401: {}): it is wrong, revoked or expired; set GH_TOKEN \
                 to a token that may create releases in {repo}",
                crate::targets::github::gh_message(&r.body)
            )),
            Ok(r) if r.status == 404 || r.status == 403 => v.problems.push(format!(
                "the GitHub token cannot see {repo} (HTTP {}): check [workspace.metadata.release.github] \
                 repo, and that the token has access to it",
                r.status
            )),
            Ok(r) if r.status != 200 => v.problems.push(format!(
                "GitHub answered HTTP {} for repos/{repo}: {}",
                r.status,
                crate::targets::github::gh_message(&r.body)
            )),
            Ok(r) => {
                match judge::release_permission(repo, &r.body) {
                    Some(problem) => v.problems.push(problem),
                    None => v
                        .evidence
                        .push(format!("GitHub token: may create releases in {repo}")),
                }
                match judge::expiry(r.expiry.as_deref(), seen.now, p.warn_days) {
                    Expiry::Fine => {
                        if let Some(e) = &r.expiry {
                            v.evidence.push(format!("GitHub token expires {e}"));
                        }
                    }
                    Expiry::Soon { days, when } => v.warnings.push(format!(
                        "the GitHub token expires in {days} day(s), on {when}: renew it before it \
                         stops releases (warned {} days ahead: credentials.warn-days)",
                        p.warn_days
                    )),
                    Expiry::Expired { when } => v.problems.push(format!(
                        "the GitHub token expired on {when}: set GH_TOKEN to a new token that may create \
                         releases in {repo}"
                    )),
                    Expiry::Unreadable(text) => v.warnings.push(format!(
                        "GitHub sent a token expiry slipway cannot read ({text:?}): check the token's \
                         expiry yourself"
                    )),
                }
            }
        }
    }
    if let Some(pypi) = &p.pypi {
        match &pypi.problem {
            Some(problem) => v.problems.push(problem.clone()),
            None => v
                .evidence
                .push(format!("{}: {}", pypi.repository_url, pypi.how)),
        }
    }
    v
}

/// Dry-run view of a registry's login check: the request the registry client makes.
#[derive(Debug)]
struct LoginCall(RegistryLogin);

impl Call for LoginCall {
    fn requests(&self) -> Vec<Request> {
        let user = self
            .0
            .env
            .as_ref()
            .map(|l| l.user.clone())
            .unwrap_or_else(|| "<docker config login>".into());
        vec![Request {
            method: "GET".into(),
            url: format!("{}/v2/", api_base(&self.0.repo.registry)),
            headers: vec![(
                "Authorization".into(),
                Val::Plain(format!("<answer to the challenge, as {user}>")),
            )],
            body: None,
            service: format!("registry {}", self.0.repo.registry),
        }]
    }
    fn call(&self) -> Result<Vec<(String, String)>> {
        match try_login(&self.0) {
            LoginResult::Accepted => Ok(Vec::new()),
            LoginResult::Refused(e) | LoginResult::Unreachable(e) => bail!("{e}"),
        }
    }
}

impl Action for Preflight {
    fn header(&self) -> String {
        let mut what = Vec::new();
        if !self.registries.is_empty() {
            what.push(format!("{} registry login(s)", self.registries.len()));
        }
        if let Some(gh) = &self.github {
            what.push(format!("the GitHub token on {}", gh.repo));
        }
        if self.pypi.is_some() {
            what.push("the PyPI credentials".to_string());
        }
        format!("check credentials before publishing: {}", what.join(", "))
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "all at once, in parallel; any problem stops the run before the first publish step; \
             warns {} days before the GitHub token expires",
            self.warn_days
        ))
    }
    fn planned(&self) -> Planned {
        let mut observe: Vec<Sub> = self
            .registries
            .iter()
            .map(|r| Sub::Call(std::sync::Arc::new(LoginCall(r.clone()))))
            .collect();
        if let Some(gh) = &self.github {
            observe.push(Sub::run(Preflight::gh_process(gh)));
        }
        Planned {
            observe,
            apply: Vec::new(),
        }
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let seen = self.observe();
        let v = decide(self, &seen);
        for w in &v.warnings {
            cx.ui.warn(w);
        }
        if !v.problems.is_empty() {
            bail!(
                "{} credential problem(s), nothing was published:\n  - {}",
                v.problems.len(),
                v.problems.join("\n  - ")
            );
        }
        let mut lines = v.evidence;
        lines.extend(v.warnings.iter().map(|w| format!("warning: {w}")));
        Ok(Done::Ran(lines.join("\n")))
    }
    fn json(&self) -> Json {
        json!({
            "registries": self.registries.iter().map(|r| r.repo.registry.clone()).collect::<Vec<_>>(),
            "github": self.github.as_ref().map(|g| g.repo.clone()),
            "pypi": self.pypi.as_ref().map(|p| p.repository_url.clone()),
            "warn_days": self.warn_days,
        })
    }
}

/// The preflight step of a run that publishes to the targets named in `targets` (`docker`,
/// `pypi`, `github`); `None` when none of them needs credentials.
pub fn step(cfg: &crate::facts::config::Config, targets: &[&str]) -> Option<Step> {
    let mut p = Preflight {
        warn_days: cfg.credentials_warn_days,
        ..Preflight::default()
    };
    if let (true, Some(docker)) = (targets.contains(&"docker"), &cfg.docker) {
        let env = crate::targets::docker::credentials_from_env(&mut Default::default());
        p.registries = registry_logins(&docker.repositories(), &env);
    }
    if targets.contains(&"github") {
        let gh_env = crate::targets::github::process_gh_env();
        p.github = Gh::resolve(cfg, &gh_env)
            .ok()
            .or_else(|| Gh::preview(cfg, &gh_env));
    }
    if targets.contains(&"pypi") {
        p.pypi = Some(PypiCheck::from_env(&cfg.python.repository_url));
    }
    (!p.is_empty()).then(|| Step::Action(Box::new(p)))
}

/// The preflight of a command that writes only registries (`promote`, `rollback`): every
/// registry of `repositories` logged in to at once.
pub fn registries_step(
    repositories: &[String],
    env: &Option<Login>,
    warn_days: u64,
) -> Option<Step> {
    let p = Preflight {
        registries: registry_logins(repositories, env),
        warn_days,
        ..Preflight::default()
    };
    (!p.is_empty()).then(|| Step::Action(Box::new(p)))
}

/// The registries of `repositories` (`host/path`), one login each (the first repository of a
/// registry gives the scope).
pub fn registry_logins(repositories: &[String], env: &Option<Login>) -> Vec<RegistryLogin> {
    let mut out: Vec<RegistryLogin> = Vec::new();
    for r in repositories {
        let repo = Repo::parse(r);
        if out.iter().all(|l| l.repo.registry != repo.registry) {
            out.push(RegistryLogin {
                repo,
                env: env.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh() -> Gh {
        Gh {
            repo: "acme/app".into(),
            env: Vec::new(),
            cwd: "/r".into(),
        }
    }

    #[test]
    fn headers_are_read_from_gh_include_output() {
        let out = "HTTP/2.0 200 OK\r\nContent-Type: application/json\r\nGithub-Authentication-Token-Expiration: 2026-12-20 10:00:00 UTC\r\n\r\n{\"x\": 1}";
        assert_eq!(
            header_of(out, judge::EXPIRY_HEADER).as_deref(),
            Some("2026-12-20 10:00:00 UTC")
        );
        assert_eq!(
            header_of("HTTP/2.0 200 OK\n\n{}", judge::EXPIRY_HEADER),
            None
        );
    }

    #[test]
    fn every_problem_at_once() {
        let now = judge::parse_expiry("2026-12-02 10:00:00 UTC").unwrap();
        let p = Preflight {
            registries: Vec::new(),
            github: Some(gh()),
            pypi: Some(PypiCheck {
                repository_url: "https://upload.pypi.org/legacy/".into(),
                problem: Some("PYPI_TOKEN is not a PyPI API token".into()),
                how: String::new(),
            }),
            warn_days: 14,
        };
        let seen = |status: u16, perms: Json, expiry: Option<&str>| Seen {
            registries: vec![
                ("a:5000".into(), LoginResult::Accepted),
                (
                    "b:5000".into(),
                    LoginResult::Refused("wrong password for b:5000".into()),
                ),
                (
                    "c:5000".into(),
                    LoginResult::Unreachable("connection refused".into()),
                ),
            ],
            github: Some(Ok(GithubSeen {
                status,
                body: json!({ "permissions": perms, "message": "Bad credentials" }),
                expiry: expiry.map(String::from),
            })),
            now,
        };
        let v = decide(
            &p,
            &seen(200, json!({"pull": true}), Some("2026-12-01 00:00:00 UTC")),
        );
        assert_eq!(v.problems.len(), 4, "{v:#?}");
        assert_eq!(v.problems[0], "wrong password for b:5000");
        assert!(v.problems[1].contains("may not create releases in acme/app"));
        assert!(v.problems[2].contains("the GitHub token expired on 2026-12-01 00:00:00 UTC"));
        assert!(v.problems[3].contains("not a PyPI API token"));
        assert_eq!(v.evidence, ["registry a:5000: login accepted"]);
        assert!(
            v.warnings[0]
                .starts_with("the login to c:5000 could not be checked (connection refused)"),
            "{v:#?}"
        );

        let v = decide(
            &Preflight {
                pypi: None,
                ..p.clone()
            },
            &seen(200, json!({"push": true}), Some("2026-12-10 10:00:00 UTC")),
        );
        assert_eq!(v.problems, ["wrong password for b:5000"]);
        assert_eq!(v.warnings.len(), 2);
        assert!(v.warnings[1].starts_with("the GitHub token expires in 8 day(s), on 2026-12-10"));

        let v = decide(&p, &seen(401, json!({}), None));
        assert!(v.problems[1].starts_with("GitHub refused the token (HTTP 401: Bad credentials)"));
    }

    #[test]
    fn one_login_per_registry() {
        let l = registry_logins(
            &[
                "127.0.0.1:5000/acme/app".into(),
                "127.0.0.1:5000/other/app".into(),
                "ghcr.io/acme/app".into(),
            ],
            &None,
        );
        let shown: Vec<String> = l
            .iter()
            .map(|r| format!("{} {}", r.repo.registry, r.repo.path))
            .collect();
        assert_eq!(shown, ["127.0.0.1:5000 acme/app", "ghcr.io acme/app"]);
    }
}
