# Skipper's baseline policy set (`stdlib:baseline`): what every fleet should pass.
#
# `skipper check` and `skipper build` evaluate `violation` against the facts of each
# output tree (`data.skipper`: one environment, and region, of the fleet; the book's
# Warden page documents the shape), and Warden bundles carry this file. Each violation
# is an object the compiler turns into a diagnostic:
#
#   rule        stable kebab-case id; the diagnostic code is `policy::<rule>`
#   severity    "error" or "warning"
#   capability  the capability concerned
#   message     one line, naming the capability (and the environment where it matters)
#   hint        how to fix it
#   at          candidate locations, most precise first; the first found in the user's
#               files is underlined: {"document": path} in the capability's document,
#               {"manifest": path} in naftiko.fleet.yaml
#
# Messages never depend on set iteration order. Only builtins that both regorus (the
# build-time check) and OPA (Warden) provide are used, and no builtin call (`in`, `>`,
# `is_string`…) is negated on a value that may be undefined: OPA then finds the `not`
# undefined where regorus finds it true.
package skipper.stdlib.baseline

import rego.v1

# ---------------------------------------------------------------------------------------
# Helpers (the strict set reuses them)
# ---------------------------------------------------------------------------------------

# The environment of this output tree, as the manifest names it.
env_name := data.skipper.environment.name

# Production environments get the stricter runtime checks.
production if data.skipper.environment.production == true

# Descriptions shorter than this say nothing a reader can use.
min_description_length := 20

# Where a layered manifest setting (`key`, a path such as ["engine", "version"]) of
# capability `c` may be written, the layer that wins first: the environment's override
# for the capability, the environment, the capability, the fleet's defaults.
setting_at(c, key) := [
	{"manifest": array.concat(["environments", env_name, "overrides", c], key)},
	{"manifest": array.concat(["environments", env_name], key)},
	{"manifest": array.concat(["capabilities", c], key)},
	{"manifest": array.concat(["defaults"], key)},
]

# Where an expose's field `key` is written in the document, then the expose itself.
expose_at(e, key) := [
	{"document": array.concat(["capability", "exposes", e.index], [key])},
	{"document": ["capability", "exposes", e.index]},
] if {
	e.index != null
}

# The control adapter Skipper adds (no index) is written nowhere: point at the list.
expose_at(e, _) := [{"document": ["capability", "exposes"]}] if {
	e.index == null
}

# Where a consume's field `key` is written in the document, then the entry itself
# (an `import` entry has no `baseUri` of its own).
consume_at(c, key) := [
	{"document": ["capability", "consumes", c.index, key]},
	{"document": ["capability", "consumes", c.index]},
]

# A stakeholder whose role is `owner`, whatever its case.
is_owner(s) if lower(trim_space(s.role)) == "owner"

# An API expose (REST or MCP) that lets unauthenticated requests in.
unauthenticated_api(e) if {
	e.kind in {"rest", "mcp"}
	not authenticated(e)
}

# `authentication` names a scheme (`bearer`, `oauth2`…); `null` means open.
authenticated(e) if {
	is_string(e.authentication)
	trim_space(e.authentication) != ""
}

# The description, trimmed; "" when there is none.
description_text(cap) := trim_space(d) if {
	d := object.get(cap, "description", null)
	is_string(d)
}

description_text(cap) := "" if {
	d := object.get(cap, "description", null)
	not is_string(d)
}

# What is wrong with a capability's description, if anything (at most one answer).
description_problem(cap) := "has no description" if description_text(cap) == ""

description_problem(cap) := msg if {
	n := count(description_text(cap))
	n > 0
	n < min_description_length
	msg := sprintf("has a description of only %d characters (at least %d)", [n, min_description_length])
}

description_problem(cap) := "has a description that only repeats its label" if {
	d := description_text(cap)
	count(d) >= min_description_length
	is_string(cap.label)
	lower(d) == lower(trim_space(cap.label))
}

# The resources a class must limit: the field of `ResourceFacts` in base units, the
# field as written, and how messages name it.
limited_resources := [
	{"base": "cpuMillis", "written": "cpu", "label": "CPU"},
	{"base": "memoryBytes", "written": "memory", "label": "memory"},
]

# Where a class's resource setting is written: the class (the fleet's own `classes`),
# then every layer that chooses the class for the capability, then the capability.
class_at(c, cap, key) := array.concat(
	array.concat(
		[
			{"manifest": array.concat(["classes", cap.class.name, "resources"], key)},
			{"manifest": ["classes", cap.class.name]},
		],
		setting_at(c, ["class"]),
	),
	[{"manifest": ["capabilities", c]}],
)

# ---------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------

# capability-owner: every capability needs an accountable owner to ask and to page.
violation contains v if {
	some name, cap in data.skipper.capabilities
	not has_owner(cap)
	v := {
		"rule": "capability-owner",
		"severity": "error",
		"capability": name,
		"message": sprintf("capability `%s` names no owner", [name]),
		"hint": "add a stakeholder with `role: owner` under `info.stakeholders`",
		"at": [{"document": ["info", "stakeholders"]}, {"document": ["info"]}],
	}
}

