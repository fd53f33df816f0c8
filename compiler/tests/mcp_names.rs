//! The names the MCP gateway lists (`gateway.mcp.prefix`), on a fleet of the real Ikanos
//! tutorial capabilities (`test-support/testbed/fixtures/tutorial`, Apache-2.0, see the
//! licence notice there), which share tool names as real capabilities do, and on small
//! hand-written documents for prompts, resources and the limits of a tool name.

use skipper_compiler::diag::{Diagnostic, Severity};
use skipper_compiler::explain::{Kind, explain};
use skipper_compiler::model::{McpNameSpec, ResolvedCapability, ResolvedEnvironment};
use skipper_compiler::routes::{MAX_TOOL_NAME, PrefixMode, qualified_name, valid_tool_name};
use skipper_compiler::{Compilation, compile};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn tutorial_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-support/testbed/fixtures/tutorial")
}

/// Copies `from` into `to`, recursively.
fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The tutorial's first and last steps as two capabilities of one fleet, with `gateway`
/// at the top of the manifest and `prod_gateway` in `prod`.
fn tutorial_fleet(gateway: &str, prod_gateway: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy(&tutorial_dir(), &tmp.path().join("tutorial"));
    let binds = "    binds:\n      registry-env: { location: k8s-secret://registry }\n      dockyard-env: { location: k8s-secret://dockyard }\n";
    let manifest = format!(
        "skipper: v1\nfleet:\n  name: shipyard\n{gateway}capabilities:\n  shipyard-mock:\n    source: tutorial/step-1-shipyard-mock.yml\n  shipyard:\n    source: tutorial/step-11-shipyard-fleet-manifest.yml\nenvironments:\n  dev:\n    namespace: shipyard-dev\n{binds}  prod:\n    namespace: shipyard-prod\n{binds}{prod_gateway}"
    );
    std::fs::write(tmp.path().join("naftiko.fleet.yaml"), manifest).unwrap();
    tmp
}

fn compiled(dir: &Path) -> Compilation {
    let compilation = compile(&dir.join("naftiko.fleet.yaml"));
    let errors: Vec<String> = errors(&compilation).iter().map(|d| d.message.clone()).collect();
    assert!(compilation.output.is_some(), "the fleet compiles: {errors:#?}");
    compilation
}

fn errors(compilation: &Compilation) -> Vec<&Diagnostic> {
    compilation
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn env<'c>(compilation: &'c Compilation, name: &str) -> &'c ResolvedEnvironment {
    let fleet = &compilation.output.as_ref().unwrap().fleet;
    fleet.environments.iter().find(|e| e.name == name).unwrap()
}

fn cap<'e>(env: &'e ResolvedEnvironment, name: &str) -> &'e ResolvedCapability {
    env.capabilities.iter().find(|c| c.name == name).unwrap()
}

/// The tool names each capability's document declares, as the compiler read them.
fn declared_tools(compilation: &Compilation) -> BTreeMap<String, BTreeSet<String>> {
    let compiled = compilation.output.as_ref().unwrap();
    compiled
        .manifest
        .capabilities
        .iter()
        .map(|decl| {
            let doc = &compiled.catalog.newest(&decl.name.value).unwrap().document;
            let tools = doc
                .exposes
                .iter()
                .flat_map(|e| &e.tools)
                .map(|t| t.value.clone())
                .collect();
            (decl.name.value.clone(), tools)
        })
        .collect()
}

/// upstream → public, of one capability's tools.
fn tools(cap: &ResolvedCapability) -> BTreeMap<&str, &str> {
    cap.gateway
        .mcp_tools
        .iter()
        .map(|n| (n.upstream.as_str(), n.public.as_str()))
        .collect()
}

#[test]
fn conditional_qualifies_exactly_the_names_two_capabilities_share() {
    let fleet = tutorial_fleet("", "");
    let c = compiled(fleet.path());
    let declared = declared_tools(&c);
    let shared: BTreeSet<&String> = declared["shipyard"].intersection(&declared["shipyard-mock"]).collect();
    assert!(!shared.is_empty(), "the tutorial's steps share tool names");
    assert!(
        declared["shipyard"].len() > shared.len(),
        "and step 11 has tools of its own"
    );
    for env_name in ["dev", "prod"] {
        let env = env(&c, env_name);
        assert_eq!(env.mcp_prefix, PrefixMode::Conditional, "the default");
        for (name, own) in &declared {
            let listed = tools(cap(env, name));
            assert_eq!(
                listed.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
                *own,
                "every tool of `{name}` is listed"
            );
            for (upstream, public) in listed {
                let expected = if shared.contains(&upstream.to_string()) {
                    qualified_name(name, upstream)
                } else {
                    upstream.to_string()
                };
                assert_eq!(public, expected, "`{upstream}` of `{name}` in {env_name}");
            }
        }
    }
    let mock = tools(cap(env(&c, "dev"), "shipyard-mock"));
    assert_eq!(mock["get-ship"], "shipyard-mock__get-ship");
    let full = tools(cap(env(&c, "dev"), "shipyard"));
    assert_eq!(
        (full["get-ship"], full["list-ships"]),
        ("shipyard__get-ship", "list-ships")
    );
}

