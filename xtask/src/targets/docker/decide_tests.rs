//! Table tests of the docker steps' pure `decide`: what they conclude from what they saw,
//! without any process, engine or registry.

use super::build::{BuildImage, BuildSeen, PlatformSeen};
use super::push::{Held, Push, PushSeen};
use super::remote::Remote;
use super::spec::ImageSpec;
use super::verify::{RegistrySeen, Verify, VerifySeen};
use crate::core::dockertags::{PlannedTag, TagKind};
use crate::facts::config::HealthConfig;
use crate::run::plan::{Decision, Reconcile, Sub};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn spec(platforms: &[&str]) -> ImageSpec {
    ImageSpec {
        root: "/r".into(),
        work: "/r/target/slipway".into(),
        image: "acme/app".into(),
        dockerfile: "/r/Dockerfile".into(),
        context: "/r".into(),
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
        build_args: Vec::new(),
        labels: Vec::new(),
        exact_tag: "v1.3.0".into(),
        needs_wheel: true,
        pep440: "1.3.0".into(),
        commit: "abcdef0123456789".into(),
        dist_dir: PathBuf::from("/r/target/slipway/dist/1.3.0"),
        health: HealthConfig {
            path: "/health".into(),
            port: 8080,
            timeout_s: 60,
            probe_image: None,
        },
        engine: crate::run::plan::Process::new("docker", std::path::Path::new("/r")),
    }
}

fn tags() -> Vec<PlannedTag> {
    vec![
        PlannedTag {
            tag: "v1.3.0".into(),
            kind: TagKind::Exact,
        },
        PlannedTag {
            tag: "latest".into(),
            kind: TagKind::Moving,
        },
    ]
}

fn push() -> Push {
    Push {
        spec: spec(&["linux/amd64"]),
        registries: vec!["127.0.0.1:5000".into()],
        tags: tags(),
        credentials: None,
    }
}

fn image(digest: &str, config: &str) -> Remote {
    Remote::Image {
        digest: digest.into(),
        config: config.into(),
    }
}

fn endpoint() -> super::calls::Endpoint {
    super::calls::Endpoint::new(
        super::registry::Repo::parse("127.0.0.1:5000/acme/app"),
        None,
    )
}

fn seen(held: Result<Vec<Remote>, String>) -> PushSeen {
    PushSeen {
        images: [("linux/amd64".to_string(), "sha256:built".to_string())]
            .into_iter()
            .collect(),
        registries: vec![(
            "127.0.0.1:5000".into(),
            held.map(|remotes| Held {
                endpoint: endpoint(),
                arch: Vec::new(),
                tags: tags().into_iter().zip(remotes).collect(),
            }),
        )],
    }
}

