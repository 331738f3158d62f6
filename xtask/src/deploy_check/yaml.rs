//! Reading the deployment files: YAML documents as `serde_yaml_ng::Value`s, with small accessors.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// Every document of a (possibly multi-document) YAML file, with `<<` merge keys applied.
pub(super) fn documents(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    documents_of(&text).with_context(|| format!("parsing {}", path.display()))
}

/// As [`documents`], from text.
pub(super) fn documents_of(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let mut value = Value::deserialize(document)?;
        value.apply_merge()?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// `*.yaml` and `*.yml` files under `dir`, recursively, sorted.
pub(super) fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The value at `path` (mapping keys) under `value`.
pub(super) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, key| node.get(*key))
}

/// The string at `path`, if it is one.
pub(super) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// The sequence at `path`, or an empty slice.
pub(super) fn seq_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_sequence).map_or(&[], Vec::as_slice)
}

/// `kind/namespace/name` of a Kubernetes object, for matching and messages.
pub(super) fn object_key(object: &Value) -> String {
    format!(
        "{}/{}/{}",
        str_at(object, &["kind"]).unwrap_or("?"),
        str_at(object, &["metadata", "namespace"]).unwrap_or(""),
        str_at(object, &["metadata", "name"]).unwrap_or("?")
    )
}

/// `path` relative to `root`, for messages.
pub(super) fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
