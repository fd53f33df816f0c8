//! Resolution: defaults → capability → environment → per-capability override, with the
//! class chosen by the result, into one [`ResolvedCapability`] per environment.

mod binds;
mod catalog;
mod checks;
mod classes;
mod gateway;
mod gitops;
mod limits;
mod mcp_names;
mod mtls;
mod stores;
mod telemetry;

pub use catalog::{Catalog, LoadedDocument};
pub use classes::{BASE_CLASS, ClassTable};
pub use limits::CONFIGMAP_DATA_LIMIT;

use crate::capdoc::{CapabilityDocument, DEFAULT_CONTROL_PORT, deployed_document};
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::FleetGraph;
use crate::lock::Lock;
use crate::manifest::{CapabilityDecl, EnvironmentDecl, Manifest, Settings};
use crate::model::*;
use crate::source::{SourceMap, Span, Spanned};
use crate::stdlib::Stdlib;
use std::collections::{BTreeMap, HashMap};

/// Per-capability facts that do not depend on the environment.
struct Prepared {
    exposes: Vec<ExposeSpec>,
    /// The port of the control adapter Skipper adds, if the document has none.
    add_control: Option<u16>,
    /// The deployed copy as every environment whose tracing settings agree with the
    /// document gets it (an environment that disagrees gets its own, see [`telemetry`]).
    document: DeployedDocument,
    /// The control adapter serves `/metrics`.
    metrics: bool,
}

