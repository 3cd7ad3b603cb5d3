//! Registry credentials where `docker login` and `podman login` keep them: the Docker config
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `credHelpers`, `auths`,
//! `credsStore`), then podman's `auth.json` (`REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json`).
//!
//! The client asks only after a registry answered 401, and each registry once, however many
//! lookups ask for it at the same time; lookups for different registries run their credential
//! helpers side by side. Secrets stay in [`Credential`], whose `Debug` hides them; no message
//! built here contains one: a file that cannot be used is described by its name, the entry
//! and what is wrong with its shape (see `file`), and a helper by its name and exit status.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::endpoint::Endpoint;
use super::helper::Helpers;
use super::login::Credential;

mod file;

use file::AuthFile;

/// What a lookup finds: a login, none, or why the search failed.
type Answer = Result<Option<Credential>, String>;

/// Every auth file found, read once; answers per registry, cached.
pub struct Credentials {
    files: Vec<(PathBuf, Result<AuthFile, String>)>,
    helpers: Helpers,
    /// One cell per registry host. The map is locked only to find a host's cell; the cell is
    /// filled once, by the first lookup for that host, while later lookups for the same host
    /// wait for it and lookups for other hosts go on (running their own helpers meanwhile).
    answers: Mutex<HashMap<String, Arc<OnceLock<Answer>>>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<&Path> = self.files.iter().map(|(p, _)| p.as_path()).collect();
        f.debug_struct("Credentials")
            .field("files", &files)
            .finish()
    }
}

impl Credentials {
    /// Reads the auth files the environment points at; missing files are skipped.
    pub fn from_env(helper_timeout: Duration) -> Credentials {
        Credentials::from_files(&auth_file_paths(), helper_timeout)
    }

