//! What a scenario found, and the table and summary `meshmart chaos` prints (or `--json`).
//! Nothing here does I/O.

use serde::Serialize;

use super::scenario::Scenario;
use super::tally::Tally;

/// The incident the detector opened about a fault, as the harness read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Seen {
    pub id: uuid::Uuid,
    pub channel: String,
    pub signal: String,
    pub cause: String,
    pub confidence: f64,
    /// Actions recorded on it (`action:outcome`).
    pub actions: Vec<String>,
}

/// Who undid the fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Recovery {
    /// The stack healed itself (a reconciler, a supervisor, an action) after this long.
    System { after_seconds: f64, how: String },
    /// The harness undid it (the fault's time was up, or nothing healed it).
    Harness { how: String },
    /// Not undone (the undo failed: see the notes).
    No,
}

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "why")]
pub enum Status {
    Ran,
    /// The stack lacks what it needs (no subscription, no node process, no broker control).
    Skipped(String),
    /// The harness itself failed (the fault may not have happened).
    Failed(String),
}

/// One scenario's result: a row of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    /// The cause injected (`None` for the clean run).
    pub injected: Option<&'static str>,
    pub status: Status,
    /// What the harness saw that shows the fault really happened.
    pub injection: Vec<String>,
    /// Seconds from the fault to the incident opening, if one opened on the fault's channel.
    pub detection_seconds: Option<f64>,
    pub incident: Option<Seen>,
    pub recovery: Recovery,
    /// Seconds from the fault to the incident's resolution.
    pub resolved_seconds: Option<f64>,
    /// Events counted against the producer's log.
    pub events: Option<Tally>,
    /// Records the producer got no acknowledgement for (not counted as lost: it knows).
    pub unacknowledged: u64,
    /// Incidents opened during the scenario on other channels (or, clean, on any).
    pub other_incidents: Vec<String>,
    pub notes: Vec<String>,
}

impl Outcome {
    /// A row for `scenario` before anything happened.
    pub fn new(scenario: Scenario) -> Self {
        Outcome {
            scenario: scenario.name(),
            injected: scenario.cause(),
            status: Status::Ran,
            injection: Vec::new(),
            detection_seconds: None,
            incident: None,
            recovery: Recovery::No,
            resolved_seconds: None,
            events: None,
            unacknowledged: 0,
            other_incidents: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Whether the incident names the injected cause.
    pub fn correct(&self) -> bool {
        match (&self.incident, self.injected) {
            (Some(seen), Some(cause)) => seen.cause == cause,
            _ => false,
        }
    }

    fn ran(&self) -> bool {
        self.status == Status::Ran
    }
}

/// The suite's figures against the targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Fault scenarios that ran, and of those with an incident on the fault's channel.
    pub faults_run: usize,
    pub detected: usize,
    /// p95 of the detection delays (nearest rank), over the detected ones.
    pub detection_p95_seconds: Option<f64>,
    /// Scenarios whose incident named the injected cause.
    pub correct_cause: usize,
    /// Incidents opened during the clean run (`None`: it did not run).
    pub false_incidents: Option<usize>,
    /// Events lost over every fault scenario that ran (all of them are recoverable).
    pub lost: u64,
    pub duplicated: u64,
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
}

/// What the incident detector's modelling cost over the run, from the server's metrics
/// ([`crate::detector`]): CPU seconds of the detector's thread and of its PostgreSQL
/// backends, over the run's wall time, as a share of one core.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    pub seconds: f64,
    pub detector_cpu_seconds: f64,
    pub postgres_cpu_seconds: f64,
    /// Signal models the detector evaluated at the end of the run.
    pub models: u64,
}

impl Cost {
    /// The cost between two readings of the server's metrics `seconds` apart; `None` when
    /// the server exports no detector figures.
    pub fn between(before: &str, after: &str, seconds: f64) -> Option<Cost> {
        let read = |text: &str, part: &str| {
            metric(
                text,
                &format!("meshmart_detector_cpu_seconds{{part=\"{part}\"}}"),
            )
        };
        let detector = read(after, "detector")? - read(before, "detector").unwrap_or(0.0);
        let postgres =
            read(after, "postgres").unwrap_or(0.0) - read(before, "postgres").unwrap_or(0.0);
        Some(Cost {
            seconds,
            detector_cpu_seconds: detector.max(0.0),
            postgres_cpu_seconds: postgres.max(0.0),
            models: metric(after, "meshmart_detector_models").unwrap_or(0.0) as u64,
        })
    }

