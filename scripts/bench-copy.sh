#!/usr/bin/env bash
# Copy throughput: `reimage mirror` against `skopeo copy --all --preserve-digests`, the same
# images between local registries in the same run. Starts Debian `docker-registry` instances
# on 127.0.0.1 (a source, and per run one fresh destination per tool), fills the source with
# IMAGES images of LAYERS incompressible layers of MB megabytes each (built as an OCI layout
# and pushed with skopeo), then times each tool copying all of them, cold (empty
# destination) and warm (everything there already), RUNS times, for the median and the
# range. Prints a Markdown table; with `--update FILE` it replaces the table between the
# copy-bench markers in FILE.
#
#   scripts/bench-copy.sh [--update BENCHMARKS.md]   (IMAGES=4 LAYERS=3 MB=16 RUNS=5 by default)
#
# Needs docker-registry, skopeo, python3 (bash scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

update=""
if [[ "${1:-}" == "--update" ]]; then update="$2"; fi
images=${IMAGES:-4}
layers=${LAYERS:-3}
mb=${MB:-16}
runs=${RUNS:-5}

work=$(mktemp -d)
cleanup() { # start_registry runs in a subshell, so the pids are kept in a file
  if [[ -f "$work/pids" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # name -> prints host:port
  local name=$1 port
  port=$(free_port)
  mkdir -p "$work/$name"
  cat >"$work/$name/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/$name/data}}
http: {addr: '127.0.0.1:$port', secret: bench}
EOF
  docker-registry serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
  echo $! >>"$work/pids"
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  echo "127.0.0.1:$port"
}

cargo build --release --locked --bin reimage >/dev/null 2>&1
reimage=${CARGO_TARGET_DIR:-$PWD/target}/release/reimage

source=$(start_registry source)

# The images, as an OCI layout written by python (random layers, so nothing compresses or
# deduplicates), pushed to the source with skopeo.
python3 - "$work/layout" "$images" "$layers" "$mb" <<'EOF'
import hashlib, json, os, sys
root, images, layers, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
entries = []
for i in range(images):
    descs = [dict(put(os.urandom(mb << 20)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip") for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Labels": {"n": str(i)}}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(put(config), mediaType="application/vnd.oci.image.config.v1+json"), "layers": descs}).encode()
    entry = dict(put(manifest), mediaType="application/vnd.oci.image.manifest.v1+json")
    entry["annotations"] = {"org.opencontainers.image.ref.name": f"img{i}"}
    entries.append(entry)
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
with open(os.path.join(root, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
EOF
stream=""
for i in $(seq 0 $((images - 1))); do
  skopeo copy --insecure-policy --quiet --dest-tls-verify=false \
    "oci:$work/layout:img$i" "docker://$source/bench/img$i:1"
  stream+="---
apiVersion: v1
kind: Pod
metadata: {name: p$i}
spec:
  containers: [{name: c, image: $source/bench/img$i:1}]
"
done
printf '%s' "$stream" >"$work/stream.yaml"
total_mb=$((images * layers * mb))
now() { date +%s.%N; }

# Each run copies into two new registries, so it starts cold for both tools (skopeo's blob
# cache, which remembers where it saw blobs and mounts them, knows nothing of a new
# registry); the two take turns going first.
copy_skopeo() { # run
  for i in $(seq 0 $((images - 1))); do
    skopeo copy --insecure-policy --quiet --all --preserve-digests \
      --src-tls-verify=false --dest-tls-verify=false \
      "docker://$source/bench/img$i:1" "docker://$to_skopeo/run$1/bench/img$i:1" &
  done
  wait
}
copy_reimage() { # run
  printf 'version: 1\nregistries: [{from: "%s", to: "%s/run%s"}]\n' "$source" "$to_reimage" "$1" >"$work/rules.yaml"
  (cd "$work" && "$reimage" --quiet --rules rules.yaml mirror -o lock.yaml <stream.yaml)
}
timed() { # command run -> appends "cold warm" seconds to $work/$command.times
  local a b c
  a=$(now); "$1" "$2"; b=$(now); "$1" "$2"; c=$(now)
  python3 -c "print(f'{$b - $a:.3f} {$c - $b:.3f}')" >>"$work/$1.times"
}
for k in $(seq "$runs"); do
  to_skopeo=$(start_registry "skopeo$k")
  to_reimage=$(start_registry "reimage$k")
  if ((k % 2)); then timed copy_skopeo "$k"; timed copy_reimage "$k"
  else timed copy_reimage "$k"; timed copy_skopeo "$k"; fi
done
median() { # file column -> the median, and the range
  python3 - "$1" "$2" <<'EOF2'
import statistics, sys
values = sorted(float(line.split()[int(sys.argv[2])]) for line in open(sys.argv[1]))
print(f"{statistics.median(values):.2f} ({values[0]:.2f}–{values[-1]:.2f})")
EOF2
}
s_cold=$(median "$work/copy_skopeo.times" 0); s_warm=$(median "$work/copy_skopeo.times" 1)
r_cold=$(median "$work/copy_reimage.times" 0); r_warm=$(median "$work/copy_reimage.times" 1)
rate() { python3 -c "print(f'{$total_mb / ${1%% *}:.0f}')"; }

skopeo_version=$(skopeo --version | awk '{print $3}')
table="Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores; reimage at $(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty), skopeo $skopeo_version; $images images of $layers layers of $mb MB ($total_mb MB), from one docker-registry instance to a fresh one per tool and run, all on 127.0.0.1 (filesystem storage); skopeo runs one process per image, all at once; reimage one process, --parallel 8; median (and range) of $runs runs.

| tool | cold s | cold MB/s (median) | warm s (all there) |
|---|---:|---:|---:|
| skopeo copy --all --preserve-digests | $s_cold | $(rate "$s_cold") | $s_warm |
| reimage mirror | $r_cold | $(rate "$r_cold") | $r_warm |"

if [[ -n "$update" ]]; then
  python3 - "$update" "$table" <<'EOF'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- copy-bench:begin -->", "<!-- copy-bench:end -->"
if begin in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + begin + "\n" + table + "\n" + end + tail
else:
    text += "\n## Copying images\n\nWritten by `scripts/bench-copy.sh --update BENCHMARKS.md`.\n\n" + begin + "\n" + table + "\n" + end + "\n"
open(path, "w").write(text)
EOF
fi
echo "$table"
