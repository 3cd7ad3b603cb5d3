//! Docker credential helpers: `docker-credential-<name> get` reads a server name on standard
//! input and prints `{"Username": …, "Secret": …}`. Called by `credentials` for `credHelpers`
//! and `credsStore`. The helper's output is never shown: it holds the secret.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::login::Credential;

/// What a helper prints for a server it knows.
#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// How credential helpers are found and run.
#[derive(Debug, Clone)]
pub struct Helpers {
    /// How long one helper may take to answer.
    pub timeout: Duration,
    /// The `PATH` to find `docker-credential-<name>` in, and to run it with; `None`: reimage's
    /// own environment, as in every run (tests point it at fake helpers).
    pub search_path: Option<OsString>,
}

impl Helpers {
    /// Helpers found on reimage's `PATH`, each given `timeout`.
    pub fn new(timeout: Duration) -> Helpers {
        Helpers {
            timeout,
            search_path: None,
        }
    }

    /// The login the credential helper `name` knows for `server`: `Ok(None)` when it has none.
    pub fn get(&self, name: &str, server: &str) -> Result<Option<Credential>, String> {
        get(name, server, self)
    }
}

fn get(name: &str, server: &str, helpers: &Helpers) -> Result<Option<Credential>, String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!("`{name}` is not a credential helper name"));
    }
    let program = format!("docker-credential-{name}");
    let (ok, stdout) = run(&program, server, helpers)?;
    if !ok {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!("`{program} get` failed; run it by hand (`echo {server} | {program} get`) to see why, or log in again"));
    }
    let reply: HelperReply = serde_json::from_str(&stdout)
        .map_err(|_| format!("`{program} get` printed something that is not its JSON answer"))?;
    Ok(Some(match reply.username.as_str() {
        "<token>" => Credential::IdentityToken(reply.secret),
        _ => Credential::Basic {
            username: reply.username,
            password: reply.secret,
        },
    }))
}

/// Runs `program get` with `server` on standard input; whether it succeeded, and its output.
fn run(program: &str, server: &str, helpers: &Helpers) -> Result<(bool, String), String> {
    let timeout = helpers.timeout;
    let mut command = Command::new(program);
    if let Some(path) = &helpers.search_path {
        command.env("PATH", path);
    }
    let mut child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "the credential helper `{program}` is not installed (the Docker config names it); install it or remove it from the config"
            ),
            _ => format!("cannot run the credential helper `{program}`: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(format!("{server}\n").as_bytes());
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        text
    });
    let status = wait(&mut child, timeout).ok_or_else(|| {
        format!(
            "the credential helper `{program}` did not answer within {} s",
            timeout.as_secs()
        )
    })?;
    let text = reader.join().unwrap_or_default();
    Ok((status.success(), text))
}

/// Waits for `child` until `timeout`, then kills it and gives `None`.
fn wait(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}
