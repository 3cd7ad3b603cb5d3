//! Hostile input through the real binary. Every case ends either with the right output or with
//! one clean error (exit 2, nothing on standard output, one line on standard error), and never
//! with a panic, a stack overflow, a signal or a hang.
//!
//! Every run is also held to the budgets of issue 5: at most 2 s per MB of input (plus 1 s for
//! starting a process on a busy machine), and a peak resident set of at most 3× the input plus
//! 20 MB. The peak is the child's own, from GNU `time -f %M` (`/usr/bin/time`, Debian package
//! `time`; `bash scripts/setup.sh` installs it), or where that is missing, the last `VmHWM`
//! read from `/proc/PID/status` while the child runs (which can only under-count): the tests
//! say so once on standard error, and with `CI=true` they fail instead.
//!
//! The memory budget holds for streams of ordinary documents, whose trees are a fraction of
//! their bytes. Within one document the span tree keeps every YAML node (100 to 150 bytes each,
//! with its place in its parent); a document made of nothing but tiny nodes (`[a, a, a, …]`,
//! thousands of `- *c` lines) is bounded by its node count instead: [`BYTES_PER_NODE`] more per
//! node, which the cases of such documents add to their budget.
//!
//! `cargo test` runs the binary of the test profile (debug assertions on, less optimised),
//! several times slower than a release build, so its time budget is multiplied by
//! [`DEBUG_SLOWDOWN`]. `.ci/run` runs this module once more against the release binary with
//! the exact budget: `REIMAGE_BIN=target/release/reimage cargo test --test suite -- hostile::`.
//! A run past four times its budget is killed and fails as a hang.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    // The four largest inputs first: they take most of the suite's time (see main.rs).
    tests![
        half_a_million_small_pods,
        a_long_list_that_aliases_one_image_and_one_pull_secret_list,
        a_million_tiny_documents,
        a_hundred_megabyte_scalar,
        alias_bombs_are_never_expanded,
        many_anchors_and_aliases_stay_linear,
        items_that_start_below_their_dashes_stay_linear,
        deep_nesting_is_a_clean_error,
        nesting_just_under_the_limit_is_read,
        invalid_utf8_is_a_clean_error,
        nul_bytes,
        byte_order_marks,
        mixed_line_endings,
        a_flow_mapping_that_never_ends,
        tabs_used_as_indentation,
        nothing_is_written_before_the_whole_input_is_read,
        a_reader_that_stops_early_is_no_error,
    ]
}

const MB: usize = 1024 * 1024;

/// How much slower the debug binary may be than the budget, which is for a release build.
const DEBUG_SLOWDOWN: u32 = 10;

/// The rules every case runs with: a catch-all mirror and a pull secret, on the command line.
const RULES: &[&str] = &[
    "--registry",
    "mirror.example.com/all",
    "--pull-secret",
    "mirror-pull",
];

/// `nginx:1` as the rules above rewrite it.
const MIRRORED: &str = "mirror.example.com/all/docker.io/library/nginx:1";

const GNU_TIME: &str = "/usr/bin/time";

/// What one YAML node of a document may cost while the document is in flight (each node keeps
/// its span, where its anchor and tag start, its tag, and its place in its parent).
const BYTES_PER_NODE: u64 = 176;

/// One finished run.
struct Run {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
    /// Peak resident set in bytes, when it could be measured.
    peak: Option<u64>,
}

/// The binary under test: `REIMAGE_BIN` (a release build, held to the exact budget), else the
/// one cargo built for this test.
fn binary() -> (PathBuf, u32) {
    match std::env::var_os("REIMAGE_BIN") {
        Some(path) => (PathBuf::from(path), 1),
        None => {
            let slowdown = if cfg!(debug_assertions) {
                DEBUG_SLOWDOWN
            } else {
                1
            };
            (PathBuf::from(env!("CARGO_BIN_EXE_reimage")), slowdown)
        }
    }
}