/// Resolves every environment, each with the versions (and engines) `lock` pins.
pub fn resolve(
    manifest: &Manifest,
    stdlib: &Stdlib,
    catalog: &Catalog,
    lock: &Lock,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<ResolvedFleet> {
    let mut classes = ClassTable::new(manifest, stdlib);
    checks::references(manifest, &classes, catalog, diags);
    // Every declared class is checked, used or not: a broken class is a latent bug.
    for class in &manifest.classes {
        classes.spec(&class.name.value, diags);
    }
    let mut prepared = BTreeMap::new();
    for (name, loaded) in catalog.all() {
        if let Some(p) = prepare(name, &loaded.document, sources, diags) {
            prepared.insert((name, loaded.version.as_str()), p);
        }
    }
    let gitops = gitops::spec(manifest, diags);
    gateway::check_conflicts(manifest, diags);
    // By name: a fleet may have thousands of capabilities, looked up once per environment.
    let decls: HashMap<&str, &CapabilityDecl> = manifest
        .capabilities
        .iter()
        .map(|c| (c.name.value.as_str(), c))
        .collect();
    let mut environments = Vec::new();
    for env in &manifest.environments {
        // The documents this environment runs: its pins, else the newest.
        let selected: BTreeMap<&str, &LoadedDocument> = manifest
            .capabilities
            .iter()
            .filter_map(|c| {
                let name = c.name.value.as_str();
                let pinned = lock
                    .get(&env.name.value, name)
                    .and_then(|p| catalog.get(name, &p.version));
                pinned.or_else(|| catalog.newest(name)).map(|d| (name, d))
            })
            .collect();
        // Versions differ between environments, and with them the calls between
        // capabilities: each environment has its own graph.
        let graph = FleetGraph::of_fleet(manifest, |name| selected.get(name).map(|d| &d.document), diags);
        graph.report_cycles(diags);
        let env_binds = binds::by_namespace(env);
        let mut capabilities = Vec::new();
        let mut env_classes = BTreeMap::new();
        for name in &graph.topological_order() {
            let (Some(&decl), Some(loaded)) = (decls.get(name.as_str()), selected.get(name.as_str())) else {
                continue;
            };
            let Some(prep) = prepared.get(&(name.as_str(), loaded.version.as_str())) else {
                continue;
            };
            let input = CapabilityInput {
                manifest,
                stdlib,
                env,
                env_binds: &env_binds,
                decl,
                loaded,
                prepared: prep,
                graph: &graph,
                engine: lock.get(&env.name.value, name).map(|p| p.engine.clone()),
                sources,
            };
            if let Some(cap) = resolve_capability(&input, &mut classes, diags) {
                env_classes.insert(cap.class.name.clone(), cap.class.clone());
                capabilities.push(cap);
            }
        }
        let env_settings = layered(&[&stdlib.defaults, &manifest.defaults, &env.settings]);
        let mesh = value(&env_settings.mesh, Mesh::Native);
        mtls::check_unused(env, mesh, diags);
        gateway::with_names(&mut capabilities, mcp_names::names(manifest, env, &selected, diags));
        environments.push(ResolvedEnvironment {
            name: env.name.value.clone(),
            namespace: env.namespace.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
            cluster: env.cluster.as_ref().map(|c| c.value.clone()),
            regions: env
                .regions
                .iter()
                .map(|r| Region {
                    name: r.name.value.clone(),
                    cluster: r.cluster.as_ref().or(env.cluster.as_ref()).map(|c| c.value.clone()),
                })
                .collect(),
            primary_region: env
                .failover_primary
                .as_ref()
                .map(|p| p.value.clone())
                .or_else(|| env.regions.first().map(|r| r.name.value.clone())),
            promote_from: env.promote_from.as_ref().map(|p| p.value.clone()),
            delivery: value(&env_settings.delivery, Delivery::Manifests),
            mesh,
            secret_stores: stores::used_by(manifest, &capabilities),
            capabilities,
            classes: env_classes,
            mtls_issuer: env_settings
                .mtls_issuer
                .as_ref()
                .filter(|_| mesh == Mesh::Native)
                .map(|i| i.value.clone()),
            production: is_production(manifest, env),
            warden: None,
            gitops: gitops.clone(),
            mcp_prefix: mcp_names::prefix_mode(manifest, env),
        });
    }
    if diags.has_errors() {
        return None;
    }
    Some(ResolvedFleet {
        name: manifest.fleet.name.value.clone(),
        description: manifest.fleet.description.as_ref().map(|d| d.value.clone()),
        environments,
    })
}

/// Policies treat an environment as production when it is named so, or when it ends a
/// promotion chain (it is promoted into, and promotes to nothing).
fn is_production(manifest: &Manifest, env: &EnvironmentDecl) -> bool {
    let name = env.name.value.as_str();
    let promoted_from_here = manifest
        .environments
        .iter()
        .any(|e| e.promote_from.as_ref().is_some_and(|p| p.value == name));
    matches!(name, "prod" | "production") || (env.promote_from.is_some() && !promoted_from_here)
}

/// The settings layers of one capability in one environment, lowest first: the stdlib's
/// defaults, `defaults`, `capabilities.<c>`, `environments.<e>` and its
/// `overrides.<c>` (`None` when it has none). [`capability_settings`] merges them and
/// `explain` shows them one by one, so both read the layers in this one order.
pub fn capability_layers<'m>(
    manifest: &'m Manifest,
    stdlib: &'m Stdlib,
    env: &'m EnvironmentDecl,
    decl: &'m CapabilityDecl,
) -> [Option<&'m Settings>; 5] {
    let over = env.overrides.iter().find(|o| o.capability.value == decl.name.value);
    [
        Some(&stdlib.defaults),
        Some(&manifest.defaults),
        Some(&decl.settings),
        Some(&env.settings),
        over.map(|o| &o.settings),
    ]
}

/// The settings of one capability in one environment, every layer applied.
fn capability_settings(manifest: &Manifest, stdlib: &Stdlib, env: &EnvironmentDecl, decl: &CapabilityDecl) -> Settings {
    let layers: Vec<&Settings> = capability_layers(manifest, stdlib, env, decl)
        .into_iter()
        .flatten()
        .collect();
    layered(&layers)
}

/// Where the manifest (or the stdlib) set the engine version one capability gets in one
/// environment.
pub fn engine_version_span(
    manifest: &Manifest,
    stdlib: &Stdlib,
    env: &EnvironmentDecl,
    decl: &CapabilityDecl,
) -> Option<Span> {
    capability_settings(manifest, stdlib, env, decl)
        .engine_version
        .map(|v| v.span)
}

fn settings_engine(s: &Settings) -> EngineRef {
    EngineRef {
        image: value(&s.engine_image, String::new()),
        version: value(&s.engine_version, String::new()),
    }
}

/// The engine the manifest asks for, for one capability in one environment: what a new
/// pin records (a pin then keeps it until it is promoted or re-locked).
pub fn engine_for(manifest: &Manifest, stdlib: &Stdlib, env: &EnvironmentDecl, decl: &CapabilityDecl) -> EngineRef {
    settings_engine(&capability_settings(manifest, stdlib, env, decl))
}