#[test]
fn always_qualifies_every_name() {
    let fleet = tutorial_fleet("gateway: { mcp: { prefix: always } }\n", "");
    let c = compiled(fleet.path());
    let env = env(&c, "dev");
    assert_eq!(env.mcp_prefix, PrefixMode::Always);
    for (name, own) in declared_tools(&c) {
        let listed = tools(cap(env, &name));
        assert_eq!(listed.len(), own.len());
        for (upstream, public) in listed {
            assert_eq!(public, qualified_name(&name, upstream));
            assert!(valid_tool_name(public), "{public}");
        }
    }
}

#[test]
fn never_makes_each_shared_name_a_conflict() {
    let fleet = tutorial_fleet("gateway:\n  mcp:\n    prefix: never\n", "");
    let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
    assert!(c.output.is_none());
    let errors = errors(&c);
    assert!(errors.iter().all(|d| d.code == "skipper::tool-conflict"), "{errors:#?}");
    // One error per shared name (the two environments report the same one once).
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = errors[0];
    assert!(error.message.contains("`get-ship`"), "{}", error.message);
    let files: BTreeSet<&str> = error
        .labels
        .iter()
        .map(|l| c.sources.get(l.span.source).name.as_str())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from([
            "tutorial/step-1-shipyard-mock.yml",
            "tutorial/step-11-shipyard-fleet-manifest.yml"
        ])
    );
    for label in &error.labels {
        assert_eq!(
            c.sources.text(label.span),
            "get-ship",
            "each label is at the tool's name"
        );
    }
    assert!(
        error
            .help
            .as_deref()
            .unwrap()
            .contains("gateway.mcp.prefix: conditional")
    );
}

#[test]
fn an_environment_prefix_replaces_the_fleets() {
    let fleet = tutorial_fleet(
        "gateway: { mcp: { prefix: always } }\n",
        "    gateway: { mcp: { prefix: conditional } }\n",
    );
    let c = compiled(fleet.path());
    let (dev, prod) = (env(&c, "dev"), env(&c, "prod"));
    assert_eq!(
        (dev.mcp_prefix, prod.mcp_prefix),
        (PrefixMode::Always, PrefixMode::Conditional)
    );
    assert_eq!(tools(cap(dev, "shipyard"))["list-ships"], "shipyard__list-ships");
    assert_eq!(tools(cap(prod, "shipyard"))["list-ships"], "list-ships");
    assert_eq!(tools(cap(prod, "shipyard"))["get-ship"], "shipyard__get-ship");

    // `explain` says which layer decided, and why a name is qualified.
    let compiled = c.output.as_ref().unwrap();
    let e = explain(compiled, &c.sources, "shipyard", Some("prod")).unwrap();
    let prefix = e.get("gateway.mcp.prefix").unwrap();
    assert_eq!(prefix.value, "conditional");
    assert_eq!(prefix.source.kind, Kind::Environment);
    assert_eq!(prefix.source.layer, "environments.prod.gateway");
    assert_eq!(prefix.overridden[0].kind, Kind::Fleet);
    let get_ship = e.get("mcp.tools.get-ship").unwrap();
    assert_eq!(get_ship.value, "shipyard__get-ship");
    assert_eq!(get_ship.source.kind, Kind::Document);
    assert_eq!(
        get_ship.source.file.as_deref(),
        Some("tutorial/step-11-shipyard-fleet-manifest.yml")
    );
    assert!(
        get_ship.source.note.as_deref().unwrap().contains("`shipyard-mock`"),
        "{:?}",
        get_ship.source.note
    );
    assert_eq!(e.get("mcp.tools.list-ships").unwrap().value, "list-ships");
    let dev_prefix = explain(compiled, &c.sources, "shipyard", Some("dev")).unwrap();
    let dev_prefix = dev_prefix.get("gateway.mcp.prefix").unwrap();
    assert_eq!((dev_prefix.source.kind, dev_prefix.source.line), (Kind::Fleet, Some(4)));
}

