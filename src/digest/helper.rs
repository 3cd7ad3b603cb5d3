//! Docker credential helpers: `docker-credential-<name> get` reads a server name on standard
//! input and prints `{"Username": …, "Secret": …}`. Called by `credentials` for `credHelpers`
//! and `credsStore`. The helper's output is never shown, not even when it fails: its standard
//! output holds the secret, and what a failing helper prints may too, so an error names the
//! helper, its exit status and the server, and its standard error is not read at all.

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
    let (status, stdout) = run(&program, server, helpers)?;
    if !status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        return Err(format!("`{program} get` failed ({how}); run it by hand (`echo {server} | {program} get`) to see why, or log in again"));
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

/// Runs `program get` with `server` on standard input; how it exited, and its output.
fn run(
    program: &str,
    server: &str,
    helpers: &Helpers,
) -> Result<(std::process::ExitStatus, String), String> {
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
    Ok((status, text))
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

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const SECRET: &str = "helper-secret-5521";

    /// `docker-credential-reimagefake`, running `body` after it has read the server, in a
    /// folder of its own; the helpers that find it, and the folder.
    fn fake(name: &str, body: &str) -> (Helpers, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("reimage-helper-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let helper = dir.join("docker-credential-reimagefake");
        std::fs::write(&helper, format!("#!/bin/sh\nread server\n{body}\n")).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        let helpers = Helpers {
            timeout: Duration::from_secs(10),
            search_path: Some(format!("{}:{path}", dir.display()).into()),
        };
        (helpers, dir)
    }

    fn ask(helpers: &Helpers) -> Result<Option<Credential>, String> {
        helpers.get("reimagefake", "r.example")
    }

    fn clean(dir: &Path) {
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Whatever a helper prints, on either stream, as it fails or as it answers, no error
    /// quotes it.
    #[test]
    fn what_a_helper_prints_is_never_in_an_error() {
        let json = format!(r#"{{"ServerURL":"r.example","Username":"u","Secret":"{SECRET}"}}"#);
        let cases = [
            (
                "fails",
                format!("echo '{json}'; echo 'Secret: {SECRET}' >&2; exit 3"),
                "`docker-credential-reimagefake get` failed (exit status 3); run it by hand (`echo r.example | docker-credential-reimagefake get`)",
            ),
            (
                "signal",
                format!("echo '{SECRET}'; kill -9 $$"),
                "failed (killed by a signal)",
            ),
            (
                "text",
                format!("echo 'the secret is {SECRET}'"),
                "`docker-credential-reimagefake get` printed something that is not its JSON answer",
            ),
            (
                "types",
                format!(r#"echo '{{"Username": ["{SECRET}"], "Secret": 5521}}'"#),
                "not its JSON answer",
            ),
            (
                "truncated",
                format!(r#"printf '{{"Username":"u","Secret":"{SECRET}'"#),
                "not its JSON answer",
            ),
        ];
        for (name, body, expected) in cases {
            let (helpers, dir) = fake(name, &body);
            let err = ask(&helpers).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
            for text in [err.clone(), format!("{err:?}")] {
                assert!(!text.contains(SECRET), "{name}: {text}");
            }
            clean(&dir);
        }
    }

    #[test]
    fn answers_and_not_found() {
        let (helpers, dir) = fake(
            "answers",
            &format!(r#"echo '{{"Username":"u","Secret":"{SECRET}"}}'"#),
        );
        let found = ask(&helpers).unwrap();
        let login = Credential::Basic {
            username: "u".into(),
            password: SECRET.into(),
        };
        assert_eq!(found, Some(login));
        assert!(!format!("{found:?}").contains(SECRET));
        clean(&dir);
        let (helpers, dir) = fake(
            "token",
            &format!(r#"echo '{{"Username":"<token>","Secret":"{SECRET}"}}'"#),
        );
        assert_eq!(
            ask(&helpers).unwrap(),
            Some(Credential::IdentityToken(SECRET.into()))
        );
        clean(&dir);
        let (helpers, dir) = fake(
            "notfound",
            &format!("echo 'credentials not found in native keychain ({SECRET})'; exit 1"),
        );
        assert_eq!(ask(&helpers), Ok(None));
        clean(&dir);
        assert!(helpers
            .get("../x", "r.example")
            .unwrap_err()
            .contains("not a credential helper name"));
    }
}