fn time_budget(input: usize) -> Duration {
    let (_, slowdown) = binary();
    let megabytes = input as f64 / MB as f64;
    Duration::from_secs_f64(1.0 + 2.0 * megabytes) * slowdown
}

fn memory_budget(input: usize) -> u64 {
    3 * input as u64 + 20 * MB as u64
}

/// Runs the binary with `args` and `input` on standard input, measuring time and peak memory,
/// and kills it (failing the test) when it runs far past its time budget.
fn run(args: &[&str], input: &[u8]) -> Run {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let (bin, _) = binary();
    let peak_file = std::env::temp_dir().join(format!(
        "reimage-hostile-{}-{}.rss",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let gnu_time = Path::new(GNU_TIME).exists();
    if !gnu_time {
        without_gnu_time();
    }
    let mut cmd = if gnu_time {
        let mut cmd = Command::new(GNU_TIME);
        cmd.arg("-f").arg("%M").arg("-o").arg(&peak_file).arg(&bin);
        cmd
    } else {
        Command::new(&bin)
    };
    cmd.args(args)
        .env_remove("REIMAGE_RULES")
        .env_remove("REIMAGE_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let limit = time_budget(input.len()) * 4;
    let started = Instant::now();
    let mut child = cmd.spawn().expect("cannot start reimage");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || match stdin.write_all(&input) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    });
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let mut polled_peak = None;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if !gnu_time {
            polled_peak = vm_hwm(child.id()).max(polled_peak);
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("reimage {args:?} still ran after {limit:?}: a hang");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    writer.join().unwrap().expect("cannot write standard input");
    let peak = if gnu_time {
        let text = std::fs::read_to_string(&peak_file).unwrap_or_default();
        let _ = std::fs::remove_file(&peak_file);
        // GNU time puts a line about a fatal signal before the number.
        text.lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    } else {
        polled_peak
    };
    Run {
        status: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
        elapsed,
        peak,
    }
}

/// Without GNU time the peak is polled, which can miss it: said once, and a failure in CI.
fn without_gnu_time() {
    let why = format!(
        "no GNU time at {GNU_TIME} (Debian package `time`; `bash scripts/setup.sh` installs it)"
    );
    if crate::common::in_ci() {
        panic!("{why} (CI=true: the peak memory must be measured, not polled)");
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("hostile: {why}: peak memory is polled from /proc and can be under-counted")
    });
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

/// `VmHWM` of a running process, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb = line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(kb * 1024)
}

/// What every run must show, whatever its input: a normal exit, no panic, and the budgets.
fn check_bounds(what: &str, run: &Run, input: usize, memory: u64) {
    assert!(
        matches!(run.status, Some(0..=2)),
        "{what}: exit {:?} (a signal, a panic or a stack overflow); stderr:\n{}",
        run.status,
        tail(&run.stderr)
    );
    assert!(
        !run.stderr.contains("panicked"),
        "{what}: {}",
        tail(&run.stderr)
    );
    let budget = time_budget(input);
    assert!(
        run.elapsed <= budget,
        "{what}: {:?} for {input} bytes, over the budget of {budget:?}",
        run.elapsed
    );
    if let Some(peak) = run.peak {
        assert!(
            peak <= memory,
            "{what}: peak RSS {} MB for {input} bytes of input, over the budget of {} MB",
            peak / MB as u64,
            memory / MB as u64
        );
    }
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    text.get(start..).unwrap_or(text)
}

/// Exit 0 with exactly `expected` on standard output.
fn expect_output(what: &str, input: &[u8], expected: &[u8]) -> Run {
    let run = run(RULES, input);
    check_bounds(what, &run, input.len(), memory_budget(input.len()));
    assert_eq!(run.status, Some(0), "{what}: {}", tail(&run.stderr));
    assert!(
        run.stdout == expected,
        "{what}: the output differs from the expected one (got {} bytes, expected {})",
        run.stdout.len(),
        expected.len()
    );
    run
}

/// Exit 2, nothing on standard output, and one line on standard error that contains `needle`.
fn expect_error(what: &str, input: &[u8], needle: &str) {
    let run = run(RULES, input);
    check_bounds(what, &run, input.len(), memory_budget(input.len()));
    assert_eq!(run.status, Some(2), "{what}: {}", tail(&run.stderr));
    assert!(run.stdout.is_empty(), "{what}: output on a failed run");
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "{what}: not one message:\n{}",
        tail(&run.stderr)
    );
    assert!(
        run.stderr.starts_with("reimage: ") && run.stderr.contains(needle),
        "{what}: the message does not say `{needle}`:\n{}",
        tail(&run.stderr)
    );
}

