//! `reimage mirror` against real registries: Debian's `docker-registry` on 127.0.0.1 as the
//! source (open), as a mirror with Basic auth and as one with token auth; images pushed in
//! the test (Docker v2 and OCI, a two-platform index, a layer of several MB shared by two
//! images). What the mirror serves must be byte-identical to the source (read back by the
//! real `skopeo inspect --raw`), the lock must pin exactly that, a second run must copy
//! nothing, a shared layer must be mounted rather than uploaded, and a copy cut in the
//! middle of a blob must fail whole and resume on the next run.
//!
//! Without the registry tools or `skopeo` (`bash scripts/setup.sh` installs them) these tests
//! are reported as ignored; with `CI=true` they fail instead.

use crate::common;

use std::collections::BTreeMap;

use common::registry::{
    basic, copy_tools, fetch_manifest, reimage, run, sha256, skopeo, workload, Auth, ProxyMode,
    Pusher, Registry, Scratch, StubProxy, TokenService,
};
use common::{assert_succeeded as assert_ok, lossy as text, Ran};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        mirror_copies_byte_for_byte_and_pins_what_it_copied,
        mirror_pushes_to_a_registry_with_token_auth,
        an_interrupted_copy_fails_whole_and_resumes,
        a_bundle_carries_the_images_across_the_gap,
        mirror_copies_only_the_platforms_asked_for,
        a_registry_that_refuses_large_bodies_gets_chunks,
    ]
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// An OCI image whose one layer is `layer`, in `repo:tag`; its manifest digest.
fn image_with_layer(push: &Pusher<'_>, repo: &str, tag: &str, layer: &[u8]) -> String {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"repo":"{repo}"}}}}}}"#
    );
    let config_digest = push.blob(repo, config.as_bytes());
    let layer_digest = push.blob(repo, layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    push.manifest(repo, tag, OCI_MANIFEST, manifest.as_bytes())
}

/// Bytes that do not compress: `size` of them, different for each `seed`.
fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The source registry with `app:1` (Docker v2), `multi:3` (an OCI index of two platforms)
/// and `big:1` and `big-too:1`, which share a layer of 5 MB; the digest of each.
fn fill_source(source: &Registry) -> BTreeMap<&'static str, String> {
    let push = Pusher::new(source.base(), Box::new(|_| None));
    let shared = noise(5 << 20, 7);
    let mut digests = BTreeMap::new();
    digests.insert("app:1", push.single_arch("app", "1"));
    digests.insert("multi:3", push.multi_arch("multi", "3").0);
    digests.insert("big:1", image_with_layer(&push, "big", "1", &shared));
    digests.insert(
        "big-too:1",
        image_with_layer(&push, "big-too", "1", &shared),
    );
    digests
}

fn rules(dir: &Scratch, from: &str, to: &str) {
    let rules = format!("version: 1\nregistries: [{{from: \"{from}\", to: \"{to}\"}}]\n");
    std::fs::write(dir.path("rules.yaml"), rules).unwrap();
}

/// A `DOCKER_CONFIG` folder in `dir` with a login for `host`.
fn login(dir: &Scratch, host: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::create_dir_all(dir.path("docker")).unwrap();
    let json = format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#);
    std::fs::write(dir.path("docker/config.json"), json).unwrap();
}

/// The lock file's `images:` map.
fn pins(dir: &Scratch, file: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.path(file)).unwrap();
    let lock: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    serde_yaml::from_value(lock["images"].clone()).unwrap()
}

