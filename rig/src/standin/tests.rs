//! Server tests (a std `TcpStream` client) and end-to-end tests with the real `gh` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::tests_support::spec_path;
use super::*;
use xtask::core::sha256::digest_hex as sha256_hex;
use xtask::run::plan::{Process, Val};
use xtask::run::process;

const API: &str = "http://api.github.localhost";
const UPLOADS: &str = "http://uploads.github.localhost";

fn standin() -> Standin {
    let s = Standin::start(&spec_path()).expect("stand-in starts");
    s.seed_repo("acme", "app");
    s
}

/// A keep-alive client speaking to the stand-in as a proxy client would (absolute-form).
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn new(s: &Standin) -> Client {
        let stream = TcpStream::connect(s.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// `url` is absolute (`http://api.github.localhost/…`) or origin-form (`/_standin/…`).
    fn send(&mut self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let host = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .unwrap_or("127.0.0.1");
        let mut head =
            format!("{method} {url} HTTP/1.1\r\nHost: {host}\r\nAuthorization: token t\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let chunked = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
        if !chunked && !body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        if chunked {
            for part in body.chunks(7) {
                raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                raw.extend_from_slice(part);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
        } else {
            raw.extend_from_slice(body);
        }
        self.writer.write_all(&raw).unwrap();
        self.read_answer(method == "HEAD")
    }

    fn read_answer(&mut self, head_only: bool) -> Answer {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("bad status line {line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; if head_only { 0 } else { len }];
        self.reader.read_exact(&mut body).unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    fn json(&mut self, method: &str, url: &str, body: Json) -> Answer {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let ct: &[(&str, &str)] = if body.is_null() {
            &[]
        } else {
            &[("Content-Type", "application/json; charset=utf-8")]
        };
        self.send(method, url, ct, &bytes)
    }
}

fn slipway_rig_check_seed(
    sha: &str,
    kind: &str,
    name: &str,
    outcome: Option<&str>,
) -> crate::standin::CheckSeed {
    let (status, conclusion) = match kind {
        "status" => (outcome.map(String::from), None),
        _ => (None, outcome.map(String::from)),
    };
    crate::standin::CheckSeed {
        owner: "acme".into(),
        repo: "app".into(),
        sha: sha.into(),
        kind: kind.into(),
        name: name.into(),
        status,
        conclusion,
        url: None,
    }
}

fn assert_clean(s: &Standin) {
    if let Err(e) = s.ensure_no_violations() {
        panic!("{e:#}\nrequests:\n  {}", s.requests().join("\n  "));
    }
}

#[test]
fn serves_repositories_over_keep_alive() {
    let s = standin();
    let mut c = Client::new(&s);
    let a = c.send("GET", &format!("{API}/repos/acme/app"), &[], b"");
    assert_eq!(a.status, 200);
    let repo = a.json();
    assert_eq!(repo["full_name"], "acme/app");
    assert_eq!(repo["default_branch"], "main");
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    // Same connection: unknown repositories are 404 like on GitHub.
    let a = c.send("GET", &format!("{API}/repos/acme/nope"), &[], b"");
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["message"], "Not Found");
    // Origin-form works too (a client talking to the stand-in directly).
    let a = c.send("GET", "/repos/ACME/App", &[], b"");
    assert_eq!(a.status, 200);
    assert_clean(&s);
    assert_eq!(s.requests().len(), 3);
    assert!(
        s.requests()[0].starts_with("GET api.github.localhost/repos/acme/app → 200 (repos/get)")
    );
}

#[test]
fn release_lifecycle() {
    let s = standin();
    let mut c = Client::new(&s);
    let releases = format!("{API}/repos/acme/app/releases");

    let a = c.json(
        "POST",
        &releases,
        json!({"tag_name": "v1.2.3", "name": "v1.2.3", "body": "notes"}),
    );
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let rel = a.json();
    let id = rel["id"].as_u64().unwrap();
    assert_eq!(a.header("location"), rel["url"].as_str());
    assert_eq!(
        rel["upload_url"],
        format!("{UPLOADS}/repos/acme/app/releases/{id}/assets{{?name,label}}")
    );
    assert_eq!(
        rel["html_url"],
        "http://github.localhost/acme/app/releases/tag/v1.2.3"
    );
    assert_eq!(rel["target_commitish"], "main");
    assert_eq!(rel["assets"], json!([]));
    assert!(rel["published_at"].is_string());

    // Duplicate tag: GitHub's 422, exactly.
    let a = c.json("POST", &releases, json!({"tag_name": "v1.2.3"}));
    assert_eq!(a.status, 422);
    let err = a.json();
    assert_eq!(err["message"], "Validation Failed");
    assert_eq!(
        err["errors"],
        json!([{"resource": "Release", "code": "already_exists", "field": "tag_name"}])
    );

    // By tag, by id, latest.
    let a = c.send("GET", &format!("{releases}/tags/v1.2.3"), &[], b"");
    assert_eq!((a.status, a.json()["id"].as_u64()), (200, Some(id)));
    let a = c.send("GET", &format!("{releases}/{id}"), &[], b"");
    assert_eq!(a.status, 200);
    let a = c.send("GET", &format!("{releases}/latest"), &[], b"");
    assert_eq!(a.json()["id"].as_u64(), Some(id));
    let a = c.send("GET", &format!("{releases}/999"), &[], b"");
    assert_eq!(a.status, 404);

    // Upload (chunked, to the uploads host), digest, duplicate name, unknown release.
    let data = b"release tarball bytes\x00\x01\x02".repeat(100);
    let upload = format!(
        "{UPLOADS}/repos/acme/app/releases/{id}/assets?name=app%201.2.3.tar.gz&label=Source"
    );
    let a = c.send(
        "POST",
        &upload,
        &[
            ("Content-Type", "application/gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
        &data,
    );
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let asset = a.json();
    assert_eq!(asset["name"], "app.1.2.3.tar.gz");
    assert_eq!(asset["label"], "Source");
    assert_eq!(asset["size"], data.len());
    assert_eq!(asset["content_type"], "application/gzip");
    assert_eq!(asset["digest"], format!("sha256:{}", sha256_hex(&data)));
    assert_eq!(
        asset["browser_download_url"],
        "http://github.localhost/acme/app/releases/download/v1.2.3/app.1.2.3.tar.gz"
    );
    let a = c.send(
        "POST",
        &upload,
        &[("Content-Type", "application/gzip")],
        b"again",
    );
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["errors"][0]["code"], "already_exists");
    let a = c.send(
        "POST",
        &format!("{UPLOADS}/repos/acme/app/releases/42/assets?name=x"),
        &[("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(a.status, 404);
    assert_eq!(
        s.asset_bytes("acme", "app", "v1.2.3", "app.1.2.3.tar.gz"),
        Some(data.clone())
    );
    let a = c.send("GET", &format!("{releases}/tags/v1.2.3"), &[], b"");
    assert_eq!(a.json()["assets"][0]["size"], data.len());

    // Delete: 204 without a body, gone from the release, the name free again; unknown: 404.
    let asset_id = a.json()["assets"][0]["id"].as_u64().unwrap();
    let gone = format!("{API}/repos/acme/app/releases/assets/{asset_id}");
    let a = c.send("DELETE", &gone, &[], b"");
    assert_eq!((a.status, a.body.len()), (204, 0));
    let a = c.send("GET", &format!("{releases}/tags/v1.2.3"), &[], b"");
    assert_eq!(a.json()["assets"], json!([]));
    assert_eq!(c.send("DELETE", &gone, &[], b"").status, 404);
    let a = c.send(
        "POST",
        &upload,
        &[("Content-Type", "application/gzip")],
        &data,
    );
    assert_eq!(a.status, 201);

    // Drafts: invisible by tag and as latest, visible by id; publishing shows them.
    let a = c.json(
        "POST",
        &releases,
        json!({"tag_name": "v2.0.0", "draft": true, "make_latest": "true"}),
    );
    let draft = a.json();
    let draft_id = draft["id"].as_u64().unwrap();
    assert!(draft["published_at"].is_null() && draft["tarball_url"].is_null());
    assert!(draft["html_url"]
        .as_str()
        .unwrap()
        .contains("/releases/tag/untagged-"));
    assert_eq!(
        c.send("GET", &format!("{releases}/tags/v2.0.0"), &[], b"")
            .status,
        404
    );
    assert_eq!(
        c.send("GET", &format!("{releases}/{draft_id}"), &[], b"")
            .status,
        200
    );
    assert_eq!(
        c.send("GET", &format!("{releases}/latest"), &[], b"")
            .json()["id"]
            .as_u64(),
        Some(id)
    );
    let a = c.json(
        "PATCH",
        &format!("{releases}/{draft_id}"),
        json!({"draft": false, "body": "final"}),
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["body"], "final");
    assert!(a.json()["published_at"].is_string());
    assert_eq!(
        c.send("GET", &format!("{releases}/tags/v2.0.0"), &[], b"")
            .status,
        200
    );
    assert_eq!(
        c.send("GET", &format!("{releases}/latest"), &[], b"")
            .json()["id"]
            .as_u64(),
        Some(draft_id)
    );
    // Editing a published release's notes leaves the latest alone; `make_latest` moves it
    // (what `rollback` does: the good release becomes latest, the bad one gets a banner).
    let latest = |c: &mut Client| {
        c.send("GET", &format!("{releases}/latest"), &[], b"")
            .json()["id"]
            .as_u64()
    };
    let a = c.json(
        "PATCH",
        &format!("{releases}/{id}"),
        json!({"body": "edited"}),
    );
    assert_eq!(a.status, 200);
    assert_eq!(latest(&mut c), Some(draft_id));
    c.json(
        "PATCH",
        &format!("{releases}/{id}"),
        json!({"make_latest": "true"}),
    );
    assert_eq!(latest(&mut c), Some(id));
    c.json(
        "PATCH",
        &format!("{releases}/{draft_id}"),
        json!({"body": "final, edited"}),
    );
    assert_eq!(latest(&mut c), Some(id));
    c.json(
        "PATCH",
        &format!("{releases}/{draft_id}"),
        json!({"make_latest": "true"}),
    );
    assert_eq!(latest(&mut c), Some(draft_id));
    // Renaming onto an existing tag is refused.
    let a = c.json(
        "PATCH",
        &format!("{releases}/{draft_id}"),
        json!({"tag_name": "v1.2.3"}),
    );
    assert_eq!(a.status, 422);
    // Prereleases never become latest.
    c.json(
        "POST",
        &releases,
        json!({"tag_name": "v3.0.0-rc.1", "prerelease": true}),
    );
    assert_eq!(
        c.send("GET", &format!("{releases}/latest"), &[], b"")
            .json()["id"]
            .as_u64(),
        Some(draft_id)
    );

    assert_clean(&s);
    let state = s.state();
    assert_eq!(state["repos"][0]["releases"].as_array().unwrap().len(), 3);
}

#[test]
fn requests_outside_the_contract_are_violations_answered_like_github() {
    let s = standin();
    let mut c = Client::new(&s);
    let releases = format!("{API}/repos/acme/app/releases");
    // (method, url, headers, body, expected status, expected violation text)
    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("POST", releases.clone(), vec![("Content-Type", "application/json")], br#"{"tag_name":"v1","draft":"yes"}"#.to_vec(), 422,
            "POST /repos/{owner}/{repo}/releases: body.draft: expected boolean, got string \"yes\" (request: POST api.github.localhost/repos/acme/app/releases)"),
        ("POST", releases.clone(), vec![("Content-Type", "application/json")], br#"{"tag_name":"v1","prerelase":true}"#.to_vec(), 422,
            "body: property \"prerelase\" is not declared"),
        ("POST", releases.clone(), vec![("Content-Type", "application/json")], b"{nope".to_vec(), 400, "the body is not JSON"),
        ("GET", format!("{API}/repos/acme/app/collaborators"), vec![], vec![], 404,
            "GET /repos/acme/app/collaborators: no operation in the API description"),
        ("GET", format!("{releases}/abc"), vec![], vec![], 404, "path parameter release_id: expected integer, got \"abc\""),
        ("POST", format!("{releases}/1/assets?name=a.txt"), vec![("Content-Type", "text/plain")], b"x".to_vec(), 404,
            "sent to api.github.localhost, but repos/upload-release-asset is served from the `uploads.` host"),
        ("POST", format!("{UPLOADS}/repos/acme/app/releases/1/assets"), vec![("Content-Type", "text/plain")], b"x".to_vec(), 422,
            "required query parameter name is missing"),
        ("GET", format!("{API}/repos/acme/app/actions/workflows/release.yml/runs?branch=v1&status=green"), vec![], vec![], 422,
            "query parameter status: string \"green\" is not one of"),
        ("POST", format!("{API}/graphql"), vec![("Content-Type", "application/json")], br#"{"query":"{viewer{login}}"}"#.to_vec(), 404,
            "POST /graphql: no operation in the API description"),
        ("PUT", format!("{releases}/1"), vec![], vec![], 404, "(the path exists for DELETE, GET, PATCH)"),
    ];
    for (i, (method, url, headers, body, status, want)) in cases.iter().enumerate() {
        let a = c.send(method, url, headers, body);
        assert_eq!(
            a.status,
            *status,
            "{method} {url}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.json()["message"].is_string());
        let v = s.violations();
        assert_eq!(v.len(), i + 1, "{method} {url}: {v:#?}");
        assert!(
            v[i].contains(want),
            "{method} {url}:\n{}\ndoes not contain\n{want}",
            v[i]
        );
    }
    // An unauthenticated write is GitHub's 401, not a contract violation.
    let mut raw = TcpStream::connect(s.addr).unwrap();
    let body = r#"{"tag_name":"v"}"#;
    write!(raw, "POST {releases} HTTP/1.1\r\nHost: api.github.localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 401 "), "{text}");
    assert_eq!(s.violations().len(), cases.len());
    // Nothing was created by the refused requests.
    assert_eq!(s.state()["repos"][0]["releases"], json!([]));
}

#[test]
fn https_through_the_proxy_is_refused_and_recorded() {
    let s = standin();
    let mut c = Client::new(&s);
    let a = c.send("CONNECT", "api.github.com:443", &[], b"");
    assert_eq!(a.status, 405);
    assert!(s.violations()[0].contains("CONNECT api.github.com:443: gh opened a TLS tunnel"));
    // Malformed HTTP is recorded too.
    let mut raw = TcpStream::connect(s.addr).unwrap();
    raw.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 "));
    assert!(s.violations()[1].starts_with("malformed HTTP request"));
}

#[test]
fn head_is_answered_like_get_without_a_body() {
    let s = standin();
    let mut c = Client::new(&s);
    let a = c.send(
        "HEAD",
        &format!("{API}/repos/acme/app/releases/tags/v9"),
        &[],
        b"",
    );
    assert_eq!(a.status, 404);
    assert!(a.body.is_empty());
    c.json(
        "POST",
        &format!("{API}/repos/acme/app/releases"),
        json!({"tag_name": "v9"}),
    );
    let a = c.send(
        "HEAD",
        &format!("{API}/repos/acme/app/releases/tags/v9"),
        &[],
        b"",
    );
    assert_eq!(a.status, 200);
    // The connection is still in sync.
    assert_eq!(
        c.send("GET", &format!("{API}/repos/acme/app"), &[], b"")
            .status,
        200
    );
    assert_clean(&s);
}

#[test]
fn workflow_runs_are_filtered_by_branch() {
    let s = standin();
    let ok = s
        .seed_run("acme", "app", "release.yml", "v1.2.3", Some("success"))
        .unwrap();
    let failed = s
        .seed_run("acme", "app", "release.yml", "v1.2.4", Some("failure"))
        .unwrap();
    let running = s
        .seed_run("acme", "app", "release.yml", "v1.2.4", None)
        .unwrap();
    s.seed_run("acme", "app", "ci.yml", "v1.2.3", Some("failure"))
        .unwrap();
    assert!(s.seed_run("acme", "nope", "ci.yml", "main", None).is_err());
    let mut c = Client::new(&s);
    let wf = c.send(
        "GET",
        &format!("{API}/repos/acme/app/actions/workflows/release.yml"),
        &[],
        b"",
    );
    assert_eq!(wf.status, 200);
    let wf_id = wf.json()["id"].as_u64().unwrap();
    assert_eq!(wf.json()["path"], ".github/workflows/release.yml");

    let list = |c: &mut Client, q: &str| -> Json {
        let a = c.send(
            "GET",
            &format!("{API}/repos/acme/app/actions/workflows/{wf_id}/runs?{q}"),
            &[],
            b"",
        );
        assert_eq!(a.status, 200);
        a.json()
    };
    let ids = |v: &Json| -> Vec<u64> {
        v["workflow_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    // gh run list's exact query.
    let v = list(
        &mut c,
        "per_page=20&exclude_pull_requests=true&branch=v1.2.3",
    );
    assert_eq!((v["total_count"].as_u64(), ids(&v)), (Some(1), vec![ok]));
    assert_eq!(v["workflow_runs"][0]["conclusion"], "success");
    assert_eq!(v["workflow_runs"][0]["status"], "completed");
    let v = list(&mut c, "branch=v1.2.4");
    assert_eq!(ids(&v), vec![running, failed], "newest first");
    assert!(v["workflow_runs"][0]["conclusion"].is_null());
    assert_eq!(v["workflow_runs"][0]["status"], "in_progress");
    assert_eq!(
        ids(&list(&mut c, "branch=v1.2.4&status=failure")),
        vec![failed]
    );
    assert_eq!(
        ids(&list(&mut c, "branch=v1.2.4&status=in_progress")),
        vec![running]
    );
    let v = list(&mut c, "per_page=1&page=2");
    assert_eq!(
        (v["total_count"].as_u64(), ids(&v)),
        (Some(3), vec![failed])
    );
    assert_eq!(ids(&list(&mut c, "branch=nope")), Vec::<u64>::new());
    // By file name as well as by id; single runs.
    let v = c.send(
        "GET",
        &format!("{API}/repos/acme/app/actions/workflows/release.yml/runs?branch=v1.2.3"),
        &[],
        b"",
    );
    assert_eq!(ids(&v.json()), vec![ok]);
    let a = c.send(
        "GET",
        &format!("{API}/repos/acme/app/actions/runs/{failed}"),
        &[],
        b"",
    );
    assert_eq!(
        (a.status, a.json()["conclusion"].as_str()),
        (200, Some("failure"))
    );
    assert_eq!(
        c.send(
            "GET",
            &format!("{API}/repos/acme/app/actions/runs/1"),
            &[],
            b""
        )
        .status,
        404
    );
    assert_eq!(
        c.send(
            "GET",
            &format!("{API}/repos/acme/app/actions/workflows/deploy.yml"),
            &[],
            b""
        )
        .status,
        404
    );
    assert_clean(&s);
}

#[test]
fn injected_faults() {
    let s = standin();
    let template = "/repos/{owner}/{repo}/releases";
    s.fail_next("POST", template, 502, 2).unwrap();
    assert!(s
        .fail_next("POST", "/repos/{owner}/{repo}/nothing", 500, 1)
        .is_err());
    assert!(s.fail_next("POST", template, 200, 1).is_err());
    let mut c = Client::new(&s);
    let url = format!("{API}/repos/acme/app/releases");
    for _ in 0..2 {
        let a = c.json("POST", &url, json!({"tag_name": "v1"}));
        assert_eq!(a.status, 502);
        assert_eq!(a.json()["message"], "injected fault (502)");
    }
    assert_eq!(c.json("POST", &url, json!({"tag_name": "v1"})).status, 201);
    // Status 0: the connection is closed without an answer.
    s.fail_next("GET", "/repos/{owner}/{repo}", 0, 1).unwrap();
    let mut raw = TcpStream::connect(s.addr).unwrap();
    write!(
        raw,
        "GET {API}/repos/acme/app HTTP/1.1\r\nHost: api.github.localhost\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = raw.read_to_string(&mut text);
    assert_eq!(text, "");
    assert_eq!(
        Client::new(&s)
            .send("GET", &format!("{API}/repos/acme/app"), &[], b"")
            .status,
        200
    );
    assert_clean(&s);
    let log = s.requests();
    assert!(log[0].contains("→ 502 (repos/create-release)"), "{log:#?}");
    assert!(log[3].contains("→ 0 (repos/get)"), "{log:#?}");
}

#[test]
fn control_api() {
    let s = Standin::start(&spec_path()).unwrap();
    let mut c = Client::new(&s);
    let ctl = |c: &mut Client, method: &str, what: &str, body: Json| {
        c.json(method, &format!("/_standin/{what}"), body)
    };
    assert_eq!(
        ctl(&mut c, "GET", "health", Json::Null).json(),
        json!({"ok": true})
    );
    assert_eq!(
        c.send("GET", &format!("{API}/repos/acme/app"), &[], b"")
            .status,
        404
    );
    assert_eq!(
        ctl(
            &mut c,
            "POST",
            "repos",
            json!({"owner": "acme", "repo": "app", "default_branch": "trunk"})
        )
        .status,
        201
    );
    let a = ctl(
        &mut c,
        "POST",
        "runs",
        json!({"owner": "acme", "repo": "app", "workflow": "release.yml", "branch": "v1", "conclusion": "failure"}),
    );
    assert_eq!(a.status, 201);
    assert!(a.json()["id"].is_u64());
    assert_eq!(ctl(&mut c, "POST", "teams", json!({"org": "acme", "team": "rel", "members": ["ann", {"login": "bob", "role": "maintainer"}]})).status, 201);
    assert_eq!(
        ctl(
            &mut c,
            "POST",
            "faults",
            json!({"method": "GET", "path": "/repos/{owner}/{repo}", "status": 503})
        )
        .status,
        201
    );
    let a = ctl(
        &mut c,
        "POST",
        "faults",
        json!({"method": "GET", "path": "/nope", "status": 503}),
    );
    assert_eq!(a.status, 400);
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .contains("no operation GET /nope"));
    assert_eq!(
        ctl(&mut c, "POST", "runs", json!({"owner": "acme"})).status,
        400
    );
    assert_eq!(
        c.send(
            "POST",
            "/_standin/repos",
            &[("Content-Type", "application/json")],
            b"{"
        )
        .status,
        400
    );
    assert_eq!(ctl(&mut c, "GET", "nothing", Json::Null).status, 404);

    assert_eq!(
        c.send("GET", &format!("{API}/repos/acme/app"), &[], b"")
            .status,
        503
    );
    let a = c.send("GET", &format!("{API}/repos/acme/app"), &[], b"");
    assert_eq!(a.json()["default_branch"], "trunk");
    let a = c.send(
        "GET",
        &format!("{API}/orgs/acme/teams/rel/members?role=maintainer"),
        &[],
        b"",
    );
    assert_eq!(
        a.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["login"].clone())
            .collect::<Vec<_>>(),
        vec![json!("bob")]
    );
    c.send("GET", &format!("{API}/repos/acme/app/teams"), &[], b"");

    let log = ctl(&mut c, "GET", "requests", Json::Null).json();
    assert_eq!(
        log.as_array().unwrap().len(),
        5,
        "control requests are not logged: {log:#}"
    );
    assert_eq!(log[0]["status"], 404);
    assert_eq!(log[1]["status"], 503);
    assert_eq!(log[2]["operation"], "repos/get");
    assert_eq!(log[4]["operation"], Json::Null);
    let v = ctl(&mut c, "GET", "violations", Json::Null).json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(v[0]
        .as_str()
        .unwrap()
        .contains("GET /repos/acme/app/teams: no operation"));
    let state = ctl(&mut c, "GET", "state", Json::Null).json();
    assert_eq!(state["repos"][0]["runs"][0]["conclusion"], "failure");
    assert_eq!(
        state["teams"][0]["members"][1],
        json!({"login": "bob", "role": "maintainer"})
    );

    assert_eq!(ctl(&mut c, "POST", "reset", Json::Null).status, 200);
    assert!(s.violations().is_empty() && s.requests().is_empty());
    assert_eq!(s.state()["repos"], json!([]));
    // The same from Rust.
    s.seed_repo("acme", "app");
    Client::new(&s).send("GET", &format!("{API}/repos/acme/other"), &[], b"");
    assert_eq!(s.requests().len(), 1);
    s.reset();
    assert!(s.requests().is_empty() && s.state()["repos"] == json!([]));
}

#[test]
fn every_operation_answers_within_the_contract() {
    let s = standin();
    s.seed_team("acme", "releasers", &["ann", "bob"]);
    let run = s
        .seed_run("acme", "app", "release.yml", "v1", Some("success"))
        .unwrap();
    let mut c = Client::new(&s);
    let repo = format!("{API}/repos/acme/app");
    let mut check = |method: &str, url: String, body: Json, status: u16| -> Json {
        let a = c.json(method, &url, body);
        assert_eq!(
            a.status,
            status,
            "{method} {url}: {}",
            String::from_utf8_lossy(&a.body)
        );
        a.json()
    };
    check("GET", repo.clone(), Json::Null, 200);
    let rel = check(
        "POST",
        format!("{repo}/releases"),
        json!({
        "tag_name": "v1", "target_commitish": "main", "name": "One", "body": "b", "draft": false,
        "prerelease": false, "generate_release_notes": false, "make_latest": "true"}),
        201,
    );
    let id = rel["id"].as_u64().unwrap();
    check(
        "POST",
        format!("{repo}/releases"),
        json!({"tag_name": "v0", "generate_release_notes": true}),
        201,
    );
    check("GET", format!("{repo}/releases/{id}"), Json::Null, 200);
    check(
        "DELETE",
        format!("{repo}/releases/assets/1"),
        Json::Null,
        404,
    );
    check("GET", format!("{repo}/releases/tags/v1"), Json::Null, 200);
    check("GET", format!("{repo}/releases/latest"), Json::Null, 200);
    check(
        "PATCH",
        format!("{repo}/releases/{id}"),
        json!({"name": "Uno", "make_latest": "legacy", "prerelease": false}),
        200,
    );
    check(
        "GET",
        format!("{repo}/actions/workflows/release.yml"),
        Json::Null,
        200,
    );
    check("GET", format!("{repo}/actions/workflows/release.yml/runs?status=success&event=push&actor=standin-bot&per_page=100&page=1&exclude_pull_requests=false"), Json::Null, 200);
    check(
        "GET",
        format!("{repo}/actions/runs/{run}?exclude_pull_requests=true"),
        Json::Null,
        200,
    );

    let issue = check(
        "POST",
        format!("{repo}/issues"),
        json!({
        "title": "Release v1", "body": "tracking", "labels": ["release", {"name": "automation"}],
        "assignees": ["ann"], "milestone": null}),
        201,
    );
    let n = issue["number"].as_u64().unwrap();
    assert_eq!(issue["labels"][1]["name"], "automation");
    let labels = check(
        "POST",
        format!("{repo}/issues/{n}/labels"),
        json!({"labels": ["release", "v1"]}),
        200,
    );
    assert_eq!(labels.as_array().unwrap().len(), 3);
    check("POST", format!("{repo}/issues"), json!({"title": 7}), 201);
    check("POST", format!("{repo}/issues"), json!({"title": " "}), 422);
    let assigned = check(
        "POST",
        format!("{repo}/issues/{n}/assignees"),
        json!({"assignees": ["bob", "ann"]}),
        201,
    );
    assert_eq!(assigned["assignees"].as_array().unwrap().len(), 2);
    let listed = check(
        "GET",
        format!("{repo}/issues?state=all&labels=release,v1&per_page=100"),
        Json::Null,
        200,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["number"], n);
    let closed = check(
        "PATCH",
        format!("{repo}/issues/{n}"),
        json!({"state": "closed", "state_reason": "completed"}),
        200,
    );
    assert_eq!(closed["state"], "closed");
    let open = check(
        "GET",
        format!("{repo}/issues?labels=release"),
        Json::Null,
        200,
    );
    assert!(open.as_array().unwrap().is_empty());
    check(
        "PATCH",
        format!("{repo}/issues/{n}"),
        json!({"state": "open"}),
        200,
    );

    let pr = check(
        "POST",
        format!("{repo}/pulls"),
        json!({
        "title": "Release v1", "head": "release/v1", "base": "main", "body": "b", "draft": true,
        "maintainer_can_modify": true}),
        201,
    );
    let p = pr["number"].as_u64().unwrap();
    assert_eq!(p, n + 2, "issues and pull requests share numbers");
    check(
        "POST",
        format!("{repo}/pulls"),
        json!({"title": "again", "head": "release/v1", "base": "main"}),
        422,
    );
    check(
        "POST",
        format!("{repo}/pulls"),
        json!({"title": "same", "head": "main", "base": "main"}),
        422,
    );
    check(
        "POST",
        format!("{repo}/pulls"),
        json!({"head": "acme:feature", "base": "main", "issue": n}),
        201,
    );
    let got = check("GET", format!("{repo}/pulls/{p}"), Json::Null, 200);
    assert_eq!(got["head"]["ref"], "release/v1");
    assert_eq!(got["draft"], true);
    let reviewed = check(
        "POST",
        format!("{repo}/pulls/{p}/requested_reviewers"),
        json!({"reviewers": ["ann"], "team_reviewers": ["releasers"]}),
        201,
    );
    assert_eq!(reviewed["requested_reviewers"][0]["login"], "ann");
    assert_eq!(reviewed["requested_teams"][0]["slug"], "releasers");
    check(
        "POST",
        format!("{repo}/pulls/{p}/requested_reviewers"),
        json!({"reviewers": ["standin-bot"]}),
        422,
    );
    check(
        "POST",
        format!("{repo}/pulls/999/requested_reviewers"),
        json!({"reviewers": ["ann"]}),
        404,
    );
    check("GET", format!("{repo}/pulls/{n}"), Json::Null, 200);
    check("GET", format!("{repo}/pulls/1000"), Json::Null, 404);

    // The release PR's operations: list by head, update, comment, close; a merge (control API)
    // shows as merged with its merge commit; a closed PR's head may get a new PR.
    let listed = check(
        "GET",
        format!("{repo}/pulls?state=open&head=acme:release/v1&base=main&per_page=100"),
        Json::Null,
        200,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["number"], p);
    let updated = check(
        "PATCH",
        format!("{repo}/pulls/{p}"),
        json!({"title": "chore(release): 1.1.0", "body": "new body"}),
        200,
    );
    assert_eq!(updated["title"], "chore(release): 1.1.0");
    assert_eq!(updated["body"], "new body");
    check(
        "PATCH",
        format!("{repo}/pulls/{p}"),
        json!({"title": " "}),
        422,
    );
    check("PATCH", format!("{repo}/pulls/999"), json!({}), 404);
    let comment = check(
        "POST",
        format!("{repo}/issues/{p}/comments"),
        json!({"body": "nothing to release"}),
        201,
    );
    assert_eq!(comment["body"], "nothing to release");
    check(
        "POST",
        format!("{repo}/issues/999/comments"),
        json!({"body": "x"}),
        404,
    );
    let closed = check(
        "PATCH",
        format!("{repo}/pulls/{p}"),
        json!({"state": "closed"}),
        200,
    );
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["comments"], 1);
    let open = check(
        "GET",
        format!("{repo}/pulls?head=acme:release/v1"),
        Json::Null,
        200,
    );
    assert_eq!(open, json!([]), "closed PRs are not listed by default");
    let again = check(
        "POST",
        format!("{repo}/pulls"),
        json!({"title": "again", "head": "release/v1", "base": "main"}),
        201,
    );
    let q = again["number"].as_u64().unwrap();
    s.merge_pull("acme", "app", q, "0123456789abcdef0123456789abcdef01234567")
        .unwrap();
    assert!(s.merge_pull("acme", "app", q, "00").is_err(), "merged once");
    let all = check(
        "GET",
        format!("{repo}/pulls?state=all&head=acme:release/v1&direction=desc"),
        Json::Null,
        200,
    );
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["number"], q, "newest first");
    assert_eq!(
        all[0]["merge_commit_sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert!(all[0]["merged_at"].is_string());
    assert!(all[1]["merged_at"].is_null());
    check(
        "PATCH",
        format!("{repo}/pulls/{q}"),
        json!({"state": "open"}),
        422,
    );

    // Deployments: created for a tag, then given statuses; a success supersedes the earlier
    // successful deployment to the same (non-production) environment.
    let first = check(
        "POST",
        format!("{repo}/deployments"),
        json!({"ref": "v1", "environment": "staging", "auto_merge": false, "required_contexts": [],
               "task": "deploy", "description": "slipway: deploy v1",
               "payload": {"digest": "sha256:ab"}}),
        201,
    );
    assert_eq!(first["environment"], "staging");
    assert_eq!(first["production_environment"], false);
    assert_eq!(first["payload"]["digest"], "sha256:ab");
    let first_id = first["id"].as_u64().unwrap();
    let status = check(
        "POST",
        format!("{repo}/deployments/{first_id}/statuses"),
        json!({"state": "success", "description": "deployed v1 in 2s"}),
        201,
    );
    assert_eq!(status["environment"], "staging");
    assert_eq!(status["state"], "success");
    let second = check(
        "POST",
        format!("{repo}/deployments"),
        json!({"ref": "main", "payload": "{\"a\": 1}", "environment": "staging",
               "transient_environment": false, "production_environment": false}),
        201,
    );
    assert_eq!(second["payload"]["a"], 1);
    let second_id = second["id"].as_u64().unwrap();
    check(
        "POST",
        format!("{repo}/deployments/{second_id}/statuses"),
        json!({"state": "success", "log_url": "https://ci.example/1", "environment_url": "https://staging.example/",
               "auto_inactive": true}),
        201,
    );
    let prod = check(
        "POST",
        format!("{repo}/deployments"),
        json!({"ref": "v1"}),
        201,
    );
    assert_eq!(prod["environment"], "production");
    assert_eq!(prod["production_environment"], true);
    let prod_id = prod["id"].as_u64().unwrap();
    check(
        "POST",
        format!("{repo}/deployments/{prod_id}/statuses"),
        json!({"state": "failure", "description": "the deploy script exited with status 3"}),
        201,
    );
    check(
        "POST",
        format!("{repo}/deployments/{prod_id}/statuses"),
        json!({"state": "error", "description": "x".repeat(141)}),
        422,
    );
    check(
        "POST",
        format!("{repo}/deployments"),
        json!({"ref": " "}),
        422,
    );
    check(
        "POST",
        format!("{repo}/deployments/999/statuses"),
        json!({"state": "success"}),
        404,
    );
    // Check runs and the combined status of a commit (seeded through the control API).
    let sha = "b".repeat(40);
    s.seed_check(&slipway_rig_check_seed(
        &sha,
        "check",
        "test",
        Some("success"),
    ))
    .unwrap();
    s.seed_check(&slipway_rig_check_seed(
        &sha,
        "status",
        "ci/x",
        Some("pending"),
    ))
    .unwrap();
    let runs = check(
        "GET",
        format!("{repo}/commits/{sha}/check-runs?filter=all&per_page=100&page=1"),
        Json::Null,
        200,
    );
    assert_eq!(runs["check_runs"][0]["conclusion"], "success");
    let combined = check(
        "GET",
        format!("{repo}/commits/{sha}/status?per_page=100&page=1"),
        Json::Null,
        200,
    );
    assert_eq!(combined["state"], "pending");
    check(
        "GET",
        format!("{API}/repos/acme/none/commits/{sha}/status"),
        Json::Null,
        404,
    );

    let state = s.state();
    let deployments = state["repos"][0]["deployments"].as_array().unwrap().clone();
    let states = |i: usize| -> Vec<String> {
        deployments[i]["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        states(0),
        ["success", "inactive"],
        "superseded by the second"
    );
    assert_eq!(states(1), ["success"]);
    assert_eq!(states(2), ["failure"]);

    let members = check(
        "GET",
        format!("{API}/orgs/acme/teams/releasers/members?role=all&per_page=1"),
        Json::Null,
        200,
    );
    assert_eq!(members.as_array().unwrap().len(), 1);
    check(
        "GET",
        format!("{API}/orgs/acme/teams/nobody/members"),
        Json::Null,
        404,
    );
    assert_clean(&s);
    // Every operation of the description was exercised.
    let spec = openapi::Spec::load(&spec_path()).unwrap();
    let used: std::collections::BTreeSet<String> = s
        .exchanges()
        .into_iter()
        .filter_map(|e| e.operation)
        .collect();
    for op in spec.operations() {
        if op.id != "repos/upload-release-asset" && !NOT_YET_IMPLEMENTED.contains(&op.id.as_str()) {
            assert!(used.contains(&op.id), "{} not exercised", op.id);
        }
    }
}

/// Every operation of the contract either is implemented (and exercised above, answering within
/// the contract) or is in [`NOT_YET_IMPLEMENTED`] and answers 501 with a GitHub error naming it.
#[test]
fn operations_no_command_uses_yet_answer_501_naming_them() {
    let s = standin();
    let spec = openapi::Spec::load(&spec_path()).unwrap();
    let ids: Vec<&str> = spec.operations().iter().map(|o| o.id.as_str()).collect();
    for id in NOT_YET_IMPLEMENTED {
        assert!(
            ids.contains(id),
            "{id} is listed but is no operation of the contract"
        );
    }
    let sample = |param: &str| match param {
        "owner" | "org" => "acme",
        "repo" => "app",
        "workflow_id" => "release.yml",
        "ref" => "main",
        "name" => "bug",
        "subject_digest" => {
            "sha256:0000000000000000000000000000000000000000000000000000000000000000"
        }
        _ => "1", // release_id, asset_id, issue_number, pull_number, deployment_id
    };
    let body = |id: &str| match id {
        "issues/create-comment" => json!({"body": "b"}),
        "actions/create-workflow-dispatch" => json!({"ref": "main"}),
        "repos/create-attestation" => {
            json!({"bundle": {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}})
        }
        "issues/create-label" => json!({"name": "bug"}),
        "repos/create-deployment" => json!({"ref": "main"}),
        "repos/create-deployment-status" => json!({"state": "success"}),
        _ => Json::Null,
    };
    let mut c = Client::new(&s);
    for op in spec.operations() {
        if !NOT_YET_IMPLEMENTED.contains(&op.id.as_str()) {
            continue;
        }
        let mut path = String::new();
        for part in op.template.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(param) => path.push_str(sample(param)),
                None => path.push_str(part),
            }
        }
        let b = body(&op.id);
        let b = if b.is_null() && matches!(op.method.as_str(), "POST" | "PATCH") {
            json!({})
        } else {
            b
        };
        let a = c.json(&op.method, &format!("{API}{path}"), b);
        assert_eq!(
            a.status,
            501,
            "{} {path}: {}",
            op.method,
            String::from_utf8_lossy(&a.body)
        );
        let msg = a.json()["message"].as_str().unwrap_or("").to_string();
        assert!(msg.contains(&op.id), "{}: {msg}", op.id);
    }
    assert_clean(&s);
}

#[test]
fn response_self_check_catches_standin_bugs() {
    let s = standin();
    let op = s
        .shared
        .spec
        .operation("POST", "/repos/{owner}/{repo}/releases")
        .unwrap()
        .clone();
    let req = http::Request {
        method: "POST".into(),
        version: "HTTP/1.1".into(),
        headers: vec![],
        body: vec![],
        host: None,
        path: "/repos/acme/app/releases".into(),
        query: String::new(),
    };
    // A release without upload_url and with a string id, as a buggy stand-in might send it.
    let mut bad = json!({"tag_name": "v1"});
    bad["id"] = json!("12");
    let reply = Reply {
        status: 201,
        body: bad,
        headers: vec![],
    };
    let mut inner = s.shared.lock();
    s.shared.finish(&mut inner, &req, Some(&op), reply);
    // And a status the operation does not declare.
    let reply = Reply {
        status: 200,
        body: json!({}),
        headers: vec![],
    };
    s.shared.finish(&mut inner, &req, Some(&op), reply);
    drop(inner);
    let v = s.violations();
    assert!(
        v.iter().all(|m| m.starts_with("stand-in bug: response ")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("response.id: expected integer, got string \"12\"")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("missing required property \"upload_url\"")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains("status 200 is not a response of repos/create-release")),
        "{v:#?}"
    );
}

#[test]
fn listens_on_loopback_only() {
    let err = Standin::start_on("0.0.0.0:0", &spec_path()).err().unwrap();
    assert!(format!("{err:#}").contains("only listens on loopback"));
    assert!(Standin::start_on("localhost:0", &spec_path()).is_err());
    let s = Standin::start_on("127.0.0.1:0", &spec_path()).unwrap();
    let addr = s.addr;
    s.stop();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500))
            .and_then(|mut t| {
                t.set_read_timeout(Some(Duration::from_millis(500)))?;
                t.write_all(b"GET /_standin/health HTTP/1.1\r\n\r\n")?;
                let mut buf = [0u8; 1];
                t.read(&mut buf)
            })
            .map_or(true, |n| n == 0)
    );
}

#[test]
fn gh_env_points_gh_at_the_standin() {
    let s = standin();
    let env = s.gh_env(Path::new("/tmp/cfg"));
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("GH_HOST"), Some("github.localhost"));
    assert_eq!(get("HTTPS_PROXY"), Some(s.url().as_str()));
    assert_eq!(get("HTTP_PROXY"), Some(s.url().as_str()));
    assert_eq!(get("NO_PROXY"), Some(""));
    assert_eq!(get("GH_CONFIG_DIR"), Some("/tmp/cfg"));
    assert_eq!(get("GH_PROMPT_DISABLED"), Some("1"));
    assert_eq!(get("GH_NO_UPDATE_NOTIFIER"), Some("1"));
    assert!(get("GH_TOKEN").is_some_and(|t| !t.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// End to end: the real gh binary.

fn gh_installed() -> bool {
    let ok = process::succeeds(&Process::new("gh", Path::new("/")).args(["--version"]));
    if !ok {
        // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED: `gh` is not installed, so the end-to-end GitHub tests did not run.\n\
             !!! Install it (apt-get install gh); CI must have it.\n"
        );
    }
    ok
}

struct GhOut {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl GhOut {
    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "gh printed no JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs gh against the stand-in (never anything else: its environment only knows the proxy).
fn gh(s: &Standin, dir: &Path, args: &[&str]) -> GhOut {
    let config = dir.join("gh-config");
    std::fs::create_dir_all(&config).unwrap();
    let mut p = Process::new("gh", dir).args(args.iter().copied());
    for k in [
        "GITHUB_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "GH_REPO",
        "GH_DEBUG",
        "ALL_PROXY",
        "all_proxy",
    ] {
        p = p.env_removed(k);
    }
    for (k, v) in s.gh_env(&config) {
        let v = if k.ends_with("TOKEN") {
            Val::Secret(v)
        } else {
            Val::Plain(v)
        };
        p = p.env(&k, v);
    }
    let out = process::output_within(&p, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e:#}; gh {args:?}: requests: {:#?}", s.requests()));
    GhOut {
        ok: out.ok,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

#[test]
fn gh_api_creates_a_release_uploads_and_reads_back() {
    if !gh_installed() {
        return;
    }
    let s = standin();
    let dir = tempfile::tempdir().unwrap();
    let out = gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            "repos/acme/app/releases",
            "-f",
            "tag_name=v1.2.3",
            "-f",
            "name=v1.2.3",
            "-f",
            "body=Release notes",
            "-f",
            "target_commitish=main",
            "-F",
            "draft=false",
            "-F",
            "prerelease=false",
        ],
    );
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let rel = out.json();
    let id = rel["id"].as_u64().unwrap();
    let upload_url = rel["upload_url"].as_str().unwrap();
    assert!(
        upload_url.starts_with("http://uploads.github.localhost/"),
        "{upload_url}"
    );

    // Upload through the upload_url the API returned, as the tool does.
    let asset = dir.path().join("app-1.2.3.tar.gz");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&asset, &data).unwrap();
    let target = format!(
        "{}?name=app-1.2.3.tar.gz",
        upload_url.split('{').next().unwrap()
    );
    let out = gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            &target,
            "--input",
            asset.to_str().unwrap(),
            "-H",
            "Content-Type: application/gzip",
        ],
    );
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["state"], "uploaded");

    // Read it back.
    let out = gh(
        &s,
        dir.path(),
        &["api", "repos/acme/app/releases/tags/v1.2.3"],
    );
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let got = out.json();
    assert_eq!(got["id"].as_u64(), Some(id));
    assert_eq!(got["body"], "Release notes");
    assert_eq!(got["assets"][0]["name"], "app-1.2.3.tar.gz");
    assert_eq!(got["assets"][0]["size"], data.len());
    assert_eq!(got["assets"][0]["content_type"], "application/gzip");
    assert_eq!(
        got["assets"][0]["digest"],
        format!("sha256:{}", sha256_hex(&data))
    );
    assert_eq!(
        s.asset_bytes("acme", "app", "v1.2.3", "app-1.2.3.tar.gz"),
        Some(data)
    );
    let out = gh(
        &s,
        dir.path(),
        &["api", "repos/acme/app/releases/latest", "--jq", ".tag_name"],
    );
    assert_eq!(out.stdout.trim(), "v1.2.3");

    // A second release with the same tag: gh exits non-zero with GitHub's 422 body.
    let out = gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            "repos/acme/app/releases",
            "-f",
            "tag_name=v1.2.3",
        ],
    );
    assert!(!out.ok);
    assert!(
        out.stdout.contains("already_exists"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("HTTP 422"), "{}", out.stderr);

    assert_clean(&s);
    let log = s.requests();
    assert_eq!(log.len(), 5, "{log:#?}");
    assert!(
        log[1].starts_with("POST uploads.github.localhost/repos/acme/app/releases/"),
        "{log:#?}"
    );
}

#[test]
fn gh_requests_outside_the_contract_are_violations() {
    if !gh_installed() {
        return;
    }
    let s = standin();
    let dir = tempfile::tempdir().unwrap();
    let out = gh(&s, dir.path(), &["api", "repos/acme/app/collaborators"]);
    assert!(
        !out.ok,
        "GitHub would not have answered this from the contract"
    );
    let v = s.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].contains("GET /repos/acme/app/collaborators: no operation in the API description"),
        "{v:#?}"
    );

    // A body field the operation does not declare, and a wrong type.
    let out = gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            "repos/acme/app/releases",
            "-f",
            "tag_name=v1",
            "-f",
            "draft=false",
        ],
    );
    assert!(!out.ok);
    let v = s.violations();
    assert!(
        v[1].contains("body.draft: expected boolean, got string \"false\""),
        "{v:#?}"
    );
    assert_eq!(v.len(), 2, "{v:#?}");
    // An upload sent to the API host instead of the release's upload_url.
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "hello").unwrap();
    gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            "repos/acme/app/releases/1/assets?name=a.txt",
            "--input",
            file.to_str().unwrap(),
        ],
    );
    let v = s.violations();
    assert!(v[2].contains("served from the `uploads.` host"), "{v:#?}");
    assert_eq!(s.state()["repos"][0]["releases"], json!([]));
}

