//! The benchmark machinery on small numbers: it must count what the server did. Nothing
//! here is timed.

use wasmkube_control_plane::store::{ListRequest, key_prefix};

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use super::creates::{self, CreateLoad, Stop};
use super::watchers::{self, WatchLoad, WatchTransport};
use super::{parse_duration, start_control_plane};

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
    let report = creates::run(control_plane.address, load).await.unwrap();
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
    let report = creates::run(control_plane.address, again).await.unwrap();
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
    let report = watchers::run(control_plane.address, load).await.unwrap();
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
    let Err(error) = watchers::run(control_plane.address, load).await else {
        panic!("the watch benchmark ran with too many streams on one connection");
    };
    assert!(
        error.to_string().contains("use more connections"),
        "{error}"
    );
}
