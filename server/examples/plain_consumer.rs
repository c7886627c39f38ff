//! The baseline of `make bench`'s record-checker numbers (`bench/streams/checker.sh`): a
//! plain consumer that only reads. It uses the checker's client (rust-rdkafka), principal
//! and consumer settings, so the ratio of the two rates is what checking costs.
//!
//! `plain_consumer TOPIC COUNT` reads COUNT records of TOPIC from the beginning as a group
//! of its own, then prints `records seconds bytes cpu_ticks`, timed from the first record
//! (joining a group is not reading); `cpu_ticks` is the process's CPU time (user and
//! system, all threads) over the same span, in clock ticks.

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(topic), Some(count)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: plain_consumer TOPIC COUNT");
    };
    let count: u64 = count.parse()?;
    let settings = server::configuration::Settings::load(None)?;
    let group = format!("bench-plain-{}", std::process::id());
    let mut config = settings
        .kafka
        .broker_config()
        .consumer_config("meshmart-bench-plain", &group);
    server::checker::fetch_settings(&mut config)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = config.create()?;
    consumer.subscribe(&[&topic])?;
    let (mut seen, mut bytes, mut start, mut start_ticks) = (0u64, 0usize, None, 0);
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {seen} of {count} records in 300 s"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            if start.is_none() {
                start = Some(Instant::now());
                start_ticks = cpu_ticks();
            }
            bytes += message.payload().map_or(0, <[u8]>::len);
            seen += 1;
        }
    }
    let seconds = start.map_or(0.0, |start| start.elapsed().as_secs_f64());
    let ticks = cpu_ticks() - start_ticks;
    println!("{seen} {seconds:.3} {bytes} {ticks}");
    Ok(())
}

/// This process's CPU time so far (user + system), in clock ticks (`/proc/self/stat`).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}
