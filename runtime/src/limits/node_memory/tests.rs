use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

fn container(name: &str, oom_score_adj: i64) -> Arc<MemoryUsage> {
    Arc::new(MemoryUsage::for_container(
        MemoryOwner {
            namespace: "default".to_owned(),
            pod: name.to_owned(),
            container: "hog".to_owned(),
        },
        oom_score_adj,
    ))
}

/// Stands for a guest being stopped: once the OOM killer chose the run, everything it
/// holds is given back, as dropping the guest's store does.
fn release_when_killed(pool: &Arc<NodeMemory>, usage: &Arc<MemoryUsage>) {
    let pool = Arc::clone(pool);
    let usage = Arc::clone(usage);
    tokio::spawn(async move {
        while !usage.oom_killed() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        pool.release(usage.bytes(), &usage);
    });
}

#[tokio::test]
async fn growth_that_fits_is_granted_and_given_back() {
    let (pool, _kills) = NodeMemory::new(1000);
    let hog = container("hog", 0);
    pool.reserve(600, &hog).await.unwrap();
    pool.reserve(400, &hog).await.unwrap();
    assert_eq!(pool.used_bytes(), 1000);
    assert_eq!(hog.bytes(), 1000);
    pool.release(1000, &hog);
    assert_eq!(pool.used_bytes(), 0);
    assert_eq!(hog.bytes(), 0);
    assert!(!hog.oom_killed());
}

#[tokio::test]
async fn the_biggest_container_is_killed_and_the_growth_waits_for_its_memory() {
    let (pool, mut kills) = NodeMemory::new(1000);
    let pool = Arc::new(pool);
    let settled = container("settled", 500);
    let growing = container("growing", 500);
    pool.reserve(900, &settled).await.unwrap();
    pool.reserve(50, &growing).await.unwrap();
    release_when_killed(&pool, &settled);
    pool.reserve(100, &growing).await.unwrap();
    assert!(
        settled.oom_killed(),
        "the container holding the most is the victim"
    );
    assert!(!growing.oom_killed());
    assert_eq!(pool.used_bytes(), 150);
    let kill = kills.recv().await.unwrap();
    assert_eq!(kill.victim.unwrap().pod, "settled");
    assert_eq!(kill.victim_bytes, 900);
}

#[tokio::test]
async fn the_growing_container_is_killed_when_it_scores_highest() {
    let (pool, mut kills) = NodeMemory::new(1000);
    let small = container("small", 500);
    let big = container("big", 500);
    pool.reserve(100, &small).await.unwrap();
    pool.reserve(850, &big).await.unwrap();
    pool.reserve(100, &big).await.unwrap_err();
    assert!(big.oom_killed());
    assert!(!small.oom_killed());
    assert_eq!(pool.used_bytes(), 950, "the refused growth is not counted");
    assert_eq!(kills.recv().await.unwrap().victim.unwrap().pod, "big");
}

#[tokio::test]
async fn qos_weighs_in_best_effort_goes_before_guaranteed() {
    let (pool, _kills) = NodeMemory::new(1000);
    let pool = Arc::new(pool);
    let guaranteed = container("guaranteed", -997);
    let best_effort = container("best-effort", 1000);
    pool.reserve(700, &guaranteed).await.unwrap();
    pool.reserve(200, &best_effort).await.unwrap();
    release_when_killed(&pool, &best_effort);
    pool.reserve(200, &guaranteed).await.unwrap();
    assert!(best_effort.oom_killed());
    assert!(!guaranteed.oom_killed());
    assert_eq!(pool.used_bytes(), 900);
}

#[tokio::test]
async fn a_victim_that_keeps_its_memory_costs_the_grower_its_life() {
    let (pool, _kills) = NodeMemory::new(1000);
    let stuck = container("stuck", 0);
    let growing = container("growing", 0);
    pool.reserve(900, &stuck).await.unwrap();
    pool.reserve(50, &growing).await.unwrap();
    pool.reserve(100, &growing).await.unwrap_err();
    assert!(stuck.oom_killed());
    assert!(growing.oom_killed());
    assert_eq!(pool.used_bytes(), 950);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_growth_never_passes_the_node_memory() {
    const CAPACITY: u64 = 10_000;
    let (pool, _kills) = NodeMemory::new(CAPACITY);
    let pool = Arc::new(pool);
    let highest_seen = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for index in 0..16 {
        let pool = Arc::clone(&pool);
        let highest_seen = Arc::clone(&highest_seen);
        tasks.push(tokio::spawn(async move {
            // Each container wants a fifth of the node: together far more than it has.
            let usage = container(&format!("hog-{index}"), 0);
            for _ in 0..200 {
                if usage.oom_killed() || pool.reserve(10, &usage).await.is_err() {
                    break;
                }
                highest_seen.fetch_max(pool.used_bytes(), Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
            pool.release(usage.bytes(), &usage);
            usage.oom_killed()
        }));
    }
    let mut killed = 0;
    for task in tasks {
        killed += usize::from(task.await.unwrap());
    }
    assert!(highest_seen.load(Ordering::SeqCst) <= CAPACITY);
    assert!(killed > 0, "the node ran out of memory");
    assert_eq!(pool.used_bytes(), 0, "everything was given back");
}
