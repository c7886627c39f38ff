//! A subscriber's application, as the fault suite runs it: a real consumer in a group under
//! the subscription's prefix, as the subscription's own principal, that can be stopped
//! (closed: the group keeps its offsets and its lag grows) or slowed, and that records the
//! errors the broker answers (a removed ACL shows as `TOPIC_AUTHORIZATION_FAILED`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// How the consumer behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// As fast as records come.
    Running,
    /// One record every `slow_delay`.
    Slow,
    /// Closed: not a member of its group.
    Stopped,
}

impl Pace {
    fn from_u8(value: u8) -> Pace {
        match value {
            1 => Pace::Slow,
            2 => Pace::Stopped,
            _ => Pace::Running,
        }
    }
}

/// What the consumer saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub consumed: u64,
    /// Errors the broker or client reported, newest last (at most 50 kept).
    pub errors: Vec<String>,
    pub authorization_failures: u64,
    pub last_authorization_failure: Option<Instant>,
}

/// A running subscriber consumer.
pub struct Subscriber {
    pace: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<JoinHandle<()>>,
}

impl Subscriber {
    /// Starts consuming `topics` with `config` (its group, principal and credentials set).
    pub fn start(config: ClientConfig, topics: Vec<String>, slow_delay: Duration) -> Self {
        let pace = Arc::new(AtomicU8::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let thread = {
            let (pace, stop, seen) = (Arc::clone(&pace), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || consume(&config, &topics, slow_delay, &pace, &stop, &seen))
        };
        Self {
            pace,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub fn set(&self, pace: Pace) {
        self.pace.store(pace as u8, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Seen {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Closes the consumer (committing what it read) and waits for its thread.
    pub async fn close(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Pace {
    const fn as_u8(self) -> u8 {
        self as u8
    }
}

fn consume(
    config: &ClientConfig,
    topics: &[String],
    slow_delay: Duration,
    pace: &AtomicU8,
    stop: &AtomicBool,
    seen: &Mutex<Seen>,
) {
    let record = |error: &KafkaError| {
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        if is_authorization_failure(error) {
            seen.authorization_failures += 1;
            seen.last_authorization_failure = Some(Instant::now());
        }
        if seen.errors.len() >= 50 {
            seen.errors.remove(0);
        }
        seen.errors.push(error.to_string());
    };
    let mut consumer: Option<BaseConsumer> = None;
    while !stop.load(Ordering::SeqCst) {
        let current = Pace::from_u8(pace.load(Ordering::SeqCst));
        if current == Pace::Stopped {
            // Dropping closes it: it commits and leaves the group.
            consumer = None;
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let active = match &consumer {
            Some(c) => c,
            None => {
                let created: Result<BaseConsumer, KafkaError> = config.create();
                match created.and_then(|c| {
                    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                    c.subscribe(&names).map(|()| c)
                }) {
                    Ok(c) => consumer.insert(c),
                    Err(error) => {
                        record(&error);
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                }
            }
        };
        match active.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                seen.lock().unwrap_or_else(PoisonError::into_inner).consumed += 1;
                if current == Pace::Slow {
                    // Sleep in short steps so a change of pace or a stop is quick.
                    let until = Instant::now() + slow_delay;
                    while Instant::now() < until
                        && !stop.load(Ordering::SeqCst)
                        && pace.load(Ordering::SeqCst) == Pace::Slow.as_u8()
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Some(Err(error)) => record(&error),
            None => {}
        }
    }
}

/// Whether a consumer error says the principal may not read.
pub fn is_authorization_failure(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::GroupAuthorizationFailed
        )
    ) || error.to_string().contains("Authorization")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_failures_are_told_from_other_errors() {
        assert!(is_authorization_failure(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(is_authorization_failure(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::GroupAuthorizationFailed
        )));
        assert!(!is_authorization_failure(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert_eq!(Pace::from_u8(Pace::Slow.as_u8()), Pace::Slow);
        assert_eq!(Pace::from_u8(Pace::Stopped.as_u8()), Pace::Stopped);
    }
}
