//! UDP inside the virtual network: datagrams between sockets of one pod (over loopback
//! or the pod IP) and between pods of one node. Like UDP, delivery is best effort: a
//! datagram to a port nobody has bound, or to a full inbox, is dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// How many datagrams wait for a socket that does not read them before more are dropped.
const INBOX_CAPACITY: usize = 1024;

#[derive(Clone, Debug)]
pub struct Datagram {
    pub data: Bytes,
    pub source: SocketAddr,
}

/// A bound UDP socket's receive queue.
#[derive(Default)]
pub struct DatagramInbox {
    queue: Mutex<VecDeque<Datagram>>,
    arrived: Notify,
}

impl DatagramInbox {
    pub fn push(&self, datagram: Datagram) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.len() < INBOX_CAPACITY {
            queue.push_back(datagram);
            self.arrived.notify_waiters();
        }
    }

    pub fn take(&self, max: usize) -> Vec<Datagram> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = max.min(queue.len());
        queue.drain(..count).collect()
    }

    fn is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
    }

    /// Waits until a datagram is queued.
    pub async fn ready(&self) {
        loop {
            let notified = self.arrived.notified();
            if !self.is_empty() {
                return;
            }
            notified.await;
        }
    }
}
