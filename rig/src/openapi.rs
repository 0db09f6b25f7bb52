//! Checks HTTP requests and responses against an OpenAPI 3.0 description (GitHub's published REST
//! API description, or a subset of it). Pure: no I/O beyond [`Spec::load`].
//!
//! A request is routed by method + path template (`/repos/{owner}/{repo}/releases/{release_id}`;
//! a literal segment beats a parameter, so `releases/latest` is not `releases/{release_id}`;
//! `HEAD` is routed like `GET`), then its path and query parameters are converted per their
//! schemas and validated, then its body against the operation's `requestBody`. Anything that
//! does not fit is a [`Violation`]. Responses are checked with [`Spec::check_response`].
//!
//! Schema keywords, and how exactly they are enforced:
//! - `type` (`integer` is a JSON number without fraction or exponent: `1.0` is not an integer),
//!   `nullable`, `enum`, `properties`, `required`, `additionalProperties` (bool or schema),
//!   `items`, `oneOf` (exactly one alternative), `anyOf`, `allOf`, `not`, `minItems`/`maxItems`,
//!   `uniqueItems`, `minLength`/`maxLength` (in characters), `minimum`/`maximum` (with the 3.0
//!   boolean `exclusiveMinimum`/`exclusiveMaximum`), `multipleOf`, `minProperties`/
//!   `maxProperties`, `$ref` (any `#/...` pointer into the document).
//! - `format`: `date-time` (RFC 3339 shape), `date`, `uri` (a scheme and no whitespace),
//!   `email` (an `@` between two non-empty parts), `int32`/`int64` (range); others are ignored.
//! - NOT enforced: `pattern` (no regex engine here; the current subset has none) and
//!   `discriminator` (a hint: `oneOf` is still checked alternative by alternative). Annotations
//!   (`description`, `example`, `default`, `readOnly`, `deprecated`, `x-*`, …) are ignored. Any
//!   other keyword makes [`Spec::load`] fail, so a newer description cannot silently weaken the
//!   checks. Header and cookie parameters are not checked (the subset has none); response
//!   headers are not checked.
//!
//! Stricter than JSON Schema, on purpose: objects whose schema lists `properties` are closed
//! (an undeclared property is a violation unless `additionalProperties` allows it). GitHub
//! ignores unknown request fields, so a misspelt `"prerelase": true` would otherwise pass
//! unnoticed; for responses it catches a stand-in that invents fields. Query parameters the
//! operation does not declare are violations for the same reason.
//!
//! Parameters arrive as text: `integer`/`number`/`boolean` are parsed (`true`/`false` only), and
//! a `oneOf` of types accepts the text when any alternative does (`workflow_id` is `42` or
//! `release.yml`; as text `42` fits both). Path segments are percent-decoded after splitting, so
//! an encoded `%2F` stays inside one segment; an `x-multi-segment` parameter (the release `tag`)
//! spans one or more segments.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value as Json};

/// A loaded description: the document (for `$ref`s) and its operations.
pub struct Spec {
    doc: Json,
    ops: Vec<Operation>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper case: `GET`, `POST`, `PATCH`, …
    pub method: String,
    /// The path template as written in the description.
    pub template: String,
    /// `operationId`, e.g. `repos/create-release`.
    pub id: String,
    /// First label of the host the operation is served from: `api` (the document's `servers`)
    /// or `uploads` (upload-release-asset's own `servers`: `https://uploads.github.com`).
    pub host_label: String,
    segments: Vec<Segment>,
    params: Vec<Param>,
    body: Option<RequestBody>,
    /// Status code (or `default`, `4XX`) → response object, `$ref`s resolved.
    responses: Map<String, Json>,
}

#[derive(Debug, Clone)]
enum Segment {
    Lit(String),
    Param { name: String, multi: bool },
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Json,
}

#[derive(Debug, Clone)]
struct RequestBody {
    required: bool,
    /// Media type → schema.
    content: Vec<(String, Json)>,
}

/// What part of a request broke the contract (decides how GitHub would answer it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No operation has this method and path (GitHub: 404).
    NoOperation,
    /// A path parameter does not fit its schema (GitHub: 404).
    PathParam,
    /// Sent to the wrong host, e.g. an asset upload to `api.` instead of `uploads.` (GitHub: 404).
    Host,
    /// Query parameter missing, undeclared, repeated or of the wrong type (GitHub: 422).
    Query,
    /// Body missing, unexpected, of the wrong media type, or not matching its schema (GitHub: 422).
    Body,
    /// The body is not JSON at all (GitHub: 400 "Problems parsing JSON").
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub problem: Problem,
    pub message: String,
}

/// The parts of an HTTP request the contract speaks about.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The `Host` (or absolute-form authority), when known; `None` skips the host check.
    pub host: Option<&'a str>,
    /// The raw (percent-encoded) path, starting with `/`.
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// The outcome of [`Spec::check_request`].
#[derive(Debug)]
pub struct Checked<'s> {
    pub op: Option<&'s Operation>,
    /// Decoded path parameters by name.
    pub path_params: BTreeMap<String, String>,
    /// Decoded query parameters by name (the first value when repeated).
    pub query: BTreeMap<String, String>,
    /// The parsed body, when the operation takes JSON and it parsed.
    pub json: Option<Json>,
    pub violations: Vec<Violation>,
}

/// Keywords that constrain values and are enforced (see the module documentation).
const ENFORCED: &[&str] = &[
    "type",
    "nullable",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "format",
    "$ref",
];
/// Keywords that are annotations only, or knowingly not enforced (`pattern`).
const IGNORED: &[&str] = &[
    "title",
    "description",
    "default",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "externalDocs",
    "xml",
    "discriminator",
    "pattern",
];

impl Spec {
    pub fn load(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the API description {}", path.display()))?;
        let doc: Json = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        Spec::from_json(doc).with_context(|| format!("in the API description {}", path.display()))
    }

    pub fn from_json(doc: Json) -> Result<Spec> {
        match doc.get("openapi").and_then(Json::as_str) {
            Some(v) if v.starts_with("3.0.") => {}
            other => bail!("expected an OpenAPI 3.0.x document, found openapi = {other:?}"),
        }
        let mut spec = Spec {
            doc,
            ops: Vec::new(),
        };
        spec.check_refs_and_keywords()?;
        let default_label = spec
            .doc
            .pointer("/servers/0/url")
            .and_then(Json::as_str)
            .map(host_label_of_url)
            .unwrap_or_else(|| "api".into());
        let paths = spec
            .doc
            .get("paths")
            .and_then(Json::as_object)
            .ok_or_else(|| anyhow!("the document has no `paths`"))?
            .clone();
        for (template, item) in &paths {
            let item = spec.resolve(item)?.clone();
            let shared = item.get("parameters").cloned().unwrap_or(Json::Null);
            for (method, op) in item.as_object().into_iter().flatten() {
                if !matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
                ) {
                    continue;
                }
                let built = spec
                    .build_op(template, method, op, &shared, &default_label)
                    .with_context(|| format!("operation {} {template}", method.to_uppercase()))?;
                spec.ops.push(built);
            }
        }
        Ok(spec)
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// The operation with this method and exact path template.
    pub fn operation(&self, method: &str, template: &str) -> Option<&Operation> {
        let method = method.to_ascii_uppercase();
        self.ops
            .iter()
            .find(|o| o.method == method && o.template == template)
    }

