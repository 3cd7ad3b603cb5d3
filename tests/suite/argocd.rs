//! The Argo CD config management plugin (`deploy/argocd/plugin.yaml`) run as Argo CD's CMP
//! server runs it: `command` and then `args` of `init` and `generate`, in the Application's
//! folder (`testdata/argocd/app`), with only the variables the server sets (the build
//! environment, `ARGOCD_ENV_*` from the Application's plugin env and `PARAM_*` from its
//! parameters) and `PATH` holding a `helm` stand-in (`testdata/argocd/helm`, which prints the
//! chart's pre-rendered stream) and the built reimage. Also checks the sidecar patch against
//! the conventions Argo CD's documentation sets.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_yaml::Value;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        generate_pipes_the_chart_through_reimage,
        a_failing_reimage_fails_generate,
        a_failing_helm_fails_generate,
        init_builds_the_chart_dependencies,
        every_parameter_reaches_generate,
        the_sidecar_patch_follows_the_conventions,
    ]
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn plugin() -> Value {
    yaml("deploy/argocd/plugin.yaml")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Variables set for a run, as (name, value).
type Env<'a> = &'a [(&'a str, &'a str)];

/// A run of one of the plugin's commands, and what the helm stand-in was asked.
struct Run {
    output: Output,
    helm_calls: Vec<String>,
}

/// Runs `spec.<step>` of the plugin as the CMP server does: `command[0]` with the rest of
/// `command`, then `args`, in the app folder, with `env` besides the build environment.
fn run_step(step: &str, env: &[(&str, &str)]) -> Run {
    run_argv(&argv(step), env)
}

/// `command`, then `args`, of `spec.<step>`.
fn argv(step: &str) -> Vec<String> {
    let spec = &plugin()["spec"][step];
    let mut argv = strings(&spec["command"]);
    if !spec["args"].is_null() {
        argv.extend(strings(&spec["args"]));
    }
    argv
}

/// Runs `argv` in the app folder with the build environment, `env` and the stand-ins.
fn run_argv(argv: &[String], env: &[(&str, &str)]) -> Run {
    let scratch = scratch(&argv[0]);
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helm = bin.join("helm");
    std::fs::copy(repo().join("testdata/argocd/helm"), &helm).unwrap();
    set_executable(&helm);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_reimage"), bin.join("reimage")).unwrap();
    let log = scratch.join("helm-calls");
    let system_path = std::env::var("PATH").unwrap_or_default();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(repo().join("testdata/argocd/app"))
        .env_clear()
        .env("PATH", format!("{}:{system_path}", bin.display()))
        .env("HELM_STANDIN_LOG", &log)
        .env("ARGOCD_APP_NAME", "web")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("ARGOCD_APP_PROJECT_NAME", "default")
        .env("ARGOCD_APP_SOURCE_PATH", "testdata/argocd/app")
        .env("KUBE_VERSION", "1.31.0")
        .env("KUBE_API_VERSIONS", "v1,apps/v1")
        .envs(env.iter().copied());
    let output = common::output_with_stdin(cmd, b"");
    let helm_calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::remove_dir_all(&scratch).unwrap();
    Run { output, helm_calls }
}

/// A fresh folder of its own for each run (tests run at once).
fn scratch(name: &str) -> PathBuf {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("reimage-argocd-{pid}-{name}-{run}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The stream reimage writes for the chart's pre-rendered one, run directly.
fn rendered_by_reimage(args: &[&str]) -> Vec<u8> {
    let app = repo().join("testdata/argocd/app");
    let input = std::fs::read(app.join("rendered.yaml")).unwrap();
    let mut cmd = common::reimage();
    cmd.current_dir(&app).args(args);
    let output = common::output_with_stdin(cmd, &input);
    assert!(output.status.success(), "{}", stderr(&output));
    output.stdout
}

fn generate_pipes_the_chart_through_reimage() {
    let run = run_step(
        "generate",
        &[
            ("PARAM_RULES", "rules.yaml"),
            ("ARGOCD_ENV_REIMAGE_PULL_SECRET", "harbor-pull"),
        ],
    );
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    let expected = rendered_by_reimage(&["--rules", "rules.yaml", "--pull-secret", "harbor-pull"]);
    assert_eq!(
        String::from_utf8_lossy(&run.output.stdout),
        String::from_utf8_lossy(&expected)
    );
    let text = String::from_utf8(run.output.stdout).unwrap();
    for line in [
        "image: \"harbor.example.com/ghcr/example/shop:1.4.2\"",
        "image: harbor.example.com/hub/library/busybox:1.36",
        "image: harbor.example.com/hub/library/redis:7.2",
        "- name: harbor-pull",
        "# Source: shop/templates/service.yaml",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert_eq!(
        run.helm_calls,
        ["template web . --namespace shop --include-crds --kube-version 1.31.0 --api-versions v1,apps/v1"]
    );
}

fn a_failing_reimage_fails_generate() {
    let run = run_step("generate", &[("PARAM_RULES", "broken-rules.yaml")]);
    assert_eq!(run.output.status.code(), Some(2), "{}", stderr(&run.output));
    assert!(run.output.stdout.is_empty());
    let message = stderr(&run.output);
    assert!(
        message.starts_with("reimage: broken-rules.yaml: registries[0]"),
        "{message}"
    );
    // No rules at all is a failure too, not the chart unchanged.
    let run = run_step("generate", &[]);
    assert_eq!(run.output.status.code(), Some(2), "{}", stderr(&run.output));
    assert!(stderr(&run.output).starts_with("reimage: no rules given"));
}

fn a_failing_helm_fails_generate() {
    let env = [
        ("PARAM_REGISTRY", "harbor.example.com/all"),
        ("HELM_STANDIN_FAIL", "1"),
    ];
    let run = run_step("generate", &env);
    // reimage turns the empty stream into an empty stream and exits 0: only `pipefail`
    // fails the step, with Helm's status.
    assert_eq!(run.output.status.code(), Some(1), "{}", stderr(&run.output));
    assert!(run.output.stdout.is_empty());
    assert!(stderr(&run.output).contains("Error: template:"));
    let without: Vec<String> = argv("generate")
        .into_iter()
        .filter(|a| a != "-o" && a != "pipefail")
        .collect();
    let unsafe_run = run_argv(&without, &env);
    assert!(
        unsafe_run.output.status.success(),
        "without pipefail the failure would pass for an empty, successful render"
    );
}

fn init_builds_the_chart_dependencies() {
    let run = run_step("init", &[]);
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    assert_eq!(run.helm_calls, ["dependency build"]);
}

/// Each announced parameter, under the variable Argo CD names for it (`PARAM_` and the name
/// upper-cased, anything but letters, digits and `_` made `_`), reaches reimage as its option;
/// the Application's plugin env is read when a parameter is not set.
fn every_parameter_reaches_generate() {
    let names: Vec<String> = plugin()["spec"]["parameters"]["static"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let variables: Vec<String> = names
        .iter()
        .map(|name| {
            let escaped: String = name
                .to_uppercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("PARAM_{escaped}")
        })
        .collect();
    assert_eq!(
        variables,
        ["PARAM_RULES", "PARAM_REGISTRY", "PARAM_PULL_SECRET"]
    );
    // (variables, the reimage options they stand for)
    let cases: [(Env, &[&str]); 4] = [
        (&[("PARAM_RULES", "rules.yaml")], &["--rules", "rules.yaml"]),
        (
            &[("PARAM_REGISTRY", "harbor.example.com/all")],
            &["--registry", "harbor.example.com/all"],
        ),
        (
            &[
                ("PARAM_RULES", "rules.yaml"),
                ("PARAM_PULL_SECRET", "mirror-pull"),
            ],
            &["--rules", "rules.yaml", "--pull-secret", "mirror-pull"],
        ),
        (
            &[
                ("PARAM_RULES", "rules.yaml"),
                ("ARGOCD_ENV_REIMAGE_RULES", "broken-rules.yaml"),
                ("ARGOCD_ENV_REIMAGE_REGISTRY", "harbor.example.com/all"),
            ],
            &[
                "--rules",
                "rules.yaml",
                "--registry",
                "harbor.example.com/all",
            ],
        ),
    ];
    for (env, args) in cases {
        let run = run_step("generate", env);
        assert!(
            run.output.status.success(),
            "{env:?}: {}",
            stderr(&run.output)
        );
        assert_eq!(run.output.stdout, rendered_by_reimage(args), "{env:?}");
    }
}

fn the_sidecar_patch_follows_the_conventions() {
    let patch = yaml("deploy/argocd/argocd-repo-server-patch.yaml");
    assert_eq!(patch["kind"], "Deployment");
    assert_eq!(patch["metadata"]["name"], "argocd-repo-server");
    let pod = &patch["spec"]["template"]["spec"];
    let sidecar = &pod["containers"][0];
    assert_eq!(
        strings(&sidecar["command"]),
        ["/var/run/argocd/argocd-cmp-server"]
    );
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    assert_eq!(sidecar["securityContext"]["runAsNonRoot"], true);
    let mounts: Vec<(&str, &str, Option<&str>)> = sidecar["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
                m["subPath"].as_str(),
            )
        })
        .collect();
    for wanted in [
        ("/var/run/argocd", "var-files", None),
        ("/home/argocd/cmp-server/plugins", "plugins", None),
        (
            "/home/argocd/cmp-server/config/plugin.yaml",
            "helm-reimage-plugin",
            Some("plugin.yaml"),
        ),
    ] {
        assert!(mounts.contains(&wanted), "{wanted:?} not in {mounts:?}");
    }
    // `var-files` and `plugins` are the repo server's own volumes; the others are the patch's.
    let volumes: Vec<&str> = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for (_, name, _) in &mounts {
        assert!(
            ["var-files", "plugins"].contains(name) || volumes.contains(name),
            "{name} is mounted but not a volume"
        );
    }
    let tmp = mounts.iter().find(|(path, ..)| *path == "/tmp").unwrap();
    assert_ne!(
        tmp.1, "tmp",
        "the sidecar must not share the repo server's /tmp"
    );
    let plugin_volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "helm-reimage-plugin")
        .unwrap();
    assert_eq!(plugin_volume["configMap"]["name"], "helm-reimage-plugin");
    let path = sidecar["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PATH")
        .unwrap();
    let install = &pod["initContainers"][0];
    let target = strings(&install["command"]).pop().unwrap();
    let dir = Path::new(&target)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        path["value"].as_str().unwrap().split(':').any(|p| p == dir),
        "reimage is copied to {dir}, which is not on the sidecar's PATH"
    );
}
