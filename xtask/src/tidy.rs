//! Repository-wide rules written as ordinary tests (run by `cargo test --workspace`): the things a
//! reviewer would otherwise have to remember.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::shell::project_root;

    /// Every workspace member crate directory, from the root manifest's `members` list.
    fn member_dirs() -> Vec<PathBuf> {
        let root = project_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let members = manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap();
        members
            .lines()
            .filter_map(|line| line.split('"').nth(1))
            .map(|name| root.join(name))
            .collect()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_crate_opts_into_workspace_lints() {
        for dir in member_dirs() {
            let manifest = read(&dir.join("Cargo.toml"));
            assert!(
                manifest.contains("[lints]\nworkspace = true"),
                "{}: add `[lints] workspace = true`",
                dir.display()
            );
        }
    }

    #[test]
    fn library_crates_document_everything_and_never_panic_on_input() {
        for dir in member_dirs() {
            let lib = dir.join("src/lib.rs");
            if !lib.exists() {
                continue;
            }
            let text = read(&lib);
            assert!(
                text.contains("#![warn(missing_docs)]"),
                "{}: add #![warn(missing_docs)]",
                lib.display()
            );
            for lint in [
                "clippy::unwrap_used",
                "clippy::expect_used",
                "clippy::panic",
                "clippy::indexing_slicing",
            ] {
                assert!(text.contains(lint), "{}: deny {lint} outside tests", lib.display());
            }
        }
    }

    #[test]
    fn the_ci_script_runs_the_readme_test_command() {
        let root = project_root();
        let readme = read(&root.join("README.md"));
        let ci = read(&root.join(".ci/run"));
        assert!(readme.contains("cargo xtask ci"), "README.md must give the test command");
        assert!(
            ci.lines().any(|l| l.trim() == "cargo xtask ci"),
            ".ci/run must call the README's test command"
        );
    }

    #[test]
    fn no_crate_pulls_aws_lc_rs_by_default_features() {
        // rustls, tokio-rustls and rcgen enable aws-lc-rs by default; the workspace table must turn
        // their defaults off (the graph check in `cargo xtask deps` catches the rest).
        let manifest = read(&project_root().join("Cargo.toml"));
        for krate in ["rustls", "tokio-rustls", "rcgen"] {
            let line = manifest
                .lines()
                .find(|l| l.starts_with(&format!("{krate} =")))
                .unwrap_or_else(|| panic!("{krate} is not in [workspace.dependencies]"));
            assert!(line.contains("default-features = false"), "{line}");
        }
    }
}
