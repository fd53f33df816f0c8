//! The capability's mTLS certificate in its pod, where no mesh provides mutual TLS:
//! the Secret cert-manager keeps current (the mtls target's Certificate), mounted
//! read-only at `naming::TLS_MOUNT` as `tls.crt`, `tls.key` and `ca.crt`.
//!
//! A Secret volume (not `subPath`) so the kubelet swaps in each renewed certificate and
//! key without a restart. The pod does not start before cert-manager has issued the
//! first certificate: it never runs without one. The Ikanos engine has no TLS settings
//! today, so nothing in the document points at these files yet (see the book).

use k8s_openapi::api::core::v1::{SecretVolumeSource, Volume, VolumeMount};
use skipper_compiler::model::ResolvedCapability;
use skipper_compiler::naming::{TLS_MOUNT, tls_secret};

const TLS_VOLUME: &str = "mtls";

/// `None` with a mesh (`cap.mtls` is `None` there).
pub fn volume(cap: &ResolvedCapability) -> Option<Volume> {
    cap.mtls.as_ref()?;
    Some(Volume {
        name: TLS_VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(tls_secret(&cap.name)),
            optional: Some(false),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    })
}

pub fn mount(cap: &ResolvedCapability) -> Option<VolumeMount> {
    cap.mtls.as_ref()?;
    Some(VolumeMount {
        name: TLS_VOLUME.into(),
        mount_path: TLS_MOUNT.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    })
}
