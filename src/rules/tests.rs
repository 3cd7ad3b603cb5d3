//! Tests of `Rules::from_yaml`, `Rules::load` and `Rules::with_shorthands`.

use super::*;

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const SKETCH: &str = r#"
version: 1
registries:
  - {from: docker.io, to: harbor.example.com/dockerhub}
  - {from: quay.io/prometheus, to: harbor.example.com/prom}
  - {from: "*", to: mirror.example.com/all}
  - {from: registry.corp.example.com, keep: true}
images:
  - name: quay.io/prometheus/pushgateway
    newName: harbor.example.com/observability/pushgateway
    newTag: v1.9.0
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    select: {kind: DaemonSet, namespace: rook-ceph, name: rook-discover, container: rook-discover}
  - {name: nginx, newTag: "1.27"}
pullSecrets:
  add: [{name: harbor-pull}, {name: other, registries: [index.docker.io/x]}]
  remove: [upcloud-registry]
  serviceAccounts: false
digests: {lock: images.lock.yaml, form: tag+digest, require: false}
paths:
  - {kind: CephCluster, group: ceph.rook.io, path: spec.cephVersion.image}
  - {kind: Rollout, group: argoproj.io, podSpec: spec.template.spec}
"#;

pub(super) fn parse(text: &str) -> Result<Rules, RulesError> {
    Rules::from_yaml(text, Path::new("/charts"))
}

pub(super) fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

