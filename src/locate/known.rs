//! Well-known custom resources and where their images are, as data.
//!
//! Each row: the API group, the kinds, what the path leads to, and the path. Rules can add more
//! rows with `paths:`; custom resources that embed a pod spec are also found without a row (see
//! the structural search in the walker).

use Target::{Image, PodSpec};

/// Where a row's path leads, in the location table and here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A string that is an image reference.
    Image,
    /// A pod spec: its containers, init containers, ephemeral containers and image volumes.
    PodSpec,
}

/// (group, kinds, target, path)
pub const CUSTOM_RESOURCES: &[(&str, &[&str], Target, &str)] = &[
    // Prometheus operator: the spec is pod-spec-like (containers, initContainers, imagePullSecrets).
    (MONITORING, PROMETHEUS_KINDS, PodSpec, "spec"),
    (MONITORING, PROMETHEUS_KINDS, Image, "spec.image"),
    (MONITORING, &["Prometheus"], Image, "spec.thanos.image"),
    // Rook
    (
        "ceph.rook.io",
        &["CephCluster"],
        Image,
        "spec.cephVersion.image",
    ),
    ("ceph.rook.io", &["CephNFS"], Image, "spec.server.image"),
    // Strimzi
    (STRIMZI, &["Kafka"], Image, "spec.kafka.image"),
    (STRIMZI, &["Kafka"], Image, "spec.zookeeper.image"),
    (
        STRIMZI,
        &["Kafka"],
        Image,
        "spec.entityOperator.topicOperator.image",
    ),
    (
        STRIMZI,
        &["Kafka"],
        Image,
        "spec.entityOperator.userOperator.image",
    ),
    (
        STRIMZI,
        &["Kafka"],
        Image,
        "spec.entityOperator.tlsSidecar.image",
    ),
    (STRIMZI, &["Kafka"], Image, "spec.cruiseControl.image"),
    (STRIMZI, &["Kafka"], Image, "spec.kafkaExporter.image"),
    (
        STRIMZI,
        &[
            "KafkaConnect",
            "KafkaMirrorMaker2",
            "KafkaBridge",
            "KafkaMirrorMaker",
        ],
        Image,
        "spec.image",
    ),
    (
        STRIMZI,
        &["KafkaNodePool"],
        Image,
        "spec.template.kafkaContainer.image",
    ),
    // CloudNativePG
    ("postgresql.cnpg.io", &["Cluster"], Image, "spec.imageName"),
    (
        "postgresql.cnpg.io",
        &["Pooler"],
        PodSpec,
        "spec.template.spec",
    ),
    (
        "postgresql.cnpg.io",
        &["ImageCatalog", "ClusterImageCatalog"],
        Image,
        "spec.images[].image",
    ),
    // Argo Workflows: every template kind, at the top and inside a CronWorkflow.
    (
        ARGO,
        WORKFLOW_KINDS,
        Image,
        "spec.templates[].container.image",
    ),
    (ARGO, WORKFLOW_KINDS, Image, "spec.templates[].script.image"),
    (
        ARGO,
        WORKFLOW_KINDS,
        Image,
        "spec.templates[].containerSet.containers[].image",
    ),
    (
        ARGO,
        WORKFLOW_KINDS,
        Image,
        "spec.templates[].sidecars[].image",
    ),
    (
        ARGO,
        WORKFLOW_KINDS,
        Image,
        "spec.templates[].initContainers[].image",
    ),
    (
        ARGO,
        &["CronWorkflow"],
        Image,
        "spec.workflowSpec.templates[].container.image",
    ),
    (
        ARGO,
        &["CronWorkflow"],
        Image,
        "spec.workflowSpec.templates[].script.image",
    ),
    (
        ARGO,
        &["CronWorkflow"],
        Image,
        "spec.workflowSpec.templates[].containerSet.containers[].image",
    ),
    (
        ARGO,
        &["CronWorkflow"],
        Image,
        "spec.workflowSpec.templates[].sidecars[].image",
    ),
    (
        ARGO,
        &["CronWorkflow"],
        Image,
        "spec.workflowSpec.templates[].initContainers[].image",
    ),
    // Argo Rollouts
    (ARGO, &["Rollout"], PodSpec, "spec.template.spec"),
    // Tekton
    (
        TEKTON,
        &["Task", "ClusterTask"],
        Image,
        "spec.steps[].image",
    ),
    (
        TEKTON,
        &["Task", "ClusterTask"],
        Image,
        "spec.sidecars[].image",
    ),
    (
        TEKTON,
        &["Task", "ClusterTask"],
        Image,
        "spec.stepTemplate.image",
    ),
    (TEKTON, &["TaskRun"], Image, "spec.taskSpec.steps[].image"),
    (
        TEKTON,
        &["TaskRun"],
        Image,
        "spec.taskSpec.sidecars[].image",
    ),
    (
        TEKTON,
        &["TaskRun"],
        Image,
        "spec.taskSpec.stepTemplate.image",
    ),
    (
        TEKTON,
        &["Pipeline"],
        Image,
        "spec.tasks[].taskSpec.steps[].image",
    ),
    (
        TEKTON,
        &["Pipeline"],
        Image,
        "spec.finally[].taskSpec.steps[].image",
    ),
    (
        TEKTON,
        &["PipelineRun"],
        Image,
        "spec.pipelineSpec.tasks[].taskSpec.steps[].image",
    ),
    (
        TEKTON,
        &["PipelineRun"],
        Image,
        "spec.pipelineSpec.finally[].taskSpec.steps[].image",
    ),
    (TEKTON, &["StepAction"], Image, "spec.image"),
    // Knative
    (
        "serving.knative.dev",
        &["Service", "Configuration"],
        PodSpec,
        "spec.template.spec",
    ),
    ("serving.knative.dev", &["Revision"], PodSpec, "spec"),
    (
        "caching.internal.knative.dev",
        &["Image"],
        Image,
        "spec.image",
    ),
    // Spark operator
    (SPARK, &["SparkApplication"], Image, "spec.image"),
    (SPARK, &["SparkApplication"], Image, "spec.driver.image"),
    (SPARK, &["SparkApplication"], Image, "spec.executor.image"),
    (
        SPARK,
        &["ScheduledSparkApplication"],
        Image,
        "spec.template.image",
    ),
    (
        SPARK,
        &["ScheduledSparkApplication"],
        Image,
        "spec.template.driver.image",
    ),
    (
        SPARK,
        &["ScheduledSparkApplication"],
        Image,
        "spec.template.executor.image",
    ),
    // GitHub Actions Runner Controller
    (
        "actions.summerwind.dev",
        &["RunnerDeployment", "RunnerReplicaSet"],
        Image,
        "spec.template.spec.image",
    ),
    (
        "actions.summerwind.dev",
        &["RunnerDeployment", "RunnerReplicaSet"],
        Image,
        "spec.template.spec.dockerdContainerImage",
    ),
    ("actions.summerwind.dev", &["Runner"], Image, "spec.image"),
    (
        "actions.summerwind.dev",
        &["RunnerSet"],
        PodSpec,
        "spec.template.spec",
    ),
    (
        "actions.github.com",
        &["AutoscalingRunnerSet", "EphemeralRunnerSet"],
        PodSpec,
        "spec.template.spec",
    ),
    // Crossplane packages are OCI images too.
    (
        "pkg.crossplane.io",
        &["Provider", "Configuration", "Function"],
        Image,
        "spec.package",
    ),
    (
        "pkg.crossplane.io",
        &["DeploymentRuntimeConfig"],
        PodSpec,
        "spec.deploymentTemplate.spec.template.spec",
    ),
    (
        "pkg.crossplane.io",
        &["ControllerConfig"],
        Image,
        "spec.image",
    ),
];

