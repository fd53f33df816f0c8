//! Class lookup: built-in classes, the fleet's own, `extends` chains, and the checks a
//! class must pass (requests within limits, HPA bounds in order).

use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest::{ClassDecl, ClassSettings, Manifest};
use crate::model::*;
use crate::source::Span;
use crate::stdlib::Stdlib;
use std::collections::BTreeMap;

/// Why an `extends` chain does not reach [`BASE_CLASS`].
enum Broken<'n> {
    /// `current` extends `parent`, which is already in the chain: `cycle` lists it.
    Cycle {
        cycle: Vec<&'n str>,
        current: &'n str,
        parent: &'n str,
        span: Option<Span>,
    },
    /// A parent that does not exist (reported by the reference checks).
    Unknown,
}

/// The class every other class extends unless it says otherwise.
pub const BASE_CLASS: &str = "standard";

pub struct ClassTable<'a> {
    manifest: &'a Manifest,
    stdlib: &'a Stdlib,
    /// `None` once a class failed: its errors are reported once.
    cache: BTreeMap<String, Option<ClassSpec>>,
}

impl<'a> ClassTable<'a> {
    pub fn new(manifest: &'a Manifest, stdlib: &'a Stdlib) -> Self {
        ClassTable {
            manifest,
            stdlib,
            cache: BTreeMap::new(),
        }
    }

    pub fn names(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .stdlib
            .classes
            .iter()
            .chain(&self.manifest.classes)
            .map(|c| c.name.value.as_str())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn exists(&self, name: &str) -> bool {
        self.stdlib.class(name).is_some() || self.manifest.class(name).is_some()
    }

    fn decls(&self, name: &str) -> [Option<&'a ClassDecl>; 2] {
        [self.stdlib.class(name), self.manifest.class(name)]
    }

    /// The declarations that make up class `name`, in the order they are merged: the root
    /// of its `extends` chain first, and for each class the built-in one before the
    /// fleet's own. Empty when the chain is broken (which building the class reports).
    pub fn lineage(&self, name: &str) -> Vec<&'a ClassDecl> {
        let Ok(chain) = self.chain(name) else {
            return Vec::new();
        };
        chain
            .iter()
            .rev()
            .flat_map(|class| self.decls(class).into_iter().flatten())
            .collect()
    }

    /// The `extends` chain of `name`, from `name` up to [`BASE_CLASS`]. One walk serves
    /// both building a class and explaining where its fields came from, so the two agree.
    fn chain<'n>(&self, name: &'n str) -> Result<Vec<&'n str>, Broken<'n>>
    where
        'a: 'n,
    {
        let mut chain: Vec<&'n str> = vec![name];
        loop {
            let current = chain[chain.len() - 1];
            let [builtin, user] = self.decls(current);
            let extends = user
                .and_then(|d| d.extends.as_ref())
                .or_else(|| builtin.and_then(|d| d.extends.as_ref()));
            let parent: &'n str = match extends {
                Some(e) => e.value.as_str(),
                None if current == BASE_CLASS => return Ok(chain),
                None => BASE_CLASS,
            };
            if let Some(pos) = chain.iter().position(|c| *c == parent) {
                return Err(Broken::Cycle {
                    cycle: chain[pos..].iter().copied().chain([parent]).collect(),
                    current,
                    parent,
                    span: extends.map(|e| e.span),
                });
            }
            if !self.exists(parent) {
                return Err(Broken::Unknown);
            }
            chain.push(parent);
        }
    }

    /// The fully merged class, or `None` after reporting why it cannot be built.
    pub fn spec(&mut self, name: &str, diags: &mut Diagnostics) -> Option<ClassSpec> {
        if let Some(cached) = self.cache.get(name) {
            return cached.clone();
        }
        let spec = self.build(name, diags);
        self.cache.insert(name.to_string(), spec.clone());
        spec
    }

    fn build(&self, name: &str, diags: &mut Diagnostics) -> Option<ClassSpec> {
        // Walk the `extends` chain up to the root, then merge from the root down.
        let chain = match self.chain(name) {
            Ok(chain) => chain,
            Err(Broken::Cycle {
                cycle,
                current,
                parent,
                span,
            }) => {
                let mut d = Diagnostic::error(
                    "skipper::class-cycle",
                    format!("class inheritance cycle: {}", cycle.join(" → ")),
                );
                if let Some(span) = span {
                    d = d.label(span, format!("`{current}` extends `{parent}`"));
                }
                diags.push(d.help("a class extends one other class, and the chain must end at `standard`"));
                return None;
            }
            // Reported as an unknown reference by the checks; nothing more to say here.
            Err(Broken::Unknown) => return None,
        };
        let mut merged = ClassSettings::default();
        for class in chain.iter().rev() {
            for decl in self.decls(class).into_iter().flatten() {
                if !decl.valid {
                    return None; // its errors are reported; checking it further repeats them
                }
                merged.merge(&decl.spec);
            }
        }
        let span = self.decls(name).into_iter().flatten().last().map(|d| d.name.span);
        finish(name, &merged, span, diags)
    }
}