/// A Deployment whose one container pulls `nginx:1` and whose pod spec ends with `tail`
/// (indented for the pod spec), already with `mirror-pull` so that only the image changes.
fn deployment(tail: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      imagePullSecrets: [{{name: mirror-pull}}]\n      containers:\n      - name: web\n        image: nginx:1\n{tail}"
    )
}

fn mirrored(input: &str) -> Vec<u8> {
    input
        .replacen("image: nginx:1", &format!("image: {MIRRORED}"), 1)
        .into_bytes()
}

fn alias_bombs_are_never_expanded() {
    // Billion laughs: nine levels of nine aliases, 10^9 strings if anything expanded them,
    // at the top of a document, and used where a pod spec's images and strings are searched.
    let mut bomb = String::from("x-lol:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (level, previous) in ('b'..='i').zip('a'..) {
        let items = vec![format!("*{previous}"); 9].join(", ");
        bomb.push_str(&format!("  {level}: &{level} [{items}]\n"));
    }
    let uses = "        env: *i\n        args: *i\n        volumeMounts: *i\n      initContainers: *i\n      volumes: *i\n";
    let input = format!("{bomb}---\n{bomb}{}", deployment(uses));
    expect_output("billion laughs", input.as_bytes(), &mirrored(&input));

    // The same bomb as a custom resource, which the structural search walks node by node.
    let custom = format!("apiVersion: example.com/v1\nkind: Thing\n{bomb}spec: *i\n");
    expect_output(
        "billion laughs in a custom resource",
        custom.as_bytes(),
        custom.as_bytes(),
    );
}

fn many_anchors_and_aliases_stay_linear() {
    let head = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  imagePullSecrets: [{name: mirror-pull}]\n  containers:\n  - &c {name: a, image: nginx:1}\n";
    // 200 000 aliases of one container: one image site, one edit.
    let aliases = format!("{head}{}", "  - *c\n".repeat(200_000));
    let run = run(RULES, aliases.as_bytes());
    let memory = memory_budget(aliases.len()) + BYTES_PER_NODE * 200_000;
    check_bounds("many aliases", &run, aliases.len(), memory);
    assert_eq!(run.status, Some(0), "{}", tail(&run.stderr));
    assert!(
        run.stdout == mirrored(&aliases),
        "many aliases: wrong output"
    );

    // 20 000 anchored images, each with an alias: each anchor is rewritten in place, and its
    // alias follows it. Memory here grows with the images found (each is kept with its own
    // path, value and decision while its document is in flight), not with the bytes: up to
    // 2 KB per image on top.
    let mut pairs = String::from(head);
    let mut expected = String::from(head).replacen("nginx:1", MIRRORED, 1);
    for i in 0..20_000 {
        let pair = format!(
            "  - {{name: a{i}, image: &i{i} nginx:{i}}}\n  - {{name: b{i}, image: *i{i}}}\n"
        );
        expected.push_str(&pair.replacen(
            &format!("nginx:{i}"),
            &format!("mirror.example.com/all/docker.io/library/nginx:{i}"),
            1,
        ));
        pairs.push_str(&pair);
    }
    let run = self::run(RULES, pairs.as_bytes());
    let memory = memory_budget(pairs.len()) + 2048 * 40_001;
    check_bounds("many anchored images", &run, pairs.len(), memory);
    assert_eq!(run.status, Some(0), "{}", tail(&run.stderr));
    assert!(
        run.stdout == expected.as_bytes(),
        "many anchored images: wrong output"
    );
}