/// A fleet of hand-written capabilities: (name, the `capability.exposes` of its document).
fn fleet_of(gateway: &str, capabilities: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut manifest = format!("skipper: v1\nfleet:\n  name: harbor\n{gateway}capabilities:\n");
    for (name, exposes) in capabilities {
        manifest.push_str(&format!("  {name}:\n    source: {name}.ikanos.yml\n"));
        let doc = format!(
            "ikanos: \"1.0.0-beta5\"\ninfo:\n  display: \"{name}\"\n  description: \"The {name} capability.\"\ncapability:\n  exposes:\n{exposes}    - type: control\n      port: 9090\n"
        );
        std::fs::write(tmp.path().join(format!("{name}.ikanos.yml")), doc).unwrap();
    }
    manifest.push_str("environments:\n  dev:\n    namespace: harbor-dev\n");
    std::fs::write(tmp.path().join("naftiko.fleet.yaml"), manifest).unwrap();
    tmp
}

/// An MCP adapter on `port` with these tools, prompts and resource URIs.
fn mcp(port: u16, tools: &[&str], prompts: &[&str], uris: &[&str]) -> String {
    let mut out = format!("    - type: mcp\n      port: {port}\n      namespace: tools-{port}\n      tools:\n");
    for t in tools {
        out.push_str(&format!("        {t}:\n          description: \"{t}\"\n"));
    }
    if !prompts.is_empty() {
        out.push_str("      prompts:\n");
        for p in prompts {
            out.push_str(&format!("        {p}:\n          display: \"{p}\"\n          description: \"{p}\"\n          template:\n            - role: user\n              content: \"{p}\"\n"));
        }
    }
    if !uris.is_empty() {
        out.push_str("      resources:\n");
        for (i, uri) in uris.iter().enumerate() {
            out.push_str(&format!("        r{i}:\n          display: \"r{i}\"\n          uri: \"{uri}\"\n          description: \"r{i}\"\n          location: file:///app/data/r{i}\n"));
        }
    }
    out
}

#[test]
fn a_qualified_tool_name_over_64_characters_is_an_error_at_the_tool() {
    let tool = "list-vessels-expected-before-the-next-tide";
    let long_cap = "harbor-master-operations";
    assert!(tool.len() <= MAX_TOOL_NAME && qualified_name(long_cap, tool).len() > MAX_TOOL_NAME);
    let fleet = fleet_of(
        "",
        &[
            ("berths", &mcp(3001, &[tool], &[], &[])),
            (long_cap, &mcp(3001, &[tool], &[], &[])),
        ],
    );
    let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
    let found = errors(&c);
    assert_eq!(
        found.len(),
        1,
        "only the long capability's name is too long: {found:#?}"
    );
    let error = found[0];
    assert_eq!(error.code, "skipper::invalid-tool-name");
    let span = error.labels[0].span;
    assert_eq!(c.sources.text(span), tool);
    assert_eq!(c.sources.get(span.source).name, format!("{long_cap}.ikanos.yml"));
    let length = qualified_name(long_cap, tool).len();
    assert!(
        error.message.contains(&format!("{length} characters")),
        "{}",
        error.message
    );
    let help = error.help.as_deref().unwrap();
    let over = length - MAX_TOOL_NAME;
    assert!(
        help.contains(&format!("by {over} characters")) && help.contains(&format!("`{long_cap}`")),
        "{help}"
    );

    // Unqualified, a name over 64 characters is too long by itself.
    let own = "a".repeat(MAX_TOOL_NAME + 3);
    let fleet = fleet_of("", &[("berths", &mcp(3001, &[&own], &[], &[]))]);
    let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
    let error = errors(&c)[0];
    assert_eq!(error.code, "skipper::invalid-tool-name");
    assert!(error.help.as_deref().unwrap().contains("by 3 characters"));
}

#[test]
fn one_capability_declaring_a_name_twice_is_an_error_in_every_mode() {
    for mode in PrefixMode::WORDS {
        let exposes = format!(
            "{}{}",
            mcp(3001, &["list-berths"], &[], &[]),
            mcp(3002, &["list-berths"], &[], &[])
        );
        let fleet = fleet_of(
            &format!("gateway: {{ mcp: {{ prefix: {mode} }} }}\n"),
            &[("berths", &exposes)],
        );
        let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
        let errors = errors(&c);
        assert_eq!(errors.len(), 1, "{mode}: {errors:#?}");
        assert_eq!(errors[0].code, "skipper::tool-conflict");
        assert!(
            errors[0].message.contains("`berths` declares it twice"),
            "{}",
            errors[0].message
        );
    }
}

