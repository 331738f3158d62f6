//! Maps a method and its params object to the handler, shared by both bindings.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::core::{CallContext, Core, Reply, parse_params};
use super::send::{SendMode, SendOutcome};
use crate::error::A2aError;
use crate::method::A2aMethod;

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, A2aError> {
    serde_json::to_vec(v)
        .map_err(|e| A2aError::internal(format!("response serialization failed: {e}")))
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, A2aError> {
    serde_json::to_value(v)
        .map_err(|e| A2aError::internal(format!("response serialization failed: {e}")))
}

impl Core {
    /// Runs `method` with its params object.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        call: &CallContext,
        method: A2aMethod,
        params: Value,
    ) -> Result<Reply, A2aError> {
        match method {
            A2aMethod::SendMessage | A2aMethod::SendStreamingMessage => {
                let mode = if method == A2aMethod::SendStreamingMessage {
                    SendMode::Streaming
                } else {
                    SendMode::Blocking
                };
                match self.send(call, parse_params(params)?, mode).await? {
                    SendOutcome::Reply(r) => Ok(Reply::Encoded(encode(&r)?)),
                    SendOutcome::Stream(s) => Ok(Reply::Stream(s)),
                }
            }
            A2aMethod::GetTask => {
                Ok(Reply::Value(to_value(&self.get_task(call, parse_params(params)?).await?)?))
            }
            A2aMethod::ListTasks => {
                Ok(Reply::Value(to_value(&self.list_tasks(call, parse_params(params)?).await?)?))
            }
            A2aMethod::CancelTask => {
                Ok(Reply::Value(to_value(&self.cancel_task(call, parse_params(params)?).await?)?))
            }
            A2aMethod::SubscribeToTask => {
                Ok(Reply::Stream(self.subscribe(call, parse_params(params)?).await?))
            }
            A2aMethod::CreateTaskPushNotificationConfig => Ok(Reply::Value(to_value(
                &self.create_push_config(call, parse_params(params)?).await?,
            )?)),
            A2aMethod::GetTaskPushNotificationConfig => Ok(Reply::Value(to_value(
                &self.get_push_config(call, parse_params(params)?).await?,
            )?)),
            A2aMethod::ListTaskPushNotificationConfigs => Ok(Reply::Value(to_value(
                &self.list_push_configs(call, parse_params(params)?).await?,
            )?)),
            A2aMethod::DeleteTaskPushNotificationConfig => {
                self.delete_push_config(call, parse_params(params)?).await?;
                Ok(Reply::Value(Value::Object(serde_json::Map::new())))
            }
            A2aMethod::GetExtendedAgentCard => {
                let _: crate::types::GetExtendedAgentCardRequest = parse_params(params)?;
                Ok(Reply::Value(to_value(&self.extended_card(call).await?)?))
            }
        }
    }
}
