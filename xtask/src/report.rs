//! Check results: the printed table, the JSON report and the exit rule.
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
    /// A known, documented deviation of a peer: the cell failed the way we expect it to.
    Xfail,
    /// A cell documented as expected-fail passed: the matrix in docs/conformance.md is stale.
    Xpass,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "XPASS",
        }
    }
}

/// One row: a requirement ID, its level, the outcome and why.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub id: String,
    pub level: String,
    pub result: Outcome,
    /// What exactly was exercised (one requirement may have several rows).
    pub case: String,
    pub detail: String,
}

impl Check {
    /// Whether this row makes the run fail: a failed MUST / MUST NOT / REQUIRED line (and
    /// `implied` lines, which DIGEST.md says to treat as required), or an unexpected pass.
    pub fn is_fatal(&self) -> bool {
        match self.result {
            Outcome::Fail => {
                let l = self.level.to_ascii_uppercase();
                l.contains("MUST") || l.contains("REQUIRED") || l.contains("IMPLIED")
            }
            Outcome::Xpass => true,
            _ => false,
        }
    }
}

/// Collects rows.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn push(
        &mut self,
        id: &str,
        level: &str,
        case: &str,
        result: Outcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            id: id.to_owned(),
            level: level.to_owned(),
            result,
            case: case.to_owned(),
            detail: detail.into(),
        });
    }

    /// Records `Ok(detail)` as pass and `Err(detail)` as fail.
    pub fn record(&mut self, id: &str, level: &str, case: &str, r: Result<String, String>) {
        match r {
            Ok(d) => self.push(id, level, case, Outcome::Pass, d),
            Err(d) => self.push(id, level, case, Outcome::Fail, d),
        }
    }

    pub fn skip(&mut self, id: &str, level: &str, case: &str, why: impl Into<String>) {
        self.push(id, level, case, Outcome::Skip, why);
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.checks.iter().filter(|c| c.result == o).count()
    }

    pub fn fatal(&self) -> usize {
        self.checks.iter().filter(|c| c.is_fatal()).count()
    }

    /// The table on stdout.
    pub fn print(&self, title: &str) {
        let w_id = self
            .checks
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let w_lv = self
            .checks
            .iter()
            .map(|c| c.level.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let w_case = self
            .checks
            .iter()
            .map(|c| c.case.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 48);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "== {title}");
        let _ = writeln!(
            out,
            "{:<w_id$}  {:<w_lv$}  {:<6}  {:<w_case$}  why",
            "ID", "level", "result", "case"
        );
        for c in &self.checks {
            let _ = writeln!(
                out,
                "{:<w_id$}  {:<w_lv$}  {:<6}  {:<w_case$}  {}",
                c.id,
                c.level,
                c.result.as_str(),
                c.case,
                one_line(&c.detail)
            );
        }
        let _ = writeln!(
            out,
            "-- {} checks: {} pass, {} fail ({} fatal), {} skip, {} xfail, {} xpass",
            self.checks.len(),
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.fatal(),
            self.count(Outcome::Skip),
            self.count(Outcome::Xfail),
            self.count(Outcome::Xpass),
        );
    }

    /// The JSON report: one object per check.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&self.checks).map_err(std::io::Error::other)?;
        std::fs::write(path, json)
    }
}

/// Details go on one table line; long bodies are cut.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 160 {
        let cut: String = flat.chars().take(157).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_required_levels_and_xpass_are_fatal() {
        let mut r = Report::default();
        r.push("SIG-20", "MUST", "x", Outcome::Fail, "");
        r.push("SIG-02", "SHOULD", "x", Outcome::Fail, "");
        r.push("RM-02", "implied", "x", Outcome::Fail, "");
        r.push("SIG-19", "MAY", "x", Outcome::Skip, "");
        r.push("X", "MAY", "x", Outcome::Xpass, "");
        r.push("Y", "MUST", "x", Outcome::Xfail, "");
        assert_eq!(r.fatal(), 3);
    }

    #[test]
    fn details_are_flattened_and_cut() {
        assert_eq!(one_line("a\nb"), "a b");
        assert_eq!(one_line(&"x".repeat(300)).chars().count(), 160);
    }
}