#[test]
fn prompts_are_named_like_tools_and_resources_get_a_scheme_prefix_when_several_capabilities_have_them() {
    let fleet = fleet_of(
        "",
        &[
            (
                "berths",
                &mcp(
                    3001,
                    &["list-berths"],
                    &["daily-report", "berth-plan"],
                    &["data://harbor/schedule"],
                ),
            ),
            (
                "tugs",
                &mcp(
                    3001,
                    &["list-tugs"],
                    &["daily-report"],
                    &["data://harbor/schedule", "tugs://{id}"],
                ),
            ),
            ("pilots", &mcp(3001, &["list-pilots"], &[], &[])),
        ],
    );
    let c = compiled(fleet.path());
    let dev = env(&c, "dev");
    let prompts = |name: &str| cap(dev, name).gateway.mcp_prompts.clone();
    let spec = |public: &str, upstream: &str| McpNameSpec {
        public: public.into(),
        upstream: upstream.into(),
    };
    assert_eq!(
        prompts("berths"),
        [
            spec("berth-plan", "berth-plan"),
            spec("berths__daily-report", "daily-report")
        ]
    );
    assert_eq!(prompts("tugs"), [spec("tugs__daily-report", "daily-report")]);
    let resources = |name: &str| cap(dev, name).gateway.mcp_resources.clone();
    assert_eq!(resources("berths").scheme_prefix, "berths+");
    assert_eq!(resources("tugs").scheme_prefix, "tugs+");
    assert_eq!(resources("tugs").uris, ["data://harbor/schedule", "tugs://{id}"]);
    assert!(resources("pilots").is_empty() && resources("pilots").scheme_prefix.is_empty());
    let e = explain(c.output.as_ref().unwrap(), &c.sources, "berths", Some("dev")).unwrap();
    let schedule = e.get("mcp.resources.data://harbor/schedule").unwrap();
    assert_eq!(schedule.value, "berths+data://harbor/schedule");
    assert_eq!(schedule.source.file.as_deref(), Some("berths.ikanos.yml"));
    assert!(
        schedule
            .source
            .note
            .as_deref()
            .unwrap()
            .contains("`tugs` has resources too"),
        "{:?}",
        schedule.source.note
    );
    let report = e.get("mcp.prompts.daily-report").unwrap();
    assert_eq!(report.value, "berths__daily-report");
    assert_eq!(e.get("mcp.prompts.berth-plan").unwrap().value, "berth-plan");

    // One capability with resources: its URIs stay as they are.
    let fleet = fleet_of(
        "",
        &[
            ("berths", &mcp(3001, &["list-berths"], &[], &["data://harbor/schedule"])),
            ("tugs", &mcp(3001, &["list-tugs"], &[], &[])),
        ],
    );
    let c = compiled(fleet.path());
    let berths = cap(env(&c, "dev"), "berths");
    assert_eq!(berths.gateway.mcp_resources.scheme_prefix, "");
    assert_eq!(berths.gateway.mcp_resources.uris, ["data://harbor/schedule"]);

    // `always` prefixes them even then; `never` makes a shared URI an error.
    let fleet = fleet_of(
        "gateway: { mcp: { prefix: always } }\n",
        &[("berths", &mcp(3001, &["list-berths"], &[], &["data://harbor/schedule"]))],
    );
    let c = compiled(fleet.path());
    assert_eq!(
        cap(env(&c, "dev"), "berths").gateway.mcp_resources.scheme_prefix,
        "berths+"
    );
    let fleet = fleet_of(
        "gateway: { mcp: { prefix: never } }\n",
        &[
            ("berths", &mcp(3001, &["list-berths"], &[], &["data://harbor/schedule"])),
            ("tugs", &mcp(3001, &["list-tugs"], &[], &["data://harbor/schedule"])),
        ],
    );
    let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
    let codes: Vec<&str> = errors(&c).iter().map(|d| d.code.as_ref()).collect();
    assert_eq!(codes, ["skipper::resource-conflict"]);
}

#[test]
fn a_capability_the_mcp_gateway_does_not_route_keeps_its_names_out_of_the_count() {
    let fleet = fleet_of(
        "",
        &[
            ("berths", &mcp(3001, &["list"], &[], &[])),
            ("tugs", &mcp(3001, &["list"], &[], &[])),
        ],
    );
    let manifest = fleet.path().join("naftiko.fleet.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "    source: tugs.ikanos.yml\n",
        "    source: tugs.ikanos.yml\n    expose: { mcp: { enabled: false } }\n",
    );
    std::fs::write(&manifest, text).unwrap();
    let c = compiled(fleet.path());
    let dev = env(&c, "dev");
    assert_eq!(
        tools(cap(dev, "berths"))["list"],
        "list",
        "`tugs` is not listed: no collision"
    );
    assert!(cap(dev, "tugs").gateway.mcp_tools.is_empty());
}

#[test]
fn a_misspelt_prefix_is_an_error_with_a_suggestion() {
    let fleet = fleet_of(
        "gateway: { mcp: { prefix: allways } }\n",
        &[("berths", &mcp(3001, &["list-berths"], &[], &[]))],
    );
    let c = compile(&fleet.path().join("naftiko.fleet.yaml"));
    let error = errors(&c)[0];
    assert_eq!(error.code, "skipper::invalid-value");
    assert_eq!(c.sources.text(error.labels[0].span), "allways");
    assert!(error.labels[0].message.contains("`always`"), "{:?}", error.labels);
}
