# Tests of the baseline policy set: `skipper test policies` runs them (regorus), and so
# does `opa test`.
#
# Fixtures replace `data.skipper` key by key (`with data.skipper.capabilities as …`),
# never whole: the policies themselves live under `data.skipper.stdlib`, and replacing
# `data.skipper` would hide them (regorus evaluates them as undefined; OPA rejects the
# test as recursive).
package skipper.stdlib.baseline_test

import data.skipper.stdlib.baseline
import rego.v1

# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------

# A capability that passes every baseline rule, shaped like compiler/src/facts.rs.
capability(name) := {
	"name": name,
	"version": "1.0.0",
	"label": "Maritime Registry",
	"description": "Ship registry: lists ships and reads one ship by IMO number.",
	"stakeholders": [
		{"role": "owner", "fullName": "Registry Team", "email": "registry@shipyard.example"},
		{"role": "contributor", "fullName": "Jo Doe", "email": null},
	],
	"engine": {
		"image": "ghcr.io/naftiko/ikanos",
		"version": "1.0.0-beta5",
		"reference": "ghcr.io/naftiko/ikanos:1.0.0-beta5",
		"pinning": "exact",
	},
	"class": standard_class,
	"replicas": 2,
	"strategy": "rolling",
	"exposes": [],
	"consumes": [],
	"dependsOn": [],
	"declaredDependsOn": [],
	"dependents": [],
	"binds": [],
	"gateway": {"restPath": null, "mcp": false},
}

standard_class := {
	"name": "standard",
	"requests": {"cpu": "250m", "memory": "256Mi", "cpuMillis": 250, "memoryBytes": 268435456},
	"limits": {"cpu": "500m", "memory": "512Mi", "cpuMillis": 500, "memoryBytes": 536870912},
	"autoscaling": true,
	"minReplicas": 2,
	"maxReplicas": 4,
}

# A compliant production fleet: `registry` publishes REST (and serves MCP in the
# cluster); `voyages` calls the registry and an external API, and has the control
# adapter Skipper adds (no index).
fleet := {
	"format": 1,
	"fleet": "shipyard",
	"environment": {
		"name": "prod",
		"namespace": "shipyard",
		"region": "eu-west-1",
		"cluster": "https://prod.k8s.internal",
		"mesh": "istio",
		"delivery": "manifests",
		"production": true,
	},
	"capabilities": {
		"registry": object.union(capability("registry"), {
			"exposes": [
				{"index": 0, "kind": "rest", "port": 3002, "portName": "rest", "namespace": "registry-rest", "authentication": "bearer", "public": true},
				{"index": 1, "kind": "mcp", "port": 3001, "portName": "mcp", "namespace": "registry-tools", "authentication": "bearer", "public": false},
				{"index": 2, "kind": "control", "port": 9090, "portName": "control", "namespace": null, "authentication": null, "public": false},
			],
			"dependents": ["voyages"],
			"gateway": {"restPath": "/registry", "mcp": false},
		}),
		"voyages": object.union(capability("voyages"), {
			"label": "Voyage Planning",
			"description": "Plans voyages: checks a ship exists before a voyage is planned.",
			"exposes": [
				{"index": 0, "kind": "rest", "port": 3002, "portName": "rest", "namespace": "voyages-rest", "authentication": "oauth2", "public": true},
				{"index": 1, "kind": "skill", "port": 3003, "portName": "skill", "namespace": "voyages-skills", "authentication": null, "public": false},
				{"index": null, "kind": "control", "port": 9090, "portName": "control", "namespace": null, "authentication": null, "public": false},
			],
			"consumes": [
				{"index": 0, "namespace": "registry", "baseUri": "http://registry:3002", "inCluster": true, "capability": "registry"},
				{"index": 1, "namespace": "weather", "baseUri": "https://api.weather.example/v1", "inCluster": false, "capability": null},
			],
			"dependsOn": ["registry"],
			"declaredDependsOn": ["registry"],
			"gateway": {"restPath": "/voyages", "mcp": false},
		}),
	},
	"edges": [{"from": "voyages", "to": "registry", "declared": true}],
}

# `fleet` with capability `name` patched (objects merge; arrays are replaced whole).
patched(name, patch) := object.union(fleet, {"capabilities": {name: patch}})

# `f` moved to a non-production environment.
non_production(f) := object.union(f, {"environment": {"name": "dev", "namespace": "shipyard-dev", "production": false}})

# The registry's exposes with `i` replaced by `expose`.
registry_exposes_with(i, expose) := [e |
	some j, original in fleet.capabilities.registry.exposes
	e := pick(j == i, expose, original)
]

pick(true, a, _) := a

