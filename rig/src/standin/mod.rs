//! A local stand-in for the GitHub REST API, for tests and `rehearse`: the real `gh` CLI talks
//! to it, and every request is checked against GitHub's published API description (an OpenAPI
//! subset, see [`crate::openapi`]). Anything outside the contract is recorded as a violation and
//! answered the way GitHub would (404 for an unknown operation or a bad path parameter, 422 for
//! a bad query parameter or body, 400 for a body that is not JSON); every response the stand-in
//! sends is itself checked against the response schema, and a mismatch is recorded as a
//! `stand-in bug:` violation. Tests assert [`Standin::violations`] is empty.
//!
//! # Pointing `gh` at it
//!
//! [`Standin::gh_env`] gives the environment: `GH_HOST=github.localhost` (gh 2.x maps that host
//! to plain `http://api.github.localhost/`, uploads to whatever `upload_url` says:
//! `http://uploads.github.localhost/…`), `HTTP(S)_PROXY=http://127.0.0.1:<port>` (so gh sends
//! absolute-form requests to the stand-in; nothing resolves or leaves loopback), a token, a
//! private `GH_CONFIG_DIR`, no prompts, no update check. An `https` request arrives as a
//! `CONNECT` and is refused and recorded. The stand-in only binds loopback addresses.
//!
//! `gh release view/upload/download` look the release up through GraphQL (`POST /graphql`),
//! which no REST description covers: those calls are violations. Use `gh api` with REST paths
//! (`gh release create` and `gh run list` are REST-only; see the tests).
//!
//! # Control API
//!
//! Not part of GitHub's API: under `/_standin/`, on the stand-in's own address (origin-form,
//! `curl http://127.0.0.1:<port>/_standin/state`) or through the proxy. JSON in and out; control
//! requests are neither logged nor checked.
//!
//! | request | body / answer |
//! | --- | --- |
//! | `GET /_standin/health` | `{"ok": true}` |
//! | `POST /_standin/repos` | `{"owner", "repo", "default_branch"?: "main", "private"?: false}` → 201 `{"id"}` |
//! | `POST /_standin/runs` | `{"owner", "repo", "workflow": "release.yml", "branch", "conclusion"?: "success"\|"failure"\|…, "status"?, "head_sha"?, "event"?: "push"}` → 201 `{"id"}` (creates the workflow on first use; no conclusion = `in_progress`) |
//! | `POST /_standin/checks` | `{"owner", "repo", "sha", "kind"?: "check"\|"status", "name", "status"?, "conclusion"?, "url"?}` → 201 `{"id"}`: a check run (`status` queued/in_progress/completed…, `conclusion` with completed) or a commit status (`status` is its state: pending/success/failure/error); the same sha + kind + name again changes it |
//! | `POST /_standin/teams` | `{"org", "team", "members": ["login" \| {"login", "role": "member"\|"maintainer"}]}` → 201 |
//! | `POST /_standin/merge` | `{"owner", "repo", "number", "merge_commit_sha"}` → 200: pull request `number` is merged by that commit (made by the test in its bare remote) and closed |
//! | `POST /_standin/faults` | `{"method": "POST", "path": "/repos/{owner}/{repo}/releases", "status": 500, "count"?: 1}` → 201: the next `count` requests to that operation (method + path template of the description) answer `status` with a GitHub error body; `status: 0` closes the connection without an answer |
//! | `POST /_standin/tokens` | `{"token", "expires"?: "2026-12-20 10:00:00 UTC", "permissions"?: {"push": false, …}}` → 201: every answer to a request with that token carries `github-authentication-token-expiration: <expires>`, and `repos/get` answers those `permissions` |
//! | `GET /_standin/requests` | the request log: `[{"method", "host", "target", "operation", "status", "request_body", "response_body"}]` |
//! | `GET /_standin/violations` | `["…", …]` |
//! | `GET /_standin/state` | repositories, releases (assets as name/size/digest), workflows, runs, issues, deployments (with their statuses), teams |
//! | `POST /_standin/reset` | forget everything (state, log, violations, faults) |
//!
//! [`Standin`] offers the same from Rust. Behaviour of the GitHub operations: see `github.rs`.

