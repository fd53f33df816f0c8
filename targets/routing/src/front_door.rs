//! The fleet's front door: `skipper-gateway` running in the environment's fleet layer,
//! with the identity (`naming::GATEWAY_SERVICE_ACCOUNT`) every mesh's authorization
//! admits to the capabilities it routes to. It serves the routing table from a ConfigMap
//! (`gateway-routes.json`, the same bytes as the file beside it) and, in a native
//! environment, is the implementation of the environment's GatewayClass: it watches the
//! fleet's Gateway and HTTPRoutes and writes their status (runtime/src/router).
//!
//! The routing table changes without a restart: the kubelet updates a mounted ConfigMap
//! by swapping its `..data` symlink, and the gateway reloads on that rename. So the pod
//! template carries no checksum of the table, and a table change rolls no pod.

use serde_json::{Value, json};
use skipper_compiler::model::{EnvContext, Mesh};
use skipper_compiler::naming::{self, FLEET_GATEWAY, GATEWAY_SERVICE_ACCOUNT};
use std::collections::BTreeMap;

/// `controllerName` of the GatewayClass (runtime/src/router/program.rs says the same).
pub const CONTROLLER_NAME: &str = "skipper.naftiko.io/gateway";

/// Ports inside the gateway's pod.
pub const LISTEN_PORT: u16 = 8080;
pub const CONTROL_PORT: u16 = 9090;

/// Where the routing table is mounted.
const ROUTES_DIR: &str = "/etc/skipper-gateway";

/// The environment's GatewayClass: one per namespace, so two environments sharing a
/// cluster (dev and staging, say) never share a cluster-scoped object that two Argo CD
/// Applications would both claim, and each router handles its own class only.
pub fn gateway_class(ctx: &EnvContext) -> String {
    format!("skipper-{}", ctx.namespace)
}

fn routes_config_map() -> String {
    format!("{GATEWAY_SERVICE_ACCOUNT}-routes")
}

fn pod_labels(ctx: &EnvContext) -> BTreeMap<String, String> {
    let mut labels = naming::fleet_labels(ctx);
    for (k, v) in naming::GATEWAY_POD_LABELS {
        labels.insert(k.into(), v.into());
    }
    labels
}

fn selector() -> BTreeMap<&'static str, &'static str> {
    naming::GATEWAY_POD_LABELS.into_iter().collect()
}

fn metadata(ctx: &EnvContext, name: &str) -> Value {
    json!({ "name": name, "namespace": ctx.namespace, "labels": pod_labels(ctx) })
}

/// Everything the gateway needs in the fleet layer; `routes_json` is the rendered table.
pub fn objects(ctx: &EnvContext, routes_json: &str) -> Vec<(String, Value)> {
    let mut objects = vec![
        ("gateway-serviceaccount.yaml".to_string(), service_account(ctx)),
        (
            "gateway-routes-configmap.yaml".to_string(),
            config_map(ctx, routes_json),
        ),
        ("gateway-deployment.yaml".to_string(), deployment(ctx)),
        ("gateway-service.yaml".to_string(), service(ctx)),
        ("gateway-pdb.yaml".to_string(), disruption_budget(ctx)),
    ];
    if ctx.mesh == Mesh::Native {
        objects.extend([
            ("gatewayclass.yaml".to_string(), class(ctx)),
            ("gateway-role.yaml".to_string(), role(ctx)),
            (
                "gateway-rolebinding.yaml".to_string(),
                role_binding(ctx, "RoleBinding", "Role"),
            ),
            ("gateway-clusterrole.yaml".to_string(), cluster_role(ctx)),
            (
                "gateway-clusterrolebinding.yaml".to_string(),
                role_binding(ctx, "ClusterRoleBinding", "ClusterRole"),
            ),
        ]);
    }
    objects
}

fn service_account(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(ctx, GATEWAY_SERVICE_ACCOUNT),
        // Only the router (native) talks to the API server.
        "automountServiceAccountToken": ctx.mesh == Mesh::Native,
    })
}

