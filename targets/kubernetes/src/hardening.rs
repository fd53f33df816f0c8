//! How the engine's pod is locked down and kept available: what Pod Security Standards'
//! `restricted` level requires (kubernetes.io/docs/concepts/security/pod-security-standards:
//! non-root, no privilege escalation, every capability dropped, the RuntimeDefault seccomp
//! profile), a read-only root filesystem with a scratch `/tmp`, a pause before SIGTERM so
//! endpoints stop sending traffic first, and spreading for classes that run several pods.

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, Lifecycle, LifecycleHandler, PodSecurityContext, SeccompProfile,
    SecurityContext, SleepAction, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use skipper_compiler::model::ResolvedCapability;
use std::collections::BTreeMap;

/// The user and group the engine runs as. The engine's image (eclipse-temurin JRE on
/// Alpine, ENGINE-FACTS §1.9) declares no `USER`, so it would run as root; a kubelet
/// refuses `runAsNonRoot` without a numeric user when the image's is root. 65532 is the
/// conventional "nonroot" id of distroless images; the JVM needs no passwd entry.
pub const ENGINE_UID: i64 = 65532;

const SCRATCH_VOLUME: &str = "tmp";
/// The JVM writes its performance data and temporary files under `/tmp`.
const SCRATCH_MOUNT: &str = "/tmp";
/// Enough for the JVM's scratch files; the kubelet evicts a pod that exceeds it.
const SCRATCH_LIMIT: &str = "64Mi";
/// How long a terminating pod keeps serving before SIGTERM: long enough for endpoint
/// removal to reach kube-proxy, the meshes and the gateway (Kubernetes' own guidance for
/// graceful shutdown), short against the default 30 s grace period.
const DRAIN_SECONDS: i32 = 5;

pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(ENGINE_UID),
        run_as_group: Some(ENGINE_UID),
        // Mounted Secrets and ConfigMaps are group-readable by the engine's group.
        fs_group: Some(ENGINE_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

pub fn scratch_volume() -> Volume {
    Volume {
        name: SCRATCH_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(SCRATCH_LIMIT.into())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

pub fn scratch_mount() -> VolumeMount {
    VolumeMount {
        name: SCRATCH_VOLUME.into(),
        mount_path: SCRATCH_MOUNT.into(),
        ..VolumeMount::default()
    }
}

/// A `preStop` pause (the kubelet's built-in `sleep` action: no shell needed in the image).
pub fn lifecycle() -> Lifecycle {
    Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: i64::from(DRAIN_SECONDS),
            }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    }
}

/// For a capability that always runs more than one pod, spread them over nodes and zones
/// so one node or zone going down does not take the capability with it. `ScheduleAnyway`:
/// a small cluster still schedules every pod. `matchLabelKeys: [pod-template-hash]`
/// counts only the pods of the same revision, so a rolling update does not skew itself.
pub fn spread(cap: &ResolvedCapability, selector: &BTreeMap<String, String>) -> Option<Vec<TopologySpreadConstraint>> {
    let floor = cap
        .class
        .hpa
        .as_ref()
        .map_or(cap.replicas, |h| h.min_replicas.max(cap.replicas));
    (floor > 1).then(|| {
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
            .into_iter()
            .map(|key| TopologySpreadConstraint {
                max_skew: 1,
                topology_key: key.into(),
                when_unsatisfiable: "ScheduleAnyway".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(selector.clone()),
                    ..LabelSelector::default()
                }),
                match_label_keys: Some(vec!["pod-template-hash".into()]),
                ..TopologySpreadConstraint::default()
            })
            .collect()
    })
}