fn items_that_start_below_their_dashes_stay_linear() {
    // A List of 20 000 pods whose items, and whose containers, start on the line after their
    // `-`: no line holds both a sequence and its dash, and every pod spec is given a new
    // `imagePullSecrets` key, written at the indentation the document uses for lists.
    let pods = 20_000;
    let head = "apiVersion: v1\nkind: List\nitems:\n";
    let (mut input, mut expected) = (String::from(head), String::from(head));
    for i in 0..pods {
        let pod = format!(
            "-\n  apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n  spec:\n    containers:\n    -\n      name: a\n      image: nginx:1\n"
        );
        expected.push_str(&String::from_utf8(mirrored(&pod)).unwrap());
        expected.push_str("    imagePullSecrets:\n    - name: mirror-pull\n");
        input.push_str(&pod);
    }
    let run = run(RULES, input.as_bytes());
    // One document: 7 nodes for the List, 18 for each pod.
    let nodes = 7 + 18 * pods as u64;
    let memory = memory_budget(input.len()) + BYTES_PER_NODE * nodes;
    check_bounds("items below their dashes", &run, input.len(), memory);
    assert_eq!(run.status, Some(0), "{}", tail(&run.stderr));
    assert!(
        run.stdout == expected.as_bytes(),
        "items below their dashes: wrong output"
    );
}

fn a_long_list_that_aliases_one_image_and_one_pull_secret_list() {
    // A List of 200 000 pods: the first defines its image and its pull secrets as anchors,
    // every other pod aliases both. The anchored image is rewritten once, for all its aliases;
    // each alias of the list is given a list of its own, and the anchored list is edited in
    // place (all of its aliases now have their own).
    let pods = 200_000;
    let head = "apiVersion: v1\nkind: List\nitems:\n";
    let first = "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p0}\n  spec:\n    imagePullSecrets: &ps [{name: regcred}]\n    containers:\n    - name: a\n      image: &img nginx:1\n";
    let mut input = format!("{head}{first}");
    let mut expected = format!(
        "{head}{}",
        first
            .replace("&ps [", "&ps [{name: mirror-pull}, ")
            .replace("&img nginx:1", &format!("&img {MIRRORED}"))
    );
    for i in 1..pods {
        let pod = format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{i}}}\n  spec:\n    imagePullSecrets: *ps\n    containers:\n    - name: a\n      image: *img\n"
        );
        expected.push_str(&pod.replace(
            "imagePullSecrets: *ps",
            "imagePullSecrets: [{name: mirror-pull}, {name: regcred}]",
        ));
        input.push_str(&pod);
    }
    let run = run(RULES, input.as_bytes());
    // One document: 7 nodes for the List, 20 for each pod (23 for the first).
    let nodes = 10 + 20 * pods as u64;
    let memory = memory_budget(input.len()) + BYTES_PER_NODE * nodes;
    check_bounds("a long aliasing List", &run, input.len(), memory);
    assert_eq!(run.status, Some(0), "{}", tail(&run.stderr));
    assert!(
        run.stdout == expected.as_bytes(),
        "a long aliasing List: wrong output"
    );
}

