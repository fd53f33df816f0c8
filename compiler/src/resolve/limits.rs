//! Limits of the systems the output goes to, checked where the manifest or document can
//! still be pointed at.

use crate::capdoc::CapabilityDocument;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::DeployedDocument;

/// The most a ConfigMap's values may add up to: the API server refuses more
/// (k8s.io/kubernetes pkg/apis/core/validation `ValidateConfigMap`, against
/// `core.MaxSecretSize`, 1 MiB). `driver/tests/limits.rs` checks it on the real one.
pub const CONFIGMAP_DATA_LIMIT: usize = 1024 * 1024;

/// The capability's deployed document and its imports go into one ConfigMap: refuse a
/// document that would not fit, once per document version (not per environment).
pub(super) fn check_configmap_size(
    name: &str,
    doc: &CapabilityDocument,
    deployed: &DeployedDocument,
    diags: &mut Diagnostics,
) -> bool {
    let total: usize = deployed.files.iter().map(|f| f.content.len()).sum();
    if total <= CONFIGMAP_DATA_LIMIT {
        return true;
    }
    let largest = deployed.files.iter().max_by_key(|f| f.content.len());
    let kib = |bytes: usize| bytes.div_ceil(1024);
    let count = deployed.files.len();
    let mut help = format!(
        "the ConfigMap holds the deployed document and every file it imports ({count} file{}",
        if count == 1 { "" } else { "s" }
    );
    if let Some(file) = largest {
        help.push_str(&format!(
            "; the largest is `{}`, {} KiB",
            file.path,
            kib(file.content.len())
        ));
    }
    help.push_str("): move bulky content such as long mock outputs out of the document, or split the capability");
    diags.push(
        Diagnostic::error(
            "skipper::configmap-too-large",
            format!(
                "the deployed document of `{name}` is {} KiB, and Kubernetes refuses a ConfigMap over {} KiB: it would never be applied",
                kib(total),
                kib(CONFIGMAP_DATA_LIMIT)
            ),
        )
        .label(doc.capability_span, "this document, with its imports, does not fit in one ConfigMap")
        .help(help),
    );
    false
}