fn config_map(ctx: &EnvContext, routes_json: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, &routes_config_map()),
        "data": { "gateway-routes.json": routes_json },
    })
}

/// How each mesh is asked to put the gateway's pod in the mesh: its calls to capabilities
/// leave through the mesh's proxy with the `skipper-gateway` identity their authorization
/// admits. The gateway is the edge, so its own two ports skip the inbound proxy: clients
/// outside the mesh reach the listener, and Prometheus the control port, in plaintext
/// (a STRICT Istio PeerAuthentication, Linkerd's authorization and Consul's transparent
/// proxy would refuse them). Each project's documented knob:
/// - Istio: the `sidecar.istio.io/inject` label, `traffic.sidecar.istio.io/excludeInboundPorts`
///   (istio.io/latest/docs/reference/config/annotations/);
/// - Linkerd: `linkerd.io/inject`, `config.linkerd.io/skip-inbound-ports`
///   (linkerd.io/2/reference/proxy-configuration/);
/// - Consul: `consul.hashicorp.com/connect-inject`, `connect-service` (the Service has two
///   ports, so the service name is said), `transparent-proxy-exclude-inbound-ports`
///   (developer.hashicorp.com/consul/docs/k8s/annotations-and-labels).
fn mesh_metadata(mesh: Mesh) -> (BTreeMap<&'static str, String>, BTreeMap<&'static str, String>) {
    let ports = format!("{LISTEN_PORT},{CONTROL_PORT}");
    match mesh {
        Mesh::Istio => (
            BTreeMap::from([("sidecar.istio.io/inject", "true".into())]),
            BTreeMap::from([("traffic.sidecar.istio.io/excludeInboundPorts", ports)]),
        ),
        Mesh::Linkerd => (
            BTreeMap::new(),
            BTreeMap::from([
                ("linkerd.io/inject", "enabled".into()),
                ("config.linkerd.io/skip-inbound-ports", ports),
            ]),
        ),
        Mesh::Consul => (
            BTreeMap::new(),
            BTreeMap::from([
                ("consul.hashicorp.com/connect-inject", "true".into()),
                ("consul.hashicorp.com/connect-service", GATEWAY_SERVICE_ACCOUNT.into()),
                ("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports", ports),
            ]),
        ),
        Mesh::Native => (BTreeMap::new(), BTreeMap::new()),
    }
}

fn deployment(ctx: &EnvContext) -> Value {
    let (mesh_labels, annotations) = mesh_metadata(ctx.mesh);
    let mut labels = pod_labels(ctx);
    labels.extend(mesh_labels.into_iter().map(|(k, v)| (k.to_string(), v)));
    let mut args = vec![
        format!("--routes={ROUTES_DIR}/gateway-routes.json"),
        format!("--listen=0.0.0.0:{LISTEN_PORT}"),
        format!("--control=0.0.0.0:{CONTROL_PORT}"),
    ];
    if ctx.mesh == Mesh::Native {
        args.push(format!("--gateway-class={}", gateway_class(ctx)));
        args.push(format!("--gateway-namespace={}", ctx.namespace));
    }
    let probe = |path: &str, failures: u32| json!({ "httpGet": { "path": path, "port": "control" }, "periodSeconds": 5, "failureThreshold": failures });
    let mut pod_metadata = json!({ "labels": labels });
    if !annotations.is_empty() {
        pod_metadata["annotations"] = json!(annotations);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(ctx, GATEWAY_SERVICE_ACCOUNT),
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": selector() },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 } },
            "template": {
                "metadata": pod_metadata,
                "spec": {
                    "serviceAccountName": GATEWAY_SERVICE_ACCOUNT,
                    // Longer than the gateway's own drain (it stops being ready, finishes
                    // what is in flight, then exits).
                    "terminationGracePeriodSeconds": 45,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": [{
                        "name": "gateway",
                        "image": naming::GATEWAY_IMAGE,
                        "args": args,
                        "ports": [
                            { "name": "http", "containerPort": LISTEN_PORT, "protocol": "TCP" },
                            { "name": "control", "containerPort": CONTROL_PORT, "protocol": "TCP" },
                        ],
                        "readinessProbe": probe("/health/ready", 2),
                        "livenessProbe": probe("/health/live", 6),
                        "resources": {
                            "requests": { "cpu": "100m", "memory": "64Mi" },
                            "limits": { "memory": "256Mi" },
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": { "drop": ["ALL"] },
                        },
                        "volumeMounts": [{ "name": "routes", "mountPath": ROUTES_DIR, "readOnly": true }],
                    }],
                    "volumes": [{ "name": "routes", "configMap": { "name": routes_config_map() } }],
                },
            },
        },
    })
}