    /// Percent of one core, detector and PostgreSQL together.
    pub fn percent(&self) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        100.0 * (self.detector_cpu_seconds + self.postgres_cpu_seconds) / self.seconds
    }

    pub fn line(&self) -> String {
        let share = |cpu: f64| 100.0 * cpu / self.seconds.max(f64::MIN_POSITIVE);
        format!(
            "detection cost: {:.2} % of one core (detector thread {:.2} %, its PostgreSQL backends {:.2} %) for {} signal models over {:.0} min (target < 5 %)",
            self.percent(),
            share(self.detector_cpu_seconds),
            share(self.postgres_cpu_seconds),
            self.models,
            self.seconds / 60.0
        )
    }
}

/// The value of the sample `name` (with its labels, as printed) in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// The p-th percentile (0 to 100) of `values` by nearest rank; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Sums up the outcomes.
pub fn summarize(outcomes: &[Outcome]) -> Summary {
    let faults: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.injected.is_some() && o.ran())
        .collect();
    let delays: Vec<f64> = faults.iter().filter_map(|o| o.detection_seconds).collect();
    Summary {
        faults_run: faults.len(),
        detected: delays.len(),
        detection_p95_seconds: percentile(&delays, 95.0),
        correct_cause: faults.iter().filter(|o| o.correct()).count(),
        false_incidents: outcomes
            .iter()
            .find(|o| o.injected.is_none() && o.ran())
            .map(|o| o.other_incidents.len()),
        lost: faults.iter().filter_map(|o| o.events).map(|t| t.lost).sum(),
        duplicated: faults
            .iter()
            .filter_map(|o| o.events)
            .map(|t| t.duplicated)
            .sum(),
        skipped: outcomes
            .iter()
            .filter_map(|o| match &o.status {
                Status::Skipped(why) => Some(format!("{}: {why}", o.scenario)),
                _ => None,
            })
            .collect(),
        failed: outcomes
            .iter()
            .filter_map(|o| match &o.status {
                Status::Failed(why) => Some(format!("{}: {why}", o.scenario)),
                _ => None,
            })
            .collect(),
    }
}

const HEADINGS: [&str; 9] = [
    "scenario",
    "detected",
    "cause injected",
    "cause diagnosed",
    "actions",
    "recovered",
    "resolved",
    "lost",
    "dup",
];

/// The table: one row per scenario, then the summary against the targets.
pub fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 9]> = outcomes.iter().map(row).collect();
    let mut widths = HEADINGS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&HEADINGS.map(String::from))];
    out.extend(rows.iter().map(|r| line(r)));
    let summary = summarize(outcomes);
    out.push(String::new());
    out.push(format!(
        "detection delay p95: {} (target <= 30 s) over {} of {} faults detected",
        summary
            .detection_p95_seconds
            .map_or("-".to_string(), |s| format!("{s:.1} s")),
        summary.detected,
        summary.faults_run
    ));
    out.push(format!(
        "correct cause: {} of {} (target >= 9 of 10)",
        summary.correct_cause, summary.faults_run
    ));
    if let Some(false_incidents) = summary.false_incidents {
        out.push(format!(
            "false incidents in the clean run: {false_incidents} (target 0)"
        ));
    }
    out.push(format!(
        "events lost: {}, duplicated: {} (target 0 lost)",
        summary.lost, summary.duplicated
    ));
    for skipped in &summary.skipped {
        out.push(format!("skipped {skipped}"));
    }
    for failed in &summary.failed {
        out.push(format!("FAILED {failed}"));
    }
    out.join("\n")
}

