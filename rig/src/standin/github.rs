//! The in-memory GitHub behind the stand-in: repositories, releases and their assets, workflows
//! and runs, issues and pull requests, teams; and the JSON GitHub renders them as.
//!
//! Behaviour follows GitHub where a release tool can tell the difference:
//! - a draft release is not returned by `releases/tags/{tag}` nor `releases/latest` (only by id),
//!   and its `html_url` is `…/releases/tag/untagged-…`, its tarball/zipball URLs are null;
//! - a second release with an existing `tag_name` is refused with 422 `already_exists`, and so
//!   is an asset with an existing name on the same release;
//! - asset names are sanitised like GitHub does (characters other than `A-Za-z0-9._+-` become
//!   `.`, leading/trailing dots dropped); `digest` is `sha256:<hex>` of the uploaded bytes;
//! - `releases/latest` is the newest published non-prerelease, or the one most recently marked
//!   `make_latest: "true"` (on create, and on update: an edit without `make_latest` leaves the
//!   latest release alone unless it publishes a draft; `"legacy"` drops the mark);
//! - a deployment's `environment` defaults to `production`, `production_environment` to whether
//!   it is `production`; a status may rename the environment (the first name stays
//!   `original_environment`), and a `success` status with `auto_inactive` (default true) marks
//!   the earlier successful non-transient, non-production deployments to the same environment
//!   `inactive`, as GitHub does;
//! - workflow runs are listed newest first, filtered by `branch`, `event`, `status` (a status
//!   or a conclusion), `head_sha`, `actor`, and paginated by `per_page` (≤ 100) / `page`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value as Json};

use xtask::core::sha256::digest_hex as sha256_hex;

/// The host `gh` is pointed at (`GH_HOST`); the API is `api.<HOST>`, uploads `uploads.<HOST>`.
pub const HOST: &str = "github.localhost";
/// The login every write is attributed to (the token's user).
pub const BOT: &str = "standin-bot";
const DOCS: &str = "https://docs.github.com/rest";

pub fn web() -> String {
    format!("http://{HOST}")
}
pub fn api() -> String {
    format!("http://api.{HOST}")
}
pub fn uploads() -> String {
    format!("http://uploads.{HOST}")
}

/// What an operation answers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Json,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn ok(status: u16, body: Json) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }
    fn created(body: Json) -> Reply {
        let location = body.get("url").and_then(Json::as_str).map(String::from);
        Reply {
            status: 201,
            headers: location
                .map(|l| ("Location".into(), l))
                .into_iter()
                .collect(),
            body,
        }
    }
}

pub fn error(status: u16, message: &str) -> Reply {
    Reply::ok(
        status,
        json!({"message": message, "documentation_url": DOCS}),
    )
}

pub fn not_found() -> Reply {
    error(404, "Not Found")
}

/// 422 with GitHub's `errors` list.
pub fn validation_failed(resource: &str, code: &str, field: &str, message: Option<&str>) -> Reply {
    let mut e = json!({"resource": resource, "code": code, "field": field});
    if let Some(m) = message {
        e["message"] = json!(m);
    }
    Reply::ok(
        422,
        json!({"message": "Validation Failed", "errors": [e], "documentation_url": DOCS}),
    )
}

/// The decoded request an operation works on.
pub struct Call<'a> {
    pub path: &'a BTreeMap<String, String>,
    pub query: &'a BTreeMap<String, String>,
    pub json: Option<&'a Json>,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
}

impl Call<'_> {
    fn p(&self, name: &str) -> &str {
        self.path.get(name).map(String::as_str).unwrap_or("")
    }
    fn field(&self, name: &str) -> Option<&Json> {
        self.json.and_then(|j| j.get(name)).filter(|v| !v.is_null())
    }
    fn str_field(&self, name: &str) -> Option<String> {
        self.field(name).and_then(Json::as_str).map(String::from)
    }
    fn bool_field(&self, name: &str) -> Option<bool> {
        self.field(name).and_then(Json::as_bool)
    }
    fn int_query(&self, name: &str, default: u64) -> u64 {
        self.query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub created_at: String,
    pub releases: Vec<Release>,
    pub latest_marker: Option<u64>,
    pub workflows: Vec<Workflow>,
    pub runs: Vec<Run>,
    /// Issues and pull requests share one number sequence, like on GitHub.
    pub issues: Vec<Issue>,
    pub labels: Vec<Label>,
    pub deployments: Vec<Deployment>,
    /// Check runs and commit statuses, by commit (seeded: the control API's `checks`).
    pub checks: Vec<CheckRun>,
    pub statuses: Vec<CommitStatus>,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub task: String,
    pub payload: Json,
    pub original_environment: String,
    pub environment: String,
    pub description: Option<String>,
    pub transient_environment: bool,
    pub production_environment: bool,
    pub created_at: String,
    pub updated_at: String,
    pub statuses: Vec<DeploymentStatus>,
}

#[derive(Debug, Clone)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub environment: String,
    pub log_url: String,
    pub environment_url: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub created_at: String,
    pub published_at: Option<String>,
    pub updated_at: String,
    pub assets: Vec<Asset>,
}

#[derive(Debug, Clone)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub label: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub digest: String,
    pub created_at: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    /// `.github/workflows/release.yml`
    pub path: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    pub workflow_id: u64,
    pub run_number: u64,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: String,
    pub pull: Option<Pull>,
    /// `open` or `closed`.
    pub state: String,
    pub closed_at: Option<String>,
    pub updated_at: String,
    pub comments: Vec<Comment>,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone)]
#[allow(dead_code)] // kept as GitHub keeps them; the dump shows the bodies
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub head: String,
    pub base: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
    /// Set when merged (control API `POST /_standin/merge`): the merge commit and when.
    pub merged: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
}

/// A check run on a commit (seeded).
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub head_sha: String,
    pub name: String,
    /// `queued`, `in_progress`, `completed`, …
    pub status: String,
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
}

/// A commit status (seeded; one per context, the latest).
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    pub context: String,
    /// `error`, `failure`, `pending`, `success`.
    pub state: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A check run or a commit status to seed or change (control API `POST /_standin/checks`):
/// the same `sha` + `name` again replaces the earlier one (a pending check that completes).
#[derive(Debug, Clone, Default)]
pub struct CheckSeed {
    pub owner: String,
    pub repo: String,
    pub sha: String,
    /// `check` (a check run) or `status` (a commit status).
    pub kind: String,
    /// The check run's name, or the status's context.
    pub name: String,
    /// A check run's `status` (default `completed` with a conclusion, else `in_progress`), or a
    /// commit status's `state`.
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub url: Option<String>,
}

/// A seeded workflow run (control API / [`super::Standin::seed_run`]).
#[derive(Debug, Clone)]
pub struct RunSeed {
    pub owner: String,
    pub repo: String,
    /// Workflow file name, e.g. `release.yml`.
    pub workflow: String,
    pub branch: String,
    /// `success`, `failure`, `cancelled`, … or `None` while it runs.
    pub conclusion: Option<String>,
    /// Defaults to `completed` with a conclusion, `in_progress` without.
    pub status: Option<String>,
    pub head_sha: Option<String>,
    pub event: Option<String>,
}

#[derive(Debug, Default)]
pub struct World {
    next_id: u64,
    pub repos: Vec<Repo>,
    /// (org, team slug) → (login, role).
    pub teams: BTreeMap<(String, String), Vec<(String, String)>>,
}

/// Operations of the contract that no slipway command uses yet: the stand-in answers them `501`
/// with a GitHub error body naming the operation (within the contract: an undeclared error
/// status with a `basic-error` body). Implementing one means removing it from here; the test
/// `every_operation_answers_within_the_contract` checks every operation is either implemented
/// or listed here.
pub const NOT_YET_IMPLEMENTED: &[&str] = &[
    "actions/create-workflow-dispatch",
    "git/delete-ref",
    "git/get-ref",
    "issues/create-label",
    "issues/get-label",
    "issues/remove-label",
    "repos/create-attestation",
    "repos/delete-release",
    "repos/list-attestations",
    "repos/list-deployments",
    "repos/list-release-assets",
    "repos/list-releases",
    "teams/list",
];

