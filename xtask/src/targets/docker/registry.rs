//! A small client for the Docker Registry HTTP API v2: which digest does a tag resolve to, which
//! platforms does an index list; and, for promotion and rollback, the writes that copy an image
//! by digest: blob mount or streamed copy, manifest put. Handles the two auth flows registries use:
//! HTTP Basic, and a Bearer token fetched from the realm a 401 names (ghcr.io, Docker Hub, ECR).
//!
//! Loopback registries (localhost, 127.0.0.0/8, [::1]) are spoken to over plain HTTP, as docker
//! itself does; everything else over HTTPS.

use crate::run::net::is_loopback;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value as Json;

use crate::run::ui;

/// Media types a tag may resolve to; sent as `Accept` so the registry returns the stored manifest
/// (without it, some registries convert and the digest differs).
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// `host[:port]/path` split into the registry and the repository path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub registry: String,
    pub path: String,
}

impl Repo {
    /// `ghcr.io/acme/app` → (ghcr.io, acme/app); `acme/app` → (docker.io, acme/app);
    /// `app` → (docker.io, library/app).
    pub fn parse(s: &str) -> Repo {
        match s.split_once('/') {
            Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => Repo {
                registry: host.to_string(),
                path: rest.to_string(),
            },
            _ if s.contains('/') => Repo {
                registry: "docker.io".into(),
                path: s.into(),
            },
            _ => Repo {
                registry: "docker.io".into(),
                path: format!("library/{s}"),
            },
        }
    }

    /// The name docker uses (`docker push <name>:<tag>`).
    pub fn docker_name(&self) -> String {
        if self.registry == "docker.io" {
            self.path.trim_start_matches("library/").to_string()
        } else {
            format!("{}/{}", self.registry, self.path)
        }
    }
}

/// The base URL of a registry's API.
pub fn api_base(registry: &str) -> String {
    let host = if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    };
    let scheme = if is_loopback(registry) {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{host}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub media_type: String,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.media_type.contains("index") || self.media_type.contains("manifest.list")
    }
}

/// One platform entry of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    /// `linux/amd64`, `linux/arm64/v8`, or `unknown/unknown` (attestations).
    pub platform: String,
    pub digest: String,
}

/// Every request a client made while recording is on (`METHOD url`, secrets masked), in the
/// order they were answered: what `promote` reports it executed, to hold against its dry run.
/// A request answered by a challenge (401) and sent again counts once; token fetches are not
/// registry API requests and are left out.
static LOG: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Starts recording requests (clears what was recorded).
pub fn record_requests() {
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
}

/// Stops recording; returns what was recorded.
pub fn recorded_requests() -> Vec<String> {
    LOG.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default()
}

fn log_request(method: &str, url: &str) {
    if let Some(list) = LOG.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        list.push(format!("{method} {}", ui::redact(url)));
    }
}

/// The last Authorization header each registry accepted, per user: a new client starts with it,
/// so the calls of one run (a client each) answer the challenge once, not once per call (a
/// token fetch each, on ghcr.io or Docker Hub). A header that no longer suffices (a token
/// scoped to another repository) is answered by a 401, and the challenge is answered again.
static AUTH: std::sync::Mutex<Vec<(String, String, String)>> = std::sync::Mutex::new(Vec::new());

fn remembered_auth(registry: &str, user: Option<&str>) -> Option<String> {
    let user = user.unwrap_or_default();
    AUTH.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(r, u, _)| r == registry && u == user)
        .map(|(_, _, a)| a.clone())
}

fn remember_auth(registry: &str, user: Option<&str>, auth: &str) {
    let user = user.unwrap_or_default().to_string();
    let mut list = AUTH.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|(r, u, _)| !(r == registry && *u == user));
    list.push((registry.to_string(), user, auth.to_string()));
}

/// A request body.
enum Payload<'a> {
    None,
    /// Bytes and their Content-Type (a manifest).
    Bytes(&'a [u8], &'a str),
    /// A stream of known length (a blob read from another registry).
    Stream(&'a mut dyn std::io::Read, u64),
}

/// A response header's value, parameters (`; charset=…`) left out.
fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
}

pub struct Client {
    agent: ureq::Agent,
    registry: String,
    base: String,
    user: Option<String>,
    password: Option<String>,
    /// Authorization header value once a challenge was answered.
    auth: Option<String>,
}

