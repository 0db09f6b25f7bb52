//! `slipway-rig`: the rehearsal rig as a program. `cargo xtask provision`, `ci` and `rehearse`
//! build it (`cargo build -p slipway-rig`) and run it as a process; the tool itself never links
//! it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use xtask::run::ui::{Style, Ui};

const HELP: &str = "\
slipway-rig — the rehearsal rig of slipway (run by `cargo xtask provision`, `ci`, `rehearse`)

USAGE:
    slipway-rig provision [--dry-run] [--started <file>]
        Debian packages, a Docker daemon on /run/slipway/docker.sock (no bridge network), the
        local base image, the Python venvs; idempotent. SLIPWAY_ARM64=1 adds qemu-aarch64
        (machine-wide binfmt) and the arm64 base image. --started records what it started
        ({\"dockerd\": pid | null}) for `stop-started`.
    slipway-rig stop-started <file>
        stops what `provision --started <file>` recorded (waits until it has exited).
    slipway-rig up --state <file> --dir <dir> --tools <dir> --registry-port <n>
                   --auth-registry-port <n> --index-port <n> --github-port <n>
                   [--spec <openapi-subset.json>] [--keep-running]
        both registries, pypiserver and the GitHub stand-in on 127.0.0.1, their addresses as
        JSON in the state file; runs until stdin closes (or SIGTERM), then stops and reaps them.
        Passwords: SLIPWAY_RIG_REGISTRY_PASSWORD, SLIPWAY_RIG_INDEX_PASSWORD (environment).
    slipway-rig github-standin [--listen 127.0.0.1:<port>] [--spec <openapi-subset.json>]
        the GitHub REST API stand-in alone, until killed.";

fn main() -> ExitCode {
    let ui = Ui::detect(false);
    match run(std::env::args().skip(1).collect(), &ui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ui.error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// `--name value` pairs and flags, in any order.
struct Args {
    rest: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }
    fn value(&mut self, name: &str) -> Result<Option<String>> {
        match self.rest.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) if i + 1 < self.rest.len() => {
                let v = self.rest.remove(i + 1);
                self.rest.remove(i);
                Ok(Some(v))
            }
            Some(_) => bail!("{name} needs a value"),
        }
    }
    fn required(&mut self, name: &str) -> Result<String> {
        self.value(name)?
            .ok_or_else(|| anyhow!("{name} is required; see `slipway-rig --help`"))
    }
    fn port(&mut self, name: &str) -> Result<u16> {
        let v = self.required(name)?;
        v.parse()
            .with_context(|| format!("{name} {v}: not a port number"))
    }
    fn done(self, command: &str) -> Result<()> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => bail!("unexpected argument `{a}` for {command}; see `slipway-rig --help`"),
        }
    }
}

fn spec(arg: Option<String>) -> Result<PathBuf> {
    arg.map(PathBuf::from)
        .or_else(slipway_rig::standin::default_spec_path)
        .ok_or_else(|| {
            anyhow!("no GitHub API description found; pass --spec <openapi-subset.json>")
        })
}

fn run(argv: Vec<String>, ui: &Ui) -> Result<()> {
    let Some((command, rest)) = argv.split_first() else {
        println!("{HELP}");
        return Ok(());
    };
    let mut a = Args {
        rest: rest.to_vec(),
    };
    if a.flag("--help") || a.flag("-h") || command == "--help" || command == "-h" {
        println!("{HELP}");
        return Ok(());
    }
    match command.as_str() {
        "provision" => {
            let dry_run = a.flag("--dry-run");
            let started = a.value("--started")?.map(PathBuf::from);
            a.done("provision")?;
            provision(dry_run, started.as_deref(), ui)
        }
        "stop-started" => {
            let file = a
                .rest
                .pop()
                .ok_or_else(|| anyhow!("stop-started needs the --started file"))?;
            a.done("stop-started")?;
            let said = slipway_rig::provision::stop_started_file(Path::new(&file))?;
            ui.line(&format!("{} {said}", ui.paint(Style::Green, "ok:")));
            Ok(())
        }
        "up" => {
            let o = slipway_rig::up::Options {
                state: a.required("--state")?.into(),
                dir: a.required("--dir")?.into(),
                tools: a.required("--tools")?.into(),
                registry_port: a.port("--registry-port")?,
                auth_registry_port: a.port("--auth-registry-port")?,
                index_port: a.port("--index-port")?,
                github_port: a.port("--github-port")?,
                spec: spec(a.value("--spec")?)?,
                keep_running: a.flag("--keep-running"),
            };
            a.done("up")?;
            slipway_rig::up::run(&o)
        }
        "github-standin" => {
            let listen = a
                .value("--listen")?
                .unwrap_or_else(|| "127.0.0.1:0".into());
            let spec = spec(a.value("--spec")?)?;
            a.done("github-standin")?;
            slipway_rig::standin::serve_forever(&listen, &spec)
        }
        other => bail!(
            "unknown command `{other}`; commands: provision, stop-started, up, github-standin (see `slipway-rig --help`)"
        ),
    }
}

fn provision(dry_run: bool, started: Option<&Path>, ui: &Ui) -> Result<()> {
    let root = xtask::facts::git::toplevel(&std::env::current_dir()?)?;
    let plan = slipway_rig::provision::plan(&root, &xtask::cmd::ci::tools_dir(&root));
    if dry_run {
        ui.heading("provision — dry run");
        plan.render(ui, &root);
        return Ok(());
    }
    let outcome = xtask::run::exec::execute(&plan, ui, &root)?;
    if let Some(path) = started {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = slipway_rig::provision::started_json(&outcome.values);
        std::fs::write(path, serde_json::to_string(&json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    ui.line(&format!(
        "{} provisioned; the Docker engine answers at {} (export DOCKER_HOST={} to use it by hand)",
        ui.paint(Style::Green, "ok:"),
        xtask::targets::docker::engine::planned_host(),
        xtask::targets::docker::engine::planned_host()
    ));
    Ok(())
}
