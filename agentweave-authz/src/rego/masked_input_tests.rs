//! Handing regorus only the input fields a policy version can read changes no decision: for the
//! starter modules and policies reading `context` fields, every generated input is decided with
//! the masked input exactly as with the whole one (allow and reason).

use agentweave_identity::SpiffeId;

use super::PolicySource;
use super::policy_set::{DEFAULT_ENTRYPOINT, PolicySet, Sources};
use crate::decision::interpret_rego;
use crate::input::{AuthzContext, Direction, PolicyInput};
use crate::input_mask::InputMask;
use crate::starter;

fn compile(policies: Vec<PolicySource>) -> PolicySet {
    let data = [starter::example_data().unwrap()];
    let sources = Sources::read(&policies, &data).unwrap();
    PolicySet::compile(sources, DEFAULT_ENTRYPOINT, None, None).unwrap()
}

fn inputs() -> Vec<PolicyInput> {
    let ids = [
        "spiffe://corp.example/agent/search",
        "spiffe://corp.example/agent/analyst/staging",
        "spiffe://corp.example/agent/orchestrator",
        "spiffe://corp.example/agent/ledger",
        "spiffe://corp.example/svc/search",
        "spiffe://partner.example/agent/broker",
        "spiffe://supplier.example/agent/x",
    ];
    let actions = ["search.query", "GetTask", "report.generate", "ledger.post", "tasks.cancel", ""];
    let contexts = [
        AuthzContext::default(),
        AuthzContext::for_method("SendMessage")
            .with_capability("search.query")
            .with_message_id("m"),
        AuthzContext::for_method("GetTask").with_task_id("t-1"),
        AuthzContext::for_method("GetTask").with_task_id("t-2").with_extra("tenant", "acme"),
        AuthzContext::for_method("SendMessage").with_extra("capability", "forged"),
    ];
    let mut inputs = Vec::new();
    for caller in ids {
        for callee in ids {
            for action in actions {
                for (n, context) in contexts.iter().enumerate() {
                    let direction =
                        if n % 2 == 0 { Direction::Inbound } else { Direction::Outbound };
                    let (caller, callee) = (SpiffeId::parse(caller), SpiffeId::parse(callee));
                    let (Ok(caller), Ok(callee)) = (caller, callee) else { continue };
                    inputs.push(PolicyInput::new(
                        direction,
                        caller,
                        callee,
                        action,
                        context.clone(),
                    ));
                }
            }
        }
    }
    inputs
}

const CONTEXT_READER: &str = r#"package agentweave.authz

default decision := {"allow": false, "reason": "no"}

decision := {"allow": true, "reason": sprintf("%s for %s", [input.context.capability, input.context.tenant])} if {
	input.context.capability == input.action
}

decision := {"allow": true, "reason": "task one"} if input.context.task_id == "t-1"
"#;

#[test]
fn masked_inputs_decide_as_whole_inputs() {
    let starter_modules = starter::all_policies();
    let sets = [
        ("starter modules", compile(starter_modules)),
        (
            "context reader",
            compile(vec![PolicySource::Inline {
                name: "c.rego".into(),
                rego: CONTEXT_READER.into(),
            }]),
        ),
    ];
    let inputs = inputs();
    assert!(inputs.len() > 1000, "{}", inputs.len());
    for (name, set) in &sets {
        assert_ne!(
            set.reads.mask,
            InputMask::ALL,
            "{name}: the table should exercise a narrowed mask"
        );
        let mut prepared = set.prepare();
        let mut allowed = 0;
        for input in &inputs {
            let decide = |prepared: &mut super::backend::Prepared, mask: &InputMask| {
                let value = prepared.evaluate(input.to_rego_value(mask), &set.entrypoint).unwrap();
                interpret_rego(&value).unwrap()
            };
            let whole = decide(&mut prepared, &InputMask::ALL);
            let masked = decide(&mut prepared, &set.reads.mask);
            assert_eq!(masked, whole, "{name}: {}", input.to_json());
            allowed += usize::from(whole.0);
        }
        assert!(
            allowed > 0 && allowed < inputs.len(),
            "{name}: {allowed} allowed: both outcomes must occur"
        );
    }
}
