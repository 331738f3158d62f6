//! Loading policy and data folders laid out as a Kubernetes ConfigMap volume: each key is a
//! symlink through `..data` into a hidden `..<timestamp>` folder holding the real files. Every
//! module and document must load once, from its visible name.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use agentweave_authz::rego::{
    Backend, DEFAULT_ENTRYPOINT, DataSource, PolicySet, PolicySource, RegoConfig, RegoEnforcer,
};
use agentweave_authz::{AuthzContext, Direction, PolicyInput, SpiffeId, starter};

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).unwrap()
}

/// Writes `files` the way the kubelet mounts a ConfigMap under `dir`.
fn configmap_layout(dir: &Path, files: &[(&str, &str)]) {
    let snapshot = dir.join("..2026_11_22_07_30_00.123456789");
    std::fs::create_dir(&snapshot).unwrap();
    for (name, text) in files {
        std::fs::write(snapshot.join(name), text).unwrap();
    }
    symlink("..2026_11_22_07_30_00.123456789", dir.join("..data")).unwrap();
    for (name, _) in files {
        symlink(Path::new("..data").join(name), dir.join(name)).unwrap();
    }
}

#[test]
fn a_configmap_mount_loads_each_module_and_document_once() {
    let dir = tempfile::tempdir().unwrap();
    configmap_layout(
        dir.path(),
        &[
            ("core.rego", starter::CORE),
            ("role_matrix.rego", starter::ROLE_MATRIX),
            ("data.json", starter::DATA),
        ],
    );
    let set = PolicySet::load(
        &[PolicySource::Dir(dir.path().to_owned())],
        &[DataSource::Dir(dir.path().to_owned())],
        DEFAULT_ENTRYPOINT,
    )
    .unwrap();
    let names: Vec<PathBuf> = set.module_names().map(PathBuf::from).collect();
    assert_eq!(names, [dir.path().join("core.rego"), dir.path().join("role_matrix.rego")]);
    // The modules are the shipped starter text, once each: the VM is chosen for them.
    assert_eq!(set.backend(), Backend::Vm);
    let input = PolicyInput::new(
        Direction::Inbound,
        id("spiffe://corp.example/agent/search"),
        id("spiffe://corp.example/agent/index"),
        "search.query",
        AuthzContext::for_method("SendMessage"),
    );
    let (allowed, reason) = set.evaluate_json(&input.to_json()).unwrap();
    assert!(allowed, "{reason}");
    assert_eq!(&*reason, "role reader of search allows search.query");
}

#[test]
fn other_hidden_files_and_folders_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("core.rego"), starter::CORE).unwrap();
    std::fs::write(dir.path().join(".#core.rego"), "an editor's lock file").unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git").join("old.rego"), "package old\n").unwrap();
    std::fs::write(dir.path().join(".data.json"), "not JSON").unwrap();
    let set = PolicySet::load(
        &[PolicySource::Dir(dir.path().to_owned())],
        &[DataSource::Dir(dir.path().to_owned())],
        DEFAULT_ENTRYPOINT,
    )
    .unwrap();
    let names: Vec<&str> = set.module_names().collect();
    assert_eq!(names, [dir.path().join("core.rego").display().to_string()]);
}

#[test]
fn a_folder_with_only_hidden_modules_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Only hidden copies: nothing visible to load, which is an error (not a silent policy).
    configmap_layout(dir.path(), &[]);
    let hidden = dir.path().join("..2026_11_22_07_30_00.123456789");
    std::fs::write(hidden.join("core.rego"), starter::CORE).unwrap();
    let config = RegoConfig::new(id("spiffe://corp.example/agent/index"))
        .policy(PolicySource::Dir(dir.path().to_owned()));
    let error = RegoEnforcer::new(config).unwrap_err().to_string();
    assert!(error.contains("no Rego module was loaded"), "{error}");
}
