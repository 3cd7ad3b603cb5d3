"""Runs one `helm install` with Helm 4's own Go code, for the tests in `tests/suite/helm.rs`.

The helm-python-sdk wheel ships `libhelm_c.so`, Helm v4's action package built as a C library.
Its `helm_install` takes the same options as the helm CLI, `post_renderer`,
`post_renderer_args` and `post_render_strategy` among them, and finds post-renderer plugins
under `$HELM_PLUGINS` as the CLI does. The wheel's `Config.install` has no parameters for them,
so this calls the native function through the wheel's declaration table (`helm_python._native`,
pinned to 0.2.2) with the options JSON given.

    python install.py --version      prints {"c": ..., "sdk": ...}: the wheel loads
    python install.py < request.json  prints the result

The request: `{"chart": DIR, "release": NAME, "namespace": NS, "values": {...}, "options":
{...}, "cluster": BOOL}`, where `options` is `helm_install`'s options JSON as it is. Without
`cluster`, give `"dry_run": "client"`: nothing is contacted and the result has the manifest but
no hooks. With `"cluster": true`, Helm talks to the stand-in of `apiserver.py` and keeps the
release in its memory storage driver; the stored release is read back (`helm get`), hooks
included, and the objects Helm applied are returned too.

The result: `{"helm": {"c", "sdk"}, "release": {... "manifest"} | null, "hooks": [{"name",
"kind", "path", "manifest", ...}] | null, "applied": [objects] | null, "error": {"type", "code",
"message"} | null}`. The exit status is 0 whenever Helm answered, with a release or an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import helm_python
from helm_python import _native

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver import ApiServer  # noqa: E402 (after the path that finds it)


def versions() -> dict[str, str]:
    """The versions of the C library and of the Helm Go SDK inside it."""
    return {"c": helm_python.helm_c_version(), "sdk": helm_python.helm_sdk_version()}


def install(config: helm_python.Config, request: dict[str, Any]) -> dict[str, Any]:
    """`helm_install` on a chart directory: the release summary, with its manifest."""
    values = request.get("values")
    payload = _native.call_string(
        "helm_install",
        config._raw(),
        _native.HANDLE(0),  # no cancellation context
        _native.HANDLE(0),  # no loaded chart: the path below
        request["chart"],
        request["release"],
        None if values is None else json.dumps(values),
        json.dumps(request.get("options", {})),
    )
    summary: dict[str, Any] = json.loads(payload)
    return summary


def run(request: dict[str, Any]) -> dict[str, Any]:
    """The install the request asks for, and what Helm gave back."""
    namespace = request.get("namespace", "default")
    result: dict[str, Any] = {"helm": versions(), "release": None, "hooks": None,
                              "applied": None, "error": None}
    server = ApiServer() if request.get("cluster") else None
    try:
        if server is None:
            config = helm_python.Config(namespace=namespace)
        else:
            config = helm_python.Config(kubeconfig_content=server.kubeconfig(namespace),
                                        namespace=namespace, storage_driver="memory")
        with config:
            result["release"] = install(config, request)
            if server is not None:
                stored = config.get_all(request["release"])
                result["release"] = stored["summary"]
                result["hooks"] = stored.get("hooks") or []
    except helm_python.HelmError as error:
        result["error"] = {"type": type(error).__name__, "code": error.code, "message": str(error)}
    finally:
        if server is not None:
            result["applied"] = server.applied
            server.shutdown()
    return result


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        json.dump(versions(), sys.stdout)
        return
    json.dump(run(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