#[test]
fn gh_release_create_and_run_list_stay_within_rest() {
    if !gh_installed() {
        return;
    }
    let s = standin();
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, "## Changed\n- things\n").unwrap();
    let asset = dir.path().join("app.whl");
    std::fs::write(&asset, b"PK\x03\x04wheel").unwrap();
    // With assets, gh checks the tag (HEAD), creates a draft, uploads, then publishes (PATCH).
    let out = gh(
        &s,
        dir.path(),
        &[
            "release",
            "create",
            "v2.0.0",
            asset.to_str().unwrap(),
            "--repo",
            "acme/app",
            "--title",
            "v2.0.0",
            "--notes-file",
            notes.to_str().unwrap(),
        ],
    );
    assert!(
        out.ok,
        "{}\n{}\n{:#?}",
        out.stdout,
        out.stderr,
        s.requests()
    );
    assert_eq!(
        out.stdout.trim(),
        "http://github.localhost/acme/app/releases/tag/v2.0.0"
    );
    let ops: Vec<String> = s
        .exchanges()
        .iter()
        .map(|e| format!("{} {}", e.method, e.operation.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        ops,
        [
            "HEAD repos/get-release-by-tag",
            "POST repos/create-release",
            "POST repos/upload-release-asset",
            "PATCH repos/update-release",
        ]
    );
    let state = s.state();
    let rel = &state["repos"][0]["releases"][0];
    assert_eq!(rel["draft"], false);
    assert_eq!(rel["body"], "## Changed\n- things\n");
    assert_eq!(rel["assets"][0]["name"], "app.whl");
    // The same tag again: gh refuses after its HEAD check, nothing is created.
    let out = gh(
        &s,
        dir.path(),
        &[
            "release",
            "create",
            "v2.0.0",
            asset.to_str().unwrap(),
            "--repo",
            "acme/app",
            "--notes",
            "x",
        ],
    );
    assert!(!out.ok);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);

    s.seed_run("acme", "app", "release.yml", "v2.0.0", Some("failure"))
        .unwrap();
    let latest = s
        .seed_run("acme", "app", "release.yml", "v2.0.0", Some("success"))
        .unwrap();
    s.seed_run("acme", "app", "release.yml", "v1.0.0", Some("success"))
        .unwrap();
    let out = gh(
        &s,
        dir.path(),
        &[
            "run",
            "list",
            "--repo",
            "acme/app",
            "--workflow",
            "release.yml",
            "--branch",
            "v2.0.0",
            "--json",
            "conclusion,databaseId,status,headBranch",
        ],
    );
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let runs = out.json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(
        runs[0],
        json!({"conclusion": "success", "databaseId": latest, "status": "completed", "headBranch": "v2.0.0"})
    );
    assert_eq!(runs[1]["conclusion"], "failure");
    assert_clean(&s);
}

