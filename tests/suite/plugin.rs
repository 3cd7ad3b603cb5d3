//! Checks `plugin.yaml`, the Helm 4 plugin manifest (plugin API v1, `postrenderer/v1`):
//! what Helm validates, plus this project's own rules (the version follows Cargo.toml, Helm
//! runs the built binary, and the install hook script is there to build it).

use std::path::PathBuf;

use serde_yaml::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        manifest_is_a_v1_postrenderer_run_as_a_subprocess,
        version_is_semver_and_matches_cargo,
        every_platform_command_runs_the_installed_binary,
        install_hook_script_exists_and_is_executable,
        semver_check_accepts_and_rejects,
    ]
}

/// The command Helm runs: the binary the install hook puts in the plugin's folder.
const COMMAND: &str = "${HELM_PLUGIN_DIR}/bin/reimage";
const PLUGIN_DIR_VAR: &str = "${HELM_PLUGIN_DIR}/";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> Value {
    let path = repo().join("plugin.yaml");
    let text = std::fs::read_to_string(&path).expect("cannot read plugin.yaml");
    serde_yaml::from_str(&text).expect("plugin.yaml is not YAML")
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("plugin.yaml: `{key}` is not a string"))
}

/// The `platformCommand`-style entries at `runtimeConfig.<key>` (or under a hook event).
fn commands<'a>(list: &'a Value, what: &str) -> Vec<&'a str> {
    let entries = list
        .as_sequence()
        .unwrap_or_else(|| panic!("plugin.yaml: {what} is not a list"));
    assert!(!entries.is_empty(), "plugin.yaml: {what} is empty");
    entries.iter().map(|entry| text(entry, "command")).collect()
}

fn manifest_is_a_v1_postrenderer_run_as_a_subprocess() {
    let m = manifest();
    assert_eq!(text(&m, "apiVersion"), "v1");
    assert_eq!(text(&m, "type"), "postrenderer/v1");
    assert_eq!(text(&m, "runtime"), "subprocess");
    assert_eq!(text(&m, "name"), "reimage");
}

fn version_is_semver_and_matches_cargo() {
    let version = text(&manifest(), "version").to_owned();
    assert!(is_semver(&version), "not strict SemVer: {version:?}");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "plugin.yaml vs Cargo.toml"
    );
}

fn every_platform_command_runs_the_installed_binary() {
    let m = manifest();
    let list = &m["runtimeConfig"]["platformCommand"];
    for command in commands(list, "runtimeConfig.platformCommand") {
        assert_eq!(command, COMMAND);
    }
}

fn install_hook_script_exists_and_is_executable() {
    let m = manifest();
    let hooks = &m["runtimeConfig"]["platformHooks"];
    for command in commands(&hooks["install"], "runtimeConfig.platformHooks.install") {
        let relative = command
            .strip_prefix(PLUGIN_DIR_VAR)
            .unwrap_or_else(|| panic!("hook {command:?} does not start with {PLUGIN_DIR_VAR}"));
        let script = repo().join(relative);
        assert!(script.is_file(), "no hook script {relative}");
        assert!(
            crate::common::is_executable(&script),
            "{relative} is not executable"
        );
        let syntax = std::process::Command::new("bash")
            .arg("-n")
            .arg(&script)
            .status()
            .expect("cannot run bash");
        assert!(syntax.success(), "{relative}: bash -n failed");
    }
}

/// Strict SemVer 2.0.0: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, no leading zeros in numbers.
fn is_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let core: Vec<&str> = core.split('.').collect();
    core.len() == 3
        && core.iter().all(|n| is_number(n))
        && pre.is_none_or(|p| identifiers(p, |id| !is_digits(id) || is_number(id)))
        && build.is_none_or(|b| identifiers(b, |_| true))
}

/// Dot-separated, non-empty `[0-9A-Za-z-]` identifiers, each also passing `extra`.
fn identifiers(text: &str, extra: impl Fn(&str) -> bool) -> bool {
    text.split('.').all(|id| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && extra(id)
    })
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A numeric identifier: digits without a leading zero (0 itself is fine).
fn is_number(text: &str) -> bool {
    is_digits(text) && (text == "0" || !text.starts_with('0'))
}

fn semver_check_accepts_and_rejects() {
    for good in [
        "0.1.0",
        "1.0.0-alpha.1",
        "1.0.0-0.3.7",
        "1.0.0+build.5",
        "2.10.3-rc-1+x",
    ] {
        assert!(is_semver(good), "{good} should be SemVer");
    }
    let bad = [
        "0.1",
        "v0.1.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0-01",
        "1.0.0+",
        "1.0.0-a..b",
        "1.0.0 ",
        "1.0.x",
    ];
    for bad in bad {
        assert!(!is_semver(bad), "{bad} should not be SemVer");
    }
}
