"""A Kubernetes API server stand-in on loopback, just enough for `helm install` to store a release.

Helm 4 asks it for the server version and API discovery, looks up each resource it is about to
create (none exists: 404), then applies each one with server-side apply (PATCH). Every object it
applies is kept in `applied`, in order, and answered as created. It serves the kinds of
`testdata/charts/` and nothing else; release records stay in Helm's memory storage driver, so no
Secret is ever written here. Watches, lists and deletes are not served: the tests install with
`disable_hooks`, so Helm runs no hook and waits for nothing.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Resource lists by group version: (plural, kind, namespaced).
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("namespaces", "Namespace", False),
        ("pods", "Pod", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
    ],
    "apps/v1": [
        ("daemonsets", "DaemonSet", True),
        ("deployments", "Deployment", True),
        ("statefulsets", "StatefulSet", True),
    ],
    "batch/v1": [("jobs", "Job", True)],
    "ceph.rook.io/v1": [("cephclusters", "CephCluster", True)],
}

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def resource_list(group_version: str) -> dict[str, Any]:
    """The discovery document of one group version."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
             "kind": kind, "verbs": VERBS}
            for plural, kind, namespaced in RESOURCES[group_version]
        ],
    }


def group_list() -> dict[str, Any]:
    """The discovery document of every named group (all but the core `v1`)."""
    groups = []
    for group_version in RESOURCES:
        if "/" not in group_version:
            continue
        name, version = group_version.split("/")
        entry = {"groupVersion": group_version, "version": version}
        groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class Handler(BaseHTTPRequestHandler):
    """Answers discovery, says every object is absent, and records what is applied."""

    protocol_version = "HTTP/1.1"
    server: "ApiServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        """Keeps the test's standard error for the driver's own messages."""

    def reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self) -> None:
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "reason": "NotFound", "code": 404, "message": "not found"})

    def do_GET(self) -> None:  # noqa: N802 (the base's name)
        path = self.path.split("?")[0]
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            return self.reply(200, group_list())
        if path == "/api/v1":
            return self.reply(200, resource_list("v1"))
        named = re.fullmatch(r"/apis/([^/]+/[^/]+)", path)
        if named and named.group(1) in RESOURCES:
            return self.reply(200, resource_list(named.group(1)))
        return self.not_found()

    def do_PATCH(self) -> None:  # noqa: N802
        self.create()

    def do_POST(self) -> None:  # noqa: N802
        self.create()

    def create(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        obj = json.loads(self.rfile.read(length))
        with self.server.lock:
            self.server.applied.append(json.loads(json.dumps(obj)))
            serial = len(self.server.applied)
        obj.setdefault("metadata", {}).update({"uid": f"uid-{serial}", "resourceVersion": str(serial)})
        self.reply(201, obj)


class ApiServer(ThreadingHTTPServer):
    """The stand-in, serving from a thread on an ephemeral loopback port."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.applied: list[dict[str, Any]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def kubeconfig(self, namespace: str) -> str:
        """A kubeconfig that points at this server over plain http."""
        port = self.server_address[1]
        return json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "stand-in", "user": {"token": "stand-in"}}],
            "contexts": [{"name": "stand-in", "context": {
                "cluster": "stand-in", "user": "stand-in", "namespace": namespace}}],
            "current-context": "stand-in",
        })