fn layered(layers: &[&Settings]) -> Settings {
    let mut merged = Settings::default();
    for layer in layers {
        merged.merge(layer);
    }
    merged
}

/// The value a layer chain settled on. The stdlib sets every field, so the fallback is
/// only reached if the stdlib itself is broken (which its own test catches).
fn value<T: Clone>(field: &Option<Spanned<T>>, fallback: T) -> T {
    field.as_ref().map_or(fallback, |s| s.value.clone())
}

/// Exposes with ports and names, port clashes, the control adapter, the deployed copy.
fn prepare(name: &str, doc: &CapabilityDocument, sources: &SourceMap, diags: &mut Diagnostics) -> Option<Prepared> {
    let mut ok = true;
    let mut by_port: BTreeMap<u16, &crate::capdoc::DocumentExpose> = BTreeMap::new();
    for expose in &doc.exposes {
        let Some(port) = &expose.port else { continue };
        if let Some(first) = by_port.get(&port.value) {
            ok = false;
            let first_span = first.port.as_ref().map_or(first.span, |p| p.span);
            diags.push(
                Diagnostic::error(
                    "skipper::port-clash",
                    format!("two adapters of `{name}` listen on port {}", port.value),
                )
                .label(port.span, format!("{} adapter on {}", expose.kind, port.value))
                .label(
                    first_span,
                    format!("{} adapter already listens on {}", first.kind, port.value),
                )
                .help("each adapter of a capability needs its own port"),
            );
        } else {
            by_port.insert(port.value, expose);
        }
    }
    let mut seen_binds: BTreeMap<&str, &crate::capdoc::DocumentBind> = BTreeMap::new();
    for bind in &doc.binds {
        if let Some(first) = seen_binds.insert(bind.namespace.value.as_str(), bind) {
            ok = false;
            diags.push(
                Diagnostic::error(
                    "skipper::duplicate-bind",
                    format!(
                        "bind namespace `{}` is declared twice in `{name}`",
                        bind.namespace.value
                    ),
                )
                .label(bind.namespace.span, "declared again here")
                .label(first.namespace.span, "first declared here")
                .help("merge the two binds' keys into one entry"),
            );
        }
    }
    for expose in doc.exposes.iter().filter(|e| e.stdio) {
        diags.push(
            Diagnostic::warning(
                "skipper::stdio-expose",
                format!("the MCP adapter of `{name}` uses stdio, which nothing can reach in a pod"),
            )
            .label(expose.span, "transport: stdio")
            .help("use `transport: http` with a `port` to serve MCP from the cluster"),
        );
    }
    let has_control = doc.exposes.iter().any(|e| e.kind == ExposeKind::Control);
    let add_control = (!has_control).then(|| {
        let port = (DEFAULT_CONTROL_PORT..u16::MAX)
            .find(|p| !by_port.contains_key(p))
            .unwrap_or(DEFAULT_CONTROL_PORT);
        diags.push(
            Diagnostic::warning(
                "skipper::control-port-added",
                format!("`{name}` has no control adapter; Skipper adds one on port {port}"),
            )
            .label(doc.capability_span, "no `type: control` expose in this capability")
            .help(format!(
                "declare it to choose the port: `- type: control` with `port: {port}` under `capability.exposes`"
            )),
        );
        port
    });
    let mut counts: BTreeMap<ExposeKind, usize> = BTreeMap::new();
    let mut exposes: Vec<ExposeSpec> = Vec::new();
    for (index, expose) in doc.exposes.iter().enumerate() {
        let Some(port) = &expose.port else { continue };
        let n = counts.entry(expose.kind).or_default();
        *n += 1;
        exposes.push(ExposeSpec {
            kind: expose.kind,
            port_name: if *n == 1 {
                expose.kind.to_string()
            } else {
                format!("{}-{n}", expose.kind)
            },
            port: port.value,
            namespace: expose.namespace.as_ref().map(|n| n.value.clone()),
            authentication: expose.authentication.clone(),
            index: Some(index as u32),
        });
    }
    if let Some(port) = add_control {
        exposes.push(ExposeSpec {
            kind: ExposeKind::Control,
            port_name: "control".into(),
            port,
            namespace: None,
            authentication: None,
            index: None,
        });
    }
    let metrics_off = doc
        .exposes
        .iter()
        .find(|e| e.kind == ExposeKind::Control)
        .and_then(|c| c.telemetry.metrics_off_at());
    let metrics = metrics_off.is_none();
    if let Some(span) = metrics_off {
        diags.push(
            Diagnostic::warning(
                "skipper::metrics-disabled",
                format!("`{name}` turns its metrics off: nothing can scrape, alert on or analyse it"),
            )
            .label(span, "no /metrics on the control port")
            .help("Skipper renders no scrape target, alert rules or dashboard series for it; remove this line to monitor it"),
        );
    }
    let document = deployed_document(doc, sources, add_control, &[]);
    ok &= limits::check_configmap_size(name, doc, &document, diags);
    ok.then_some(Prepared {
        exposes,
        add_control,
        document,
        metrics,
    })
}

