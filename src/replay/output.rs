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
/// The verdict cell of a case the spec's `exclude-agent-cases` excludes for the agent.
pub const MISSING: &str = "MISSING";

/// One progress line: `[3/37] 7.1.3 OK / OK (2 ms)`.
pub fn progress_line(done: usize, total: usize, run: &CaseRun) -> String {
    let r = &run.report;
    let (b, c) = (r.behavior.as_str(), r.behavior_close.as_str());
    format!("[{done}/{total}] {} {b} / {c} ({} ms)", escape::line(&r.id), r.duration)
}

/// [`progress_line`] with the verdicts coloured (for a terminal).
pub fn progress_line_colored(done: usize, total: usize, run: &CaseRun, color: bool) -> String {
    let r = &run.report;
    let (b, c) = (r.behavior.as_str(), r.behavior_close.as_str());
    let paint = |v: &str| crate::term::paint(color, crate::term::verdict_color(v), v);
    format!("[{done}/{total}] {} {} / {} ({} ms)", escape::line(&r.id), paint(b), paint(c), r.duration)
}

/// Progress on stderr: one line per finished case and, when stderr is a
/// terminal and the run has more than one case, a bar under the lines,
/// erased before each new line and at the end (so a log of the terminal
/// keeps only the lines). Into a pipe, only the lines, without colour.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    bar: bool,
    color: bool,
}

/// Erases the terminal line the cursor is on.
const ERASE_LINE: &str = "\r\x1b[2K";
/// Width of the bar in cells.
const BAR_WIDTH: usize = 30;

impl Progress {
    /// Progress of `total` cases onto stderr as it is (terminal or not).
    pub fn new(total: usize) -> Progress {
        let terminal = crate::term::Stream::Stderr.is_terminal();
        Progress::with(total, terminal && total > 1, crate::term::color_for(crate::term::Stream::Stderr))
    }

    /// Progress with the bar and colour decided by the caller.
    pub fn with(total: usize, bar: bool, color: bool) -> Progress {
        Progress { total, done: 0, failed: 0, bar, color }
    }

    /// What to write to stderr once `run` ended: its line, then the bar.
    pub fn case_done(&mut self, run: &CaseRun) -> String {
        self.done += 1;
        self.failed += usize::from(!run.passed());
        let line = progress_line_colored(self.done, self.total, run, self.color);
        if !self.bar {
            return format!("{line}\n");
        }
        let filled = BAR_WIDTH * self.done / self.total.max(1);
        let failed = if self.failed > 0 { format!(", {} failed", self.failed) } else { String::new() };
        let bar =
            format!("[{}{}] {}/{}{failed}", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled), self.done, self.total);
        format!("{ERASE_LINE}{line}\n{bar}")
    }

    /// What to write to stderr at the end (erases the bar).
    pub fn finish(&self) -> &'static str {
        if self.bar && self.done > 0 { ERASE_LINE } else { "" }
    }
}

/// The summary table, one row per case, then a totals line. Cases in
/// `not_run` get a `NOT RUN` row after the others, cases in `excluded`
/// (the spec's `exclude-agent-cases`) a `MISSING` row. Every cell is
/// escaped for the terminal (result texts quote what the client sent).
pub fn summary_table(runs: &[CaseRun], not_run: &[Case], excluded: &[Case]) -> String {
    let others = not_run.iter().chain(excluded);
    let ids = runs.iter().map(|r| r.report.id.as_str()).chain(others.map(|c| c.scenario.id.as_str()));
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
    for case in excluded {
        let id = escape::line(&case.scenario.id);
        let why = "excluded for this agent (exclude-agent-cases)";
        out += &format!("{id:<width$}  {:>4}  {MISSING:<13}  {MISSING:<13}  {:>6}  {why}\n", case.number, "");
    }
    let failed = runs.iter().filter(|r| !r.passed()).count();
    let total = runs.len() + not_run.len() + excluded.len();
    out += &format!("{total} cases: {} passed, {failed} failed", runs.len() - failed);
    if !not_run.is_empty() {
        out += &format!(", {} not run", not_run.len());
    }
    if !excluded.is_empty() {
        out += &format!(", {} excluded for the agent", excluded.len());
    }
    out.push('\n');
    out
}

/// 0 when every case passed, 1 otherwise.
pub fn exit_status(runs: &[CaseRun]) -> u8 {
    if runs.iter().all(CaseRun::passed) { EXIT_PASSED } else { EXIT_FAILED }
}

/// The JUnit XML: one test suite per agent, one test case per case; the
/// cases in `not_run` and `excluded` are `<skipped>`.
pub fn junit_xml(agent: &str, runs: &[CaseRun], not_run: &[Case], excluded: &[Case]) -> String {
    junit_xml_excluding(&[(format!("wstap replay ({agent})"), runs, not_run)], excluded)
}

/// One suite of a JUnit file: its name, the cases that ran, those not run.
pub type JunitSuite<'a> = (String, &'a [CaseRun], &'a [Case]);

