//! Table tests of the starter policy library (the case files under `policies/tests/`), plus
//! checks that the case runner reports failures clearly.

use std::path::{Path, PathBuf};

use agentweave_authz::cases::{CaseFile, Outcome, run_case_file, run_cases};

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests")
}

#[test]
fn every_starter_case_file_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(case_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> =
        files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in
        ["default_deny.json", "federation.json", "orchestration.json", "role_matrix.json"]
    {
        assert!(names.iter().any(|n| n == expected), "missing case file {expected}: {names:?}");
    }
    for file in &files {
        let report = run_case_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(report.total >= 5, "{}: too few cases", file.display());
        assert!(report.passed(), "{report}");
    }
}

#[test]
fn a_wrong_expectation_is_reported_with_name_expected_got_and_input() {
    let path = case_dir().join("role_matrix.json");
    let mut file = CaseFile::load(&path).unwrap();
    let set = file.policy_set(&case_dir()).unwrap();
    // Flip the first case's expectation and break the second's reason.
    file.cases[0].expect.allow = !file.cases[0].expect.allow;
    file.cases[1].expect.reason_contains = Some("no such reason".into());
    let report = run_cases(&set, &file.cases);
    assert_eq!(report.failures.len(), 2, "{report}");
    assert_eq!(report.failures[0].index, 0);
    assert!(matches!(report.failures[0].got, Outcome::Decided { allow: true, .. }));
    let text = report.to_string();
    for needle in [
        "FAIL #0 \"reader may query\"",
        "expected: deny",
        "got:      allow (role reader of search allows search.query)",
        "FAIL #1",
        "with reason containing \"no such reason\"",
        "\"caller_spiffe_id\":\"spiffe://corp.example/agent/search\"",
        &format!("{}/{} cases passed", file.cases.len() - 2, file.cases.len()),
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn faults_fail_a_case_unless_expected() {
    let dir = tempfile::tempdir().unwrap();
    // `decision` is a string: a malformed result, which is a fault.
    std::fs::write(dir.path().join("p.rego"), "package agentweave.authz\n\ndecision := \"yes\"\n")
        .unwrap();
    let case_file = dir.path().join("cases.json");
    std::fs::write(
        &case_file,
        r#"{"policies": ["p.rego"], "cases": [
            {"name": "fault not expected", "input": {}, "expect": {"allow": false}},
            {"name": "fault expected", "input": {}, "expect": {"allow": false, "fault": true}}
        ]}"#,
    )
    .unwrap();
    let report = run_case_file(&case_file).unwrap();
    assert_eq!(report.failures.len(), 1, "{report}");
    assert_eq!(report.failures[0].name, "fault not expected");
    assert!(
        report.to_string().contains("fault: data.agentweave.authz.decision: result is a string")
    );
}

#[test]
fn malformed_case_files_are_refused_with_the_problem() {
    let table: &[(&str, &str)] = &[
        ("{", "EOF while parsing"),
        (r#"{"policies": [], "cases": []}"#, "\"policies\" lists no file or folder"),
        (r#"{"policies": ["a.rego"], "cases": [], "extra": 1}"#, "unknown field `extra`"),
        (
            r#"{"policies": ["a.rego"], "cases": [{"name": "x", "input": {}}]}"#,
            "missing field `expect`",
        ),
    ];
    for (text, needle) in table {
        let err = CaseFile::parse(text, Path::new("t.json")).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("t.json"), "{text}: {err}");
    }
}