/// Every `docker` command line of a decision (lanes included), as `verb target`.
fn docker_runs(d: &Decision) -> Vec<String> {
    fn walk(subs: &[Sub], out: &mut Vec<String>) {
        for s in subs {
            match s {
                Sub::Run(r) => out.push(
                    r.process
                        .args
                        .iter()
                        .skip_while(|a| a.starts_with("--") || a.contains('='))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Sub::Parallel(p) => p.lanes.iter().for_each(|l| {
                    walk(&l.subs, out);
                    walk(&l.finally, out);
                }),
                Sub::Fail(m) => out.push(format!("fail {m}")),
                Sub::Call(c) => out.extend(
                    c.requests()
                        .iter()
                        .map(|r| format!("{} {}", r.method, r.url)),
                ),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(d.subs(), &mut out);
    out
}

#[test]
fn push_decides_from_what_each_tag_holds() {
    let p = push();
    let reg = "127.0.0.1:5000/acme/app";
    let api = "http://127.0.0.1:5000/v2/acme/app";
    // (what the tags hold, the docker commands it decides, or the refusal)
    type Row = (
        Result<Vec<Remote>, String>,
        Result<Vec<String>, &'static str>,
    );
    let table: Vec<Row> = vec![
        // absent → push the first, set the other to the digest the push recorded
        (
            Ok(vec![Remote::Absent, Remote::Absent]),
            Ok(vec![
                format!("tag sha256:built {reg}:v1.3.0"),
                format!("push {reg}:v1.3.0"),
                format!("GET {api}/manifests/<docker.digest.127.0.0.1:5000>"),
                format!("PUT {api}/manifests/latest"),
            ]),
        ),
        // same build everywhere → done, nothing to run
        (
            Ok(vec![
                image("sha256:m", "sha256:built"),
                image("sha256:m", "sha256:built"),
            ]),
            Ok(vec![]),
        ),
        // the moving tag holds another image → only it moves, to the exact tag's digest,
        // through the registry API (no docker push)
        (
            Ok(vec![
                image("sha256:m", "sha256:built"),
                image("sha256:o", "sha256:other"),
            ]),
            Ok(vec![
                format!("GET {api}/manifests/sha256:m"),
                format!("PUT {api}/manifests/latest"),
            ]),
        ),
        // another image on the fixed tag → refuse before anything is pushed
        (
            Ok(vec![image("sha256:o", "sha256:other"), Remote::Absent]),
            Err("nothing was pushed: 127.0.0.1:5000/acme/app:v1.3.0 already points at sha256:o"),
        ),
        // the registry could not be read → its lane fails alone
        (
            Err("registry 127.0.0.1:5000 is unreachable".into()),
            Ok(vec!["fail registry 127.0.0.1:5000 is unreachable".into()]),
        ),
    ];
    for (held, want) in table {
        let got = p.decide(&seen(held.clone()));
        match (got, want) {
            (Ok(d), Ok(want)) => {
                assert_eq!(docker_runs(&d), want, "{held:?}");
                if want.is_empty() {
                    assert!(
                        matches!(&d, Decision::Done { evidence, record }
                            if evidence.starts_with("every tag already holds this build")
                            && record == &[("docker.digest.127.0.0.1:5000".to_string(), "sha256:m".to_string())]),
                        "{d:?}"
                    );
                }
            }
            (Err(e), Err(want)) => assert!(format!("{e:#}").starts_with(want), "{e:#}"),
            (got, want) => panic!("{held:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn push_with_credentials_logs_in_and_out_around_the_pushes() {
    let mut p = push();
    p.credentials = Some(super::check::Login {
        user: "bob".into(),
        password: crate::run::plan::Val::Secret("pw-decide-test".into()),
    });
    let d = p
        .decide(&seen(Ok(vec![Remote::Absent, Remote::Absent])))
        .unwrap();
    let runs = docker_runs(&d);
    assert_eq!(
        runs.first().unwrap(),
        "login 127.0.0.1:5000 --username bob --password-stdin"
    );
    assert_eq!(runs.last().unwrap(), "logout 127.0.0.1:5000");
    assert!(!format!("{d:?}").contains("pw-decide-test"));
}

#[test]
fn a_multi_platform_index_is_made_from_the_digests_pushed_this_round() {
    let mut p = push();
    p.spec = spec(&["linux/amd64", "linux/arm64"]);
    let images: BTreeMap<String, String> =
        [("linux/amd64", "sha256:a"), ("linux/arm64", "sha256:b")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let seen = PushSeen {
        images,
        registries: vec![(
            "127.0.0.1:5000".into(),
            Ok(Held {
                endpoint: endpoint(),
                arch: vec![
                    (
                        "linux/amd64".into(),
                        "v1.3.0-amd64".into(),
                        image("sha256:da", "sha256:a"),
                    ),
                    ("linux/arm64".into(), "v1.3.0-arm64".into(), Remote::Absent),
                ],
                tags: tags().into_iter().map(|t| (t, Remote::Absent)).collect(),
            }),
        )],
    };
    let runs = docker_runs(&p.decide(&seen).unwrap());
    let reg = "127.0.0.1:5000/acme/app";
    assert_eq!(runs[0], format!("tag sha256:b {reg}:v1.3.0-arm64"));
    assert_eq!(runs[1], format!("push {reg}:v1.3.0-arm64"));
    assert_eq!(runs[2], format!("manifest rm {reg}:v1.3.0"));
    // The kept amd64 digest is known; the arm64 one is recorded by the push before it.
    assert_eq!(
        runs[3],
        format!("manifest create --insecure {reg}:v1.3.0 {reg}@sha256:da {reg}@<docker.pushed 127.0.0.1:5000 v1.3.0-arm64>")
    );
}

fn build() -> BuildImage {
    BuildImage {
        spec: spec(&["linux/amd64"]),
        pulls: vec![("linux/amd64".into(), "python:3.12-slim".into())],
    }
}

fn platform(
    earlier: Option<&str>,
    named: Option<&str>,
    missing: &[&str],
    built: Option<&str>,
) -> BuildSeen {
    BuildSeen {
        platforms: vec![PlatformSeen {
            platform: "linux/amd64".into(),
            key: "k1".into(),
            earlier: earlier.map(String::from),
            named: named.map(String::from),
            missing_bases: missing.iter().map(|s| s.to_string()).collect(),
            built: built.map(String::from),
        }],
        records: Default::default(),
    }
}

#[test]
fn build_reuses_a_recorded_build_and_records_a_new_one() {
    let b = build();
    // Recorded, in the engine, local name on it → done, the image recorded for later steps.
    let d = b
        .decide(&platform(Some("sha256:i"), Some("sha256:i"), &[], None))
        .unwrap();
    assert!(
        matches!(&d, Decision::Done { evidence, record }
            if evidence.starts_with("built earlier from abcdef0")
            && record == &[("docker.image.linux/amd64".to_string(), "sha256:i".to_string())]),
        "{d:?}"
    );
    // Recorded, but the local name moved → put it back.
    let d = b
        .decide(&platform(Some("sha256:i"), Some("sha256:x"), &[], None))
        .unwrap();
    assert_eq!(docker_runs(&d).len(), 1, "{d:?}");
    assert!(docker_runs(&d)[0].starts_with("tag sha256:i "), "{d:?}");
    // Nothing recorded, the base missing → pull it, build, record that it built.
    let d = b
        .decide(&platform(None, None, &["python:3.12-slim"], None))
        .unwrap();
    let runs = docker_runs(&d);
    assert!(runs[0].starts_with("pull "), "{runs:?}");
    assert!(runs[0].ends_with("python:3.12-slim"), "{runs:?}");
    assert!(
        runs[1].starts_with("build") || runs[1].contains("build"),
        "{runs:?}"
    );
    assert!(d
        .subs()
        .iter()
        .any(|s| matches!(s, Sub::Record(k, v) if k == "docker.built linux/amd64" && v == "k1")));
    // Built this run → the record is written.
    let d = b
        .decide(&platform(None, None, &[], Some("sha256:new")))
        .unwrap();
    assert!(
        d.subs().iter().any(|s| matches!(s, Sub::Write { content, .. } if content.contains("sha256:new") && content.contains("\"k1\""))),
        "{d:?}"
    );
}

fn verify_seen(pushed: Option<&str>, exact: Remote, latest: Remote) -> VerifySeen {
    VerifySeen {
        images: Some(
            [("linux/amd64".to_string(), "sha256:built".to_string())]
                .into_iter()
                .collect(),
        ),
        registries: vec![RegistrySeen {
            registry: "127.0.0.1:5000".into(),
            pushed: pushed.map(String::from),
            exact: exact.clone(),
            tags: vec![("v1.3.0".into(), exact), ("latest".into(), latest)],
            arch: Vec::new(),
        }],
    }
}

#[test]
fn verify_proves_every_tag_is_the_pushed_build() {
    let v = Verify {
        spec: spec(&["linux/amd64"]),
        registries: vec!["127.0.0.1:5000".into()],
        tags: tags(),
        credentials: None,
    };
    let ok = image("sha256:m", "sha256:built");
    let d = v
        .decide(&verify_seen(Some("sha256:m"), ok.clone(), ok.clone()))
        .unwrap();
    assert!(
        matches!(&d, Decision::Verified(e) if e.contains("v1.3.0, latest → sha256:m (image sha256:built)")),
        "{d:?}"
    );
    let table: Vec<(Option<&str>, Remote, Remote, &str)> = vec![
        (
            Some("sha256:m"),
            ok.clone(),
            Remote::Absent,
            "latest is missing on the registry",
        ),
        (
            Some("sha256:m"),
            ok.clone(),
            image("sha256:o", "sha256:built"),
            "latest resolves to sha256:o, but sha256:m was pushed",
        ),
        (
            None,
            image("sha256:m", "sha256:other"),
            image("sha256:m", "sha256:other"),
            "does not hold the built image",
        ),
        (
            None,
            Remote::Absent,
            Remote::Absent,
            "v1.3.0 is missing on the registry",
        ),
    ];
    for (pushed, exact, latest, want) in table {
        let e = v.decide(&verify_seen(pushed, exact, latest)).unwrap_err();
        assert!(format!("{e:#}").contains(want), "{e:#}");
    }
}

#[test]
fn validate_removes_stale_containers_checks_once_and_records_the_verdict() {
    use super::validate::{Validate, ValidateSeen};
    let v = Validate {
        spec: spec(&["linux/amd64"]),
        reuse_validated: true,
    };
    let seen = |stale: &[&str],
                verdict: Option<&str>,
                records: serde_json::Map<String, serde_json::Value>| {
        ValidateSeen {
            stale: stale.iter().map(|s| s.to_string()).collect(),
            platforms: vec![(
                "linux/amd64".into(),
                "sha256:built".into(),
                verdict.map(String::from),
            )],
            records,
        }
    };
    // A stale container and nothing validated yet: remove it, run the check.
    let d = v
        .decide(&seen(&["slipway-validate-1-0"], None, Default::default()))
        .unwrap();
    assert!(matches!(d, Decision::Apply { .. }), "{d:?}");
    assert_eq!(docker_runs(&d), ["rm -f slipway-validate-1-0"]);
    assert!(
        d.subs()
            .iter()
            .any(|s| matches!(s, Sub::Probe { key, .. } if key == "docker.validated linux/amd64")),
        "{d:?}"
    );
    // The check ran: its verdict is recorded.
    let d = v
        .decide(&seen(&[], Some("healthy after 1.0 s"), Default::default()))
        .unwrap();
    let Some(Sub::Write { content, .. }) = d.subs().last() else {
        panic!("{d:?}")
    };
    assert!(content.contains("healthy after 1.0 s"), "{content}");
    let records: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(content).unwrap();
    // Recorded with the same image and health check: nothing to do.
    let d = v.decide(&seen(&[], None, records.clone())).unwrap();
    assert!(
        matches!(&d, Decision::Done { evidence, .. } if evidence.starts_with("validated earlier (docker-validate)")),
        "{d:?}"
    );
    // Only stale containers to remove: removed, not read back.
    let d = v.decide(&seen(&["x"], None, records)).unwrap();
    assert!(matches!(d, Decision::Finish { .. }), "{d:?}");
}
