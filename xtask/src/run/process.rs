//! The one process boundary: every child process of the tool is started here, never through a
//! shell.
//!
//! - **captured** ([`output`], [`captured`], [`succeeds`]): run to completion with the output
//!   captured (`xshell`);
//! - **streamed** ([`streamed`]): output relayed live (`duct`);
//! - **read** ([`reader`]): stdout consumed as it comes, the child killed and reaped when the
//!   reader is dropped early (`duct`);
//! - **supervised** ([`supervise`], [`watchdog`]): a background child behind a [`Supervised`]
//!   handle that is killed and reaped on drop (`duct`);
//! - **daemon** ([`daemon`]): a service in its own process group, its output appended to a log,
//!   stopped with SIGTERM then SIGKILL ([`Supervised::terminate`]), reaped either way (`duct`);
//! - **bounded** ([`output_within`]): captured, but killed and reaped after a time limit (`duct`).
//!
//! The rehearsal rig (`rig/`, crate `slipway-rig`) starts its children here too.
//!
//! What every mode shares lives here once: secrets are revealed only to the child and masked in
//! every error, a program that cannot be started is "not installed (is it on PATH?)", and the
//! time spent waiting for children is accounted ([`crate::run::exec::child_time`]).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::run::plan::Process;
use crate::run::ui;

/// The hidden first argument that turns the binary into a [`watchdog`].
pub const WATCHDOG_ARG: &str = "__slipway-watchdog";

/// A finished captured process.
#[derive(Debug, Clone)]
pub struct Output {
    pub ok: bool,
    /// None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The last `n` non-blank lines the program printed (stdout, then stderr), secrets masked.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .chain(self.stderr.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        ui::redact(lines[lines.len().saturating_sub(n)..].join("\n").trim())
    }

    /// `status 3` or `a signal`.
    pub fn status(&self) -> String {
        self.code
            .map_or("a signal".to_string(), |c| format!("status {c}"))
    }
}

/// Where `name` would be found on `path` (a `PATH` value): an executable file; a name with a
/// `/` is taken as a path.
pub fn find_program(name: &str, path: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let ok = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        return ok(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| ok(p))
}

/// Where `name` is on this process's `PATH`.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    find_program(name, &std::env::var("PATH").unwrap_or_default())
}

/// Is `name` installed (on this process's `PATH`)?
pub fn installed(name: &str) -> bool {
    find_program(name, &std::env::var("PATH").unwrap_or_default()).is_some()
}

/// The error for a program that could not be started.
fn not_started(p: &Process, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow!(
            "cannot run `{}`: it is not installed (is it on PATH?)",
            p.program
        )
    } else {
        anyhow!(
            "cannot run `{}`: {} (is it installed and on PATH?)",
            p.program,
            ui::redact(&e.to_string())
        )
    }
}

/// Runs `p` to completion with its output captured; the exit status is not checked. `Err` only
/// when the program cannot be started.
pub fn output(p: &Process) -> Result<Output> {
    let started = Instant::now();
    let result = output_inner(p);
    count_child_span(started, Instant::now());
    result
}

