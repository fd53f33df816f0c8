"""The engine's request metrics and their Prometheus text, as served on the control port.

EF §1.8 names the metrics; the engine's own serializer (engine:
PrometheusTextSerializer.java, EngineMetrics.java) fixes the bytes: `.`/`-` become `_`, no
`_total` suffix is added, counters are cumulative, `# HELP` is the instrument description,
labels come in OTel attribute order (sorted by the attribute key, e.g. `error.type` before
`ikanos.adapter.type`), `le` and whole-number values print without a decimal point, other
doubles with Java's `%g`. Like the OTel SDK, a series exists only once it was recorded,
and an instrument with no series is not written at all.
"""

import math
import threading

# EF §0 item 7 / top section: no explicit buckets, so the OTel SDK defaults (meant for
# milliseconds) apply to SECONDS. Upper bounds are inclusive, as in OTel.
BUCKETS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)

# (prometheus name, type, HELP text, label names) in the engine's declaration order
# (engine: EngineMetrics constructor). Label names are the sanitised attribute keys,
# listed in the sorted attribute-key order the OTel SDK keeps.
REQUEST_TOTAL = ("ikanos_request_total", "counter", "Total number of requests handled by the engine")
REQUEST_DURATION = ("ikanos_request_duration_seconds", "histogram", "Duration of request handling in seconds")
REQUEST_ERRORS = ("ikanos_request_errors", "counter", "Total number of request errors")
CAPABILITY_ACTIVE = ("ikanos_capability_active", "gauge", "Number of active capabilities")  # up/down counter → gauge


def java_number(value):
    """engine: PrometheusTextSerializer.formatValue — longs and whole doubles as integers,
    anything else with String.format(Locale.US, "%g") (6 significant digits, trailing
    zeros kept, scientific notation below 1e-4 or from 1e6)."""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    mantissa_exponent = f"{value:.5e}"
    exponent = int(mantissa_exponent.split("e")[1])
    rounded = float(mantissa_exponent)
    if rounded != 0 and (abs(rounded) < 1e-4 or abs(rounded) >= 1e6):
        return mantissa_exponent
    return f"{value:.{max(0, 5 - exponent)}f}"


def _escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs):
    return ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs)


class Metrics:
    def __init__(self, enabled=True):
        # engine: EngineMetrics(enabled) — with observability disabled nothing is recorded.
        self.enabled = enabled
        self.lock = threading.Lock()
        self.requests = {}   # (adapter, operation, status) → count
        self.durations = {}  # same key → [bucket counts..., sum, count]
        self.errors = {}     # (error_type, adapter, operation) → count
        self.active = {}     # capability → value

    def record_request(self, adapter, operation, status, seconds):
        """engine: EngineMetrics.recordRequest, called by ResourceRestlet (rest), ToolHandler
        (mcp, tools/call only) and SkillServerResource (skill)."""
        if not self.enabled:
            return
        key = (adapter, operation, str(status))
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            point = self.durations.setdefault(key, [0] * (len(BUCKETS) + 1) + [0.0, 0])
            index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
            point[index] += 1
            point[-2] += seconds
            point[-1] += 1

    def record_error(self, adapter, operation, error_type):
        """engine: EngineMetrics.recordRequestError — only for an exception (its simple class
        name) or an MCP tool result with isError (`handled_error`); EF §1.8."""
        if not self.enabled:
            return
        key = (error_type, adapter, operation)
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1

    def capability_started(self, display):
        # engine: Capability.start → capabilityStarted(info.display or "unknown"), after
        # every adapter has started.
        if self.enabled:
            with self.lock:
                self.active[display] = self.active.get(display, 0) + 1

    def capability_stopped(self, display):
        if self.enabled:
            with self.lock:
                self.active[display] = self.active.get(display, 0) - 1

    def render(self):
        out = []
        with self.lock:
            if self.requests:
                self._header(out, REQUEST_TOTAL)
                for (adapter, op, status), count in self.requests.items():
                    labels = _labels((("ikanos_adapter_type", adapter), ("ikanos_operation_id", op), ("status", status)))
                    out.append(f"ikanos_request_total{{{labels}}} {count}")
            if self.durations:
                self._header(out, REQUEST_DURATION)
                for (adapter, op, status), point in self.durations.items():
                    labels = _labels((("ikanos_adapter_type", adapter), ("ikanos_operation_id", op), ("status", status)))
                    cumulative = 0
                    for i in range(len(BUCKETS) + 1):
                        cumulative += point[i]
                        le = java_number(BUCKETS[i]) if i < len(BUCKETS) else "+Inf"
                        out.append(f'ikanos_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
                    out.append(f"ikanos_request_duration_seconds_sum{{{labels}}} {java_number(float(point[-2]))}")
                    out.append(f"ikanos_request_duration_seconds_count{{{labels}}} {point[-1]}")
            if self.errors:
                self._header(out, REQUEST_ERRORS)
                for (error_type, adapter, op), count in self.errors.items():
                    labels = _labels((("error_type", error_type), ("ikanos_adapter_type", adapter), ("ikanos_operation_id", op)))
                    out.append(f"ikanos_request_errors{{{labels}}} {count}")
            if self.active:
                self._header(out, CAPABILITY_ACTIVE)
                for display, value in self.active.items():
                    out.append(f'ikanos_capability_active{{ikanos_capability="{_escape(display)}"}} {value}')
        return "".join(line + "\n" for line in out)

    @staticmethod
    def _header(out, metric):
        name, kind, description = metric
        out.append(f"# HELP {name} {description}")
        out.append(f"# TYPE {name} {kind}")