    fn build_op(
        &self,
        template: &str,
        method: &str,
        op: &Json,
        shared: &Json,
        default_label: &str,
    ) -> Result<Operation> {
        let id = op
            .get("operationId")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        // Path-level parameters first; the operation's own override them by (name, in).
        let mut params: Vec<Param> = Vec::new();
        for list in [shared, op.get("parameters").unwrap_or(&Json::Null)] {
            for p in list.as_array().into_iter().flatten() {
                let p = self.resolve(p)?;
                let name = str_field(p, "name")?;
                let location = str_field(p, "in")?;
                let schema = p.get("schema").cloned().ok_or_else(|| {
                    anyhow!("parameter {name} has no `schema` (`content` is not supported)")
                })?;
                let param = Param {
                    required: p.get("required").and_then(Json::as_bool).unwrap_or(false)
                        || location == "path",
                    name,
                    location,
                    schema,
                };
                params.retain(|q| !(q.name == param.name && q.location == param.location));
                params.push(param);
            }
        }
        let multi: BTreeSet<String> = op
            .get("parameters")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| self.resolve(p).ok())
            .filter(|p| p.get("x-multi-segment").and_then(Json::as_bool) == Some(true))
            .filter_map(|p| p.get("name").and_then(Json::as_str).map(String::from))
            .collect();
        let mut segments = Vec::new();
        for seg in template.trim_start_matches('/').split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if !params
                    .iter()
                    .any(|p| p.name == name && p.location == "path")
                {
                    bail!("path parameter {{{name}}} is not declared");
                }
                segments.push(Segment::Param {
                    name: name.to_string(),
                    multi: multi.contains(name),
                });
            } else if seg.contains('{') {
                bail!("path segment {seg:?} mixes text and parameters (not supported)");
            } else {
                segments.push(Segment::Lit(seg.to_string()));
            }
        }
        if segments
            .iter()
            .filter(|s| matches!(s, Segment::Param { multi: true, .. }))
            .count()
            > 1
        {
            bail!("more than one multi-segment parameter");
        }
        let body = match op.get("requestBody") {
            None => None,
            Some(rb) => {
                let rb = self.resolve(rb)?;
                let mut content = Vec::new();
                for (media, m) in rb
                    .get("content")
                    .and_then(Json::as_object)
                    .into_iter()
                    .flatten()
                {
                    content.push((
                        media.to_ascii_lowercase(),
                        m.get("schema").cloned().unwrap_or(Json::Object(Map::new())),
                    ));
                }
                Some(RequestBody {
                    required: rb.get("required").and_then(Json::as_bool).unwrap_or(false),
                    content,
                })
            }
        };
        let mut responses = Map::new();
        for (status, r) in op
            .get("responses")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            responses.insert(status.clone(), self.resolve(r)?.clone());
        }
        let host_label = op
            .pointer("/servers/0/url")
            .and_then(Json::as_str)
            .map(host_label_of_url)
            .unwrap_or_else(|| default_label.to_string());
        Ok(Operation {
            method: method.to_ascii_uppercase(),
            template: template.to_string(),
            id,
            host_label,
            segments,
            params,
            body,
            responses,
        })
    }

    /// Every `$ref` must resolve, and every schema keyword must be one this module knows.
    fn check_refs_and_keywords(&self) -> Result<()> {
        let mut problems = BTreeSet::new();
        self.walk_doc(&self.doc, false, &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            bail!(
                "the description uses what this validator cannot check: {}",
                problems.into_iter().collect::<Vec<_>>().join("; ")
            )
        }
    }

    fn walk_doc(&self, node: &Json, is_schema: bool, problems: &mut BTreeSet<String>) {
        match node {
            Json::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Json::as_str) {
                    if self.pointer(r).is_none() {
                        problems.insert(format!("unresolvable $ref {r}"));
                    }
                }
                for (k, v) in map {
                    if is_schema {
                        if !ENFORCED.contains(&k.as_str())
                            && !IGNORED.contains(&k.as_str())
                            && !k.starts_with("x-")
                        {
                            problems.insert(format!("schema keyword `{k}`"));
                        }
                        match k.as_str() {
                            "properties" => {
                                for s in v.as_object().into_iter().flatten().map(|(_, s)| s) {
                                    self.walk_doc(s, true, problems);
                                }
                            }
                            "items" | "not" => self.walk_doc(v, true, problems),
                            "additionalProperties" if v.is_object() => {
                                self.walk_doc(v, true, problems)
                            }
                            "oneOf" | "anyOf" | "allOf" => {
                                for s in v.as_array().into_iter().flatten() {
                                    self.walk_doc(s, true, problems);
                                }
                            }
                            _ => {}
                        }
                    } else if k == "schema" {
                        self.walk_doc(v, true, problems);
                    } else if k == "schemas" && v.is_object() {
                        for s in v.as_object().into_iter().flatten().map(|(_, s)| s) {
                            self.walk_doc(s, true, problems);
                        }
                    } else if !(k == "example" || k == "examples" || k.starts_with("x-")) {
                        self.walk_doc(v, false, problems);
                    }
                }
            }
            Json::Array(items) if !is_schema => {
                for v in items {
                    self.walk_doc(v, false, problems);
                }
            }
            _ => {}
        }
    }

    fn pointer(&self, reference: &str) -> Option<&Json> {
        let ptr = reference.strip_prefix('#')?;
        self.doc.pointer(ptr)
    }

    /// Follows `$ref` chains.
    fn resolve<'a>(&'a self, mut node: &'a Json) -> Result<&'a Json> {
        for _ in 0..32 {
            match node.get("$ref").and_then(Json::as_str) {
                Some(r) => {
                    node = self
                        .pointer(r)
                        .ok_or_else(|| anyhow!("unresolvable $ref {r}"))?
                }
                None => return Ok(node),
            }
        }
        bail!("$ref chain too long")
    }

    fn schema<'a>(&'a self, node: &'a Json) -> &'a Json {
        // References were all checked at load time.
        self.resolve(node).unwrap_or(node)
    }

    /// Routes and validates a request. `violations` is empty when the request fits the contract.
    pub fn check_request<'s>(&'s self, req: &Request) -> Checked<'s> {
        let mut out = Checked {
            op: None,
            path_params: BTreeMap::new(),
            query: BTreeMap::new(),
            json: None,
            violations: Vec::new(),
        };
        let method = req.method.to_ascii_uppercase();
        let routed = if method == "HEAD" {
            "GET"
        } else {
            method.as_str()
        };
        let shown = if req.query.is_empty() {
            format!("{method} {}", req.path)
        } else {
            format!("{method} {}?{}", req.path, req.query)
        };
        let raw_segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        // (literal-segment mask: more specific wins, operation, parameter values)
        type Candidate<'o> = (Vec<bool>, &'o Operation, Vec<(String, String)>);
        let mut best: Option<Candidate> = None;
        let mut other_methods = BTreeSet::new();
        for op in &self.ops {
            let Some(values) = match_segments(&op.segments, &raw_segments) else {
                continue;
            };
            if op.method != routed {
                other_methods.insert(op.method.clone());
                continue;
            }
            let rank: Vec<bool> = op
                .segments
                .iter()
                .map(|s| matches!(s, Segment::Lit(_)))
                .collect();
            if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                best = Some((rank, op, values));
            }
        }
        let Some((_, op, values)) = best else {
            let hint = if other_methods.is_empty() {
                String::new()
            } else {
                format!(
                    " (the path exists for {})",
                    other_methods.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            out.violations.push(Violation {
                problem: Problem::NoOperation,
                message: format!("{shown}: no operation in the API description{hint}"),
            });
            return out;
        };
        out.op = Some(op);
        let at = format!("{method} {}", op.template);
        let mut bad =
            |problem: Problem, message: String| out.violations.push(Violation { problem, message });

        // Host: uploads go to `uploads.<host>`, everything else to `api.<host>`.
        if let Some(label) = req.host.and_then(host_label) {
            if label != op.host_label {
                bad(
                    Problem::Host,
                    format!(
                        "{at}: sent to {}, but {} is served from the `{}.` host{}",
                        req.host.unwrap_or_default(),
                        op.id,
                        op.host_label,
                        if op.host_label == "uploads" {
                            " (use the release's upload_url)"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }

        // Path parameters.
        for (name, value) in values {
            if let Some(p) = op
                .params
                .iter()
                .find(|p| p.name == name && p.location == "path")
            {
                for e in self.check_param(&value, &p.schema, &format!("path parameter {name}")) {
                    bad(Problem::PathParam, format!("{at}: {e}"));
                }
            }
            out.path_params.insert(name, value);
        }

        // Query parameters.
        let mut seen = BTreeSet::new();
        for (name, value) in parse_query(req.query) {
            let Some(p) = op
                .params
                .iter()
                .find(|p| p.name == name && p.location == "query")
            else {
                bad(
                    Problem::Query,
                    format!(
                        "{at}: query parameter {name:?} is not declared by {}",
                        op.id
                    ),
                );
                continue;
            };
            if !seen.insert(name.clone()) {
                bad(
                    Problem::Query,
                    format!("{at}: query parameter {name} given more than once"),
                );
                continue;
            }
            for e in self.check_param(&value, &p.schema, &format!("query parameter {name}")) {
                bad(Problem::Query, format!("{at}: {e}"));
            }
            out.query.insert(name, value);
        }
        for p in op
            .params
            .iter()
            .filter(|p| p.location == "query" && p.required)
        {
            if !seen.contains(&p.name) {
                bad(
                    Problem::Query,
                    format!("{at}: required query parameter {} is missing", p.name),
                );
            }
        }

        // Body.
        let media = req.content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match &op.body {
            None => {
                if !req.body.is_empty() {
                    bad(
                        Problem::Body,
                        format!(
                            "{at}: {} takes no request body, got {} bytes",
                            op.id,
                            req.body.len()
                        ),
                    );
                }
            }
            Some(rb) if req.body.is_empty() => {
                if rb.required {
                    bad(Problem::Body, format!("{at}: the request body is required"));
                }
            }
            Some(rb) => {
                let json_schema = rb
                    .content
                    .iter()
                    .find(|(m, _)| is_json_media(m))
                    .map(|(_, s)| s);
                let binary = rb.content.iter().any(|(m, s)| {
                    m == "application/octet-stream"
                        || self.schema(s).get("format").and_then(Json::as_str) == Some("binary")
                });
                match (json_schema, media.as_deref()) {
                    (Some(schema), Some(m)) if is_json_media(m) => {
                        match serde_json::from_slice::<Json>(req.body) {
                            Err(e) => {
                                bad(Problem::Json, format!("{at}: the body is not JSON: {e}"))
                            }
                            Ok(v) => {
                                for e in self.validate_at(&v, schema, "body") {
                                    bad(Problem::Body, format!("{at}: {e}"));
                                }
                                out.json = Some(v);
                            }
                        }
                    }
                    // Raw uploads: the Content-Type is the asset's media type, any is fine.
                    (_, Some(_)) if binary => {}
                    (_, None) => bad(
                        Problem::Body,
                        format!("{at}: a request body without a Content-Type header"),
                    ),
                    (_, Some(m)) => bad(
                        Problem::Body,
                        format!(
                            "{at}: Content-Type {m} is not accepted (the operation takes {})",
                            rb.content
                                .iter()
                                .map(|(m, _)| m.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                }
            }
        }
        out
    }

    /// Checks a response the server is about to send. `body` is the raw body (empty for none).
    ///
    /// A status the operation declares must carry a body matching that response's JSON schema
    /// (a declared response without content accepts any body, except 204/304 which must be
    /// empty). GitHub answers any operation with 401/403/404/410/422/5xx errors whether declared
    /// or not: an undeclared status ≥ 400 is accepted when its body is a `basic-error`
    /// (`{"message": …, "documentation_url": …}`). Any other undeclared status is a violation.
    pub fn check_response(
        &self,
        op: &Operation,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<String> {
        let at = format!("response {status} to {} {}", op.method, op.template);
        let key = status.to_string();
        let range = format!("{}XX", status / 100);
        let declared = op
            .responses
            .get(&key)
            .or_else(|| op.responses.get(&range))
            .or_else(|| op.responses.get("default"));
        let parse = |body: &[u8]| -> Result<Json, String> {
            serde_json::from_slice::<Json>(body)
                .map_err(|e| format!("{at}: the body is not JSON: {e}"))
        };
        match declared {
            Some(resp) => {
                let schema = resp
                    .get("content")
                    .and_then(Json::as_object)
                    .and_then(|c| c.iter().find(|(m, _)| is_json_media(m)))
                    .and_then(|(_, m)| m.get("schema"));
                match schema {
                    None if (status == 204 || status == 304) && !body.is_empty() => {
                        vec![format!("{at}: must have no body")]
                    }
                    None => vec![],
                    Some(schema) => {
                        let mut errs = Vec::new();
                        if !content_type.is_some_and(|c| {
                            is_json_media(c.split(';').next().unwrap_or("").trim())
                        }) {
                            errs.push(format!(
                                "{at}: Content-Type must be JSON, is {content_type:?}"
                            ));
                        }
                        match parse(body) {
                            Err(e) => errs.push(e),
                            Ok(v) => errs.extend(
                                self.validate_at(&v, schema, "response")
                                    .into_iter()
                                    .map(|e| format!("{at}: {e}")),
                            ),
                        }
                        errs
                    }
                }
            }
            None if status >= 400 => {
                // GitHub's generic error bodies; a 422 may also list `errors`.
                let mut shapes = vec!["#/components/schemas/basic-error"];
                if status == 422 {
                    shapes.push("#/components/schemas/validation-error");
                }
                shapes.retain(|r| self.pointer(r).is_some());
                if shapes.is_empty() {
                    return vec![];
                }
                let v = match parse(body) {
                    Err(e) => return vec![e],
                    Ok(v) => v,
                };
                if v.get("message").and_then(Json::as_str).is_none() {
                    return vec![format!("{at}: an error body needs a message")];
                }
                let results: Vec<Vec<String>> = shapes
                    .iter()
                    .map(|r| self.validate_at(&v, &serde_json::json!({ "$ref": r }), "response"))
                    .collect();
                if results.iter().any(Vec::is_empty) {
                    vec![]
                } else {
                    vec![format!(
                        "{at}: undeclared status, so the body must be a GitHub error ({}): {}",
                        shapes.join(" or "),
                        summarize(&results)
                    )]
                }
            }
            None => vec![format!(
                "{at}: status {status} is not a response of {} (declared: {})",
                op.id,
                op.responses.keys().cloned().collect::<Vec<_>>().join(", ")
            )],
        }
    }

    fn validate_at(&self, value: &Json, schema: &Json, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.check(value, schema, at, true, &mut out);
        out
    }

    /// `closed`: whether this schema's `properties` close the object (false inside `allOf`,
    /// where the union of the alternatives' properties is checked once, by the caller).
    fn check(&self, v: &Json, schema: &Json, at: &str, closed: bool, out: &mut Vec<String>) {
        let s = self.schema(schema);
        if v.is_null() {
            if s.get("nullable").and_then(Json::as_bool) == Some(true) {
                return;
            }
            // No type and no composition: anything goes, null included.
            if s.get("type").is_none()
                && s.get("oneOf").is_none()
                && s.get("anyOf").is_none()
                && s.get("allOf").is_none()
                && s.get("enum").is_none()
            {
                return;
            }
        }
        if let Some(ty) = s.get("type").and_then(Json::as_str) {
            if !has_type(v, ty) {
                out.push(format!("{at}: expected {ty}, got {}", describe(v)));
                return;
            }
        }
        if let Some(options) = s.get("enum").and_then(Json::as_array) {
            if !options.contains(v) {
                let shown: Vec<String> = options.iter().map(|o| o.to_string()).collect();
                out.push(format!(
                    "{at}: {} is not one of {}",
                    describe(v),
                    shown.join(", ")
                ));
            }
        }
        if let Some(fmt) = s.get("format").and_then(Json::as_str) {
            if let Some(problem) = check_format(v, fmt) {
                out.push(format!("{at}: {problem}"));
            }
        }
        match v {
            Json::String(text) => {
                let n = text.chars().count() as u64;
                if let Some(min) = s.get("minLength").and_then(Json::as_u64) {
                    if n < min {
                        out.push(format!("{at}: shorter than {min} characters"));
                    }
                }
                if let Some(max) = s.get("maxLength").and_then(Json::as_u64) {
                    if n > max {
                        out.push(format!("{at}: longer than {max} characters"));
                    }
                }
            }
            Json::Number(num) => {
                let x = num.as_f64().unwrap_or(f64::NAN);
                let excl = |k: &str| s.get(k).and_then(Json::as_bool) == Some(true);
                if let Some(min) = s.get("minimum").and_then(Json::as_f64) {
                    if x < min || (excl("exclusiveMinimum") && x == min) {
                        out.push(format!("{at}: {num} is below the minimum {min}"));
                    }
                }
                if let Some(max) = s.get("maximum").and_then(Json::as_f64) {
                    if x > max || (excl("exclusiveMaximum") && x == max) {
                        out.push(format!("{at}: {num} is above the maximum {max}"));
                    }
                }
                if let Some(m) = s.get("multipleOf").and_then(Json::as_f64) {
                    if m > 0.0 && (x / m).fract() != 0.0 {
                        out.push(format!("{at}: {num} is not a multiple of {m}"));
                    }
                }
            }
            Json::Array(items) => {
                if let Some(min) = s.get("minItems").and_then(Json::as_u64) {
                    if (items.len() as u64) < min {
                        out.push(format!("{at}: fewer than {min} items"));
                    }
                }
                if let Some(max) = s.get("maxItems").and_then(Json::as_u64) {
                    if items.len() as u64 > max {
                        out.push(format!("{at}: more than {max} items"));
                    }
                }
                if s.get("uniqueItems").and_then(Json::as_bool) == Some(true) {
                    for (i, a) in items.iter().enumerate() {
                        if items[..i].contains(a) {
                            out.push(format!("{at}[{i}]: duplicate item"));
                        }
                    }
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &format!("{at}[{i}]"), true, out);
                    }
                }
            }
            Json::Object(map) => self.check_object(map, s, at, closed, out),
            _ => {}
        }
        if let Some(all) = s.get("allOf").and_then(Json::as_array) {
            for sub in all {
                self.check(v, sub, at, false, out);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Json::as_array) {
            let results: Vec<Vec<String>> =
                any.iter().map(|sub| self.sub_check(v, sub, at)).collect();
            if !results.iter().any(Vec::is_empty) {
                out.push(format!(
                    "{at}: matches none of anyOf: {}",
                    summarize(&results)
                ));
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Json::as_array) {
            let results: Vec<Vec<String>> =
                one.iter().map(|sub| self.sub_check(v, sub, at)).collect();
            let fits: Vec<usize> = (0..results.len())
                .filter(|&i| results[i].is_empty())
                .collect();
            match fits.len() {
                1 => {}
                0 => out.push(format!(
                    "{at}: matches none of oneOf: {}",
                    summarize(&results)
                )),
                _ => out.push(format!(
                    "{at}: matches more than one of oneOf (alternatives {})",
                    fits.iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        if let Some(not) = s.get("not") {
            if self.sub_check(v, not, at).is_empty() {
                out.push(format!("{at}: matches a schema it must not match"));
            }
        }
    }

    fn sub_check(&self, v: &Json, schema: &Json, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        self.check(v, schema, at, true, &mut errs);
        errs
    }

    fn check_object(
        &self,
        map: &Map<String, Json>,
        s: &Json,
        at: &str,
        closed: bool,
        out: &mut Vec<String>,
    ) {
        let props = s.get("properties").and_then(Json::as_object);
        for name in s
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str() {
                if !map.contains_key(name) {
                    out.push(format!("{at}: missing required property {name:?}"));
                }
            }
        }
        if let Some(min) = s.get("minProperties").and_then(Json::as_u64) {
            if (map.len() as u64) < min {
                out.push(format!("{at}: fewer than {min} properties"));
            }
        }
        if let Some(max) = s.get("maxProperties").and_then(Json::as_u64) {
            if map.len() as u64 > max {
                out.push(format!("{at}: more than {max} properties"));
            }
        }
        let known = if closed {
            self.declared_properties(s)
        } else {
            None
        };
        for (key, value) in map {
            let path = format!("{at}.{key}");
            if let Some(prop) = props.and_then(|p| p.get(key)) {
                self.check(value, prop, &path, true, out);
                continue;
            }
            match s.get("additionalProperties") {
                Some(Json::Bool(false)) => out.push(format!(
                    "{at}: property {key:?} is not allowed (additionalProperties: false)"
                )),
                Some(extra @ Json::Object(_)) => self.check(value, extra, &path, true, out),
                Some(Json::Bool(true)) => {}
                _ => {
                    if let Some(known) = &known {
                        if !known.contains(key) {
                            out.push(format!(
                                "{at}: property {key:?} is not declared by the schema"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// The property names an object schema declares (its own `properties` and those of its
    /// `allOf` parts); `None` when it is open (declares none, or a part is open).
    fn declared_properties(&self, schema: &Json) -> Option<BTreeSet<String>> {
        let s = self.schema(schema);
        let mut names: BTreeSet<String> = s
            .get("properties")
            .and_then(Json::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let own = s.get("properties").is_some();
        let mut any = own;
        for sub in s
            .get("allOf")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let sub_s = self.schema(sub);
            if sub_s
                .get("additionalProperties")
                .is_some_and(|a| a != &Json::Bool(false))
            {
                return None;
            }
            names.extend(self.declared_properties(sub)?);
            any = true;
        }
        any.then_some(names)
    }

    /// Converts parameter text per its schema, then validates it.
    fn check_param(&self, text: &str, schema: &Json, at: &str) -> Vec<String> {
        let s = self.schema(schema);
        if let Some(alts) = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Json::as_array)
        {
            let results: Vec<Vec<String>> =
                alts.iter().map(|a| self.check_param(text, a, at)).collect();
            return if results.iter().any(Vec::is_empty) {
                vec![]
            } else {
                vec![format!(
                    "{at}: {text:?} matches none of its alternatives: {}",
                    summarize(&results)
                )]
            };
        }
        let value = match s.get("type").and_then(Json::as_str) {
            Some("integer") => match text.parse::<i64>() {
                Ok(n) => Json::from(n),
                Err(_) => return vec![format!("{at}: expected integer, got {text:?}")],
            },
            Some("number") => match text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Json::Number(n),
                None => return vec![format!("{at}: expected number, got {text:?}")],
            },
            Some("boolean") => match text {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => return vec![format!("{at}: expected true or false, got {text:?}")],
            },
            Some("array") => {
                let item = s.get("items").cloned().unwrap_or(Json::Null);
                let mut errs = Vec::new();
                for (i, part) in text.split(',').enumerate() {
                    errs.extend(self.check_param(part, &item, &format!("{at}[{i}]")));
                }
                return errs;
            }
            _ => Json::String(text.to_string()),
        };
        self.validate_at(&value, s, at)
    }
}

/// Matches raw path segments against a template; returns the decoded parameter values.
fn match_segments(template: &[Segment], raw: &[&str]) -> Option<Vec<(String, String)>> {
    let multi_at = template
        .iter()
        .position(|s| matches!(s, Segment::Param { multi: true, .. }));
    let mut values = Vec::new();
    let one = |seg: &Segment, raw: &str, values: &mut Vec<(String, String)>| -> bool {
        let decoded = percent_decode(raw);
        match seg {
            Segment::Lit(l) => *l == decoded,
            Segment::Param { name, .. } => {
                if decoded.is_empty() {
                    return false;
                }
                values.push((name.clone(), decoded));
                true
            }
        }
    };
    match multi_at {
        None => {
            if template.len() != raw.len() {
                return None;
            }
            for (seg, r) in template.iter().zip(raw) {
                if !one(seg, r, &mut values) {
                    return None;
                }
            }
        }
        Some(m) => {
            let suffix = template.len() - m - 1;
            if raw.len() < template.len() {
                return None;
            }
            for (seg, r) in template[..m].iter().zip(&raw[..m]) {
                if !one(seg, r, &mut values) {
                    return None;
                }
            }
            let middle = &raw[m..raw.len() - suffix];
            if middle.iter().any(|r| r.is_empty()) {
                return None;
            }
            if let Segment::Param { name, .. } = &template[m] {
                let joined: Vec<String> = middle.iter().map(|r| percent_decode(r)).collect();
                values.push((name.clone(), joined.join("/")));
            }
            for (seg, r) in template[m + 1..].iter().zip(&raw[raw.len() - suffix..]) {
                if !one(seg, r, &mut values) {
                    return None;
                }
            }
        }
    }
    Some(values)
}

/// Decodes `%XX` escapes (invalid escapes are kept as written; invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `application/x-www-form-urlencoded` text (`+` is a space) into (name, value) pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn str_field(v: &Json, key: &str) -> Result<String> {
    v.get(key)
        .and_then(Json::as_str)
        .map(String::from)
        .ok_or_else(|| anyhow!("missing `{key}` in {v}"))
}

fn is_json_media(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

/// `https://uploads.github.com` → `uploads`.
fn host_label_of_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':']).next().unwrap_or("");
    host.split('.').next().unwrap_or("").to_string()
}

/// The first DNS label of a `Host` value; `None` for IP addresses and bare names like
/// `localhost` (a client talking to the server directly, not through the `gh` host mapping).
fn host_label(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        return None;
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    if name.parse::<IpAddr>().is_ok() || !name.contains('.') {
        return None;
    }
    name.split('.').next()
}

fn has_type(v: &Json, ty: &str) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// `string "abc"`, `integer 3`, `null`, `object`, …
fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("boolean {b}"),
        Json::Number(n) if n.is_i64() || n.is_u64() => format!("integer {n}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) if s.chars().count() > 60 => {
            format!("string {:?}…", s.chars().take(60).collect::<String>())
        }
        Json::String(s) => format!("string {s:?}"),
        Json::Array(a) => format!("array of {}", a.len()),
        Json::Object(_) => "object".into(),
    }
}

fn summarize(results: &[Vec<String>]) -> String {
    results
        .iter()
        .enumerate()
        .map(|(i, errs)| {
            let first = errs.first().map(String::as_str).unwrap_or("");
            let more = if errs.len() > 1 {
                format!(" (+{} more)", errs.len() - 1)
            } else {
                String::new()
            };
            format!("({}) {first}{more}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_format(v: &Json, fmt: &str) -> Option<String> {
    match (fmt, v) {
        ("date-time", Json::String(s)) => {
            (!is_date_time(s)).then(|| format!("{s:?} is not an RFC 3339 date-time"))
        }
        ("date", Json::String(s)) => {
            (!is_date(s)).then(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
        }
        ("uri", Json::String(s)) => (!is_uri(s)).then(|| format!("{s:?} is not a URI")),
        ("email", Json::String(s)) => {
            let ok = s
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty());
            (!ok).then(|| format!("{s:?} is not an email address"))
        }
        ("int32", Json::Number(n)) => {
            let ok = n.as_i64().is_some_and(|x| i32::try_from(x).is_ok());
            (!ok).then(|| format!("{n} is outside int32"))
        }
        ("int64", Json::Number(n)) => (!n.is_i64()).then(|| format!("{n} is outside int64")),
        _ => None,
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    p.len() == 3
        && digits(p[0], 4)
        && digits(p[1], 2)
        && digits(p[2], 2)
        && (1..=12).contains(&p[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&p[2].parse::<u32>().unwrap_or(0))
}

/// `2024-01-31T12:00:00Z`, `…:00.123+02:00`.
fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't']) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let (clock, zone) = if let Some(t) = time.strip_suffix(['Z', 'z']) {
        (t, None)
    } else if let Some(i) = time.rfind(['+', '-']) {
        (&time[..i], Some(&time[i + 1..]))
    } else {
        return false;
    };
    if let Some(z) = zone {
        let ok = z
            .split_once(':')
            .is_some_and(|(h, m)| digits(h, 2) && digits(m, 2));
        if !ok {
            return false;
        }
    }
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let parts: Vec<&str> = hms.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| digits(p, 2))
        && parts[0].parse::<u32>().is_ok_and(|h| h < 24)
        && parts[1].parse::<u32>().is_ok_and(|m| m < 60)
        && parts[2].parse::<u32>().is_ok_and(|x| x <= 60)
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small description exercising every construct the validator supports.
    fn mini() -> Spec {
        Spec::from_json(json!({
            "openapi": "3.0.3",
            "servers": [{"url": "https://api.example.com"}],
            "paths": {
                "/repos/{owner}/{repo}/releases": {
                    "post": {
                        "operationId": "create",
                        "parameters": [{"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"}],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {
                            "type": "object",
                            "required": ["tag_name"],
                            "properties": {
                                "tag_name": {"type": "string", "minLength": 1},
                                "draft": {"type": "boolean"},
                                "count": {"type": "integer", "minimum": 0, "maximum": 10},
                                "make_latest": {"type": "string", "enum": ["true", "false", "legacy"]},
                                "milestone": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": true},
                                "labels": {"type": "array", "minItems": 1, "items": {"oneOf": [
                                    {"type": "string"},
                                    {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
                                ]}},
                                "owner": {"$ref": "#/components/schemas/user"},
                                "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
                                "free": {"type": "object"},
                                "extra": {"allOf": [
                                    {"type": "object", "properties": {"a": {"type": "integer"}}},
                                    {"type": "object", "properties": {"b": {"type": "string"}}}
                                ]},
                                "either": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]},
                                "num": {"type": "number"}
                            }
                        }}}},
                        "responses": {
                            "201": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/release"}}}},
                            "422": {"description": ""}
                        }
                    },
                    "get": {"operationId": "list", "parameters": [
                        {"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "closed"]}},
                        {"name": "all", "in": "query", "schema": {"type": "boolean"}}
                    ], "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/release"}}}}}}}
                },
                "/repos/{owner}/{repo}/releases/{release_id}": {
                    "get": {"operationId": "get", "parameters": [
                        {"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"},
                        {"name": "release_id", "in": "path", "required": true, "schema": {"type": "integer"}}
                    ], "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/release"}}}}}}
                },
                "/repos/{owner}/{repo}/releases/latest": {
                    "get": {"operationId": "latest", "parameters": [{"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"}],
                        "responses": {"204": {"description": ""}}}
                },
                "/repos/{owner}/{repo}/releases/tags/{tag}": {
                    "get": {"operationId": "by-tag", "parameters": [
                        {"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"},
                        {"name": "tag", "in": "path", "required": true, "schema": {"type": "string"}, "x-multi-segment": true}
                    ], "responses": {"200": {"description": ""}}}
                },
                "/repos/{owner}/{repo}/workflows/{workflow_id}": {
                    "get": {"operationId": "workflow", "parameters": [
                        {"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"},
                        {"name": "workflow_id", "in": "path", "required": true, "schema": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}
                    ], "responses": {"200": {"description": ""}}}
                },
                "/repos/{owner}/{repo}/releases/{release_id}/assets": {
                    "post": {"operationId": "upload",
                        "servers": [{"url": "https://uploads.example.com"}],
                        "parameters": [
                            {"$ref": "#/components/parameters/owner"}, {"$ref": "#/components/parameters/repo"},
                            {"name": "release_id", "in": "path", "required": true, "schema": {"type": "integer"}},
                            {"name": "name", "in": "query", "required": true, "schema": {"type": "string"}},
                            {"name": "label", "in": "query", "schema": {"type": "string"}}
                        ],
                        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                        "responses": {"201": {"description": ""}}}
                }
            },
            "components": {
                "parameters": {
                    "owner": {"name": "owner", "in": "path", "required": true, "schema": {"type": "string"}},
                    "repo": {"name": "repo", "in": "path", "required": true, "schema": {"type": "string"}}
                },
                "schemas": {
                    "user": {"type": "object", "required": ["login"], "properties": {"login": {"type": "string"}, "name": {"type": "string", "nullable": true}}},
                    "release": {"type": "object", "required": ["id", "url", "created_at", "author"], "properties": {
                        "id": {"type": "integer"},
                        "url": {"type": "string", "format": "uri"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "author": {"$ref": "#/components/schemas/user"},
                        "published_at": {"type": "string", "format": "date-time", "nullable": true}
                    }},
                    "basic-error": {"type": "object", "properties": {"message": {"type": "string"}, "documentation_url": {"type": "string"}}}
                }
            }
        }))
        .unwrap()
    }

    fn post(spec: &Spec, body: &str) -> Vec<String> {
        let req = Request {
            method: "POST",
            host: Some("api.example.com"),
            path: "/repos/acme/app/releases",
            query: "",
            content_type: Some("application/json; charset=utf-8"),
            body: body.as_bytes(),
        };
        spec.check_request(&req)
            .violations
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn request_bodies() {
        let spec = mini();
        // (body, expected substrings of the violations; empty = valid)
        let table: &[(&str, &[&str])] = &[
            (r#"{"tag_name":"v1"}"#, &[]),
            (r#"{"tag_name":"v1","draft":false,"count":3,"make_latest":"legacy"}"#, &[]),
            (r#"{"draft":true}"#, &["body: missing required property \"tag_name\""]),
            (r#"{"tag_name":""}"#, &["body.tag_name: shorter than 1 characters"]),
            (r#"{"tag_name":"v1","draft":"yes"}"#, &["body.draft: expected boolean, got string \"yes\""]),
            (r#"{"tag_name":"v1","count":1.5}"#, &["body.count: expected integer, got number 1.5"]),
            (r#"{"tag_name":"v1","count":1.0}"#, &["body.count: expected integer, got number 1.0"]),
            (r#"{"tag_name":"v1","count":11}"#, &["body.count: 11 is above the maximum 10"]),
            (r#"{"tag_name":"v1","count":-1}"#, &["below the minimum 0"]),
            (r#"{"tag_name":"v1","num":1}"#, &[]),
            (r#"{"tag_name":"v1","make_latest":true}"#, &["body.make_latest: expected string, got boolean true"]),
            (r#"{"tag_name":"v1","make_latest":"yes"}"#, &["body.make_latest: string \"yes\" is not one of \"true\", \"false\", \"legacy\""]),
            (r#"{"tag_name":"v1","prerelase":true}"#, &["body: property \"prerelase\" is not declared by the schema"]),
            (r#"{"tag_name":null}"#, &["body.tag_name: expected string, got null"]),
            // nullable + oneOf
            (r#"{"tag_name":"v1","milestone":null}"#, &[]),
            (r#"{"tag_name":"v1","milestone":3}"#, &[]),
            (r#"{"tag_name":"v1","milestone":"m"}"#, &[]),
            (r#"{"tag_name":"v1","milestone":true}"#, &["body.milestone: matches none of oneOf: (1) body.milestone: expected string, got boolean true; (2) body.milestone: expected integer"]),
            (r#"{"tag_name":"v1","labels":["a",{"name":"b"}]}"#, &[]),
            (r#"{"tag_name":"v1","labels":[]}"#, &["body.labels: fewer than 1 items"]),
            (r#"{"tag_name":"v1","labels":[{"nom":"b"}]}"#, &["body.labels[0]: matches none of oneOf"]),
            // $ref into components, nested nullable
            (r#"{"tag_name":"v1","owner":{"login":"a","name":null}}"#, &[]),
            (r#"{"tag_name":"v1","owner":{"name":"x"}}"#, &["body.owner: missing required property \"login\""]),
            (r#"{"tag_name":"v1","owner":null}"#, &["body.owner: expected object, got null"]),
            // additionalProperties schema; free-form object
            (r#"{"tag_name":"v1","meta":{"a":1,"b":2}}"#, &[]),
            (r#"{"tag_name":"v1","meta":{"a":"x"}}"#, &["body.meta.a: expected integer"]),
            (r#"{"tag_name":"v1","free":{"anything":[1,{"x":null}]}}"#, &[]),
            // allOf: the union of the parts' properties closes the object
            (r#"{"tag_name":"v1","extra":{"a":1,"b":"x"}}"#, &[]),
            (r#"{"tag_name":"v1","extra":{"a":1,"c":"x"}}"#, &["body.extra: property \"c\" is not declared"]),
            (r#"{"tag_name":"v1","extra":{"a":"1"}}"#, &["body.extra.a: expected integer"]),
            // anyOf + format
            (r#"{"tag_name":"v1","either":"2024-01-31T12:00:00Z"}"#, &[]),
            (r#"{"tag_name":"v1","either":"yesterday"}"#, &["matches none of anyOf", "not an RFC 3339 date-time"]),
            ("[]", &["body: expected object, got array of 0"]),
            ("{", &["the body is not JSON"]),
            ("", &["the request body is required"]),
        ];
        for (body, expected) in table {
            let got = post(&spec, body);
            if expected.is_empty() {
                assert!(got.is_empty(), "{body}: unexpected violations {got:#?}");
                continue;
            }
            assert_eq!(got.len(), 1, "{body}: expected one violation, got {got:#?}");
            for e in *expected {
                assert!(
                    got[0].contains(e),
                    "{body}: {:?} does not contain {e:?}",
                    got[0]
                );
            }
        }
    }

    fn get<'s>(spec: &'s Spec, path: &str, query: &str) -> Checked<'s> {
        spec.check_request(&Request {
            method: "GET",
            host: None,
            path,
            query,
            content_type: None,
            body: b"",
        })
    }

    #[test]
    fn routing_and_parameters() {
        let spec = mini();
        let c = get(&spec, "/repos/acme/app/releases/42", "");
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert_eq!(c.op.unwrap().id, "get");
        assert_eq!(c.path_params["release_id"], "42");
        assert_eq!(c.path_params["owner"], "acme");

        // A literal segment wins over a parameter.
        let c = get(&spec, "/repos/acme/app/releases/latest", "");
        assert_eq!(c.op.unwrap().id, "latest");
        assert!(c.violations.is_empty());

        // Wrong path parameter type.
        let c = get(&spec, "/repos/acme/app/releases/abc", "");
        assert_eq!(c.op.unwrap().id, "get");
        assert_eq!(c.violations.len(), 1);
        assert_eq!(c.violations[0].problem, Problem::PathParam);
        assert!(c.violations[0]
            .message
            .contains("path parameter release_id: expected integer, got \"abc\""));

        // Unknown operation: path unknown, and path known for another method.
        let c = get(&spec, "/repos/acme/app/collaborators", "");
        assert!(c.op.is_none());
        assert_eq!(c.violations[0].problem, Problem::NoOperation);
        assert!(c.violations[0]
            .message
            .contains("GET /repos/acme/app/collaborators: no operation"));
        let c = spec.check_request(&Request {
            method: "DELETE",
            host: None,
            path: "/repos/acme/app/releases",
            query: "",
            content_type: None,
            body: b"",
        });
        assert!(
            c.violations[0]
                .message
                .contains("the path exists for GET, POST"),
            "{:?}",
            c.violations
        );
        let c = get(&spec, "/repos/acme/app/releases/", "");
        assert_eq!(c.violations[0].problem, Problem::NoOperation);
        let c = get(&spec, "/graphql", "");
        assert_eq!(c.violations[0].problem, Problem::NoOperation);

        // Multi-segment tag, percent-decoding.
        let c = get(&spec, "/repos/acme/app/releases/tags/team/v1.2.3", "");
        assert_eq!(c.path_params["tag"], "team/v1.2.3");
        let c = get(&spec, "/repos/acme/app/releases/tags/v1%2B1", "");
        assert_eq!(c.path_params["tag"], "v1+1");
        assert!(c.violations.is_empty());

        // oneOf path parameter: both forms.
        assert!(get(&spec, "/repos/a/b/workflows/42", "")
            .violations
            .is_empty());
        assert!(get(&spec, "/repos/a/b/workflows/release.yml", "")
            .violations
            .is_empty());

        // Query parameters: types, enums, unknown, repeated.
        let c = get(
            &spec,
            "/repos/a/b/releases",
            "per_page=20&state=open&all=true",
        );
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert_eq!(c.query["per_page"], "20");
        let table: &[(&str, &str)] = &[
            (
                "per_page=many",
                "query parameter per_page: expected integer, got \"many\"",
            ),
            (
                "state=merged",
                "query parameter state: string \"merged\" is not one of \"open\", \"closed\"",
            ),
            (
                "all=1",
                "query parameter all: expected true or false, got \"1\"",
            ),
            ("page=2", "query parameter \"page\" is not declared by list"),
            ("per_page=1&per_page=2", "per_page given more than once"),
        ];
        for (q, want) in table {
            let c = get(&spec, "/repos/a/b/releases", q);
            assert_eq!(c.violations.len(), 1, "{q}: {:?}", c.violations);
            assert_eq!(c.violations[0].problem, Problem::Query);
            assert!(
                c.violations[0].message.contains(want),
                "{q}: {}",
                c.violations[0].message
            );
        }
    }

    #[test]
    fn uploads_host_query_and_media_type() {
        let spec = mini();
        let upload =
            |host: Option<&str>, query: &str, ct: Option<&str>, body: &[u8]| -> Vec<Violation> {
                spec.check_request(&Request {
                    method: "POST",
                    host,
                    path: "/repos/acme/app/releases/7/assets",
                    query,
                    content_type: ct,
                    body,
                })
                .violations
            };
        assert!(upload(
            Some("uploads.example.com"),
            "name=a.zip&label=",
            Some("application/zip"),
            b"PK"
        )
        .is_empty());
        assert!(upload(None, "name=a.zip", Some("text/plain; charset=utf-8"), b"x").is_empty());
        assert!(upload(
            Some("127.0.0.1:8080"),
            "name=a.zip",
            Some("text/plain"),
            b"x"
        )
        .is_empty());
        let v = upload(
            Some("api.example.com"),
            "name=a.zip",
            Some("application/zip"),
            b"PK",
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].problem, Problem::Host);
        assert!(
            v[0].message.contains("served from the `uploads.` host"),
            "{}",
            v[0].message
        );
        let v = upload(
            Some("uploads.example.com"),
            "",
            Some("application/zip"),
            b"PK",
        );
        assert!(v[0]
            .message
            .contains("required query parameter name is missing"));
        let v = upload(Some("uploads.example.com"), "name=a", None, b"PK");
        assert!(v[0].message.contains("without a Content-Type"));
        // JSON operations: a body needs a JSON media type; bodiless operations take none.
        let v = spec
            .check_request(&Request {
                method: "POST",
                host: Some("api.example.com"),
                path: "/repos/acme/app/releases",
                query: "",
                content_type: Some("text/plain"),
                body: b"{}",
            })
            .violations;
        assert!(
            v[0].message
                .contains("Content-Type text/plain is not accepted"),
            "{v:?}"
        );
        let v = spec
            .check_request(&Request {
                method: "GET",
                host: Some("api.example.com:80"),
                path: "/repos/acme/app/releases/1",
                query: "",
                content_type: Some("application/json"),
                body: b"{}",
            })
            .violations;
        assert!(v[0].message.contains("takes no request body"), "{v:?}");
        // HEAD is routed like GET.
        let c = spec.check_request(&Request {
            method: "HEAD",
            host: None,
            path: "/repos/acme/app/releases/1",
            query: "",
            content_type: None,
            body: b"",
        });
        assert!(c.violations.is_empty());
        assert_eq!(c.op.unwrap().id, "get");
    }

    #[test]
    fn responses() {
        let spec = mini();
        let op = spec
            .operation("POST", "/repos/{owner}/{repo}/releases")
            .unwrap();
        let ok = br#"{"id":1,"url":"http://x/1","created_at":"2024-01-01T00:00:00Z","author":{"login":"a"},"published_at":null}"#;
        let json = Some("application/json; charset=utf-8");
        assert!(spec.check_response(op, 201, json, ok).is_empty());
        let bad = br#"{"id":"1","url":"not a uri","created_at":"2024-01-01 00:00","author":{"login":"a","extra":1}}"#;
        let errs = spec.check_response(op, 201, json, bad);
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs[0].contains("response.author: property \"extra\" is not declared"));
        assert!(errs
            .iter()
            .any(|e| e.contains("response.id: expected integer")));
        assert!(errs
            .iter()
            .any(|e| e.contains("\"not a uri\" is not a URI")));
        assert!(errs
            .iter()
            .any(|e| e.contains("is not an RFC 3339 date-time")));
        assert!(spec.check_response(op, 201, Some("text/plain"), ok)[0]
            .contains("Content-Type must be JSON"));
        // Declared without content: any body.
        assert!(spec
            .check_response(op, 422, json, br#"{"message":"Validation Failed"}"#)
            .is_empty());
        // Undeclared error statuses must be basic-errors; undeclared successes are violations.
        assert!(spec
            .check_response(
                op,
                500,
                json,
                br#"{"message":"boom","documentation_url":"x"}"#
            )
            .is_empty());
        assert!(!spec
            .check_response(op, 404, json, br#"{"msg":"boom"}"#)
            .is_empty());
        assert!(spec.check_response(op, 200, json, ok)[0]
            .contains("status 200 is not a response of create"));
        // 204 must be empty.
        let latest = spec
            .operation("GET", "/repos/{owner}/{repo}/releases/latest")
            .unwrap();
        assert!(spec.check_response(latest, 204, None, b"").is_empty());
        assert!(!spec.check_response(latest, 204, None, b"{}").is_empty());
        // Arrays of $ref.
        let list = spec
            .operation("GET", "/repos/{owner}/{repo}/releases")
            .unwrap();
        assert!(spec.check_response(list, 200, json, b"[]").is_empty());
        let errs = spec.check_response(list, 200, json, br#"[{"id":1}]"#);
        assert!(
            errs.iter()
                .any(|e| e.contains("response[0]: missing required property \"url\"")),
            "{errs:#?}"
        );
    }

    #[test]
    fn formats() {
        for ok in [
            "2024-01-31T12:00:00Z",
            "2024-01-31T12:00:00.123+02:00",
            "2024-12-01t00:00:00z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2024-01-31",
            "2024-01-31T25:00:00Z",
            "2024-1-31T12:00:00Z",
            "2024-01-31T12:00:00",
            "2024-01-31T12:00:00+0200",
            "2024-01-31T12:00:00.Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_uri("https://github.com/a/b{?x}") && is_uri("mailto:a@b"));
        assert!(!is_uri("/relative") && !is_uri("http://a b") && !is_uri("1http://x"));
        assert_eq!(percent_decode("a%2Fb%20c%zz%"), "a/b c%zz%");
        assert_eq!(
            parse_query("name=a+b.txt&label=&x"),
            vec![
                ("name".into(), "a b.txt".into()),
                ("label".into(), "".into()),
                ("x".into(), "".into())
            ]
        );
        assert_eq!(host_label("uploads.github.localhost"), Some("uploads"));
        assert_eq!(host_label("api.github.localhost:80"), Some("api"));
        assert_eq!(host_label("127.0.0.1:9"), None);
        assert_eq!(host_label("localhost:9"), None);
        assert_eq!(host_label_of_url("https://uploads.github.com"), "uploads");
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        let doc = json!({"openapi": "3.0.3", "paths": {}, "components": {"schemas": {
            "a": {"type": "object", "properties": {"x": {"$ref": "#/components/schemas/missing"}}},
            "b": {"type": "string", "contentEncoding": "base64"}
        }}});
        let err = format!("{:#}", Spec::from_json(doc).err().unwrap());
        assert!(
            err.contains("unresolvable $ref #/components/schemas/missing"),
            "{err}"
        );
        assert!(err.contains("schema keyword `contentEncoding`"), "{err}");
        assert!(Spec::from_json(json!({"openapi": "3.1.0", "paths": {}})).is_err());
    }

    #[test]
    fn github_subset_loads_and_routes() {
        let spec = Spec::load(&crate::standin::tests_support::spec_path()).unwrap();
        assert_eq!(spec.operations().len(), 40);
        let upload = spec
            .operation("post", "/repos/{owner}/{repo}/releases/{release_id}/assets")
            .unwrap();
        assert_eq!(upload.host_label, "uploads");
        assert_eq!(
            spec.operation("GET", "/repos/{owner}/{repo}")
                .unwrap()
                .host_label,
            "api"
        );
        // gh's exact requests (seen on the wire, gh 2.23) fit the contract.
        // (method, host, path, query, Content-Type, body)
        type Seen<'a> = (
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            &'a [u8],
        );
        let reqs: &[Seen] = &[
            (
                "GET",
                "api.github.localhost",
                "/repos/acme/app",
                "",
                None,
                b"",
            ),
            (
                "HEAD",
                "api.github.localhost",
                "/repos/acme/app/releases/tags/v1.2.3",
                "",
                None,
                b"",
            ),
            (
                "POST",
                "api.github.localhost",
                "/repos/acme/app/releases",
                "",
                Some("application/json; charset=utf-8"),
                br#"{"body":"N","draft":true,"name":"T","prerelease":false,"tag_name":"v1.2.3"}"#,
            ),
            (
                "POST",
                "uploads.github.localhost",
                "/repos/acme/app/releases/1/assets",
                "label=&name=a.txt",
                Some("text/plain; charset=utf-8"),
                b"hello\n",
            ),
            (
                "PATCH",
                "api.github.localhost",
                "/repos/acme/app/releases/1",
                "",
                Some("application/json"),
                br#"{"draft":false}"#,
            ),
            (
                "GET",
                "api.github.localhost",
                "/repos/acme/app/actions/workflows/release.yml",
                "",
                None,
                b"",
            ),
            (
                "GET",
                "api.github.localhost",
                "/repos/acme/app/actions/workflows/42/runs",
                "per_page=20&exclude_pull_requests=true&branch=v1.2.3",
                None,
                b"",
            ),
        ];
        for (method, host, path, query, ct, body) in reqs {
            let c = spec.check_request(&Request {
                method,
                host: Some(host),
                path,
                query,
                content_type: *ct,
                body,
            });
            assert!(
                c.violations.is_empty(),
                "{method} {path}: {:#?}",
                c.violations
            );
        }
        // …and what it sends that does not.
        let c = spec.check_request(&Request {
            method: "GET",
            host: Some("api.github.localhost"),
            path: "/repos/acme/app/actions/runs",
            query: "per_page=20&exclude_pull_requests=true&branch=v1.2.3",
            content_type: None,
            body: b"",
        });
        assert_eq!(c.violations[0].problem, Problem::NoOperation);
    }
}
