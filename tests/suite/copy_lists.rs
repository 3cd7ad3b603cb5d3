//! The copy lists of `reimage images` against real registries and the real `skopeo`: images
//! pushed to a source registry, copied to a mirror as `--format mirror` and `--format
//! skopeo-sync` say, then `reimage lock` against the mirror. What the mirror serves under each
//! final tag must be what the lock pins and what the source serves under the final tag — also
//! when an override changed the tag, so the old tag's content under the new tag fails.
//!
//! Without `skopeo` or the registry tools (`bash scripts/setup.sh` installs them) these tests are
//! reported as ignored; with `CI=true` they fail instead.

use crate::common;

use std::collections::BTreeMap;

use common::registry::{
    copy_tools, fetch_manifest, reimage, run, sha256, skopeo, workload, Auth, Pusher, Registry,
    Scratch,
};
use common::Ran;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        mirror_pairs_copy_what_the_install_pulls,
        skopeo_sync_file_copies_what_the_install_pulls,
    ]
}

use crate::common::{assert_succeeded as assert_ok, lossy as text};

/// The source registry with its images: `app:1` and `app:2` of different content, a
/// `team/web:1.0` and a multi-arch `multi:3`, each with the digest it serves.
struct Source {
    registry: Registry,
    digests: BTreeMap<&'static str, String>,
}

impl Source {
    fn start() -> Source {
        let registry = Registry::start(Auth::Open);
        let push = Pusher::new(registry.base(), Box::new(|_| None));
        let mut digests = BTreeMap::new();
        digests.insert("app:1", push.single_arch("app", "1"));
        digests.insert("app:2", push.single_arch("app", "2"));
        digests.insert("team/web:1.0", push.single_arch("team/web", "1.0"));
        digests.insert("multi:3", push.multi_arch("multi", "3").0);
        assert_ne!(
            digests["app:1"], digests["app:2"],
            "the two tags must differ"
        );
        Source { registry, digests }
    }

    fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.registry.host)
    }

    /// The rules: `registries` as given, and `app` moved from tag 1 to tag 2.
    fn rules(&self, registries: &str) -> String {
        format!(
            "version: 1\nregistries: {registries}\nimages: [{{name: {}, newTag: \"2\"}}]\n",
            self.image("app")
        )
    }
}

/// Locks against the mirror (and, for comparison, against the source), and checks every
/// final reference: the mirror serves the pinned digest, and it is the digest of the source
/// image the final reference stands for. `want` maps each final reference (on `mirror`) to the
/// source image (`repository:tag`) it must hold.
fn check_mirror(
    dir: &Scratch,
    mirror: &Registry,
    source: &Source,
    input: &str,
    want: &[(&str, &str)],
) {
    let out = run(
        reimage(dir),
        &["--rules", "rules.yaml", "lock", "-o", "mirror.lock.yaml"],
        input,
    );
    assert_ok("reimage lock against the mirror", &out);
    let out = run(
        reimage(dir),
        &[
            "--rules",
            "rules.yaml",
            "lock",
            "--source",
            "-o",
            "source.lock.yaml",
        ],
        input,
    );
    assert_ok("reimage lock --source", &out);
    let read = |name: &str| std::fs::read_to_string(dir.path(name)).unwrap();
    assert_eq!(
        read("mirror.lock.yaml"),
        read("source.lock.yaml"),
        "the mirror must serve the digests the source does"
    );

    let lock: serde_yaml::Value = serde_yaml::from_str(&read("mirror.lock.yaml")).unwrap();
    let pins: BTreeMap<String, String> = serde_yaml::from_value(lock["images"].clone()).unwrap();
    let expected: BTreeMap<String, String> = want
        .iter()
        .map(|(path, image)| {
            (
                format!("{}/{path}", mirror.host),
                source.digests[image].clone(),
            )
        })
        .collect();
    assert_eq!(pins, expected, "lock pins against the mirror");
    for (reference, pin) in &pins {
        let path = reference
            .strip_prefix(&format!("{}/", mirror.host))
            .unwrap();
        let (repo, tag) = path.rsplit_once(':').unwrap();
        let served = fetch_manifest(&mirror.base(), repo, tag)
            .unwrap_or_else(|| panic!("the mirror has no {reference}"));
        assert_eq!(
            &sha256(&served),
            pin,
            "what the mirror serves as {reference}"
        );
    }
}