has_owner(cap) if {
	some s in cap.stakeholders
	is_owner(s)
}

# capability-description: catalogs, agents and on-call engineers learn from it what the capability does.
violation contains v if {
	some name, cap in data.skipper.capabilities
	problem := description_problem(cap)
	v := {
		"rule": "capability-description",
		"severity": "error",
		"capability": name,
		"message": sprintf("capability `%s` %s", [name, problem]),
		"hint": sprintf("write under `info.description` what the capability does, in at least %d characters", [min_description_length]),
		"at": [{"document": ["info", "description"]}, {"document": ["info"]}],
	}
}

# authenticated-exposes: in production, an open REST/MCP adapter lends the capability's credentials to anyone.
violation contains v if {
	production
	some name, cap in data.skipper.capabilities
	some e in cap.exposes
	unauthenticated_api(e)
	v := {
		"rule": "authenticated-exposes",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` serves its %s expose (port %d) without authentication in production environment `%s`",
			[name, e.kind, e.port, env_name],
		),
		"hint": "add `authentication` (e.g. `type: bearer`) to the expose",
		"at": expose_at(e, "authentication"),
	}
}

# control-port-internal: the control adapter (health, metrics, reload) is never for outside callers.
violation contains v if {
	some name, cap in data.skipper.capabilities
	some e in cap.exposes
	e.kind == "control"
	e.public == true
	v := {
		"rule": "control-port-internal",
		"severity": "error",
		"capability": name,
		"message": sprintf("capability `%s` publishes its control adapter (port %d) through the gateway", [name, e.port]),
		"hint": "publish only `rest` and `mcp` exposes under the capability's `expose:` in the manifest",
		"at": array.concat(expose_at(e, "port"), [{"manifest": ["capabilities", name, "expose"]}]),
	}
}

# control-port-internal: a public adapter on the control port would publish the control endpoints too.
violation contains v if {
	some name, cap in data.skipper.capabilities
	some control in cap.exposes
	control.kind == "control"
	some e in cap.exposes
	e.kind != "control"
	e.public == true
	e.port == control.port
	v := {
		"rule": "control-port-internal",
		"severity": "error",
		"capability": name,
		"message": sprintf("capability `%s` publishes its %s expose on port %d, the control port", [name, e.kind, e.port]),
		"hint": "give the `type: control` expose a port of its own",
		"at": array.concat(expose_at(e, "port"), expose_at(control, "port")),
	}
}

# engine-pinned: in production, a floating tag (`latest`, `1.0`) changes what runs with no change to the fleet.
violation contains v if {
	production
	some name, cap in data.skipper.capabilities
	pinning := object.get(cap.engine, "pinning", "unknown")
	not pinning in {"digest", "exact"}
	v := {
		"rule": "engine-pinned",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` runs engine `%s`, a floating version, in production environment `%s`",
			[name, cap.engine.reference, env_name],
		),
		"hint": "pin `engine.version` to a full version (e.g. `1.0.0-beta5`) or a digest (`sha256:…`)",
		"at": array.concat(
			array.concat(setting_at(name, ["engine", "version"]), setting_at(name, ["engine"])),
			[{"manifest": ["capabilities", name]}],
		),
	}
}

# class-limits: a container without CPU and memory limits can starve its neighbours.
violation contains v if {
	some name, cap in data.skipper.capabilities
	some r in limited_resources
	object.get(cap.class.limits, r.base, 0) <= 0
	v := {
		"rule": "class-limits",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` runs with class `%s` in environment `%s`, which sets no %s limit",
			[name, cap.class.name, env_name, r.label],
		),
		"hint": sprintf("set `resources.limits.%s` in class `%s`", [r.written, cap.class.name]),
		"at": class_at(name, cap, ["limits", r.written]),
	}
}

# class-limits: a limit below the request can never be honoured by the scheduler.
violation contains v if {
	some name, cap in data.skipper.capabilities
	some r in limited_resources
	cap.class.limits[r.base] > 0
	cap.class.limits[r.base] < cap.class.requests[r.base]
	v := {
		"rule": "class-limits",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` runs with class `%s` in environment `%s`, whose %s limit %s is below its request %s",
			[name, cap.class.name, env_name, r.label, cap.class.limits[r.written], cap.class.requests[r.written]],
		),
		"hint": sprintf("raise `resources.limits.%s` of class `%s` to at least its request", [r.written, cap.class.name]),
		"at": class_at(name, cap, ["limits", r.written]),
	}
}

# undeclared-capability: a call to an in-cluster host outside the fleet is a dependency Skipper cannot see or authorize.
violation contains v if {
	some name, cap in data.skipper.capabilities
	some c in cap.consumes
	c.inCluster == true
	c.capability == null
	v := {
		"rule": "undeclared-capability",
		"severity": "error",
		"capability": name,
		"message": sprintf(
			"capability `%s` consumes `%s`, an in-cluster host that is no capability of fleet `%s`",
			[name, c.baseUri, data.skipper.fleet],
		),
		"hint": "add the capability the host names to the fleet, fix the host name, or use the service's external address",
		"at": consume_at(c, "baseUri"),
	}
}
