//! The router's watches and status writes: every GatewayClass, and the Gateways,
//! HTTPRoutes, Services and EndpointSlices of one namespace, kept in reflector caches; on
//! any change (debounced) [`program`] is run again, its routes handed to the gateway, and
//! every status that differs from the object's is written.
//!
//! Status writes are merge patches of the `status` subresource carrying the
//! `resourceVersion` the status was computed from, so a write that races another
//! controller's (HTTPRoute `parents` is an atomic list shared with them) fails with 409
//! and is recomputed from the newer object, never overwriting it.

use super::program::{Objects, Program, Status, program};
use futures_util::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Field manager of the status writes.
pub const FIELD_MANAGER: &str = "skipper-gateway";

pub struct RouterConfig {
    /// The namespace of the fleet's Gateway (the environment's namespace).
    pub namespace: String,
    /// The environment's GatewayClass (the only one this router reads: its ClusterRole
    /// names it, so the watch selects it by name).
    pub gateway_class: String,
    /// How long changes are gathered before the program is recomputed.
    pub debounce: Duration,
}

fn gateway_api(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn core(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

struct Watched {
    resource: ApiResource,
    api: Api<DynamicObject>,
    store: Store<DynamicObject>,
}

/// Watches until `shutdown` resolves, calling `serve` with each new program.
pub async fn run(
    client: kube::Client,
    config: RouterConfig,
    serve: impl Fn(&Program) + Send + Sync + 'static,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let changed = Arc::new(Notify::new());
    let ns = config.namespace.as_str();
    let kinds = [
        (gateway_api("GatewayClass", "gatewayclasses"), false),
        (gateway_api("Gateway", "gateways"), true),
        (gateway_api("HTTPRoute", "httproutes"), true),
        (core("", "v1", "Service", "services"), true),
        (core("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"), true),
    ];
    let mut watched = Vec::new();
    let mut tasks = Vec::new();
    for (resource, namespaced) in kinds {
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(client.clone(), ns, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        let writer = reflector::store::Writer::new(resource.clone());
        let store = writer.as_reader();
        let mut selection = watcher::Config::default();
        if !namespaced {
            selection = selection.fields(&format!("metadata.name={}", config.gateway_class));
        }
        let stream = watcher(api.clone(), selection).default_backoff().reflect(writer);
        let changed = changed.clone();
        let kind = resource.kind.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                if let Err(error) = event {
                    tracing::warn!(kind, %error, "watch failed; retrying with back-off");
                }
                changed.notify_one();
            }
        }));
        watched.push(Watched { resource, api, store });
    }
    let work = async {
        for w in &watched {
            if w.store.wait_until_ready().await.is_err() {
                return;
            }
        }
        loop {
            tokio::time::sleep(config.debounce).await;
            let objects = snapshot(&watched);
            let now = rfc3339_now();
            let program = program(&objects, &config.gateway_class, &now);
            serve(&program);
            for status in &program.statuses {
                write_status(&watched, status).await;
            }
            changed.notified().await;
        }
    };
    tokio::select! {
        _ = work => {}
        _ = shutdown => {}
    }
    for task in tasks {
        task.abort();
    }
}

fn snapshot(watched: &[Watched]) -> Objects {
    let values = |kind: &str| -> Vec<Value> {
        let w = watched
            .iter()
            .find(|w| w.resource.kind == kind)
            .expect("every kind is watched");
        let mut objects: Vec<Value> = w
            .store
            .state()
            .iter()
            .filter_map(|o| serde_json::to_value(&**o).ok())
            .collect();
        // Deterministic order: the program's output must not depend on the cache's.
        objects.sort_by_key(key);
        objects
    };
    Objects {
        gateway_classes: values("GatewayClass"),
        gateways: values("Gateway"),
        http_routes: values("HTTPRoute"),
        services: values("Service"),
        endpoint_slices: values("EndpointSlice"),
    }
}

fn key(v: &Value) -> (String, String) {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// Writes `status` when the cached object's differs; a conflict is left to the next round
/// (the newer object's watch event triggers it).
async fn write_status(watched: &[Watched], status: &Status) {
    let Some(w) = watched.iter().find(|w| w.resource.kind == status.kind) else {
        return;
    };
    let current =
        w.store.state().into_iter().find(|o| {
            o.metadata.name.as_deref() == Some(status.name.as_str()) && o.metadata.namespace == status.namespace
        });
    let Some(current) = current else { return };
    if current.data.get("status") == Some(&status.status) {
        return;
    }
    let api: Api<DynamicObject> = match &status.namespace {
        Some(ns) => Api::namespaced_with(w.api.clone().into_client(), ns, &w.resource),
        None => w.api.clone(),
    };
    let patch = json!({
        "apiVersion": w.resource.api_version,
        "kind": w.resource.kind,
        "metadata": { "resourceVersion": current.metadata.resource_version },
        "status": status.status,
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    match api.patch_status(&status.name, &params, &Patch::Merge(&patch)).await {
        Ok(_) => tracing::info!(kind = status.kind, name = status.name, "status written"),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::debug!(
                kind = status.kind,
                name = status.name,
                "status conflict; recomputing on the newer object"
            )
        }
        Err(error) => tracing::warn!(kind = status.kind, name = status.name, %error, "cannot write status"),
    }
}

/// The current time as RFC 3339 in UTC, to the second (a condition's `lastTransitionTime`).
fn rfc3339_now() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    now.round(k8s_openapi::jiff::Unit::Second).unwrap_or(now).to_string()
}
