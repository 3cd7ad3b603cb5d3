#!/usr/bin/env bash
# Builds reimage from source and installs it as bin/reimage, where plugin.yaml runs it.
# Helm runs this as the plugin's install and update hook with HELM_PLUGIN_DIR set;
# run by hand, it builds the repository it belongs to.
set -euo pipefail

repo=${HELM_PLUGIN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

if ! command -v cargo >/dev/null 2>&1; then
  cat >&2 <<MSG
reimage: cannot build the plugin: 'cargo' is not on PATH.
Install the Rust toolchain (https://rustup.rs), then run:
  $repo/scripts/install-plugin.sh
MSG
  exit 1
fi

cd "$repo"
echo "reimage: building the release binary in $repo (cargo build --release --locked)" >&2
cargo build --release --locked

target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p bin
install -m 0755 "$target_dir/release/reimage" bin/reimage.tmp
mv -f bin/reimage.tmp bin/reimage
echo "reimage: installed $repo/bin/reimage" >&2
