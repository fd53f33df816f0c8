# Tests of the strict policy set. The fixtures are the baseline tests' (the compliant
# fleet there passes strict too); like them, they replace `data.skipper` key by key.
package skipper.stdlib.strict_test

import data.skipper.stdlib.baseline
import data.skipper.stdlib.baseline_test.fleet
import data.skipper.stdlib.baseline_test.non_production
import data.skipper.stdlib.baseline_test.patched
import data.skipper.stdlib.strict
import rego.v1

# The violations of the `strict` set (the baseline's and strict's) for facts `f`.
violations(f) := vs if {
	b := baseline.violation with data.skipper.format as f.format
		with data.skipper.fleet as f.fleet
		with data.skipper.environment as f.environment
		with data.skipper.capabilities as f.capabilities
		with data.skipper.edges as f.edges
	s := strict.violation with data.skipper.format as f.format
		with data.skipper.fleet as f.fleet
		with data.skipper.environment as f.environment
		with data.skipper.capabilities as f.capabilities
		with data.skipper.edges as f.edges
	vs := b | s
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

# voyages' REST expose without authentication.
open_voyages := patched("voyages", {"exposes": [
	object.union(fleet.capabilities.voyages.exposes[0], {"authentication": null}),
	fleet.capabilities.voyages.exposes[1],
	fleet.capabilities.voyages.exposes[2],
]})

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
# declared-dependencies
# ---------------------------------------------------------------------------------------

test_declared_edges_pass if {
	count(of_rule(fleet, "declared-dependencies")) == 0
}

test_inferred_edge if {
	f := object.union(
		patched("voyages", {"declaredDependsOn": []}),
		{"edges": [{"from": "voyages", "to": "registry", "declared": false}]},
	)
	v := only(f, "declared-dependencies")
	v.severity == "error"
	v.capability == "voyages"
	v.message == "capability `voyages` calls `registry`, which its `dependsOn` does not declare (inferred from its `consumes`)"
	v.at[0] == {"manifest": ["capabilities", "voyages", "dependsOn"]}
	v.at[1] == {"manifest": ["capabilities", "voyages"]}
}

# ---------------------------------------------------------------------------------------
# authenticated-exposes-everywhere
# ---------------------------------------------------------------------------------------

test_authenticated_exposes_pass_outside_production if {
	count(of_rule(non_production(fleet), "authenticated-exposes-everywhere")) == 0
}

test_unauthenticated_rest_outside_production if {
	v := only(non_production(open_voyages), "authenticated-exposes-everywhere")
	v.capability == "voyages"
	v.message == "capability `voyages` serves its rest expose (port 3002) without authentication in environment `dev`"
	v.at[0] == {"document": ["capability", "exposes", 0, "authentication"]}
}

test_production_is_left_to_the_baseline if {
	# In production the baseline's rule reports it, once.
	v := only(open_voyages, "authenticated-exposes")
	v.capability == "voyages"
}

# ---------------------------------------------------------------------------------------
# owner-contact
# ---------------------------------------------------------------------------------------

test_owner_with_email_and_contributor_without_pass if {
	# The fixture's contributor has no email: only owners need one.
	count(of_rule(fleet, "owner-contact")) == 0
}

test_owner_without_email if {
	f := patched("registry", {"stakeholders": [
		{"role": "contributor", "fullName": "Jo Doe", "email": "jo@shipyard.example"},
		{"role": "Owner", "fullName": "Registry Team", "email": null},
	]})
	v := only(f, "owner-contact")
	v.capability == "registry"
	v.message == "owner `Registry Team` of capability `registry` has no email"
	v.at[0] == {"document": ["info", "stakeholders", 1, "email"]}
	v.at[1] == {"document": ["info", "stakeholders", 1]}
}

test_no_owner_is_left_to_the_baseline if {
	f := patched("registry", {"stakeholders": []})
	v := only(f, "capability-owner")
	v.capability == "registry"
}

# ---------------------------------------------------------------------------------------
# production-redundancy
# ---------------------------------------------------------------------------------------

test_two_replicas_in_production_pass if {
	count(of_rule(fleet, "production-redundancy")) == 0
}

test_one_replica_outside_production_passes if {
	f := non_production(patched("registry", {"replicas": 1}))
	count(of_rule(f, "production-redundancy")) == 0
}

test_one_replica_in_production if {
	f := patched("registry", {"replicas": 1})
	v := only(f, "production-redundancy")
	v.severity == "warning"
	v.capability == "registry"
	v.message == "capability `registry` runs 1 replica(s) in production environment `prod`"
	v.at[0] == {"manifest": ["environments", "prod", "overrides", "registry", "replicas"]}
	v.at[1] == {"manifest": ["environments", "prod", "replicas"]}
	v.at[2] == {"manifest": ["capabilities", "registry", "replicas"]}
	v.at[4] == {"manifest": ["classes", "standard", "hpa", "minReplicas"]}
}

# ---------------------------------------------------------------------------------------
# external-https
# ---------------------------------------------------------------------------------------

with_consume(uri) := patched("voyages", {"consumes": [
	fleet.capabilities.voyages.consumes[0],
	{"index": 1, "namespace": "weather", "baseUri": uri, "inCluster": false, "capability": null},
]})

test_https_and_loopback_consumes_pass if {
	count(of_rule(fleet, "external-https")) == 0
	count(of_rule(with_consume("http://localhost:8080/v1"), "external-https")) == 0
	count(of_rule(with_consume("http://127.0.0.1"), "external-https")) == 0
}

test_in_cluster_http_consumes_pass if {
	# voyages calls http://registry:3002: inside the cluster, the mesh or mTLS secures it.
	fleet.capabilities.voyages.consumes[0].baseUri == "http://registry:3002"
	count(of_rule(fleet, "external-https")) == 0
}

test_plain_http_external_api if {
	v := only(with_consume("HTTP://api.weather.example/v1"), "external-https")
	v.capability == "voyages"
	v.message == "capability `voyages` calls the external API `HTTP://api.weather.example/v1` over plain HTTP"
	v.at[0] == {"document": ["capability", "consumes", 1, "baseUri"]}
	v.at[1] == {"document": ["capability", "consumes", 1]}
}

test_localhost_lookalike_is_external if {
	v := only(with_consume("http://localhost.evil.example"), "external-https")
	v.capability == "voyages"
}
