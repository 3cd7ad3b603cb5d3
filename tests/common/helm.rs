//! Helm 4 itself, for the end-to-end tests of `tests/suite/helm.rs`: Helm v4.2.3's Go code as a
//! C library (`libhelm_c.so` in the `helm-python-sdk` wheel), driven by `tests/helm/install.py`
//! with the Python of a virtualenv.
//!
//! The virtualenv is `REIMAGE_HELM_VENV`, else `target/helm-venv` in this repository;
//! `bash scripts/setup.sh` creates it. Without it (or with another version of the wheel) the
//! tests are missing their material ([`Skip::Missing`]).
//!
//! A [`HelmHome`] is a scratch Helm installation: `$HELM_PLUGINS` with the plugins laid out in
//! it, and Helm's config, cache and data folders, all in one temporary folder. Each
//! [`HelmHome::install`] is one `helm install` in a process of its own, since Go reads the
//! environment (`HELM_PLUGINS` among it) once, when the library is loaded.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tempfile::TempDir;

use super::Skip;

/// The wheel `scripts/setup.sh` installs, and the Helm inside it.
pub const SDK_VERSION: &str = "0.2.2";
pub const HELM_VERSION: &str = "v4.2.3";

/// How long one install may take before the driver is killed and the test fails.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Variables of the caller's shell that would change what Helm or reimage do.
const CLEARED_ENV: [&str; 9] = [
    "REIMAGE_RULES",
    "REIMAGE_LOG",
    "KUBECONFIG",
    "HELM_DRIVER",
    "HELM_NAMESPACE",
    "HELM_KUBECONTEXT",
    "HELM_KUBEAPISERVER",
    "HELM_DEBUG",
    "HELM_C_LIB",
];

/// The virtualenv with the wheel: `REIMAGE_HELM_VENV`, else `target/helm-venv` in the
/// repository.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("REIMAGE_HELM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::manifest_dir().join("target").join("helm-venv"))
}

/// The driver script.
fn driver() -> PathBuf {
    super::manifest_dir()
        .join("tests")
        .join("helm")
        .join("install.py")
}

/// What the tests tell a machine without the virtualenv.
fn how_to_install() -> String {
    let venv = venv_dir();
    format!(
        "`bash scripts/setup.sh` installs it (python3 -m venv {0} && {0}/bin/python -m pip \
         install helm-python-sdk=={SDK_VERSION}; set REIMAGE_HELM_VENV for another place)",
        venv.display()
    )
}

/// The virtualenv's Python, once it has loaded the library and said which Helm it is; missing
/// without the virtualenv or the wheel, or with another version of it.
pub fn python() -> Result<&'static Path, Skip> {
    static PYTHON: OnceLock<Result<PathBuf, Skip>> = OnceLock::new();
    PYTHON
        .get_or_init(check_python)
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

fn check_python() -> Result<PathBuf, Skip> {
    let python = venv_dir().join("bin").join("python");
    if !python.is_file() {
        return Err(Skip::Missing(format!(
            "the Helm 4 tests need a virtualenv with the helm-python-sdk {SDK_VERSION} wheel at \
             {}; {}",
            venv_dir().display(),
            how_to_install()
        )));
    }
    let output = Command::new(&python)
        .arg("-B") // no __pycache__ in the working tree
        .arg(driver())
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let versions: Option<Versions> = output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).ok())
        .flatten();
    match versions {
        Some(v) if v.c == SDK_VERSION && v.sdk == HELM_VERSION => Ok(python),
        Some(v) => Err(Skip::Missing(format!(
            "the virtualenv at {} has helm-c {} (Helm {}), not {SDK_VERSION} (Helm {HELM_VERSION}); {}",
            venv_dir().display(),
            v.c,
            v.sdk,
            how_to_install()
        ))),
        None => Err(Skip::Missing(format!(
            "the virtualenv at {} cannot load the helm-python-sdk wheel ({}); {}",
            venv_dir().display(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no message"),
            how_to_install()
        ))),
    }
}

/// The versions the library reports.
#[derive(Debug, Clone, Deserialize)]
pub struct Versions {
    /// helm-c, the C library.
    pub c: String,
    /// The Helm Go SDK built into it.
    pub sdk: String,
}

/// One `helm install`, as `install.py` takes it.
#[derive(Debug, Clone, Serialize)]
pub struct Install {
    pub chart: PathBuf,
    pub release: String,
    pub namespace: String,
    /// `helm_install`'s options JSON, as it is.
    pub options: Value,
    /// True: against the API server stand-in, storing the release; false: a client dry run
    /// (give `"dry_run": "client"` in `options`).
    pub cluster: bool,
}

/// What Helm gave back.
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub helm: Versions,
    /// The release: stored (and read back) with `cluster`, else the dry run's.
    pub release: Option<Release>,
    /// The stored release's hooks; `None` on a dry run, which stores nothing.
    pub hooks: Option<Vec<Hook>>,
    /// The objects Helm applied to the stand-in, in order; `None` on a dry run.
    pub applied: Option<Vec<Value>>,
    /// The error Helm returned instead of a release.
    pub error: Option<HelmError>,
}