    /// Reads these auth files, in this order of preference.
    pub fn from_files(paths: &[PathBuf], helper_timeout: Duration) -> Credentials {
        let files = paths
            .iter()
            .filter(|p| p.exists())
            .map(|p| (p.clone(), read_file(p)))
            .collect();
        Credentials {
            files,
            helpers: Helpers::new(helper_timeout),
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The login for `endpoint`, if any; an error says which file or helper failed.
    pub fn lookup(&self, endpoint: &Endpoint) -> Answer {
        let cell = {
            let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(answers.entry(endpoint.host.clone()).or_default())
        };
        cell.get_or_init(|| self.search(endpoint)).clone()
    }

    fn search(&self, endpoint: &Endpoint) -> Answer {
        for (path, file) in &self.files {
            let file = file.as_ref().map_err(Clone::clone)?;
            if let Some(found) = self.in_file(path, file, endpoint)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// `credHelpers`, then `auths`, then `credsStore`.
    fn in_file(&self, path: &Path, file: &AuthFile, endpoint: &Endpoint) -> Answer {
        let server = endpoint.credential_server();
        if let Some((_, name)) = file
            .cred_helpers
            .iter()
            .find(|(k, _)| endpoint.matches_key(k))
        {
            return self.helpers.get(name, server);
        }
        let entries = file.auths.iter().filter(|(k, _)| endpoint.matches_key(k));
        for (key, entry) in entries {
            let found = match entry {
                Ok(entry) => entry.credential().map_err(str::to_string),
                Err(why) => Err(why.clone()),
            };
            let found = found.map_err(|why| {
                format!(
                    "{}: the `auths` entry `{key}` {why}; log in again",
                    path.display()
                )
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        match &file.creds_store {
            Some(store) if !store.is_empty() => self.helpers.get(store, server),
            _ => Ok(None),
        }
    }
}

/// The file at `path`, or why it cannot be used: its name and what is wrong, nothing of what
/// it holds.
fn read_file(path: &Path) -> Result<AuthFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    AuthFile::parse(&text).map_err(|why| format!("{} {why}; fix or remove it", path.display()))
}

/// The auth files to read, Docker's first.
fn auth_file_paths() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = var("HOME");
    let mut paths = Vec::new();
    match (var("DOCKER_CONFIG"), &home) {
        (Some(dir), _) => paths.push(dir.join("config.json")),
        (None, Some(home)) => paths.push(home.join(".docker/config.json")),
        (None, None) => {}
    }
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        paths.push(file);
    } else if let Some(run) = var("XDG_RUNTIME_DIR") {
        paths.push(run.join("containers/auth.json"));
    }
    let config = var("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config")));
    if let Some(config) = config {
        paths.push(config.join("containers/auth.json"));
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    fn endpoint(image: &str) -> Endpoint {
        Endpoint::new(&Reference::parse(image).unwrap(), &[], |_| false)
    }

    fn store(name: &str, json: impl AsRef<[u8]>) -> (Credentials, PathBuf) {
        let dir = std::env::temp_dir().join(format!("reimage-creds-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        std::fs::write(&file, json).unwrap();
        (
            Credentials::from_files(
                &[file.clone(), dir.join("missing.json")],
                Duration::from_secs(5),
            ),
            dir,
        )
    }

    /// Installs `docker-credential-reimagewait` in `dir/bin` and gives the `PATH` that finds it.
    /// Each run notes its server in `bin/calls`, marks that it started, and waits until helpers
    /// for two servers have started before it answers: run alone, it gives up after 10 s and
    /// fails.
    #[cfg(unix)]
    fn waiting_helper(dir: &Path) -> std::ffi::OsString {
        use std::os::unix::fs::PermissionsExt;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = r#"#!/bin/sh
read server
bin=$(dirname "$0")
echo "$server" >> "$bin/calls"
: > "$bin/started-$server"
tries=0
while [ "$(ls "$bin" | grep -c '^started-')" -lt 2 ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ]; then echo "no other helper started within 10 s" >&2; exit 3; fi
  sleep 0.05
done
printf '{"ServerURL":"%s","Username":"%s","Secret":"pw"}\n' "$server" "$server"
"#;
        let helper = bin.join("docker-credential-reimagewait");
        std::fs::write(&helper, script).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        format!("{}:{path}", bin.display()).into()
    }

    #[cfg(unix)]
    #[test]
    fn helpers_for_two_hosts_run_at_once_and_once_per_host() {
        let json = r#"{"credHelpers": {"a.example": "reimagewait", "b.example": "reimagewait"}}"#;
        let (mut creds, dir) = store("overlap", json);
        creds.helpers.timeout = Duration::from_secs(30);
        creds.helpers.search_path = Some(waiting_helper(&dir));
        let images = ["a.example/x", "b.example/x", "a.example/y", "b.example/y"];
        let found: Vec<Answer> = std::thread::scope(|scope| {
            let creds = &creds;
            let lookups: Vec<_> = images
                .iter()
                .map(|image| scope.spawn(move || creds.lookup(&endpoint(image))))
                .collect();
            lookups.into_iter().map(|l| l.join().unwrap()).collect()
        });
        for (image, answer) in images.iter().zip(&found) {
            let host = image.split('/').next().unwrap();
            let login = Credential::Basic {
                username: host.into(),
                password: "pw".into(),
            };
            assert_eq!(
                answer,
                &Ok(Some(login)),
                "{image}: the helpers for a.example and b.example must run at the same time \
                 (each waits up to 10 s for the other to start, and fails alone)"
            );
        }
        let calls = std::fs::read_to_string(dir.join("bin/calls")).unwrap();
        let mut calls: Vec<&str> = calls.lines().collect();
        calls.sort_unstable();
        assert_eq!(calls, ["a.example", "b.example"], "one helper run per host");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_auths_in_every_spelling() {
        let json = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
            "r.example:5000": {"username": "u", "password": "p"},
            "https://tok.example/v1/": {"identitytoken": "refresh"},
            "empty.example": {}
        }}"#;
        let (creds, dir) = store("auths", json);
        let basic = |u: &str, p: &str| Credential::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            creds.lookup(&endpoint("nginx")).unwrap(),
            Some(basic("hub", "secret"))
        );
        assert_eq!(
            creds.lookup(&endpoint("r.example:5000/a")).unwrap(),
            Some(basic("u", "p"))
        );
        assert_eq!(
            creds.lookup(&endpoint("tok.example/a")).unwrap(),
            Some(Credential::IdentityToken("refresh".into()))
        );
        assert_eq!(creds.lookup(&endpoint("empty.example/a")).unwrap(), None);
        assert_eq!(creds.lookup(&endpoint("other.example/a")).unwrap(), None);
        assert!(!format!("{:?}", basic("hub", "secret")).contains("secret"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys_and_hosts_match_in_any_case() {
        let json = r#"{"auths": {
            "https://Mixed.Example:5000/v1/": {"username": "u", "password": "p"},
            "https://INDEX.DOCKER.IO/v1/": {"username": "hub", "password": "h"}
        }}"#;
        let (creds, dir) = store("case", json);
        let basic = |u: &str, p: &str| {
            Some(Credential::Basic {
                username: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(
            creds.lookup(&endpoint("mixed.example:5000/a")).unwrap(),
            basic("u", "p")
        );
        assert_eq!(
            creds.lookup(&endpoint("MIXED.example:5000/a")).unwrap(),
            basic("u", "p")
        );
        assert_eq!(
            creds.lookup(&endpoint("Docker.io/x/y")).unwrap(),
            basic("hub", "h")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_helpers_are_errors_that_name_them() {
        let (creds, dir) = store(
            "helper",
            r#"{"credHelpers": {"r.example": "reimage-no-such-helper"}}"#,
        );
        let err = creds.lookup(&endpoint("r.example/a")).unwrap_err();
        assert!(
            err.contains("docker-credential-reimage-no-such-helper` is not installed"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The login of the broken files below, and every way it could show: the parts, `auth`
    /// (base64 of `user:password`), and the base64 of each part.
    const USER: &str = "leaky-user-31";
    const PASSWORD: &str = "leaky-pw-4187";

    fn base64(bytes: impl AsRef<[u8]>) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn auth() -> String {
        base64(format!("{USER}:{PASSWORD}"))
    }

    /// `problem` (the lookup's error) as it reaches the user: as it is and wrapped as the
    /// client wraps it, each by `Display` and by `Debug`.
    fn every_rendering(problem: &str) -> Vec<String> {
        let wrapped = crate::digest::error::ResolveError::Auth {
            target: Box::new(crate::digest::error::Target {
                image: "r.example/a".into(),
                registry: "r.example".into(),
                repository: "a".into(),
                tag: "latest".into(),
            }),
            problem: format!("cannot read the credentials: {problem}"),
        };
        vec![
            problem.to_string(),
            format!("{problem:?}"),
            wrapped.to_string(),
            format!("{wrapped:?}"),
        ]
    }

    fn assert_no_secret(text: &str, secrets: &[String]) {
        let leaks: Vec<&String> = secrets
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .collect();
        assert!(leaks.is_empty(), "{leaks:?} leaked in: {text}");
    }

    /// Each broken shape gives an error that names the file, the entry and what is wrong, and
    /// holds no secret in any rendering.
    #[test]
    fn broken_files_are_errors_without_secrets() {
        let auth = auth();
        let no_colon = base64(format!("{USER}{PASSWORD}"));
        let not_text = base64([USER.as_bytes(), b":\xff", PASSWORD.as_bytes()].concat());
        let entry = "the `auths` entry `r.example`";
        let cases: Vec<(&str, String, String)> = vec![
            (
                "string",
                format!(r#"{{"auths": {{"r.example": "{auth}"}}}}"#),
                format!("{entry} is a string, not an object with `auth`, `username`/`password` or `identitytoken`; log in again"),
            ),
            (
                "number",
                r#"{"auths": {"r.example": 41873141592653}}"#.into(),
                format!("{entry} is a number, not an object"),
            ),
            (
                "array",
                format!(r#"{{"auths": {{"r.example": ["{auth}", "{PASSWORD}"]}}}}"#),
                format!("{entry} is an array, not an object"),
            ),
            (
                "bool",
                r#"{"auths": {"r.example": true}}"#.into(),
                format!("{entry} is true or false, not an object"),
            ),
            (
                "notbase64",
                format!(r#"{{"auths": {{"r.example": {{"auth": "%%%{auth}"}}}}}}"#),
                format!("{entry} has an `auth` that is not base64; log in again"),
            ),
            (
                "nottext",
                format!(r#"{{"auths": {{"r.example": {{"auth": "{not_text}"}}}}}}"#),
                format!("{entry} has an `auth` that is not text"),
            ),
            (
                "nocolon",
                format!(r#"{{"auths": {{"r.example": {{"auth": "{no_colon}"}}}}}}"#),
                format!("{entry} has an `auth` that is not `user:password`"),
            ),
            (
                "authtype",
                format!(r#"{{"auths": {{"r.example": {{"auth": ["{auth}"]}}}}}}"#),
                format!("{entry} has an `auth` that is an array, not a string"),
            ),
            (
                "usertype",
                format!(r#"{{"auths": {{"r.example": {{"username": ["{USER}"], "password": "{PASSWORD}"}}}}}}"#),
                format!("{entry} has a `username` that is an array, not a string"),
            ),
            (
                "passwordtype",
                format!(r#"{{"auths": {{"r.example": {{"username": "{USER}", "password": {{"v": "{PASSWORD}"}}}}}}}}"#),
                format!("{entry} has a `password` that is an object, not a string"),
            ),
            (
                "tokentype",
                r#"{"auths": {"r.example": {"identitytoken": 41873141592653}}}"#.into(),
                format!("{entry} has an `identitytoken` that is a number, not a string"),
            ),
            (
                "truncated",
                format!(r#"{{"auths": {{"r.example": {{"auth": "{auth}"#),
                "config.json ends in the middle of its JSON (line 1, column 70); fix or remove it".into(),
            ),
            (
                "truncatedline",
                format!("{{\"auths\": {{\n  \"r.example\": {{\"password\": \"{PASSWORD}\",\n"),
                "config.json ends in the middle of its JSON (line 3, column 0)".into(),
            ),
            (
                "notjson",
                format!("[auths]\nr.example = {auth}\n"),
                "config.json is not JSON (line 1, column 2); fix or remove it".into(),
            ),
            (
                "escape",
                format!(r#"{{"auths": {{"r.example": {{"auth": "{auth}\q{PASSWORD}"}}}}}}"#),
                "config.json is not JSON (line 1, column 72)".into(),
            ),
            (
                "control",
                format!("{{\"auths\": {{\"r.example\": {{\"password\": \"{PASSWORD}\u{1}\"}}}}}}"),
                "config.json is not JSON (line 1, column 52)".into(),
            ),
            (
                "trailing",
                format!(r#"{{"auths": {{}}}} {PASSWORD}"#),
                "config.json is not JSON (line 1, column 15)".into(),
            ),
            (
                "top",
                format!(r#"["{auth}"]"#),
                "config.json is an array, not a JSON object; fix or remove it".into(),
            ),
            (
                "auths",
                format!(r#"{{"auths": "{auth}"}}"#),
                "config.json has an `auths` that is a string, not an object; fix or remove it".into(),
            ),
            (
                "helpers",
                format!(r#"{{"credHelpers": {{"r.example": {{"secret": "{PASSWORD}"}}}}}}"#),
                "config.json has a `credHelpers` entry `r.example` that is an object, not the name of a helper".into(),
            ),
            (
                "store",
                format!(r#"{{"credsStore": ["{PASSWORD}"]}}"#),
                "config.json has a `credsStore` that is an array, not the name of a helper".into(),
            ),
        ];
        let secrets: Vec<String> = [
            USER.to_string(),
            PASSWORD.to_string(),
            auth.clone(),
            no_colon.clone(),
            not_text.clone(),
            base64(USER),
            base64(PASSWORD),
            "41873141592653".to_string(),
        ]
        .into();
        let mut wrong = Vec::new();
        for (name, json, expected) in cases {
            let (creds, dir) = store(&format!("broken-{name}"), &json);
            let err = creds.lookup(&endpoint("r.example/a")).unwrap_err();
            let file = dir.join("config.json").display().to_string();
            if !err.contains(&expected) || !err.starts_with(&file) {
                wrong.push(format!("{name}: {err}"));
            }
            for text in every_rendering(&err) {
                assert_no_secret(&text, &secrets);
            }
            std::fs::remove_dir_all(dir).unwrap();
        }
        assert!(
            wrong.is_empty(),
            "not the file's name and the expected reason:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn a_file_that_is_not_text_is_an_error_without_its_bytes() {
        let bytes = [
            br#"{"auths": {"r.example": {"password": ""#,
            PASSWORD.as_bytes(),
            b"\xff\"}}}",
        ]
        .concat();
        let (creds, dir) = store("binary", bytes);
        let err = creds.lookup(&endpoint("r.example/a")).unwrap_err();
        assert!(
            err.starts_with("cannot read ") && err.contains("UTF-8"),
            "{err}"
        );
        for text in every_rendering(&err) {
            assert_no_secret(&text, &[PASSWORD.to_string()]);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// An entry that cannot be used fails the lookups of its registry only; a broken file
    /// fails them all.
    #[test]
    fn a_broken_entry_fails_only_its_registry() {
        let json = format!(
            r#"{{"auths": {{"r.example": "{}", "ok.example": {{"username": "u", "password": "p"}}}}}}"#,
            auth()
        );
        let (creds, dir) = store("oneentry", json);
        assert!(creds.lookup(&endpoint("r.example/a")).is_err());
        assert_eq!(
            creds.lookup(&endpoint("ok.example/a")).unwrap(),
            Some(Credential::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(creds.lookup(&endpoint("other.example/a")).unwrap(), None);
        let (creds, dir2) = store("wholefile", r#"{"auths": [], "credHelpers": {}}"#);
        assert!(creds.lookup(&endpoint("other.example/a")).is_err());
        let (creds, dir3) = store(
            "nulls",
            "\u{feff}{\"auths\": {\"r.example\": null}, \"credsStore\": null}",
        );
        assert_eq!(creds.lookup(&endpoint("r.example/a")).unwrap(), None);
        for d in [dir, dir2, dir3] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}
