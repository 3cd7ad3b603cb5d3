//! `reimage lock` and `--resolve` against real registries (Debian's `docker-registry`, started
//! by `common::registry` on 127.0.0.1), through the real binary: anonymous access, Basic auth
//! from a Docker config (and a broken one, whose login shows in no output or log), the Bearer
//! token flow with a credential helper, a missing tag, an unreachable registry, 429 then
//! success, the index digest of a multi-arch image, the GET fallback without a digest header,
//! sha512 digests (checked, locked, pinned), `--source`, `lock --update` idempotence,
//! `--parallel` lookups under way at once (exactly that many, counted at a barrier, each image
//! asked once) — and proof that a render without `--resolve` opens no socket.
//!
//! Without the registry tools (`bash scripts/setup.sh` installs them) these tests are reported
//! as ignored, with what to install; with `CI=true` they fail instead. Tests never install
//! anything.

use crate::common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::registry::{
    assert_ok, basic, fetch_manifest, free_port, is_root, registry_tools, reimage, run, sha256,
    sha512, stderr, stdout, workload, Auth, BarrierProxy, ProxyMode, Pusher, Registry, Scratch,
    StubProxy, TokenService, CLEARED,
};
use common::{Ran, Skip};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        anonymous_lock_and_resolve_pin_single_and_multi_arch_images,
        lock_update_is_idempotent_and_a_failed_run_writes_nothing,
        basic_auth_comes_from_the_docker_config,
        a_broken_credentials_file_fails_without_showing_the_login,
        bearer_token_flow_with_a_credential_helper,
        missing_tags_and_unreachable_registries_fail_with_every_image_listed,
        retries_after_429_and_hashes_the_body_without_a_digest_header,
        sha512_digests_are_checked_locked_and_pinned,
        resolve_asks_parallel_requests_at_once,
        source_resolves_at_the_original_registry_and_keys_the_mirror,
        a_render_without_resolve_makes_no_socket_call,
        a_render_without_resolve_needs_no_network,
    ]
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Files in `dir` whose name starts with `.` (where temporary lock files would be).
fn hidden_files(dir: &Scratch) -> Vec<String> {
    std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

fn anonymous_lock_and_resolve_pin_single_and_multi_arch_images() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    let single = push.single_arch("team/app", "1.0");
    let (index, index_bytes) = push.multi_arch("multi", "2.0");
    assert_eq!(index, sha256(&index_bytes));
    let h = &registry.host;
    let pinned = format!("{h}/multi@{index}");
    let app = format!("{h}/team/app:1.0");
    let multi = format!("{h}/multi:2.0");
    let input = workload(&[&app, &multi, &app, &pinned]);
    let dir = Scratch::new("anon");

    // Without -o and without rules: images.lock.yaml in the current folder.
    let out = run(reimage(&dir), &["lock", "--explain"], &input);
    assert_ok(&out);
    assert!(out.stdout.is_empty());
    let expected = format!("version: 1\nimages:\n  {multi}: {index}\n  {app}: {single}\n");
    assert_eq!(read(&dir.path("images.lock.yaml")), expected);
    // The multi-arch image is pinned by its index, valid on every platform.
    assert!(
        stderr(&out).contains(&format!("lock: {multi} → {index}")),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("2 image(s), 2 resolved, 0 kept"));

    let with_lock = run(reimage(&dir), &["--lock", "images.lock.yaml"], &input);
    assert_ok(&with_lock);
    let rendered = stdout(&with_lock);
    assert!(
        rendered.contains(&format!("image: {multi}@{index}\n")),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("image: {app}@{single}\n")),
        "{rendered}"
    );
    assert!(rendered.contains(&format!("image: {pinned}\n")));

    // Inline resolution gives the same bytes, by flag or by rules.
    let inline = run(reimage(&dir), &["--resolve"], &input);
    assert_ok(&inline);
    assert_eq!(stdout(&inline), rendered);
    std::fs::write(
        dir.path("rules.yaml"),
        "version: 1\ndigests: {resolve: true}\n",
    )
    .unwrap();
    let by_rules = run(reimage(&dir), &["--rules", "rules.yaml"], &input);
    assert_ok(&by_rules);
    assert_eq!(stdout(&by_rules), rendered);
    Ok(())
}

