//! The registry writes a plan lists as [`Sub::Call`]s — copying an image by digest (promotion)
//! and moving a tag to another digest (promotion, rollback). Each names the HTTP requests it
//! makes, so the dry run shows them, and makes exactly those through [`registry::Client`]
//! (which answers the registry's auth challenge).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::registry::{self, Client, Repo};
use crate::run::plan::{Call, Request, Sub, Val};

/// One repository on one registry, with the credentials to use there.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub repo: Repo,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("repo", &self.repo)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl Endpoint {
    pub fn new(repo: Repo, credentials: Option<(String, String)>) -> Endpoint {
        Endpoint { repo, credentials }
    }

    pub fn client(&self) -> Client {
        Client::new(
            &self.repo.registry,
            self.credentials
                .as_ref()
                .map(|(u, p)| (u.as_str(), p.as_str())),
        )
    }

    /// `http://127.0.0.1:5000/v2/acme/app/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!(
            "{}/v2/{}/{rest}",
            registry::api_base(&self.repo.registry),
            self.repo.path
        )
    }

    fn request(&self, method: &str, rest: &str) -> Request {
        Request {
            method: method.into(),
            url: self.url(rest),
            headers: Vec::new(),
            body: None,
            service: format!("registry {}", self.repo.registry),
        }
    }

    /// The registry's name for the repository (`127.0.0.1:5000/acme/app`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.repo.registry, self.repo.path)
    }
}

/// Stores the manifest held under `digest` under `tag` too, in the same repository: a tag
/// moved (or created) without pulling or pushing an image. `digest` may be a `<key>` a sub-step
/// before it records (the digest `docker push` reported).
#[derive(Debug, Clone)]
pub struct Retag {
    pub at: Endpoint,
    pub digest: String,
    pub tag: String,
}

impl Retag {
    pub fn sub(self) -> Sub {
        Sub::Call(Arc::new(self))
    }
}

impl Call for Retag {
    fn requests(&self) -> Vec<Request> {
        vec![
            self.at
                .request("GET", &format!("manifests/{}", self.digest)),
            self.at.request("PUT", &format!("manifests/{}", self.tag)),
        ]
    }

    fn call(&self) -> Result<Vec<(String, String)>> {
        self.call_with(&BTreeMap::new())
    }

    fn call_with(&self, values: &BTreeMap<String, String>) -> Result<Vec<(String, String)>> {
        let digest = crate::run::exec::fill(&self.digest, values);
        if !digest.starts_with("sha256:") {
            bail!(
                "internal error: no digest to tag {}:{} with (`{digest}`)",
                self.at.name(),
                self.tag
            );
        }
        let mut client = self.at.client();
        let Some((m, body)) = client.manifest_raw(&self.at.repo.path, &digest)? else {
            bail!("{} holds no manifest {digest}", self.at.name());
        };
        let stored = client.put_manifest(&self.at.repo.path, &self.tag, &m.media_type, &body)?;
        if stored != digest {
            bail!(
                "{}:{} was stored as {stored}, not {digest}",
                self.at.name(),
                self.tag
            );
        }
        Ok(Vec::new())
    }
}

/// Copies one blob (a layer or an image config) into `to`: a cross-repository mount when both
/// repositories are on the same registry, else streamed from `from` (never through the disk).
#[derive(Debug, Clone)]
pub struct CopyBlob {
    pub from: Endpoint,
    pub to: Endpoint,
    pub digest: String,
}

impl CopyBlob {
    pub fn sub(self) -> Sub {
        Sub::Call(Arc::new(self))
    }

    fn same_registry(&self) -> bool {
        self.from.repo.registry == self.to.repo.registry
    }
}

impl Call for CopyBlob {
    fn requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        if self.same_registry() {
            out.push(self.to.request(
                "POST",
                &format!(
                    "blobs/uploads/?mount={}&from={}",
                    self.digest, self.from.repo.path
                ),
            ));
        } else {
            out.push(self.from.request("GET", &format!("blobs/{}", self.digest)));
            out.push(self.to.request("POST", "blobs/uploads/"));
            let mut put = self.to.request("PUT", "blobs/uploads/<upload>");
            put.url = format!("<upload location>&digest={}", self.digest);
            put.headers = vec![(
                "Content-Type".into(),
                Val::Plain("application/octet-stream".into()),
            )];
            out.push(put);
        }
        out
    }

    /// Records under [`blob_key`]: `mounted`, or `streamed <bytes>` (also when a mount was
    /// refused and the blob streamed instead).
    fn call(&self) -> Result<Vec<(String, String)>> {
        let mut to = self.to.client();
        let key = blob_key(&self.to, &self.digest);
        if self.same_registry()
            && to.mount_blob(&self.to.repo.path, &self.digest, &self.from.repo.path)?
        {
            return Ok(vec![(key, "mounted".into())]);
        }
        let mut from = self.from.client();
        let bytes = to.copy_blob_from(
            &mut from,
            &self.from.repo.path,
            &self.to.repo.path,
            &self.digest,
        )?;
        Ok(vec![(key, format!("streamed {bytes}"))])
    }
}

