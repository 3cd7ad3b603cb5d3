//! The README's first command must keep working: it runs reimage on the example that ships
//! with the repository.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::process::{Command, Stdio};

/// The arguments and the input file of `reimage ARGS < FILE` in the README's first code block.
fn readme_command() -> (Vec<String>, String) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```sh\n").nth(1).unwrap();
    let first = block.lines().next().unwrap();
    assert!(
        first.starts_with("cargo install --locked --path . && reimage "),
        "{first}"
    );
    let run = first.split("&& reimage ").nth(1).unwrap();
    let (args, input) = run.split_once(" < ").unwrap();
    assert_eq!(block.lines().nth(1), Some("cargo test --locked"));
    (
        args.split_whitespace().map(String::from).collect(),
        input.trim().to_string(),
    )
}

#[test]
fn the_readme_example_runs_and_rewrites_every_image() {
    let (args, input) = readme_command();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_example(&args, &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for image in [
        "registry.example.com/mirror/docker.io/library/busybox:1.36",
        "\"registry.example.com/prometheus/prometheus:v2.53.0\"",
        "registry.example.com/prometheus/pushgateway:v1.9.0   # ignores",
        "registry.example.com/prometheus/alertmanager:v0.27.0",
    ] {
        assert!(text.contains(image), "{image} missing from:\n{text}");
    }
    assert!(text.contains("compress: yes        # YAML 1.1 boolean"));
    // The two workloads and the Alertmanager, whose spec takes imagePullSecrets too.
    assert_eq!(text.matches("- name: registry-pull").count(), 3);
}

fn run_example(args: &[&str], input: &str) -> std::process::Output {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .args(args)
        .current_dir(root)
        .env_remove("REIMAGE_RULES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(format!("{root}/{input}")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    child.wait_with_output().unwrap()
}

/// The walk-through of "Why did my image escape?": the policy stops the render and names the
/// two escaping images; the fixed rules mirror them.
#[test]
fn the_escape_example_works_as_the_readme_says() {
    let input = "examples/escape/rendered.yaml";
    let failed = run_example(&["--rules", "examples/escape/rules.yaml"], input);
    assert_eq!(failed.status.code(), Some(1));
    assert!(failed.stdout.is_empty());
    let stderr = String::from_utf8(failed.stderr).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in stderr.lines() {
        assert!(readme.contains(line), "the README does not show: {line}");
    }
    let check = run_example(
        &["--rules", "examples/escape/fixed-rules.yaml", "check"],
        input,
    );
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let fixed = run_example(&["--rules", "examples/escape/fixed-rules.yaml"], input);
    let text = String::from_utf8(fixed.stdout).unwrap();
    assert_eq!(text.matches("mirror.example.com/all/").count(), 5, "{text}");
}