struct CapabilityInput<'a> {
    manifest: &'a Manifest,
    stdlib: &'a Stdlib,
    env: &'a EnvironmentDecl,
    /// The environment's binds by namespace.
    env_binds: &'a HashMap<&'a str, &'a crate::manifest::BindDecl>,
    decl: &'a CapabilityDecl,
    loaded: &'a LoadedDocument,
    prepared: &'a Prepared,
    graph: &'a FleetGraph,
    /// The pinned engine, if the lock pins one.
    engine: Option<EngineRef>,
    sources: &'a SourceMap,
}

fn resolve_capability(
    input: &CapabilityInput,
    classes: &mut ClassTable,
    diags: &mut Diagnostics,
) -> Option<ResolvedCapability> {
    let CapabilityInput {
        manifest,
        stdlib,
        env,
        env_binds,
        decl,
        loaded,
        prepared,
        graph,
        engine,
        sources,
    } = input;
    let name = decl.name.value.as_str();
    let over = env.overrides.iter().find(|o| o.capability.value == name);
    let s = capability_settings(manifest, stdlib, env, decl);
    let class_name = value(&s.class, BASE_CLASS.to_string());
    let class = classes.spec(&class_name, diags)?;

    let replicas = match (&class.hpa, &s.replicas) {
        (Some(hpa), Some(r)) if r.value > hpa.max_replicas => {
            diags.push(
                Diagnostic::error("skipper::replicas-above-max", format!("`{name}` asks for {} replicas in `{}`, above class `{}`'s hpa.maxReplicas {}", r.value, env.name.value, class.name, hpa.max_replicas))
                    .label(r.span, format!("{} replicas", r.value))
                    .help(format!("with autoscaling, `replicas` is the floor: choose at most {}, or a class with a higher maxReplicas", hpa.max_replicas)),
            );
            return None;
        }
        (Some(hpa), r) => hpa.min_replicas.max(r.as_ref().map_or(0, |r| r.value)),
        (None, r) => r.as_ref().map_or(1, |r| r.value),
    };

    let rollout = rollout(name, &s, diags)?;
    let autoscaling_metric = value(&s.autoscaling_metric, AutoscalingMetric::Cpu);
    if !prepared.metrics {
        telemetry::check_metrics_needed(
            name,
            &env.name.value,
            &loaded.document,
            &s,
            &rollout,
            autoscaling_metric,
            diags,
        )?;
    }
    let binds = binds::resolve_binds(manifest, env, env_binds, over, decl, &loaded.document, diags)?;
    let mtls = mtls::certificate(&s, diags)?;
    let observability = ObservabilitySpec {
        tracing_endpoint: s.tracing_endpoint.as_ref().map(|e| e.value.clone()),
        tracing_sampling: value(&s.tracing_sampling, 0.1),
        slo_availability: value(&s.slo_availability, crate::units::Percent(99.9)),
        slo_latency_p99: value(&s.slo_latency_p99, crate::units::Duration::from_millis(500)),
        prometheus: value(&s.prometheus, String::new()),
        monitoring_namespace: value(&s.monitoring_namespace, "monitoring".into()),
        prometheus_operator: value(&s.prometheus_operator, true),
        scrape_interval: value(&s.scrape_interval, crate::units::Duration::from_secs(15)),
        metrics: prepared.metrics,
    };
    telemetry::check_analysis_window(name, &s, &rollout, observability.scrape_interval, diags)?;
    let document = telemetry::deployed(
        name,
        &env.name.value,
        &loaded.document,
        prepared,
        &observability,
        sources,
        diags,
    );
    Some(ResolvedCapability {
        name: name.to_string(),
        version: loaded.version.clone(),
        label: loaded.document.display.as_ref().map(|d| d.value.clone()),
        description: loaded.document.description.as_ref().map(|d| d.value.clone()),
        engine: engine.clone().unwrap_or_else(|| settings_engine(&s)),
        class,
        replicas,
        rollout,
        observability,
        autoscaling_metric,
        exposes: prepared.exposes.clone(),
        binds,
        stakeholders: loaded.document.stakeholders.clone(),
        consumes: loaded
            .document
            .consumes
            .iter()
            .enumerate()
            .filter_map(|(index, c)| {
                let uri = c.base_uri.as_ref()?;
                let (in_cluster, capability) = graph.consumed(&uri.value);
                Some(ConsumeSpec {
                    index: index as u32,
                    namespace: c.namespace.value.clone(),
                    base_uri: uri.value.clone(),
                    in_cluster,
                    capability: capability.filter(|c| c != name),
                })
            })
            .collect(),
        depends_on: graph.dependencies(name),
        declared_depends_on: {
            let mut declared: Vec<String> = decl.depends_on.iter().map(|d| d.value.clone()).collect();
            declared.sort();
            declared.dedup();
            declared
        },
        dependents: graph.dependents(name),
        called_ports: graph.called_ports(name),
        gateway: gateway::spec(decl, &loaded.document),
        mtls,
        hot_reload: loaded.document.exposes.iter().any(|e| e.reload),
        document,
    })
}

