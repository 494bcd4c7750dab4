//! The network benchmark's parsing and statistics, and its machinery on small numbers
//! with a real control plane, controller manager, node agent and guests: every request
//! it counts must have reached the echo pod, and every byte it counts the sink. Nothing
//! here is timed.

use std::time::Duration;

use kube::api::LogParams;
use wasmkube_controllers::{ControllerManager, ControllerManagerOptions};
use wasmkube_wasm_guests::{WasmTarget, guest};

use super::super::node::cluster::{BenchCluster, ControlPlaneHome};
use super::super::node::file_image;
use super::super::samples::Summary;
use super::echo::{self, EchoEndpoints, EchoLoad};
use super::loopback;
use super::requests::{ConnectionMode, EchoTarget, RequestReport};
use super::statistics::{Transfer, added_cost_percent, median, parse_sink_report, summarize};

#[test]
fn the_sinks_report_is_found_among_other_lines() {
    let log = "listening\nreceived 1073741824 bytes in 0.500000 s\n";
    let transfer = parse_sink_report(log).expect("a report");
    assert_eq!(
        transfer,
        Transfer {
            bytes: 1 << 30,
            elapsed: Duration::from_millis(500)
        }
    );
    assert_eq!(transfer.mebibytes_per_second(), 2048.0);
    for bad in [
        "",
        "received lots of bytes in 1 s",
        "received 10 bytes in -1 s",
        "received 10 bytes in 1",
        "sent 10 bytes in 1.0 s",
    ] {
        assert_eq!(parse_sink_report(bad), None, "{bad:?}");
    }
}

#[test]
fn medians_take_the_middle_and_costs_are_time_per_request() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    // 800 requests/s against 1,000 is a quarter more time per request.
    assert_eq!(added_cost_percent(800.0, 1000.0), 25.0);
    assert_eq!(added_cost_percent(1000.0, 1000.0), 0.0);
    assert!(added_cost_percent(1250.0, 1000.0) < 0.0);
}

fn report(
    target: EchoTarget,
    mode: ConnectionMode,
    seconds: u64,
    latencies: Vec<i64>,
) -> RequestReport {
    RequestReport {
        target,
        mode,
        requests: 1000,
        failed: 0,
        first_failure: None,
        elapsed: Duration::from_secs(seconds),
        latency: Summary::of(latencies),
    }
}

#[test]
fn the_summary_compares_each_target_with_one_hop_less_in_the_same_mode() {
    use ConnectionMode::{KeepAlive, NewConnectionPerRequest};
    use EchoTarget::{Native, PodIp, Service};
    let reports = vec![
        report(Service, KeepAlive, 2, vec![10, 20]),
        report(PodIp, KeepAlive, 1, vec![5]),
        report(Native, KeepAlive, 1, vec![1]),
        report(Service, KeepAlive, 4, vec![30]),
        report(PodIp, KeepAlive, 1, vec![7]),
        report(Service, NewConnectionPerRequest, 1, vec![2]),
    ];
    let summaries = summarize(&reports);
    let keys: Vec<_> = summaries
        .iter()
        .map(|summary| (summary.target, summary.mode, summary.rounds))
        .collect();
    assert_eq!(
        keys,
        [
            (Service, NewConnectionPerRequest, 1),
            (Service, KeepAlive, 2),
            (PodIp, KeepAlive, 2),
            (Native, KeepAlive, 1),
        ]
    );
    let service = summaries[1];
    // 500 and 250 requests/s: the median is 375.
    assert_eq!(service.requests_per_second, 375.0);
    assert_eq!((service.p50, service.p99), (Some(20.0), Some(25.0)));
    let added = service.added_cost_percent.expect("the pod IP was measured");
    assert!((added - (1000.0 / 375.0 - 1.0) * 100.0).abs() < 1e-9);
    assert_eq!(summaries[2].added_cost_percent, Some(0.0));
    // Nothing to compare with: no pod IP run per request, and nothing under native.
    assert_eq!(summaries[0].added_cost_percent, None);
    assert_eq!(summaries[3].added_cost_percent, None);
}

#[test]
fn failed_requests_count_against_the_rate_and_are_summed_over_rounds() {
    let mut first = report(EchoTarget::Native, ConnectionMode::KeepAlive, 1, vec![3]);
    first.failed = 500;
    let mut second = first.clone();
    second.failed = 2;
    second.elapsed = Duration::from_secs(2);
    // 500 of 1,000 answered in a second; 998 in two.
    assert_eq!(first.requests_per_second(), 500.0);
    let summaries = summarize(&[first, second]);
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].failed, 502);
    assert_eq!(summaries[0].requests_per_second, (500.0 + 499.0) / 2.0);

    // A way in that answered nothing has no latency, and nothing is compared with it.
    let mut unanswered = report(EchoTarget::PodIp, ConnectionMode::KeepAlive, 1, vec![]);
    unanswered.failed = unanswered.requests;
    let answered = report(EchoTarget::Service, ConnectionMode::KeepAlive, 1, vec![9]);
    let summaries = summarize(&[unanswered, answered]);
    assert_eq!(summaries[0].target, EchoTarget::Service);
    assert_eq!(summaries[0].added_cost_percent, None);
    assert_eq!(
        (summaries[1].p50, summaries[1].requests_per_second),
        (None, 0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_the_echo_pod_both_ways_and_loopback_moves_every_byte() {
    let cluster = BenchCluster::start(4, ControlPlaneHome::ThisProcess)
        .await
        .unwrap();
    let _controller_manager = ControllerManager::start(
        cluster.in_process_client().unwrap(),
        ControllerManagerOptions::default(),
    );
    let echo_image = file_image(&guest("echo", WasmTarget::P2));
    let endpoints = EchoEndpoints::start(&cluster, echo::ECHO, &echo_image, None)
        .await
        .unwrap();
    let targets: Vec<EchoTarget> = endpoints
        .endpoints
        .iter()
        .map(|endpoint| endpoint.target())
        .collect();
    assert_eq!(targets, [EchoTarget::Service, EchoTarget::PodIp]);
    let load = EchoLoad {
        rounds: 2,
        requests: 5,
        warm_up_requests: 1,
        modes: vec![
            ConnectionMode::NewConnectionPerRequest,
            ConnectionMode::KeepAlive,
        ],
    };
    let mut out = Vec::new();
    let reports = echo::run(&endpoints, &load, &mut out).await.unwrap();
    assert_eq!(reports.len(), 8);
    assert!(
        reports
            .iter()
            .all(|report| report.latency.count == 5 && report.failed == 0)
    );
    let table = String::from_utf8(out).unwrap();
    let service_rows = table
        .lines()
        .filter(|line| line.split_whitespace().any(|word| word == "service"))
        .count();
    assert_eq!(
        service_rows,
        4 + 2,
        "a row per run and a median per mode:\n{table}"
    );
    // echo logs a line per request: one per way in while waiting for it to answer, the
    // warm-up's, and the rounds'.
    let log = cluster
        .pods
        .logs("echo-bench", &LogParams::default())
        .await
        .unwrap();
    assert_eq!(
        log.matches("\"GET /bench HTTP/1.1\" 200").count(),
        2 + 4 + 40,
        "{log}"
    );

    let testbox_image = file_image(&guest("testbox", WasmTarget::P2));
    let transfer = loopback::in_pod(&cluster, "loopback-test", &testbox_image, 8)
        .await
        .unwrap();
    assert_eq!(transfer.bytes, 8 << 20);
}
