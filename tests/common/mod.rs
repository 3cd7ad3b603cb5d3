//! Helpers shared by the integration tests: running the real binary, the shared real-world
//! fixtures with their ground truth, and `k8s-yaml-view`, the Kubernetes reading of a stream.
//!
//! Shared material lives beside the repository (`../shared`, or `REIMAGE_SHARED`). A test
//! that needs material this machine lacks returns [`Skip::Missing`] (through `?` on the
//! functions here): the harness reports it as ignored with the reason, and with `CI=true` as a
//! failure. Nothing here installs anything; the reasons say what to install.
//!
//! Submodules: `diff` (readable line diffs), `helm` (Helm 4 itself, from a Python wheel, and a
//! scratch Helm home with plugins), `reference` (an independent reading of image
//! references), `view` (comparing Kubernetes views with the image fields taken out), and the
//! registry tests' servers: `registry` (real registries, proxies, pushing), `pki` (a private
//! CA and its certificates), `connect_proxy` (an HTTP CONNECT proxy), `redirect` (stand-ins
//! that redirect).
#![allow(dead_code)]

pub mod connect_proxy;
pub mod diff;
pub mod helm;
pub mod pki;
pub mod redirect;
pub mod reference;
pub mod registry;
pub mod view;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Environment variables the binary reads; cleared so the caller's shell cannot leak in.
const REIMAGE_ENV: [&str; 2] = ["REIMAGE_RULES", "REIMAGE_LOG"];

/// The real `reimage` binary, with the variables it reads from the environment removed.
pub fn reimage() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reimage"));
    for var in REIMAGE_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `reimage ARGS` with `stdin` as its standard input.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = reimage();
    cmd.args(args);
    output_with_stdin(cmd, stdin)
}

/// Runs `cmd` to completion, feeding it `stdin` from another thread so that neither side can
/// block on a full pipe. A child that exits without reading its input is not an error.
pub fn output_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start the command");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || match pipe.write_all(&input) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    });
    let output = child
        .wait_with_output()
        .expect("cannot wait for the command");
    writer
        .join()
        .expect("stdin writer panicked")
        .expect("cannot write stdin");
    output
}

/// True when running in CI (`CI=true`), where missing shared material is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Why a test did not run to its end. The harness reports either as ignored, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Material the test needs and this machine lacks: a failure with `CI=true`.
    Missing(String),
    /// A mode that runs only when asked for (an environment variable): ignored, in CI too.
    NotAsked(String),
}

/// What a test that can be skipped returns.
pub type Ran = Result<(), Skip>;

/// The tools on `PATH` of `tools` (`(tool, Debian package)`) that are missing, as a
/// [`Skip::Missing`] that says what to install; `Ok` when all are there.
pub fn need_tools(what: &str, tools: &[(&str, &str)]) -> Ran {
    let missing: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|(tool, package)| {
            if tool == package {
                format!("`{tool}`")
            } else {
                format!("`{tool}` (Debian package {package})")
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Skip::Missing(format!(
        "{what} need {}; `bash scripts/setup.sh` installs them",
        missing.join(", ")
    )))
}

/// True when `tool` is a file in a folder of `PATH`.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared folder: `REIMAGE_SHARED`, else `../shared` beside the repository.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("REIMAGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("..").join("shared"))
}

/// The real-world fixtures: `REIMAGE_FIXTURES`, else `<shared>/fixtures/real`; missing
/// when that folder is not there.
pub fn fixtures_dir() -> Result<PathBuf, Skip> {
    let dir = std::env::var_os("REIMAGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_dir().join("fixtures").join("real"));
    if dir.is_dir() {
        return Ok(dir);
    }
    Err(Skip::Missing(format!(
        "no fixtures folder at {} (set REIMAGE_FIXTURES, or REIMAGE_SHARED for the shared folder)",
        dir.display()
    )))
}

/// One real-world manifest and its ground truth.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// File name without `.yaml`.
    pub name: String,
    /// The manifest, byte for byte.
    pub yaml: Vec<u8>,
    /// Rows of `<name>.images.txt`: images in standard places.
    pub images: Vec<ImageRow>,
    /// Rows of `<name>.other-images.txt`: image-looking strings elsewhere.
    pub other_images: Vec<OtherImageRow>,
}

/// An object as the ground truth names it: `kind/namespace/name` (namespace may be empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// `object<TAB>path<TAB>image`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub object: ObjectId,
    /// Like `spec.template.spec.containers[0].image`.
    pub path: String,
    pub image: String,
}

/// `object<TAB>path<TAB>value<TAB>reason`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherImageRow {
    pub object: ObjectId,
    pub path: String,
    pub value: String,
    /// `key:<key>`, `env:<NAME>`, `arg`, `configmap:<key>`, `embedded`, `image-volume`, …
    pub reason: String,
}

/// Every fixture, sorted by name; missing when the folder is.
pub fn fixtures() -> Result<Vec<Fixture>, Skip> {
    let dir = fixtures_dir()?;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("cannot list the fixtures folder")
        .map(|entry| entry.expect("cannot read the fixtures folder").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(".yaml").map(str::to_owned))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no *.yaml in {}", dir.display());
    Ok(names
        .into_iter()
        .map(|name| load_fixture(&dir, name))
        .collect())
}

