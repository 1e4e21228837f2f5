//! Autobahn's `exclude-agent-cases`: `{agentPattern: [casePattern, ...]}`.
//!
//! Unlike `exclude-cases`, it does not change the selection, so numbering
//! is unchanged: case N stays case N for every agent. A case excluded for
//! an agent is not run for it and stores no result, so reports show it as
//! Missing. Both patterns are anchored at the start **and** the end (`*`
//! matches anything, everything else is literal), unlike `cases`, which is
//! anchored at the start only. This is Autobahn 0.8.2's
//! `CaseSet.parseExcludeAgentCases`.

/// The parsed `exclude-agent-cases` of a spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentExclusions(Vec<(String, Vec<String>)>);

impl AgentExclusions {
    /// From `(agent pattern, case patterns)` pairs.
    pub fn new(rules: Vec<(String, Vec<String>)>) -> AgentExclusions {
        AgentExclusions(rules)
    }

    /// True when no rule is given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when case `id` is excluded for `agent`.
    pub fn excludes(&self, agent: &str, id: &str) -> bool {
        self.0.iter().any(|(a, cases)| matches(a, agent) && cases.iter().any(|c| matches(c, id)))
    }
}

/// A whole-string match of `pattern`, where `*` matches any run of
/// characters and every other character only itself.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_anchored_at_both_ends() {
        assert!(matches("7.1.1", "7.1.1"));
        assert!(!matches("7.1", "7.1.1"), "anchored at the end, unlike `cases`");
        assert!(matches("7.*", "7.13.2"));
        assert!(!matches("7.*", "17.1"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxcyyb"));
        assert!(!matches("ab*ba", "aba"), "the two ends may not overlap");
        assert!(matches("7.?", "7.?"), "only * is special");
    }

    #[test]
    fn a_case_is_excluded_only_for_matching_agents() {
        let rules = AgentExclusions::new(vec![("node*".into(), vec!["9.*".into(), "6.4.1".into()])]);
        assert!(rules.excludes("node ws", "9.1.1"));
        assert!(rules.excludes("node", "6.4.1"));
        assert!(!rules.excludes("node", "6.4.2"));
        assert!(!rules.excludes("python", "9.1.1"));
        assert!(!AgentExclusions::default().excludes("node", "9.1.1"));
    }
}
