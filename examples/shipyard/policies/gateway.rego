# Shipyard's own convention, checked at build time beside the stdlib's baseline:
# a capability published on the REST gateway is reached under a path named after it,
# so a caller can tell from a URL which capability answers.
package shipyard.gateway

import rego.v1

violation contains v if {
	some name, capability in data.skipper.capabilities
	path := capability.gateway.restPath
	path != null
	not startswith(path, sprintf("/%s", [name]))
	v := {
		"rule": "gateway-path-names-capability",
		"severity": "error",
		"capability": name,
		"message": sprintf("`%s` is published on the REST gateway under `%s`, not under `/%s`", [name, path, name]),
		"hint": sprintf("set `capabilities.%s.expose.rest.path` to `/%s`", [name, name]),
		"at": [{"manifest": ["capabilities", name, "expose", "rest", "path"]}],
	}
}
