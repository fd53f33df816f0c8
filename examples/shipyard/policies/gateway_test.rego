package shipyard.gateway_test

import rego.v1

# Facts are replaced key by key: `data.skipper` also holds the stdlib's packages, which
# `with data.skipper as …` would hide.
capabilities(path) := {"registry": {"gateway": {"restPath": path, "mcp": false}}}

test_path_named_after_the_capability_passes if {
	count(data.shipyard.gateway.violation) == 0 with data.skipper.capabilities as capabilities("/registry")
}

test_other_path_is_a_violation if {
	some v in data.shipyard.gateway.violation with data.skipper.capabilities as capabilities("/ships")
	v.rule == "gateway-path-names-capability"
	v.capability == "registry"
}

test_unpublished_capability_is_not_checked if {
	count(data.shipyard.gateway.violation) == 0 with data.skipper.capabilities as capabilities(null)
}