pick(false, _, b) := b

# The baseline's violations for facts `f`.
violations(f) := vs if {
	vs := baseline.violation with data.skipper.format as f.format
		with data.skipper.fleet as f.fleet
		with data.skipper.environment as f.environment
		with data.skipper.capabilities as f.capabilities
		with data.skipper.edges as f.edges
}

# The violations of one rule.
of_rule(f, rule) := [v | some v in violations(f); v.rule == rule]

# The one violation of `f`, which must be of `rule` (nothing else may fire).
only(f, rule) := v if {
	vs := violations(f)
	count(vs) == 1
	some v in vs
	v.rule == rule
}

# ---------------------------------------------------------------------------------------
# The compliant fleet
# ---------------------------------------------------------------------------------------

test_compliant_fleet_has_no_violation if {
	count(violations(fleet)) == 0
}

test_compliant_fleet_outside_production_has_no_violation if {
	count(violations(non_production(fleet))) == 0
}

# ---------------------------------------------------------------------------------------
# capability-owner
# ---------------------------------------------------------------------------------------

test_owner_role_is_case_insensitive if {
	f := patched("registry", {"stakeholders": [{"role": " Owner", "fullName": "Registry Team", "email": null}]})
	count(of_rule(f, "capability-owner")) == 0
}

test_capability_without_owner if {
	f := patched("registry", {"stakeholders": [{"role": "contributor", "fullName": "Jo Doe", "email": null}]})
	v := only(f, "capability-owner")
	v.severity == "error"
	v.capability == "registry"
	v.message == "capability `registry` names no owner"
	v.at[0] == {"document": ["info", "stakeholders"]}
}

test_capability_without_stakeholders if {
	f := patched("voyages", {"stakeholders": []})
	v := only(f, "capability-owner")
	v.capability == "voyages"
}

# ---------------------------------------------------------------------------------------
# capability-description
# ---------------------------------------------------------------------------------------

test_description_of_twenty_characters_passes if {
	f := patched("registry", {"description": "Registers the ships."})
	count("Registers the ships.") == 20
	count(of_rule(f, "capability-description")) == 0
}

test_missing_description if {
	f := patched("registry", {"description": null})
	v := only(f, "capability-description")
	v.capability == "registry"
	v.message == "capability `registry` has no description"
	v.at[0] == {"document": ["info", "description"]}
}

test_blank_description if {
	f := patched("registry", {"description": "   "})
	v := only(f, "capability-description")
	v.message == "capability `registry` has no description"
}

test_short_description if {
	f := patched("registry", {"description": "Ship registry"})
	v := only(f, "capability-description")
	v.message == "capability `registry` has a description of only 13 characters (at least 20)"
	v.at[0] == {"document": ["info", "description"]}
}

test_description_repeating_the_label if {
	f := patched("registry", {"label": "The Maritime Registry API", "description": "the maritime registry API"})
	v := only(f, "capability-description")
	v.message == "capability `registry` has a description that only repeats its label"
}

# ---------------------------------------------------------------------------------------
# authenticated-exposes
# ---------------------------------------------------------------------------------------

test_unauthenticated_exposes_outside_production_pass if {
	open := object.union(fleet.capabilities.registry.exposes[1], {"authentication": null})
	f := non_production(patched("registry", {"exposes": registry_exposes_with(1, open)}))
	count(of_rule(f, "authenticated-exposes")) == 0
}

test_unauthenticated_skill_and_control_pass if {
	# voyages' skill and control exposes have no authentication in the fixture.
	count(of_rule(fleet, "authenticated-exposes")) == 0
}

test_unauthenticated_mcp_in_production if {
	open := object.union(fleet.capabilities.registry.exposes[1], {"authentication": null})
	f := patched("registry", {"exposes": registry_exposes_with(1, open)})
	v := only(f, "authenticated-exposes")
	v.capability == "registry"
	v.message == "capability `registry` serves its mcp expose (port 3001) without authentication in production environment `prod`"
	v.at[0] == {"document": ["capability", "exposes", 1, "authentication"]}
	v.at[1] == {"document": ["capability", "exposes", 1]}
}

test_unauthenticated_rest_in_production if {
	open := object.union(fleet.capabilities.registry.exposes[0], {"authentication": null})
	f := patched("registry", {"exposes": registry_exposes_with(0, open)})
	v := only(f, "authenticated-exposes")
	v.at[0] == {"document": ["capability", "exposes", 0, "authentication"]}
}

# ---------------------------------------------------------------------------------------
# control-port-internal
# ---------------------------------------------------------------------------------------

test_internal_control_port_passes if {
	count(of_rule(fleet, "control-port-internal")) == 0
}