#[test]
fn gh_release_view_goes_through_graphql() {
    if !gh_installed() {
        return;
    }
    let s = standin();
    let dir = tempfile::tempdir().unwrap();
    gh(
        &s,
        dir.path(),
        &[
            "api",
            "-X",
            "POST",
            "repos/acme/app/releases",
            "-f",
            "tag_name=v1",
            "-F",
            "draft=true",
        ],
    );
    assert_clean(&s);
    // gh 2.23 looks a release up through REST (`releases/tags/{tag}`) and GraphQL in parallel
    // and takes the first answer; only GraphQL sees drafts, so for a draft (the usual
    // create-draft → upload → publish flow) the GraphQL call is always made, and it is outside
    // the REST contract. Use `gh api` with `releases/{release_id}` instead.
    let out = gh(
        &s,
        dir.path(),
        &[
            "release", "view", "v1", "--repo", "acme/app", "--json", "tagName",
        ],
    );
    assert!(!out.ok);
    let v = s.violations();
    assert!(
        v.iter().any(|m| m.contains("POST /graphql: no operation")),
        "{v:#?}\n{:#?}",
        s.requests()
    );
}

#[test]
fn check_runs_and_statuses_of_a_commit() {
    let s = standin();
    let mut c = Client::new(&s);
    let sha = "a".repeat(40);
    let repo = format!("{API}/repos/acme/app");
    let ctl = |c: &mut Client, body: Json| c.json("POST", "/_standin/checks", body);
    // Nothing yet: no check runs; the combined status is `pending` with no statuses (GitHub's).
    let none = c.json(
        "GET",
        &format!("{repo}/commits/{sha}/check-runs"),
        Json::Null,
    );
    assert_eq!(none.status, 200);
    assert_eq!(none.json()["total_count"], 0);
    let combined = c
        .json("GET", &format!("{repo}/commits/{sha}/status"), Json::Null)
        .json();
    assert_eq!(combined["state"], "pending");
    assert_eq!(combined["total_count"], 0);

    for (name, conclusion) in [
        ("test", "success"),
        ("lint", "failure"),
        ("docs", "skipped"),
    ] {
        let a = ctl(
            &mut c,
            json!({"owner": "acme", "repo": "app", "sha": sha, "name": name, "conclusion": conclusion,
                   "url": format!("https://ci.example/{name}")}),
        );
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let pending = ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": sha, "name": "slow", "status": "queued"}),
    );
    assert_eq!(pending.status, 201);
    // Pages: per_page=3 → 3 + 1, with a Link to the next page on the first.
    let p1 = c.json(
        "GET",
        &format!("{repo}/commits/{sha}/check-runs?per_page=3&page=1&filter=latest"),
        Json::Null,
    );
    assert_eq!(p1.json()["total_count"], 4);
    assert_eq!(p1.json()["check_runs"].as_array().unwrap().len(), 3);
    assert!(
        p1.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("link") && v.contains("page=2")),
        "{:?}",
        p1.headers
    );
    let p2 = c
        .json(
            "GET",
            &format!("{repo}/commits/{sha}/check-runs?per_page=3&page=2"),
            Json::Null,
        )
        .json();
    assert_eq!(p2["check_runs"][0]["name"], "slow");
    assert_eq!(p2["check_runs"][0]["status"], "queued");
    assert_eq!(p2["check_runs"][0]["conclusion"], Json::Null);
    // Changed later: the same name completes.
    ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": sha, "name": "slow", "conclusion": "success"}),
    );
    let named = c
        .json(
            "GET",
            &format!("{repo}/commits/{sha}/check-runs?check_name=slow"),
            Json::Null,
        )
        .json();
    assert_eq!(named["total_count"], 1);
    assert_eq!(named["check_runs"][0]["conclusion"], "success");
    assert_eq!(named["check_runs"][0]["status"], "completed");

    // Statuses: one per context; failure wins, then pending, else success.
    for (context, state) in [("ci/a", "success"), ("ci/b", "pending")] {
        let a = ctl(
            &mut c,
            json!({"owner": "acme", "repo": "app", "sha": sha, "kind": "status", "name": context,
                   "status": state, "url": "https://ci.example/s"}),
        );
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let st = |c: &mut Client| {
        c.json(
            "GET",
            &format!("{repo}/commits/{sha}/status?per_page=100"),
            Json::Null,
        )
        .json()
    };
    assert_eq!(st(&mut c)["state"], "pending");
    assert_eq!(st(&mut c)["total_count"], 2);
    ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": sha, "kind": "status", "name": "ci/b", "status": "success"}),
    );
    assert_eq!(st(&mut c)["state"], "success");
    ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": sha, "kind": "status", "name": "ci/c", "status": "error"}),
    );
    assert_eq!(st(&mut c)["state"], "failure");

    // Bad seeds are refused by the control API, naming the field.
    let bad = ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": "nope", "name": "x"}),
    );
    assert_eq!(bad.status, 400, "{}", String::from_utf8_lossy(&bad.body));
    let bad = ctl(
        &mut c,
        json!({"owner": "acme", "repo": "app", "sha": sha, "name": "x", "conclusion": "green"}),
    );
    assert_eq!(bad.status, 400);
    assert_clean(&s);
}