impl Client {
    pub fn new(registry: &str, credentials: Option<(&str, &str)>) -> Client {
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent("slipway");
        if is_loopback(registry) {
            // A proxy set for other tools (e.g. gh in tests) must not capture loopback registries.
            cfg = cfg.proxy(None);
        }
        if let Some((_, p)) = credentials {
            ui::register_secret(p);
        }
        Client {
            agent: cfg.build().into(),
            registry: registry.to_string(),
            base: api_base(registry),
            user: credentials.map(|(u, _)| u.to_string()),
            password: credentials.map(|(_, p)| p.to_string()),
            auth: remembered_auth(registry, credentials.map(|(u, _)| u)),
        }
    }

    /// Tries the credentials: `GET /v2/`, a challenge answered (for `path`'s scope). `Ok(true)`:
    /// let in; `Ok(false)`: refused (a wrong password, or credentials needed and none given);
    /// `Err`: no answer, or an answer that is neither.
    pub fn check_login(&mut self, path: &str) -> Result<bool> {
        let url = format!("{}/v2/", self.base);
        let resp = self.request("GET", &url)?;
        let status = resp.status().as_u16();
        if status != 401 {
            return match status {
                200 => Ok(true),
                403 => Ok(false),
                code => bail!(
                    "registry {} answered GET {url} with HTTP {code}",
                    self.registry
                ),
            };
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{url}: 401 without a WWW-Authenticate challenge"))?;
        if self.user.is_none() {
            return Ok(false);
        }
        let auth = match self.answer(&challenge, path) {
            Ok(a) => a,
            Err(e) if e.to_string() == self.denied() => return Ok(false),
            Err(e) => return Err(e),
        };
        self.auth = Some(auth.clone());
        match self.request("GET", &url)?.status().as_u16() {
            200 => {
                remember_auth(&self.registry, self.user.as_deref(), &auth);
                Ok(true)
            }
            401 | 403 => Ok(false),
            code => bail!(
                "registry {} answered GET {url} with HTTP {code}",
                self.registry
            ),
        }
    }

    /// Why [`Client::check_login`] was refused, naming the fix.
    pub fn refusal(&self) -> String {
        match &self.user {
            Some(_) => format!("wrong password for {}: {}", self.registry, self.denied()),
            None => self.denied(),
        }
    }

    /// What `<path>:<reference>` resolves to; `None` when the tag (or repository) does not exist.
    pub fn manifest(&mut self, path: &str, reference: &str) -> Result<Option<Manifest>> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let resp = self.send("HEAD", &url, path)?;
        match resp.status().as_u16() {
            200 => {
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
                };
                let digest = header("docker-content-digest").ok_or_else(|| {
                    anyhow!("{url}: the registry sent no Docker-Content-Digest header")
                })?;
                let media_type = header("content-type").unwrap_or_default();
                Ok(Some(Manifest { digest, media_type }))
            }
            404 => Ok(None),
            code => bail!("{url}: unexpected HTTP {code} from the registry"),
        }
    }

    /// What `<path>:<reference>` resolves to, with the manifest itself (to read an image
    /// manifest's `config.digest`, the image ID); `None` when the tag does not exist.
    pub fn manifest_json(
        &mut self,
        path: &str,
        reference: &str,
    ) -> Result<Option<(Manifest, Json)>> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let mut resp = self.send("GET", &url, path)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            code => bail!("{url}: unexpected HTTP {code} from the registry"),
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
        };
        let digest = header("docker-content-digest")
            .ok_or_else(|| anyhow!("{url}: the registry sent no Docker-Content-Digest header"))?;
        let media_type = header("content-type").unwrap_or_default();
        let body = resp
            .body_mut()
            .read_to_string()
            .context("reading the manifest")?;
        let json: Json = serde_json::from_str(&body).with_context(|| format!("{url}: not JSON"))?;
        Ok(Some((Manifest { digest, media_type }, json)))
    }

    /// The platforms of an index (manifest list), in the registry's order.
    pub fn platforms(&mut self, path: &str, reference: &str) -> Result<Vec<PlatformManifest>> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let mut resp = self.send("GET", &url, path)?;
        if resp.status().as_u16() != 200 {
            bail!("{url}: HTTP {} from the registry", resp.status().as_u16());
        }
        let body = resp
            .body_mut()
            .read_to_string()
            .context("reading the manifest")?;
        let json: Json = serde_json::from_str(&body).with_context(|| format!("{url}: not JSON"))?;
        Ok(parse_index(&json))
    }

    /// The manifest `<path>:<reference>` resolves to, as the exact text the registry stores (its
    /// sha256 is the digest); `None` when the tag (or repository) does not exist.
    pub fn manifest_raw(
        &mut self,
        path: &str,
        reference: &str,
    ) -> Result<Option<(Manifest, String)>> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let mut resp = self.send("GET", &url, path)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            code => bail!("{url}: unexpected HTTP {code} from the registry"),
        }
        let digest = header(&resp, "docker-content-digest")
            .ok_or_else(|| anyhow!("{url}: the registry sent no Docker-Content-Digest header"))?;
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .context("reading the manifest")?;
        Ok(Some((Manifest { digest, media_type }, body)))
    }

    /// Stores a manifest under `reference` (a tag, or its digest); returns the digest the
    /// registry computed.
    pub fn put_manifest(
        &mut self,
        path: &str,
        reference: &str,
        media_type: &str,
        body: &str,
    ) -> Result<String> {
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let resp = self.send_with(
            "PUT",
            &url,
            path,
            Payload::Bytes(body.as_bytes(), media_type),
        )?;
        match resp.status().as_u16() {
            200 | 201 => header(&resp, "docker-content-digest")
                .ok_or_else(|| anyhow!("{url}: the registry sent no Docker-Content-Digest header")),
            code => bail!("{}", self.refused("storing the manifest", &url, code, resp)),
        }
    }

    /// A small blob (an image config) as text; `None` when the repository does not hold it.
    pub fn blob_text(&mut self, path: &str, digest: &str) -> Result<Option<String>> {
        let url = format!("{}/v2/{path}/blobs/{digest}", self.base);
        let mut resp = self.send("GET", &url, path)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            code => bail!("{url}: unexpected HTTP {code} from the registry"),
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(4 << 20)
            .read_to_string()
            .context("reading the blob")?;
        Ok(Some(body))
    }

    /// Does the repository hold the blob?
    pub fn has_blob(&mut self, path: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{path}/blobs/{digest}", self.base);
        let resp = self.send("HEAD", &url, path)?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            code => bail!("{url}: unexpected HTTP {code} from the registry"),
        }
    }

    /// May this client push to `path`? Starts a blob upload (`POST …/blobs/uploads/`) and
    /// cancels it (`DELETE <location>`): nothing is stored. `Ok(Err(sentence))` when refused.
    pub fn can_push(&mut self, path: &str) -> Result<std::result::Result<(), String>> {
        let url = format!("{}/v2/{path}/blobs/uploads/", self.base);
        let resp = self.send_with("POST", &url, path, Payload::None)?;
        match resp.status().as_u16() {
            202 => {
                if let Some(location) = header(&resp, "location") {
                    let cancel = self.absolute(&location);
                    let _ = self.request("DELETE", &cancel);
                }
                Ok(Ok(()))
            }
            code => Ok(Err(self.refused("starting an upload", &url, code, resp))),
        }
    }

    /// Cross-repository mount on the same registry: `true` when the registry mounted the blob
    /// from `from`; `false` when it started an upload instead (which is cancelled).
    pub fn mount_blob(&mut self, path: &str, digest: &str, from: &str) -> Result<bool> {
        let url = format!(
            "{}/v2/{path}/blobs/uploads/?mount={digest}&from={from}",
            self.base
        );
        let resp = self.send_with("POST", &url, path, Payload::None)?;
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                if let Some(location) = header(&resp, "location") {
                    let cancel = self.absolute(&location);
                    let _ = self.request("DELETE", &cancel);
                }
                Ok(false)
            }
            code => bail!("{}", self.refused("mounting a blob", &url, code, resp)),
        }
    }

    /// Streams a blob from `src`'s repository `src_path` into this registry's `path`
    /// (a monolithic upload: `POST …/blobs/uploads/`, then `PUT <location>&digest=…`, which the
    /// registry refuses unless the bytes hash to `digest`). Returns the bytes copied.
    pub fn copy_blob_from(
        &mut self,
        src: &mut Client,
        src_path: &str,
        path: &str,
        digest: &str,
    ) -> Result<u64> {
        let get = format!("{}/v2/{src_path}/blobs/{digest}", src.base);
        let mut from = src.send("GET", &get, src_path)?;
        if from.status().as_u16() != 200 {
            bail!(
                "{get}: HTTP {} from registry {}",
                from.status().as_u16(),
                src.registry
            );
        }
        let len: u64 = header(&from, "content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("{get}: the registry sent no Content-Length"))?;
        let start = format!("{}/v2/{path}/blobs/uploads/", self.base);
        let resp = self.send_with("POST", &start, path, Payload::None)?;
        if resp.status().as_u16() != 202 {
            let code = resp.status().as_u16();
            bail!("{}", self.refused("starting an upload", &start, code, resp));
        }
        let location = header(&resp, "location")
            .ok_or_else(|| anyhow!("{start}: the registry sent no upload Location"))?;
        let mut put = self.absolute(&location);
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={digest}"));
        let mut reader = from.body_mut().as_reader();
        let resp = self.request_with("PUT", &put, Payload::Stream(&mut reader, len))?;
        match resp.status().as_u16() {
            201 => Ok(len),
            code => bail!("{}", self.refused("uploading a blob", &put, code, resp)),
        }
    }

    /// A Location header as an absolute URL (registries may send a path).
    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        }
    }

    /// The sentence for a refused write: the registry's own error text, credentials named.
    fn refused(
        &self,
        what: &str,
        url: &str,
        code: u16,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> String {
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        match code {
            401 | 403 => format!("{} ({what}: HTTP {code})", self.denied()),
            _ => format!(
                "registry {} refused {what} ({}): HTTP {code} {}",
                self.registry,
                ui::redact(url),
                ui::redact(text.trim())
            ),
        }
    }

    /// Sends a request, answering one 401 challenge (Basic or Bearer) with the credentials.
    fn send(
        &mut self,
        method: &str,
        url: &str,
        path: &str,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        self.send_with(method, url, path, Payload::None)
    }

    /// [`Client::send`] with a body (sent again after a challenge: bytes only, never a stream).
    fn send_with(
        &mut self,
        method: &str,
        url: &str,
        path: &str,
        payload: Payload<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let again = match &payload {
            Payload::None => Payload::None,
            Payload::Bytes(b, t) => Payload::Bytes(b, t),
            Payload::Stream(..) => return self.request_with(method, url, payload),
        };
        let resp = self.request_with(method, url, payload)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{url}: 401 without a WWW-Authenticate challenge"))?;
        let auth = self.answer(&challenge, path)?;
        remember_auth(&self.registry, self.user.as_deref(), &auth);
        self.auth = Some(auth);
        let resp = self.request_with(method, url, again)?;
        if resp.status().as_u16() == 401 {
            bail!("{}", self.denied());
        }
        Ok(resp)
    }

    fn request(&self, method: &str, url: &str) -> Result<ureq::http::Response<ureq::Body>> {
        self.request_with(method, url, Payload::None)
    }

    fn request_with(
        &self,
        method: &str,
        url: &str,
        payload: Payload<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let accept = MANIFEST_TYPES.join(", ");
        let result = crate::run::exec::timed(|| match method {
            "HEAD" | "GET" | "DELETE" => {
                let mut r = match method {
                    "HEAD" => self.agent.head(url),
                    "DELETE" => self.agent.delete(url),
                    _ => self.agent.get(url),
                }
                .header("Accept", &accept);
                if let Some(a) = &self.auth {
                    r = r.header("Authorization", a);
                }
                if method == "GET" && url.contains("/blobs/") {
                    // A blob streamed into another registry: the body may take long to read.
                    r = r
                        .config()
                        .timeout_global(Some(Duration::from_secs(3600)))
                        .build();
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "PUT" => self.agent.put(url),
                    "PATCH" => self.agent.patch(url),
                    _ => self.agent.post(url),
                };
                if let Some(a) = &self.auth {
                    r = r.header("Authorization", a);
                }
                match payload {
                    Payload::None => r.header("Content-Length", "0").send_empty(),
                    Payload::Bytes(bytes, content_type) => {
                        r.header("Content-Type", content_type).send(bytes)
                    }
                    Payload::Stream(reader, len) => r
                        .header("Content-Type", "application/octet-stream")
                        .header("Content-Length", len.to_string())
                        .config()
                        .timeout_global(Some(Duration::from_secs(3600)))
                        .build()
                        .send(ureq::SendBody::from_reader(reader)),
                }
            }
        });
        let resp = result.map_err(|e| {
            anyhow!(
                "registry {} is unreachable ({url}): {}; is it running, and is the address right?",
                self.registry,
                ui::redact(&e.to_string())
            )
        })?;
        if resp.status().as_u16() != 401 {
            log_request(method, url);
        }
        Ok(resp)
    }

    fn denied(&self) -> String {
        match &self.user {
            Some(u) => format!(
                "registry {} refused the credentials of `{u}`: check DOCKER_USERNAME/DOCKER_PASSWORD",
                self.registry
            ),
            None => format!(
                "registry {} needs credentials: set DOCKER_USERNAME and DOCKER_PASSWORD",
                self.registry
            ),
        }
    }

    /// The Authorization header for a challenge.
    fn answer(&self, challenge: &str, path: &str) -> Result<String> {
        let basic = match (&self.user, &self.password) {
            (Some(u), Some(p)) => Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
            _ => None,
        };
        let c = parse_challenge(challenge)
            .ok_or_else(|| anyhow!("unsupported auth challenge: {challenge}"))?;
        match c.scheme.as_str() {
            "basic" => basic.ok_or_else(|| anyhow!("{}", self.denied())),
            "bearer" => {
                let realm = c
                    .param("realm")
                    .ok_or_else(|| anyhow!("bearer challenge without realm: {challenge}"))?;
                let scope = c
                    .param("scope")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("repository:{path}:pull"));
                let mut query = vec![("scope", scope)];
                if let Some(service) = c.param("service") {
                    query.push(("service", service.to_string()));
                }
                let mut req = self.agent.get(realm);
                for (k, v) in &query {
                    req = req.query(k, v);
                }
                if let Some(b) = &basic {
                    req = req.header("Authorization", b);
                }
                let mut resp = req.call().map_err(|e| {
                    anyhow!("token endpoint {realm}: {}", ui::redact(&e.to_string()))
                })?;
                match resp.status().as_u16() {
                    200 => {}
                    401 | 403 => bail!("{}", self.denied()),
                    code => bail!("token endpoint {realm}: HTTP {code}"),
                }
                let body = resp.body_mut().read_to_string()?;
                let json: Json =
                    serde_json::from_str(&body).context("token endpoint answered no JSON")?;
                let token = json["token"]
                    .as_str()
                    .or_else(|| json["access_token"].as_str())
                    .ok_or_else(|| anyhow!("token endpoint {realm} sent no token"))?;
                ui::register_secret(token);
                Ok(format!("Bearer {token}"))
            }
            other => bail!(
                "unsupported auth scheme `{other}` from registry {}",
                self.registry
            ),
        }
    }
}

