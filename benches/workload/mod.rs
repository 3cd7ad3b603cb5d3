//! A reproducible generator of workload-heavy Helm output, for benchmarks: Deployments,
//! StatefulSets and CronJobs with several containers each, realistic labels, env, args, probes,
//! volumes and a few hard-coded pull secrets, every document under a `# Source:` line.
//!
//! The same seed and size always give the same bytes (a small xorshift generator, no
//! dependency). Used by `benches/stages.rs` and by `examples/gen-stream.rs`, which
//! `scripts/bench.sh` runs; reimage itself never needs it.
#![allow(
    clippy::indexing_slicing,
    reason = "a benchmark generator; every index is taken modulo its constant table's length"
)]

use std::fmt::Write;

/// Images the containers pull: several registries, with and without tags and digests, in the
/// three quoting styles a chart may use.
const IMAGES: &[&str] = &[
    "nginx:1.25.3",
    "docker.io/library/redis:7.2.4-alpine",
    "\"docker.io/bitnami/postgresql:16.1.0-debian-11-r15\"",
    "quay.io/prometheus/node-exporter:v1.7.0",
    "'quay.io/prometheus/prometheus:v2.48.1'",
    "registry.k8s.io/ingress-nginx/controller:v1.9.5",
    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.10.1",
    "ghcr.io/fluxcd/source-controller:v1.2.4",
    "ghcr.io/external-secrets/external-secrets:v0.9.11",
    "gcr.io/distroless/static:nonroot",
    "busybox",
    "\"public.ecr.aws/aws-observability/aws-otel-collector:v0.36.0\"",
    "grafana/grafana:10.2.3",
    "grafana/loki:2.9.3",
    "docker.io/envoyproxy/envoy:v1.28.0",
    "istio/proxyv2:1.20.2",
    "quay.io/jetstack/cert-manager-controller:v1.13.3",
    "mcr.microsoft.com/oss/kubernetes/pause:3.9",
    "registry.example.com:5000/team/batch-runner:2024.01.15",
    "docker.io/curlimages/curl@sha256:4bfa3e2c0164fb103fb9bfd4dc956facce32b6c5d47cc09fcec883ce9535d5ac",
    "quay.io/keycloak/keycloak:23.0.4",
    "'bitnami/kubectl:1.29.0'",
];

const SIDECARS: &[&str] = &[
    "envoy",
    "log-shipper",
    "metrics",
    "config-reloader",
    "oauth-proxy",
];

const KINDS: &[(&str, &str)] = &[
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("CronJob", "batch/v1"),
];

/// A deterministic pseudo-random source (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        while out.len() < len {
            let _ = write!(out, "{:016x}", self.next());
        }
        out.truncate(len);
        out
    }
}

/// A stream of at least `bytes` bytes (it ends after the document that crosses the size).
pub fn stream(bytes: usize, seed: u64) -> String {
    let mut random = Random(seed.max(1));
    let mut out = String::with_capacity(bytes + 8192);
    let mut index = 0;
    while out.len() < bytes {
        document(&mut out, &mut random, index);
        index += 1;
    }
    out
}

fn document(out: &mut String, random: &mut Random, index: usize) {
    let (kind, api_version) = KINDS[index % KINDS.len()];
    let name = format!("svc-{index:05}");
    let namespace = format!("team-{}", index % 7);
    let _ = write!(
        out,
        "---\n# Source: bench/templates/{}-{index}.yaml\n\
         apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n",
        kind.to_lowercase()
    );
    labels(out, "    ", &name);
    let _ = writeln!(
        out,
        "  annotations:\n    checksum/config: {}",
        random.hex(64)
    );
    // Where the pod spec sits, and its indentation.
    let pod = match kind {
        "CronJob" => {
            let _ = write!(
                out,
                "spec:\n  schedule: \"*/{} * * * *\"\n  concurrencyPolicy: Forbid\n  successfulJobsHistoryLimit: 3\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        metadata:\n          labels:\n",
                5 + index % 50
            );
            labels(out, "            ", &name);
            out.push_str("        spec:\n          restartPolicy: OnFailure\n");
            "          "
        }
        _ => {
            let _ = write!(out, "spec:\n  replicas: {}\n", 1 + random.below(5));
            if kind == "StatefulSet" {
                let _ = writeln!(
                    out,
                    "  serviceName: {name}-headless\n  podManagementPolicy: Parallel"
                );
            }
            out.push_str("  selector:\n    matchLabels:\n");
            let _ = writeln!(out, "      app.kubernetes.io/name: {name}");
            out.push_str("  template:\n    metadata:\n      labels:\n");
            labels(out, "        ", &name);
            let _ = writeln!(
                out,
                "      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"9090\"\n    spec:"
            );
            "      "
        }
    };
    pod_spec(out, random, pod, &name);
    if kind == "StatefulSet" {
        out.push_str(
            "  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [\"ReadWriteOnce\"]\n      resources:\n        requests:\n          storage: 10Gi\n",
        );
    }
}

