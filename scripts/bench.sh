#!/usr/bin/env bash
# Side-by-side throughput, whole process, release build: reimage against `cat` (the floor: the
# cost of moving the bytes through a pipe) and kustomize's `images:` transformer, on the shared
# real-world fixtures and on generated workload streams of 1, 10 and 100 MB.
#
#   scripts/bench.sh                      print the table (Markdown) on standard output
#   scripts/bench.sh --update BENCHMARKS.md   also rewrite the tables between their markers
#
# Then `cargo bench --bench resolve` prints how `--resolve` scales with the registry's latency
# (see benches/resolve.rs); it needs Debian's docker-registry, installed when missing as root.
#
# Every number is the median of several runs of the whole process (start-up included), input
# from a file on standard input, output read through a pipe and thrown away; reimage's peak RSS
# is its own (wait4). reimage runs with a catch-all mirror rule, a pull secret and lock-file pins
# for every image (the lock is written for each input from `reimage images`). kustomize runs the
# same renames (`images:` with newName, and digest where pinned) through the real engine
# (../shared/peers), timed two ways: the whole wrapper process, as a post-renderer runs it
# (Python start-up and the library load included), and the median of its in-process builds
# (`--repeat`), which leaves both out. reimage is always timed as a whole process, so the second
# ratio is the one least in its favour.
#
# Environment: BENCH_RUNS (reimage and cat runs per input, default 11), BENCH_KUSTOMIZE_RUNS
# (default 3), BENCH_KUSTOMIZE_MAX_MB (larger inputs skip kustomize, default 12: it needs about
# 3 s per MB, and more per MB on larger streams), BENCH_ONLY (only inputs whose file name contains it), REIMAGE_SHARED (default
# ../shared beside the repository).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

update=""
if [[ ${1:-} == --update ]]; then
  update=${2:?usage: scripts/bench.sh [--update BENCHMARKS.md]}
fi
shared=${REIMAGE_SHARED:-../shared}
work=target/bench
mkdir -p "$work"

cargo build --release --locked --quiet --bin reimage --example gen-stream
for mb in 1 10 100; do
  target/release/examples/gen-stream "$mb" > "$work/workload-${mb}mb.yaml"
done

kustomize_lib=""
if [[ -x $shared/peers/install-kustomize-peer.sh || -f $shared/peers/install-kustomize-peer.sh ]]; then
  kustomize_lib=$(bash "$shared/peers/install-kustomize-peer.sh" 2>/dev/null || true)
fi

table=$(python3 - "$work" "$shared" "$kustomize_lib" <<'PY'
import glob, hashlib, json, os, platform, statistics, subprocess, sys, time

work, shared, kustomize_lib = sys.argv[1:4]
reimage = os.path.abspath("target/release/reimage")
runs = int(os.environ.get("BENCH_RUNS", "11"))
k_runs = int(os.environ.get("BENCH_KUSTOMIZE_RUNS", "3"))
k_max = float(os.environ.get("BENCH_KUSTOMIZE_MAX_MB", "12"))
MB = 1024 * 1024

inputs = sorted(glob.glob(os.path.join(shared, "fixtures/real/*.yaml")), key=os.path.getsize)
inputs += [os.path.join(work, f"workload-{mb}mb.yaml") for mb in (1, 10, 100)]
only = os.environ.get("BENCH_ONLY", "")
inputs = [path for path in inputs if only in os.path.basename(path)]

RULES = """version: 1
registries: [{from: "*", to: mirror.example.com/all}]
pullSecrets: {add: [{name: mirror-pull}], remove: [legacy-registry]}
"""

def once(cmd, path):
    """Wall time and exit code of one run, output read through a pipe and thrown away. The
    child is started with posix_spawn (vfork and exec), not by forking this Python process,
    whose page tables would cost every command a fork's worth of time."""
    stdin = os.open(path, os.O_RDONLY)
    out, into = os.pipe()
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, stdin, 0),
        (os.POSIX_SPAWN_DUP2, into, 1),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_CLOSE, out),
    ])
    os.close(into)
    while os.read(out, MB):
        pass
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(out)
    os.close(stdin)
    return elapsed, os.waitstatus_to_exitcode(status)

