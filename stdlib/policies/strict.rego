# Skipper's strict policy set (`stdlib:strict`): the baseline and more.
#
# The `strict` set loads baseline.rego and this file, and checks the `violation`s of
# both packages, so nothing here repeats a baseline rule: these rules only add what the
# baseline leaves alone. Violations follow the baseline's convention (see
# baseline.rego); the helpers (layered setting locations, owners…) are the baseline's.
package skipper.stdlib.strict

import data.skipper.stdlib.baseline
import rego.v1

# declared-dependencies: reviewers see every call between capabilities in the manifest, not inferred from `consumes`.
violation contains v if {
	some edge in data.skipper.edges
	not edge.declared
	v := {
		"rule": "declared-dependencies",
		"severity": "error",
		"capability": edge.from,
		"message": sprintf(
			"capability `%s` calls `%s`, which its `dependsOn` does not declare (inferred from its `consumes`)",
			[edge.from, edge.to],
		),
		"hint": sprintf("add `%s` to `capabilities.%s.dependsOn`", [edge.to, edge.from]),
		"at": [{"manifest": ["capabilities", edge.from, "dependsOn"]}, {"manifest": ["capabilities", edge.from]}],
	}
}

# authenticated-exposes-everywhere: open REST/MCP adapters leak data in staging too (production is the baseline's rule).
violation contains v if {
	not baseline.production
	some name, cap in data.skipper.capabilities
	some e in cap.exposes
	baseline.unauthenticated_api(e)
	v := {
		"rule": "authenticated-exposes-everywhere",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` serves its %s expose (port %d) without authentication in environment `%s`",
			[name, e.kind, e.port, baseline.env_name],
		),
		"hint": "add `authentication` (e.g. `type: bearer`) to the expose",
		"at": baseline.expose_at(e, "authentication"),
	}
}

# owner-contact: an owner nobody can reach is no owner (no owner at all is the baseline's `capability-owner`).
violation contains v if {
	some name, cap in data.skipper.capabilities
	some i, s in cap.stakeholders
	baseline.is_owner(s)
	not has_email(s)
	v := {
		"rule": "owner-contact",
		"severity": "error",
		"capability": name,
		"message": sprintf("owner `%s` of capability `%s` has no email", [s.fullName, name]),
		"hint": "add an `email` to the owner under `info.stakeholders`",
		"at": [
			{"document": ["info", "stakeholders", i, "email"]},
			{"document": ["info", "stakeholders", i]},
			{"document": ["info", "stakeholders"]},
		],
	}
}

has_email(s) if {
	is_string(s.email)
	contains(s.email, "@")
}

# production-redundancy: with one replica, a single pod eviction or node failure takes the capability down.
violation contains v if {
	baseline.production
	some name, cap in data.skipper.capabilities
	cap.replicas < 2
	v := {
		"rule": "production-redundancy",
		"severity": "warning",
		"capability": name,
		"message": sprintf(
			"capability `%s` runs %d replica(s) in production environment `%s`",
			[name, cap.replicas, baseline.env_name],
		),
		"hint": "set `replicas: 2` or more (with an autoscaling class, it raises the HPA's `minReplicas`)",
		"at": array.concat(
			baseline.setting_at(name, ["replicas"]),
			[
				{"manifest": ["classes", cap.class.name, "hpa", "minReplicas"]},
				{"manifest": ["environments", baseline.env_name, "overrides", name]},
				{"manifest": ["capabilities", name]},
			],
		),
	}
}

# external-https: calls leaving the cluster carry credentials that plain HTTP exposes (loopback never leaves the pod).
violation contains v if {
	some name, cap in data.skipper.capabilities
	some c in cap.consumes
	c.inCluster == false
	startswith(lower(c.baseUri), "http://")
	not loopback(c.baseUri)
	v := {
		"rule": "external-https",
		"severity": "error",
		"capability": name,
		"message": sprintf("capability `%s` calls the external API `%s` over plain HTTP", [name, c.baseUri]),
		"hint": "use the API's `https://` address",
		"at": baseline.consume_at(c, "baseUri"),
	}
}

loopback(uri) if regex.match(`^(?i)http://(localhost|127\.[0-9.]+|\[::1\])(:[0-9]+)?(/.*)?$`, uri)
