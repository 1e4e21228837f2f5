//! What a run leaves behind: the summary table (stdout), progress lines
//! (stderr), the JUnit file, the Autobahn report directory, and the exit
//! status.

use std::io;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{CaseRun, passed};
use crate::report::CaseReport;

/// Exit status when every case passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit status when some case failed.
pub const EXIT_FAILED: u8 = 1;

/// One progress line: `[3/37] 7.1.3 OK / OK (2 ms)`.
pub fn progress_line(done: usize, total: usize, run: &CaseRun) -> String {
    let r = &run.report;
    let (b, c) = (r.behavior.as_str(), r.behavior_close.as_str());
    format!("[{done}/{total}] {} {b} / {c} ({} ms)", r.id, r.duration)
}

/// The summary table, one row per case, then a totals line.
pub fn summary_table(runs: &[CaseRun]) -> String {
    let width = runs.iter().map(|r| r.report.id.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:>4}  {:<13}  {:<13}  {:>6}  Result\n", "Case", "#", "Behavior", "Close", "ms");
    for run in runs {
        let r = &run.report;
        let mark = if passed(r) { "" } else { "  <-- FAIL" };
        out += &format!(
            "{:<width$}  {:>4}  {:<13}  {:<13}  {:>6}  {}{mark}\n",
            r.id,
            r.case,
            r.behavior.as_str(),
            r.behavior_close.as_str(),
            r.duration,
            r.result
        );
    }
    let failed = runs.iter().filter(|r| !r.passed()).count();
    out += &format!("{} cases: {} passed, {failed} failed\n", runs.len(), runs.len() - failed);
    out
}

/// 0 when every case passed, 1 otherwise.
pub fn exit_status(runs: &[CaseRun]) -> u8 {
    if runs.iter().all(CaseRun::passed) { EXIT_PASSED } else { EXIT_FAILED }
}

/// The JUnit XML: one test suite per agent, one test case per case.
pub fn junit_xml(agent: &str, runs: &[CaseRun]) -> String {
    let mut suite = TestSuite::new(format!("wstap replay ({agent})"));
    for run in runs {
        suite.add_test_case(test_case(&run.report));
    }
    let mut report = Report::new("wstap");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}

fn test_case(r: &CaseReport) -> TestCase {
    let status = if passed(r) {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(format!("{} / {}", r.behavior.as_str(), r.behavior_close.as_str()));
        status.set_description(format!("{}\n{}", r.result, r.result_close));
        status
    };
    let mut case = TestCase::new(format!("{} {}", r.id, r.description), status);
    case.set_classname(format!("wstap.{}", r.id));
    case.set_time(Duration::from_millis(r.duration));
    case
}

/// Writes the JUnit file.
pub fn write_junit(path: &Path, agent: &str, runs: &[CaseRun]) -> io::Result<()> {
    std::fs::write(path, junit_xml(agent, runs))
}

/// Writes the Autobahn report directory and, per case, the text report
/// (`<agent>_case_<id>.txt`, the layout of Autobahn's page as text).
pub fn write_reports(dir: &Path, runs: &[CaseRun]) -> io::Result<()> {
    let reports: Vec<CaseReport> = runs.iter().map(|r| r.report.clone()).collect();
    crate::report::write_report_dir(dir, &reports)?;
    for r in &reports {
        std::fs::write(dir.join(format!("{}.txt", r.file_stem())), crate::report::render_text(r) + "\n")?;
    }
    Ok(())
}