/// Platform entries of an OCI index / Docker manifest list.
pub fn parse_index(json: &Json) -> Vec<PlatformManifest> {
    json["manifests"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|m| {
                    let p = &m["platform"];
                    let mut platform = format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("unknown"),
                        p["architecture"].as_str().unwrap_or("unknown")
                    );
                    if let Some(variant) = p["variant"].as_str() {
                        platform.push('/');
                        platform.push_str(variant);
                    }
                    PlatformManifest {
                        platform,
                        digest: m["digest"].as_str().unwrap_or_default().to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`.
pub fn parse_challenge(s: &str) -> Option<Challenge> {
    let s = s.trim();
    let (scheme, rest) = s.split_once(' ').unwrap_or((s, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Standard base64 with padding (HTTP Basic auth).
pub fn base64(data: &[u8]) -> String {
    crate::core::base64::encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "ghcr.io/acme/app",
                "ghcr.io",
                "acme/app",
                "ghcr.io/acme/app",
            ),
            (
                "127.0.0.1:5000/acme/app",
                "127.0.0.1:5000",
                "acme/app",
                "127.0.0.1:5000/acme/app",
            ),
            ("localhost/app", "localhost", "app", "localhost/app"),
            ("acme/app", "docker.io", "acme/app", "acme/app"),
            ("app", "docker.io", "library/app", "app"),
        ];
        for (s, reg, path, name) in cases {
            let r = Repo::parse(s);
            assert_eq!(
                (
                    r.registry.as_str(),
                    r.path.as_str(),
                    r.docker_name().as_str()
                ),
                (*reg, *path, *name),
                "{s}"
            );
        }
    }

    #[test]
    fn loopback_and_base() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5001"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("registry.localhost.example.com"));
        assert_eq!(api_base("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(api_base("ghcr.io"), "https://ghcr.io");
        assert_eq!(api_base("docker.io"), "https://registry-1.docker.io");
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/app:pull""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(c.param("scope"), Some("repository:acme/app:pull"));
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.param("realm"), Some("Registry Realm"));
        assert_eq!(parse_challenge("Basic").unwrap().params, vec![]);
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn index_platforms() {
        let json: Json = serde_json::from_str(
            r#"{"manifests":[
                {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
                {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
                {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}}]}"#,
        )
        .unwrap();
        let p = parse_index(&json);
        assert_eq!(
            p.iter().map(|m| m.platform.as_str()).collect::<Vec<_>>(),
            ["linux/amd64", "linux/arm64/v8", "unknown/unknown"]
        );
    }
}