fn not_yet_implemented(op_id: &str) -> Reply {
    error(
        501,
        &format!("the GitHub stand-in does not implement {op_id} yet (no slipway command uses it)"),
    )
}

impl World {
    /// Ids come from one counter, offset per kind, so an id of one kind is never a valid id of
    /// another (a release id used as an asset id is a 404, as on GitHub).
    fn id(&mut self, kind: u64) -> u64 {
        self.next_id += 1;
        kind * 1_000_000 + self.next_id
    }

    pub fn seed_repo(
        &mut self,
        owner: &str,
        name: &str,
        default_branch: &str,
        private: bool,
    ) -> u64 {
        if let Some(r) = self.repo(owner, name) {
            return r.id;
        }
        let id = self.id(1);
        self.repos.push(Repo {
            id,
            owner: owner.into(),
            name: name.into(),
            default_branch: default_branch.into(),
            private,
            created_at: now(),
            releases: Vec::new(),
            latest_marker: None,
            workflows: Vec::new(),
            runs: Vec::new(),
            issues: Vec::new(),
            labels: Vec::new(),
            deployments: Vec::new(),
            checks: Vec::new(),
            statuses: Vec::new(),
        });
        id
    }

    pub fn seed_run(&mut self, seed: &RunSeed) -> Result<u64, String> {
        let wf_id = self.id(4);
        let run_id = self.id(5);
        let repo = self
            .repo_mut(&seed.owner, &seed.repo)
            .ok_or_else(|| format!("no repository {}/{} (seed it first)", seed.owner, seed.repo))?;
        let file = seed
            .workflow
            .rsplit('/')
            .next()
            .unwrap_or(&seed.workflow)
            .to_string();
        let workflow_id = match repo
            .workflows
            .iter()
            .find(|w| w.path.ends_with(&format!("/{file}")))
        {
            Some(w) => w.id,
            None => {
                repo.workflows.push(Workflow {
                    id: wf_id,
                    name: file
                        .trim_end_matches(".yml")
                        .trim_end_matches(".yaml")
                        .to_string(),
                    path: format!(".github/workflows/{file}"),
                    created_at: now(),
                });
                wf_id
            }
        };
        let run_number = repo
            .runs
            .iter()
            .filter(|r| r.workflow_id == workflow_id)
            .count() as u64
            + 1;
        let status = seed.status.clone().unwrap_or_else(|| {
            if seed.conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .to_string()
        });
        repo.runs.push(Run {
            id: run_id,
            workflow_id,
            run_number,
            head_branch: seed.branch.clone(),
            head_sha: seed.head_sha.clone().unwrap_or_else(|| {
                sha256_hex(format!("{}{run_id}", seed.branch).as_bytes())[..40].to_string()
            }),
            event: seed.event.clone().unwrap_or_else(|| "push".into()),
            status,
            conclusion: seed.conclusion.clone(),
            created_at: now(),
        });
        Ok(run_id)
    }