fn lock_update_is_idempotent_and_a_failed_run_writes_nothing() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    let digest = push.single_arch("app", "1.0");
    let app = format!("{}/app:1.0", registry.host);
    let input = workload(&[&app]);
    let dir = Scratch::new("update");
    let other = format!("other.example/x:1: sha256:{}", "a".repeat(64));
    std::fs::write(
        dir.path("l.yaml"),
        format!("version: 1\nimages:\n  {other}\n"),
    )
    .unwrap();

    let first = run(reimage(&dir), &["lock", "--update", "-o", "l.yaml"], &input);
    assert_ok(&first);
    let written = read(&dir.path("l.yaml"));
    assert_eq!(
        written,
        format!("version: 1\nimages:\n  {app}: {digest}\n  {other}\n")
    );
    let again = run(reimage(&dir), &["lock", "--update", "-o", "l.yaml"], &input);
    assert_ok(&again);
    assert_eq!(read(&dir.path("l.yaml")), written);
    assert!(
        stderr(&again).contains("2 image(s), 0 resolved, 1 kept"),
        "{}",
        stderr(&again)
    );

    // With the registry gone, --update still needs nothing from it ...
    drop(registry);
    let offline = run(reimage(&dir), &["lock", "--update", "-o", "l.yaml"], &input);
    assert_ok(&offline);
    assert_eq!(read(&dir.path("l.yaml")), written);
    // ... --refresh does, fails, and leaves the file as it was, with no temporary file.
    let refresh = run(
        reimage(&dir),
        &["lock", "--refresh", "-o", "l.yaml"],
        &input,
    );
    assert_eq!(refresh.status.code(), Some(1), "{}", stderr(&refresh));
    assert!(stderr(&refresh).contains("no lock file was written"));
    assert_eq!(read(&dir.path("l.yaml")), written);
    assert_eq!(hidden_files(&dir), Vec::<String>::new());
    // The default mode keeps the digests it has for this render and drops other entries.
    let fresh = run(reimage(&dir), &["lock", "-o", "l.yaml"], &input);
    assert_ok(&fresh);
    assert_eq!(
        read(&dir.path("l.yaml")),
        format!("version: 1\nimages:\n  {app}: {digest}\n")
    );
    Ok(())
}