pub(super) fn assert_error(text: &str, parts: &[&str]) {
    let message = error(text);
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn reads_the_sketch() {
    let rules = parse(SKETCH).unwrap();
    assert_eq!(rules.registries.len(), 4);
    assert_eq!(
        rules.registries[0],
        RegistryRule::Map {
            from: "docker.io".into(),
            to: "harbor.example.com/dockerhub".into()
        }
    );
    assert_eq!(
        rules.registries[2],
        RegistryRule::CatchAll {
            to: "mirror.example.com/all".into()
        }
    );
    assert_eq!(
        rules.registries[3],
        RegistryRule::Keep {
            from: "registry.corp.example.com".into()
        }
    );
    let image = &rules.images[0];
    assert_eq!(image.name, "quay.io/prometheus/pushgateway");
    assert_eq!(image.select.kind.as_deref(), Some("DaemonSet"));
    assert_eq!(image.change.new_tag.as_deref(), Some("v1.9.0"));
    assert_eq!(rules.images[1].name, "docker.io/library/nginx");
    assert_eq!(rules.images[1].index, 1);
    assert_eq!(rules.images[1].select, Selector::default());
    let grants = &rules.pull_secrets.add;
    assert_eq!(
        grants[0].registries,
        ["harbor.example.com", "mirror.example.com"]
    );
    assert_eq!(grants[1].registries, ["docker.io/x"]);
    assert_eq!(rules.pull_secrets.remove, ["upcloud-registry"]);
    let digests = rules.digests.unwrap();
    assert_eq!(
        digests.lock,
        Some(PathBuf::from("/charts/images.lock.yaml"))
    );
    assert_eq!(digests.form, PinForm::TagAndDigest);
    assert!(matches!(rules.paths[0].target, PathTarget::Image(_)));
    assert!(matches!(rules.paths[1].target, PathTarget::PodSpec(_)));
    assert_eq!(rules.paths[1].group.as_deref(), Some("argoproj.io"));
}

#[test]
fn empty_file_means_no_rules() {
    assert_eq!(parse("").unwrap(), Rules::empty());
    assert_eq!(parse("  \n# nothing yet\n").unwrap(), Rules::empty());
    assert_eq!(parse("version: 1\n").unwrap(), Rules::empty());
}

#[test]
fn version_is_required_and_must_be_1() {
    assert_error("{}", &["rules file: version: missing; add `version: 1`"]);
    assert_error("---\n", &["version: missing"]);
    assert_error("registries: []\n", &["version: missing"]);
    assert_error("version: 2\nnewKey: 1\n", &["version: 2 is not supported"]);
    assert_error("version: '1'\n", &["must be the number 1, unquoted"]);
    assert_error("[1]\n", &["the top level: must be a mapping"]);
}

#[test]
fn an_implied_version_may_be_left_out_but_not_changed() {
    let read = |text| Rules::from_text(text, Path::new(""), "functionConfig", Version::Implied);
    let rules = read("registries: [{from: '*', to: m.example.com}]\n").unwrap();
    assert_eq!(rules.registries.len(), 1);
    assert_eq!(read("version: 1\n").unwrap(), Rules::empty());
    let message = read("version: 2\n").unwrap_err().to_string();
    assert!(
        message.starts_with("functionConfig: version: 2 is not supported"),
        "{message}"
    );
}

#[test]
fn unknown_keys_get_suggestions() {
    let text = "version: 1\nregistries:\n  - from: docker.io\n    form: x\n";
    assert_eq!(
        error(text),
        "rules file: unknown key `form` in registries[0] at line 4 column 5; did you mean `from`?"
    );
    assert_error(
        "version: 1\nregistry: []\n",
        &["in the top level at line 2 column 1; did you mean `registries`?"],
    );
    let text = "version: 1\nimages:\n  - {name: a, select: {kynd: X}}\n";
    assert_error(
        text,
        &[
            "unknown key `kynd` in images[0].select",
            "did you mean `kind`?",
        ],
    );
    let text = "version: 1\ndigests: {zzz: 1}\n";
    assert_error(
        text,
        &["the keys allowed here are `lock`, `form`, `require`"],
    );
}

#[test]
fn wrong_types_say_where() {
    let text = "version: 1\nregistries:\n  - {from: a.io, keep: 'yes'}\n";
    assert_error(text, &["rules file: registries[0].keep at line 3 column 24: invalid type: string \"yes\", expected a boolean; write `true` or `false`, unquoted"]);
    // YAML 1.1's booleans are strings to the rules, as to YAML 1.2: only `true` and `false`.
    let text = "version: 1\ndigests: {require: yes}\n";
    assert_error(text, &["digests.require at line 2 column 20: invalid type: string \"yes\", expected a boolean; write `true` or `false`"]);
    assert_error(
        "version: 1\npaths: {}\n",
        &["paths at line 2 column 8: invalid type: map"],
    );
    assert_error(
        "version: 1\nregistries: [\n",
        &["rules file: did not find expected node content"],
    );
}

#[test]
fn registry_entries_are_checked() {
    let cases: &[(&str, &str)] = &[
        ("{to: a.io}", "registries[0]: `from` is missing"),
        (
            "{from: a.io, to: b.io, keep: true}",
            "has both `to` and `keep: true`",
        ),
        (
            "{from: a.io, keep: false}",
            "`keep: false` without `to` does nothing",
        ),
        ("{from: a.io}", "needs `to`"),
        (
            "{from: '*', keep: true}",
            "`from: \"*\"` cannot have `keep`",
        ),
        ("{from: '*'}", "`from: \"*\"` needs `to`"),
        (
            "{from: nginx, to: b.io}",
            "registries[0].from: `nginx` is not a registry prefix",
        ),
        (
            "{from: a.io, to: b.io/x:v1}",
            "registries[0].to: `b.io/x:v1` carries a tag or digest",
        ),
        ("{from: a.io, to: ''}", "registries[0].to: empty"),
    ];
    for (entry, expected) in cases {
        assert_error(&format!("version: 1\nregistries: [{entry}]\n"), &[expected]);
    }
}

#[test]
fn repeated_registry_entries_name_both() {
    let text = "version: 1\nregistries:\n- {from: a.io, to: b.io}\n- {from: '*', to: c.io}\n\
                - {from: index.docker.io, keep: true}\n- {from: docker.io, to: d.io}\n";
    assert_error(
        text,
        &["registries[3]: `from` is `docker.io` once normalised, like registries[2]"],
    );
    let text = "version: 1\nregistries: [{from: '*', to: c.io}, {from: '*', to: d.io}]\n";
    assert_error(
        text,
        &["registries[1]: a second catch-all", "like registries[0]"],
    );
    let text = "version: 1\nregistries: [{from: quay.io, to: b.io}, {from: Quay.IO, keep: true}]\n";
    assert_error(
        text,
        &["registries[1]: `from` is `quay.io` once normalised, like registries[0]"],
    );
    let text =
        "version: 1\nimages: [{name: quay.io/a, newTag: v1}, {name: QUAY.io/a, newTag: v2}]\n";
    assert_error(text, &["images[1]: same `name` and `select` as images[0]"]);
}

#[test]
fn hosts_are_folded_for_matching_and_kept_where_written() {
    let text = "version: 1\nregistries:\n- {from: Quay.io/Prom, to: b.io}\n";
    assert_error(
        text,
        &["registries[0].from: `Quay.io/Prom` is not a registry prefix"],
    );
    let text = "version: 1\nregistries:\n- {from: Quay.io/prom, to: Harbor.Example.com/Prom}\n";
    assert_error(
        text,
        &["registries[0].to: `Harbor.Example.com/Prom` is not a registry prefix"],
    );
    let text = "version: 1\nregistries:\n- {from: Quay.io/prom, to: Harbor.Example.com/prom}\n\
                - {from: '*', to: MIRROR.example.com/all}\n\
                images: [{name: GHCR.io/a/b, newName: M.example.com/b}]\n\
                pullSecrets: {add: [{name: s}, {name: t, registries: [Harbor.EXAMPLE.com]}]}\n\
                policy: {allowedRegistries: [Mirror.Example.COM/all]}\n";
    let rules = parse(text).unwrap();
    assert_eq!(
        rules.registries,
        [
            RegistryRule::Map {
                from: "quay.io/prom".into(),
                to: "Harbor.Example.com/prom".into()
            },
            RegistryRule::CatchAll {
                to: "MIRROR.example.com/all".into()
            }
        ]
    );
    assert_eq!(rules.images[0].name, "ghcr.io/a/b");
    assert_eq!(
        rules.images[0].change.new_name.as_deref(),
        Some("M.example.com/b")
    );
    let grants = &rules.pull_secrets.add;
    assert_eq!(
        grants[0].registries,
        ["harbor.example.com", "mirror.example.com"]
    );
    assert_eq!(grants[1].registries, ["harbor.example.com"]);
    assert_eq!(
        rules.policy.unwrap().allowed_registries,
        ["mirror.example.com/all"]
    );
    let cli = parse("")
        .unwrap()
        .with_shorthands(Some("Cli.Example.com/all"), &["s".to_string()], None)
        .unwrap();
    assert_eq!(
        cli.registries,
        [RegistryRule::CatchAll {
            to: "Cli.Example.com/all".into()
        }]
    );
    assert_eq!(cli.pull_secrets.add[0].registries, ["cli.example.com"]);
}

#[test]
fn image_entries_are_checked() {
    let digest = format!("sha256:{HEX}");
    let cases: &[(&str, &str)] = &[
        ("{newTag: v1}", "images[0]: `name` is missing"),
        (
            "{name: nginx:1.27, newTag: v1}",
            "images[0].name: `nginx:1.27` has a tag; give the name alone and put the tag in newTag",
        ),
        ("{name: 'nginx@DIGEST', newTag: v1}", "has a digest"),
        (
            "{name: Nginx, newTag: v1}",
            "images[0].name: `Nginx` is not an image name",
        ),
        ("{name: nginx}", "images[0]: changes nothing"),
        (
            "{name: nginx, newName: 'b.io/x:v2'}",
            "images[0].newName: `b.io/x:v2` has a tag",
        ),
        ("{name: nginx, newName: ''}", "images[0].newName: empty"),
        (
            "{name: nginx, newTag: ''}",
            "images[0].newTag: `` is not a valid tag",
        ),
        (
            "{name: nginx, newTag: 'a/b'}",
            "images[0].newTag: `a/b` is not a valid tag",
        ),
        (
            "{name: nginx, digest: 'sha256:abc'}",
            "images[0].digest: `sha256:abc` is not a valid digest",
        ),
        (
            "{name: nginx, newTag: v1, select: {kind: ''}}",
            "images[0].select.kind: empty",
        ),
    ];
    for (entry, expected) in cases {
        let entry = entry.replace("DIGEST", &digest);
        assert_error(&format!("version: 1\nimages: [{entry}]\n"), &[expected]);
    }
    let text = "version: 1\nimages: [{name: nginx, newTag: a}, {name: docker.io/library/nginx, newTag: b}]";
    assert_error(text, &["images[1]: same `name` and `select` as images[0]"]);
}

#[test]
fn load_names_the_file_and_resolves_the_lock() {
    let dir = std::env::temp_dir().join(format!("reimage-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.yaml");
    std::fs::write(&file, "version: 1\ndigests: {lock: l.yaml}\n").unwrap();
    let rules = Rules::load(&file).unwrap();
    assert_eq!(rules.digests.unwrap().lock, Some(dir.join("l.yaml")));
    std::fs::write(&file, "version: 1\nimagse: []\n").unwrap();
    let message = Rules::load(&file).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: unknown key `imagse`", file.display())),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let message = Rules::load(&dir.join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("cannot read rules file"), "{message}");
}

#[test]
fn digests_and_paths_are_checked() {
    let text = "version: 1\ndigests: {form: tag-digest}\n";
    assert_error(
        text,
        &["digests.form: `tag-digest` is not a pin form; use `tag+digest`"],
    );
    let rules = parse("version: 1\ndigests: {form: digest, require: true}\n").unwrap();
    let digests = rules.digests.unwrap();
    let got = (digests.lock, digests.form, digests.require);
    assert_eq!(got, (None, PinForm::DigestOnly, true));
    let cases: &[(&str, &str)] = &[
        ("{path: spec.image}", "paths[0]: `kind` is missing"),
        (
            "{kind: X, path: a, podSpec: b}",
            "paths[0]: has both `path` and `podSpec`",
        ),
        ("{kind: X}", "paths[0]: needs `path`"),
        (
            "{kind: X, path: 'a..b'}",
            "paths[0].path: `a..b` is not a field path",
        ),
        ("{kind: X, group: '', path: a}", "paths[0].group: empty"),
    ];
    for (entry, expected) in cases {
        assert_error(&format!("version: 1\npaths: [{entry}]\n"), &[expected]);
    }
}

#[test]
fn yaml_problems_say_what_to_do() {
    let text = "version: 1\nversion: 1\n";
    assert_error(text, &["duplicate field `version`; keep only one"]);
    let text = "version: 1\nregistries: []\nregistries: []\n";
    assert_error(text, &["duplicate field `registries`; keep only one"]);
    let text = "version: 1\n---\nversion: 1\n";
    assert_error(
        text,
        &[
            "more than one document",
            "put all the rules in one YAML document",
        ],
    );
}

#[test]
fn digests_resolve_and_insecure_registries() {
    let text =
        "version: 1\ndigests: {resolve: true, insecureRegistries: [Reg.Internal:5000, mirror]}\n";
    let digests = parse(text).unwrap().digests.unwrap();
    assert!(digests.resolve);
    assert_eq!(digests.insecure_registries, ["reg.internal:5000", "mirror"]);
    assert!(
        !parse("version: 1\ndigests: {}\n")
            .unwrap()
            .digests
            .unwrap()
            .resolve
    );
    assert_error(
        "version: 1\ndigests: {insecureRegistries: ['http://reg.internal']}\n",
        &["digests.insecureRegistries[0]: `http://reg.internal` is not a registry host"],
    );
}

#[test]
fn a_byte_order_mark_is_skipped_and_positions_stay_right() {
    let rules = parse("\u{feff}version: 1\nregistries: [{from: '*', to: m.example.com}]\n");
    assert_eq!(rules.unwrap().registries.len(), 1);
    assert_eq!(parse("\u{feff}").unwrap(), Rules::empty());
    assert_eq!(parse("\u{feff}# nothing yet\n").unwrap(), Rules::empty());
    assert_error(
        "\u{feff}version: 1\nregistry: []\n",
        &["unknown key `registry` in the top level at line 2 column 1"],
    );
    // Columns on the first line do not count the mark, as editors do not show it.
    assert_error(
        "\u{feff}{version: 1, registry: []}\n",
        &["unknown key `registry` in the top level at line 1 column 14"],
    );
    assert_error("\u{feff}version: 2\n", &["version: 2 is not supported"]);
}

#[test]
fn plain_scalars_are_read_as_written() {
    for tag in [
        "1.20",
        "12345678901234567890123",
        "010",
        "0x10",
        "0o17",
        "1e3",
        "1_000",
        "yes",
        "off",
        "true",
        "null0",
    ] {
        let text = format!("version: 1\nimages: [{{name: nginx, newTag: {tag}}}]\n");
        let rules = parse(&text).unwrap_or_else(|e| panic!("newTag: {tag}: {e}"));
        assert_eq!(rules.images[0].change.new_tag.as_deref(), Some(tag));
    }
    let text = "version: 1\nimages:\n- name: nginx\n  newTag: 1.20\n  \
                select: {kind: 1.0, namespace: 010, name: 0x1F, container: 12345678901234567890123}\n\
                pullSecrets: {add: [{name: 0123, registries: [m.example.com]}], remove: [1.50]}\n\
                scan: {imageKeys: [yes, 1e3]}\n";
    let rules = parse(text).unwrap();
    let select = &rules.images[0].select;
    assert_eq!(select.kind.as_deref(), Some("1.0"));
    assert_eq!(select.namespace.as_deref(), Some("010"));
    assert_eq!(select.name.as_deref(), Some("0x1F"));
    assert_eq!(select.container.as_deref(), Some("12345678901234567890123"));
    assert_eq!(rules.pull_secrets.add[0].name, "0123");
    assert_eq!(rules.pull_secrets.remove, ["1.50"]);
    assert_eq!(rules.scan.image_keys, ["yes", "1e3"]);
    // A plain scalar that is no tag is refused as any other string would be.
    for (tag, shown) in [(".inf", ".inf"), ("-1", "-1"), ("1.2:3", "1.2:3")] {
        let text = format!("version: 1\nimages: [{{name: nginx, newTag: '{tag}'}}]\n");
        assert_error(
            &text,
            &[&format!("images[0].newTag: `{shown}` is not a valid tag")],
        );
        let text = format!("version: 1\nimages: [{{name: nginx, newTag: {tag}}}]\n");
        assert_error(
            &text,
            &[&format!("images[0].newTag: `{shown}` is not a valid tag")],
        );
    }
    let long = "1".repeat(129);
    let text = format!("version: 1\nimages: [{{name: nginx, newTag: {long}}}]\n");
    assert_error(&text, &["is not a valid tag"]);
}

/// A tag or digest is accepted by the rules exactly when the reference parser and the lock file
/// accept it: `digest: foo:zzz…` used to pass the rules and fail at render, with the wrong hint.
#[test]
fn tags_and_digests_by_the_reference_grammar() {
    let lock_digest = |digest: &str| {
        crate::lock::Lock::from_yaml(&format!("version: 1\nimages: {{'nginx:1': '{digest}'}}\n"))
    };
    let digests = [
        format!("sha256:{HEX}"),
        format!("sha512:{HEX}{HEX}"),
        format!("foo:{}", "z".repeat(40)),
        format!("blake3:{HEX}"),
        format!("sha384:{HEX}{}", &HEX[..32]),
        format!("Sha256:{HEX}"),
        format!("sha256:{}", HEX.to_uppercase()),
        "sha256:abc".to_string(),
        HEX.to_string(),
    ];
    for digest in &digests {
        let rules = parse(&format!(
            "version: 1\nimages: [{{name: nginx, digest: '{digest}'}}]\n"
        ));
        let reference = crate::reference::Reference::parse(&format!("nginx:1@{digest}"));
        assert_eq!(rules.is_ok(), reference.is_ok(), "{digest}: {rules:?}");
        assert_eq!(lock_digest(digest).is_ok(), reference.is_ok(), "{digest}");
    }
    for tag in ["v1", "1.20", "_", ".inf", "-1", "a:b", "ä", ""] {
        let rules = parse(&format!(
            "version: 1\nimages: [{{name: nginx, newTag: '{tag}'}}]\n"
        ));
        let reference = crate::reference::Reference::parse(&format!("nginx:{tag}"));
        assert_eq!(rules.is_ok(), reference.is_ok(), "{tag:?}: {rules:?}");
    }
}

#[test]
fn a_bad_digest_says_what_a_digest_looks_like() {
    let zs = "z".repeat(40);
    assert_eq!(
        error(&format!(
            "version: 1\nimages: [{{name: nginx, digest: 'foo:{zs}'}}]\n"
        )),
        format!(
            "rules file: images[0].digest: `foo:{zs}` is not a valid digest: `foo` is not a \
             supported algorithm (only sha256 and sha512 are); a digest is `sha256:` and 64 \
             lowercase hex digits, or `sha512:` and 128"
        )
    );
    assert_error(
        "version: 1\nimages: [{name: nginx, digest: 'sha256:abc'}]\n",
        &["sha256 needs exactly 64 hex characters, got 3; a digest is `sha256:`"],
    );
    let rules = parse(&format!(
        "version: 1\nimages: [{{name: nginx, digest: 'sha512:{HEX}{HEX}'}}]\n"
    ));
    assert!(rules.is_ok(), "{rules:?}");
}
