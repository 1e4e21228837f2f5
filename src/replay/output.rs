//! What a run leaves behind: the summary table (stdout), progress lines
//! (stderr), the JUnit file, the Autobahn report directory, and the exit
//! status.

use std::io;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Case, CaseRun, passed};
use crate::escape;
use crate::report::CaseReport;

/// Exit status when every case passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit status when some case failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status when the run was interrupted (SIGINT or SIGTERM): 128 + SIGINT, as shells report ^C.
pub const EXIT_INTERRUPTED: u8 = 130;
/// The verdict cell of a case that did not run (interrupted before or while it ran).
pub const NOT_RUN: &str = "NOT RUN";

/// One progress line: `[3/37] 7.1.3 OK / OK (2 ms)`.
pub fn progress_line(done: usize, total: usize, run: &CaseRun) -> String {
    let r = &run.report;
    let (b, c) = (r.behavior.as_str(), r.behavior_close.as_str());
    format!("[{done}/{total}] {} {b} / {c} ({} ms)", escape::line(&r.id), r.duration)
}

/// The summary table, one row per case, then a totals line. Cases in
/// `not_run` get a `NOT RUN` row after the others. Every cell is escaped
/// for the terminal (result texts quote what the client sent).
pub fn summary_table(runs: &[CaseRun], not_run: &[Case]) -> String {
    let ids = runs.iter().map(|r| r.report.id.as_str()).chain(not_run.iter().map(|c| c.scenario.id.as_str()));
    let width = ids.map(|id| escape::line(id).chars().count()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:>4}  {:<13}  {:<13}  {:>6}  Result\n", "Case", "#", "Behavior", "Close", "ms");
    for run in runs {
        let r = &run.report;
        let mark = if passed(r) { "" } else { "  <-- FAIL" };
        out += &format!(
            "{:<width$}  {:>4}  {:<13}  {:<13}  {:>6}  {}{mark}\n",
            escape::line(&r.id),
            r.case,
            r.behavior.as_str(),
            r.behavior_close.as_str(),
            r.duration,
            escape::line(&r.result)
        );
    }
    for case in not_run {
        let id = escape::line(&case.scenario.id);
        out += &format!("{id:<width$}  {:>4}  {NOT_RUN:<13}  {NOT_RUN:<13}  {:>6}  interrupted\n", case.number, "");
    }
    let failed = runs.iter().filter(|r| !r.passed()).count();
    let total = runs.len() + not_run.len();
    out += &format!("{total} cases: {} passed, {failed} failed", runs.len() - failed);
    if !not_run.is_empty() {
        out += &format!(", {} not run", not_run.len());
    }
    out.push('\n');
    out
}

/// 0 when every case passed, 1 otherwise.
pub fn exit_status(runs: &[CaseRun]) -> u8 {
    if runs.iter().all(CaseRun::passed) { EXIT_PASSED } else { EXIT_FAILED }
}

/// The JUnit XML: one test suite per agent, one test case per case; the
/// cases in `not_run` are `<skipped>`.
pub fn junit_xml(agent: &str, runs: &[CaseRun], not_run: &[Case]) -> String {
    let mut suite = TestSuite::new(format!("wstap replay ({agent})"));
    for run in runs {
        suite.add_test_case(test_case(&run.report));
    }
    for case in not_run {
        let mut status = TestCaseStatus::skipped();
        status.set_message("not run: the replay was interrupted");
        let mut test = TestCase::new(format!("{} {}", case.scenario.id, case.scenario.description), status);
        test.set_classname(format!("wstap.{}", case.scenario.id));
        suite.add_test_case(test);
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
pub fn write_junit(path: &Path, agent: &str, runs: &[CaseRun], not_run: &[Case]) -> io::Result<()> {
    std::fs::write(path, junit_xml(agent, runs, not_run))
}

/// Writes the Autobahn report directory and, per case, the text report
/// (`<agent>_case_<id>.txt`, the layout of Autobahn's page as text).
pub fn write_reports(dir: &Path, runs: &[CaseRun]) -> io::Result<()> {
    let reports: Vec<CaseReport> = runs.iter().map(|r| r.report.clone()).collect();
    crate::report::write_report_dir(dir, &reports)?;
    let stems = crate::report::AgentStems::of(&reports);
    for r in &reports {
        std::fs::write(dir.join(format!("{}.txt", stems.file_stem(r))), crate::report::render_text(r) + "\n")?;
    }
    Ok(())
}