fn finish(name: &str, c: &ClassSettings, span: Option<Span>, diags: &mut Diagnostics) -> Option<ClassSpec> {
    macro_rules! get {
        ($field:ident) => {
            match &c.$field {
                Some(v) => v.value.clone(),
                None => {
                    let mut d = Diagnostic::error(
                        "skipper::incomplete-class",
                        format!("class `{name}` does not set `{}`", stringify!($field)),
                    );
                    if let Some(span) = span {
                        d = d.label(span, "defined here");
                    }
                    diags.push(d.help("extend `standard`, which sets every field"));
                    return None;
                }
            }
        };
    }
    let requests = ResourceList {
        cpu: get!(requests_cpu),
        memory: get!(requests_memory),
    };
    let limits = ResourceList {
        cpu: get!(limits_cpu),
        memory: get!(limits_memory),
    };
    let mut ok = true;
    for (what, req, lim, req_span, lim_span) in [
        (
            "cpu",
            &requests.cpu,
            &limits.cpu,
            c.requests_cpu.as_ref().map(|s| s.span),
            c.limits_cpu.as_ref().map(|s| s.span),
        ),
        (
            "memory",
            &requests.memory,
            &limits.memory,
            c.requests_memory.as_ref().map(|s| s.span),
            c.limits_memory.as_ref().map(|s| s.span),
        ),
    ] {
        if req.value() > lim.value() {
            ok = false;
            let mut d = Diagnostic::error(
                "skipper::requests-exceed-limits",
                format!("class `{name}` requests more {what} ({req}) than its limit ({lim})"),
            );
            if let Some(s) = req_span {
                d = d.label(s, format!("requests {req}"));
            }
            if let Some(s) = lim_span {
                d = d.label(s, format!("limit {lim}"));
            }
            diags.push(d.help(format!(
                "Kubernetes rejects a pod whose {what} request is above its limit: raise the limit or lower the request"
            )));
        }
    }
    let hpa = if get!(hpa_enabled) {
        let min = get!(hpa_min_replicas);
        let max = get!(hpa_max_replicas);
        if min > max {
            ok = false;
            let mut d = Diagnostic::error(
                "skipper::hpa-bounds",
                format!("class `{name}` has hpa.minReplicas {min} above hpa.maxReplicas {max}"),
            );
            for s in [&c.hpa_min_replicas, &c.hpa_max_replicas].into_iter().flatten() {
                d = d.label(s.span, "");
            }
            diags.push(d.help("set minReplicas ≤ maxReplicas"));
        }
        Some(HpaSpec {
            min_replicas: min,
            max_replicas: max,
            target_requests_per_second: get!(hpa_target_requests_per_second),
            target_cpu_utilization_percentage: get!(hpa_target_cpu_utilization),
        })
    } else {
        None
    };
    let spec = ClassSpec {
        name: name.to_string(),
        resources: Resources { requests, limits },
        hpa,
        disruption: DisruptionSpec {
            max_unavailable: get!(disruption_max_unavailable),
        },
        resilience: ResilienceSpec {
            timeout: get!(timeout),
            circuit_breaker: CircuitBreakerSpec {
                failure_rate_threshold: get!(cb_failure_rate_threshold),
                sliding_window_size: get!(cb_sliding_window_size),
                wait_duration_in_open_state: get!(cb_wait_duration_in_open_state),
            },
            retry: RetrySpec {
                max_attempts: get!(retry_max_attempts),
                wait_duration: get!(retry_wait_duration),
                retry_on_status_at_least: get!(retry_on_status_at_least),
            },
            bulkhead: BulkheadSpec {
                max_concurrent_calls: get!(bulkhead_max_concurrent_calls),
            },
            rate_limit: RateLimitSpec {
                limit_for_period: get!(rate_limit_for_period),
                limit_refresh_period: get!(rate_limit_refresh_period),
            },
        },
    };
    ok.then_some(spec)
}
