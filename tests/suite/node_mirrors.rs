//! The node-level mirror configurations of `reimage images`: the `containerd-hosts` tree
//! written under `--output-dir`, compared file by file with `testdata/images-containerd-hosts/
//! hosts.d/` (the golden runner compares only standard output and error; `BLESS=1` rewrites
//! the tree), and the `registries-conf` output put to work with the real `skopeo` between two
//! real registries: with it, a source registry that is stopped is served by the mirror.
//!
//! Without `skopeo` or the registry tools (`bash scripts/setup.sh` installs them) the registry
//! test is reported as ignored; with `CI=true` it fails instead.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::registry::{
    copy_tools, reimage, run, sha256, skopeo, workload, Auth, Pusher, Registry, Scratch,
};
use common::Ran;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        containerd_hosts_writes_one_file_per_registry,
        registries_conf_serves_a_stopped_source_from_the_mirror,
    ]
}

use crate::common::{assert_succeeded as assert_ok, lossy as text};

/// Every file under `root`, by path relative to it.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

fn containerd_hosts_writes_one_file_per_registry() {
    let case: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "testdata",
        "images-containerd-hosts",
    ]
    .iter()
    .collect();
    let scratch = Scratch::new("hosts");
    let out_dir = scratch.path("certs.d");
    let mut cmd = common::reimage();
    cmd.current_dir(&case).args([
        "--rules",
        "rules.yaml",
        "images",
        "--format",
        "containerd-hosts",
        "--output-dir",
    ]);
    cmd.arg(&out_dir);
    let out = common::output_with_stdin(cmd, &fs::read(case.join("input.yaml")).unwrap());
    assert_ok("reimage images --format containerd-hosts", &out);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let actual = tree(&out_dir);
    let expected_dir = case.join("hosts.d");
    if std::env::var("BLESS").is_ok_and(|v| v == "1") {
        let _ = fs::remove_dir_all(&expected_dir);
        for (name, content) in &actual {
            let path = expected_dir.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
    }
    assert_eq!(actual, tree(&expected_dir), "the files under --output-dir");
    let stderr = text(&out.stderr);
    for name in actual.keys() {
        let line = format!("reimage: wrote {}\n", out_dir.join(name).display());
        assert!(stderr.contains(&line), "{line:?} not in:\n{stderr}");
    }
    assert!(
        stderr.contains("containerd mirrors whole registries"),
        "{stderr}"
    );
}

fn registries_conf_serves_a_stopped_source_from_the_mirror() -> Ran {
    copy_tools()?;
    let dir = Scratch::new("mirrorconf");
    let source = Registry::start(Auth::Open);
    let mirror = Registry::start(Auth::Open);
    let digest = Pusher::new(source.base(), Box::new(|_| None)).single_arch("team/app", "1");
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let rules = format!("version: 1\nregistries: [{{from: \"{s}\", to: \"{m}/mapped\"}}]\n");
    fs::write(dir.path("rules.yaml"), rules).unwrap();
    let input = workload(&[&format!("{s}/team/app:1")]);
    let images = |format: &str| {
        let args = ["--rules", "rules.yaml", "images", "--format", format];
        let out = run(reimage(&dir), &args, &input);
        assert_ok(&format!("reimage images --format {format}"), &out);
        text(&out.stdout)
    };

    // Into the mirror, where the rules put it.
    let pairs = images("mirror");
    assert_eq!(pairs, format!("{s}/team/app:1\t{m}/mapped/team/app:1\n"));
    let (from, to) = pairs.trim_end().split_once('\t').unwrap();
    let out = run(
        skopeo(&dir),
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{from}"),
            &format!("docker://{to}"),
        ],
        "",
    );
    assert_ok("skopeo copy", &out);

    let conf = images("registries-conf");
    assert!(
        conf.contains(&format!(
            "prefix = \"{s}\"\nlocation = \"{s}\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \"{m}/mapped\"\ninsecure = true\n"
        )),
        "{conf}"
    );
    fs::write(dir.path("registries.conf"), &conf).unwrap();
    fs::write(dir.path("empty.conf"), "").unwrap();

    // The source is stopped (killed by its PID) and no longer answers.
    let port = source.port;
    drop(source);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the source still answers"
    );

    let inspect = |conf: &str| {
        run(
            skopeo(&dir),
            &[
                "--registries-conf",
                conf,
                "inspect",
                "--raw",
                &format!("docker://{s}/team/app:1"),
            ],
            "",
        )
    };
    let out = inspect("registries.conf");
    assert_ok("skopeo inspect through the mirror", &out);
    assert_eq!(sha256(&out.stdout), digest, "the mirror serves the image");
    let out = inspect("empty.conf");
    assert!(
        !out.status.success(),
        "without the mirror configuration the stopped source cannot answer: {}",
        text(&out.stdout)
    );
    drop(mirror);
    Ok(())
}
