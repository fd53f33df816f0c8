//! Reloading the routing table of a running `skipper-gateway`: atomic renames under load,
//! rejected tables, SIGHUP, and a ConfigMap volume's `..data` symlink swap.

mod gateway_support;

use gateway_support::*;
use skipper_compiler::routes::GatewayRoutes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `/svc` to `a` or `b`; both upstreams are always listed.
fn svc_to(target: &str, a: u16, b: u16) -> GatewayRoutes {
    let (ua, ub) = (upstream("a", a), upstream("b", b));
    let chosen = if target == "a" { &ua } else { &ub };
    table(vec![ua.clone(), ub.clone()], vec![route("/svc", "/", chosen)])
}

fn bytes(table: &GatewayRoutes) -> Vec<u8> {
    serde_json::to_vec_pretty(table).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_swap_under_load_without_a_failed_request() {
    let (a, b) = (Echo::start_plain().await, Echo::start_plain().await);
    let gateway = Gateway::start(&svc_to("a", a.port, b.port), &["--reload-interval", "20ms"]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stop, ok, failed, failures) = (stop.clone(), ok.clone(), failed.clone(), failures.clone());
        let url = gateway.url("/svc/ping");
        clients.push(tokio::spawn(async move {
            // One pooled client each: requests ride keep-alive connections across swaps.
            let client = client();
            while !stop.load(Ordering::Relaxed) {
                match try_send(&client, "GET", &url, &[], Default::default()).await {
                    Ok(reply) if reply.status == 200 && reply.text() == "/ping" => ok.fetch_add(1, Ordering::Relaxed),
                    Ok(reply) => {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} {}", reply.status, reply.text()));
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(error) => {
                        failures.lock().unwrap().push(error);
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    let start = Instant::now();
    for generation in 1..=20u64 {
        let target = if generation % 2 == 0 { "a" } else { "b" };
        write_atomically(&gateway.routes, &bytes(&svc_to(target, a.port, b.port)));
        gateway.wait_generation(generation, Duration::from_secs(5)).await;
        // Let some traffic run on each table (a few seconds in all).
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("{ok} requests in {:?} over 20 swaps", start.elapsed());
    assert_eq!(failed, 0, "failures: {:?}", failures.lock().unwrap());
    assert!(ok >= 160, "too little load to mean anything: {ok}");
    assert!(a.count() > 0 && b.count() > 0, "a {} b {}", a.count(), b.count());
    assert_eq!(
        gateway
            .metric(r#"skipper_gateway_reloads_total{result="success"}"#)
            .await,
        Some(20.0)
    );
    assert_eq!(gateway.metric("skipper_gateway_table_generation").await, Some(20.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_table_is_counted_and_the_old_one_stays() {
    let (a, b) = (Echo::start_plain().await, Echo::start_plain().await);
    let gateway = Gateway::start(&svc_to("a", a.port, b.port), &["--reload-interval", "20ms"]).await;
    let failures = r#"skipper_gateway_reloads_total{result="failure"}"#;
    let mut unknown = serde_json::to_value(svc_to("b", a.port, b.port)).unwrap();
    unknown["upstreams"].as_array_mut().unwrap().pop();
    let mut old_format = serde_json::to_value(svc_to("b", a.port, b.port)).unwrap();
    old_format["format"] = 2.into();
    let bad: [(&str, Vec<u8>); 3] = [
        ("is not a routing table", b"{\"format\": 3, ".to_vec()),
        ("not among the upstreams", serde_json::to_vec(&unknown).unwrap()),
        ("routing table format 2", serde_json::to_vec(&old_format).unwrap()),
    ];
    for (n, (problem, text)) in bad.iter().enumerate() {
        write_atomically(&gateway.routes, text);
        let start = Instant::now();
        while gateway.metric(failures).await != Some((n + 1) as f64) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{problem}: no failure counted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = a.count();
        assert_eq!(get(&gateway.url("/svc/x")).await.status, 200);
        assert_eq!(a.count(), before + 1, "{problem}: the old table routes");
        let logged = gateway.logs.all();
        assert!(
            logged
                .iter()
                .any(|l| l.contains("previous one stays") && l.contains(problem)),
            "{problem}: {logged:?}"
        );
    }
    assert_eq!(gateway.metric("skipper_gateway_table_generation").await, Some(0.0));
    // A good table after bad ones is taken.
    write_atomically(&gateway.routes, &bytes(&svc_to("b", a.port, b.port)));
    gateway.wait_generation(1, Duration::from_secs(5)).await;
    get(&gateway.url("/svc/x")).await;
    assert_eq!(b.count(), 1);
}

/// With the poll an hour away, a rename over the table is still taken at once (the
/// directory's file events wake the reload), and SIGHUP rereads the table even when
/// nothing changed, keeping the generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_events_and_sighup_reload_at_once() {
    let (a, b) = (Echo::start_plain().await, Echo::start_plain().await);
    let gateway = Gateway::start(&svc_to("a", a.port, b.port), &["--reload-interval", "1h"]).await;
    let start = Instant::now();
    write_atomically(&gateway.routes, &bytes(&svc_to("b", a.port, b.port)));
    gateway.wait_generation(1, Duration::from_secs(2)).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "taken on the file event, not a poll"
    );
    get(&gateway.url("/svc/x")).await;
    assert_eq!((a.count(), b.count()), (0, 1));
    let success = r#"skipper_gateway_reloads_total{result="success"}"#;
    let reloads = gateway.metric(success).await.unwrap_or(0.0);
    gateway.signal("HUP");
    let start = Instant::now();
    while gateway.metric(success).await != Some(reloads + 1.0) {
        assert!(start.elapsed() < Duration::from_secs(5), "SIGHUP rereads the table");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.metric("skipper_gateway_table_generation").await, Some(1.0));
}

/// How the kubelet updates a ConfigMap volume: the file is a symlink through `..data`,
/// a symlink to a timestamped directory; an update writes a new directory and renames a
/// new `..data` symlink over the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_volume_update_is_noticed() {
    use std::os::unix::fs::symlink;
    let (a, b) = (Echo::start_plain().await, Echo::start_plain().await);
    let volume = tempfile::tempdir().unwrap();
    let dir = volume.path();
    let version = |name: &str, table: &GatewayRoutes| {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("gateway-routes.json"), bytes(table)).unwrap();
    };
    version("..2026_01_01_00_00_00.1", &svc_to("a", a.port, b.port));
    symlink("..2026_01_01_00_00_00.1", dir.join("..data")).unwrap();
    symlink("..data/gateway-routes.json", dir.join("gateway-routes.json")).unwrap();
    let first = svc_to("a", a.port, b.port);
    let gateway = Gateway::start_at(&dir.join("gateway-routes.json"), &first, &["--reload-interval", "20ms"]).await;
    get(&gateway.url("/svc/x")).await;
    assert_eq!(a.count(), 1);

    version("..2026_01_01_00_01_00.2", &svc_to("b", a.port, b.port));
    symlink("..2026_01_01_00_01_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..2026_01_01_00_00_00.1")).unwrap();
    gateway.wait_generation(1, Duration::from_secs(5)).await;
    get(&gateway.url("/svc/x")).await;
    assert_eq!((a.count(), b.count()), (1, 1));
}