fn basic_auth_comes_from_the_docker_config() -> Ran {
    registry_tools()?;
    let (user, password) = ("alice", "s3cret-pw-71");
    let registry = Registry::start(Auth::Basic { user, password });
    let push = Pusher::new(
        registry.base(),
        Box::new(move |_| Some(basic(user, password))),
    );
    let digest = push.single_arch("private/app", "1");
    let h = &registry.host;
    let input = workload(&[&format!("{h}/private/app:1")]);
    let dir = Scratch::new("basic");

    let anonymous = run(reimage(&dir), &["lock"], &input);
    assert_eq!(anonymous.status.code(), Some(1));
    let message = stderr(&anonymous);
    assert!(message.contains("http 401 unauthorized"), "{message}");
    assert!(message.contains(&format!("docker login {h}")), "{message}");
    assert!(!dir.path("images.lock.yaml").exists());

    let config = |login: &str| {
        let auth = base64_of(login);
        std::fs::create_dir_all(dir.path("docker")).unwrap();
        let json = format!(r#"{{"auths": {{"{h}": {{"auth": "{auth}"}}}}}}"#);
        std::fs::write(dir.path("docker/config.json"), json).unwrap();
    };
    config(&format!("{user}:{password}"));
    let mut cmd = reimage(&dir);
    cmd.env("DOCKER_CONFIG", dir.path("docker"));
    let logged_in = run(cmd, &["lock", "--explain"], &input);
    assert_ok(&logged_in);
    assert!(read(&dir.path("images.lock.yaml")).contains(&digest));
    assert_no_secret(&logged_in, password);

    config(&format!("{user}:wrong-pw-42"));
    let mut cmd = reimage(&dir);
    cmd.env("DOCKER_CONFIG", dir.path("docker"));
    let refused = run(cmd, &["lock", "-o", "other.yaml"], &input);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("refused the stored credentials"),
        "{}",
        stderr(&refused)
    );
    assert_no_secret(&refused, "wrong-pw-42");

    // podman's auth file, with a user name and password, for an inline render.
    let podman = format!(
        r#"{{"auths": {{"http://{h}": {{"username": "{user}", "password": "{password}"}}}}}}"#
    );
    std::fs::write(dir.path("auth.json"), podman).unwrap();
    let mut cmd = reimage(&dir);
    cmd.env("REGISTRY_AUTH_FILE", dir.path("auth.json"));
    let inline = run(cmd, &["--resolve", "--explain"], &input);
    assert_ok(&inline);
    assert!(stdout(&inline).contains(&format!("{h}/private/app:1@{digest}")));
    assert_no_secret(&inline, password);
    Ok(())
}