/// The JUnit XML with these suites (`wstap fuzz`: one per server).
pub fn junit_xml_suites(suites: &[JunitSuite<'_>]) -> String {
    junit_xml_excluding(suites, &[])
}

/// [`junit_xml_suites`], each suite also listing `excluded` (the spec's
/// `exclude-agent-cases`) as skipped.
fn junit_xml_excluding(suites: &[JunitSuite<'_>], excluded: &[Case]) -> String {
    let mut report = Report::new("wstap");
    for (name, runs, not_run) in suites {
        let mut suite = TestSuite::new(name.clone());
        for run in *runs {
            suite.add_test_case(test_case(&run.report));
        }
        for (case, why) in not_run
            .iter()
            .map(|c| (c, "not run: the run was interrupted"))
            .chain(excluded.iter().map(|c| (c, "not run: excluded for this agent by the spec's exclude-agent-cases")))
        {
            let mut status = TestCaseStatus::skipped();
            status.set_message(why);
            let mut test = TestCase::new(format!("{} {}", case.scenario.id, case.scenario.description), status);
            test.set_classname(classname(&case.scenario.id));
            suite.add_test_case(test);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

fn test_case(r: &CaseReport) -> TestCase {
    let status = if passed(r) {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(failure_message(r));
        status.set_description(failure_description(r));
        status
    };
    let mut case = TestCase::new(format!("{} {}", r.id, r.description), status);
    case.set_classname(classname(&r.id));
    case.set_time(Duration::from_millis(r.duration));
    case
}

/// `wstap.category7` for case `7.1.1`: one dot, so CI tools that split a
/// classname into packages show one group per Autobahn category instead of
/// a package per digit. Ids that do not start with a number (recordings)
/// are grouped under `wstap.recordings`.
pub fn classname(id: &str) -> String {
    match id.split('.').next().filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit())) {
        Some(category) => format!("wstap.category{category}"),
        None => "wstap.recordings".to_owned(),
    }
}

/// One line for a failed case: the verdicts, then what was expected of the
/// close beside what was observed (code and reason received, who closed,
/// clean or not).
pub fn failure_message(r: &CaseReport) -> String {
    let peer = if r.is_server { "the client" } else { "the server" };
    let e = &r.expected_close;
    let codes: Vec<String> = e.close_code.iter().map(u16::to_string).collect();
    let first = if e.closed_by_me { "wstap" } else { peer };
    let clean = if e.require_clean { ", clean" } else { "" };
    let expected = match codes.len() {
        0 => format!("expected no close code, {first} closing first{clean}"),
        _ => format!("expected close code {} from {peer}, {first} closing first{clean}", codes.join(" or ")),
    };
    let received = match (r.remote_close_code, &r.remote_close_reason) {
        (Some(code), Some(reason)) if !reason.is_empty() => {
            format!("close code {code} reason {} from {peer}", escape::quoted(reason))
        }
        (Some(code), _) => format!("close code {code} from {peer}"),
        (None, _) => format!("no close code from {peer}"),
    };
    let closer = if r.closed_by_me { "wstap" } else { peer };
    let dropper = if r.dropped_by_me { "wstap" } else { peer };
    let clean = match (&r.was_clean, &r.was_not_clean_reason) {
        (true, _) => "clean".to_owned(),
        (false, Some(why)) => format!("not clean ({})", escape::line(why)),
        (false, None) => "not clean".to_owned(),
    };
    format!(
        "{} / {}: {expected}; observed {received}, {closer} closing first, TCP dropped by {dropper}, {clean}",
        r.behavior.as_str(),
        r.behavior_close.as_str()
    )
}

/// The failure's body: Autobahn's result texts (each once), then the
/// expected and observed events.
fn failure_description(r: &CaseReport) -> String {
    let mut out = r.result.clone();
    if r.result_close != r.result {
        out += &format!("\n{}", r.result_close);
    }
    out += &format!(
        "\nexpected events: {}\nobserved events: {}",
        crate::report::autobahn::expected_repr(&r.expected),
        crate::report::autobahn::events_repr(&r.received)
    );
    out
}

/// Writes the JUnit file.
pub fn write_junit(path: &Path, agent: &str, runs: &[CaseRun], not_run: &[Case], excluded: &[Case]) -> io::Result<()> {
    std::fs::write(path, junit_xml(agent, runs, not_run, excluded))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classnames_group_by_category() {
        assert_eq!(classname("7.1.1"), "wstap.category7");
        assert_eq!(classname("12.3.4"), "wstap.category12");
        assert_eq!(classname("login"), "wstap.recordings");
        assert_eq!(classname(""), "wstap.recordings");
    }

    #[test]
    fn the_failure_message_puts_observed_beside_expected() {
        let mut r = CaseReport::new("c");
        r.is_server = true;
        r.expected_close.close_code = vec![1000];
        r.expected_close.require_clean = true;
        r.remote_close_code = Some(1002);
        r.remote_close_reason = Some("bad\u{1b}".into());
        r.was_not_clean_reason = Some("peer dropped the TCP".into());
        let m = failure_message(&r);
        assert!(
            m.ends_with(
                "expected close code 1000 from the client, the client closing first, clean; observed close code 1002 \
             reason \"bad\\u{1b}\" from the client, the client closing first, TCP dropped by the client, \
             not clean (peer dropped the TCP)"
            ),
            "{m}"
        );
        r.result = "same".into();
        r.result_close = "same".into();
        assert_eq!(failure_description(&r).matches("same").count(), 1);
    }
}
