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

/// A spec is checked against the schema once per content on this machine (#13): the hash of a
/// spec that passed is recorded machine-locally, one that fails is never recorded, and a record
/// never vouches for other content or for a spec under another schema.
#[test]
fn test_spec_schema_check_is_recorded_once_and_vouches_for_nothing_else() {
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("greet", STEPS);
    let hash = repo
        .godzilla(&["--json", "spec", "show", &id])
        .expect(0)
        .json()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = repo.root.join(".git/godzilla/cache/valid-specs");
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.lines().any(|l| l.ends_with(&format!(" {hash}"))),
        "{recorded}"
    );
    // The bytes of the checked file are recorded too: identical bytes are parsed straight
    // into the typed spec next time.
    let spec_path = wt.join(format!(".godzilla/protocols/{id}/spec.json"));
    let digest = godzilla::digest::sha256_hex(&std::fs::read(&spec_path).unwrap());
    assert!(
        recorded
            .lines()
            .any(|l| l.ends_with(&format!(" bytes:{digest}"))),
        "{recorded}"
    );
    // Loaded again through the record: still the same spec.
    let again = repo
        .godzilla(&["--json", "spec", "show", &id])
        .expect(0)
        .json();
    assert_eq!(again["hash"], hash.as_str());

    // A hand edit past the schema (`timeout_secs` is at least 1), its hash made to match.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    file["spec"]["steps"][1]["timeout_secs"] = serde_json::json!(0);
    let spec: godzilla::domain::spec::ProtocolSpec =
        serde_json::from_value(file["spec"].clone()).unwrap();
    let bad_hash = spec.hash();
    file["hash"] = bad_hash.clone().into();
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    for _ in 0..2 {
        let out = repo.godzilla(&["spec", "show", &id]).expect(3).stderr;
        assert!(out.contains("is invalid"), "{out}");
    }
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(!recorded.contains(&bad_hash), "{recorded}");

    // A record of that hash under another schema's digest does not count.
    std::fs::write(&record, format!("{recorded}0000000000000000 {bad_hash}\n")).unwrap();
    repo.godzilla(&["spec", "show", &id]).expect(3);

    // Nor for other content: the edit under the recorded hash is checked in full and refused.
    file["hash"] = hash.clone().into();
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let out = repo.godzilla(&["spec", "show", &id]).expect(3).stderr;
    assert!(out.contains("is invalid"), "{out}");
    // And a valid edit under the recorded hash is a hash mismatch, as before.
    file["spec"]["steps"][1]["timeout_secs"] = serde_json::json!(60);
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let out = repo.godzilla(&["spec", "show", &id]).expect(2).stderr;
    assert!(out.contains("changed by hand"), "{out}");
}
