//! The CPU limit, enforced like the kernel's CFS quota: in every period a container may
//! use `limits.cpu` × period of CPU time, then it waits for the next period.
//!
//! The guest is preempted by wasmtime's fuel: every [`FUEL_PER_SLICE`] units of fuel it
//! yields to the async executor, even in a loop that never calls the host. Each poll of
//! the guest is one slice, and the slice's cost is the thread's CPU time around it.
//!
//! A guest that yields wakes itself at once, and tokio keeps a self-woken task on the same
//! worker (its "LIFO slot", which other workers cannot steal from): two busy guests would
//! then share one thread while another thread idles. So a self-wake is turned into
//! `tokio::task::yield_now`, which puts the task at the back of the worker's stealable
//! queue, and busy guests spread over all the threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cpu_time::ThreadTime;
use tokio::time::{Instant, Sleep};

/// How much fuel (roughly, wasm instructions) a guest runs between yields: about a
/// millisecond of work, small against the 100 ms period.
pub const FUEL_PER_SLICE: u64 = 10_000_000;

/// The CFS period Kubernetes uses (cpu.cfs_period_us = 100000).
pub const CPU_PERIOD: Duration = Duration::from_millis(100);

/// A container's CPU allowance per period, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuQuota {
    pub millicores: u64,
}

impl CpuQuota {
    fn per_period(self) -> Duration {
        CPU_PERIOD * u32::try_from(self.millicores).unwrap_or(u32::MAX) / 1000
    }
}

/// What a container has used so far, shared with whoever reports it (metrics, tests).
#[derive(Debug, Default)]
pub struct CpuUsage {
    used_nanoseconds: AtomicU64,
    throttled_periods: AtomicU64,
}

impl CpuUsage {
    pub fn used(&self) -> Duration {
        Duration::from_nanos(self.used_nanoseconds.load(Ordering::Relaxed))
    }

    pub fn throttled_periods(&self) -> u64 {
        self.throttled_periods.load(Ordering::Relaxed)
    }
}

/// Runs `guest` under `quota`, accounting its CPU time into `usage`.
pub fn metered<F: Future>(
    guest: F,
    quota: Option<CpuQuota>,
    usage: Arc<CpuUsage>,
) -> CpuMetered<F> {
    let slice_waker = Arc::new(SliceWaker {
        polling: AtomicBool::new(false),
        woke_while_polling: AtomicBool::new(false),
        task: Mutex::new(Waker::noop().clone()),
    });
    CpuMetered {
        guest: Box::pin(guest),
        quota,
        usage,
        period_start: Instant::now(),
        used_in_period: Duration::ZERO,
        throttle: None,
        pending_yield: None,
        waker: Waker::from(Arc::clone(&slice_waker)),
        slice_waker,
    }
}

/// The waker the guest sees: a wake during the guest's own poll is only noted (it is a
/// fuel yield); a later one (a host call's I/O is ready) wakes the task.
struct SliceWaker {
    polling: AtomicBool,
    woke_while_polling: AtomicBool,
    task: Mutex<Waker>,
}

impl Wake for SliceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.polling.load(Ordering::SeqCst) {
            self.woke_while_polling.store(true, Ordering::SeqCst);
            // The poll may have ended between the load and the store, after the poller
            // took the flag: then nobody would see it, so the task is woken as well.
            if self.polling.load(Ordering::SeqCst) {
                return;
            }
        }
        self.task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wake_by_ref();
    }
}

pub struct CpuMetered<F> {
    guest: Pin<Box<F>>,
    quota: Option<CpuQuota>,
    usage: Arc<CpuUsage>,
    period_start: Instant,
    used_in_period: Duration,
    throttle: Option<Pin<Box<Sleep>>>,
    pending_yield: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    slice_waker: Arc<SliceWaker>,
    waker: Waker,
}

impl<F: Future> Future for CpuMetered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        if let Some(pending_yield) = self.pending_yield.as_mut() {
            if pending_yield.as_mut().poll(context).is_pending() {
                return Poll::Pending;
            }
            self.pending_yield = None;
        }
        if let Some(throttle) = self.throttle.as_mut() {
            if throttle.as_mut().poll(context).is_pending() {
                return Poll::Pending;
            }
            self.throttle = None;
        }
        let now = Instant::now();
        if now >= self.period_start + CPU_PERIOD {
            // Periods are aligned to the container's start, like CFS's per-cgroup timer.
            let periods_passed = (now - self.period_start).as_nanos() / CPU_PERIOD.as_nanos();
            self.period_start += CPU_PERIOD * u32::try_from(periods_passed).unwrap_or(u32::MAX);
            self.used_in_period = Duration::ZERO;
        }
        {
            let mut task = self
                .slice_waker
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !task.will_wake(context.waker()) {
                task.clone_from(context.waker());
            }
        }
        self.slice_waker.polling.store(true, Ordering::SeqCst);
        let waker = self.waker.clone();
        let mut guest_context = Context::from_waker(&waker);
        let slice_start = ThreadTime::now();
        let result = self.guest.as_mut().poll(&mut guest_context);
        let slice = slice_start.elapsed();
        self.slice_waker.polling.store(false, Ordering::SeqCst);
        let yielded = self
            .slice_waker
            .woke_while_polling
            .swap(false, Ordering::SeqCst);
        self.used_in_period += slice;
        self.usage.used_nanoseconds.fetch_add(
            u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if result.is_ready() {
            return result;
        }
        if let Some(quota) = self.quota
            && self.used_in_period >= quota.per_period()
        {
            self.usage.throttled_periods.fetch_add(1, Ordering::Relaxed);
            let mut throttle = Box::pin(tokio::time::sleep_until(self.period_start + CPU_PERIOD));
            // Registers the timer's waker; the guest's own wake-up is ignored until then.
            if throttle.as_mut().poll(context).is_ready() {
                context.waker().wake_by_ref();
            } else {
                self.throttle = Some(throttle);
            }
        } else if yielded {
            let mut pending_yield: Pin<Box<dyn Future<Output = ()> + Send>> =
                Box::pin(tokio::task::yield_now());
            if pending_yield.as_mut().poll(context).is_ready() {
                context.waker().wake_by_ref();
            } else {
                self.pending_yield = Some(pending_yield);
            }
        }
        Poll::Pending
    }
}
