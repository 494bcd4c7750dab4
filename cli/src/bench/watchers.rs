//! Watch delivery latency: many watchers, each on its own HTTP/1.1 connection or spread
//! over a few HTTP/2 connections, watch ConfigMaps while one client creates them at a
//! steady rate. Each object's name carries its index, and the creator keeps, per index,
//! the instant just before it sent the create and the instant its 201 arrived; each
//! watcher notes when each event reached it.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Buf, BytesMut};
use futures::StreamExt;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::sync::watch;

use super::connection::{ApiServerEndpoint, Connection, SharedConnection};
use super::creates::{CONFIG_MAPS_PATH, config_map_body};
use super::samples::{Summary, nanoseconds_between};

/// How many watch connections are opened at once, so the listener's backlog never fills.
const CONCURRENT_OPENS: usize = 64;

/// How long watchers may still take to receive the last events after the last create.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

/// The most streams the API server lets one HTTP/2 connection have open: hyper's default,
/// which it keeps (kube-apiserver's current default is 100). A watch beyond it would wait
/// forever for another to end, so more watchers per connection are refused up front.
pub const MAX_STREAMS_PER_CONNECTION: usize = 200;

/// How the watchers reach the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchTransport {
    /// Each watcher on its own HTTP/1.1 connection, as kube-rs watches.
    Http1PerWatcher,
    /// The watchers spread evenly over this many HTTP/2 connections (at most one per
    /// watcher), as client-go multiplexes every watch of a process over one connection.
    Http2(NonZeroUsize),
}

impl WatchTransport {
    /// How many connections `watchers` watchers use.
    pub fn connections(self, watchers: usize) -> usize {
        match self {
            Self::Http1PerWatcher => watchers,
            Self::Http2(connections) => connections.get().min(watchers),
        }
    }
}

pub struct WatchLoad {
    pub watchers: usize,
    pub transport: WatchTransport,
    pub events: usize,
    /// Creates per second.
    pub rate: NonZeroU32,
    /// Every object's name starts with it, followed by its index.
    pub name_prefix: String,
    /// The revision the watches start after.
    pub resource_version: u64,
}

pub struct WatchReport {
    pub watchers: usize,
    pub transport: WatchTransport,
    /// Creates answered 201.
    pub created: usize,
    /// Events that reached watchers, counted once per watcher.
    pub delivered: usize,
    /// Events that arrived out of order, twice, or for an object never acknowledged.
    pub unexpected: usize,
    /// From just before the create was sent to the event's arrival.
    pub from_send: Summary,
    /// From the create's 201 to the event's arrival; negative when the event came first.
    pub from_acknowledgement: Summary,
    /// The creates' own request latency.
    pub create_latency: Summary,
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    event_type: String,
    object: WatchedObject,
}

#[derive(Deserialize)]
struct WatchedObject {
    metadata: WatchedMetadata,
}

#[derive(Deserialize)]
struct WatchedMetadata {
    #[serde(default)]
    name: String,
}

/// The index in `name`, when it is one of this run's objects.
fn index_of(name: &str, name_prefix: &str) -> Option<usize> {
    name.strip_prefix(name_prefix)?.parse().ok()
}

/// Where the watches are opened.
enum WatchConnections {
    /// A new HTTP/1.1 connection to the API server for each watch.
    PerWatcher(ApiServerEndpoint),
    /// Watch `i` goes on connection `i % n`.
    Shared(Vec<SharedConnection>),
}

impl WatchConnections {
    async fn open(
        endpoint: &ApiServerEndpoint,
        watchers: usize,
        transport: WatchTransport,
    ) -> anyhow::Result<Self> {
        Ok(match transport {
            WatchTransport::Http1PerWatcher => Self::PerWatcher(endpoint.clone()),
            WatchTransport::Http2(_) => {
                let connections = transport.connections(watchers);
                anyhow::ensure!(
                    watchers.div_ceil(connections.max(1)) <= MAX_STREAMS_PER_CONNECTION,
                    "{watchers} watchers over {connections} HTTP/2 connections would put more than {MAX_STREAMS_PER_CONNECTION} watches on one connection: use more connections"
                );
                let opening = (0..connections).map(|_| SharedConnection::open(endpoint));
                Self::Shared(futures::future::try_join_all(opening).await?)
            }
        })
    }

    async fn watch(&self, index: usize, path: &str) -> anyhow::Result<Incoming> {
        let response = match self {
            Self::PerWatcher(endpoint) => {
                Connection::open(endpoint)
                    .await?
                    .get_streaming(path)
                    .await?
            }
            Self::Shared(connections) => {
                connections[index % connections.len()]
                    .get_streaming(path)
                    .await?
            }
        };
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "the watch was answered {}",
            response.status()
        );
        Ok(response.into_body())
    }
}

/// Reads one watch until it has seen `expected` of this run's events or is told to stop;
/// answers each event's index and arrival instant, in arrival order.
async fn read_watch(
    mut body: Incoming,
    name_prefix: String,
    expected: usize,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<(usize, Instant)>> {
    let mut arrivals = Vec::with_capacity(expected);
    let mut buffer = BytesMut::new();
    while arrivals.len() < expected {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Some(frame) = frame else { break };
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let arrived = Instant::now();
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            let line = buffer.split_to(end + 1);
            let line: WatchLine = serde_json::from_slice(line.chunk())
                .context("the watch sent a line that is not an event")?;
            if line.event_type == "ADDED"
                && let Some(index) = index_of(&line.object.metadata.name, &name_prefix)
            {
                arrivals.push((index, arrived));
            }
        }
    }
    Ok(arrivals)
}

