//! `reimage completions SHELL` and `reimage man`: generated from the clap definitions, so they
//! name the subcommands and flags there are.

use crate::common;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        completion_scripts_name_the_commands_and_flags,
        the_manual_page_is_roff,
    ]
}

fn completion_scripts_name_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let out = common::run(&["completions", shell], b"");
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "images",
            "check",
            "init",
            "import",
            "schema",
            "--registry",
            "--pull-secret",
            "skopeo-sync",
        ] {
            assert!(script.contains(word), "the {shell} script lacks `{word}`");
        }
    }
    let out = common::run(&["completions", "tcsh"], b"");
    assert_eq!(out.status.code(), Some(2));
}

fn the_manual_page_is_roff() {
    let out = common::run(&["man"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".TH") || page.starts_with(".ie"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(
        page.contains(".SH NAME") && page.contains("reimage"),
        "{page}"
    );
    for word in ["init", "import", "completions", "\\-\\-registry"] {
        assert!(page.contains(word), "the page lacks `{word}`");
    }
}
