//! Golden tests: every folder `testdata/<case>/` that holds one of the inputs below
//! (`input.yaml`, `rules.yaml`, `args`, `env`) is one run of the real binary, with the case
//! folder as working directory; other folders hold material of other tests.
//!
//! | file              | meaning                                                               |
//! |-------------------|-----------------------------------------------------------------------|
//! | `input.yaml`      | standard input (missing: empty)                                       |
//! | `rules.yaml`      | passed as `--rules rules.yaml`, after `args`, unless `args` has `--rules` |
//! | `args`            | arguments, one per line (blank lines ignored); may start with a subcommand |
//! | `env`             | `KEY=VALUE` lines set for the run (blank and `#` lines ignored)       |
//! | `expected.yaml`   | standard output, byte for byte (for every command, not only render)   |
//! | `expected.stderr` | optional: standard error, with the case folder's path written `$CASE` |
//! | `expected.status` | optional: exit code (default 0); a non-zero exit needs empty stdout, except from `check` and from a KRM function (input a `ResourceList`), which writes the list with an error result |
//!
//! Each case is a test of its own, `golden::<folder>`: `cargo test -- golden::<folder>` runs
//! one, `cargo test --test suite -- golden::` all of them, and a failure shows every way its
//! run differs from the expected files, with a line diff. `BLESS=1` rewrites the expected
//! files of the cases it runs from their actual run (`BLESS=1 cargo test -- golden::`).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use libtest_mimic::{Failed, Trial};

/// What one run produced.
struct Actual {
    stdout: Vec<u8>,
    /// With the case folder's path replaced by `$CASE`.
    stderr: String,
    /// `None` when killed by a signal.
    status: Option<i32>,
}

pub fn tests() -> Vec<Trial> {
    let cases = case_dirs();
    let mut trials: Vec<Trial> = cases
        .into_iter()
        .map(|dir| {
            Trial::test(format!("golden::{}", case_name(&dir)), move || {
                golden_case(&dir)
            })
        })
        .collect();
    if trials.is_empty() {
        trials.push(Trial::test("golden::cases", || {
            Err("no cases under testdata/".into())
        }));
    }
    trials.extend(tests![
        diff_shows_the_differing_block_with_context_and_carriage_returns,
        rules_are_appended_after_the_arguments_unless_named,
    ]);
    trials
}

/// One case: run, rewritten when `BLESS=1`, and compared with its expected files.
fn golden_case(dir: &Path) -> Result<(), Failed> {
    let actual = run_case(dir);
    if std::env::var("BLESS").is_ok_and(|v| v == "1") {
        bless_case(dir, &actual);
    }
    let problems = check_case(dir, &actual);
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\n\n(BLESS=1 rewrites the expected files)",
        problems.join("\n")
    )
    .into())
}

/// Every folder under `testdata/`, sorted.
pub fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|entry| entry.expect("cannot read testdata/").path())
        .filter(|path| path.is_dir() && is_case(path))
        .collect();
    dirs.sort();
    dirs
}

/// Whether a folder holds any input of a case.
fn is_case(dir: &Path) -> bool {
    ["input.yaml", "rules.yaml", "args", "env"]
        .iter()
        .any(|name| dir.join(name).is_file())
}

pub fn case_name(dir: &Path) -> String {
    dir.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn run_case(dir: &Path) -> Actual {
    let stdin = fs::read(dir.join("input.yaml")).unwrap_or_default();
    let mut cmd = common::reimage();
    cmd.current_dir(dir)
        .args(case_args(dir))
        .envs(case_env(dir));
    let output = common::output_with_stdin(cmd, &stdin);
    Actual {
        stdout: output.stdout,
        stderr: mask_case_dir(&String::from_utf8_lossy(&output.stderr), dir),
        status: output.status.code(),
    }
}

/// The lines of `args`, then `--rules rules.yaml` when the case has rules and `args` does not
/// name a rules file itself (options may follow a subcommand's arguments).
pub fn case_args(dir: &Path) -> Vec<String> {
    let mut args = read_lines(&dir.join("args"));
    let names_rules = args
        .iter()
        .any(|a| a == "--rules" || a.starts_with("--rules="));
    if dir.join("rules.yaml").is_file() && !names_rules {
        args.extend(["--rules".to_owned(), "rules.yaml".to_owned()]);
    }
    args
}

pub fn case_env(dir: &Path) -> Vec<(String, String)> {
    read_lines(&dir.join("env"))
        .into_iter()
        .filter(|line| !line.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => panic!("{}/env: not KEY=VALUE: {line:?}", case_name(dir)),
        })
        .collect()
}

/// Non-blank lines of an optional file (missing: none).
fn read_lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Replaces the case folder's path (as given and canonical) by `$CASE`.
fn mask_case_dir(text: &str, dir: &Path) -> String {
    let mut paths = vec![dir.to_string_lossy().into_owned()];
    if let Ok(canonical) = dir.canonicalize() {
        paths.push(canonical.to_string_lossy().into_owned());
    }
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    paths.iter().fold(text.to_owned(), |text, path| {
        text.replace(path.as_str(), "$CASE")
    })
}