    pub fn seed_check(&mut self, seed: &CheckSeed) -> Result<u64, String> {
        let id = self.id(9);
        let repo = self
            .repo_mut(&seed.owner, &seed.repo)
            .ok_or_else(|| format!("no repository {}/{} (seed it first)", seed.owner, seed.repo))?;
        if seed.sha.len() != 40 || !seed.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("sha {:?} is not a 40-digit commit id", seed.sha));
        }
        let t = now();
        match seed.kind.as_str() {
            "check" => {
                const STATUSES: &[&str] = &[
                    "queued",
                    "in_progress",
                    "completed",
                    "waiting",
                    "requested",
                    "pending",
                ];
                const CONCLUSIONS: &[&str] = &[
                    "success",
                    "failure",
                    "neutral",
                    "cancelled",
                    "skipped",
                    "timed_out",
                    "action_required",
                ];
                let status = seed.status.clone().unwrap_or_else(|| {
                    if seed.conclusion.is_some() {
                        "completed"
                    } else {
                        "in_progress"
                    }
                    .to_string()
                });
                if !STATUSES.contains(&status.as_str()) {
                    return Err(format!(
                        "status {status:?}: use one of {}",
                        STATUSES.join(", ")
                    ));
                }
                if let Some(c) = &seed.conclusion {
                    if !CONCLUSIONS.contains(&c.as_str()) {
                        return Err(format!(
                            "conclusion {c:?}: use one of {}",
                            CONCLUSIONS.join(", ")
                        ));
                    }
                }
                if (status == "completed") != seed.conclusion.is_some() {
                    return Err("a completed check run has a conclusion, any other none".into());
                }
                let completed_at = seed.conclusion.is_some().then(|| t.clone());
                if let Some(c) = repo
                    .checks
                    .iter_mut()
                    .find(|c| c.head_sha == seed.sha && c.name == seed.name)
                {
                    c.status = status;
                    c.conclusion = seed.conclusion.clone();
                    c.completed_at = completed_at;
                    if seed.url.is_some() {
                        c.details_url = seed.url.clone();
                    }
                    return Ok(c.id);
                }
                repo.checks.push(CheckRun {
                    id,
                    head_sha: seed.sha.clone(),
                    name: seed.name.clone(),
                    status,
                    conclusion: seed.conclusion.clone(),
                    details_url: seed.url.clone(),
                    started_at: t,
                    completed_at,
                });
                Ok(id)
            }
            "status" => {
                let state = seed.status.clone().unwrap_or_else(|| "success".into());
                if !["error", "failure", "pending", "success"].contains(&state.as_str()) {
                    return Err(format!(
                        "state {state:?}: use error, failure, pending or success"
                    ));
                }
                if let Some(x) = repo
                    .statuses
                    .iter_mut()
                    .find(|x| x.sha == seed.sha && x.context == seed.name)
                {
                    x.state = state;
                    x.updated_at = t;
                    if seed.url.is_some() {
                        x.target_url = seed.url.clone();
                    }
                    return Ok(x.id);
                }
                repo.statuses.push(CommitStatus {
                    id,
                    sha: seed.sha.clone(),
                    context: seed.name.clone(),
                    state,
                    target_url: seed.url.clone(),
                    description: None,
                    created_at: t.clone(),
                    updated_at: t,
                });
                Ok(id)
            }
            k => Err(format!("kind {k:?}: use check or status")),
        }
    }

    pub fn seed_team(&mut self, org: &str, team: &str, members: Vec<(String, String)>) {
        self.teams.insert((org.into(), team.into()), members);
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// Runs operation `op_id` (an `operationId` of the description).
    pub fn call(&mut self, op_id: &str, c: &Call) -> Reply {
        if NOT_YET_IMPLEMENTED.contains(&op_id) {
            return not_yet_implemented(op_id);
        }
        if op_id == "teams/list-members-in-org" {
            return self.list_team_members(c);
        }
        if self.repo(c.p("owner"), c.p("repo")).is_none() {
            return not_found();
        }
        match op_id {
            "repos/get" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                Reply::ok(200, repo_json(r, true))
            }
            "repos/create-release" => self.create_release(c),
            "repos/get-release" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                let id = c.p("release_id").parse::<u64>().unwrap_or(0);
                match r.releases.iter().find(|x| x.id == id) {
                    Some(rel) => Reply::ok(200, release_json(r, rel)),
                    None => not_found(),
                }
            }
            "repos/get-release-by-tag" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                match r
                    .releases
                    .iter()
                    .find(|x| x.tag_name == c.p("tag") && !x.draft)
                {
                    Some(rel) => Reply::ok(200, release_json(r, rel)),
                    None => not_found(),
                }
            }
            "repos/get-latest-release" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                match latest(r) {
                    Some(rel) => Reply::ok(200, release_json(r, rel)),
                    None => not_found(),
                }
            }
            "repos/update-release" => self.update_release(c),
            "repos/upload-release-asset" => self.upload_asset(c),
            "repos/delete-release-asset" => self.delete_asset(c),
            "actions/get-workflow" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                match find_workflow(r, c.p("workflow_id")) {
                    Some(w) => Reply::ok(200, workflow_json(r, w)),
                    None => not_found(),
                }
            }
            "actions/list-workflow-runs" => self.list_runs(c),
            "checks/list-for-ref" => self.list_checks(c),
            "repos/get-combined-status-for-ref" => self.combined_status(c),
            "actions/get-workflow-run" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                let id = c.p("run_id").parse::<u64>().unwrap_or(0);
                match r.runs.iter().find(|x| x.id == id) {
                    Some(run) => Reply::ok(200, run_json(r, run)),
                    None => not_found(),
                }
            }
            "issues/create" => self.create_issue(c),
            "issues/add-labels" => self.add_labels(c),
            "issues/add-assignees" => self.add_assignees(c),
            "issues/update" => self.update_issue(c),
            "issues/list-for-repo" => self.list_issues(c),
            "pulls/create" => self.create_pull(c),
            "pulls/get" => {
                let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
                let n = c.p("pull_number").parse::<u64>().unwrap_or(0);
                match r.issues.iter().find(|i| i.number == n && i.pull.is_some()) {
                    Some(i) => Reply::ok(200, pull_json(r, i, true)),
                    None => not_found(),
                }
            }
            "pulls/request-reviewers" => self.request_reviewers(c),
            "pulls/list" => self.list_pulls(c),
            "pulls/update" => self.update_pull(c),
            "issues/create-comment" => self.create_comment(c),
            "repos/create-deployment" => self.create_deployment(c),
            "repos/create-deployment-status" => self.create_deployment_status(c),
            _ => error(501, &format!("the stand-in does not implement {op_id}")),
        }
    }

    fn create_deployment(&mut self, c: &Call) -> Reply {
        let id = self.id(8);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let git_ref = c.str_field("ref").unwrap_or_default();
        if git_ref.trim().is_empty() {
            return validation_failed("Deployment", "invalid", "ref", None);
        }
        let environment = c
            .str_field("environment")
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "production".into());
        // A ref that is a full commit hash is that commit; a name resolves to a stable one.
        let sha = if git_ref.len() == 40 && git_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
            git_ref.to_ascii_lowercase()
        } else {
            sha256_hex(format!("{}/{}@{git_ref}", repo.owner, repo.name).as_bytes())[..40]
                .to_string()
        };
        let payload = match c.field("payload") {
            Some(Json::String(text)) => {
                serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
            }
            Some(v) => v.clone(),
            None => json!({}),
        };
        let t = now();
        let d = Deployment {
            id,
            sha,
            git_ref,
            task: c.str_field("task").unwrap_or_else(|| "deploy".into()),
            payload,
            original_environment: environment.clone(),
            production_environment: c
                .bool_field("production_environment")
                .unwrap_or(environment == "production"),
            environment,
            description: c.str_field("description"),
            transient_environment: c.bool_field("transient_environment").unwrap_or(false),
            created_at: t.clone(),
            updated_at: t,
            statuses: Vec::new(),
        };
        repo.deployments.push(d);
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        Reply::created(deployment_json(r, r.deployments.last().unwrap()))
    }

    fn create_deployment_status(&mut self, c: &Call) -> Reply {
        let status_id = self.id(9);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let id = c.p("deployment_id").parse::<u64>().unwrap_or(0);
        let Some(idx) = repo.deployments.iter().position(|d| d.id == id) else {
            return not_found();
        };
        let state = c.str_field("state").unwrap_or_default();
        let description = c.str_field("description").unwrap_or_default();
        if description.chars().count() > 140 {
            return validation_failed(
                "DeploymentStatus",
                "custom",
                "description",
                Some("description is too long (maximum is 140 characters)"),
            );
        }
        let t = now();
        let d = &mut repo.deployments[idx];
        let environment = c
            .str_field("environment")
            .filter(|e| !e.trim().is_empty())
            .or_else(|| d.statuses.last().map(|s| s.environment.clone()))
            .unwrap_or_else(|| d.environment.clone());
        d.environment = environment.clone();
        d.updated_at = t.clone();
        let log_url = c
            .str_field("log_url")
            .or_else(|| c.str_field("target_url"))
            .unwrap_or_default();
        d.statuses.push(DeploymentStatus {
            id: status_id,
            state: state.clone(),
            description,
            environment: environment.clone(),
            log_url,
            environment_url: c.str_field("environment_url").unwrap_or_default(),
            created_at: t.clone(),
        });
        if state == "success" && c.bool_field("auto_inactive").unwrap_or(true) {
            let mut next = Vec::new();
            for other in repo.deployments.iter().filter(|o| {
                o.id != id
                    && o.environment == environment
                    && !o.transient_environment
                    && !o.production_environment
                    && o.statuses.last().is_some_and(|s| s.state == "success")
            }) {
                next.push(other.id);
            }
            for other_id in next {
                let inactive_id = self.id(9);
                let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
                let o = repo
                    .deployments
                    .iter_mut()
                    .find(|o| o.id == other_id)
                    .unwrap();
                o.statuses.push(DeploymentStatus {
                    id: inactive_id,
                    state: "inactive".into(),
                    description: format!("superseded by deployment {id}"),
                    environment: environment.clone(),
                    log_url: String::new(),
                    environment_url: String::new(),
                    created_at: t.clone(),
                });
                o.updated_at = t.clone();
            }
        }
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let d = &r.deployments[idx];
        Reply::created(deployment_status_json(r, d, d.statuses.last().unwrap()))
    }

    fn create_release(&mut self, c: &Call) -> Reply {
        let id = self.id(2);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let tag = c.str_field("tag_name").unwrap_or_default();
        if tag.trim().is_empty() {
            return validation_failed("Release", "invalid", "tag_name", None);
        }
        if repo.releases.iter().any(|r| r.tag_name == tag) {
            return validation_failed("Release", "already_exists", "tag_name", None);
        }
        let draft = c.bool_field("draft").unwrap_or(false);
        let mut body = c.str_field("body");
        if body.is_none() && c.bool_field("generate_release_notes") == Some(true) {
            body = Some(format!(
                "**Full Changelog**: {}/{}/{}/commits/{tag}",
                web(),
                repo.owner,
                repo.name
            ));
        }
        let t = now();
        let rel = Release {
            id,
            tag_name: tag,
            target_commitish: c
                .str_field("target_commitish")
                .unwrap_or_else(|| repo.default_branch.clone()),
            name: c.str_field("name"),
            body,
            draft,
            prerelease: c.bool_field("prerelease").unwrap_or(false),
            created_at: t.clone(),
            published_at: (!draft).then(|| t.clone()),
            updated_at: t,
            assets: Vec::new(),
        };
        mark_latest(repo, &rel, c.str_field("make_latest").as_deref());
        repo.releases.push(rel);
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        Reply::created(release_json(r, r.releases.last().unwrap()))
    }

    fn update_release(&mut self, c: &Call) -> Reply {
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let id = c.p("release_id").parse::<u64>().unwrap_or(0);
        let Some(idx) = repo.releases.iter().position(|x| x.id == id) else {
            return not_found();
        };
        if let Some(tag) = c.str_field("tag_name") {
            if tag.trim().is_empty() {
                return validation_failed("Release", "invalid", "tag_name", None);
            }
            if repo
                .releases
                .iter()
                .any(|r| r.tag_name == tag && r.id != id)
            {
                return validation_failed("Release", "already_exists", "tag_name", None);
            }
        }
        let t = now();
        let rel = &mut repo.releases[idx];
        let was_draft = rel.draft;
        if let Some(v) = c.str_field("tag_name") {
            rel.tag_name = v;
        }
        if let Some(v) = c.str_field("target_commitish") {
            rel.target_commitish = v;
        }
        if let Some(v) = c.str_field("name") {
            rel.name = Some(v);
        }
        if let Some(v) = c.str_field("body") {
            rel.body = Some(v);
        }
        if let Some(v) = c.bool_field("prerelease") {
            rel.prerelease = v;
        }
        if let Some(draft) = c.bool_field("draft") {
            if rel.draft && !draft {
                rel.published_at = Some(t.clone());
            } else if draft {
                rel.published_at = None;
            }
            rel.draft = draft;
        }
        rel.updated_at = t;
        let snapshot = rel.clone();
        // `make_latest` defaults to "true" only for a release this edit publishes: editing the
        // notes of a published release leaves the latest one alone; "legacy" hands the choice
        // back to the creation order.
        match c.str_field("make_latest").as_deref() {
            Some("legacy") => repo.latest_marker = None,
            Some(v) => mark_latest(repo, &snapshot, Some(v)),
            None if was_draft && !snapshot.draft => mark_latest(repo, &snapshot, None),
            None => {}
        }
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        Reply::ok(200, release_json(r, &r.releases[idx]))
    }

    fn upload_asset(&mut self, c: &Call) -> Reply {
        let asset_id = self.id(3);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let id = c.p("release_id").parse::<u64>().unwrap_or(0);
        let Some(idx) = repo.releases.iter().position(|x| x.id == id) else {
            return not_found();
        };
        let name = sanitize_asset_name(c.query.get("name").map(String::as_str).unwrap_or(""));
        if name.is_empty() {
            return validation_failed("ReleaseAsset", "missing_field", "name", None);
        }
        let rel = &mut repo.releases[idx];
        if rel.assets.iter().any(|a| a.name == name) {
            return validation_failed("ReleaseAsset", "already_exists", "name", None);
        }
        let t = now();
        rel.assets.push(Asset {
            id: asset_id,
            name,
            label: c.query.get("label").cloned(),
            content_type: c
                .content_type
                .unwrap_or("application/octet-stream")
                .to_string(),
            size: c.body.len() as u64,
            digest: format!("sha256:{}", sha256_hex(c.body)),
            created_at: t,
            data: c.body.to_vec(),
        });
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let rel = &r.releases[idx];
        Reply::created(asset_json(r, rel, rel.assets.last().unwrap()))
    }

    /// Removes an asset from its release (204); an unknown id is a 404.
    fn delete_asset(&mut self, c: &Call) -> Reply {
        let id = c.p("asset_id").parse::<u64>().unwrap_or(0);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        for rel in &mut repo.releases {
            if let Some(i) = rel.assets.iter().position(|a| a.id == id) {
                rel.assets.remove(i);
                return Reply::ok(204, Json::Null);
            }
        }
        not_found()
    }

    fn list_runs(&self, c: &Call) -> Reply {
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let Some(w) = find_workflow(r, c.p("workflow_id")) else {
            return not_found();
        };
        let q = |k: &str| c.query.get(k).map(String::as_str);
        let mut runs: Vec<&Run> = r
            .runs
            .iter()
            .filter(|x| x.workflow_id == w.id)
            .filter(|x| q("branch").is_none_or(|b| x.head_branch == b))
            .filter(|x| q("event").is_none_or(|e| x.event == e))
            .filter(|x| q("head_sha").is_none_or(|s| x.head_sha == s))
            .filter(|_| q("actor").is_none_or(|a| a == BOT))
            .filter(|x| {
                q("status").is_none_or(|s| x.status == s || x.conclusion.as_deref() == Some(s))
            })
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.id));
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let items: Vec<Json> = runs
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|run| run_json(r, run))
            .collect();
        Reply::ok(
            200,
            json!({"total_count": runs.len(), "workflow_runs": items}),
        )
    }

    /// Check runs of the commit `ref` (a commit id), filtered by `check_name` and `status`;
    /// paginated by `per_page` / `page` with a `Link` header, like GitHub.
    fn list_checks(&self, c: &Call) -> Reply {
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let q = |k: &str| c.query.get(k).map(String::as_str);
        let runs: Vec<&CheckRun> = r
            .checks
            .iter()
            .filter(|x| x.head_sha == c.p("ref"))
            .filter(|x| q("check_name").is_none_or(|n| x.name == n))
            .filter(|x| q("status").is_none_or(|s| x.status == s))
            .collect();
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let items: Vec<Json> = runs
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|x| check_run_json(r, x))
            .collect();
        let mut reply = Reply::ok(200, json!({"total_count": runs.len(), "check_runs": items}));
        if page * per_page < runs.len() {
            reply.headers.push((
                "Link".into(),
                format!(
                    "<{}/repos/{}/{}/commits/{}/check-runs?per_page={per_page}&page={}>; rel=\"next\"",
                    api(),
                    r.owner,
                    r.name,
                    c.p("ref"),
                    page + 1
                ),
            ));
        }
        reply
    }

    /// The combined status of the commit `ref`: `failure` if any context is error or failure,
    /// else `pending` if any is pending or there are none, else `success` (GitHub's rule).
    fn combined_status(&self, c: &Call) -> Reply {
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let sha = c.p("ref");
        let all: Vec<&CommitStatus> = r.statuses.iter().filter(|x| x.sha == sha).collect();
        let state = if all
            .iter()
            .any(|x| x.state == "error" || x.state == "failure")
        {
            "failure"
        } else if all.is_empty() || all.iter().any(|x| x.state == "pending") {
            "pending"
        } else {
            "success"
        };
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let u = format!("{}/repos/{}/{}", api(), r.owner, r.name);
        let statuses: Vec<Json> = all
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|x| {
                json!({
                    "id": x.id,
                    "node_id": node_id("SC", x.id),
                    "state": x.state,
                    "context": x.context,
                    "description": x.description,
                    "target_url": x.target_url,
                    "avatar_url": null,
                    "url": format!("{u}/statuses/{}", x.sha),
                    "created_at": x.created_at,
                    "updated_at": x.updated_at,
                })
            })
            .collect();
        Reply::ok(
            200,
            json!({
                "state": state,
                "sha": sha,
                "total_count": all.len(),
                "statuses": statuses,
                "repository": repo_json(r, false),
                "commit_url": format!("{u}/commits/{sha}"),
                "url": format!("{u}/commits/{sha}/status"),
            }),
        )
    }

    fn list_team_members(&self, c: &Call) -> Reply {
        let Some(members) = self
            .teams
            .get(&(c.p("org").to_string(), c.p("team_slug").to_string()))
        else {
            return not_found();
        };
        let role = c.query.get("role").map(String::as_str).unwrap_or("all");
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let list: Vec<Json> = members
            .iter()
            .filter(|(_, r)| role == "all" || r == role)
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(login, _)| user_json(login))
            .collect();
        Reply::ok(200, Json::Array(list))
    }

    fn create_issue(&mut self, c: &Call) -> Reply {
        let id = self.id(6);
        let title = match c.field("title") {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if title.trim().is_empty() {
            return validation_failed("Issue", "missing_field", "title", None);
        }
        if c.field("milestone").is_some() {
            return validation_failed("Issue", "invalid", "milestone", None);
        }
        let labels = label_names(c.field("labels"));
        let mut assignees: Vec<String> = c
            .field("assignees")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        if let Some(a) = c.str_field("assignee") {
            assignees.insert(0, a);
        }
        self.ensure_labels(c.p("owner"), c.p("repo"), &labels);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let number = repo.issues.len() as u64 + 1;
        repo.issues.push(Issue {
            id,
            number,
            title,
            body: c.str_field("body"),
            labels,
            assignees,
            created_at: now(),
            pull: None,
            state: "open".into(),
            closed_at: None,
            updated_at: now(),
            comments: Vec::new(),
        });
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        Reply::created(issue_json(r, r.issues.last().unwrap()))
    }

    fn ensure_labels(&mut self, owner: &str, repo: &str, names: &[String]) {
        for name in names {
            let id = self.id(7);
            let r = self.repo_mut(owner, repo).unwrap();
            if !r.labels.iter().any(|l| l.name.eq_ignore_ascii_case(name)) {
                r.labels.push(Label {
                    id,
                    name: name.clone(),
                });
            }
        }
    }

    fn add_labels(&mut self, c: &Call) -> Reply {
        let n = c.p("issue_number").parse::<u64>().unwrap_or(0);
        let repo = self.repo(c.p("owner"), c.p("repo")).unwrap();
        if !repo.issues.iter().any(|i| i.number == n) {
            return not_found();
        }
        let labels = label_names(c.field("labels"));
        self.ensure_labels(c.p("owner"), c.p("repo"), &labels);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let issue = repo.issues.iter_mut().find(|i| i.number == n).unwrap();
        for l in labels {
            if !issue.labels.contains(&l) {
                issue.labels.push(l);
            }
        }
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == n).unwrap();
        Reply::ok(
            200,
            Json::Array(issue.labels.iter().map(|l| label_json(r, l)).collect()),
        )
    }

    fn create_pull(&mut self, c: &Call) -> Reply {
        let id = self.id(6);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let head = c.str_field("head").unwrap_or_default();
        let base = c.str_field("base").unwrap_or_default();
        let head_branch = head.rsplit(':').next().unwrap_or(&head).to_string();
        if head_branch == base {
            return validation_failed(
                "PullRequest",
                "custom",
                "head",
                Some(&format!("No commits between {base} and {head_branch}")),
            );
        }
        let existing = repo.issues.iter().any(|i| {
            i.state == "open"
                && i.pull
                    .as_ref()
                    .is_some_and(|p| p.head == head_branch && p.base == base)
        });
        if existing {
            return validation_failed(
                "PullRequest",
                "custom",
                "head",
                Some(&format!(
                    "A pull request already exists for {}:{head_branch}.",
                    repo.owner
                )),
            );
        }
        let pull = Pull {
            head: head_branch,
            base,
            draft: c.bool_field("draft").unwrap_or(false),
            maintainer_can_modify: c.bool_field("maintainer_can_modify").unwrap_or(false),
            requested_reviewers: Vec::new(),
            requested_teams: Vec::new(),
            merged: None,
        };
        let number;
        if let Some(issue_number) = c.field("issue").and_then(Json::as_u64) {
            // Converts an existing issue into a pull request.
            match repo
                .issues
                .iter_mut()
                .find(|i| i.number == issue_number && i.pull.is_none())
            {
                Some(i) => {
                    i.pull = Some(pull);
                    number = i.number;
                }
                None => return validation_failed("PullRequest", "invalid", "issue", None),
            }
        } else {
            let title = c.str_field("title").unwrap_or_default();
            if title.trim().is_empty() {
                return validation_failed("PullRequest", "missing_field", "title", None);
            }
            number = repo.issues.len() as u64 + 1;
            repo.issues.push(Issue {
                id,
                number,
                title,
                body: c.str_field("body"),
                labels: Vec::new(),
                assignees: Vec::new(),
                created_at: now(),
                pull: Some(pull),
                state: "open".into(),
                closed_at: None,
                updated_at: now(),
                comments: Vec::new(),
            });
        }
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == number).unwrap();
        Reply::created(pull_json(r, issue, true))
    }

    fn request_reviewers(&mut self, c: &Call) -> Reply {
        let n = c.p("pull_number").parse::<u64>().unwrap_or(0);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let Some(issue) = repo
            .issues
            .iter_mut()
            .find(|i| i.number == n && i.pull.is_some())
        else {
            return not_found();
        };
        let list = |k: &str| -> Vec<String> {
            c.field(k)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        };
        let reviewers = list("reviewers");
        if reviewers.iter().any(|r| r.eq_ignore_ascii_case(BOT)) {
            return Reply::ok(
                422,
                json!({"message": "Review cannot be requested from pull request author.", "documentation_url": DOCS}),
            );
        }
        let pull = issue.pull.as_mut().unwrap();
        for r in reviewers {
            if !pull.requested_reviewers.contains(&r) {
                pull.requested_reviewers.push(r);
            }
        }
        for t in list("team_reviewers") {
            if !pull.requested_teams.contains(&t) {
                pull.requested_teams.push(t);
            }
        }
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == n).unwrap();
        Reply::created(pull_json(r, issue, false))
    }

    /// `GET /repos/{owner}/{repo}/pulls`: `state` (open, closed, all), `head` (`owner:branch`),
    /// `base`, newest first (`sort=created`, `direction=desc`, GitHub's defaults), paged.
    fn list_pulls(&self, c: &Call) -> Reply {
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let state = c.query.get("state").map(String::as_str).unwrap_or("open");
        if !matches!(state, "open" | "closed" | "all") {
            return validation_failed("PullRequest", "invalid", "state", None);
        }
        let head = c.query.get("head").map(|h| match h.split_once(':') {
            Some((owner, branch)) => (Some(owner.to_string()), branch.to_string()),
            None => (None, h.clone()),
        });
        let base = c.query.get("base");
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let ascending = c.query.get("direction").is_some_and(|d| d == "asc");
        let mut list: Vec<&Issue> = r
            .issues
            .iter()
            .filter(|i| {
                let Some(p) = &i.pull else { return false };
                (state == "all" || i.state == state)
                    && head.as_ref().is_none_or(|(owner, branch)| {
                        owner
                            .as_ref()
                            .is_none_or(|o| o.eq_ignore_ascii_case(&r.owner))
                            && *branch == p.head
                    })
                    && base.is_none_or(|b| *b == p.base)
            })
            .collect();
        if !ascending {
            list.reverse();
        }
        let list: Vec<Json> = list
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|i| pull_json(r, i, false))
            .collect();
        Reply::ok(200, Json::Array(list))
    }

    /// `PATCH /repos/{owner}/{repo}/pulls/{pull_number}`: title, body, state, base. A merged
    /// pull request cannot be reopened.
    fn update_pull(&mut self, c: &Call) -> Reply {
        let n = c.p("pull_number").parse::<u64>().unwrap_or(0);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let Some(issue) = repo
            .issues
            .iter_mut()
            .find(|i| i.number == n && i.pull.is_some())
        else {
            return not_found();
        };
        let state = c.str_field("state");
        if let Some(s) = &state {
            if !matches!(s.as_str(), "open" | "closed") {
                return validation_failed("PullRequest", "invalid", "state", None);
            }
            if s == "open" && issue.pull.as_ref().is_some_and(|p| p.merged.is_some()) {
                return validation_failed(
                    "PullRequest",
                    "custom",
                    "state",
                    Some("Cannot reopen a merged pull request"),
                );
            }
        }
        if let Some(t) = c.str_field("title") {
            if t.trim().is_empty() {
                return validation_failed("PullRequest", "missing_field", "title", None);
            }
            issue.title = t;
        }
        if let Some(b) = c.str_field("body") {
            issue.body = Some(b);
        }
        if let Some(b) = c.str_field("base") {
            issue.pull.as_mut().unwrap().base = b;
        }
        if let Some(s) = state {
            if s != issue.state {
                issue.closed_at = (s == "closed").then(now);
                issue.state = s;
            }
        }
        issue.updated_at = now();
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == n).unwrap();
        Reply::ok(200, pull_json(r, issue, true))
    }

    /// `POST /repos/{owner}/{repo}/issues/{issue_number}/assignees`: adds (never removes).
    fn add_assignees(&mut self, c: &Call) -> Reply {
        let n = c.p("issue_number").parse::<u64>().unwrap_or(0);
        let names: Vec<String> = c
            .field("assignees")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| match a {
                Json::String(s) => Some(s.clone()),
                Json::Object(o) => o.get("login").and_then(Json::as_str).map(String::from),
                _ => None,
            })
            .collect();
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let Some(issue) = repo.issues.iter_mut().find(|i| i.number == n) else {
            return not_found();
        };
        for a in names {
            if !issue.assignees.contains(&a) {
                issue.assignees.push(a);
            }
        }
        issue.updated_at = now();
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == n).unwrap();
        Reply::created(issue_json(r, issue))
    }

    /// `PATCH /repos/{owner}/{repo}/issues/{issue_number}`: title, body, state.
    fn update_issue(&mut self, c: &Call) -> Reply {
        let n = c.p("issue_number").parse::<u64>().unwrap_or(0);
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let Some(issue) = repo.issues.iter_mut().find(|i| i.number == n) else {
            return not_found();
        };
        let state = c.str_field("state");
        if let Some(s) = &state {
            if issue.pull.as_ref().is_some_and(|p| p.merged.is_some()) && s == "open" {
                return validation_failed(
                    "Issue",
                    "custom",
                    "state",
                    Some("Cannot reopen a merged pull request"),
                );
            }
        }
        if let Some(t) = c.str_field("title") {
            if t.trim().is_empty() {
                return validation_failed("Issue", "missing_field", "title", None);
            }
            issue.title = t;
        }
        if let Some(b) = c.str_field("body") {
            issue.body = Some(b);
        }
        if let Some(s) = state {
            if s != issue.state {
                issue.closed_at = (s == "closed").then(now);
                issue.state = s;
            }
        }
        issue.updated_at = now();
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let issue = r.issues.iter().find(|i| i.number == n).unwrap();
        Reply::ok(200, issue_json(r, issue))
    }

    /// `GET /repos/{owner}/{repo}/issues`: `state` (open, closed, all), `labels` (all of them,
    /// comma-separated), newest first unless `direction=asc`, paged. Pull requests are issues
    /// too (they carry `pull_request`), as on GitHub.
    fn list_issues(&self, c: &Call) -> Reply {
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let state = c.query.get("state").map(String::as_str).unwrap_or("open");
        if !matches!(state, "open" | "closed" | "all") {
            return validation_failed("Issue", "invalid", "state", None);
        }
        let labels: Vec<String> = c
            .query
            .get("labels")
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let per_page = c.int_query("per_page", 30).clamp(1, 100) as usize;
        let page = c.int_query("page", 1).max(1) as usize;
        let ascending = c.query.get("direction").is_some_and(|d| d == "asc");
        let mut list: Vec<&Issue> = r
            .issues
            .iter()
            .filter(|i| {
                (state == "all" || i.state == state)
                    && labels
                        .iter()
                        .all(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
            })
            .collect();
        if !ascending {
            list.reverse();
        }
        let list: Vec<Json> = list
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|i| issue_json(r, i))
            .collect();
        Reply::ok(200, Json::Array(list))
    }

    /// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`.
    fn create_comment(&mut self, c: &Call) -> Reply {
        let n = c.p("issue_number").parse::<u64>().unwrap_or(0);
        let id = self.id(8);
        let body = c.str_field("body").unwrap_or_default();
        if body.trim().is_empty() {
            return validation_failed("IssueComment", "missing_field", "body", None);
        }
        let repo = self.repo_mut(c.p("owner"), c.p("repo")).unwrap();
        let Some(issue) = repo.issues.iter_mut().find(|i| i.number == n) else {
            return not_found();
        };
        let created_at = now();
        issue.comments.push(Comment {
            id,
            body: body.clone(),
            created_at: created_at.clone(),
        });
        let r = self.repo(c.p("owner"), c.p("repo")).unwrap();
        let full = format!("{}/{}", r.owner, r.name);
        Reply::created(json!({
            "id": id,
            "node_id": node_id("IC", id),
            "url": format!("{}/repos/{full}/issues/comments/{id}", api()),
            "html_url": format!("{}/{full}/issues/{n}#issuecomment-{id}", web()),
            "issue_url": format!("{}/repos/{full}/issues/{n}", api()),
            "body": body,
            "user": user_json(BOT),
            "created_at": created_at,
            "updated_at": created_at,
            "author_association": "OWNER",
        }))
    }

    /// Marks pull request `number` merged by `sha` (the merge commit the test made in the bare
    /// remote) and closes it, as a merge on GitHub does.
    pub fn merge_pull(
        &mut self,
        owner: &str,
        repo: &str,
        number: u64,
        sha: &str,
    ) -> Result<(), String> {
        let r = self
            .repo_mut(owner, repo)
            .ok_or_else(|| format!("no repository {owner}/{repo}"))?;
        let issue = r
            .issues
            .iter_mut()
            .find(|i| i.number == number && i.pull.is_some())
            .ok_or_else(|| format!("no pull request #{number} in {owner}/{repo}"))?;
        if issue.state != "open" {
            return Err(format!("pull request #{number} is not open"));
        }
        let at = now();
        issue.pull.as_mut().unwrap().merged = Some((sha.to_string(), at.clone()));
        issue.state = "closed".into();
        issue.closed_at = Some(at.clone());
        issue.updated_at = at;
        Ok(())
    }

    /// Everything, for tests and the control API (asset bytes as size + digest).
    pub fn dump(&self) -> Json {
        let repos: Vec<Json> = self
            .repos
            .iter()
            .map(|r| {
                json!({
                    "full_name": format!("{}/{}", r.owner, r.name),
                    "default_branch": r.default_branch,
                    "releases": r.releases.iter().map(|rel| json!({
                        "id": rel.id,
                        "tag_name": rel.tag_name,
                        "name": rel.name,
                        "body": rel.body,
                        "draft": rel.draft,
                        "prerelease": rel.prerelease,
                        "target_commitish": rel.target_commitish,
                        "latest": latest(r).is_some_and(|l| l.id == rel.id),
                        "assets": rel.assets.iter().map(|a| json!({
                            "id": a.id, "name": a.name, "label": a.label, "size": a.size,
                            "digest": a.digest, "content_type": a.content_type,
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "workflows": r.workflows.iter().map(|w| json!({"id": w.id, "path": w.path})).collect::<Vec<_>>(),
                    "deployments": r.deployments.iter().map(|d| json!({
                        "id": d.id, "ref": d.git_ref, "sha": d.sha, "environment": d.environment,
                        "task": d.task, "payload": d.payload, "description": d.description,
                        "production_environment": d.production_environment,
                        "statuses": d.statuses.iter().map(|s| json!({
                            "id": s.id, "state": s.state, "description": s.description,
                            "environment": s.environment,
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "runs": r.runs.iter().map(|x| json!({
                        "id": x.id, "workflow_id": x.workflow_id, "branch": x.head_branch,
                        "status": x.status, "conclusion": x.conclusion,
                    })).collect::<Vec<_>>(),
                    "issues": r.issues.iter().map(|i| json!({
                        "number": i.number, "title": i.title, "labels": i.labels,
                        "state": i.state, "body": i.body,
                        "comments": i.comments.iter().map(|c| c.body.clone()).collect::<Vec<_>>(),
                        "pull_request": i.pull.as_ref().map(|p| json!({
                            "head": p.head, "base": p.base, "draft": p.draft,
                            "requested_reviewers": p.requested_reviewers,
                            "requested_teams": p.requested_teams,
                            "merge_commit_sha": p.merged.as_ref().map(|(sha, _)| sha.clone()),
                        })),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let teams: Vec<Json> = self
            .teams
            .iter()
            .map(|((org, team), members)| json!({"org": org, "team": team, "members": members.iter().map(|(l, r)| json!({"login": l, "role": r})).collect::<Vec<_>>()}))
            .collect();
        json!({"repos": repos, "teams": teams})
    }

    /// The bytes of an uploaded asset.
    pub fn asset_bytes(&self, owner: &str, repo: &str, tag: &str, name: &str) -> Option<Vec<u8>> {
        self.repo(owner, repo)?
            .releases
            .iter()
            .find(|r| r.tag_name == tag)?
            .assets
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.data.clone())
    }
}

fn label_names(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| match l {
            Json::String(s) => Some(s.clone()),
            Json::Object(o) => o.get("name").and_then(Json::as_str).map(String::from),
            _ => None,
        })
        .collect()
}

fn mark_latest(repo: &mut Repo, rel: &Release, make_latest: Option<&str>) {
    if !rel.draft && !rel.prerelease && make_latest.unwrap_or("true") == "true" {
        repo.latest_marker = Some(rel.id);
    }
}

fn latest(r: &Repo) -> Option<&Release> {
    let eligible = |x: &&Release| !x.draft && !x.prerelease;
    r.latest_marker
        .and_then(|id| r.releases.iter().filter(eligible).find(|x| x.id == id))
        .or_else(|| r.releases.iter().filter(eligible).max_by_key(|x| x.id))
}

fn find_workflow<'a>(r: &'a Repo, key: &str) -> Option<&'a Workflow> {
    match key.parse::<u64>() {
        Ok(id) => r.workflows.iter().find(|w| w.id == id),
        Err(_) => r
            .workflows
            .iter()
            .find(|w| w.path.rsplit('/').next() == Some(key)),
    }
}

/// GitHub's rule for asset names (shared with the publishing side).
pub fn sanitize_asset_name(name: &str) -> String {
    xtask::targets::github::github_asset_name(name)
}

/// UTC now as RFC 3339 (`2024-01-31T12:00:00Z`).
pub fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

pub fn rfc3339(secs: u64) -> String {
    xtask::core::date::rfc3339(secs as i64)
}

fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}_kgDO{id:08X}")
}

/// A stable id per login.
fn user_id(login: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in login.to_ascii_lowercase().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    9_000_000 + h % 1_000_000
}

pub fn user_json(login: &str) -> Json {
    let id = user_id(login);
    let url = format!("{}/users/{login}", api());
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("U", id),
        "avatar_url": format!("{}/u/{id}?v=4", web()),
        "gravatar_id": "",
        "url": url,
        "html_url": format!("{}/{login}", web()),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": if login == BOT { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false
    })
}

pub fn repo_json(r: &Repo, full: bool) -> Json {
    let full_name = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{full_name}", api());
    let html = format!("{}/{full_name}", web());
    let mut v = json!({
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": full_name,
        "owner": user_json(&r.owner),
        "private": r.private,
        "html_url": html,
        "description": null,
        "fork": false,
        "url": u,
    });
    // `<name>_url` hypermedia links under the repository's API URL.
    const LINKS: &[(&str, &str)] = &[
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    if let Json::Object(m) = &mut v {
        for (k, suffix) in LINKS {
            m.insert(k.to_string(), Json::String(format!("{u}{suffix}")));
        }
    }
    if full {
        let extra = json!({
            "clone_url": format!("{html}.git"),
            "git_url": format!("git://{HOST}/{full_name}.git"),
            "ssh_url": format!("git@{HOST}:{full_name}.git"),
            "svn_url": html,
            "mirror_url": null,
            "homepage": null,
            "language": "Python",
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 1,
            "default_branch": r.default_branch,
            "open_issues": 0,
            "open_issues_count": 0,
            "is_template": false,
            "topics": [],
            "has_issues": true,
            "has_projects": false,
            "has_wiki": false,
            "has_pages": false,
            "has_downloads": true,
            "has_discussions": false,
            "archived": false,
            "disabled": false,
            "visibility": if r.private { "private" } else { "public" },
            "pushed_at": r.created_at,
            "created_at": r.created_at,
            "updated_at": r.created_at,
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
            "allow_rebase_merge": true,
            "allow_squash_merge": true,
            "allow_merge_commit": true,
            "allow_auto_merge": false,
            "delete_branch_on_merge": false,
            "allow_forking": true,
            "web_commit_signoff_required": false,
            "license": null,
            "network_count": 0,
            "subscribers_count": 0,
        });
        merge(&mut v, extra);
    }
    v
}

fn merge(into: &mut Json, from: Json) {
    if let (Json::Object(a), Json::Object(b)) = (into, from) {
        a.extend(b);
    }
}

pub fn deployment_json(r: &Repo, d: &Deployment) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{full}/deployments/{}", api(), d.id);
    json!({
        "url": u,
        "id": d.id,
        "node_id": node_id("DE", d.id),
        "sha": d.sha,
        "ref": d.git_ref,
        "task": d.task,
        "payload": d.payload,
        "original_environment": d.original_environment,
        "environment": d.environment,
        "description": d.description,
        "creator": user_json(BOT),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "statuses_url": format!("{u}/statuses"),
        "repository_url": format!("{}/repos/{full}", api()),
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
        "performed_via_github_app": null,
    })
}

pub fn deployment_status_json(r: &Repo, d: &Deployment, s: &DeploymentStatus) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    let du = format!("{}/repos/{full}/deployments/{}", api(), d.id);
    // GitHub answers "" for a URL that was not given, which the contract's `format: uri`
    // refuses: `target_url` (required) is then the repository's deployments page, the other two
    // (optional) are left out.
    let target = if s.log_url.is_empty() {
        format!("{}/{full}/deployments", web())
    } else {
        s.log_url.clone()
    };
    let mut v = json!({
        "url": format!("{du}/statuses/{}", s.id),
        "id": s.id,
        "node_id": node_id("DES", s.id),
        "state": s.state,
        "creator": user_json(BOT),
        "description": s.description,
        "environment": s.environment,
        "target_url": target,
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "deployment_url": du,
        "repository_url": format!("{}/repos/{full}", api()),
        "performed_via_github_app": null,
    });
    if !s.log_url.is_empty() {
        v["log_url"] = json!(s.log_url);
    }
    if !s.environment_url.is_empty() {
        v["environment_url"] = json!(s.environment_url);
    }
    v
}

pub fn release_json(r: &Repo, rel: &Release) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{full}/releases/{}", api(), rel.id);
    let shown_tag = if rel.draft {
        format!("untagged-{:x}", rel.id.wrapping_mul(0x9e37_79b9))
    } else {
        rel.tag_name.clone()
    };
    json!({
        "url": u,
        "assets_url": format!("{u}/assets"),
        "upload_url": format!("{}/repos/{full}/releases/{}/assets{{?name,label}}", uploads(), rel.id),
        "html_url": format!("{}/{full}/releases/tag/{shown_tag}", web()),
        "id": rel.id,
        "author": user_json(BOT),
        "node_id": node_id("RE", rel.id),
        "tag_name": rel.tag_name,
        "target_commitish": rel.target_commitish,
        "name": rel.name,
        "draft": rel.draft,
        "immutable": false,
        "prerelease": rel.prerelease,
        "created_at": rel.created_at,
        "updated_at": rel.updated_at,
        "published_at": rel.published_at,
        "assets": rel.assets.iter().map(|a| asset_json(r, rel, a)).collect::<Vec<_>>(),
        "tarball_url": (!rel.draft).then(|| format!("{}/repos/{full}/tarball/{}", api(), rel.tag_name)),
        "zipball_url": (!rel.draft).then(|| format!("{}/repos/{full}/zipball/{}", api(), rel.tag_name)),
        "body": rel.body,
    })
}

pub fn asset_json(r: &Repo, rel: &Release, a: &Asset) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    json!({
        "url": format!("{}/repos/{full}/releases/assets/{}", api(), a.id),
        "id": a.id,
        "node_id": node_id("RA", a.id),
        "name": a.name,
        "label": a.label,
        "uploader": user_json(BOT),
        "content_type": a.content_type,
        "state": "uploaded",
        "size": a.size,
        "digest": a.digest,
        "download_count": 0,
        "created_at": a.created_at,
        "updated_at": a.created_at,
        "browser_download_url": format!("{}/{full}/releases/download/{}/{}", web(), rel.tag_name, a.name),
    })
}

pub fn workflow_json(r: &Repo, w: &Workflow) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    json!({
        "id": w.id,
        "node_id": node_id("W", w.id),
        "name": w.name,
        "path": w.path,
        "state": "active",
        "created_at": w.created_at,
        "updated_at": w.created_at,
        "url": format!("{}/repos/{full}/actions/workflows/{}", api(), w.id),
        "html_url": format!("{}/{full}/blob/{}/{}", web(), r.default_branch, w.path),
        "badge_url": format!("{}/{full}/workflows/{}/badge.svg", web(), w.name),
    })
}

pub fn check_run_json(r: &Repo, x: &CheckRun) -> Json {
    let u = format!("{}/repos/{}/{}/check-runs/{}", api(), r.owner, r.name, x.id);
    json!({
        "id": x.id,
        "node_id": node_id("CR", x.id),
        "head_sha": x.head_sha,
        "external_id": "",
        "url": u,
        "html_url": format!("{}/{}/{}/runs/{}", web(), r.owner, r.name, x.id),
        "details_url": x.details_url,
        "status": x.status,
        "conclusion": x.conclusion,
        "started_at": x.started_at,
        "completed_at": x.completed_at,
        "output": {
            "title": null,
            "summary": null,
            "text": null,
            "annotations_count": 0,
            "annotations_url": format!("{u}/annotations"),
        },
        "name": x.name,
        "check_suite": {"id": x.id + 100_000},
        "app": null,
        "pull_requests": [],
    })
}

pub fn run_json(r: &Repo, run: &Run) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{full}/actions/runs/{}", api(), run.id);
    let w = r.workflows.iter().find(|w| w.id == run.workflow_id);
    let path = w.map(|w| w.path.clone()).unwrap_or_default();
    let name = w.map(|w| w.name.clone()).unwrap_or_default();
    let commit_author = json!({"name": BOT, "email": format!("{BOT}@users.noreply.{HOST}")});
    json!({
        "id": run.id,
        "name": name,
        "node_id": node_id("WFR", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": path,
        "display_title": format!("{name} {}", run.head_branch),
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.id + 1,
        "check_suite_node_id": node_id("CS", run.id + 1),
        "url": u,
        "html_url": format!("{}/{full}/actions/runs/{}", web(), run.id),
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.created_at,
        "run_started_at": run.created_at,
        "actor": user_json(BOT),
        "triggering_actor": user_json(BOT),
        "jobs_url": format!("{u}/jobs"),
        "logs_url": format!("{u}/logs"),
        "check_suite_url": format!("{}/repos/{full}/check-suites/{}", api(), run.id + 1),
        "artifacts_url": format!("{u}/artifacts"),
        "cancel_url": format!("{u}/cancel"),
        "rerun_url": format!("{u}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{}/repos/{full}/actions/workflows/{}", api(), run.workflow_id),
        "head_commit": {
            "id": run.head_sha,
            "tree_id": sha256_hex(run.head_sha.as_bytes())[..40].to_string(),
            "message": format!("release {}", run.head_branch),
            "timestamp": run.created_at,
            "author": commit_author,
            "committer": commit_author,
        },
        "repository": repo_json(r, false),
        "head_repository": repo_json(r, false),
    })
}

fn label_json(r: &Repo, name: &str) -> Json {
    let l = r.labels.iter().find(|l| l.name.eq_ignore_ascii_case(name));
    let id = l.map_or(0, |l| l.id);
    json!({
        "id": id,
        "node_id": node_id("LA", id),
        "url": format!("{}/repos/{}/{}/labels/{}", api(), r.owner, r.name, name.replace(' ', "%20")),
        "name": name,
        // A string: `pull-request-simple` labels declare it non-nullable.
        "description": "",
        "color": "ededed",
        "default": false,
    })
}

pub fn issue_json(r: &Repo, i: &Issue) -> Json {
    let full = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{full}/issues/{}", api(), i.number);
    let mut v = json!({
        "id": i.id,
        "node_id": node_id("I", i.id),
        "url": u,
        "repository_url": format!("{}/repos/{full}", api()),
        "labels_url": format!("{u}/labels{{/name}}"),
        "comments_url": format!("{u}/comments"),
        "events_url": format!("{u}/events"),
        "html_url": format!("{}/{full}/issues/{}", web(), i.number),
        "number": i.number,
        "state": i.state,
        "title": i.title,
        "body": i.body,
        "user": user_json(BOT),
        "labels": i.labels.iter().map(|l| label_json(r, l)).collect::<Vec<_>>(),
        "assignee": i.assignees.first().map(|a| user_json(a)),
        "assignees": i.assignees.iter().map(|a| user_json(a)).collect::<Vec<_>>(),
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": i.comments.len(),
        "closed_at": i.closed_at,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "author_association": "OWNER",
    });
    if i.pull.is_some() {
        let p = format!("{}/{full}/pull/{}", web(), i.number);
        merge(
            &mut v,
            json!({"pull_request": {
                "url": format!("{}/repos/{full}/pulls/{}", api(), i.number),
                "html_url": p,
                "diff_url": format!("{p}.diff"),
                "patch_url": format!("{p}.patch"),
            }}),
        );
    }
    v
}

/// `full`: the `pull-request` schema (create, get); otherwise `pull-request-simple`.
pub fn pull_json(r: &Repo, i: &Issue, full: bool) -> Json {
    let p = i.pull.as_ref().expect("a pull request");
    let name = format!("{}/{}", r.owner, r.name);
    let u = format!("{}/repos/{name}/pulls/{}", api(), i.number);
    let html = format!("{}/{name}/pull/{}", web(), i.number);
    let issue_url = format!("{}/repos/{name}/issues/{}", api(), i.number);
    let sha = |b: &str| sha256_hex(b.as_bytes())[..40].to_string();
    let end = |branch: &str| {
        json!({
            "label": format!("{}:{branch}", r.owner),
            "ref": branch,
            "sha": sha(branch),
            "user": user_json(&r.owner),
            "repo": repository_json(r),
        })
    };
    let link = |href: String| json!({"href": href});
    let statuses = format!("{}/repos/{name}/statuses/{}", api(), sha(&p.head));
    let review_comment = format!("{}/repos/{name}/pulls/comments{{/number}}", api());
    let mut links = serde_json::Map::new();
    for (k, href) in [
        ("self", u.clone()),
        ("html", html.clone()),
        ("issue", issue_url.clone()),
        ("comments", format!("{issue_url}/comments")),
        ("review_comments", format!("{u}/comments")),
        ("review_comment", review_comment.clone()),
        ("commits", format!("{u}/commits")),
        ("statuses", statuses.clone()),
    ] {
        links.insert(k.to_string(), link(href));
    }
    let requested_reviewers: Vec<Json> =
        p.requested_reviewers.iter().map(|l| user_json(l)).collect();
    let requested_teams: Vec<Json> = p
        .requested_teams
        .iter()
        .map(|t| {
            let mut t = team_json(&r.owner, t);
            // `pull-request` lists `team-simple`s (no `parent`); `pull-request-simple`, `team`s.
            if full {
                if let Json::Object(m) = &mut t {
                    m.remove("parent");
                }
            }
            t
        })
        .collect();
    let mut v = json!({
        "url": u,
        "id": i.id,
        "node_id": node_id("PR", i.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_url,
        "commits_url": format!("{u}/commits"),
        "review_comments_url": format!("{u}/comments"),
        "review_comment_url": review_comment,
        "comments_url": format!("{issue_url}/comments"),
        "statuses_url": statuses,
        "number": i.number,
        "state": i.state,
        "locked": false,
        "title": i.title,
        "user": user_json(BOT),
        "body": i.body,
        "labels": i.labels.iter().map(|l| label_json(r, l)).collect::<Vec<_>>(),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "merged_at": p.merged.as_ref().map(|(_, at)| at.clone()),
        "merge_commit_sha": p.merged.as_ref().map(|(sha, _)| sha.clone()),
        "assignee": null,
        "assignees": [],
        "requested_reviewers": requested_reviewers,
        "requested_teams": requested_teams,
        "head": end(&p.head),
        "base": end(&p.base),
        "_links": links,
        "author_association": "OWNER",
        "auto_merge": null,
        "draft": p.draft,
    });
    if full {
        merge(
            &mut v,
            json!({
                "merged": p.merged.is_some(),
                "mergeable": null,
                "rebaseable": null,
                "mergeable_state": "unknown",
                "merged_by": null,
                "comments": i.comments.len(),
                "review_comments": 0,
                "maintainer_can_modify": p.maintainer_can_modify,
                "commits": 1,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }),
        );
    }
    v
}

fn team_json(org: &str, slug: &str) -> Json {
    let id = user_id(&format!("team:{org}/{slug}"));
    let u = format!("{}/orgs/{org}/teams/{slug}", api());
    json!({
        "id": id,
        "node_id": node_id("T", id),
        "url": u,
        "html_url": format!("{}/orgs/{org}/teams/{slug}", web()),
        "name": slug,
        "slug": slug,
        "description": null,
        "privacy": "closed",
        "permission": "pull",
        "members_url": format!("{u}/members{{/member}}"),
        "repositories_url": format!("{u}/repos"),
        "type": "organization",
        "parent": null,
    })
}

/// The `repository` schema (pull request heads and bases).
fn repository_json(r: &Repo) -> Json {
    let mut v = repo_json(r, true);
    if let Json::Object(m) = &mut v {
        // Not part of `repository`.
        for k in ["network_count", "subscribers_count", "license"] {
            m.remove(k);
        }
        let extra: Map<String, Json> = [("license".to_string(), Json::Null)].into_iter().collect();
        m.extend(extra);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_199), "2023-12-31T23:59:59Z");
    }

    #[test]
    fn asset_names() {
        assert_eq!(sanitize_asset_name("app-1.2.3.tar.gz"), "app-1.2.3.tar.gz");
        assert_eq!(sanitize_asset_name("my file (1).zip"), "my.file..1..zip");
        assert_eq!(sanitize_asset_name(".hidden."), "hidden");
    }
}
