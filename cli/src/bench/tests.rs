//! The benchmark machinery on small numbers: it must count what the server did. Nothing
//! here is timed.

use wasmkube_control_plane::store::{ListRequest, key_prefix};

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use super::connection::ApiServerEndpoint;
use super::creates::{self, CreateLoad, Stop};
use super::watchers::{self, WatchLoad, WatchTransport};
use super::{AuditOptions, parse_duration, start_control_plane, start_control_plane_with};

fn admin(control_plane: &wasmkube_control_plane::server::ControlPlane) -> ApiServerEndpoint {
    ApiServerEndpoint::admin_of(control_plane).unwrap()
}

#[test]
fn durations_are_written_like_10s() {
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(
        parse_duration("-1s"),
        Err("a duration cannot be negative".to_owned())
    );
    assert!(parse_duration("ten seconds").is_err());
}

#[tokio::test]
async fn creates_are_counted_as_the_store_holds_them() {
    let directory = tempfile::tempdir().unwrap();
    let control_plane = start_control_plane(directory.path().to_path_buf())
        .await
        .unwrap();
    let load = CreateLoad {
        clients: 2,
        stop: Stop::Count(50),
        name_prefix: "smoke-".to_owned(),
    };
    let report = creates::run(&admin(&control_plane), load).await.unwrap();
    assert_eq!((report.created, report.failed), (100, 0));
    assert_eq!(report.first_failure, None);
    assert_eq!(report.latency.count, 100);
    assert!(report.latency.p50 > 0 && report.latency.p50 <= report.latency.max);

    let stored = control_plane
        .storage
        .list(&ListRequest {
            prefix: key_prefix("configmaps", Some("default")),
            ..Default::default()
        })
        .unwrap();
    let names: Vec<&str> = stored
        .items
        .iter()
        .filter_map(|(key, _)| key.strip_prefix("configmaps/default/smoke-"))
        .collect();
    assert_eq!(names.len(), 100);
    for client in 0..2 {
        for sequence in 0..50 {
            let name = format!("{client}-{sequence}");
            assert!(names.contains(&name.as_str()), "{name} was not stored");
        }
    }

    // A second run with the same names is refused object by object, and says why.
    let again = CreateLoad {
        clients: 1,
        stop: Stop::Count(3),
        name_prefix: "smoke-".to_owned(),
    };
    let report = creates::run(&admin(&control_plane), again).await.unwrap();
    assert_eq!((report.created, report.failed), (0, 3));
    let failure = report.first_failure.unwrap();
    assert!(failure.starts_with("409 Conflict: "), "{failure}");
    assert!(failure.contains(r#""reason":"AlreadyExists""#), "{failure}");
}

/// Ten watchers, twenty events: every watcher must count every event once, in order.
async fn check_watch_delivery(transport: WatchTransport) {
    let directory = tempfile::tempdir().unwrap();
    let control_plane = start_control_plane(directory.path().to_path_buf())
        .await
        .unwrap();
    let load = WatchLoad {
        watchers: 10,
        transport,
        events: 20,
        rate: NonZeroU32::new(200).unwrap(),
        name_prefix: "smoke-watch-".to_owned(),
        resource_version: control_plane.storage.current_revision(),
    };
    let report = watchers::run(&admin(&control_plane), load).await.unwrap();
    assert_eq!(report.watchers, 10);
    assert_eq!(report.transport, transport);
    assert_eq!(report.created, 20);
    assert_eq!(report.delivered, 200);
    assert_eq!(report.unexpected, 0);
    assert_eq!(report.from_send.count, 200);
    assert_eq!(report.from_acknowledgement.count, 200);
    assert_eq!(report.create_latency.count, 20);
    // An event cannot arrive before its create was sent.
    assert!(report.from_send.p50 > 0);
}

#[tokio::test]
async fn every_watcher_receives_every_event_once_in_order() {
    check_watch_delivery(WatchTransport::Http1PerWatcher).await;
}

#[tokio::test]
async fn every_watcher_over_shared_http2_connections_receives_every_event_once_in_order() {
    // Three connections for ten watchers: they carry four, three and three streams.
    check_watch_delivery(WatchTransport::Http2(NonZeroUsize::new(3).unwrap())).await;
}

#[test]
fn http2_watchers_never_need_more_connections_than_watchers() {
    let transport = WatchTransport::Http2(NonZeroUsize::new(50).unwrap());
    assert_eq!(transport.connections(1000), 50);
    assert_eq!(transport.connections(10), 10);
    assert_eq!(WatchTransport::Http1PerWatcher.connections(1000), 1000);
}

#[tokio::test]
async fn too_many_watches_on_one_http2_connection_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let control_plane = start_control_plane(directory.path().to_path_buf())
        .await
        .unwrap();
    let load = WatchLoad {
        watchers: watchers::MAX_STREAMS_PER_CONNECTION + 1,
        transport: WatchTransport::Http2(NonZeroUsize::MIN),
        events: 1,
        rate: NonZeroU32::MIN,
        name_prefix: "refused-".to_owned(),
        resource_version: control_plane.storage.current_revision(),
    };
    let Err(error) = watchers::run(&admin(&control_plane), load).await else {
        panic!("the watch benchmark ran with too many streams on one connection");
    };
    assert!(
        error.to_string().contains("use more connections"),
        "{error}"
    );
}

/// The ConfigMap creates in the audit log at `path` that the admin made, with their codes.
fn audited_config_map_creates(path: &std::path::Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| {
            event["verb"] == "create"
                && event["objectRef"]["resource"] == "configmaps"
                && event["user"]["username"] == "admin"
                && event["user"]["groups"][0] == "system:masters"
        })
        .filter_map(|event| event["responseStatus"]["code"].as_u64())
        .collect()
}

#[tokio::test]
async fn the_creates_are_made_as_the_admin_and_audited_unless_the_log_is_off() {
    let audited = tempfile::tempdir().unwrap();
    let control_plane =
        start_control_plane_with(audited.path().to_path_buf(), AuditOptions::default())
            .await
            .unwrap();
    let load = CreateLoad {
        clients: 2,
        stop: Stop::Count(5),
        name_prefix: "audited-".to_owned(),
    };
    let report = creates::run(&admin(&control_plane), load).await.unwrap();
    assert_eq!((report.created, report.failed), (10, 0));
    // The audit log's writer appends after the answers went out.
    let log = audited.path().join("audit.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while audited_config_map_creates(&log).len() < 10 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(audited_config_map_creates(&log), [201; 10]);

    let unaudited_directory = tempfile::tempdir().unwrap();
    let unaudited = start_control_plane_with(
        unaudited_directory.path().to_path_buf(),
        AuditOptions {
            enabled: false,
            ..AuditOptions::default()
        },
    )
    .await
    .unwrap();
    let load = CreateLoad {
        clients: 1,
        stop: Stop::Count(5),
        name_prefix: "unaudited-".to_owned(),
    };
    let report = creates::run(&admin(&unaudited), load).await.unwrap();
    assert_eq!((report.created, report.failed), (5, 0));
    assert!(!unaudited_directory.path().join("audit.log").exists());
}