fn half_a_million_small_pods() {
    // 500 000 documents of 100 bytes (49 MB), each a pod with one image: every image is
    // rewritten and every pod spec given a pull secret, and the report of each must not
    // outweigh the stream, in this run or in one without rules, where nothing changes.
    let (mut input, mut expected) = (String::new(), String::new());
    for i in 0..500_000 {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers: [{{name: a, image: nginx:1}}]\n"
        );
        expected.push_str(&String::from_utf8(mirrored(&pod)).unwrap());
        expected.push_str("  imagePullSecrets:\n  - name: mirror-pull\n---\n");
        input.push_str(&pod);
        input.push_str("---\n");
    }
    expect_output("500 000 small pods", input.as_bytes(), expected.as_bytes());
    drop(expected);
    // An empty rules file: the identity.
    let empty = std::env::temp_dir().join(format!("reimage-hostile-{}.rules", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    let run = run(&["--rules", empty.to_str().unwrap()], input.as_bytes());
    std::fs::remove_file(&empty).unwrap();
    check_bounds(
        "500 000 small pods, no rules",
        &run,
        input.len(),
        memory_budget(input.len()),
    );
    assert_eq!(run.status, Some(0), "{}", tail(&run.stderr));
    assert!(
        run.stdout == input.as_bytes(),
        "500 000 small pods, no rules: the output differs from the input"
    );
}

fn deep_nesting_is_a_clean_error() {
    let levels = 10_000;
    // Block style: mappings indented one more space per level (50 MB), sequences and
    // explicit keys on one line; flow style: sequences and mappings.
    let indented: String = (0..levels)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect::<String>()
        + &" ".repeat(levels)
        + "v\n";
    let cases = [
        ("block mappings", indented),
        ("block sequences", "- ".repeat(levels) + "x\n"),
        ("explicit keys", "? ".repeat(levels) + "x\n"),
        (
            "flow sequences",
            "[".repeat(levels) + &"]".repeat(levels) + "\n",
        ),
        (
            "flow mappings",
            "{a: ".repeat(levels) + "1" + &"}".repeat(levels) + "\n",
        ),
    ];
    for (what, deep) in cases {
        let input = format!("{}---\n{deep}", deployment(""));
        expect_error(
            what,
            input.as_bytes(),
            "collections are nested more than 255 levels deep",
        );
    }
}

fn nesting_just_under_the_limit_is_read() {
    // 240 levels inside a pod spec, inside a custom resource (searched node by node), and in
    // a List: everything the walk does at the deepest a document may be.
    let deep = "[".repeat(240) + &"]".repeat(240);
    let workload = deployment(&format!("        args: {deep}\n"));
    expect_output(
        "deep in a pod spec",
        workload.as_bytes(),
        &mirrored(&workload),
    );
    let custom = format!("apiVersion: example.com/v1\nkind: Thing\nspec: {{a: {deep}}}\n");
    expect_output(
        "deep in a custom resource",
        custom.as_bytes(),
        custom.as_bytes(),
    );
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {}\n",
        "{kind: List, items: [".repeat(120) + &"]}".repeat(120)
    );
    expect_output("deep Lists", list.as_bytes(), list.as_bytes());
}

fn a_hundred_megabyte_scalar() {
    let big = "x".repeat(100 * MB);
    // A plain ConfigMap value, which is searched for references and left as it is.
    let config =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  blob: {big}\n");
    expect_output(
        "a 100 MB ConfigMap value",
        config.as_bytes(),
        config.as_bytes(),
    );
    drop(config);
    // A double-quoted image with an escape (decoded into a new string by the parser): not a
    // reference, so it is left alone with one short warning.
    let image = deployment("").replacen("image: nginx:1", &format!("image: \"\\t{big}\""), 1);
    let run = expect_output("a 100 MB image", image.as_bytes(), image.as_bytes());
    assert_eq!(run.stderr.lines().count(), 1, "{}", tail(&run.stderr));
    assert!(
        run.stderr.len() < 4096,
        "a warning of {} bytes",
        run.stderr.len()
    );
}

fn a_million_tiny_documents() {
    let input = "a: 1\n---\n".repeat(1_000_000);
    expect_output("1 000 000 documents", input.as_bytes(), input.as_bytes());
    let empty = "---\n".repeat(1_000_000);
    expect_output(
        "1 000 000 empty documents",
        empty.as_bytes(),
        empty.as_bytes(),
    );
}