def peak_rss(cmd, path):
    """Peak RSS in bytes, from GNU time: a child forked from Python would count Python's own
    pages, from before its exec, in its rusage."""
    if not os.path.exists("/usr/bin/time"):
        return None
    out = os.path.join(work, "peak-rss")
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + cmd, stdin=open(path, "rb"),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return int(open(out).read().split()[-1]) * 1024

def measure(cmd, path, n):
    results = [once(cmd, path) for _ in range(n)]
    if any(code != 0 for _, code in results):
        return None, None
    return statistics.median(t for t, _ in results), peak_rss(cmd, path)

def name_of(ref):
    """`name` of `name[:tag][@digest]`, the tag looked for after the last `/`."""
    ref = ref.split("@")[0]
    colon = ref.find(":", ref.rfind("/") + 1)
    return ref if colon < 0 else ref[:colon]

def prepare(path):
    """The rules file with a lock of every final image, and kustomize's images list."""
    base = os.path.join(work, os.path.basename(path))
    plain = base + ".rules-nolock.yaml"
    open(plain, "w").write(RULES)
    out = subprocess.run([reimage, "--rules", plain, "-q", "images", "--format", "json"],
                         stdin=open(path, "rb"), capture_output=True, check=True).stdout
    findings = [f for f in json.loads(out) if f["status"] != "invalid"]
    finals = sorted({f["final"] for f in findings if "@" not in f["final"]})
    lock = base + ".lock.yaml"
    with open(lock, "w") as f:
        f.write("version: 1\nimages:\n")
        for image in finals:
            f.write(f'  "{image}": sha256:{hashlib.sha256(image.encode()).hexdigest()}\n')
    rules = base + ".rules.yaml"
    open(rules, "w").write(RULES + f"digests: {{lock: {os.path.abspath(lock)}}}\n")
    images = {}
    for f in findings:
        entry = {"name": name_of(f["original"]), "newName": name_of(f["final"])}
        if "@" in f["final"] and "@" not in f["original"]:
            entry["digest"] = f["final"].split("@")[1]
        images[entry["name"]] = entry
    k_images = base + ".kustomize-images.json"
    json.dump(list(images.values()), open(k_images, "w"))
    return rules, k_images, len(findings)

