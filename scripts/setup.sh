#!/usr/bin/env bash
# Installs what the tests and CI need besides a Rust toolchain, on Debian: system packages
# (as root, or via sudo) and cargo tools. Tests never install anything; `.ci/run` runs this.
#   bash scripts/setup.sh
set -euo pipefail

apt_install() {
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "need root (or sudo) to apt-get install $*" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev) # the linker rustc calls
command -v c++ >/dev/null || missing+=(g++)           # libFuzzer, for the fuzz targets
[[ -x /usr/bin/time ]] || missing+=(time)             # GNU time: peak RSS in tests/suite/hostile.rs
# Go and the YAML packages Kubernetes reads with, for k8s-yaml-view (the reference reader of the
# differential and fixture tests); tests never install anything themselves.
command -v go >/dev/null || missing+=(golang-go)
[[ -d /usr/share/gocode/src/sigs.k8s.io/yaml ]] || missing+=(golang-k8s-sigs-yaml-dev)
[[ -d /usr/share/gocode/src/gopkg.in/yaml.v2 ]] || missing+=(golang-gopkg-yaml.v2-dev)
# The registry tests: a real registry, htpasswd for Basic auth, openssl for TLS material, and
# strace to show that a plain render opens no socket.
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v openssl >/dev/null || missing+=(openssl)
command -v strace >/dev/null || missing+=(strace)
# The copy-list test copies between two registries with the real skopeo.
command -v skopeo >/dev/null || missing+=(skopeo)
command -v script >/dev/null || missing+=(bsdutils) # a pseudo-terminal for the progress bar test
# The Helm 4 tests (tests/suite/helm.rs) run Helm's own Go code from a Python wheel, in a
# virtualenv: Python 3 and its venv module (Debian keeps ensurepip in python3-venv).
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

# Helm v4.2.3 as a C library (libhelm_c.so in the helm-python-sdk wheel from PyPI; no Go, no
# helm binary), in the virtualenv where tests/common/helm.rs looks for it: target/helm-venv of
# this repository, or REIMAGE_HELM_VENV.
helm_sdk_version=0.2.2
helm_venv=${REIMAGE_HELM_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/helm-venv}
if ! "$helm_venv/bin/python" -c "import helm_python, sys; sys.exit(helm_python.__version__ != '$helm_sdk_version')" 2>/dev/null; then
  python3 -m venv --clear "$helm_venv"
  "$helm_venv/bin/python" -m pip install --quiet --disable-pip-version-check "helm-python-sdk==$helm_sdk_version"
fi
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo deny --version >/dev/null 2>&1 || cargo install cargo-deny --locked