fn output_inner(p: &Process) -> Result<Output> {
    if let Some(stage) = stage_deadline() {
        return match output_within_group_inner(p, stage.remaining())? {
            Some(out) => Ok(out),
            None => Err(stage.expired(p).into()),
        };
    }
    let sh = xshell::Shell::new().context("cannot start a command shell")?;
    sh.change_dir(&p.cwd);
    let mut cmd = sh.cmd(&p.program).args(&p.args).quiet().ignore_status();
    for k in &p.env_remove {
        cmd = cmd.env_remove(k);
    }
    for (k, v) in &p.env {
        cmd = cmd.env(k, v.reveal());
    }
    if let Some(stdin) = &p.stdin {
        cmd = cmd.stdin(stdin.reveal());
    }
    let out = cmd.output().map_err(|e| {
        let text = e.to_string();
        let kind = if text.starts_with("command not found") {
            std::io::ErrorKind::NotFound
        } else {
            std::io::ErrorKind::Other
        };
        not_started(p, &std::io::Error::new(kind, text))
    })?;
    Ok(Output {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Like [`output`], but a child still running after `limit` is killed and reaped, and that is the
/// error (a hung program cannot hang its caller).
pub fn output_within(p: &Process, limit: Duration) -> Result<Output> {
    let started = Instant::now();
    let result = output_within_inner(p, limit);
    count_child_span(started, Instant::now());
    result
}

fn output_within_inner(p: &Process, limit: Duration) -> Result<Output> {
    let deadline = Instant::now() + limit;
    let handle = expression(p)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| not_started(p, &e))?;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(o) = handle
            .try_wait()
            .with_context(|| format!("cannot wait for `{}`", p.program))?
        {
            return Ok(Output {
                ok: o.status.success(),
                code: o.status.code(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            });
        }
        if Instant::now() >= deadline {
            let _ = handle.kill();
            let _ = handle.wait();
            bail!(
                "`{}` did not finish within {}, so it was killed: is it waiting for input or for a \
                 service that does not answer?",
                p.program,
                ui::human_duration(limit)
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`output_within`], for a program that may start children of its own (a deploy script
/// running helm): it runs in its own process group, and on expiry the whole group is killed
/// (SIGKILL) and the child reaped, so no grandchild keeps running or holds the output pipes.
/// `Ok(None)` is the expiry; `Err` only when the program cannot be started.
pub fn output_within_group(p: &Process, limit: Duration) -> Result<Option<Output>> {
    Ok(match bounded_group(p, limit)? {
        Bounded::Done(out) => Some(out),
        Bounded::Expired(_) => None,
    })
}

/// How a [`bounded_group`] run ended.
#[derive(Debug, Clone)]
pub enum Bounded {
    Done(Output),
    /// Killed (with its group) at the limit; what it had printed by then.
    Expired(Output),
}

/// [`output_within_group`], keeping what a killed program had printed (a gate's output up to
/// its timeout).
pub fn bounded_group(p: &Process, limit: Duration) -> Result<Bounded> {
    let started = Instant::now();
    let result = bounded_group_inner(p, limit);
    count_child_span(started, Instant::now());
    result
}

fn output_within_group_inner(p: &Process, limit: Duration) -> Result<Option<Output>> {
    Ok(match bounded_group_inner(p, limit)? {
        Bounded::Done(out) => Some(out),
        Bounded::Expired(_) => None,
    })
}

fn bounded_group_inner(p: &Process, limit: Duration) -> Result<Bounded> {
    let deadline = Instant::now() + limit;
    let handle = expression(p)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
        .start()
        .map_err(|e| not_started(p, &e))?;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(o) = handle
            .try_wait()
            .with_context(|| format!("cannot wait for `{}`", p.program))?
        {
            return Ok(Bounded::Done(Output {
                ok: o.status.success(),
                code: o.status.code(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            }));
        }
        if Instant::now() >= deadline {
            kill_group(&handle);
            let (stdout, stderr) = match handle.wait() {
                Ok(o) => (
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                ),
                Err(_) => Default::default(),
            };
            return Ok(Bounded::Expired(Output {
                ok: false,
                code: None,
                stdout,
                stderr,
            }));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// [`streamed`] in its own process group, the whole group killed (SIGKILL) and the child reaped
/// after `limit`: `Ok(None)` is the expiry, `Err` a failure to start or a non-zero exit.
fn streamed_within_group(p: &Process, limit: Duration) -> Result<Option<()>> {
    let deadline = Instant::now() + limit;
    let handle = expression(p)
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
        .start()
        .map_err(|e| not_started(p, &e))?;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(o) = handle
            .try_wait()
            .with_context(|| format!("cannot wait for `{}`", p.program))?
        {
            if !o.status.success() {
                let code = o
                    .status
                    .code()
                    .map_or("a signal".to_string(), |c| format!("status {c}"));
                bail!("`{}` exited with {code}", p.program);
            }
            return Ok(Some(()));
        }
        if Instant::now() >= deadline {
            kill_group(&handle);
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kills the process group a handle's child leads (`process_group(0)`), then the child, and
/// reaps it.
fn kill_group(handle: &duct::Handle) {
    // The group's id is the child's pid; it is not reaped yet, so the id cannot have been reused.
    if let Some(pid) = handle.pids().first() {
        let _ = output_unbounded(&Process::new("kill", Path::new("/")).args([
            "-KILL",
            "--",
            &format!("-{pid}"),
        ]));
    }
    let _ = handle.kill();
    let _ = handle.wait();
}

/// The running stage's deadline (`[workspace.metadata.release.timeouts]`), set by the executor
/// for the steps of a stage with a limit: every captured and streamed child started meanwhile
/// runs in its own process group and is killed with its children, and reaped, when the stage's
/// time is up.
#[derive(Debug, Clone)]
pub struct StageDeadline {
    pub stage: String,
    pub limit: Duration,
    pub deadline: Instant,
}

impl StageDeadline {
    /// The time left (zero once past).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
    pub fn is_past(&self) -> bool {
        Instant::now() >= self.deadline
    }
    /// The error of a child killed because the stage ran out of time.
    pub fn expired(&self, p: &Process) -> StageTimeout {
        StageTimeout {
            stage: self.stage.clone(),
            limit: self.limit,
            running: format!("`{}`", ui::redact(&p.command_line())),
        }
    }
}

/// A stage past its time: `timed out after 5 s in build while running `python3 -m build …``.
#[derive(Debug, Clone)]
pub struct StageTimeout {
    pub stage: String,
    pub limit: Duration,
    /// The step or command that was running.
    pub running: String,
}

impl std::fmt::Display for StageTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out after {} s in {} while running {} (its processes were killed; a re-run \
             completes what is missing — raise [workspace.metadata.release.timeouts] {} if the \
             stage needs longer)",
            self.limit.as_secs(),
            self.stage,
            self.running,
            self.stage
        )
    }
}

impl std::error::Error for StageTimeout {}

static STAGE: std::sync::Mutex<Option<StageDeadline>> = std::sync::Mutex::new(None);

/// Sets (or, with `None`, clears) the running stage's deadline.
pub fn set_stage_deadline(stage: Option<StageDeadline>) {
    *STAGE.lock().unwrap_or_else(|e| e.into_inner()) = stage;
}

/// The running stage's deadline, if it has a limit.
pub fn stage_deadline() -> Option<StageDeadline> {
    STAGE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// [`output`] ignoring any stage deadline (the `kill` that enforces one).
fn output_unbounded(p: &Process) -> Result<Output> {
    let sh = xshell::Shell::new().context("cannot start a command shell")?;
    let out = sh
        .cmd(&p.program)
        .args(&p.args)
        .quiet()
        .ignore_status()
        .output()?;
    Ok(Output {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Sends `signal` (a name or number as `kill(1)` takes it: `TERM`, `KILL`, `0` to probe) to
/// `pid`; true when it was delivered.
pub fn signal(pid: u32, signal: &str) -> bool {
    output_unbounded(
        &Process::new("kill", Path::new("/")).args([format!("-{signal}"), pid.to_string()]),
    )
    .is_ok_and(|o| o.ok)
}

/// Runs `p` to completion and returns its stdout; on a non-zero exit, the error relays the last
/// lines it printed, secrets masked.
pub fn captured(p: &Process) -> Result<String> {
    let out = output(p)?;
    if out.ok {
        return Ok(out.stdout);
    }
    let tail = out.tail(20);
    let relayed = if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    };
    bail!("`{}` exited with {}{relayed}", p.program, out.status());
}

/// Does `p` run and exit 0? (Output discarded; a program that cannot start is `false`.)
pub fn succeeds(p: &Process) -> bool {
    output(p).is_ok_and(|o| o.ok)
}

/// A duct expression for `p` (program, arguments, directory, environment; stdin from the plan).
fn expression(p: &Process) -> duct::Expression {
    let e = without_stdin(p);
    match &p.stdin {
        Some(v) => e.stdin_bytes(v.reveal().as_bytes().to_vec()),
        None => e.stdin_null(),
    }
}

/// `p` as a duct expression with no stdin redirection yet (in duct the redirection nearest the
/// command wins, so a caller that brings its own stdin starts from this).
fn without_stdin(p: &Process) -> duct::Expression {
    let mut e = duct::cmd(&p.program, &p.args).dir(&p.cwd);
    // A variable both removed from the inherited environment and set is set (as with
    // `std::process::Command`, where the later call wins; in duct the nearest one would).
    for k in &p.env_remove {
        if !p.env.iter().any(|(set, _)| set == k) {
            e = e.env_remove(k);
        }
    }
    for (k, v) in &p.env {
        e = e.env(k, v.reveal());
    }
    e
}

/// Runs `p` with its stdout and stderr relayed live (long steps show their progress).
pub fn streamed(p: &Process) -> Result<()> {
    let started = Instant::now();
    if let Some(stage) = stage_deadline() {
        let result = streamed_within_group(p, stage.remaining());
        count_child_span(started, Instant::now());
        return match result? {
            Some(()) => Ok(()),
            None => Err(stage.expired(p).into()),
        };
    }
    let result = expression(p).unchecked().run();
    count_child_span(started, Instant::now());
    let out = result.map_err(|e| not_started(p, &e))?;
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map_or("a signal".to_string(), |c| format!("status {c}"));
        bail!("`{}` exited with {code}", p.program);
    }
    Ok(())
}

/// Like [`streamed`], but its time is not counted as child time: for a child that is itself this
/// tool and reports the time it waited for its own children (`rehearse`'s stages).
pub fn relayed(p: &Process) -> Result<()> {
    let out = expression(p)
        .unchecked()
        .run()
        .map_err(|e| not_started(p, &e))?;
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map_or("a signal".to_string(), |c| format!("status {c}"));
        bail!("`{}` exited with {code}", p.program);
    }
    Ok(())
}

/// A child whose stdout is read as it comes ([`reader`]).
pub struct Reader {
    handle: Option<duct::ReaderHandle>,
    program: String,
    started: Instant,
}

/// Starts `p` with stdout piped to the returned [`Reader`] (stderr captured for the error).
/// Dropping the reader before the end kills and reaps the child.
pub fn reader(p: &Process) -> Result<Reader> {
    let handle = expression(p)
        .stderr_capture()
        .unchecked()
        .reader()
        .map_err(|e| not_started(p, &e))?;
    Ok(Reader {
        handle: Some(handle),
        program: p.program.clone(),
        started: Instant::now(),
    })
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.handle.as_mut() {
            Some(h) => h.read(buf),
            None => Ok(0),
        }
    }
}

impl Reader {
    /// After reading to the end: the exit status, checked (the error relays stderr).
    pub fn finish(mut self) -> Result<()> {
        let Some(mut h) = self.handle.take() else {
            return Ok(());
        };
        std::io::copy(&mut h, &mut std::io::sink())?;
        let out = h.try_wait()?.cloned();
        count_child_span(self.started, Instant::now());
        match out {
            Some(o) if o.status.success() => Ok(()),
            Some(o) => bail!(
                "`{}` failed: {}",
                self.program,
                ui::redact(String::from_utf8_lossy(&o.stderr).trim())
            ),
            None => bail!("`{}` did not finish", self.program),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // Stopped early: kill it, then drain the pipe to its end, where duct reaps it.
            let _ = h.kill();
            let _ = std::io::copy(&mut &h, &mut std::io::sink());
            count_child_span(self.started, Instant::now());
        }
    }
}

/// A background child, killed (if still running) and reaped when dropped.
pub struct Supervised {
    handle: Option<duct::Handle>,
    program: String,
    started: Instant,
    /// Count its life as time spent waiting for a child (not for an idle watchdog).
    counted: bool,
    /// Our end of a watchdog's stdin: closing it (by ending, in any way) fires the watchdog.
    fuse: Option<os_pipe::PipeWriter>,
}

/// Starts `p` in the background, stdin empty, stdout and stderr appended to `log`.
pub fn supervise(p: &Process, log: &Path) -> Result<Supervised> {
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let handle = expression(p)
        .stdout_file(out.try_clone()?)
        .stderr_file(out)
        .unchecked()
        .start()
        .map_err(|e| not_started(p, &e))?;
    Ok(Supervised {
        handle: Some(handle),
        program: p.program.clone(),
        started: Instant::now(),
        counted: true,
        fuse: None,
    })
}

/// Starts `p` as a service: in the background, in its own process group (a Ctrl-C meant for us
/// does not reach it), stdin from the plan or empty, stdout and stderr appended to `log`. Its life
/// is not counted as child time (only the waits on it are, by the caller). Stop it with
/// [`Supervised::terminate`]; dropping the handle kills and reaps it. A handle that is never
/// dropped (kept in a `static`) leaves it running after this process exits.
pub fn daemon(p: &Process, log: &Path) -> Result<Supervised> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {} (is its directory writable?)", log.display()))?;
    let handle = expression(p)
        .stdout_file(out.try_clone()?)
        .stderr_file(out)
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
        .start()
        .map_err(|e| not_started(p, &e))?;
    Ok(Supervised {
        handle: Some(handle),
        program: p.program.clone(),
        started: Instant::now(),
        counted: false,
        fuse: None,
    })
}

/// Starts `p` in the background, in its own process group (a Ctrl-C meant for us does not reach
/// it), stdout and stderr appended to `log`, its stdin a pipe only we hold: its lifeline.
/// [`Supervised::close_stdin_and_wait`] closes it (the child then stops by itself); if this
/// process dies, the pipe closes too. Dropping the handle kills and reaps it; [`Supervised::detach`]
/// leaves it running.
pub fn supervise_with_lifeline(p: &Process, log: &Path) -> Result<Supervised> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let (read, write) = os_pipe::pipe().context("cannot create a pipe")?;
    let handle = without_stdin(p)
        .stdin_file(read)
        .stdout_file(out.try_clone()?)
        .stderr_file(out)
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
        .start()
        .map_err(|e| not_started(p, &e))?;
    Ok(Supervised {
        handle: Some(handle),
        program: p.program.clone(),
        started: Instant::now(),
        counted: false,
        fuse: Some(write),
    })
}

/// Arms a watchdog for `on_exit`: this binary again ([`WATCHDOG_ARG`]), in its own process group
/// (a Ctrl-C to ours does not reach it), holding the read end of a pipe whose write end only
/// this process has. When this process ends in any way (Ctrl-C, SIGTERM, SIGKILL) the pipe
/// closes and the watchdog runs `on_exit` (e.g. `docker rm -f NAME`). Dropping the handle
/// disarms it: the watchdog is killed and reaped before it can fire.
pub fn watchdog(on_exit: &Process) -> Result<Supervised> {
    let exe = std::env::current_exe().context("cannot find this program to start a watchdog")?;
    let (read, write) = os_pipe::pipe().context("cannot create a pipe for a watchdog")?;
    let mut args = vec![WATCHDOG_ARG.to_string(), on_exit.program.clone()];
    args.extend(on_exit.args.iter().cloned());
    let mut e = duct::cmd(&exe, &args).dir(&on_exit.cwd);
    for (k, v) in &on_exit.env {
        e = e.env(k, v.reveal());
    }
    let handle = e
        .stdin_file(read)
        .stdout_null()
        .stderr_null()
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
        .start()
        .map_err(|err| anyhow!("cannot start a watchdog: {err}"))?;
    Ok(Supervised {
        handle: Some(handle),
        program: exe.display().to_string(),
        started: Instant::now(),
        counted: false,
        fuse: Some(write),
    })
}

/// The watchdog's body (`<binary> __slipway-watchdog PROGRAM ARGS…`): wait for stdin to close,
/// then run the program once, output discarded.
pub fn watchdog_main(args: &[std::ffi::OsString]) -> std::process::ExitCode {
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    let Some((program, rest)) = args.split_first() else {
        return std::process::ExitCode::from(2);
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let p = Process::new(&program.to_string_lossy(), &cwd)
        .args(rest.iter().map(|a| a.to_string_lossy().into_owned()));
    if succeeds(&p) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

impl Supervised {
    /// The program, as started.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The exit status if it has ended (`Some(None)`: killed by a signal).
    pub fn exited(&self) -> Option<Option<i32>> {
        let h = self.handle.as_ref()?;
        h.try_wait().ok().flatten().map(|o| o.status.code())
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.handle.as_ref().and_then(|h| h.pids().first().copied())
    }

    /// Closes its stdin (its lifeline), waits up to `grace` for it to end, then kills it; always
    /// reaps it. `Some(code)` when it ended by itself (`Some(None)`: by a signal).
    pub fn close_stdin_and_wait(&mut self, grace: Duration) -> Option<Option<i32>> {
        self.fuse.take();
        let h = self.handle.take()?;
        let deadline = Instant::now() + grace;
        loop {
            if let Ok(Some(o)) = h.try_wait() {
                return Some(o.status.code());
            }
            if Instant::now() >= deadline {
                let _ = h.kill();
                let _ = h.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Leaves it running after this process ends (its lifeline is closed: a child that stops on
    /// EOF must have been started with its stdin elsewhere). Returns its pid.
    pub fn detach(mut self) -> Option<u32> {
        let pid = self.pid();
        // Dropping a duct handle neither kills nor waits.
        self.handle.take();
        pid
    }

    /// Waits up to `grace` for it to end by itself, then kills it; always reaps it.
    pub fn stop(&mut self, grace: Duration) {
        let Some(h) = self.handle.take() else {
            return;
        };
        let deadline = Instant::now() + grace;
        while h.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = h.kill();
        let _ = h.wait();
        if self.counted {
            count_child_span(self.started, Instant::now());
        }
        // Disarmed: the watchdog is gone before its pipe closes.
        self.fuse.take();
    }
}

impl Supervised {
    /// Asks it to stop (SIGTERM), waits up to `grace` for it to end, then kills it (SIGKILL);
    /// always reaps it. `Some(code)` when it ended within the grace (`Some(None)`: by a signal, as
    /// a program without a SIGTERM handler does, or earlier by itself); `None` when it had to be
    /// killed, or was stopped before. A watchdog's fuse is closed only after it is gone (it does
    /// not fire).
    pub fn terminate(&mut self, grace: Duration) -> Option<Option<i32>> {
        let h = self.handle.take()?;
        // Unreaped until the `try_wait` that sees it end, so the pid cannot have been reused.
        let mut ended = h.try_wait().ok().flatten().map(|o| o.status.code());
        if ended.is_none() {
            if let Some(pid) = h.pids().first() {
                signal(*pid, "TERM");
            }
            let deadline = Instant::now() + grace;
            loop {
                if let Ok(Some(o)) = h.try_wait() {
                    ended = Some(o.status.code());
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = h.kill();
                    let _ = h.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if self.counted {
            count_child_span(self.started, Instant::now());
        }
        self.fuse.take();
        ended
    }
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised")
            .field("program", &self.program)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

// Child-time accounting: when child processes ran, for the benchmark that separates the
// tool's own time from the tools it drives.

/// When child processes (docker, python, git, gh…) ran, for the benchmark that separates the
/// tool's own time from the tools it drives.
static CHILD_SPANS: std::sync::Mutex<Vec<(Instant, Instant)>> = std::sync::Mutex::new(Vec::new());

/// Records that a child process ran from `start` to `end`.
pub fn count_child_span(start: Instant, end: Instant) {
    CHILD_SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((start, end));
}

/// Records a child process that ran for `took`, ending now.
pub fn count_child(took: Duration) {
    let end = Instant::now();
    count_child_span(end.checked_sub(took).unwrap_or(end), end);
}

/// Runs `f` (which waits for a child process or a service's answer) and records its span.
pub fn timed<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    count_child_span(start, Instant::now());
    out
}

/// The sum of the child processes' wall times (parallel ones each count).
pub fn child_time() -> Duration {
    CHILD_SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(s, e)| e.duration_since(*s))
        .sum()
}

/// The child processes' spans as Unix-epoch nanoseconds, merged (so that spans reported by
/// several processes, e.g. `rehearse`'s parallel stage processes, can be united).
pub fn child_spans_unix() -> Vec<(u128, u128)> {
    let (now_i, now_s) = (Instant::now(), std::time::SystemTime::now());
    let now_ns = now_s
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let at = |i: Instant| now_ns.saturating_sub(now_i.saturating_duration_since(i).as_nanos());
    let spans: Vec<(u128, u128)> = CHILD_SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(s, e)| (at(*s), at(*e)))
        .collect();
    merge_spans(spans)
}

/// Overlapping or touching spans merged into one, sorted.
pub fn merge_spans(mut spans: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    spans.sort();
    let mut out: Vec<(u128, u128)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// How long at least one child process was running (the union of their spans).
pub fn child_busy() -> Duration {
    let mut spans = CHILD_SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    spans.sort();
    let mut busy = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (s, e) in spans {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                busy += ce.duration_since(cs);
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        busy += ce.duration_since(cs);
    }
    busy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_when_they_overlap_or_touch() {
        assert_eq!(
            merge_spans(vec![(5, 9), (1, 3), (2, 4), (9, 10), (20, 21)]),
            [(1, 4), (5, 10), (20, 21)]
        );
        assert!(merge_spans(Vec::new()).is_empty());
    }
    use crate::run::plan::Val;

    #[test]
    fn captured_relays_the_tail_and_masks_secrets() {
        let dir = tempfile::tempdir().unwrap();
        crate::run::ui::register_secret("pa55w0rd-xyz");
        let p = Process::new("python3", dir.path())
            .args([
                "-c",
                "import os,sys; print(os.environ['T']); sys.stderr.write('boom\\n'); sys.exit(3)",
            ])
            .env("T", Val::Secret("pa55w0rd-xyz".into()));
        let err = format!("{:#}", captured(&p).unwrap_err());
        assert!(err.contains("exited with status 3:\n***\nboom"), "{err}");
        let out = output(&p).unwrap();
        assert_eq!(out.stdout.trim(), "pa55w0rd-xyz");
        assert!(!out.ok);
    }

    #[test]
    fn a_missing_program_is_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let p = Process::new("definitely-not-a-program-xyz", dir.path());
        for err in [
            format!("{:#}", output(&p).unwrap_err()),
            format!("{:#}", streamed(&p).unwrap_err()),
            format!("{:#}", reader(&p).err().unwrap()),
        ] {
            assert!(
                err.contains("cannot run `definitely-not-a-program-xyz`: it is not installed (is it on PATH?)"),
                "{err}"
            );
        }
        assert!(!succeeds(&p));
    }

    #[test]
    fn a_reader_dropped_early_kills_and_reaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = reader(&Process::new("yes", dir.path())).unwrap();
        let mut buf = [0u8; 16];
        r.read_exact(&mut buf).unwrap();
        drop(r);
        let mut r = reader(&Process::new("printf", dir.path()).args(["a\\0b"])).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "a\0b");
        r.finish().unwrap();
    }

    #[test]
    fn a_supervised_child_is_killed_and_reaped_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let s = supervise(&Process::new("sleep", dir.path()).args(["30"]), &log).unwrap();
        assert_eq!(s.exited(), None);
        let started = Instant::now();
        drop(s);
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut s = supervise(&Process::new("true", dir.path()), &log).unwrap();
        s.stop(Duration::from_secs(5));
        assert_eq!(s.exited(), None, "reaped: no handle left");
    }

    #[test]
    fn a_removed_variable_that_is_set_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let p = Process::new("printenv", dir.path())
            .args(["SLIPWAY_T1"])
            .env_removed("SLIPWAY_T1")
            .env("SLIPWAY_T1", Val::Plain("ours".into()));
        assert_eq!(captured(&p).unwrap().trim(), "ours");
    }

    #[test]
    fn a_lifeline_child_runs_until_its_stdin_closes() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // `cat` ends at EOF on its stdin: only our closing it ends it.
        let mut s = supervise_with_lifeline(&Process::new("cat", dir.path()), &log).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(s.exited(), None, "it must not see EOF before we close it");
        assert_eq!(
            s.close_stdin_and_wait(Duration::from_secs(5)),
            Some(Some(0))
        );
    }

    /// The process group of `pid`, from `/proc/<pid>/stat` (the fifth field).
    fn pgrp(pid: u32) -> u32 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = stat.rsplit_once(')').unwrap().1;
        rest.split_whitespace().nth(2).unwrap().parse().unwrap()
    }

    #[test]
    fn a_daemon_appends_to_its_log_in_its_own_group_and_terminate_sends_term() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        std::fs::write(&log, "before\n").unwrap();
        // Says it is up, then waits for SIGTERM and says so on the way out.
        let script = "import signal,sys,time\n\
                      def bye(*_):\n    print('got TERM', flush=True); sys.exit(0)\n\
                      signal.signal(signal.SIGTERM, bye)\n\
                      print('up', flush=True)\n\
                      time.sleep(30)";
        let mut d = daemon(
            &Process::new("python3", dir.path()).args(["-c", script]),
            &log,
        )
        .unwrap();
        let pid = d.pid().unwrap();
        let started = Instant::now();
        while !std::fs::read_to_string(&log).unwrap().contains("up") {
            assert!(started.elapsed() < Duration::from_secs(10), "never up");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(pgrp(pid), pid, "its own process group");
        let t = Instant::now();
        assert_eq!(d.terminate(Duration::from_secs(10)), Some(Some(0)));
        assert!(t.elapsed() < Duration::from_secs(5), "TERM, not the grace");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "before\nup\ngot TERM\n"
        );
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "reaped, not a zombie"
        );
        assert_eq!(d.pid(), None);
        assert_eq!(d.terminate(Duration::ZERO), None, "once");
    }

    #[test]
    fn terminate_kills_what_ignores_term_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let script = "import signal,time\n\
                      signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
                      print('up', flush=True)\n\
                      time.sleep(30)";
        let mut d = daemon(
            &Process::new("python3", dir.path()).args(["-c", script]),
            &log,
        )
        .unwrap();
        let pid = d.pid().unwrap();
        let started = Instant::now();
        while !std::fs::read_to_string(&log).unwrap().contains("up") {
            assert!(started.elapsed() < Duration::from_secs(10), "never up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let t = Instant::now();
        assert_eq!(d.terminate(Duration::from_millis(300)), None, "killed");
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
        // A child that ended by itself keeps its status.
        let mut d = daemon(&Process::new("false", dir.path()), &log).unwrap();
        let t = Instant::now();
        while d.exited().is_none() {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(d.terminate(Duration::from_secs(5)), Some(Some(1)));
        let mut d = daemon(&Process::new("sleep", dir.path()).args(["30"]), &log).unwrap();
        assert_eq!(
            d.terminate(Duration::from_secs(5)),
            Some(None),
            "no handler: ended by the signal"
        );
    }

    #[test]
    fn output_within_kills_and_reaps_a_child_that_overruns() {
        let dir = tempfile::tempdir().unwrap();
        let p = Process::new("python3", dir.path()).args([
            "-c",
            "import sys; print('out'); sys.stderr.write('err'); sys.exit(3)",
        ]);
        let out = output_within(&p, Duration::from_secs(30)).unwrap();
        assert_eq!((out.ok, out.code), (false, Some(3)));
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", "err"));
        let t = Instant::now();
        let err = format!(
            "{:#}",
            output_within(
                &Process::new("sleep", dir.path()).args(["30"]),
                Duration::from_millis(200)
            )
            .unwrap_err()
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(
            err.starts_with("`sleep` did not finish within 200"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            output_within(
                &Process::new("definitely-not-a-program-xyz", dir.path()),
                Duration::from_secs(1)
            )
            .unwrap_err()
        );
        assert!(err.contains("it is not installed"), "{err}");
    }

    #[test]
    fn output_within_group_kills_the_grandchildren_too() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        // A program that starts a grandchild holding the output pipe, then waits for it.
        let script = "import subprocess,sys\n\
                      p = subprocess.Popen(['sleep', '30'])\n\
                      open(sys.argv[1], 'w').write(str(p.pid))\n\
                      p.wait()";
        let p = Process::new("python3", dir.path())
            .args(["-c", script])
            .args([pidfile.display().to_string()]);
        let t = Instant::now();
        assert!(output_within_group(&p, Duration::from_secs(3))
            .unwrap()
            .is_none());
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        let grandchild = std::fs::read_to_string(&pidfile).unwrap();
        let alive = std::fs::read_to_string(format!("/proc/{}/stat", grandchild.trim()))
            .is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'));
        assert!(!alive, "the grandchild was killed");
        let out = output_within_group(
            &Process::new("python3", dir.path()).args(["-c", "print('hi'); exit(4)"]),
            Duration::from_secs(30),
        )
        .unwrap()
        .unwrap();
        assert_eq!((out.code, out.stdout.as_str()), (Some(4), "hi\n"));
    }

    #[test]
    fn signal_reaches_a_live_pid_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = supervise(
            &Process::new("sleep", dir.path()).args(["30"]),
            &dir.path().join("log"),
        )
        .unwrap();
        let pid = s.pid().unwrap();
        assert!(signal(pid, "0"));
        s.stop(Duration::ZERO);
        assert!(!signal(pid, "0"), "reaped: no such process");
    }
}