fn invalid_utf8_is_a_clean_error() {
    let valid = deployment("");
    let cases: [(&str, &[u8]); 5] = [
        ("a stray continuation byte", b"\x80"),
        ("an overlong encoding", b"\xc0\xaf"),
        ("a surrogate", b"\xed\xa0\x80"),
        ("a sequence cut by the end", b"\xe2\x82"),
        ("UTF-16", b"\xff\xfea\x00:\x00"),
    ];
    for (what, bad) in cases {
        let mut input = valid.clone().into_bytes();
        input.extend_from_slice(b"---\nkey: ");
        input.extend_from_slice(bad);
        expect_error(what, &input, "is not valid UTF-8 at line 12");
    }
}

fn nul_bytes() {
    // Raw NUL is not allowed in YAML text: in a value or in a comment, a clean error.
    for (what, input) in [
        (
            "NUL in a value",
            deployment("").replace("nginx:1", "ng\0inx:1"),
        ),
        (
            "NUL in a comment",
            deployment("").replace("nginx:1", "nginx:1 # \0"),
        ),
    ] {
        expect_error(what, input.as_bytes(), "control characters are not allowed");
    }
    // An escaped NUL is a character of the string: not a valid reference, left as it is.
    let escaped = deployment("").replace("nginx:1", "\"ng\\0inx:1\"");
    let run = expect_output("an escaped NUL", escaped.as_bytes(), escaped.as_bytes());
    assert!(
        run.stderr.contains("not a valid image reference"),
        "{}",
        run.stderr
    );
}

fn byte_order_marks() {
    let bom = "\u{feff}";
    // At the start of the stream and of a later document: skipped, kept in the output.
    let input = format!("{bom}{}---\n{bom}{}", deployment(""), deployment(""));
    let expected = input.replace("image: nginx:1", &format!("image: {MIRRORED}"));
    expect_output(
        "BOMs before documents",
        input.as_bytes(),
        expected.as_bytes(),
    );
    // Inside a document, go-yaml v2 reads it as a character of the key: Kubernetes sees a key
    // `\u{feff}containers`, not the containers, and so does reimage; nothing changes.
    let inside = deployment("").replace("      containers:", &format!("      {bom}containers:"));
    expect_output(
        "a BOM inside a document",
        inside.as_bytes(),
        inside.as_bytes(),
    );
}

fn mixed_line_endings() {
    // A document whose lines end in CRLF and LF by turns: the image is edited in place, and
    // the added secret takes the line ending of the document's first line (CRLF).
    let lines = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: web}",
        "spec:",
        "  template:",
        "    spec:",
        "      containers:",
        "      - name: web",
        "        image: nginx:1",
    ];
    let join = |lines: &[&str]| -> String {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{l}{}", if i % 2 == 0 { "\r\n" } else { "\n" }))
            .collect()
    };
    let input = join(&lines);
    let expected = input.replace("nginx:1", MIRRORED)
        + "      imagePullSecrets:\r\n      - name: mirror-pull\r\n";
    let run = expect_output("mixed CRLF and LF", input.as_bytes(), expected.as_bytes());
    // A second run changes nothing.
    let again = self::run(RULES, &run.stdout);
    assert_eq!(again.status, Some(0));
    assert!(
        again.stdout == run.stdout,
        "a second run changed the output"
    );
}

