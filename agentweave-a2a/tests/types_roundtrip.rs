//! Round trips of hand-written fixtures based on the A2A 1.0 specification's examples:
//! parse into our types, serialize back, compare as JSON values.

use agentweave_a2a::types::{
    AgentCard, ListTasksResponse, PartContent, SecurityScheme, SendMessageRequest,
    SendMessageResponse, StreamResponse, TaskPushNotificationConfig, TaskState,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn round_trip<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let json = fixture(name);
    let parsed: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), json, "{name}");
    parsed
}

#[test]
fn send_message_request() {
    let r: SendMessageRequest = round_trip("send_message_request.json");
    assert_eq!(r.message.parts.len(), 2);
    assert!(matches!(r.message.parts[1].content, PartContent::Raw(_)));
    assert_eq!(r.configuration.unwrap().history_length, Some(3));
}

#[test]
fn task_responses() {
    let r: SendMessageResponse = round_trip("task_with_artifacts.json");
    let SendMessageResponse::Task(t) = r else { panic!("expected a task") };
    assert_eq!(t.status.state, TaskState::Completed);
    assert!(matches!(t.artifacts[1].parts[0].content, PartContent::Data(_)));
    let r: SendMessageResponse = round_trip("input_required_task.json");
    assert!(
        matches!(r, SendMessageResponse::Task(t) if t.status.state == TaskState::InputRequired)
    );
}

#[test]
fn stream_events() {
    let items: Vec<StreamResponse> = round_trip("stream_events.json");
    assert!(matches!(items[0], StreamResponse::Task(_)));
    assert!(matches!(&items[1], StreamResponse::ArtifactUpdate(a) if a.append && a.last_chunk));
    assert!(matches!(items[2], StreamResponse::StatusUpdate(_)));
    assert!(matches!(items[3], StreamResponse::Message(_)));
}

#[test]
fn list_tasks_response() {
    let r: ListTasksResponse = round_trip("list_tasks_response.json");
    assert_eq!((r.page_size, r.total_size, r.next_page_token.as_str()), (20, 1, ""));
}

#[test]
fn agent_card_with_mtls_and_spiffe_extension() {
    let card: AgentCard = round_trip("agent_card.json");
    assert_eq!(card.spiffe_id(), Some("spiffe://example.org/agent/georoute/prod"));
    assert!(matches!(card.security_schemes.get("mtls"), Some(SecurityScheme::MutualTls(_))));
    assert_eq!(card.supported_interfaces[2].tenant, "acme");
}

#[test]
fn push_config_debug_redacts_secrets() {
    let c: TaskPushNotificationConfig = round_trip("push_config.json");
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("secret") && !dbg.contains("\"tok\""), "{dbg}");
}

#[test]
fn snake_case_proto_names_are_accepted() {
    let v = serde_json::json!({"message": {"message_id": "m", "role": "ROLE_USER", "parts": [{"text": "x", "media_type": "text/plain"}], "context_id": "c"}});
    let r: SendMessageRequest = serde_json::from_value(v).unwrap();
    assert_eq!((r.message.message_id.as_str(), r.message.context_id.as_str()), ("m", "c"));
    assert_eq!(serde_json::to_value(&r).unwrap()["message"]["messageId"], "m");
}

#[test]
fn enums_accept_numbers_and_refuse_unknown_names() {
    let ok: TaskState = serde_json::from_value(serde_json::json!(3)).unwrap();
    assert_eq!(ok, TaskState::Completed);
    for bad in
        [serde_json::json!("TASK_STATE_RUNNING"), serde_json::json!(42), serde_json::json!(true)]
    {
        assert!(serde_json::from_value::<TaskState>(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn required_fields_are_enforced() {
    let cases = [
        serde_json::json!({"message": {"role": "ROLE_USER", "parts": [{"text": "x"}]}}),
        serde_json::json!({"message": {"messageId": "m", "parts": [{"text": "x"}]}}),
        serde_json::json!({"message": {"messageId": "m", "role": "ROLE_USER"}}),
        serde_json::json!({}),
    ];
    for c in cases {
        assert!(serde_json::from_value::<SendMessageRequest>(c.clone()).is_err(), "{c}");
    }
}
