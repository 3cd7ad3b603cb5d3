//! Standard output that cannot be written is an error that says so, not a silent success.

use std::io::Write;
use std::process::{Command, Stdio};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![a_failed_write_to_standard_output_says_so,]
}

fn a_failed_write_to_standard_output_says_so() {
    // Every write to /dev/full fails with "no space left on device".
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .args(["--registry", "m.example.com/all"])
        .env_remove("REIMAGE_RULES")
        .env_remove("REIMAGE_LOG")
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx:1}]}\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pod.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("reimage: cannot write standard output: "),
        "{stderr}"
    );
}
