//! HTTP+JSON (REST) routing: URL patterns of spec section 11.3 to method and params.

use http::Method;
use serde_json::{Map, Value};

use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;

/// A matched REST route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestRoute {
    pub(crate) method: A2aMethod,
    /// Params from the path (and the tenant segment, if any).
    pub(crate) path_params: Map<String, Value>,
    /// Whether the request body (an object) is merged into the params.
    pub(crate) takes_body: bool,
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteMiss {
    NotFound,
    MethodNotAllowed,
}

fn percent_decode(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn match_segments(method: &Method, segs: &[String]) -> Result<RestRoute, RouteMiss> {
    use A2aMethod as M;
    let route = |m: M, params: Vec<(&str, Value)>, takes_body: bool| RestRoute {
        method: m,
        path_params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        takes_body,
    };
    let allow = |ok: bool, r: RestRoute| if ok { Ok(r) } else { Err(RouteMiss::MethodNotAllowed) };
    let strs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match strs.as_slice() {
        ["message:send"] => allow(method == Method::POST, route(M::SendMessage, vec![], true)),
        ["message:stream"] => {
            allow(method == Method::POST, route(M::SendStreamingMessage, vec![], true))
        }
        ["tasks"] => allow(method == Method::GET, route(M::ListTasks, vec![], false)),
        ["extendedAgentCard"] => {
            allow(method == Method::GET, route(M::GetExtendedAgentCard, vec![], false))
        }
        ["tasks", task] => {
            if let Some(id) = task.strip_suffix(":cancel").filter(|i| !i.is_empty()) {
                allow(method == Method::POST, route(M::CancelTask, vec![("id", s(id))], true))
            } else if let Some(id) = task.strip_suffix(":subscribe").filter(|i| !i.is_empty()) {
                allow(
                    method == Method::GET || method == Method::POST,
                    route(M::SubscribeToTask, vec![("id", s(id))], method == Method::POST),
                )
            } else if task.is_empty() {
                Err(RouteMiss::NotFound)
            } else {
                allow(method == Method::GET, route(M::GetTask, vec![("id", s(task))], false))
            }
        }
        ["tasks", task, "pushNotificationConfigs"] if !task.is_empty() => {
            if method == Method::POST {
                Ok(route(M::CreateTaskPushNotificationConfig, vec![("taskId", s(task))], true))
            } else if method == Method::GET {
                Ok(route(M::ListTaskPushNotificationConfigs, vec![("taskId", s(task))], false))
            } else {
                Err(RouteMiss::MethodNotAllowed)
            }
        }
        ["tasks", task, "pushNotificationConfigs", cfg] if !task.is_empty() && !cfg.is_empty() => {
            let params = vec![("taskId", s(task)), ("id", s(cfg))];
            if method == Method::GET {
                Ok(route(M::GetTaskPushNotificationConfig, params, false))
            } else if method == Method::DELETE {
                Ok(route(M::DeleteTaskPushNotificationConfig, params, false))
            } else {
                Err(RouteMiss::MethodNotAllowed)
            }
        }
        _ => Err(RouteMiss::NotFound),
    }
}

/// Matches a path (already stripped of the REST prefix), trying without then with a leading
/// tenant segment.
pub(crate) fn match_route(method: &Method, path: &str) -> Result<RestRoute, RouteMiss> {
    let segs: Option<Vec<String>> =
        path.trim_start_matches('/').split('/').map(percent_decode).collect();
    let segs = segs.ok_or(RouteMiss::NotFound)?;
    match match_segments(method, &segs) {
        Err(RouteMiss::NotFound) if segs.len() > 1 => {
            let (tenant, rest) = segs.split_first().ok_or(RouteMiss::NotFound)?;
            let mut r = match_segments(method, rest)?;
            if !tenant.is_empty() {
                r.path_params.insert("tenant".into(), s(tenant));
            }
            Ok(r)
        }
        other => other,
    }
}

/// Converts query parameters to typed params (camelCase names, spec section 11.5).
pub(crate) fn query_params(query: Option<&str>) -> Result<Map<String, Value>, A2aError> {
    let mut out = Map::new();
    let Some(q) = query else { return Ok(out) };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let value = match k.as_ref() {
            "A2A-Version" => continue,
            "historyLength" | "pageSize" => Value::Number(
                v.parse::<i64>()
                    .map_err(|_| A2aError::invalid_params(&k, format!("`{v}` is not an integer")))?
                    .into(),
            ),
            "includeArtifacts" => match v.as_ref() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(A2aError::invalid_params(
                        &k,
                        format!("`{v}` is not true or false"),
                    ));
                }
            },
            _ => Value::String(v.into_owned()),
        };
        out.insert(k.into_owned(), value);
    }
    Ok(out)
}