fn mirror_copies_byte_for_byte_and_pins_what_it_copied() -> Ran {
    copy_tools()?;
    let (user, password) = ("mirror-bot", "pw-of-the-mirror-9");
    let source = Registry::start(Auth::Open);
    let mirror = Registry::start(Auth::Basic { user, password });
    let digests = fill_source(&source);
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let dir = Scratch::new("mirror");
    rules(&dir, &s, &format!("{m}/copied"));
    login(&dir, &m, user, password);
    let names = ["app:1", "multi:3", "big:1", "big-too:1"];
    let images: Vec<String> = names.iter().map(|n| format!("{s}/{n}")).collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let input = workload(&refs);
    let mirror_cmd = || {
        let mut cmd = reimage(&dir);
        cmd.env("DOCKER_CONFIG", dir.path("docker"));
        cmd
    };

    // The plan is the pairs `images --format mirror` lists, and touches nothing.
    let plan = run(
        mirror_cmd(),
        &["--rules", "rules.yaml", "mirror", "--dry-run"],
        &input,
    );
    assert_ok("reimage mirror --dry-run", &plan);
    let listed = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "images", "--format", "mirror"],
        &input,
    );
    assert_eq!(text(&plan.stdout), text(&listed.stdout));
    assert_eq!(text(&plan.stdout).lines().count(), 4);
    assert!(!dir.path("images.lock.yaml").exists());

    let out = run(
        mirror_cmd(),
        &["--rules", "rules.yaml", "--parallel", "1", "mirror"],
        &input,
    );
    assert_ok("reimage mirror", &out);
    let said = text(&out.stderr);
    assert!(
        said.contains("copied 4 image(s) (0 already there)") && said.contains(", 1 mounted, "),
        "the shared layer must be mounted once: {said}"
    );
    assert!(!said.contains(password), "{said}");

    // The mirror's own access log: the shared layer went up once and was mounted once.
    let shared = sha256(&noise(5 << 20, 7));
    let requests = mirror.requests();
    let uploads: Vec<_> = requests
        .iter()
        .filter(|(method, target, status)| {
            method == "PUT" && *status == 201 && target.ends_with(&format!("digest={shared}"))
        })
        .collect();
    let mounts: Vec<_> = requests
        .iter()
        .filter(|(method, target, status)| {
            method == "POST" && *status == 201 && target.contains(&format!("mount={shared}"))
        })
        .collect();
    assert_eq!(
        uploads.len(),
        1,
        "one upload of the shared layer: {requests:#?}"
    );
    assert_eq!(
        mounts.len(),
        1,
        "one mount of the shared layer: {requests:#?}"
    );
    assert!(
        mounts[0].1.contains("&from=copied/big"),
        "mounted from the repository it went up to: {mounts:?}"
    );

    // The lock pins what the source serves, under the final references.
    let expected: BTreeMap<String, String> = names
        .iter()
        .map(|n| (format!("{m}/copied/{n}"), digests[n].clone()))
        .collect();
    assert_eq!(pins(&dir, "images.lock.yaml"), expected);

    // The mirror serves the same bytes, by tag and (for the platforms) by digest.
    let auth = basic(user, password);
    let authed = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let at_mirror = |repo: &str, reference: &str| -> Option<Vec<u8>> {
        let url = format!("{}/v2/copied/{repo}/manifests/{reference}", mirror.base());
        let mut answer = authed
            .get(url)
            .header("Authorization", &auth)
            .header("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
            .call()
            .unwrap();
        (answer.status().as_u16() == 200).then(|| answer.body_mut().read_to_vec().unwrap())
    };
    for name in names {
        let (repo, tag) = name.split_once(':').unwrap();
        let original = fetch_manifest(&source.base(), repo, tag).unwrap();
        assert_eq!(
            at_mirror(repo, tag).as_deref(),
            Some(original.as_slice()),
            "{name}"
        );
        assert_eq!(sha256(&original), digests[name]);
    }
    let index: serde_json::Value =
        serde_json::from_slice(&fetch_manifest(&source.base(), "multi", "3").unwrap()).unwrap();
    for platform in index["manifests"].as_array().unwrap() {
        let digest = platform["digest"].as_str().unwrap();
        assert!(
            at_mirror("multi", digest).is_some(),
            "platform {digest} missing"
        );
    }

    // The real skopeo reads the same bytes from the mirror.
    let raw = skopeo(&dir)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .args(["--creds", &format!("{user}:{password}")])
        .arg(format!("docker://{m}/copied/multi:3"))
        .output()
        .unwrap();
    assert!(raw.status.success(), "skopeo: {}", text(&raw.stderr));
    assert_eq!(
        raw.stdout,
        fetch_manifest(&source.base(), "multi", "3").unwrap()
    );

    // A second run copies nothing, and writes the same lock.
    let before = std::fs::read(dir.path("images.lock.yaml")).unwrap();
    let again = run(mirror_cmd(), &["--rules", "rules.yaml", "mirror"], &input);
    assert_ok("reimage mirror, again", &again);
    assert!(
        text(&again.stderr).contains("copied 4 image(s) (4 already there): 0 blob(s)"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read(dir.path("images.lock.yaml")).unwrap(), before);

    // The render pins what was copied.
    let rendered = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "--lock", "images.lock.yaml"],
        &input,
    );
    assert_ok("render with the lock", &rendered);
    let output = text(&rendered.stdout);
    assert!(
        output.contains(&format!("{m}/copied/big:1@{}", digests["big:1"])),
        "{output}"
    );

    // Without the login, the push is refused: one line per image, and no lock.
    let denied = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "mirror", "-o", "denied.lock.yaml"],
        &workload(&[&format!("{s}/app:1")]),
    );
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    let message = text(&denied.stderr);
    assert!(
        message.contains("1 of 1 image(s) could not be copied; no lock file was written")
            && message.contains("401"),
        "{message}"
    );
    assert!(!dir.path("denied.lock.yaml").exists());
    Ok(())
}

