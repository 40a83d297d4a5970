//! `scan --per-host N`: at most N connections at a time to any one host,
//! shared by every entry of a scan, so a million domains hosted at one
//! provider do not all knock on its door at once.
//!
//! A host is the address dialled (as text), not the name: a provider's
//! customers each have their own `autoconfig.`, `mail.` and `imap.` names,
//! all pointing at the same machines. Every connection goes through here
//! where it is made: the HTTPS client's resolver
//! ([`super::http::GuardedResolver`]) and the probes' dialer hold a
//! permit for the connection's whole use.
//!
//! A host's counter lives only while someone holds or waits for it, so the
//! table stays as small as the number of hosts in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, cheap to clone and share.
#[derive(Clone, Debug)]
pub struct HostLimits {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Leave to connect to a host; the slot is freed when dropped.
#[derive(Debug)]
pub struct HostPermit {
    inner: Option<Arc<Inner>>,
    host: String,
    sem: Option<Arc<Semaphore>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl HostLimits {
    /// At most `per_host` connections per host; 0 means no limit.
    pub fn new(per_host: usize) -> HostLimits {
        HostLimits {
            inner: (per_host > 0).then(|| {
                Arc::new(Inner {
                    per_host,
                    hosts: Mutex::new(HashMap::new()),
                })
            }),
        }
    }

    /// No limit at all.
    pub fn unlimited() -> HostLimits {
        HostLimits::new(0)
    }

    /// Whether there is a limit at all.
    pub fn is_limited(&self) -> bool {
        self.inner.is_some()
    }

    /// Waits for a free slot at `host` (case-insensitive).
    pub async fn acquire(&self, host: &str) -> HostPermit {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let Some(inner) = &self.inner else {
            return HostPermit {
                inner: None,
                host,
                sem: None,
                permit: None,
            };
        };
        let sem = {
            let mut hosts = inner.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(inner.per_host)))
                .clone()
        };
        let permit = sem.clone().acquire_owned().await.ok();
        HostPermit {
            inner: Some(inner.clone()),
            host,
            sem: Some(sem),
            permit,
        }
    }

    /// How many hosts are in use right now (for tests).
    pub fn hosts_in_use(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| {
            i.hosts.lock().unwrap_or_else(|p| p.into_inner()).len()
        })
    }
}

impl HostPermit {
    /// The host this permit is for.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        self.permit.take();
        let Some(inner) = self.inner.take() else {
            return;
        };
        let mut hosts = inner.hosts.lock().unwrap_or_else(|p| p.into_inner());
        self.sem.take();
        if hosts
            .get(&self.host)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            hosts.remove(&self.host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn at_most_n_at_once_per_host_and_the_table_empties() {
        let limits = HostLimits::new(2);
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (limits, now, peak) = (limits.clone(), now.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let host = if i % 2 == 0 { "A.test" } else { "a.test." };
                let _p = limits.acquire(host).await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(limits.hosts_in_use(), 0);
        // No limit: nothing is recorded.
        let free = HostLimits::unlimited();
        let _a = free.acquire("x.test").await;
        assert_eq!(free.hosts_in_use(), 0);
    }
}