/// The error for an unmatched route.
pub(crate) fn miss_error(miss: &RouteMiss, method: &Method, path: &str) -> A2aError {
    let shown: String = path.chars().take(128).collect();
    match miss {
        RouteMiss::NotFound => {
            A2aError::new(ErrorKind::MethodNotFound, format!("no A2A operation at `{shown}`"))
        }
        RouteMiss::MethodNotAllowed => A2aError::new(
            ErrorKind::MethodNotFound,
            format!("HTTP method {method} is not allowed on `{shown}`"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table() {
        use A2aMethod as M;
        type Want<'a> = Result<(M, Vec<(&'a str, &'a str)>), RouteMiss>;
        let cases: Vec<(Method, &str, Want<'_>)> = vec![
            (Method::POST, "/message:send", Ok((M::SendMessage, vec![]))),
            (Method::POST, "/message:stream", Ok((M::SendStreamingMessage, vec![]))),
            (Method::GET, "/tasks", Ok((M::ListTasks, vec![]))),
            (Method::GET, "/tasks/t1", Ok((M::GetTask, vec![("id", "t1")]))),
            (Method::GET, "/tasks/t%201", Ok((M::GetTask, vec![("id", "t 1")]))),
            (Method::POST, "/tasks/t1:cancel", Ok((M::CancelTask, vec![("id", "t1")]))),
            (Method::GET, "/tasks/t1:subscribe", Ok((M::SubscribeToTask, vec![("id", "t1")]))),
            (Method::POST, "/tasks/t1:subscribe", Ok((M::SubscribeToTask, vec![("id", "t1")]))),
            (
                Method::POST,
                "/tasks/t1/pushNotificationConfigs",
                Ok((M::CreateTaskPushNotificationConfig, vec![("taskId", "t1")])),
            ),
            (
                Method::GET,
                "/tasks/t1/pushNotificationConfigs",
                Ok((M::ListTaskPushNotificationConfigs, vec![("taskId", "t1")])),
            ),
            (
                Method::GET,
                "/tasks/t1/pushNotificationConfigs/c1",
                Ok((M::GetTaskPushNotificationConfig, vec![("taskId", "t1"), ("id", "c1")])),
            ),
            (
                Method::DELETE,
                "/tasks/t1/pushNotificationConfigs/c1",
                Ok((M::DeleteTaskPushNotificationConfig, vec![("taskId", "t1"), ("id", "c1")])),
            ),
            (Method::GET, "/extendedAgentCard", Ok((M::GetExtendedAgentCard, vec![]))),
            (Method::POST, "/acme/message:send", Ok((M::SendMessage, vec![("tenant", "acme")]))),
            (
                Method::GET,
                "/acme/tasks/t1",
                Ok((M::GetTask, vec![("tenant", "acme"), ("id", "t1")])),
            ),
            (Method::GET, "/message:send", Err(RouteMiss::MethodNotAllowed)),
            (Method::DELETE, "/tasks/t1", Err(RouteMiss::MethodNotAllowed)),
            (Method::POST, "/tasks/:cancel", Err(RouteMiss::MethodNotAllowed)),
            (Method::GET, "/nope", Err(RouteMiss::NotFound)),
            (Method::GET, "/tasks/%zz", Err(RouteMiss::NotFound)),
            (Method::GET, "/a/b/c/d/e/f", Err(RouteMiss::NotFound)),
        ];
        for (m, path, want) in cases {
            let got = match_route(&m, path).map(|r| {
                let mut params: Vec<(String, String)> = r
                    .path_params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                params.sort();
                (r.method, params)
            });
            let want = want.map(|(m, p)| {
                let mut p: Vec<(String, String)> =
                    p.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                p.sort();
                (m, p)
            });
            assert_eq!(got, want, "{m} {path}");
        }
    }

    #[test]
    fn query_table() {
        let q = query_params(Some("contextId=c1&pageSize=10&historyLength=0&includeArtifacts=true&A2A-Version=1.0&status=TASK_STATE_WORKING")).unwrap();
        assert_eq!(q["contextId"], "c1");
        assert_eq!(q["pageSize"], 10);
        assert_eq!(q["includeArtifacts"], true);
        assert!(!q.contains_key("A2A-Version"));
        for bad in ["pageSize=ten", "historyLength=1.5", "includeArtifacts=yes"] {
            assert_eq!(
                query_params(Some(bad)).unwrap_err().kind,
                ErrorKind::InvalidParams,
                "{bad}"
            );
        }
    }
}
