# Tests of the runtime authorization policy. Self-contained (every bundle carries
# authz.rego, whichever policy sets the fleet uses); like the other tests, fixtures
# replace `data.skipper` key by key.
package skipper.stdlib.authz_test

import data.skipper.stdlib.authz
import rego.v1

# The exposes of a capability: REST on 3002 (published through the gateway when
# `public_rest`), MCP on 3001 (in the cluster only), the control adapter on 9090.
exposes(public_rest) := [
	{"index": 0, "kind": "rest", "port": 3002, "portName": "rest", "namespace": "api", "authentication": "bearer", "public": public_rest},
	{"index": 1, "kind": "mcp", "port": 3001, "portName": "mcp", "namespace": "tools", "authentication": "bearer", "public": false},
	{"index": 2, "kind": "control", "port": 9090, "portName": "control", "namespace": null, "authentication": null, "public": false},
]

# `voyages` calls `registry` (a declared edge), `shipyard` calls `voyages` (an
# inferred one); the registry and voyages publish REST, shipyard nothing.
facts := {
	"fleet": "shipyard",
	"capabilities": {
		"registry": {"name": "registry", "exposes": exposes(true)},
		"voyages": {"name": "voyages", "exposes": exposes(true)},
		"shipyard": {"name": "shipyard", "exposes": exposes(false)},
	},
	"edges": [
		{"from": "shipyard", "to": "voyages", "declared": false},
		{"from": "voyages", "to": "registry", "declared": true},
	],
}

# Warden's decision on `call`: {"allow": bool, "reasons": set}.
decide(call) := {"allow": a, "reasons": r} if {
	a := authz.allow with input as call
		with data.skipper.fleet as facts.fleet
		with data.skipper.capabilities as facts.capabilities
		with data.skipper.edges as facts.edges
	r := authz.reasons with input as call
		with data.skipper.fleet as facts.fleet
		with data.skipper.capabilities as facts.capabilities
		with data.skipper.edges as facts.edges
}

allowed(call) if {
	d := decide(call)
	d.allow == true
	count(d.reasons) == 0
}

# Denied, with exactly the reason `reason`.
denied(call, reason) if {
	d := decide(call)
	d.allow == false
	d.reasons == {reason}
}

# ---------------------------------------------------------------------------------------
# Calls between capabilities
# ---------------------------------------------------------------------------------------

test_declared_edge_allowed if {
	allowed({"source": "voyages", "target": "registry", "kind": "rest", "path": "/ships/9074729"})
}

test_inferred_edge_allowed if {
	allowed({"source": "shipyard", "target": "voyages", "kind": "rest", "path": "/voyages/ship/9074729"})
}

test_call_against_the_edge_denied if {
	denied(
		{"source": "registry", "target": "voyages", "kind": "rest", "path": "/voyages"},
		"`registry` does not depend on `voyages`: declare it in `capabilities.registry.dependsOn`",
	)
}

test_undeclared_call_denied if {
	denied(
		{"source": "shipyard", "target": "registry", "kind": "mcp"},
		"`shipyard` does not depend on `registry`: declare it in `capabilities.shipyard.dependsOn`",
	)
}

test_unknown_target_denied if {
	denied(
		{"source": "voyages", "target": "ledger", "kind": "rest"},
		"`ledger` is not a capability of fleet `shipyard`",
	)
}

test_call_without_source_denied if {
	d := decide({"target": "registry", "kind": "rest"})
	d.allow == false
	"the call names no source" in d.reasons
}

test_workload_outside_the_fleet_denied_apis if {
	denied(
		{"source": "prometheus", "target": "registry", "kind": "rest", "path": "/ships"},
		"`prometheus` is no capability of fleet `shipyard`: it may only read health and metrics of `registry`",
	)
}

# ---------------------------------------------------------------------------------------
# The gateway
# ---------------------------------------------------------------------------------------

test_gateway_to_public_rest_allowed if {
	allowed({"source": "gateway", "target": "registry", "kind": "rest", "path": "/ships"})
}

test_gateway_to_non_public_mcp_denied if {
	# The registry serves MCP in the cluster only.
	denied(
		{"source": "gateway", "target": "registry", "kind": "mcp"},
		"`registry` publishes no mcp expose through the gateway",
	)
}

test_gateway_to_a_skill_denied if {
	denied(
		{"source": "gateway", "target": "voyages", "kind": "skill"},
		"`voyages` publishes no skill expose through the gateway",
	)
}

test_gateway_to_an_unpublished_capability_denied if {
	denied(
		{"source": "gateway", "target": "shipyard", "kind": "rest"},
		"`shipyard` publishes no rest expose through the gateway",
	)
}

test_gateway_to_control_denied if {
	denied(
		{"source": "gateway", "target": "registry", "kind": "control", "path": "/metrics"},
		"the gateway may not call the control adapter of `registry`",
	)
}

# ---------------------------------------------------------------------------------------
# Control adapters
# ---------------------------------------------------------------------------------------

test_health_and_metrics_open_to_in_cluster_callers if {
	allowed({"source": "prometheus", "target": "registry", "kind": "control", "path": "/metrics"})
	allowed({"source": "registry", "target": "voyages", "kind": "control", "path": "/health/live"})
	allowed({"source": "kubelet", "target": "voyages", "kind": "control", "path": "/health/ready?verbose"})
}

test_other_control_paths_denied_even_along_an_edge if {
	denied(
		{"source": "voyages", "target": "registry", "kind": "control", "path": "/reload"},
		"only /health/live, /health/ready, /metrics of `registry`'s control adapter are open to other workloads, not `/reload`",
	)
}

test_control_call_without_a_path_denied if {
	denied(
		{"source": "voyages", "target": "registry", "kind": "control"},
		"only /health/live, /health/ready, /metrics of `registry`'s control adapter are open to other workloads, not a call without a path",
	)
}

test_control_port_is_a_control_call_whatever_the_kind if {
	# 9090 is the registry's control port.
	d := decide({"source": "voyages", "target": "registry", "kind": "rest", "port": 9090, "path": "/reload"})
	d.allow == false
	allowed({"source": "voyages", "target": "registry", "kind": "rest", "port": 3002, "path": "/ships"})
}