fn row(o: &Outcome) -> [String; 9] {
    let dash = || "-".to_string();
    let seconds = |s: Option<f64>| s.map_or_else(dash, |s| format!("{s:.1} s"));
    let (detected, diagnosed, actions) = match (&o.status, &o.incident) {
        (Status::Skipped(_), _) => ("skipped".to_string(), dash(), dash()),
        (Status::Failed(_), _) => ("FAILED".to_string(), dash(), dash()),
        (Status::Ran, _) if o.injected.is_none() => {
            (format!("{} false", o.other_incidents.len()), dash(), dash())
        }
        (Status::Ran, None) => ("no".to_string(), dash(), dash()),
        (Status::Ran, Some(seen)) => (
            seconds(o.detection_seconds),
            format!(
                "{} {:.2}{}",
                seen.cause,
                seen.confidence,
                if o.correct() { "" } else { " (wrong)" }
            ),
            if seen.actions.is_empty() {
                "none".to_string()
            } else {
                seen.actions.join(",")
            },
        ),
    };
    let recovered = match &o.recovery {
        Recovery::System { after_seconds, how } => format!("yes, {how} {after_seconds:.0} s"),
        Recovery::Harness { how } => format!("harness: {how}"),
        Recovery::No if o.injected.is_none() || !o.ran() => dash(),
        Recovery::No => "NO".to_string(),
    };
    let (lost, dup) = o.events.map_or_else(
        || (dash(), dash()),
        |t| (t.lost.to_string(), t.duplicated.to_string()),
    );
    [
        o.scenario.to_string(),
        detected,
        o.injected.map_or_else(dash, str::to_string),
        diagnosed,
        actions,
        recovered,
        seconds(o.resolved_seconds),
        lost,
        dup,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detection_cost_is_the_cpu_the_metrics_grew_by_over_the_wall_time() {
        let before = "# TYPE meshmart_detector_cpu_seconds gauge\nmeshmart_detector_cpu_seconds{part=\"detector\"} 10\nmeshmart_detector_cpu_seconds{part=\"postgres\"} 4\nmeshmart_detector_models 30\n";
        let after = "meshmart_detector_cpu_seconds{part=\"detector\"} 16\nmeshmart_detector_cpu_seconds{part=\"postgres\"} 7\nmeshmart_detector_models 36\n";
        let cost = Cost::between(before, after, 600.0).expect("figures");
        assert_eq!(cost.models, 36);
        assert!((cost.percent() - 1.5).abs() < 1e-9, "{cost:?}");
        assert!(
            cost.line().contains("1.50 % of one core"),
            "{}",
            cost.line()
        );
        assert_eq!(Cost::between("", "http_requests_total 3", 60.0), None);
    }

    fn detected(scenario: Scenario, delay: f64, cause: &str) -> Outcome {
        Outcome {
            detection_seconds: Some(delay),
            incident: Some(Seen {
                cause: cause.to_string(),
                confidence: 0.8,
                channel: "broker".to_string(),
                actions: vec!["notify:done".to_string()],
                ..Seen::default()
            }),
            events: Some(Tally {
                acked: 10,
                found: 10,
                ..Tally::default()
            }),
            recovery: Recovery::Harness {
                how: "restored".to_string(),
            },
            ..Outcome::new(scenario)
        }
    }

    #[test]
    fn the_percentile_is_by_nearest_rank() {
        let delays: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&delays, 95.0), Some(19.0));
        assert_eq!(percentile(&delays, 100.0), Some(20.0));
        assert_eq!(percentile(&delays, 50.0), Some(10.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 95.0), None);
        assert_eq!(percentile(&[3.0, f64::NAN, 1.0], 95.0), Some(3.0));
    }

    #[test]
    fn the_summary_scores_causes_delays_false_incidents_and_losses() {
        let mut clean = Outcome::new(Scenario::Clean);
        clean.other_incidents = vec!["product:x rate_in".to_string()];
        let mut lossy = detected(Scenario::BrokerUnreachable, 40.0, "broker_unreachable");
        lossy.events = Some(Tally {
            acked: 10,
            found: 8,
            lost: 2,
            duplicated: 1,
            unacknowledged_found: 0,
        });
        let mut skipped = Outcome::new(Scenario::NodeCrashed);
        skipped.status = Status::Skipped("no node process on this host".to_string());
        let outcomes = vec![
            clean,
            detected(Scenario::ProducerStopped, 12.0, "producer_stopped"),
            detected(Scenario::ContractBroken, 20.0, "schema_drift"),
            Outcome::new(Scenario::ConsumerSlow),
            lossy,
            skipped,
        ];
        let summary = summarize(&outcomes);
        assert_eq!(summary.faults_run, 4, "the skipped one does not count");
        assert_eq!(summary.detected, 3);
        assert_eq!(summary.detection_p95_seconds, Some(40.0));
        assert_eq!(summary.correct_cause, 2, "contract-broken was called drift");
        assert_eq!(summary.false_incidents, Some(1));
        assert_eq!((summary.lost, summary.duplicated), (2, 1));
        assert_eq!(
            summary.skipped,
            vec!["node-crashed: no node process on this host"]
        );

        let table = table(&outcomes);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("scenario"), "{table}");
        assert!(
            lines[1].starts_with("clean") && lines[1].contains("1 false"),
            "{table}"
        );
        assert!(lines[3].contains("schema_drift 0.80 (wrong)"), "{table}");
        assert!(
            lines[4].starts_with("consumer-slow") && lines[4].contains(" no "),
            "{table}"
        );
        assert!(lines[6].contains("skipped"), "{table}");
        // Columns line up: every row's "cause injected" starts where its heading does.
        let column = lines[0].find("cause injected").expect("heading");
        assert_eq!(&lines[2][column..column + 16], "producer_stopped");
        assert!(table.contains("detection delay p95: 40.0 s"), "{table}");
        assert!(table.contains("correct cause: 2 of 4"), "{table}");
        assert!(
            table.contains("false incidents in the clean run: 1"),
            "{table}"
        );
        assert!(table.contains("events lost: 2, duplicated: 1"), "{table}");
    }
}