/// A Docker config whose entry for the registry is broken, with a real login in it: `lock`
/// fails, names the file and the entry and says what is wrong, and neither the `auth` (base64 of
/// `user:password`) nor the password shows on standard output, on standard error or in the
/// `--log` file.
fn a_broken_credentials_file_fails_without_showing_the_login() -> Ran {
    registry_tools()?;
    let (user, password) = ("carol", "never-shown-8814");
    let registry = Registry::start(Auth::Basic { user, password });
    let push = Pusher::new(
        registry.base(),
        Box::new(move |_| Some(basic(user, password))),
    );
    push.single_arch("private/app", "1");
    let h = &registry.host;
    let input = workload(&[&format!("{h}/private/app:1")]);
    let dir = Scratch::new("broken-login");
    let auth = base64_of(&format!("{user}:{password}"));
    let entry = format!("the `auths` entry `{h}`");
    let shapes = [
        (
            "a string",
            format!(r#"{{"auths": {{"{h}": "{auth}"}}}}"#),
            format!("{entry} is a string, not an object with `auth`, `username`/`password` or `identitytoken`; log in again"),
        ),
        (
            "a password that is not a string",
            format!(r#"{{"auths": {{"{h}": {{"username": "{user}", "password": ["{password}"]}}}}}}"#),
            format!("{entry} has a `password` that is an array, not a string"),
        ),
        (
            "cut short after the secret",
            format!(r#"{{"auths": {{"{h}": {{"auth": "{auth}"#),
            "config.json ends in the middle of its JSON (line 1, column ".to_string(),
        ),
    ];
    std::fs::create_dir_all(dir.path("docker")).unwrap();
    for (i, (shape, json, expected)) in shapes.into_iter().enumerate() {
        std::fs::write(dir.path("docker/config.json"), json).unwrap();
        let log = dir.path(&format!("{i}.log"));
        let mut cmd = reimage(&dir);
        cmd.env("DOCKER_CONFIG", dir.path("docker"));
        let out = run(
            cmd,
            &["lock", "--explain", "--log", log.to_str().unwrap()],
            &input,
        );
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{shape}: {message}");
        assert!(!dir.path("images.lock.yaml").exists(), "{shape}");
        let logged = read(&log);
        for text in [&message, &logged] {
            assert!(
                text.contains("authentication failed: cannot read the credentials: ")
                    && text.contains(&expected),
                "{shape}: {expected:?} missing in:\n{text}"
            );
        }
        for text in [&stdout(&out), &message, &logged] {
            for secret in [password, &auth] {
                assert!(
                    !text.contains(secret),
                    "{shape}: `{secret}` shown in:\n{text}"
                );
            }
        }
    }
    Ok(())
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Neither the secret nor its base64 appears in the output.
fn assert_no_secret(out: &Output, secret: &str) {
    let all = format!("{}{}", stdout(out), stderr(out));
    assert!(!all.contains(secret), "secret leaked:\n{all}");
    for login in [format!("alice:{secret}"), format!("bob:{secret}")] {
        assert!(
            !all.contains(&base64_of(&login)),
            "encoded secret leaked:\n{all}"
        );
    }
}

/// Installs `docker-credential-reimagetest` (which knows `user`'s login for `host`) in
/// `dir/bin`, names it in `dir/docker/config.json`'s `credHelpers`, and gives the `PATH` that
/// finds it.
fn credential_helper(dir: &Scratch, host: &str, user: &str, secret: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.path("bin")).unwrap();
    let helper = dir.path("bin/docker-credential-reimagetest");
    let script = format!(
        "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{host}\" ]; then\n  \
         printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}\\n' \"$server\"; exit 0\nfi\n\
         echo 'credentials not found in native keychain'; exit 1\n"
    );
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.path("docker")).unwrap();
    let config = format!(r#"{{"credHelpers": {{"{host}": "reimagetest"}}}}"#);
    std::fs::write(dir.path("docker/config.json"), config).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", dir.path("bin").display())
}

fn bearer_token_flow_with_a_credential_helper() -> Ran {
    registry_tools()?;
    let tokens = TokenService::start(Some("bob:tok-pass-9"));
    let registry = Registry::start(Auth::Token(&tokens));
    let push = Pusher::new(
        registry.base(),
        Box::new(|repo| {
            Some(format!(
                "Bearer {}",
                tokens.mint(&format!("repository:{repo}:pull,push"))
            ))
        }),
    );
    let (index, index_bytes) = push.multi_arch("secure/multi", "3.1");
    let single = push.single_arch("secure/app", "1");
    let h = &registry.host;
    let input = workload(&[
        &format!("{h}/secure/multi:3.1"),
        &format!("{h}/secure/app:1"),
    ]);
    let dir = Scratch::new("token");

    let anonymous = run(reimage(&dir), &["lock"], &input);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        stderr(&anonymous).contains("refused anonymous access"),
        "{}",
        stderr(&anonymous)
    );
    let refused_before = tokens.refused.load(Ordering::SeqCst);
    assert!(refused_before >= 2, "one token request per repository");

    // credHelpers names a helper; the helper gives bob's login.
    let path = credential_helper(&dir, h, "bob", "tok-pass-9");
    let with_helper = || {
        let mut cmd = reimage(&dir);
        cmd.env("DOCKER_CONFIG", dir.path("docker"))
            .env("PATH", &path);
        cmd
    };
    let locked = run(with_helper(), &["lock", "--explain"], &input);
    assert_ok(&locked);
    assert_eq!(
        read(&dir.path("images.lock.yaml")),
        format!(
            "version: 1\nimages:\n  {h}/secure/app:1: {single}\n  {h}/secure/multi:3.1: {index}\n"
        )
    );
    assert_eq!(index, sha256(&index_bytes));
    assert!(tokens.issued.load(Ordering::SeqCst) >= 2);
    assert_no_secret(&locked, "tok-pass-9");

    let inline = run(with_helper(), &["--resolve"], &input);
    assert_ok(&inline);
    assert!(stdout(&inline).contains(&format!("{h}/secure/multi:3.1@{index}")));
    Ok(())
}

fn missing_tags_and_unreachable_registries_fail_with_every_image_listed() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    Pusher::new(registry.base(), Box::new(|_| None)).single_arch("app", "1.0");
    let silent = TcpListener::bind("127.0.0.1:0").unwrap(); // accepts nothing, answers nothing
    let silent_port = silent.local_addr().unwrap().port();
    let closed = free_port();
    let h = &registry.host;
    let input = workload(&[
        &format!("{h}/app:1.0"),
        &format!("{h}/app:nope"),
        &format!("{h}/ghost:1"),
        &format!("127.0.0.1:{closed}/x:1"),
        &format!("127.0.0.1:{silent_port}/y:1"),
    ]);
    let dir = Scratch::new("fail");

    let started = Instant::now();
    let out = run(reimage(&dir), &["lock", "--timeout", "2"], &input);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(out.stdout.is_empty());
    assert!(!dir.path("images.lock.yaml").exists());
    assert_eq!(hidden_files(&dir), Vec::<String>::new());
    let message = stderr(&out);
    for part in [
        "4 of 5 image(s) could not be resolved; no lock file was written:".to_string(),
        format!("`{h}/app:nope` (registry {h}, repository app, tag nope): http 404 not found"),
        "`reimage lock --source`".to_string(),
        format!("(registry {h}, repository ghost, tag 1): http 404"),
        format!("`127.0.0.1:{closed}/x:1` (registry 127.0.0.1:{closed}, repository x, tag 1): cannot reach the registry"),
        format!("`127.0.0.1:{silent_port}/y:1` (registry 127.0.0.1:{silent_port}, repository y, tag 1): no answer within 2 s"),
    ] {
        assert!(message.contains(&part), "missing {part:?} in:\n{message}");
    }
    assert_eq!(message.lines().count(), 5, "{message}");

    let inline = run(reimage(&dir), &["--resolve", "--timeout", "2"], &input);
    assert_eq!(inline.status.code(), Some(1));
    assert!(inline.stdout.is_empty());
    assert!(stderr(&inline).contains("nothing was rendered"));
    drop(silent);
    Ok(())
}

fn retries_after_429_and_hashes_the_body_without_a_digest_header() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    let single = push.single_arch("app", "1.0");
    let (index, _) = push.multi_arch("multi", "2.0");
    let dir = Scratch::new("proxy");

    let busy = StubProxy::start(&registry.host, ProxyMode::TooManyOnce);
    // The same image twice, spelled alike: asked once.
    let busy_app = format!("{}/app:1.0", busy.host);
    let input = workload(&[&busy_app, &busy_app]);
    let out = run(reimage(&dir), &["lock", "-o", "busy.yaml"], &input);
    assert_ok(&out);
    assert!(read(&dir.path("busy.yaml")).contains(&single));
    let seen = busy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one 429, then one answer");
    let waited = seen[1].1 - seen[0].1;
    assert!(
        waited >= Duration::from_millis(900),
        "Retry-After: 1 not honoured: {waited:?}"
    );

    let bare = StubProxy::start(&registry.host, ProxyMode::StripDigest);
    let input = workload(&[&format!("{}/multi:2.0", bare.host)]);
    let out = run(reimage(&dir), &["lock", "-o", "bare.yaml"], &input);
    assert_ok(&out);
    assert!(
        read(&dir.path("bare.yaml")).contains(&index),
        "sha256 of the index body"
    );
    assert_eq!(methods(&bare), ["HEAD", "GET"]);
    Ok(())
}

