# Skipper's runtime authorization policy: which calls between capabilities Warden lets
# through. Every Warden bundle carries it; `data.skipper` is the fleet's facts.
#
# Input, one call:
#   source  who calls: a capability's name, "gateway" for the fleet's ingress gateway
#           (traffic from outside the cluster), or another in-cluster workload's
#           identity (e.g. "prometheus")
#   target  the capability called
#   kind    the adapter called: "rest", "mcp", "skill" or "control"
#   port    the port called (optional; a call on the control port is a control call
#           whatever its `kind`)
#   path    the request path (read for control calls)
#
# Output: `allow`, and `reasons` (why a call is denied; empty when allowed).
package skipper.stdlib.authz

import rego.v1

# Deny unless a rule below allows the call.
default allow := false

# Control paths any in-cluster caller may read: probes and metrics scrapers.
open_control_paths := ["/health/live", "/health/ready", "/metrics"]

# The capability called, when it is one of the fleet.
target := data.skipper.capabilities[input.target]

# A call to the target's control adapter, named by kind or by port.
control_call if input.kind == "control"

control_call if {
	some e in target.exposes
	e.kind == "control"
	input.port == e.port
}

# The request path without its query string; "" when the call gives none.
path := split(p, "?")[0] if {
	p := object.get(input, "path", "")
	is_string(p)
}

path := "" if {
	p := object.get(input, "path", "")
	not is_string(p)
}

# The caller gave its name.
source_named if {
	is_string(input.source)
	input.source != ""
}

# The fleet's facts have an edge from the caller to the target.
edge_exists if {
	some edge in data.skipper.edges
	edge.from == input.source
	edge.to == input.target
}

# The target publishes an adapter of the kind called (REST or MCP) through the gateway.
public_kind if {
	input.kind in {"rest", "mcp"}
	some e in target.exposes
	e.kind == input.kind
	e.public == true
}

# A capability may call the capabilities it depends on (`dependsOn` or `consumes`),
# but not their control adapters.
allow if {
	not control_call
	edge_exists
}

# The gateway routes outside traffic only to the adapters the manifest publishes.
allow if {
	input.source == "gateway"
	not control_call
	public_kind
}

# Health and metrics are open to every workload in the cluster (not to the gateway,
# which relays callers from outside).
allow if {
	control_call
	target
	in_cluster_caller
	path in open_control_paths
}

# A named caller other than the gateway.
in_cluster_caller if {
	source_named
	input.source != "gateway"
}

# Why the call is denied, for decision logs and error bodies.
reasons contains msg if {
	not allow
	some msg in denials
}

# Every denial is explained, even one no specific reason below covers.
reasons contains "no rule allows this call" if {
	not allow
	count(denials) == 0
}

# The target is no capability of this fleet.
denials contains sprintf("`%s` is not a capability of fleet `%s`", [input.target, data.skipper.fleet]) if {
	is_string(input.target)
	not data.skipper.capabilities[input.target]
}

# The call says nobody called.
denials contains "the call names no source" if not source_named

# A capability called another it does not depend on.
denials contains msg if {
	target
	in_cluster_caller
	data.skipper.capabilities[input.source]
	not control_call
	not edge_exists
	msg := sprintf(
		"`%s` does not depend on `%s`: declare it in `capabilities.%s.dependsOn`",
		[input.source, input.target, input.source],
	)
}

# A workload outside the fleet asked for more than health and metrics.
denials contains msg if {
	target
	in_cluster_caller
	not data.skipper.capabilities[input.source]
	not control_call
	msg := sprintf(
		"`%s` is no capability of fleet `%s`: it may only read health and metrics of `%s`",
		[input.source, data.skipper.fleet, input.target],
	)
}

# The gateway asked for an adapter the manifest does not publish.
denials contains msg if {
	target
	input.source == "gateway"
	not control_call
	not public_kind
	msg := sprintf("`%s` publishes no %s expose through the gateway", [input.target, object.get(input, "kind", "unknown")])
}

# The gateway never reaches a control adapter.
denials contains msg if {
	target
	input.source == "gateway"
	control_call
	msg := sprintf("the gateway may not call the control adapter of `%s`", [input.target])
}

# Another workload asked for a control path that is not health or metrics.
denials contains msg if {
	target
	in_cluster_caller
	control_call
	not path in open_control_paths
	msg := sprintf(
		"only %s of `%s`'s control adapter are open to other workloads, not %s",
		[concat(", ", open_control_paths), input.target, requested_path],
	)
}

# The path asked for, as denials name it.
requested_path := sprintf("`%s`", [path]) if path != ""

requested_path := "a call without a path" if path == ""