test_public_expose_on_the_control_port if {
	rest := object.union(fleet.capabilities.registry.exposes[0], {"port": 9090})
	f := patched("registry", {"exposes": registry_exposes_with(0, rest)})
	v := only(f, "control-port-internal")
	v.capability == "registry"
	v.message == "capability `registry` publishes its rest expose on port 9090, the control port"
	v.at[0] == {"document": ["capability", "exposes", 0, "port"]}
	v.at[2] == {"document": ["capability", "exposes", 2, "port"]}
}

test_public_control_expose if {
	control := object.union(fleet.capabilities.registry.exposes[2], {"public": true})
	f := patched("registry", {"exposes": registry_exposes_with(2, control)})
	v := only(f, "control-port-internal")
	v.message == "capability `registry` publishes its control adapter (port 9090) through the gateway"
	v.at[0] == {"document": ["capability", "exposes", 2, "port"]}
}

# ---------------------------------------------------------------------------------------
# engine-pinned
# ---------------------------------------------------------------------------------------

floating_engine := {
	"image": "ghcr.io/naftiko/ikanos",
	"version": "latest",
	"reference": "ghcr.io/naftiko/ikanos:latest",
	"pinning": "floating",
}

test_digest_pinned_engine_passes if {
	digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f := patched("registry", {"engine": {"version": digest, "reference": sprintf("ghcr.io/naftiko/ikanos@%s", [digest]), "pinning": "digest"}})
	count(of_rule(f, "engine-pinned")) == 0
}

test_floating_engine_outside_production_passes if {
	f := non_production(patched("registry", {"engine": floating_engine}))
	count(of_rule(f, "engine-pinned")) == 0
}

test_floating_engine_in_production if {
	f := patched("registry", {"engine": floating_engine})
	v := only(f, "engine-pinned")
	v.capability == "registry"
	v.message == "capability `registry` runs engine `ghcr.io/naftiko/ikanos:latest`, a floating version, in production environment `prod`"
	v.at[0] == {"manifest": ["environments", "prod", "overrides", "registry", "engine", "version"]}
	v.at[1] == {"manifest": ["environments", "prod", "engine", "version"]}
	v.at[2] == {"manifest": ["capabilities", "registry", "engine", "version"]}
	v.at[3] == {"manifest": ["defaults", "engine", "version"]}
	v.at[7] == {"manifest": ["defaults", "engine"]}
	v.at[8] == {"manifest": ["capabilities", "registry"]}
}

# ---------------------------------------------------------------------------------------
# class-limits
# ---------------------------------------------------------------------------------------

test_limits_equal_to_requests_pass if {
	f := patched("registry", {"class": {"limits": standard_class.requests}})
	count(of_rule(f, "class-limits")) == 0
}

test_class_without_cpu_limit if {
	f := patched("registry", {"class": {"limits": {"cpu": "0", "cpuMillis": 0}}})
	v := only(f, "class-limits")
	v.capability == "registry"
	v.message == "capability `registry` runs with class `standard` in environment `prod`, which sets no CPU limit"
	v.at[0] == {"manifest": ["classes", "standard", "resources", "limits", "cpu"]}
	v.at[1] == {"manifest": ["classes", "standard"]}
	v.at[2] == {"manifest": ["environments", "prod", "overrides", "registry", "class"]}
}

test_memory_limit_below_request if {
	f := patched("registry", {"class": {"limits": {"memory": "128Mi", "memoryBytes": 134217728}}})
	v := only(f, "class-limits")
	v.message == "capability `registry` runs with class `standard` in environment `prod`, whose memory limit 128Mi is below its request 256Mi"
	v.at[0] == {"manifest": ["classes", "standard", "resources", "limits", "memory"]}
}

# ---------------------------------------------------------------------------------------
# undeclared-capability
# ---------------------------------------------------------------------------------------

test_consumes_of_fleet_capabilities_and_external_apis_pass if {
	count(of_rule(fleet, "undeclared-capability")) == 0
}

test_consume_of_an_unknown_in_cluster_host if {
	unknown := {"index": 2, "namespace": "ledger", "baseUri": "http://ledger:8080", "inCluster": true, "capability": null}
	f := patched("voyages", {"consumes": array.concat(fleet.capabilities.voyages.consumes, [unknown])})
	v := only(f, "undeclared-capability")
	v.capability == "voyages"
	v.message == "capability `voyages` consumes `http://ledger:8080`, an in-cluster host that is no capability of fleet `shipyard`"
	v.at[0] == {"document": ["capability", "consumes", 2, "baseUri"]}
	v.at[1] == {"document": ["capability", "consumes", 2]}
}
