//! The `ExternalSecret` of one bind: the operator reads the bind's path in its store and
//! writes the Secret the capability's pods take their environment from.

use crate::{API_VERSION, store_kind};
use serde_json::{Value, json};
use skipper_compiler::model::{BindSource, BindSpec, EnvContext, ResolvedCapability};
use skipper_compiler::naming;

/// How often the operator re-reads the provider (its own default, written out so the
/// rendered object says what it does, with `refreshPolicy: Periodic` and
/// `deletionPolicy: Retain`, the operator's defaults too: external-secrets CRD
/// `ExternalSecret`). A rotated value reaches the Secret within this time; pods read
/// their environment when they start.
pub const REFRESH_INTERVAL: &str = "1h";

/// `None` for a bind that reads an existing Secret: there is nothing to fetch.
pub fn external_secret(ctx: &EnvContext, cap: &ResolvedCapability, bind: &BindSpec) -> Option<Value> {
    let BindSource::Store { store, scope, path, .. } = &bind.source else {
        return None;
    };
    // One entry per provider key: the remote property the document's bind names, written
    // under the same key, which is the variable the Deployment sets and the engine reads.
    let data: Vec<Value> = bind
        .provider_keys()
        .into_iter()
        .map(|key| {
            json!({
                "secretKey": key,
                "remoteRef": { "key": path, "property": key },
            })
        })
        .collect();
    Some(json!({
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {
            "name": bind.secret_name(&cap.name),
            "namespace": ctx.namespace,
            "labels": naming::capability_labels(ctx, cap),
        },
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "refreshPolicy": "Periodic",
            "secretStoreRef": { "name": store, "kind": store_kind(*scope) },
            "target": {
                "name": bind.secret_name(&cap.name),
                // The operator owns the Secret (an owner reference): deleting the
                // ExternalSecret deletes it, and GitOps tools see it as the
                // ExternalSecret's child, not as an object to prune.
                "creationPolicy": "Owner",
                // A value deleted in the provider leaves the last Secret in place: pods
                // that restart still start, and the ExternalSecret reports the error.
                // `Delete` would take every pod that restarts down with it.
                "deletionPolicy": "Retain",
            },
            "data": data,
        },
    }))
}