fn rollout(name: &str, s: &Settings, diags: &mut Diagnostics) -> Option<RolloutSpec> {
    let mut ok = true;
    let steps: Vec<f64> = s
        .steps
        .as_ref()
        .map(|st| st.value.iter().map(|p| p.value).collect())
        .unwrap_or_default();
    if let Some(st) = &s.steps {
        let mut previous = 0.0;
        for step in &st.value {
            if step.value <= previous {
                ok = false;
                diags.push(
                    Diagnostic::error(
                        "skipper::invalid-steps",
                        format!("canary steps of `{name}` must increase, and each be above 0"),
                    )
                    .label(step.span, format!("{}% after {}%", step.value, previous))
                    .help("list traffic percentages in increasing order, e.g. `[10, 50, 100]`"),
                );
                break;
            }
            previous = step.value;
        }
        if st.value.is_empty() {
            ok = false;
            diags.push(
                Diagnostic::error("skipper::invalid-steps", format!("canary steps of `{name}` are empty"))
                    .label(st.span, "no steps")
                    .help("list traffic percentages, e.g. `[10, 50, 100]`"),
            );
        }
    }
    let count = value(&s.analysis_count, 5);
    let failure_limit = value(&s.analysis_failure_limit, 1);
    if failure_limit >= count {
        ok = false;
        let mut d = Diagnostic::error(
            "skipper::analysis-never-fails",
            format!(
                "the analysis of `{name}` tolerates {failure_limit} failures out of {count} measurements, so it can never fail"
            ),
        );
        if let Some(f) = &s.analysis_failure_limit {
            d = d.label(f.span, format!("failureLimit {}", f.value));
        }
        if let Some(c) = &s.analysis_count {
            d = d.label(c.span, format!("count {}", c.value));
        }
        diags.push(d.help("set `failureLimit` below `count`"));
    }
    let mut steps = steps;
    if steps.last().is_some_and(|l| *l < 100.0) {
        steps.push(100.0);
    }
    ok.then(|| RolloutSpec {
        strategy: value(&s.strategy, Strategy::Rolling),
        steps,
        max_surge: value(&s.max_surge, IntOrPercent::Percent(25)),
        max_unavailable: value(&s.max_unavailable, IntOrPercent::Int(0)),
        auto_promote: value(&s.auto_promote, true),
        analysis: AnalysisSpec {
            max_error_rate: value(&s.analysis_max_error_rate, crate::units::Percent(1.0)),
            max_latency_p99: value(&s.analysis_max_latency_p99, crate::units::Duration::from_millis(500)),
            interval: value(&s.analysis_interval, crate::units::Duration::from_secs(60)),
            count,
            failure_limit,
        },
    })
}