/// The value [`CopyBlob`] records: how `digest` reached `to`.
pub fn blob_key(to: &Endpoint, digest: &str) -> String {
    format!("registry.blob {} {digest}", to.name())
}

/// Stores a manifest whose exact bytes are already known (read from the source when the plan
/// was made) under each of `references` in order — its digest first, then tags — checking that
/// the registry computed `digest` each time. One `PUT` per reference, nothing read again.
#[derive(Debug, Clone)]
pub struct PutManifest {
    pub at: Endpoint,
    pub digest: String,
    pub media_type: String,
    pub body: Arc<str>,
    pub references: Vec<String>,
}

impl PutManifest {
    pub fn sub(self) -> Sub {
        Sub::Call(Arc::new(self))
    }
}

impl Call for PutManifest {
    fn requests(&self) -> Vec<Request> {
        self.references
            .iter()
            .map(|r| {
                let mut put = self.at.request("PUT", &format!("manifests/{r}"));
                put.headers = vec![("Content-Type".into(), Val::Plain(self.media_type.clone()))];
                put
            })
            .collect()
    }

    fn call(&self) -> Result<Vec<(String, String)>> {
        let mut to = self.at.client();
        for reference in &self.references {
            let stored =
                to.put_manifest(&self.at.repo.path, reference, &self.media_type, &self.body)?;
            if stored != self.digest {
                bail!(
                    "{}:{reference} was stored as {stored}, not {}",
                    self.at.name(),
                    self.digest
                );
            }
        }
        Ok(Vec::new())
    }
}

/// Copies a manifest, byte for byte, from `from` to `to` under its digest and then under each
/// of `tags` (children of an index first: the caller orders the calls).
#[derive(Debug, Clone)]
pub struct CopyManifest {
    pub from: Endpoint,
    pub to: Endpoint,
    pub digest: String,
    pub tags: Vec<String>,
}

impl CopyManifest {
    pub fn sub(self) -> Sub {
        Sub::Call(Arc::new(self))
    }
}

impl Call for CopyManifest {
    fn requests(&self) -> Vec<Request> {
        let mut out = vec![
            self.from
                .request("GET", &format!("manifests/{}", self.digest)),
            self.to
                .request("PUT", &format!("manifests/{}", self.digest)),
        ];
        for t in &self.tags {
            out.push(self.to.request("PUT", &format!("manifests/{t}")));
        }
        out
    }

    fn call(&self) -> Result<Vec<(String, String)>> {
        let mut from = self.from.client();
        let Some((m, body)) = from.manifest_raw(&self.from.repo.path, &self.digest)? else {
            bail!("{} holds no manifest {}", self.from.name(), self.digest);
        };
        let mut to = self.to.client();
        for reference in std::iter::once(&self.digest).chain(&self.tags) {
            let stored = to.put_manifest(&self.to.repo.path, reference, &m.media_type, &body)?;
            if stored != self.digest {
                bail!(
                    "{}:{reference} was stored as {stored}, not {}",
                    self.to.name(),
                    self.digest
                );
            }
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::sub_lines;
    use std::path::Path;

    fn at(reg: &str) -> Endpoint {
        Endpoint::new(Repo::parse(&format!("{reg}/acme/app")), None)
    }

    #[test]
    fn each_call_lists_the_requests_it_makes() {
        let lines = |s: Sub| sub_lines(&s, Path::new("/"));
        assert_eq!(
            lines(
                Retag {
                    at: at("127.0.0.1:5000"),
                    digest: "sha256:a".into(),
                    tag: "latest".into()
                }
                .sub()
            ),
            [
                "GET http://127.0.0.1:5000/v2/acme/app/manifests/sha256:a",
                "PUT http://127.0.0.1:5000/v2/acme/app/manifests/latest"
            ]
        );
        let mut same = at("127.0.0.1:5000");
        same.repo.path = "acme/app-staging".into();
        assert_eq!(
            lines(
                CopyBlob {
                    from: same,
                    to: at("127.0.0.1:5000"),
                    digest: "sha256:b".into()
                }
                .sub()
            ),
            ["POST http://127.0.0.1:5000/v2/acme/app/blobs/uploads/?mount=sha256:b&from=acme/app-staging"]
        );
        assert_eq!(
            lines(
                CopyBlob {
                    from: at("127.0.0.1:5000"),
                    to: at("127.0.0.1:5001"),
                    digest: "sha256:b".into()
                }
                .sub()
            ),
            [
                "GET http://127.0.0.1:5000/v2/acme/app/blobs/sha256:b",
                "POST http://127.0.0.1:5001/v2/acme/app/blobs/uploads/",
                "PUT <upload location>&digest=sha256:b"
            ]
        );
    }
}
