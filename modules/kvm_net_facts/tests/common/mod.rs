//! What the live and guest tests read from a result the same way.

use serde_json::Value;
use std::collections::BTreeSet;

/// The (check, subject) of each finding.
pub fn findings(r: &Value) -> BTreeSet<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The findings whose subject `about` accepts are exactly `want`.
pub fn expect_about(r: &Value, about: impl Fn(&str) -> bool, want: &[(&str, &str)]) {
    let want: BTreeSet<(String, String)> = want
        .iter()
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .collect();
    let mut found = findings(r);
    found.retain(|(_, subject)| about(subject));
    assert_eq!(found, want, "findings: {:#}", r["findings"]);
}

/// The entry named `name` of the list `list` of a result.
pub fn by_name<'a>(r: &'a Value, list: &str, name: &str) -> &'a Value {
    r[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}: {:#}", r[list]))
}