/// The methods a stub proxy was asked, in order.
fn methods(proxy: &StubProxy) -> Vec<String> {
    proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(m, _)| m.clone())
        .collect()
}

/// A registry that names manifests by sha512 (a proxy gives the digest header the sha512 of the
/// body: Debian's `docker-registry` refuses a manifest pushed by a sha512 digest and names
/// every manifest by sha256). `lock` takes the sha512 from the HEAD, or, when the HEAD has no
/// header, checks the GET's body against the sha512 its header names; the lock file carries it
/// and a render pins `name:tag@sha512:…`, from the lock file or with `--resolve`. A sha512
/// header that the body does not match fails the run, saying what the bytes hash to.
fn sha512_digests_are_checked_locked_and_pinned() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    push.single_arch("app", "1.0");
    let (_, index_bytes) = push.multi_arch("multi", "2.0");
    let app_bytes = fetch_manifest(&registry.base(), "app", "1.0").unwrap();
    let dir = Scratch::new("sha512");

    let named = StubProxy::start(&registry.host, ProxyMode::Sha512Digest);
    let app = format!("{}/app:1.0", named.host);
    let digest = sha512(&app_bytes);
    assert_eq!(digest.len(), "sha512:".len() + 128);
    let input = workload(&[&app]);
    let out = run(
        reimage(&dir),
        &["lock", "-o", "l.yaml", "--explain"],
        &input,
    );
    assert_ok(&out);
    assert_eq!(
        read(&dir.path("l.yaml")),
        format!("version: 1\nimages:\n  {app}: {digest}\n")
    );
    assert!(stderr(&out).contains(&format!("lock: {app} → {digest}")));
    assert_eq!(methods(&named), ["HEAD"], "the HEAD's header is taken");
    let pinned = run(reimage(&dir), &["--lock", "l.yaml"], &input);
    assert_ok(&pinned);
    assert!(
        stdout(&pinned).contains(&format!("image: {app}@{digest}\n")),
        "{}",
        stdout(&pinned)
    );
    let inline = run(reimage(&dir), &["--resolve"], &input);
    assert_ok(&inline);
    assert_eq!(stdout(&inline), stdout(&pinned));

    let on_get = StubProxy::start(&registry.host, ProxyMode::Sha512OnGet);
    let multi = format!("{}/multi:2.0", on_get.host);
    let out = run(
        reimage(&dir),
        &["lock", "-o", "get.yaml"],
        &workload(&[&multi]),
    );
    assert_ok(&out);
    assert_eq!(
        read(&dir.path("get.yaml")),
        format!("version: 1\nimages:\n  {multi}: {}\n", sha512(&index_bytes))
    );
    assert_eq!(methods(&on_get), ["HEAD", "GET"]);

    let wrong = StubProxy::start(&registry.host, ProxyMode::WrongSha512OnGet);
    let app = format!("{}/app:1.0", wrong.host);
    let out = run(
        reimage(&dir),
        &["lock", "-o", "wrong.yaml"],
        &workload(&[&app]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let claimed = sha512(&[app_bytes.as_slice(), b" "].concat());
    let message = stderr(&out);
    assert!(
        message.contains(&format!(
            "the registry says the manifest is `{claimed}`, but its bytes hash to `{digest}`"
        )),
        "{message}"
    );
    assert!(!dir.path("wrong.yaml").exists());
    Ok(())
}

/// `--parallel 4` keeps exactly four lookups under way, never more, and asks each image once
/// with one HEAD, for `lock` and for `--resolve` alike. The proxy holds requests at a barrier
/// until four are held at once and then lets the four through together, so twelve images
/// make three full groups whatever the machine's speed; a client with fewer under way leaves
/// a group waiting, which the proxy gives up on after [`PATIENCE`] and reports, and one with
/// more shows more under way at once. Counts only: what the overlap is worth in wall time is
/// measured, with a comparison, by `benches/resolve.rs`.
fn resolve_asks_parallel_requests_at_once() -> Ran {
    registry_tools()?;
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    let (count, parallel) = (12, 4);
    let digests: Vec<String> = (0..count)
        .map(|i| push.single_arch(&format!("app{i}"), &format!("{i}.0")))
        .collect();
    let gate = BarrierProxy::start(&registry.host, parallel, PATIENCE);
    let images: Vec<String> = (0..count)
        .map(|i| format!("{}/app{i}:{i}.0", gate.host))
        .collect();
    // Every image twice: still asked once.
    let twice: Vec<&str> = images.iter().chain(&images).map(String::as_str).collect();
    let input = workload(&twice);
    let mut heads: Vec<String> = (0..count)
        .map(|i| format!("HEAD /v2/app{i}/manifests/{i}.0"))
        .collect();
    heads.sort();
    let dir = Scratch::new("parallel");
    // One run through the proxy: what it saw is checked, the output given.
    let through_gate = |args: &[&str]| {
        let out = run(reimage(&dir), args, &input);
        let seen = gate.seen.take();
        assert_eq!(
            seen.short_groups,
            Vec::<String>::new(),
            "{args:?}: fewer than {parallel} lookups under way at once"
        );
        assert_ok(&out);
        assert_eq!(seen.requests, heads, "{args:?}: one HEAD per image");
        assert_eq!(
            seen.most_at_once, parallel,
            "{args:?}: lookups under way at once"
        );
        assert_eq!(seen.groups, count / parallel, "{args:?}: full groups");
        out
    };

    let parallel_arg = parallel.to_string();
    through_gate(&["lock", "-o", "l.yaml", "--parallel", &parallel_arg]);
    let lock = read(&dir.path("l.yaml"));
    let rendered = stdout(&through_gate(&["--resolve", "--parallel", &parallel_arg]));
    assert_eq!(lock.lines().count(), 2 + count, "{lock}");
    for (image, digest) in images.iter().zip(&digests) {
        assert!(lock.contains(&format!("\n  {image}: {digest}\n")), "{lock}");
        let pinned = format!("image: {image}@{digest}\n");
        assert_eq!(rendered.matches(&pinned).count(), 2, "{rendered}");
    }
    Ok(())
}

/// How long the barrier proxy waits for a group to fill: far more than four lookups take to
/// start on a busy machine, and less than reimage's own 30 s timeout.
const PATIENCE: Duration = Duration::from_secs(10);

fn source_resolves_at_the_original_registry_and_keys_the_mirror() -> Ran {
    registry_tools()?;
    let source = Registry::start(Auth::Open);
    let mirror = Registry::start(Auth::Open);
    let digest = Pusher::new(source.base(), Box::new(|_| None)).single_arch("app", "1.0");
    let dir = Scratch::new("source");
    let rules = format!(
        "version: 1\nregistries: [{{from: '*', to: '{}/mirror'}}]\ndigests: {{lock: images.lock.yaml, require: true}}\n",
        mirror.host
    );
    std::fs::write(dir.path("rules.yaml"), rules).unwrap();
    let input = workload(&[&format!("{}/app:1.0", source.host)]);
    let port = source.host.trim_start_matches("127.0.0.1:");
    let key = format!("{}/mirror/127.0.0.1_{port}/app:1.0", mirror.host);

    let not_mirrored = run(reimage(&dir), &["--rules", "rules.yaml", "lock"], &input);
    assert_eq!(not_mirrored.status.code(), Some(1));
    assert!(
        stderr(&not_mirrored).contains("http 404"),
        "{}",
        stderr(&not_mirrored)
    );
    assert!(stderr(&not_mirrored).contains(&format!("`{key}`")));

    let out = run(
        reimage(&dir),
        &["--rules", "rules.yaml", "lock", "--source", "--explain"],
        &input,
    );
    assert_ok(&out);
    assert_eq!(
        read(&dir.path("images.lock.yaml")),
        format!("version: 1\nimages:\n  {key}: {digest}\n")
    );
    assert!(stderr(&out).contains(&format!("(resolved from `{}/app:1.0`)", source.host)));
    let rendered = run(reimage(&dir), &["--rules", "rules.yaml"], &input);
    assert_ok(&rendered);
    assert!(stdout(&rendered).contains(&format!("image: {key}@{digest}\n")));
    Ok(())
}

/// A rules file mapping everything to a mirror on a closed port and a lock file that pins one
/// of two images: a resolver would have work to do, and nowhere to connect.
struct Offline {
    dir: Scratch,
    port: u16,
    digest: String,
    input: String,
}

impl Offline {
    fn new(name: &str) -> Offline {
        let dir = Scratch::new(name);
        let port = free_port();
        let rules = format!(
            "version: 1\nregistries: [{{from: '*', to: '127.0.0.1:{port}/mirror'}}]\ndigests: {{lock: l.yaml}}\n"
        );
        std::fs::write(dir.path("rules.yaml"), rules).unwrap();
        let digest = format!("sha256:{}", "b".repeat(64));
        let nginx = format!("127.0.0.1:{port}/mirror/docker.io/library/nginx:1.25");
        let lock = format!("version: 1\nimages:\n  {nginx}: {digest}\n");
        std::fs::write(dir.path("l.yaml"), lock).unwrap();
        let input = workload(&["nginx:1.25", "quay.io/team/tool:2"]);
        Offline {
            dir,
            port,
            digest,
            input,
        }
    }

    /// `wrapper… reimage --rules rules.yaml ARGS`, in the folder, with a clean environment.
    fn run(&self, wrapper: &[&str], args: &[&str]) -> Output {
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..]).arg(env!("CARGO_BIN_EXE_reimage"));
        for var in CLEARED.iter().chain(&["REIMAGE_RULES", "REIMAGE_LOG"]) {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.dir.0).current_dir(&self.dir.0);
        cmd.args(["--rules", "rules.yaml"]);
        run(cmd, args, &self.input)
    }

    /// Runs under `strace`; the output and the `socket`/`connect` calls it saw.
    fn traced(&self, args: &[&str], trace: &str) -> (Output, String) {
        let file = self.dir.path(trace);
        let file = file.to_str().unwrap();
        let strace = [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect",
            "-o",
            file,
            "--",
        ];
        let out = self.run(&strace, args);
        (out, read(Path::new(file)))
    }
}

