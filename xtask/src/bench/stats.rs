//! Medians, spreads, timing slices and the result rows.
use std::time::{Duration, Instant};

use serde::Serialize;

/// Median and range of repeated measurements.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

pub fn stat(values: &[f64]) -> Option<Stat> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

/// Nanoseconds this thread has been on a CPU (Linux `schedstat`); `None` elsewhere.
pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `f` repeatedly for about `slice` of wall-clock time; nanoseconds of this thread's CPU
/// time per call, so that time spent descheduled on a shared machine does not count (wall
/// time where the CPU clock is unavailable).
pub fn ns_per_op(slice: Duration, f: &mut dyn FnMut()) -> f64 {
    ns_per_op_clock(slice, f, true)
}

/// As [`ns_per_op`] on the wall clock (for throughput across threads).
pub fn ns_per_op_wall(slice: Duration, f: &mut dyn FnMut()) -> f64 {
    ns_per_op_clock(slice, f, false)
}

fn ns_per_op_clock(slice: Duration, f: &mut dyn FnMut(), cpu: bool) -> f64 {
    // Warm caches and branch predictors a little.
    for _ in 0..4 {
        f();
    }
    let cpu_start = if cpu { thread_cpu_ns() } else { None };
    let start = Instant::now();
    let mut calls: u64 = 0;
    loop {
        for _ in 0..8 {
            f();
        }
        calls += 8;
        let el = start.elapsed();
        if el >= slice {
            let spent = match (cpu_start, thread_cpu_ns()) {
                (Some(a), Some(b)) if b > a => (b - a) as f64,
                _ => el.as_nanos() as f64,
            };
            return spent / calls as f64;
        }
    }
}

/// Least-squares line through `(x, y)`: `(intercept, slope, r²)`.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some((intercept, slope, r2))
}

/// One line of the table (and one object of report.json).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub part: String,
    pub metric: String,
    /// `ratio` (×), `ratio-instr` (× of instruction counts), `ms`, `MiB`, `bytes`, …
    pub unit: String,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub n: usize,
    /// The goal the row is judged against, if any.
    pub target: Option<String>,
    pub note: String,
}

impl Row {
    pub fn new(part: &str, metric: impl Into<String>, unit: &str) -> Row {
        Row {
            part: part.to_owned(),
            metric: metric.into(),
            unit: unit.to_owned(),
            median: None,
            min: None,
            max: None,
            n: 0,
            target: None,
            note: String::new(),
        }
    }

    pub fn with_stat(mut self, s: Option<Stat>) -> Row {
        if let Some(s) = s {
            self.median = Some(s.median);
            self.min = Some(s.min);
            self.max = Some(s.max);
            self.n = s.n;
        }
        self
    }

    pub fn value(mut self, v: f64) -> Row {
        self.median = Some(v);
        self.min = Some(v);
        self.max = Some(v);
        self.n = 1;
        self
    }

    pub fn target(mut self, t: &str) -> Row {
        self.target = Some(t.to_owned());
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Row {
        self.note = n.into();
        self
    }

    fn fmt_num(&self, v: f64) -> String {
        match self.unit.as_str() {
            "ratio" | "ratio-instr" => format!("{v:.3}"),
            "ms" => format!("{v:.1}"),
            "MiB" => format!("{v:.2}"),
            _ => {
                if v.abs() >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            }
        }
    }

    pub fn render(&self) -> [String; 5] {
        let unit = match self.unit.as_str() {
            "ratio" => "×".to_owned(),
            "ratio-instr" => "× instr".to_owned(),
            u => u.to_owned(),
        };
        let (value, spread) = match (self.median, self.min, self.max) {
            (Some(m), Some(lo), Some(hi)) if self.n > 1 => (
                format!("{} {unit}", self.fmt_num(m)),
                format!("[{}–{}] n={}", self.fmt_num(lo), self.fmt_num(hi), self.n),
            ),
            (Some(m), _, _) => (format!("{} {unit}", self.fmt_num(m)), "n=1".to_owned()),
            _ => ("—".to_owned(), String::new()),
        };
        let mut note = self.note.clone();
        if let Some(t) = &self.target {
            note = if note.is_empty() {
                format!("target {t}")
            } else {
                format!("target {t}; {note}")
            };
        }
        [self.part.clone(), self.metric.clone(), value, spread, note]
    }
}
