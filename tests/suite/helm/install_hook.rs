//! The plugin's install and update hooks (`scripts/install-plugin.sh`), run as Helm runs them
//! after `helm plugin install` and `helm plugin update`, and the plugin folder they leave run by
//! Helm as a post-renderer.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{binary, dry_run, reimage_options, repo, rules, MIRROR};
use crate::common::helm::HelmHome;
use crate::common::Ran;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        installs_bin_reimage_as_helm_runs_it,
        without_cargo_says_what_to_do
    ]
}

/// A stand-in for cargo on `PATH` in the install hook tests: a release build takes minutes, so
/// this checks that the hook asks for one, in the plugin's folder, and "builds" by copying the
/// binary under test where cargo would put it (`$CARGO_TARGET_DIR`, else `target`).
const CARGO_STAND_IN: &str = r#"#!/bin/sh
set -eu
printf '%s\t%s\n' "$(pwd -P)" "$*" >> "$REIMAGE_TEST_CARGO_CALLS"
[ "$*" = "build --release --locked" ] || { echo "unexpected: cargo $*" >&2; exit 97; }
mkdir -p "${CARGO_TARGET_DIR:-target}/release"
cp "$REIMAGE_TEST_BINARY" "${CARGO_TARGET_DIR:-target}/release/reimage"
"#;

/// The plugin folder as `helm plugin install` leaves it before the hook runs: `plugin.yaml`
/// and the hook script (a local install links the repository itself; a copy keeps the test
/// out of the working tree).
fn plugin_source(plugins: &Path) -> PathBuf {
    let dir = plugins.join("reimage");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::copy(repo().join("plugin.yaml"), dir.join("plugin.yaml")).unwrap();
    std::fs::copy(
        repo().join("scripts/install-plugin.sh"),
        dir.join("scripts/install-plugin.sh"),
    )
    .unwrap();
    dir
}

/// The command of `runtimeConfig.platformHooks.<event>` as Helm runs it
/// (`internal/plugin/runtime_subprocess.go`, `InvokeHook`): the command split on spaces, each
/// part with the environment expanded, `HELM_PLUGIN_NAME` and `HELM_PLUGIN_DIR` set, standard
/// input empty, in the caller's working directory.
fn hook_command(plugin_dir: &Path, event: &str, cwd: &Path) -> Command {
    let text = std::fs::read_to_string(plugin_dir.join("plugin.yaml")).unwrap();
    let manifest: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let command = manifest["runtimeConfig"]["platformHooks"][event][0]["command"]
        .as_str()
        .unwrap_or_else(|| panic!("plugin.yaml has no {event} hook"));
    let dir = plugin_dir.to_str().unwrap();
    let mut parts = command.split(' ').map(|part| {
        part.replace("${HELM_PLUGIN_DIR}", dir)
            .replace("$HELM_PLUGIN_DIR", dir)
    });
    let mut cmd = Command::new(parts.next().unwrap());
    cmd.args(parts)
        .env("HELM_PLUGIN_NAME", "reimage")
        .env("HELM_PLUGIN_DIR", plugin_dir)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null());
    cmd
}

/// A folder holding only `cargo`, the stand-in.
fn cargo_stand_in(home: &HelmHome) -> PathBuf {
    let dir = home.path("stand-in");
    std::fs::create_dir(&dir).unwrap();
    let cargo = dir.join("cargo");
    std::fs::write(&cargo, CARGO_STAND_IN).unwrap();
    make_executable(&cargo);
    dir
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn make_executable(_: &Path) {}

/// `PATH` with `first` in front.
fn path_with(first: &Path) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(first.to_path_buf()).chain(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap()
}

fn installs_bin_reimage_as_helm_runs_it() -> Ran {
    let home = HelmHome::new()?;
    let plugin = plugin_source(&home.plugins());
    let stand_in = cargo_stand_in(&home);
    let calls = home.path("cargo-calls");
    let elsewhere = home.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let built = home.path("built-elsewhere");

    // `install` with cargo's default target folder, `update` with CARGO_TARGET_DIR set.
    for (event, target_dir) in [("install", None), ("update", Some(&built))] {
        let mut hook = hook_command(&plugin, event, &elsewhere);
        hook.env("PATH", path_with(&stand_in))
            .env("REIMAGE_TEST_CARGO_CALLS", &calls)
            .env("REIMAGE_TEST_BINARY", binary());
        match target_dir {
            Some(dir) => hook.env("CARGO_TARGET_DIR", dir),
            None => hook.env_remove("CARGO_TARGET_DIR"),
        };
        let output = hook.output().expect("cannot run the hook");
        assert!(
            output.status.success(),
            "the {event} hook failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let installed = plugin.join("bin/reimage");
        assert!(
            crate::common::is_executable(&installed),
            "{event}: no executable bin/reimage"
        );
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(binary()).unwrap(),
            "{event}: bin/reimage is not what cargo built"
        );
        assert!(!plugin.join("bin/reimage.tmp").exists());
        std::fs::remove_file(&installed).unwrap();
    }
    let plugin_dir = plugin.canonicalize().unwrap();
    let expected = format!("{0}\tbuild --release --locked\n", plugin_dir.display());
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        expected.repeat(2),
        "cargo runs once per hook, in the plugin's folder"
    );

    // The folder the hook left is a plugin Helm runs.
    let mut hook = hook_command(&plugin, "install", &elsewhere);
    hook.env("PATH", path_with(&stand_in))
        .env("REIMAGE_TEST_CARGO_CALLS", &calls)
        .env("REIMAGE_TEST_BINARY", binary())
        .env_remove("CARGO_TARGET_DIR");
    assert!(hook.output().unwrap().status.success());
    let log = home.path("reimage.log");
    let outcome = home.install(&dry_run(reimage_options(&rules("mirror.yaml"), &log, None)));
    assert!(
        outcome
            .release()
            .manifest
            .contains(&format!("image: {MIRROR}")),
        "Helm did not run the plugin the hook installed"
    );
    Ok(())
}

fn without_cargo_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = plugin_source(&dir.path().join("plugins"));
    // A PATH with what the script needs before it looks for cargo, and no cargo.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["bash", "cat"] {
        let found = which(tool).unwrap_or_else(|| panic!("no {tool} on PATH"));
        std::fs::copy(found, bin.join(tool)).unwrap();
    }
    let output = hook_command(&plugin, "install", dir.path())
        .env("PATH", &bin)
        .output()
        .expect("cannot run the hook");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("'cargo' is not on PATH"), "{stderr}");
    assert!(stderr.contains("https://rustup.rs"), "{stderr}");
    assert!(!plugin.join("bin/reimage").exists());
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}