// The Rust API serves the tests and `slipway-rig up` (which `rehearse` runs); `slipway-rig
// github-standin` serves it alone.

mod github;
mod http;
#[cfg(test)]
mod tests;

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::openapi::{self, Problem, Spec};
use github::{Call, Reply, World};
pub use github::{CheckSeed, RunSeed, NOT_YET_IMPLEMENTED};
use http::{ReadError, Response};

/// The token `gh` is given; any non-empty token is accepted.
pub const TOKEN: &str = "standin-token";
/// How long an idle keep-alive connection is kept open.
const IDLE: Duration = Duration::from_secs(120);
/// Request and response bodies kept in the log (bytes).
const LOGGED_BODY: usize = 8 << 10;

/// A running stand-in (background threads; stopped by [`Standin::stop`] or on drop).
pub struct Standin {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// One request and its answer, as logged.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub host: Option<String>,
    /// Path and query as sent.
    pub target: String,
    /// The `operationId` the request was routed to.
    pub operation: Option<String>,
    /// 0 when the connection was closed without an answer (injected fault).
    pub status: u16,
    pub request_body: String,
    pub response_body: String,
}

impl Exchange {
    /// `POST uploads.github.localhost/repos/acme/app/releases/1/assets?name=a → 201 (repos/upload-release-asset)`
    pub fn line(&self) -> String {
        format!(
            "{} {}{} → {} ({})",
            self.method,
            self.host.as_deref().unwrap_or(""),
            self.target,
            self.status,
            self.operation.as_deref().unwrap_or("no operation")
        )
    }

    fn to_json(&self) -> Json {
        json!({
            "method": self.method,
            "host": self.host,
            "target": self.target,
            "operation": self.operation,
            "status": self.status,
            "request_body": self.request_body,
            "response_body": self.response_body,
        })
    }
}

struct Fault {
    method: String,
    template: String,
    status: u16,
    remaining: u32,
}

struct Shared {
    spec: Spec,
    inner: Mutex<Inner>,
    stopping: AtomicBool,
    conns: Mutex<Vec<(u64, TcpStream)>>,
    next_conn: AtomicU64,
}

#[derive(Default)]
struct Inner {
    world: World,
    log: Vec<Exchange>,
    violations: Vec<String>,
    faults: Vec<Fault>,
    /// Tokens seeded with an expiry and/or permissions (`POST /_standin/tokens`).
    tokens: Vec<TokenSeed>,
}

/// A token the stand-in treats specially (control API `POST /_standin/tokens`): every answer to
/// a request bearing it carries `github-authentication-token-expiration: <expires>` (as GitHub
/// sends for expiring tokens), and `repos/get` answers its `permissions`.
#[derive(Debug, Clone, Default)]
pub struct TokenSeed {
    pub token: String,
    /// `2026-12-20 10:00:00 UTC`.
    pub expires: Option<String>,
    /// `{"admin": false, "push": false, "pull": true, …}`: merged into `repos/get`'s.
    pub permissions: Option<Json>,
}

enum Action {
    Respond(Response),
    /// Close the connection without answering (an injected fault).
    Drop,
}

impl Standin {
    /// Loads the API description and serves on `127.0.0.1:<free port>`.
    pub fn start(spec_path: &Path) -> Result<Standin> {
        Standin::start_on("127.0.0.1:0", spec_path)
    }