fn load_fixture(dir: &Path, name: String) -> Fixture {
    let read = |suffix: &str| {
        let path = dir.join(format!("{name}{suffix}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    };
    let images = table(&read(".images.txt"), 3)
        .iter()
        .map(|f| ImageRow {
            object: object_id(&f[0]),
            path: f[1].clone(),
            image: f[2].clone(),
        })
        .collect();
    let other_images = table(&read(".other-images.txt"), 4)
        .iter()
        .map(|f| OtherImageRow {
            object: object_id(&f[0]),
            path: f[1].clone(),
            value: f[2].clone(),
            reason: f[3].clone(),
        })
        .collect();
    let yaml = read(".yaml");
    Fixture {
        name,
        yaml,
        images,
        other_images,
    }
}

/// Tab-separated rows with exactly `columns` fields; blank lines are skipped.
fn table(bytes: &[u8], columns: usize) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("ground truth is not UTF-8");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
            assert_eq!(fields.len(), columns, "bad ground-truth row: {line:?}");
            fields
        })
        .collect()
}

fn object_id(text: &str) -> ObjectId {
    let mut parts = text.splitn(3, '/').map(str::to_owned);
    let mut next = || parts.next().unwrap_or_default();
    ObjectId {
        kind: next(),
        namespace: next(),
        name: next(),
    }
}

/// How Kubernetes reads each document of a stream: the JSON it would receive, or the error
/// message of a document it cannot read. Index 0 is whatever precedes the first `---`.
pub type K8sView = Vec<Result<serde_json::Value, String>>;

/// What `k8s-yaml-view` is built from besides the shared script: Debian's Go toolchain and
/// the Go packages of the YAML reader Kubernetes uses (the folders where Debian puts them).
const VIEWER_GO: &str = "go";
const VIEWER_GO_PACKAGES: [(&str, &str); 2] = [
    (
        "/usr/share/gocode/src/sigs.k8s.io/yaml",
        "golang-k8s-sigs-yaml-dev",
    ),
    (
        "/usr/share/gocode/src/gopkg.in/yaml.v2",
        "golang-gopkg-yaml.v2-dev",
    ),
];

/// The `k8s-yaml-view` binary, built once per test process with the shared `build.sh`.
/// Missing without the script, Go or its YAML packages (checked first, so that `build.sh`,
/// which would install them, never does); a build that fails with all of them there fails
/// the test.
pub fn k8s_viewer() -> Result<&'static Path, Skip> {
    static VIEWER: OnceLock<Result<Result<PathBuf, Skip>, String>> = OnceLock::new();
    match VIEWER.get_or_init(build_k8s_viewer) {
        Ok(Ok(path)) => Ok(path.as_path()),
        Ok(Err(skip)) => Err(skip.clone()),
        Err(why) => panic!("{why}"),
    }
}

/// The viewer, or what it lacks (`Ok(Err)`), or why its build failed (`Err`).
fn build_k8s_viewer() -> Result<Result<PathBuf, Skip>, String> {
    let script = shared_dir().join("tools/k8s-yaml-view/build.sh");
    if !script.is_file() {
        return Ok(Err(Skip::Missing(format!(
            "no {} (set REIMAGE_SHARED for the shared folder)",
            script.display()
        ))));
    }
    let mut missing: Vec<&str> = Vec::new();
    if !on_path(VIEWER_GO) {
        missing.push("golang-go");
    }
    for (dir, package) in VIEWER_GO_PACKAGES {
        if !Path::new(dir).is_dir() {
            missing.push(package);
        }
    }
    if !missing.is_empty() {
        return Ok(Err(Skip::Missing(format!(
            "k8s-yaml-view is built with the Debian packages {}; `bash scripts/setup.sh` installs them",
            missing.join(", ")
        ))));
    }
    // build.sh needs an absolute output folder.
    let out = std::path::absolute(tools_dir()).map_err(|e| e.to_string())?;
    let output = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "building k8s-yaml-view failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let bin = out.join("k8s-yaml-view");
    bin.is_file()
        .then_some(Ok(bin))
        .ok_or_else(|| format!("build.sh did not produce {}", out.display()))
}

/// Where helper tools are built: under Cargo's scratch folder for integration tests.
fn tools_dir() -> PathBuf {
    option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"))
        .join("reimage-tools")
}

/// Runs `k8s-yaml-view` on `yaml`. Call [`k8s_viewer`] first to skip when it is missing;
/// this panics if it is.
pub fn k8s_view(yaml: &[u8]) -> K8sView {
    let viewer = k8s_viewer().expect("k8s-yaml-view is unavailable");
    let output = output_with_stdin(Command::new(viewer), yaml);
    assert!(
        output.status.success(),
        "k8s-yaml-view failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("k8s-yaml-view printed non-UTF-8");
    text.lines().enumerate().map(parse_view_line).collect()
}

/// Parses `docN: <json>` or `docN: ERROR <message>`, checking that N is `index`.
fn parse_view_line((index, line): (usize, &str)) -> Result<serde_json::Value, String> {
    let prefix = format!("doc{index}: ");
    let body = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected k8s-yaml-view line: {line:?}"));
    match body.strip_prefix("ERROR ") {
        Some(message) => Err(message.to_owned()),
        None => Ok(serde_json::from_str(body).expect("k8s-yaml-view printed invalid JSON")),
    }
}

/// Bytes a process wrote, as text (invalid UTF-8 replaced).
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails the test with what `what` wrote unless it succeeded.
pub fn assert_succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        lossy(&out.stdout),
        lossy(&out.stderr)
    );
}

/// Whether `path` is a file someone may execute.
#[cfg(unix)]
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
pub fn is_executable(path: &Path) -> bool {
    path.is_file()
}