fn mirror_pushes_to_a_registry_with_token_auth() -> Ran {
    copy_tools()?;
    let source = Registry::start(Auth::Open);
    let login_pair = "pusher:token-pw-5";
    let tokens = TokenService::start(Some(login_pair));
    let mirror = Registry::start(Auth::Token(&tokens));
    let push = Pusher::new(source.base(), Box::new(|_| None));
    let digest = push.multi_arch("multi", "3").0;
    let shared = noise(1 << 20, 3);
    let one = image_with_layer(&push, "one", "1", &shared);
    let two = image_with_layer(&push, "two", "1", &shared);
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let dir = Scratch::new("mirror-token");
    rules(&dir, &s, &format!("{m}/team"));
    login(&dir, &m, "pusher", "token-pw-5");
    let mut cmd = reimage(&dir);
    cmd.env("DOCKER_CONFIG", dir.path("docker"));
    let out = run(
        cmd,
        &["--rules", "rules.yaml", "--parallel", "1", "mirror"],
        &workload(&[
            &format!("{s}/multi:3"),
            &format!("{s}/one:1"),
            &format!("{s}/two:1"),
        ]),
    );
    assert_ok("reimage mirror to a token registry", &out);
    assert_eq!(
        pins(&dir, "images.lock.yaml"),
        BTreeMap::from([
            (format!("{m}/team/multi:3"), digest),
            (format!("{m}/team/one:1"), one),
            (format!("{m}/team/two:1"), two),
        ])
    );
    assert!(tokens.issued.load(std::sync::atomic::Ordering::SeqCst) > 0);

    // The shared layer is mounted: the token for the mount grants pull on the repository it
    // comes from as well as push on the one it goes to.
    let said = text(&out.stderr);
    assert!(said.contains(", 1 mounted, "), "{said}");
    let layer = sha256(&shared);
    let requests = mirror.requests();
    let count = |method: &str, what: &str| {
        requests
            .iter()
            .filter(|(m, target, status)| {
                m == method && (200..300).contains(status) && target.contains(what)
            })
            .count()
    };
    assert_eq!(count("POST", &format!("mount={layer}")), 1, "{requests:#?}");
    assert_eq!(count("PUT", &format!("digest={layer}")), 1, "{requests:#?}");
    Ok(())
}