/// A release as the library summarises it.
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    pub status: String,
    /// Every resource that is not a hook, each document after a `# Source:` line.
    #[serde(default)]
    pub manifest: String,
}

/// A hook of a stored release.
#[derive(Debug, Clone, Deserialize)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    /// The template it came from, like `storage/templates/hook.yaml`.
    pub path: String,
    pub manifest: String,
}

/// An error from the library: its exception type, numeric code and message.
#[derive(Debug, Clone, Deserialize)]
pub struct HelmError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<i64>,
    pub message: String,
}

impl Outcome {
    /// The release; panics with Helm's error when there is none.
    pub fn release(&self) -> &Release {
        match (&self.release, &self.error) {
            (Some(release), None) => release,
            (_, Some(error)) => panic!("helm install failed: {} {}", error.kind, error.message),
            (None, None) => panic!("helm install returned neither a release nor an error"),
        }
    }

    /// The hooks of the stored release; panics on a dry run or an error.
    pub fn hooks(&self) -> &[Hook] {
        self.release();
        self.hooks
            .as_deref()
            .expect("a dry run stores no release, so it has no hooks")
    }
}

/// A scratch Helm installation: plugins, config, cache and data in one temporary folder, with
/// room for the rules files and logs of a test.
pub struct HelmHome {
    dir: TempDir,
    python: &'static Path,
}

impl HelmHome {
    /// An empty home; missing when the virtualenv is.
    pub fn new() -> Result<Self, Skip> {
        let python = python()?;
        let dir = tempfile::Builder::new()
            .prefix("reimage-helm-")
            .tempdir()
            .expect("cannot create a temporary folder");
        for sub in ["plugins", "config", "cache", "data"] {
            std::fs::create_dir(dir.path().join(sub)).expect("cannot create a Helm folder");
        }
        Ok(Self { dir, python })
    }

    /// `$HELM_PLUGINS`.
    pub fn plugins(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// A path in the scratch folder, outside Helm's own folders.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Lays out reimage as `helm plugin install` leaves it once its install hook has run: the
    /// repository's `plugin.yaml`, with `binary` as `bin/reimage`. Returns the plugin's folder.
    pub fn add_reimage_plugin(&self, binary: &Path) -> PathBuf {
        let dir = self.plugins().join("reimage");
        std::fs::create_dir_all(dir.join("bin")).expect("cannot create the plugin folder");
        copy(
            &super::manifest_dir().join("plugin.yaml"),
            &dir.join("plugin.yaml"),
        );
        copy(binary, &dir.join("bin").join("reimage"));
        dir
    }

    /// Lays out the `capture` post-renderer of `tests/helm/capture`, which keeps a copy of each
    /// stream Helm sends it in the folder given as its argument.
    pub fn add_capture_plugin(&self) {
        let source = super::manifest_dir()
            .join("tests")
            .join("helm")
            .join("capture");
        let dir = self.plugins().join("capture");
        std::fs::create_dir_all(&dir).expect("cannot create the plugin folder");
        for file in ["plugin.yaml", "capture.sh"] {
            copy(&source.join(file), &dir.join(file));
        }
    }

    /// Runs one `helm install` with this home's plugins; panics when the driver itself fails
    /// or runs past [`TIMEOUT`].
    pub fn install(&self, install: &Install) -> Outcome {
        let request = serde_json::to_vec(install).expect("cannot encode the request");
        let mut command = Command::new(self.python);
        command
            .arg("-B")
            .arg(driver())
            .env("HELM_PLUGINS", self.plugins())
            .env("HELM_CONFIG_HOME", self.dir.path().join("config"))
            .env("HELM_CACHE_HOME", self.dir.path().join("cache"))
            .env("HELM_DATA_HOME", self.dir.path().join("data"))
            .env("TMPDIR", self.dir.path());
        for var in CLEARED_ENV {
            command.env_remove(var);
        }
        let (status, stdout, stderr) = run_with_timeout(command, &request);
        assert!(
            status.success(),
            "tests/helm/install.py failed ({status}):\n{stderr}"
        );
        serde_json::from_slice(&stdout).unwrap_or_else(|e| {
            panic!(
                "tests/helm/install.py printed no result ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&stdout)
            )
        })
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
}

/// Runs `command` with `stdin` as its input, killing it after [`TIMEOUT`].
fn run_with_timeout(
    mut command: Command,
    stdin: &[u8],
) -> (std::process::ExitStatus, Vec<u8>, String) {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start tests/helm/install.py");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin).expect("cannot write the request");
    drop(pipe);
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        err.read_to_string(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for the driver") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tests/helm/install.py ran for more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader
        .join()
        .expect("stdout reader panicked")
        .expect("cannot read the driver's output");
    let stderr = err_reader
        .join()
        .expect("stderr reader panicked")
        .unwrap_or_default();
    (status, stdout, stderr)
}