def kustomize(path, k_images):
    """Whole-process and in-process (build only) seconds, or None when not run."""
    if not kustomize_lib or os.path.getsize(path) / MB > k_max:
        return None
    peer = os.path.join(shared, "peers/kustomize-images.py")
    whole, _ = measure(["python3", peer, kustomize_lib, k_images], path, k_runs)
    proc = subprocess.run(["python3", peer, kustomize_lib, k_images, "--repeat", str(max(2, k_runs))],
                          stdin=open(path, "rb"), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    build = None
    for line in proc.stderr.splitlines():
        if line.startswith("kustomize build median"):
            build = float(line.split()[3])
    if whole is None or build is None:
        return "error"
    return whole, build

def mbps(size, seconds):
    return size / MB / seconds

rows = []
results = []  # (name, size, reimage seconds, peak RSS, kustomize (whole, build) or None)
for path in inputs:
    size = os.path.getsize(path)
    rules, k_images, found = prepare(path)
    n = max(3, runs // 2) if size > 50 * MB else runs
    cat_t, _ = measure(["cat"], path, n)
    r_t, r_rss = measure([reimage, "--rules", rules, "-q"], path, n)
    k = kustomize(path, k_images)
    budget = 3 * size + 20 * MB
    name = os.path.basename(path).removesuffix(".yaml")
    if r_t is None:
        rows.append(f"| {name} | {size / MB:.3f} | {found} | {mbps(size, cat_t):.0f} | failed | | | | | |")
        continue
    if k is None or k == "error":
        k_cells = f"{k or 'not run'} | | |"
    else:
        whole, build = k
        k_cells = (f"{mbps(size, whole):.2f} · {mbps(size, build):.2f} | "
                   f"{whole / r_t:.0f}× | {build / r_t:.0f}× |")
    rss = "n/a" if r_rss is None else f"{r_rss / MB:.1f} ({budget / MB:.0f})"
    rows.append(f"| {name} | {size / MB:.3f} | {found} | {mbps(size, cat_t):.0f} | "
                f"{r_t * 1000:.1f} | {mbps(size, r_t):.1f} | {rss} | {k_cells}")
    results.append((name, size, r_t, r_rss, k if isinstance(k, tuple) else None))

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"

# The floor under every small input: starting a process that does nothing and waiting for it.
empty = os.path.join(work, "empty.yaml")
open(empty, "w").close()
floor_t, _ = measure(["true"], empty, 31)

cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
memory = sh("free -g | awk '/^Mem:/ {print $2}'")
print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
      f"({cpu}), {memory} GiB of memory, Linux {platform.release()}; "
      f"{sh('rustc --version')}; reimage at {sh('git describe --always --dirty')}; "
      f"median of {runs} runs (reimage, cat; half as many above 50 MB), "
      f"kustomize the median of {k_runs} whole runs and of {max(2, k_runs)} in-process builds. "
      f"Processes are started with posix_spawn; one that does nothing (`true`) takes "
      f"{floor_t * 1000:.2f} ms here.")
print()
print("| input | MB | images | cat MB/s | reimage ms | reimage MB/s | reimage peak RSS MB (budget) "
      "| kustomize MB/s, process · build | × kustomize process | × kustomize build |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for row in rows:
    print(row)

# The targets of issue 5, judged from the rows above.
def verdict(ok):
    return "met" if ok else "**missed**"

print()
print("Targets:")
crd = [r for r in results if r[0].startswith("prometheus-operator")]
for name, size, t, _, _ in crd:
    print(f"- ≥ 100 MB/s on the CRD-heavy {name}: {mbps(size, t):.0f} MB/s, {verdict(mbps(size, t) >= 100)}")
work_rows = [r for r in results if r[0].startswith("workload-")]
if work_rows:
    slowest = min(work_rows, key=lambda r: mbps(r[1], r[2]))
    print(f"- ≥ 40 MB/s on workload-only streams: slowest {slowest[0]} at "
          f"{mbps(slowest[1], slowest[2]):.1f} MB/s, {verdict(mbps(slowest[1], slowest[2]) >= 40)}")
side = [r for r in results if r[4]]
if side:
    for label, index in (("whole kustomize process", 0), ("kustomize's in-process build", 1)):
        low = min(side, key=lambda r: r[4][index] / r[2])
        below = [r[0] for r in side if r[4][index] / r[2] < 50]
        print(f"- ≥ 50× {label}: lowest {low[4][index] / low[2]:.0f}× ({low[0]}), "
              f"{verdict(not below)}" + (f"; below 50× on {', '.join(below)}" if below else ""))
over = [r[0] for r in results if r[3] and r[3] > 3 * r[1] + 20 * MB]
print(f"- peak RSS ≤ 3× input + 20 MB: {verdict(not over)}" + (f" (over on {', '.join(over)})" if over else ""))
small = [r for r in results if r[1] <= 2048]
if small:
    worst = max(small, key=lambda r: r[2])
    print(f"- a 1 KB input in under 5 ms, process start included: at most {worst[2] * 1000:.1f} ms "
          f"({worst[0]}), {verdict(worst[2] < 0.005)}")
PY
)

printf '%s\n' "$table"

# `--resolve` against the local test registry behind a latency proxy (benches/resolve.rs).
resolve=$(cargo bench --locked --quiet --bench resolve 2>/dev/null || true)
if [[ -z $resolve ]]; then
  resolve="Not measured: the registry tools (docker-registry) were not available."
fi
printf '\n%s\n' "$resolve"

if [[ -n $update ]]; then
  python3 - "$update" "$table" "$resolve" <<'PY'
import sys
path, table, resolve = sys.argv[1:4]
text = open(path).read()

def put(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"

open(path, "w").write(put(put(text, "bench", table), "resolve", resolve))
PY
fi