fn a_flow_mapping_that_never_ends() {
    let short = deployment("").replace(
        "image: nginx:1",
        "image: nginx:1\n        env: [{name: a, value: b}",
    );
    expect_error("an unclosed flow list", short.as_bytes(), "invalid YAML");
    // 2 MB of entries (two nodes each) and never a closing brace.
    let entries = 2 * MB / 12;
    let long = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata: {{{}",
        "key: value, ".repeat(entries)
    );
    let run = run(RULES, long.as_bytes());
    let memory = memory_budget(long.len()) + BYTES_PER_NODE * 2 * entries as u64;
    check_bounds("an unclosed flow mapping", &run, long.len(), memory);
    assert_eq!(run.status, Some(2), "{}", tail(&run.stderr));
    assert!(run.stdout.is_empty() && run.stderr.lines().count() == 1);
    assert!(run.stderr.contains("invalid YAML"), "{}", run.stderr);
}

fn tabs_used_as_indentation() {
    for (what, input) in [
        (
            "a tab indenting a key",
            deployment("").replace("      containers:", "\tcontainers:"),
        ),
        (
            "spaces then a tab",
            deployment("").replace("        image:", "    \t  image:"),
        ),
        // go-yaml v2 (libyaml) refuses a tab after a dash, where YAML 1.2 reads separation.
        (
            "a tab after a dash",
            deployment("").replace("      - name: web", "      -\tname: web"),
        ),
    ] {
        expect_error(what, input.as_bytes(), "invalid YAML");
    }
    // A tab between a key and its value is separation, not indentation: edited.
    let input = deployment("").replace("image: nginx:1", "image:\tnginx:1");
    let expected = input.replace("nginx:1", MIRRORED);
    expect_output("a tab after a colon", input.as_bytes(), expected.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// The output: written whole, after the whole input, and a reader that stops early is no error.

/// Spawns the binary (without a time wrapper) with all three pipes.
fn spawn(args: &[&str]) -> std::process::Child {
    let (bin, _) = binary();
    Command::new(bin)
        .args(args)
        .env_remove("REIMAGE_RULES")
        .env_remove("REIMAGE_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start reimage")
}

fn nothing_is_written_before_the_whole_input_is_read() {
    let document = deployment("");
    for (what, last, expected) in [
        ("a valid stream", document.clone(), 0),
        (
            "a stream whose last document is broken",
            "a: [1\n".to_string(),
            2,
        ),
    ] {
        let mut child = spawn(RULES);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // The reader notes when the first byte arrives.
        let reader = thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut first = None;
            let mut buf = [0; 65536];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        first.get_or_insert_with(Instant::now);
                        bytes.extend_from_slice(&buf[..n]);
                    }
                }
            }
            (first, bytes)
        });
        // Many complete documents, a pause long enough for any early output to show, the rest.
        let head = format!("{document}---\n").repeat(200);
        stdin.write_all(head.as_bytes()).unwrap();
        stdin.flush().unwrap();
        thread::sleep(Duration::from_millis(300));
        stdin.write_all(last.as_bytes()).unwrap();
        // Taken before the close: output that waits for the end of the input comes after it.
        let closed = Instant::now();
        drop(stdin);
        let status = child.wait().unwrap();
        let (first, bytes) = reader.join().unwrap();
        assert_eq!(status.code(), Some(expected), "{what}");
        if expected == 0 {
            assert!(
                first.is_some_and(|at| at >= closed),
                "{what}: output before the input ended"
            );
            let mirrored = String::from_utf8(mirrored(&document)).unwrap();
            let whole = format!("{mirrored}---\n").repeat(200) + &mirrored;
            assert!(bytes == whole.as_bytes(), "{what}: wrong output");
        } else {
            assert!(
                bytes.is_empty(),
                "{what}: {} bytes written before the error",
                bytes.len()
            );
        }
    }
}

fn a_reader_that_stops_early_is_no_error() {
    // `reimage … | head -c 100`: the reader closes the pipe long before the output (about
    // 1 MB, far more than a pipe holds) is written. That ends quietly, with exit 0.
    let input = format!("{}---\n", deployment("")).repeat(4000);
    for args in [
        RULES.to_vec(),
        [RULES, &["images", "--format", "json"]].concat(),
    ] {
        let mut child = spawn(&args);
        let mut stdin = child.stdin.take().unwrap();
        let bytes = input.clone().into_bytes();
        let writer = thread::spawn(move || stdin.write_all(&bytes));
        let mut stdout = child.stdout.take().unwrap();
        let mut head = [0; 100];
        stdout.read_exact(&mut head).unwrap();
        drop(stdout);
        let stderr = read_in_background(child.stderr.take().unwrap());
        let status = child.wait().unwrap();
        writer.join().unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