fn labels(out: &mut String, indent: &str, name: &str) {
    let _ = write!(
        out,
        "{indent}app.kubernetes.io/name: {name}\n{indent}app.kubernetes.io/instance: bench\n\
         {indent}app.kubernetes.io/version: \"1.4.2\"\n{indent}app.kubernetes.io/managed-by: Helm\n\
         {indent}helm.sh/chart: bench-1.4.2\n"
    );
}

fn pod_spec(out: &mut String, random: &mut Random, at: &str, name: &str) {
    let _ = write!(
        out,
        "{at}serviceAccountName: {name}\n{at}securityContext:\n{at}  runAsNonRoot: true\n\
         {at}  runAsUser: 10001\n{at}  fsGroup: 10001\n{at}  seccompProfile:\n{at}    type: RuntimeDefault\n"
    );
    if random.below(4) == 0 {
        let _ = write!(out, "{at}imagePullSecrets:\n{at}- name: legacy-registry\n");
    }
    if random.below(3) == 0 {
        let _ = writeln!(out, "{at}initContainers:");
        container(out, random, at, "wait-for-db", 0);
    }
    let _ = writeln!(out, "{at}containers:");
    let env = 6 + random.below(10);
    container(out, random, at, "app", env);
    let first = random.below(SIDECARS.len());
    for i in 0..random.below(4) {
        let sidecar = SIDECARS[(first + i) % SIDECARS.len()];
        let env = 1 + random.below(4);
        container(out, random, at, sidecar, env);
    }
    let _ = write!(
        out,
        "{at}volumes:\n{at}- name: config\n{at}  configMap:\n{at}    name: {name}-config\n\
         {at}- name: tls\n{at}  secret:\n{at}    secretName: {name}-tls\n\
         {at}    defaultMode: 0440\n{at}- name: tmp\n{at}  emptyDir: {{}}\n"
    );
}

fn container(out: &mut String, random: &mut Random, at: &str, name: &str, env: usize) {
    let image = random.pick(IMAGES);
    let _ = write!(
        out,
        "{at}- name: {name}\n{at}  image: {image}\n{at}  imagePullPolicy: IfNotPresent\n"
    );
    if env == 0 {
        let _ = writeln!(
            out,
            "{at}  command: [\"sh\", \"-c\", \"until nc -z db 5432; do sleep 1; done\"]"
        );
        return;
    }
    let _ = write!(
        out,
        "{at}  args:\n{at}  - --port=8080\n{at}  - --log-level=info\n{at}  - --metrics-addr=:9090\n\
         {at}  - --config=/etc/{name}/config.yaml\n{at}  env:\n"
    );
    for i in 0..env {
        match i % 4 {
            0 => {
                let _ = write!(
                    out,
                    "{at}  - name: POD_NAME_{i}\n{at}    valueFrom:\n{at}      fieldRef:\n{at}        fieldPath: metadata.name\n"
                );
            }
            1 => {
                let _ = write!(
                    out,
                    "{at}  - name: FEATURE_FLAG_{i}\n{at}    value: \"{}\"\n",
                    ["true", "false"][random.below(2)]
                );
            }
            2 => {
                let _ = write!(
                    out,
                    "{at}  - name: DATABASE_PASSWORD_{i}\n{at}    valueFrom:\n{at}      secretKeyRef:\n{at}        name: db-credentials\n{at}        key: password\n"
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "{at}  - name: SERVICE_URL_{i}\n{at}    value: http://svc-{}.team-{}.svc.cluster.local:8080/api/v1\n",
                    random.below(1000),
                    random.below(7)
                );
            }
        }
    }
    let _ = write!(
        out,
        "{at}  ports:\n{at}  - name: http\n{at}    containerPort: 8080\n{at}    protocol: TCP\n\
         {at}  resources:\n{at}    requests: {{cpu: 100m, memory: 128Mi}}\n{at}    limits: {{memory: 512Mi}}\n\
         {at}  readinessProbe:\n{at}    httpGet:\n{at}      path: /healthz\n{at}      port: http\n\
         {at}    periodSeconds: 10\n{at}  volumeMounts:\n{at}  - name: config\n{at}    mountPath: /etc/{name}\n\
         {at}    readOnly: true\n{at}  - name: tmp\n{at}    mountPath: /tmp\n"
    );
}
