//! `${NAME}` substitution in string values, and `AGENTWEAVE__A__B=value` overrides.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::{ConfigError, OVERRIDE_PREFIX};

/// Replaces `${NAME}` and `${NAME:-default}` inside every string value; `$${` is a literal `${`.
/// `path` tracks the key path for error messages.
pub(super) fn substitute(
    value: &mut Value,
    env: &BTreeMap<String, String>,
    path: &mut String,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                *text = expand(text, env, path)?;
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                substitute(item, env, path)?;
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key.as_str().unwrap_or("?"));
                substitute(item, env, path)?;
                path.truncate(len);
            }
        }
        Value::Tagged(tagged) => substitute(&mut tagged.value, env, path)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn expand(text: &str, env: &BTreeMap<String, String>, path: &str) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        if let Some(literal) = after.strip_prefix("${") {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let (reference, tail) = body
            .split_once('}')
            .ok_or_else(|| ConfigError::invalid(path, format!("unclosed ${{ in {text:?}")))?;
        let (name, default) = match reference.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::invalid(
                path,
                format!("${{{reference}}} is not a valid variable reference"),
            ));
        }
        match (env.get(name), default) {
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(ConfigError::MissingEnv {
                    path: path.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// Applies `AGENTWEAVE__SECTION__KEY=value`: the path segments are lowercased keys, the value is a
/// YAML scalar (so `true`, `42` and `"text"` keep their types). Overrides run after substitution
/// and are not themselves interpolated.
pub(super) fn apply_overrides(
    root: &mut Value,
    env: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (name, raw) in env.range(OVERRIDE_PREFIX.to_owned()..) {
        let Some(key_path) = name.strip_prefix(OVERRIDE_PREFIX) else { break };
        let segments: Vec<String> = key_path.split("__").map(str::to_ascii_lowercase).collect();
        let dotted = segments.join(".");
        if segments.iter().any(String::is_empty) {
            return Err(ConfigError::invalid(
                dotted,
                format!("environment override {name} has an empty segment"),
            ));
        }
        let parsed: Value = serde_yaml_ng::from_str(raw)
            .map_err(|e| ConfigError::invalid(&dotted, format!("override {name}: {e}")))?;
        if matches!(parsed, Value::Mapping(_) | Value::Sequence(_)) {
            return Err(ConfigError::invalid(&dotted, format!("override {name} must be a scalar")));
        }
        set_path(root, &segments, parsed, &dotted)?;
    }
    Ok(())
}

fn set_path(
    root: &mut Value,
    segments: &[String],
    value: Value,
    dotted: &str,
) -> Result<(), ConfigError> {
    let mut node = root;
    for (i, segment) in segments.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            return Err(ConfigError::invalid(
                dotted,
                format!(
                    "`{}` is not a section",
                    segments.iter().take(i).cloned().collect::<Vec<_>>().join(".")
                ),
            ));
        };
        let key = Value::String(segment.clone());
        if i + 1 == segments.len() {
            map.insert(key, value);
            return Ok(());
        }
        node = map.entry(key).or_insert(Value::Null);
    }
    Ok(())
}