fn service(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ctx, GATEWAY_SERVICE_ACCOUNT),
        "spec": {
            "selector": selector(),
            "ports": [
                { "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http" },
                { "name": "control", "port": CONTROL_PORT, "targetPort": "control", "protocol": "TCP" },
            ],
        },
    })
}

fn disruption_budget(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(ctx, GATEWAY_SERVICE_ACCOUNT),
        "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector() } },
    })
}

fn class(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": { "name": gateway_class(ctx), "labels": naming::fleet_labels(ctx) },
        "spec": {
            "controllerName": CONTROLLER_NAME,
            "description": format!("skipper-gateway of the {} namespace", ctx.namespace),
        },
    })
}

/// What the router reads and writes in its namespace, and nothing else: its Gateway and
/// HTTPRoutes (and their status), and the Services and EndpointSlices behind the routes.
fn role(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(ctx, GATEWAY_SERVICE_ACCOUNT),
        "rules": [
            { "apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways", "httproutes"], "verbs": ["get", "list", "watch"] },
            { "apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways/status", "httproutes/status"], "verbs": ["patch", "update"] },
            { "apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"] },
            { "apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"] },
        ],
    })
}

/// GatewayClasses are cluster-scoped: the router may read and set the status of its own
/// class only (`resourceNames`; its watch selects that name).
fn cluster_role(ctx: &EnvContext) -> Value {
    let class = gateway_class(ctx);
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": { "name": class, "labels": naming::fleet_labels(ctx) },
        "rules": [
            { "apiGroups": ["gateway.networking.k8s.io"], "resources": ["gatewayclasses"], "resourceNames": [class], "verbs": ["get", "list", "watch"] },
            { "apiGroups": ["gateway.networking.k8s.io"], "resources": ["gatewayclasses/status"], "resourceNames": [class], "verbs": ["patch", "update"] },
        ],
    })
}

fn role_binding(ctx: &EnvContext, kind: &str, role_kind: &str) -> Value {
    let name = if kind == "ClusterRoleBinding" {
        gateway_class(ctx)
    } else {
        GATEWAY_SERVICE_ACCOUNT.to_string()
    };
    let mut metadata = json!({ "name": name, "labels": naming::fleet_labels(ctx) });
    if kind == "RoleBinding" {
        metadata["namespace"] = json!(ctx.namespace);
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name },
        "subjects": [{ "kind": "ServiceAccount", "name": GATEWAY_SERVICE_ACCOUNT, "namespace": ctx.namespace }],
    })
}

