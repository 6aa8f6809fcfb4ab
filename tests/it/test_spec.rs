//! `godzilla spec show|validate`: the stored spec with its hash, and a rebuild from the step
//! files that names every problem with its location (exit 3 when invalid).

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("00-setup.md", "# Setup\nCheck the toolchain.\n"),
    ("01-greet.md", "# Greet\nAdd a greeting to README.md.\n"),
];

#[test]
fn test_spec_show_prints_every_step_and_the_hash() {
    let repo = TestRepo::initialized();
    let (id, _) = repo.new_protocol("greet", STEPS);
    let json = repo
        .godzilla(&["--json", "spec", "show", &id])
        .expect(0)
        .json();
    let hash = json["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    assert_eq!(json["spec"]["steps"].as_array().unwrap().len(), 2);
    let out = repo.godzilla(&["spec", "show", &id]).expect(0).stdout;
    assert!(out.contains(&hash), "{out}");
    assert!(
        out.contains("00-setup  setup  qa skip  default engine"),
        "{out}"
    );
    assert!(
        out.contains("01-greet  work  qa full  default engine"),
        "{out}"
    );
}

#[test]
fn test_spec_validate_a_valid_protocol() {
    let repo = TestRepo::initialized();
    let (id, _) = repo.new_protocol("greet", STEPS);
    let shown = repo
        .godzilla(&["--json", "spec", "show", &id])
        .expect(0)
        .json();
    let json = repo
        .godzilla(&["--json", "spec", "validate", &id])
        .expect(0)
        .json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["hash"], shown["hash"], "nothing changed, same hash");
    assert_eq!(json["issues"], serde_json::json!([]));
    let out = repo.godzilla(&["spec", "validate", &id]).expect(0).stdout;
    assert!(out.contains("spec valid"), "{out}");
}

#[test]
fn test_spec_validate_drops_a_removed_step_file() {
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("greet", STEPS);
    std::fs::remove_file(wt.join(format!(".godzilla/protocols/{id}/steps/01-greet.md"))).unwrap();
    let json = repo
        .godzilla(&["--json", "spec", "validate", &id])
        .expect(0)
        .json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["steps_removed"], serde_json::json!(["01-greet"]));
    assert_eq!(json["steps"].as_array().unwrap().len(), STEPS.len() - 1);
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(status["protocols"][0]["steps"], STEPS.len() - 1);
}

#[test]
fn test_spec_validate_adds_a_new_step_file() {
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("greet", STEPS);
    std::fs::write(
        wt.join(format!(".godzilla/protocols/{id}/steps/02-qa-review.md")),
        "# Review\nRead the diff.\n",
    )
    .unwrap();
    let json = repo
        .godzilla(&["--json", "spec", "validate", &id])
        .expect(0)
        .json();
    assert_eq!(json["steps_added"], 1);
    assert_eq!(json["steps"][2]["step_type"], "qa");
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(status["protocols"][0]["steps"], 3, "{status}");
}