const MONITORING: &str = "monitoring.coreos.com";
const PROMETHEUS_KINDS: &[&str] = &[
    "Prometheus",
    "PrometheusAgent",
    "Alertmanager",
    "ThanosRuler",
];
const STRIMZI: &str = "kafka.strimzi.io";
const ARGO: &str = "argoproj.io";
const WORKFLOW_KINDS: &[&str] = &["Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"];
const TEKTON: &str = "tekton.dev";
const SPARK: &str = "sparkoperator.k8s.io";

/// Groups whose resources describe images without pulling them (policy patterns, templates):
/// the structural search does not look inside them.
pub const DESCRIBING_GROUPS: &[&str] = &[
    "kyverno.io",
    "policies.kyverno.io",
    "templates.gatekeeper.sh",
    "constraints.gatekeeper.sh",
    "mutations.gatekeeper.sh",
    "admissionregistration.k8s.io",
];

/// Where a well-known operator keeps an image in a string whose name does not say "image".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringPlace {
    /// A container argument: `--name=ref`, or `--name` then `ref`.
    Flag,
    /// A key of the `data` of the ConfigMap whose name ends with this.
    ConfigMap(&'static str),
}

/// Names of strings that hold images although they do not say "image", so that their values
/// are rewritten even without a registry in them. Names that say "image" (`*_IMAGE`,
/// `--*-image`) need no row.
pub const IMAGE_STRINGS: &[(StringPlace, &str)] = &[
    // prometheus-operator: the sidecar of every Prometheus and Alertmanager pod.
    (StringPlace::Flag, "prometheus-config-reloader"),
    // Rook: the images the CSI operator runs.
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "provisioner"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "attacher"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "resizer"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "snapshotter"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "registrar"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "plugin"),
    (StringPlace::ConfigMap(ROOK_CSI_IMAGE_SET), "addons"),
];

const ROOK_CSI_IMAGE_SET: &str = "rook-csi-operator-image-set-configmap";