#[test]
fn seeded_tokens_send_their_expiry_and_permissions() {
    let s = standin();
    let mut c = Client::new(&s);
    let get = |c: &mut Client| c.send("GET", &format!("{API}/repos/acme/app"), &[], b"");
    // Unseeded (the client's token is `t`): no expiry header, every permission.
    let a = get(&mut c);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("github-authentication-token-expiration"), None);
    assert_eq!(a.json()["permissions"]["push"], true);
    let seeded = c.json(
        "POST",
        "/_standin/tokens",
        json!({"token": "t", "expires": "2026-12-20 10:00:00 UTC", "permissions": {"push": false, "admin": false}}),
    );
    assert_eq!(seeded.status, 201);
    let a = get(&mut c);
    assert_eq!(
        a.header("github-authentication-token-expiration"),
        Some("2026-12-20 10:00:00 UTC")
    );
    let p = &a.json()["permissions"];
    assert_eq!(
        (p["push"].clone(), p["admin"].clone(), p["pull"].clone()),
        (json!(false), json!(false), json!(true))
    );
    // Every answer carries the header, not only repos/get's.
    let a = c.send(
        "GET",
        &format!("{API}/repos/acme/app/releases/latest"),
        &[],
        b"",
    );
    assert_eq!(a.status, 404);
    assert!(a.header("github-authentication-token-expiration").is_some());
    assert_eq!(
        c.json(
            "POST",
            "/_standin/tokens",
            json!({"token": "t", "permissions": [1]})
        )
        .status,
        400
    );
    assert_clean(&s);
}