/// Copies every `source<TAB>destination` pair with `skopeo copy`, digests kept.
fn copy_pairs(dir: &Scratch, pairs: &str) {
    for line in pairs.lines() {
        let (from, to) = line.split_once('\t').unwrap();
        let out = run(
            skopeo(dir),
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
        assert_ok(&format!("skopeo copy {from} {to}"), &out);
    }
}

fn mirror_pairs_copy_what_the_install_pulls() -> Ran {
    copy_tools()?;
    let source = Source::start();
    let mirror = Registry::start(Auth::Open);
    let (s, m) = (&source.registry.host, &mirror.host);
    let port_segment = s.replace(':', "_");
    let input = workload(&[
        &source.image("app:1"),
        &source.image("team/web:1.0"),
        &source.image("multi:3"),
    ]);
    let layouts = [
        (
            format!("[{{from: \"*\", to: {m}/all}}]"),
            [
                (format!("all/{port_segment}/app:2"), "app:2"),
                (format!("all/{port_segment}/multi:3"), "multi:3"),
                (format!("all/{port_segment}/team/web:1.0"), "team/web:1.0"),
            ],
        ),
        (
            format!("[{{from: \"{s}\", to: {m}/mapped}}]"),
            [
                ("mapped/app:2".to_string(), "app:2"),
                ("mapped/multi:3".to_string(), "multi:3"),
                ("mapped/team/web:1.0".to_string(), "team/web:1.0"),
            ],
        ),
    ];
    for (registries, want) in &layouts {
        let dir = Scratch::new("copy");
        std::fs::write(dir.path("rules.yaml"), source.rules(registries)).unwrap();
        let out = run(
            reimage(&dir),
            &["--rules", "rules.yaml", "images", "--format", "mirror"],
            &input,
        );
        assert_ok("reimage images --format mirror", &out);
        let pairs = text(&out.stdout);
        let app = format!("{s}/app:2\t{m}/{}\n", want[0].0);
        assert!(pairs.contains(&app), "the new tag is copied:\n{pairs}");
        copy_pairs(&dir, &pairs);
        let want: Vec<(&str, &str)> = want.iter().map(|(p, i)| (p.as_str(), *i)).collect();
        check_mirror(&dir, &mirror, &source, &input, &want);

        // Neither layout is one `skopeo sync`: `team/web` is not on its last segment, and the
        // catch-all keeps a port skopeo cannot write with --scoped.
        let out = run(
            reimage(&dir),
            &["--rules", "rules.yaml", "images", "--format", "skopeo-sync"],
            &input,
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("`{s}/team/web:1.0`")) && stderr.contains("--format mirror"),
            "{stderr}"
        );
    }
    Ok(())
}

fn skopeo_sync_file_copies_what_the_install_pulls() -> Ran {
    copy_tools()?;
    let source = Source::start();
    let mirror = Registry::start(Auth::Open);
    let (s, m) = (&source.registry.host, &mirror.host);
    let input = workload(&[&source.image("app:1"), &source.image("multi:3")]);
    let dir = Scratch::new("sync");
    let rules = source.rules(&format!("[{{from: \"{s}\", to: {m}/synced}}]"));
    std::fs::write(dir.path("rules.yaml"), rules).unwrap();
    let out = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "images", "--format", "skopeo-sync"],
        &input,
    );
    assert_ok("reimage images --format skopeo-sync", &out);
    let file = text(&out.stdout);
    assert!(file.contains("    app:\n      - \"2\"\n"), "{file}");
    std::fs::write(dir.path("sync.yaml"), &file).unwrap();

    // Run exactly the invocation the file's first line gives.
    let command = file.lines().next().unwrap().strip_prefix("# ").unwrap();
    assert_eq!(
        command,
        format!(
            "skopeo sync --src yaml --dest docker --all --preserve-digests \
             --dest-tls-verify=false FILE {m}/synced"
        )
    );
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("skopeo"));
    let args: Vec<&str> = words
        .map(|w| if w == "FILE" { "sync.yaml" } else { w })
        .collect();
    let out = run(skopeo(&dir), &args, "");
    assert_ok("skopeo sync", &out);
    check_mirror(
        &dir,
        &mirror,
        &source,
        &input,
        &[("synced/app:2", "app:2"), ("synced/multi:3", "multi:3")],
    );
    Ok(())
}