/// When each create was sent and answered; `None` for one that was not answered 201.
type CreateTimes = Vec<Option<(Instant, Instant)>>;

async fn create_steadily(
    endpoint: &ApiServerEndpoint,
    events: usize,
    rate: NonZeroU32,
    name_prefix: &str,
) -> anyhow::Result<CreateTimes> {
    let mut connection = Connection::open(endpoint).await?;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.get());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut times = Vec::with_capacity(events);
    for index in 0..events {
        ticks.tick().await;
        let body = config_map_body(&format!("{name_prefix}{index}"));
        let sent = Instant::now();
        let response = connection.post_json(CONFIG_MAPS_PATH, body).await?;
        let answered = Instant::now();
        times.push((response.status == StatusCode::CREATED).then_some((sent, answered)));
    }
    Ok(times)
}

/// The events of every watcher, checked against the creates and timed.
#[derive(Default)]
struct Tally {
    delivered: usize,
    unexpected: usize,
    from_send: Vec<i64>,
    from_acknowledgement: Vec<i64>,
}

impl Tally {
    /// Adds one watcher's arrivals. Each acknowledged create must arrive once, in order;
    /// the indices of failed creates are skipped, and anything else out of sequence is a
    /// duplicate, a reordering or an event for a create that failed.
    fn add_watcher(&mut self, times: &CreateTimes, arrivals: Vec<(usize, Instant)>) {
        let mut next_index = 0;
        for (index, arrived) in arrivals {
            while times.get(next_index).is_some_and(Option::is_none) {
                next_index += 1;
            }
            match times.get(index).copied().flatten() {
                Some((sent, answered)) if index == next_index => {
                    self.delivered += 1;
                    self.from_send.push(nanoseconds_between(sent, arrived));
                    self.from_acknowledgement
                        .push(nanoseconds_between(answered, arrived));
                    next_index += 1;
                }
                _ => self.unexpected += 1,
            }
        }
    }
}

pub async fn run(endpoint: &ApiServerEndpoint, load: WatchLoad) -> anyhow::Result<WatchReport> {
    let path = format!(
        "{CONFIG_MAPS_PATH}?watch=1&resourceVersion={}",
        load.resource_version
    );
    // Held to the end, so that the HTTP/2 connections outlive every watcher's reading.
    let connections = WatchConnections::open(endpoint, load.watchers, load.transport).await?;
    let bodies: Vec<Incoming> = futures::stream::iter(0..load.watchers)
        .map(|index| connections.watch(index, &path))
        .buffer_unordered(CONCURRENT_OPENS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let (stop, stopped) = watch::channel(false);
    let readers: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            tokio::spawn(read_watch(
                body,
                load.name_prefix.clone(),
                load.events,
                stopped.clone(),
            ))
        })
        .collect();
    let times = create_steadily(endpoint, load.events, load.rate, &load.name_prefix).await?;
    let created = times.iter().flatten().count();
    // Watchers that have not yet seen every acknowledged create get a grace period; one
    // that received a create's event without its 201 would still be waiting for it.
    let giving_up = tokio::spawn(async move {
        tokio::time::sleep(DELIVERY_GRACE).await;
        let _ = stop.send(true);
    });
    let mut tally = Tally::default();
    for reader in readers {
        tally.add_watcher(&times, reader.await??);
    }
    giving_up.abort();
    Ok(WatchReport {
        watchers: load.watchers,
        transport: load.transport,
        created,
        delivered: tally.delivered,
        unexpected: tally.unexpected,
        from_send: Summary::of(tally.from_send),
        from_acknowledgement: Summary::of(tally.from_acknowledgement),
        create_latency: Summary::of(
            times
                .iter()
                .flatten()
                .map(|(sent, answered)| nanoseconds_between(*sent, *answered))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, milliseconds: u64) -> Instant {
        start + Duration::from_millis(milliseconds)
    }

    #[test]
    fn each_acknowledged_create_counts_once_in_order() {
        let start = Instant::now();
        // The second create failed; the others were sent at 0, 10 and 20 ms and answered
        // 2 ms later.
        let times = vec![
            Some((at(start, 0), at(start, 2))),
            None,
            Some((at(start, 10), at(start, 12))),
            Some((at(start, 20), at(start, 22))),
        ];
        let mut tally = Tally::default();
        tally.add_watcher(
            &times,
            vec![(0, at(start, 1)), (2, at(start, 13)), (3, at(start, 25))],
        );
        assert_eq!((tally.delivered, tally.unexpected), (3, 0));
        assert_eq!(tally.from_send, [1_000_000, 3_000_000, 5_000_000]);
        assert_eq!(
            tally.from_acknowledgement,
            [-1_000_000, 1_000_000, 3_000_000]
        );

        // A duplicate, a reordering, an event of the failed create and one of an index
        // never created are all unexpected.
        let mut tally = Tally::default();
        tally.add_watcher(
            &times,
            vec![
                (0, at(start, 1)),
                (0, at(start, 1)),
                (1, at(start, 5)),
                (3, at(start, 21)),
                (2, at(start, 22)),
                (9, at(start, 30)),
            ],
        );
        assert_eq!((tally.delivered, tally.unexpected), (2, 4));
    }

    #[test]
    fn only_this_runs_names_carry_an_index() {
        assert_eq!(
            index_of("bench-watch-1000-42", "bench-watch-1000-"),
            Some(42)
        );
        assert_eq!(index_of("bench-watch-100-42", "bench-watch-1000-"), None);
        assert_eq!(index_of("bench-watch-1000-x", "bench-watch-1000-"), None);
    }
}