/// The fleet's Gateway names the environment's class.
pub fn gateway(ctx: &EnvContext) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": { "name": FLEET_GATEWAY, "namespace": ctx.namespace, "labels": naming::fleet_labels(ctx) },
        "spec": {
            "gatewayClassName": gateway_class(ctx),
            "listeners": [{ "name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": { "namespaces": { "from": "Same" } } }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{capability, named, of_kind};
    use skipper_compiler::model::Strategy;

    fn rendered(mesh: Mesh) -> (EnvContext, Vec<(String, Value)>) {
        let (ctx, _) = capability("registry", mesh, Strategy::Rolling);
        let objects = objects(&ctx, "{\"format\":3}");
        (ctx, objects)
    }

    #[test]
    fn native_environments_carry_the_class_the_gateway_names_and_its_implementation() {
        let (ctx, objects) = rendered(Mesh::Native);
        let class = gateway_class(&ctx);
        assert_eq!(class, "skipper-shipyard-dev");
        assert_eq!(
            named(&objects, "GatewayClass", &class)["spec"]["controllerName"],
            CONTROLLER_NAME
        );
        assert_eq!(gateway(&ctx)["spec"]["gatewayClassName"], class.as_str());
        let args = named(&objects, "Deployment", GATEWAY_SERVICE_ACCOUNT)["spec"]["template"]["spec"]["containers"][0]
            ["args"]
            .clone();
        let args: Vec<&str> = args.as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert!(args.contains(&format!("--gateway-class={class}").as_str()), "{args:?}");
        assert!(args.contains(&"--gateway-namespace=shipyard-dev"), "{args:?}");
        // The routes the Deployment reads are the ConfigMap it mounts.
        let config_map = named(&objects, "ConfigMap", "skipper-gateway-routes");
        assert_eq!(config_map["data"]["gateway-routes.json"], "{\"format\":3}");
    }

    #[test]
    fn the_router_may_touch_its_own_class_and_namespace_only() {
        let (ctx, objects) = rendered(Mesh::Native);
        let cluster_role = named(&objects, "ClusterRole", &gateway_class(&ctx));
        for rule in cluster_role["rules"].as_array().unwrap() {
            assert_eq!(rule["resourceNames"], json!([gateway_class(&ctx)]), "{rule}");
            assert!(!rule["verbs"].as_array().unwrap().contains(&json!("create")));
        }
        let role = named(&objects, "Role", GATEWAY_SERVICE_ACCOUNT);
        assert_eq!(role["metadata"]["namespace"], "shipyard-dev");
        let writes: Vec<&Value> = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["verbs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v != "get" && v != "list" && v != "watch")
            })
            .collect();
        assert_eq!(writes.len(), 1, "only status is written: {writes:?}");
        assert_eq!(writes[0]["resources"], json!(["gateways/status", "httproutes/status"]));
        for binding in of_kind(&objects, "ClusterRoleBinding")
            .into_iter()
            .chain(of_kind(&objects, "RoleBinding"))
        {
            assert_eq!(
                binding["subjects"],
                json!([{ "kind": "ServiceAccount", "name": GATEWAY_SERVICE_ACCOUNT, "namespace": "shipyard-dev" }])
            );
        }
    }

    #[test]
    fn meshed_environments_run_the_gateway_in_the_mesh_without_the_router() {
        for mesh in [Mesh::Istio, Mesh::Linkerd, Mesh::Consul] {
            let (_, objects) = rendered(mesh);
            assert!(of_kind(&objects, "GatewayClass").is_empty(), "{mesh:?}");
            assert!(of_kind(&objects, "ClusterRole").is_empty(), "{mesh:?}");
            let deployment = named(&objects, "Deployment", GATEWAY_SERVICE_ACCOUNT);
            let template = &deployment["spec"]["template"];
            let injected = match mesh {
                Mesh::Istio => template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true",
                Mesh::Linkerd => template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled",
                _ => template["metadata"]["annotations"]["consul.hashicorp.com/connect-inject"] == "true",
            };
            assert!(injected, "{mesh:?}: {template}");
            // Its identity is the one the capabilities' authorization admits.
            assert_eq!(template["spec"]["serviceAccountName"], GATEWAY_SERVICE_ACCOUNT);
            assert_eq!(
                named(&objects, "ServiceAccount", GATEWAY_SERVICE_ACCOUNT)["automountServiceAccountToken"],
                false
            );
            let args = template["spec"]["containers"][0]["args"].to_string();
            assert!(!args.contains("--gateway-class"), "{mesh:?}: {args}");
        }
    }
}
