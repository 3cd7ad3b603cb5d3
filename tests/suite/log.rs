//! `--log FILE` (and `REIMAGE_LOG`) appends the change report and any error to a file, because
//! Helm 4 discards a plugin's standard error. Each run appends its lines in one write, so
//! concurrent runs sharing a log never interleave.

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use crate::common;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        log_appends_changes_and_errors,
        warnings_reach_the_log_even_when_quiet,
        a_refused_command_line_is_logged,
        an_unwritable_log_is_an_error,
        concurrent_runs_never_interleave_their_lines,
    ]
}

fn run(args: &[&str], env: &[(&str, &Path)], input: &str) -> Output {
    let mut command = common::reimage();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    // A run refused on its command line exits before it reads its input: not an error here.
    common::output_with_stdin(command, input.as_bytes())
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n";

fn log_appends_changes_and_errors() {
    let dir = std::env::temp_dir().join(format!("reimage-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("reimage.log");
    let _ = std::fs::remove_file(&log);

    let ok = run(
        &[
            "--registry",
            "m.example.com/all",
            "--log",
            log.to_str().unwrap(),
        ],
        &[],
        POD,
    );
    assert!(ok.status.success());
    assert!(
        ok.stderr.is_empty(),
        "without --explain nothing goes to stderr"
    );
    let broken = run(
        &["--registry", "m.example.com/all"],
        &[("REIMAGE_LOG", &log)],
        "a: [1\n",
    );
    assert_eq!(broken.status.code(), Some(2));
    assert!(broken.stdout.is_empty());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // Each run starts with a header that tells it apart from the others.
    for (header, bytes) in [(lines[0], POD.len()), (lines[2], 6)] {
        assert!(header.starts_with("== reimage "), "{header}");
        assert!(header.contains(" (pid "), "{header}");
        assert!(
            header.ends_with(&format!(
                "render; rules: --registry m.example.com/all; input: {bytes} bytes, 1 document(s)"
            )),
            "{header}"
        );
    }
    assert!(
        lines[1].contains("busybox:1.36 → m.example.com/all/docker.io/library/busybox:1.36"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("reimage: document 1: invalid YAML at line"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh folder with a log path in it.
fn log_in(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("reimage-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("reimage.log");
    (dir, log)
}

fn warnings_reach_the_log_even_when_quiet() {
    let (dir, log) = log_in("warnings");
    let pod = POD.replace(
        "    image: busybox:1.36\n",
        "    image: \"Not An Image\"\n    env: [{name: DB_REPOSITORY, value: ghcr.io/example/db}]\n",
    );
    let out = run(
        &[
            "-q",
            "--registry",
            "m.example.com/all",
            "--log",
            log.to_str().unwrap(),
        ],
        &[],
        &pod,
    );
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "--quiet");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("`Not An Image` is not a valid image reference"),
        "{text}"
    );
    assert!(
        text.contains(
            "`ghcr.io/example/db` (env:DB_REPOSITORY) was not rewritten: an OCI artifact"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn a_refused_command_line_is_logged() {
    let (dir, log) = log_in("usage");
    let out = run(
        &["--registy", "m.example.com"],
        &[("REIMAGE_LOG", &log)],
        POD,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--log", log.to_str().unwrap(), "--bogus"], &[], POD);
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&log).unwrap();
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("== reimage "))
        .collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(
        headers[0].contains("command line; rules: none; input: not read"),
        "{text}"
    );
    assert!(text.contains("unexpected argument '--registy'"), "{text}");
    assert!(text.contains("unexpected argument '--bogus'"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn an_unwritable_log_is_an_error() {
    let (dir, _) = log_in("unwritable");
    let log = dir.join("no-such-folder").join("reimage.log");
    let out = run(
        &[
            "--registry",
            "m.example.com/all",
            "--log",
            log.to_str().unwrap(),
        ],
        &[],
        POD,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("reimage: cannot write log file "),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Six runs share one log. They are held at one point, each with its whole input written
/// and its standard input still open (so it is running, waiting for the end of its input),
/// until all six are there; then every input is closed at once, and the six render and
/// append together.
fn concurrent_runs_never_interleave_their_lines() {
    let dir = std::env::temp_dir().join(format!("reimage-log-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("shared.log");
    let _ = std::fs::remove_file(&log);
    // Each run writes a few hundred lines (tens of KB) to one log, all at the same time.
    let pods: String = (0..300)
        .map(|i| POD.replace("busybox:1.36", &format!("busybox:1.{i}")))
        .collect::<Vec<_>>()
        .join("---\n");
    let mut children: Vec<Child> = (0..6)
        .map(|run_no| {
            let prefix = format!("m{run_no}.example.com/all");
            Command::new(env!("CARGO_BIN_EXE_reimage"))
                .args(["--registry", &prefix, "--log", log.to_str().unwrap()])
                .env_remove("REIMAGE_RULES")
                .env_remove("REIMAGE_LOG")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut inputs: Vec<ChildStdin> = children
        .iter_mut()
        .map(|child| child.stdin.take().unwrap())
        .collect();
    for input in &mut inputs {
        input.write_all(pods.as_bytes()).unwrap();
        input.flush().unwrap();
    }
    // The barrier: every run has its input and none has its end, so all six are running.
    let mut running = 0;
    for child in &mut children {
        running += usize::from(child.try_wait().unwrap().is_none());
    }
    assert_eq!(running, 6, "runs that ended before their input did");
    drop(inputs);
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let owners: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("== reimage "))
        .map(|line| {
            let at = line.find("→ m").expect(line) + "→ ".len();
            &line[at..at + 2]
        })
        .collect();
    assert_eq!(owners.len(), 6 * 300);
    // Every run's lines form one block: the owner changes exactly five times.
    let changes = owners.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(changes, 5, "runs interleaved in the log");
    std::fs::remove_dir_all(&dir).unwrap();
}
