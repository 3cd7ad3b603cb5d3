//! `cargo bench --bench resolve`: with `--resolve`, the time goes to waiting for the registry.
//! N unique images looked up P at a time should cost about ceil(N / P) round-trips, plus
//! reimage's own work, which does not grow with the registry's latency.
//!
//! Against the local test registry only (Debian's `docker-registry` on 127.0.0.1, started by
//! the test helpers), never a public one: 64 single-arch images are pushed to it, and a
//! [`LatencyProxy`] in front of it holds every request [`LATENCY`] before forwarding it, as a
//! far registry would. For each N and P the real binary renders N unique images (each named
//! twice) with `--resolve --parallel P`, through the proxy and, for comparison, straight at
//! the registry; the median of [`RUNS`] runs of each is printed as a Markdown table on
//! standard output, diagnostics on standard error.
//!
//! Without the registry tools (and no root to install them) it says so and exits 0. Under
//! `cargo test --benches` (no `--bench` argument) it measures nothing. CI only builds it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::registry::{
    reimage, tools_available, workload, Auth, LatencyProxy, Pusher, Registry, Scratch,
};

/// What the proxy adds to every request.
const LATENCY: Duration = Duration::from_millis(25);
/// Unique images per render.
const IMAGES: [usize; 4] = [1, 8, 32, 64];
/// `--parallel` values.
const PARALLEL: [usize; 3] = [1, 4, 8];
/// Runs of each command; the median is shown.
const RUNS: usize = 3;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("skipped: the resolve benchmark measures only under `cargo bench`");
        return;
    }
    if !tools_available() {
        eprintln!("skipped: the resolve benchmark needs the registry tools");
        return;
    }
    let registry = Registry::start(Auth::Open);
    let push = Pusher::new(registry.base(), Box::new(|_| None));
    let most = IMAGES.iter().copied().max().unwrap_or(0);
    eprintln!("pushing {most} images to {}", registry.host);
    for i in 0..most {
        push.single_arch(&format!("bench/app{i}"), &format!("{i}.0"));
    }
    let proxy = LatencyProxy::start(&registry.host, LATENCY);
    let dir = Scratch::new("bench-resolve");
    // The first run pays for loading the binary; it is not counted.
    once(&dir, &registry.host, 1, 1);

    let l = LATENCY.as_secs_f64() * 1000.0;
    println!(
        "L = {l:.0} ms added by a proxy to every registry request; each row is the median of \
         {RUNS} runs of `reimage --resolve --parallel P` on N unique images (each named twice), \
         through the proxy (`wall ms`) and straight at the same registry (`without proxy ms`)."
    );
    println!();
    println!("| images (N) | parallel (P) | ceil(N/P) | wall ms | wall / L | without proxy ms | (wall − without) / L |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in IMAGES {
        for p in PARALLEL {
            let direct = median(|| once(&dir, &registry.host, n, p));
            proxy.traffic.clear();
            let slow = median(|| once(&dir, &proxy.host, n, p));
            let requests = proxy.traffic.requests.lock().unwrap().len();
            let at_once = proxy.traffic.most_at_once.load(Ordering::SeqCst);
            eprintln!(
                "N={n} P={p}: {} request(s) per run through the proxy, at most {at_once} at once",
                requests / RUNS
            );
            let (wall, without) = (ms(slow), ms(direct));
            println!(
                "| {n} | {p} | {} | {wall:.0} | {:.1} | {without:.0} | {:.1} |",
                n.div_ceil(p),
                wall / l,
                (wall - without) / l
            );
        }
    }
}

/// The wall time of `reimage --resolve --parallel P` on images 0..N of `host`; panics when
/// the run fails or leaves an image unpinned, so that no failure is timed as a result.
fn once(dir: &Scratch, host: &str, n: usize, p: usize) -> Duration {
    let images: Vec<String> = (0..n)
        .map(|i| format!("{host}/bench/app{i}:{i}.0"))
        .collect();
    let twice: Vec<&str> = images.iter().chain(&images).map(String::as_str).collect();
    let mut cmd = reimage(dir);
    cmd.args(["--resolve", "--parallel", &p.to_string()]);
    let input = workload(&twice);
    let started = Instant::now();
    let out = common::output_with_stdin(cmd, input.as_bytes());
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reimage failed:\n{stderr}");
    let pinned = String::from_utf8_lossy(&out.stdout)
        .matches("@sha256:")
        .count();
    assert_eq!(pinned, 2 * n, "not every image was pinned:\n{stderr}");
    took
}

fn median(mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    times.sort();
    times[RUNS / 2]
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}