fn an_interrupted_copy_fails_whole_and_resumes() -> Ran {
    copy_tools()?;
    let upstream = Registry::start(Auth::Open);
    let digests = fill_source(&upstream);
    // The source is seen through a proxy that cuts the first large blob in the middle.
    let source = StubProxy::start(&upstream.host, ProxyMode::CutLargeBlobOnce);
    let mirror = Registry::start(Auth::Open);
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let dir = Scratch::new("mirror-cut");
    rules(&dir, &s, &format!("{m}/copied"));
    let input = workload(&[&format!("{s}/big:1"), &format!("{s}/app:1")]);
    let args = ["--rules", "rules.yaml", "--parallel", "1", "mirror"];

    let cut = run(reimage(&dir), &args, &input);
    assert_eq!(cut.status.code(), Some(1), "{}", text(&cut.stderr));
    let message = text(&cut.stderr);
    assert!(
        message.contains("1 of 2 image(s) could not be copied; no lock file was written")
            && message.contains(&format!("{s}/big:1")),
        "{message}"
    );
    assert!(cut.stdout.is_empty());
    assert!(!dir.path("images.lock.yaml").exists());
    // Nothing half-copied is served: the cut image has no manifest on the mirror.
    assert!(fetch_manifest(&mirror.base(), "copied/big", "1").is_none());

    let resumed = run(reimage(&dir), &args, &input);
    assert_ok("reimage mirror after the cut", &resumed);
    let said = text(&resumed.stderr);
    assert!(said.contains("(1 already there)"), "{said}");
    assert_eq!(
        pins(&dir, "images.lock.yaml"),
        BTreeMap::from([
            (format!("{m}/copied/app:1"), digests["app:1"].clone()),
            (format!("{m}/copied/big:1"), digests["big:1"].clone()),
        ])
    );
    Ok(())
}

