//! The times of steps run at the same time in lanes (`run::concurrent`): the summary line each
//! lane gets in the step's result, and the same read back for the ledger (the overlap shows).

/// One lane: when it started (from the step's start) and how long it ran, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaneTime {
    pub label: String,
    pub start_ms: u64,
    pub duration_ms: u64,
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// `python dists: 1.1 s from +0 ms (1083 ms)` per lane, then `all in …, the sum of the lanes …
/// (overlap …)`.
pub fn render(lanes: &[LaneTime], wall_ms: u64) -> String {
    let sum: u64 = lanes.iter().map(|l| l.duration_ms).sum();
    let mut out: Vec<String> = lanes
        .iter()
        .map(|l| {
            format!(
                "{}: {} from +{} ms ({} ms)",
                l.label,
                secs(l.duration_ms),
                l.start_ms,
                l.duration_ms
            )
        })
        .collect();
    out.push(format!(
        "all in {}, the sum of the lanes {} (overlap {})",
        secs(wall_ms),
        secs(sum),
        secs(sum.saturating_sub(wall_ms))
    ));
    out.join("\n")
}

/// The lanes of a [`render`]ed summary (other lines are ignored; none: not a lanes step).
pub fn parse(text: &str) -> Vec<LaneTime> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (label, rest) = line
                .rsplit_once(": ")
                .filter(|(_, r)| r.contains(" from +"))?;
            let (_, after) = rest.split_once(" from +")?;
            let (start, exact) = after.split_once(" ms (")?;
            let duration = exact.strip_suffix(" ms)")?;
            Some(LaneTime {
                label: label.to_string(),
                start_ms: start.parse().ok()?,
                duration_ms: duration.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_lanes_read_back() {
        let lanes = vec![
            LaneTime {
                label: "python dists".into(),
                start_ms: 0,
                duration_ms: 3000,
            },
            LaneTime {
                label: "docker image".into(),
                start_ms: 2,
                duration_ms: 5000,
            },
        ];
        let text = render(&lanes, 5002);
        assert_eq!(
            text,
            "python dists: 3.0 s from +0 ms (3000 ms)\ndocker image: 5.0 s from +2 ms (5000 ms)\nall in 5.0 s, the sum of the lanes 8.0 s (overlap 3.0 s)"
        );
        assert_eq!(parse(&text), lanes);
        assert!(parse("uploaded 2 file(s)\nnothing: here").is_empty());
    }
}