/// The proof that a render without `--resolve` never opens a socket: under `strace`, which
/// sees every `socket` and `connect` system call of the process and of all its threads, the
/// trace of a render (and of `images`) has none, while the same command with `--resolve` —
/// the positive control, on input that needs a digest — shows the connection attempt.
fn a_render_without_resolve_makes_no_socket_call() -> Ran {
    registry_tools()?;
    let offline = Offline::new("strace");
    for (args, trace) in [
        (&[][..], "render.trace"),
        (&["--explain", "images"][..], "images.trace"),
        (
            &["--explain", "images", "--format", "json"][..],
            "json.trace",
        ),
    ] {
        let (out, calls) = offline.traced(args, trace);
        assert_ok(&out);
        assert!(
            !calls.contains("socket(") && !calls.contains("connect("),
            "{args:?} opened a socket:\n{calls}"
        );
    }
    let (out, calls) = offline.traced(&["--resolve", "--timeout", "2"], "resolve.trace");
    assert_eq!(out.status.code(), Some(1));
    let port = offline.port;
    assert!(
        calls.contains(&format!("htons({port})")),
        "the control saw no connect:\n{calls}"
    );
    Ok(())
}

/// And in a network namespace with no network at all (`unshare --net`), a render gives the
/// same bytes as outside it, while `--resolve` fails to reach the registry.
fn a_render_without_resolve_needs_no_network() -> Ran {
    registry_tools()?;
    if !is_root() {
        return Err(Skip::Missing("`unshare --net` needs root".into()));
    }
    let offline = Offline::new("unshare");
    let outside = offline.run(&["env"], &[]);
    assert_ok(&outside);
    assert!(stdout(&outside).contains(&format!("@{}", offline.digest)));
    let inside = offline.run(&["unshare", "--net"], &[]);
    assert_ok(&inside);
    assert_eq!(inside.stdout, outside.stdout);
    let failing = offline.run(&["unshare", "--net"], &["--resolve", "--timeout", "2"]);
    assert_eq!(failing.status.code(), Some(1));
    let message = stderr(&failing);
    assert!(message.contains("cannot reach the registry"), "{message}");
    Ok(())
}