fn a_bundle_carries_the_images_across_the_gap() -> Ran {
    copy_tools()?;
    let source = Registry::start(Auth::Open);
    let digests = fill_source(&source);
    let mirror = Registry::start(Auth::Open);
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let dir = Scratch::new("mirror-bundle");
    rules(&dir, &s, &format!("{m}/copied"));
    let names = ["app:1", "multi:3", "big:1", "big-too:1"];
    let images: Vec<String> = names.iter().map(|n| format!("{s}/{n}")).collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let input = workload(&refs);

    // The connected side: into a layout, with the rules and the stream.
    let out = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "mirror", "--to", "oci:bundle"],
        &input,
    );
    assert_ok("reimage mirror --to oci:bundle", &out);
    assert!(!dir.path("images.lock.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path("bundle/reimage/stream.yaml")).unwrap(),
        input
    );
    assert!(dir.path("bundle/reimage/rules.yaml").is_file());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("bundle/index.json")).unwrap()).unwrap();
    let named: BTreeMap<String, String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["annotations"]["org.opencontainers.image.ref.name"].as_str();
            (
                name.unwrap().to_string(),
                e["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = names
        .iter()
        .map(|n| (format!("{m}/copied/{n}"), digests[n].clone()))
        .collect();
    assert_eq!(named, expected);
    // The shared layer is stored once.
    let blobs = std::fs::read_dir(dir.path("bundle/blobs/sha256"))
        .unwrap()
        .count();
    let big = std::fs::read_dir(dir.path("bundle/blobs/sha256"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().metadata().unwrap().len() == 5 << 20)
        .count();
    assert_eq!(big, 1, "{blobs} blobs");

    // The layout is the standard one: the real skopeo reads it.
    let other = Registry::start(Auth::Open);
    let by_skopeo = skopeo(&dir)
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:bundle:{m}/copied/multi:3"))
        .arg(format!("docker://{}/from-skopeo/multi:3", other.host))
        .output()
        .unwrap();
    assert!(
        by_skopeo.status.success(),
        "skopeo: {}",
        text(&by_skopeo.stderr)
    );
    assert_eq!(
        fetch_manifest(&other.base(), "from-skopeo/multi", "3").map(|m| sha256(&m)),
        Some(digests["multi:3"].clone())
    );

    // As one tar file: the same layout at its root, the same bytes every time, and read by
    // the real skopeo too.
    let to_archive = || {
        let args = [
            "--rules",
            "rules.yaml",
            "mirror",
            "--to",
            "oci-archive:bundle.tar",
        ];
        run(reimage(&dir), &args, &input)
    };
    let archive_out = to_archive();
    assert_ok("reimage mirror --to oci-archive:bundle.tar", &archive_out);
    assert!(
        text(&archive_out.stderr).contains("run `reimage mirror --from oci-archive:bundle.tar`"),
        "{}",
        text(&archive_out.stderr)
    );
    let packed = std::fs::read(dir.path("bundle.tar")).unwrap();
    let again = to_archive();
    assert_ok("reimage mirror --to oci-archive:bundle.tar, again", &again);
    assert!(
        std::fs::read(dir.path("bundle.tar")).unwrap() == packed,
        "not deterministic"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".reimage"))
        .collect();
    assert!(leftovers.is_empty(), "scratch left behind: {leftovers:?}");
    // (skopeo looks only at the OCI-typed entries of a layout's index.json, so not at
    // `app:1`, which is kept as the Docker v2 manifest its registry serves.)
    let raw = skopeo(&dir)
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:bundle.tar:{m}/copied/big:1"))
        .output()
        .unwrap();
    assert!(raw.status.success(), "skopeo: {}", text(&raw.stderr));
    assert_eq!(sha256(&raw.stdout), digests["big:1"]);

    // Pushed on the other side, where the source is gone.
    drop(source);
    let out = run(
        reimage(&dir),
        &[
            "mirror",
            "--from",
            "oci-archive:bundle.tar",
            "-o",
            "pushed.lock.yaml",
        ],
        "",
    );
    assert_ok("reimage mirror --from oci-archive:bundle.tar", &out);
    assert_eq!(pins(&dir, "pushed.lock.yaml"), expected);
    for name in names {
        let (repo, tag) = name.split_once(':').unwrap();
        let served = fetch_manifest(&mirror.base(), &format!("copied/{repo}"), tag).unwrap();
        assert_eq!(sha256(&served), digests[name], "{name}");
    }

    // The archive is a plain tar: unpacked by tar, it is the layout, which --from reads too.
    std::fs::create_dir_all(dir.path("across")).unwrap();
    let status = std::process::Command::new("tar")
        .args(["-xf", "bundle.tar", "-C", "across"])
        .current_dir(&dir.0)
        .status()
        .unwrap();
    assert!(status.success(), "tar -xf");
    assert!(dir.path("across/oci-layout").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.path("across/reimage/stream.yaml")).unwrap(),
        input
    );

    // A blob that changed in transit stops the push of its image, and no lock is written.
    let layer = std::fs::read_dir(dir.path("across/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.metadata().unwrap().len() == 5 << 20)
        .unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[4096] ^= 1;
    std::fs::write(&layer, bytes).unwrap();
    let fresh = Registry::start(Auth::Open);
    let moved = std::fs::read_to_string(dir.path("across/index.json"))
        .unwrap()
        .replace(&m, &fresh.host);
    std::fs::write(dir.path("across/index.json"), moved).unwrap();
    let out = run(
        reimage(&dir),
        &["mirror", "--from", "oci:across", "-o", "broken.lock.yaml"],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let message = text(&out.stderr);
    assert!(
        message.contains("2 of 4 image(s) could not be copied") && message.contains("hash to"),
        "{message}"
    );
    assert!(!dir.path("broken.lock.yaml").exists());
    Ok(())
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An OCI index of three platforms in `repo:tag`, and an attestation manifest for the first
/// (`unknown/unknown`, as buildx adds them): its digest, each platform's manifest digest, and
/// the attestation's digest.
fn three_platforms(
    push: &Pusher<'_>,
    base: &str,
    repo: &str,
    tag: &str,
) -> (String, Vec<(String, String)>, String) {
    let mut platforms = Vec::new();
    let mut entries = Vec::new();
    for (n, arch) in ["amd64", "arm64", "s390x"].into_iter().enumerate() {
        let digest = image_with_layer(push, repo, &format!("{arch}-only"), &noise(4096, n as u64));
        let manifest = fetch_manifest(base, repo, &digest).unwrap();
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            manifest.len()
        ));
        platforms.push((format!("linux/{arch}"), digest));
    }
    let attestation = image_with_layer(push, repo, "att", b"{\"predicateType\":\"x\"}");
    let size = fetch_manifest(base, repo, &attestation).unwrap().len();
    entries.push(format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{attestation}","size":{size},"platform":{{"architecture":"unknown","os":"unknown"}},"annotations":{{"vnd.docker.reference.digest":"{}","vnd.docker.reference.type":"attestation-manifest"}}}}"#,
        platforms[0].1
    ));
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    let digest = push.manifest(repo, tag, OCI_INDEX, index.as_bytes());
    (digest, platforms, attestation)
}

fn mirror_copies_only_the_platforms_asked_for() -> Ran {
    copy_tools()?;
    let source = Registry::start(Auth::Open);
    let mirror = Registry::start(Auth::Open);
    let push = Pusher::new(source.base(), Box::new(|_| None));
    let (index, platforms, attestation) = three_platforms(&push, &source.base(), "tri", "1");
    let (s, m) = (source.host.clone(), mirror.host.clone());
    let dir = Scratch::new("mirror-platforms");
    let input = workload(&[&format!("{s}/tri:1")]);
    let copy = |to: &str, asked: &[&str]| {
        rules(&dir, &s, &format!("{m}/{to}"));
        let mut args = vec!["--rules", "rules.yaml", "mirror", "-o", "lock.yaml"];
        for platform in asked {
            args.extend(["--platform", platform]);
        }
        run(reimage(&dir), &args, &input)
    };
    let at_mirror = |path: &str, reference: &str| fetch_manifest(&mirror.base(), path, reference);

    // One platform: the tag gets that platform's manifest, and the lock pins it, saying so.
    // (`v8` matches an arm64 entry without a variant, as containerd reads it.)
    let out = copy("one", &["linux/arm64/v8"]);
    assert_ok("mirror --platform linux/arm64/v8", &out);
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("linux/arm64 of the index `{index}`: its manifest"))
            && said.contains("1 index(es) cut to the platforms asked for"),
        "{said}"
    );
    let arm64 = &platforms[1].1;
    assert_eq!(
        pins(&dir, "lock.yaml"),
        BTreeMap::from([(format!("{m}/one/tri:1"), arm64.clone())])
    );
    assert_eq!(
        at_mirror("one/tri", "1").map(|b| sha256(&b)).as_ref(),
        Some(arm64)
    );
    assert!(
        at_mirror("one/tri", &platforms[0].1).is_none(),
        "amd64 was not asked for"
    );

    // Two: an index of those two, the same bytes on a second run, which copies nothing.
    let out = copy("two", &["linux/amd64", "linux/s390x"]);
    assert_ok("mirror --platform linux/amd64 --platform linux/s390x", &out);
    let served = at_mirror("two/tri", "1").unwrap();
    let made: serde_json::Value = serde_json::from_slice(&served).unwrap();
    let kept: Vec<&str> = made["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    // amd64 keeps the attestation that describes it.
    assert_eq!(
        kept,
        [
            platforms[0].1.as_str(),
            platforms[2].1.as_str(),
            attestation.as_str()
        ]
    );
    assert_eq!(
        pins(&dir, "lock.yaml")[&format!("{m}/two/tri:1")],
        sha256(&served)
    );
    let again = copy("two", &["linux/amd64", "linux/s390x"]);
    assert_ok("the same subset again", &again);
    assert!(
        text(&again.stderr).contains("(1 already there)"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        at_mirror("two/tri", &platforms[1].1).is_none(),
        "arm64 was not asked for"
    );

    // Every platform: the index as the source serves it.
    let out = copy("all", &["linux/amd64", "linux/arm64", "linux/s390x"]);
    assert_ok("mirror with every platform", &out);
    assert!(
        !text(&out.stderr).contains("cut to the platforms"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(pins(&dir, "lock.yaml")[&format!("{m}/all/tri:1")], index);

    // On a terminal (the pseudo-terminal `script` gives it), a bar below the lines, cleared
    // at the end; elsewhere, as above, plain lines only.
    assert!(!said.contains('\r') && !said.contains('\x1b'), "{said}");
    rules(&dir, &s, &format!("{m}/tty"));
    std::fs::write(dir.path("input.yaml"), &input).unwrap();
    let program = reimage(&dir).get_program().to_string_lossy().into_owned();
    let on_tty = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{program} --rules rules.yaml mirror -o tty.lock.yaml < input.yaml"),
            "/dev/null",
        ])
        .current_dir(&dir.0)
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let shown = text(&on_tty.stdout);
    assert!(on_tty.status.success(), "{shown}");
    assert!(
        shown.contains("] 1/1 image(s), ") && shown.contains("\r\x1b[Kreimage: copied 1 image(s)"),
        "{shown:?}"
    );

    // None: the image fails, naming what the index has, and no lock is written.
    std::fs::remove_file(dir.path("lock.yaml")).unwrap();
    let out = copy("none", &["windows/amd64"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let message = text(&out.stderr);
    assert!(
        message.contains("lists none of the platforms asked for (windows/amd64); it has linux/amd64, linux/arm64, linux/s390x"),
        "{message}"
    );
    assert!(!dir.path("lock.yaml").exists());
    Ok(())
}

fn a_registry_that_refuses_large_bodies_gets_chunks() -> Ran {
    copy_tools()?;
    let source = Registry::start(Auth::Open);
    let mirror = Registry::start(Auth::Open);
    let limited = StubProxy::start(&mirror.host, ProxyMode::RefuseLargeBodies);
    let push = Pusher::new(source.base(), Box::new(|_| None));
    let layer = noise(5 << 20, 11);
    let digest = image_with_layer(&push, "big", "1", &layer);
    let dir = Scratch::new("mirror-chunks");
    rules(&dir, &source.host, &format!("{}/copied", limited.host));
    let input = workload(&[&format!("{}/big:1", source.host)]);
    let out = run(reimage(&dir), &["--rules", "rules.yaml", "mirror"], &input);
    assert_ok("reimage mirror through a proxy that limits bodies", &out);
    assert_eq!(
        pins(&dir, "images.lock.yaml"),
        BTreeMap::from([(format!("{}/copied/big:1", limited.host), digest.clone())])
    );

    // The whole layer was refused (once whole, then while the chunks were still too large),
    // then went up in chunks under the limit, each taken, and the upload was closed with its
    // digest.
    let refused = limited.refused.load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused >= 2, "{refused} bodies refused");
    let shared = sha256(&layer);
    let requests = mirror.requests();
    let patches = requests
        .iter()
        .filter(|(method, _, status)| method == "PATCH" && *status == 202)
        .count();
    assert!(patches >= 5, "{patches} chunks: {requests:#?}");
    assert!(
        requests
            .iter()
            .any(|(method, target, status)| method == "PUT"
                && *status == 201
                && target.ends_with(&format!("digest={shared}"))),
        "{requests:#?}"
    );
    let served = fetch_manifest(&mirror.base(), "copied/big", "1").unwrap();
    assert_eq!(sha256(&served), digest);
    Ok(())
}