fn bless_case(dir: &Path, actual: &Actual) {
    let write = |name: &str, bytes: &[u8]| {
        fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    };
    write("expected.yaml", &actual.stdout);
    if dir.join("expected.stderr").exists() || !actual.stderr.is_empty() {
        write("expected.stderr", actual.stderr.as_bytes());
    }
    let status_file = dir.join("expected.status");
    match actual.status {
        Some(0) if status_file.exists() => fs::remove_file(&status_file).expect("cannot remove"),
        Some(0) | None => {}
        Some(code) => write("expected.status", format!("{code}\n").as_bytes()),
    }
}

/// Every way the run differs from the case's expectations.
fn check_case(dir: &Path, actual: &Actual) -> Vec<String> {
    let mut problems = stray_expectations(dir);
    let expected_status = match expected_status(dir) {
        Ok(status) => status,
        Err(problem) => {
            problems.push(problem);
            0
        }
    };
    if actual.status != Some(expected_status) {
        problems.push(format!(
            "exit status: expected {expected_status}, got {}\nstderr:\n{}",
            actual
                .status
                .map_or("a signal".to_owned(), |c| c.to_string()),
            indent(&actual.stderr)
        ));
    }
    // `check` prints its report and exits 1, and a KRM function the list with an error
    // result; everything else fails with nothing on stdout.
    let krm_function = fs::read_to_string(dir.join("input.yaml")).is_ok_and(|input| {
        input.contains("\"kind\": \"ResourceList\"") || input.contains("kind: ResourceList")
    });
    let reports = case_args(dir).first().is_some_and(|a| a == "check") || krm_function;
    if actual.status != Some(0) && !actual.stdout.is_empty() && !reports {
        problems.push("stdout must be empty when the exit status is not 0".to_owned());
    }
    match fs::read(dir.join("expected.yaml")) {
        Ok(expected) => problems.extend(compare("stdout", &expected, &actual.stdout)),
        Err(_) => problems.push("no expected.yaml (BLESS=1 writes it)".to_owned()),
    }
    if let Ok(expected) = fs::read(dir.join("expected.stderr")) {
        problems.extend(compare("stderr", &expected, actual.stderr.as_bytes()));
    }
    problems
}

fn compare(stream: &str, expected: &[u8], actual: &[u8]) -> Option<String> {
    (expected != actual).then(|| format!("{stream}:\n{}", common::diff::lines(expected, actual)))
}

fn expected_status(dir: &Path) -> Result<i32, String> {
    match fs::read_to_string(dir.join("expected.status")) {
        Err(_) => Ok(0),
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("expected.status is not a number: {text:?}")),
    }
}

/// Files that look like expectations but are not read (a typo would silently test nothing).
fn stray_expectations(dir: &Path) -> Vec<String> {
    const KNOWN: [&str; 3] = ["expected.yaml", "expected.stderr", "expected.status"];
    let mut stray: Vec<String> = fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .into_iter()
        .flatten()
        .filter(|name| name.starts_with("expect") && !KNOWN.contains(&name.as_str()))
        .map(|name| format!("unknown file {name} (expected files: {})", KNOWN.join(", ")))
        .collect();
    stray.sort();
    stray
}

fn indent(text: &str) -> String {
    if text.is_empty() {
        return "    (empty)\n".to_owned();
    }
    text.lines().map(|line| format!("    {line}\n")).collect()
}

// The harness's own pieces.

fn diff_shows_the_differing_block_with_context_and_carriage_returns() {
    let expected = b"a\nb\nc\nd\ne\nf\ng\n";
    let actual = b"a\nb\nc\nd\r\nE\t \nf\ng";
    let shown = common::diff::lines(expected, actual);
    let want = "  first difference at line 4 (expected 7 lines, got 7)\n\
                    \x20   a\n    b\n    c\n\
                    \x20 - d\n  - e\n  - f\n  - g\n\
                    \x20 + d\\r\n  + E\\t\u{b7}\n  + f\n  + g  (no newline at end)\n";
    assert_eq!(shown, want);
}

fn rules_are_appended_after_the_arguments_unless_named() {
    let dir = std::env::temp_dir().join(format!("reimage-golden-args-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("rules.yaml"), "").unwrap();
    fs::write(dir.join("args"), "images\n\n--format\njson\n").unwrap();
    assert_eq!(
        case_args(&dir),
        ["images", "--format", "json", "--rules", "rules.yaml"]
    );
    fs::write(dir.join("args"), "--rules=other.yaml\n").unwrap();
    assert_eq!(case_args(&dir), ["--rules=other.yaml"]);
    fs::remove_dir_all(&dir).unwrap();
}
