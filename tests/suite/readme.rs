//! The README's examples must keep working: its first command runs reimage on the example that
//! ships with the repository, and every rules file and lock file it shows is read as pasted.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reimage::lock::Lock;
use reimage::rules::Rules;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        the_readme_example_runs_and_rewrites_every_image,
        the_escape_example_works_as_the_readme_says,
        the_full_rules_example_runs_as_pasted,
        every_rules_and_lock_file_in_the_readme_is_read,
        the_kustomize_function_config_runs_as_pasted,
        the_patches_of_the_readme_run_as_pasted,
    ]
}

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

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The `yaml` code blocks of the README part under `heading` (`## Recipes`), up to the next
/// heading of its level or above; lines in code blocks are never taken for headings.
fn yaml_blocks(heading: &str) -> Vec<String> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let ends_part = |line: &str| {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        (1..=level).contains(&hashes) && line[hashes..].starts_with(' ')
    };
    let (mut found, mut blocks) = (false, Vec::new());
    let mut fence: Option<Option<String>> = None; // inside a block; `Some` when it is yaml
    for line in readme().lines() {
        match &mut fence {
            Some(block) if line == "```" => {
                blocks.extend(block.take().filter(|_| found));
                fence = None;
            }
            Some(Some(text)) => {
                text.push_str(line);
                text.push('\n');
            }
            Some(None) => {}
            None if line.starts_with("```") => {
                fence = Some((line == "```yaml").then(String::new));
            }
            None if line == heading => found = true,
            None if found && ends_part(line) => break,
            None => {}
        }
    }
    assert!(found, "the README has no heading {heading:?}");
    blocks
}

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reimage-readme-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_in(dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut cmd = common::reimage();
    cmd.current_dir(dir).args(args);
    common::output_with_stdin(cmd, stdin.as_bytes())
}

const WORKLOADS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  imagePullSecrets: [{name: upcloud-registry}]
  containers:
  - {name: web, image: nginx:1.25}
  - {name: gateway, image: quay.io/prometheus/pushgateway:v1.8.0}
  - {name: prometheus, image: quay.io/prometheus/prometheus:v2.53.0}
  - {name: corp, image: registry.corp.example.com/team/app:2}
  - {name: other, image: gcr.io/x/y:1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: rook-discover}
spec:
  template:
    spec:
      containers:
      - {name: rook-discover, image: rook/ceph:v1.16.0}
";

/// The full example of "The rules file", pasted into a file: it loads, and `reimage images`
/// (which needs no lock file yet) and a render (with an empty lock file) do what it says.
fn the_full_rules_example_runs_as_pasted() {
    let blocks = yaml_blocks("## The rules file");
    let example = blocks.first().unwrap();
    assert!(example.starts_with("version: 1"), "{example}");
    let dir = scratch("full");
    let file = dir.join("rules.yaml");
    std::fs::write(&file, example).unwrap();
    let rules = Rules::load(&file).unwrap_or_else(|e| panic!("{e}\n{example}"));
    assert_eq!(rules.images.len(), 2);
    let out = run_in(&dir, &["images", "--rules", "rules.yaml"], WORKLOADS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "harbor.example.com/all/gcr.io/x/y:1\n\
         harbor.example.com/dockerhub/library/nginx:1.25\n\
         harbor.example.com/dockerhub/rook/ceph:v1.16.1\n\
         harbor.example.com/observability/pushgateway:v1.9.0\n\
         harbor.example.com/prom/prometheus:v2.53.0\n\
         registry.corp.example.com/team/app:2\n"
    );
    std::fs::write(dir.join("images.lock.yaml"), "version: 1\nimages: {}\n").unwrap();
    let out = run_in(&dir, &["--rules", "rules.yaml"], WORKLOADS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("imagePullSecrets: [{name: harbor-pull}]"),
        "{text}"
    );
    assert_eq!(text.matches("harbor-pull").count(), 2, "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every recipe is a whole rules file; the `scan:` and `policy:` fragments are read below a
/// `version: 1` line; the lock file example is a lock file.
fn every_rules_and_lock_file_in_the_readme_is_read() {
    let recipes = yaml_blocks("## Recipes");
    assert!(recipes.len() >= 6, "{recipes:?}");
    for recipe in &recipes {
        Rules::from_yaml(recipe, Path::new("")).unwrap_or_else(|e| panic!("{e}\n{recipe}"));
    }
    let blocks = yaml_blocks("## The rules file");
    let fragments: Vec<&String> = blocks
        .iter()
        .filter(|b| b.starts_with("scan:") || b.starts_with("policy:"))
        .collect();
    assert_eq!(fragments.len(), 2, "{blocks:?}");
    for fragment in fragments {
        let text = format!("version: 1\n{fragment}");
        Rules::from_yaml(&text, Path::new("")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
    let locks = yaml_blocks("### The lock file");
    assert_eq!(locks.len(), 1);
    let lock = Lock::from_yaml(&locks[0]).unwrap();
    assert_eq!(lock.entries().count(), 1);
}

/// The `kind: Rules` file the kustomize and kpt section shows, as the `functionConfig` of a
/// `ResourceList` the way kustomize sends it: the items come back rewritten.
fn the_kustomize_function_config_runs_as_pasted() {
    let blocks = yaml_blocks("### kustomize and kpt: a KRM function");
    let config = blocks
        .iter()
        .find(|b| b.contains("kind: Rules"))
        .expect("no `kind: Rules` block");
    let indented: String = config.lines().map(|line| format!("  {line}\n")).collect();
    let list = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n{}functionConfig:\n{indented}",
        "- {apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [{name: web, image: nginx:1.25}]}}\n"
    );
    let out = common::run(&[], list.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{list}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("imagePullSecrets: [{name: harbor-pull}], containers: [{name: web, image: harbor.example.com/mirror/docker.io/library/nginx:1.25}]"),
        "{text}"
    );
}

/// The `patches:` blocks of the Patches section are rules as pasted (after `version: 1`), and
/// the first one does to a Deployment what the section says.
fn the_patches_of_the_readme_run_as_pasted() {
    let blocks: Vec<String> = yaml_blocks("## Patches")
        .into_iter()
        .filter(|b| b.starts_with("patches:"))
        .collect();
    assert!(blocks.len() >= 2, "{blocks:?}");
    for block in &blocks {
        let text = format!("version: 1\n{block}");
        Rules::from_yaml(&text, Path::new("")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-patches");
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, format!("version: 1\n{}", blocks[0])).unwrap();
    let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";
    let out = common::run(&["--rules", rules.to_str().unwrap()], input.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "  replicas: 3\n",
        "      tolerations: [{key: dedicated, operator: Exists}]\n",
        "  labels: {team: platform}\n",
    ] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
}