    /// Serves on `addr`, which must be a loopback address (`127.0.0.1:8080`, `[::1]:0`).
    pub fn start_on(addr: &str, spec_path: &Path) -> Result<Standin> {
        let spec = Spec::load(spec_path)?;
        let wanted: SocketAddr = addr
            .parse()
            .with_context(|| format!("{addr:?} is not an IP address with a port"))?;
        if !wanted.ip().is_loopback() {
            bail!("the GitHub stand-in only listens on loopback addresses, not {addr}");
        }
        let listener =
            TcpListener::bind(wanted).with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            spec,
            inner: Mutex::new(Inner::default()),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("github-standin".into())
            .spawn(move || accept_loop(listener, for_thread))
            .context("cannot start the stand-in thread")?;
        Ok(Standin {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:<port>`: the proxy address, and the base of the control API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment a `gh` process needs to talk to this stand-in (and nothing else).
    pub fn gh_env(&self, config_dir: &Path) -> Vec<(String, String)> {
        let proxy = self.url();
        [
            ("GH_HOST", github::HOST.to_string()),
            ("GH_TOKEN", TOKEN.to_string()),
            ("GH_ENTERPRISE_TOKEN", TOKEN.to_string()),
            ("GH_CONFIG_DIR", config_dir.display().to_string()),
            ("HTTP_PROXY", proxy.clone()),
            ("HTTPS_PROXY", proxy.clone()),
            ("http_proxy", proxy.clone()),
            ("https_proxy", proxy),
            ("NO_PROXY", String::new()),
            ("no_proxy", String::new()),
            ("GH_PROMPT_DISABLED", "1".into()),
            ("GH_NO_UPDATE_NOTIFIER", "1".into()),
            ("GH_PAGER", "cat".into()),
            ("NO_COLOR", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Seeds a token's expiry header and permissions (see [`TokenSeed`]).
    pub fn seed_token(&self, seed: TokenSeed) {
        let mut inner = self.shared.lock();
        inner.tokens.retain(|t| t.token != seed.token);
        inner.tokens.push(seed);
    }

    pub fn seed_repo(&self, owner: &str, repo: &str) {
        self.shared
            .lock()
            .world
            .seed_repo(owner, repo, "main", false);
    }

    /// Seeds a completed run of `workflow` (file name, e.g. `release.yml`) on `branch`
    /// (`conclusion`: `success`, `failure`, …; `None` = still in progress). Returns its id.
    pub fn seed_run(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        branch: &str,
        conclusion: Option<&str>,
    ) -> Result<u64> {
        self.seed_run_with(&RunSeed {
            owner: owner.into(),
            repo: repo.into(),
            workflow: workflow.into(),
            branch: branch.into(),
            conclusion: conclusion.map(String::from),
            status: None,
            head_sha: None,
            event: None,
        })
    }

    /// Seeds (or changes: same sha, kind and name) a check run or a commit status.
    pub fn seed_check(&self, seed: &CheckSeed) -> Result<u64> {
        self.shared
            .lock()
            .world
            .seed_check(seed)
            .map_err(|e| anyhow!(e))
    }

    pub fn seed_run_with(&self, seed: &RunSeed) -> Result<u64> {
        self.shared
            .lock()
            .world
            .seed_run(seed)
            .map_err(|e| anyhow!(e))
    }

    /// Members of `org/team` (role `member`).
    pub fn seed_team(&self, org: &str, team: &str, logins: &[&str]) {
        let members = logins
            .iter()
            .map(|l| (l.to_string(), "member".to_string()))
            .collect();
        self.shared.lock().world.seed_team(org, team, members);
    }

    /// Marks pull request `number` merged by the commit `sha` (which the test made in its bare
    /// git remote) and closes it.
    pub fn merge_pull(&self, owner: &str, repo: &str, number: u64, sha: &str) -> Result<()> {
        self.shared
            .lock()
            .world
            .merge_pull(owner, repo, number, sha)
            .map_err(|e| anyhow!(e))
    }

    /// The next `count` requests to the operation `method template` (as in the description,
    /// e.g. `POST`, `/repos/{owner}/{repo}/releases`) answer `status` (0: connection closed).
    pub fn fail_next(&self, method: &str, template: &str, status: u16, count: u32) -> Result<()> {
        self.shared.add_fault(method, template, status, count)
    }

    /// Violations so far (requests outside the contract, stand-in responses that break it).
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// `Err` listing the violations, if any.
    pub fn ensure_no_violations(&self) -> Result<()> {
        let v = self.violations();
        if v.is_empty() {
            return Ok(());
        }
        bail!(
            "{} request(s) broke the GitHub API contract:\n  {}",
            v.len(),
            v.join("\n  ")
        )
    }

    /// The request log, one line per request (see [`Exchange::line`]).
    pub fn requests(&self) -> Vec<String> {
        self.exchanges().iter().map(Exchange::line).collect()
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.lock().log.clone()
    }

    /// Repositories, releases, runs, … as JSON (the control API's `/_standin/state`).
    pub fn state(&self) -> Json {
        self.shared.lock().world.dump()
    }

    /// The bytes uploaded as asset `name` of the release tagged `tag`.
    pub fn asset_bytes(&self, owner: &str, repo: &str, tag: &str, name: &str) -> Option<Vec<u8>> {
        self.shared.lock().world.asset_bytes(owner, repo, tag, name)
    }

    /// Forgets all state, the log, violations and faults.
    pub fn reset(&self) {
        *self.shared.lock() = Inner::default();
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop, then close every open connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for (_, conn) in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Blocks until the stand-in stops (it does not, unless the process ends).
    fn wait(mut self) {
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// For a CLI subcommand: serves until the process is killed. Prints the bound address
/// (`127.0.0.1:PORT`) on the first line of stdout, then how to point `gh` at it on stderr.
pub fn serve_forever(addr: &str, spec_path: &Path) -> Result<()> {
    let standin = Standin::start_on(addr, spec_path)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", standin.addr)?;
    out.flush()?;
    drop(out);
    let env: Vec<String> = standin
        .gh_env(Path::new("<empty dir>"))
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("GH_HOST") || k == "GH_TOKEN" || k == "HTTPS_PROXY" || k == "HTTP_PROXY"
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    eprintln!(
        "GitHub stand-in listening on {} (control API: {}/_standin/state)\n  point gh at it: {} NO_PROXY= GH_CONFIG_DIR=<empty dir> gh api repos/OWNER/REPO",
        standin.addr,
        standin.url(),
        env.join(" ")
    );
    standin.wait();
    Ok(())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((id, clone));
        }
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("github-standin-conn".into())
            .spawn(move || {
                serve_connection(&shared, stream);
                shared
                    .conns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(i, _)| *i != id);
            });
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let req = match http::read_request(&mut reader, &mut writer) {
            Ok(req) => req,
            Err(ReadError::Closed | ReadError::Io) => return,
            Err(ReadError::Malformed(why)) => {
                shared
                    .lock()
                    .violations
                    .push(format!("malformed HTTP request: {why}"));
                let resp = Response::json(400, &json!({"message": format!("Bad request: {why}")}));
                let _ = http::write_response(&mut writer, &resp, false, false);
                return;
            }
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let keep_alive = req.keep_alive();
        match shared.handle(&req) {
            Action::Respond(resp) => {
                if http::write_response(&mut writer, &resp, req.method == "HEAD", keep_alive)
                    .is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Action::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn body_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(LOGGED_BODY)];
    match std::str::from_utf8(cut) {
        Ok(s) => s.to_string(),
        Err(_) => format!("<{} bytes>", bytes.len()),
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide later violations.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_fault(&self, method: &str, template: &str, status: u16, count: u32) -> Result<()> {
        let op = self
            .spec
            .operation(method, template)
            .ok_or_else(|| anyhow!("no operation {method} {template} in the API description"))?;
        if status != 0 && !(400..600).contains(&status) {
            bail!("a fault answers 4xx/5xx (or 0 to drop the connection), not {status}");
        }
        self.lock().faults.push(Fault {
            method: op.method.clone(),
            template: op.template.clone(),
            status,
            remaining: count,
        });
        Ok(())
    }

    fn handle(&self, req: &http::Request) -> Action {
        if req.path == "/_standin" || req.path.starts_with("/_standin/") {
            return Action::Respond(self.control(req));
        }
        let shown = req.shown();
        if req.method == "CONNECT" {
            let reply = github::error(405, "The GitHub stand-in speaks plain HTTP only");
            let mut inner = self.lock();
            inner.violations.push(format!(
                "CONNECT {}: gh opened a TLS tunnel; with GH_HOST={} gh uses plain http://api.{}/ — is GH_HOST set?",
                req.host.as_deref().unwrap_or(""),
                github::HOST,
                github::HOST
            ));
            return Action::Respond(self.finish(&mut inner, req, None, reply));
        }
        let content_type = req.header("content-type");
        let checked = self.spec.check_request(&openapi::Request {
            method: &req.method,
            host: req.host.as_deref(),
            path: &req.path,
            query: &req.query,
            content_type,
            body: &req.body,
        });
        let mut inner = self.lock();
        for v in &checked.violations {
            let msg = if checked.op.is_some() {
                format!("{} (request: {shown})", v.message)
            } else {
                v.message.clone()
            };
            inner.violations.push(msg);
        }
        let op = checked.op;
        let reply = if let Some(first) = checked.violations.first() {
            match first.problem {
                Problem::NoOperation | Problem::PathParam | Problem::Host => github::not_found(),
                Problem::Json => github::error(400, "Problems parsing JSON"),
                Problem::Query | Problem::Body => {
                    github::error(422, &format!("Invalid request.\n\n{}", first.message))
                }
            }
        } else if req.method != "GET"
            && req.method != "HEAD"
            && req
                .header("authorization")
                .is_none_or(|a| a.trim().is_empty())
        {
            github::error(401, "Requires authentication")
        } else {
            let op = op.expect("routed");
            let fault = inner
                .faults
                .iter_mut()
                .find(|f| f.remaining > 0 && f.method == op.method && f.template == op.template);
            match fault {
                Some(f) => {
                    f.remaining -= 1;
                    let status = f.status;
                    if status == 0 {
                        inner.log.push(Exchange {
                            method: req.method.clone(),
                            host: req.host.clone(),
                            target: target_of(req),
                            operation: Some(op.id.clone()),
                            status: 0,
                            request_body: body_text(&req.body),
                            response_body: String::new(),
                        });
                        return Action::Drop;
                    }
                    github::error(status, &format!("injected fault ({status})"))
                }
                None => {
                    let mut reply = inner.world.call(
                        &op.id,
                        &Call {
                            path: &checked.path_params,
                            query: &checked.query,
                            json: checked.json.as_ref(),
                            body: &req.body,
                            content_type,
                        },
                    );
                    if let Some(seed) = seeded_token(&inner.tokens, req) {
                        token_reply(seed, &op.id, &mut reply);
                    }
                    reply
                }
            }
        };
        Action::Respond(self.finish(&mut inner, req, op, reply))
    }

    /// Renders a reply, checks it against the operation's response schema (a mismatch is a
    /// stand-in bug, recorded as a violation), and logs the exchange.
    fn finish(
        &self,
        inner: &mut Inner,
        req: &http::Request,
        op: Option<&openapi::Operation>,
        reply: Reply,
    ) -> Response {
        let mut resp = Response::json(reply.status, &reply.body);
        if reply.status == 204 {
            // No Content: no body, no media type (a DELETE's answer).
            resp.body.clear();
            resp.headers.clear();
        }
        resp.headers.extend(reply.headers);
        resp.headers.push((
            "X-GitHub-Request-Id".into(),
            format!("STANDIN:{}", inner.log.len() + 1),
        ));
        if let Some(op) = op {
            for e in
                self.spec
                    .check_response(op, resp.status, resp.header("content-type"), &resp.body)
            {
                inner.violations.push(format!("stand-in bug: {e}"));
            }
        }
        inner.log.push(Exchange {
            method: req.method.clone(),
            host: req.host.clone(),
            target: target_of(req),
            operation: op.map(|o| o.id.clone()),
            status: resp.status,
            request_body: body_text(&req.body),
            response_body: body_text(&resp.body),
        });
        resp
    }

    fn control(&self, req: &http::Request) -> Response {
        let what = req.path.trim_start_matches("/_standin").trim_matches('/');
        let body: Json = if req.body.is_empty() {
            Json::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return control_error(&format!("the body is not JSON: {e}")),
            }
        };
        let s = |k: &str| body.get(k).and_then(Json::as_str).map(String::from);
        let need = |k: &str| s(k).ok_or_else(|| format!("missing string field {k:?}"));
        let result: Result<Response, String> = (|| match (req.method.as_str(), what) {
            ("GET", "health") => Ok(Response::json(200, &json!({"ok": true}))),
            ("GET", "violations") => Ok(Response::json(200, &json!(self.lock().violations))),
            ("GET", "requests") => {
                let log: Vec<Json> = self.lock().log.iter().map(Exchange::to_json).collect();
                Ok(Response::json(200, &Json::Array(log)))
            }
            ("GET", "state") => Ok(Response::json(200, &self.lock().world.dump())),
            ("POST", "reset") => {
                *self.lock() = Inner::default();
                Ok(Response::json(200, &json!({"ok": true})))
            }
            ("POST", "repos") => {
                let id = self.lock().world.seed_repo(
                    &need("owner")?,
                    &need("repo")?,
                    &s("default_branch").unwrap_or_else(|| "main".into()),
                    body.get("private").and_then(Json::as_bool).unwrap_or(false),
                );
                Ok(Response::json(201, &json!({"id": id})))
            }
            ("POST", "runs") => {
                let seed = RunSeed {
                    owner: need("owner")?,
                    repo: need("repo")?,
                    workflow: need("workflow")?,
                    branch: need("branch")?,
                    conclusion: s("conclusion"),
                    status: s("status"),
                    head_sha: s("head_sha"),
                    event: s("event"),
                };
                let id = self.lock().world.seed_run(&seed)?;
                Ok(Response::json(201, &json!({"id": id})))
            }
            ("POST", "checks") => {
                let seed = CheckSeed {
                    owner: need("owner")?,
                    repo: need("repo")?,
                    sha: need("sha")?,
                    kind: s("kind").unwrap_or_else(|| "check".into()),
                    name: need("name")?,
                    status: s("status"),
                    conclusion: s("conclusion"),
                    url: s("url"),
                };
                let id = self.lock().world.seed_check(&seed)?;
                Ok(Response::json(201, &json!({"id": id})))
            }
            ("POST", "teams") => {
                let members = body
                    .get("members")
                    .and_then(Json::as_array)
                    .ok_or("missing array field \"members\"")?
                    .iter()
                    .map(|m| match m {
                        Json::String(login) => Ok((login.clone(), "member".to_string())),
                        Json::Object(o) => Ok((
                            o.get("login")
                                .and_then(Json::as_str)
                                .ok_or("a member needs a login")?
                                .to_string(),
                            o.get("role")
                                .and_then(Json::as_str)
                                .unwrap_or("member")
                                .to_string(),
                        )),
                        _ => Err("members are logins or {\"login\", \"role\"}".to_string()),
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                self.lock()
                    .world
                    .seed_team(&need("org")?, &need("team")?, members);
                Ok(Response::json(201, &json!({"ok": true})))
            }
            ("POST", "merge") => {
                let number = body
                    .get("number")
                    .and_then(Json::as_u64)
                    .ok_or("missing integer field \"number\"")?;
                self.lock().world.merge_pull(
                    &need("owner")?,
                    &need("repo")?,
                    number,
                    &need("merge_commit_sha")?,
                )?;
                Ok(Response::json(200, &json!({"ok": true})))
            }
            ("POST", "tokens") => {
                let permissions = body.get("permissions").cloned();
                if permissions.as_ref().is_some_and(|p| !p.is_object()) {
                    return Err("\"permissions\" is an object like {\"push\": false}".into());
                }
                let seed = TokenSeed {
                    token: need("token")?,
                    expires: s("expires"),
                    permissions,
                };
                let mut inner = self.lock();
                inner.tokens.retain(|t| t.token != seed.token);
                inner.tokens.push(seed);
                Ok(Response::json(201, &json!({"ok": true})))
            }
            ("POST", "faults") => {
                let status = body
                    .get("status")
                    .and_then(Json::as_u64)
                    .ok_or("missing integer field \"status\"")?;
                let count = body.get("count").and_then(Json::as_u64).unwrap_or(1);
                self.add_fault(
                    &need("method")?,
                    &need("path")?,
                    u16::try_from(status).map_err(|_| "bad status")?,
                    u32::try_from(count).map_err(|_| "bad count")?,
                )
                .map_err(|e| format!("{e:#}"))?;
                Ok(Response::json(201, &json!({"ok": true})))
            }
            _ => Ok(Response::json(
                404,
                &json!({
                    "message": format!("no control endpoint {} /_standin/{what}", req.method),
                    "endpoints": ["GET health", "GET violations", "GET requests", "GET state", "POST reset", "POST repos", "POST runs", "POST checks", "POST teams", "POST merge", "POST faults", "POST tokens"],
                }),
            )),
        })();
        result.unwrap_or_else(|e| control_error(&e))
    }
}

/// The seeded token a request bears (`Authorization: token <t>` or `Bearer <t>`).
fn seeded_token<'a>(tokens: &'a [TokenSeed], req: &http::Request) -> Option<&'a TokenSeed> {
    let auth = req.header("authorization")?.trim();
    let token = auth
        .strip_prefix("token ")
        .or_else(|| auth.strip_prefix("Bearer "))
        .or_else(|| auth.strip_prefix("bearer "))
        .unwrap_or(auth)
        .trim();
    tokens.iter().find(|t| t.token == token)
}

/// A seeded token's expiry header, and its permissions in `repos/get`.
fn token_reply(seed: &TokenSeed, op: &str, reply: &mut github::Reply) {
    if let Some(e) = &seed.expires {
        reply
            .headers
            .push(("github-authentication-token-expiration".into(), e.clone()));
    }
    if let (Some(Json::Object(perms)), "repos/get", true) =
        (&seed.permissions, op, reply.status == 200)
    {
        if let Some(Json::Object(have)) = reply.body.get_mut("permissions") {
            for (k, v) in perms {
                have.insert(k.clone(), v.clone());
            }
        }
    }
}

fn control_error(msg: &str) -> Response {
    Response::json(400, &json!({"message": msg}))
}

fn target_of(req: &http::Request) -> String {
    if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    }
}

/// Where the GitHub API description is looked for: `$GITHUB_OPENAPI_SUBSET`, else the copy
/// vendored in this crate (`rig/github/openapi-subset.json`; a test keeps it identical to
/// `../shared/github/` when that is beside the checkout).
pub fn default_spec_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SPEC_ENV) {
        return Some(PathBuf::from(p));
    }
    Some(vendored_spec_path()).filter(|p| p.is_file())
}

/// The contract vendored in this crate.
pub fn vendored_spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("github/openapi-subset.json")
}

/// Names the API description to use instead of the default locations.
pub const SPEC_ENV: &str = "GITHUB_OPENAPI_SUBSET";

#[cfg(test)]
mod vendored {
    #[test]
    fn vendored_contract_matches_shared() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let shared = manifest.join("../../shared/github/openapi-subset.json");
        let vendored = super::vendored_spec_path();
        assert!(
            vendored.is_file(),
            "rig/github/openapi-subset.json is missing"
        );
        if shared.is_file() {
            assert!(
                std::fs::read(&shared).unwrap() == std::fs::read(&vendored).unwrap(),
                "rig/github/openapi-subset.json differs from ../shared/github: copy it again"
            );
        } else {
            eprintln!(
                "note: ../shared/github is not beside this checkout; using the vendored contract"
            );
        }
    }
}

/// Test helpers shared with `openapi.rs`'s tests.
#[cfg(test)]
pub mod tests_support {
    use std::path::PathBuf;

    /// [`super::default_spec_path`].
    pub fn spec_path() -> PathBuf {
        super::default_spec_path().unwrap_or_else(|| {
            panic!(
                "GitHub API description not found: set {} or add github/openapi-subset.json",
                super::SPEC_ENV
            )
        })
    }
}
