//! The push notification configuration methods.

use std::sync::Arc;

use super::core::{CallContext, Core};
use super::push::{PushError, resolve_checked, validate_webhook_url};
use crate::error::{A2aError, ErrorKind};
use crate::method::A2aMethod;
use crate::types::{
    DeleteTaskPushNotificationConfigRequest, GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest, ListTaskPushNotificationConfigsResponse,
    TaskPushNotificationConfig,
};

impl Core {
    fn require_push(&self) -> Result<(), A2aError> {
        if self.push_enabled() {
            Ok(())
        } else {
            Err(A2aError::new(
                ErrorKind::PushNotificationNotSupported,
                "push notifications are not supported by this agent",
            ))
        }
    }

    /// Validates (form and resolved addresses) and stores a config; assigns an id if empty.
    pub(crate) async fn register_push_config(
        &self,
        mut cfg: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        let url = validate_webhook_url(&cfg.url)
            .map_err(|e| A2aError::invalid_params("url", e.to_string()))?;
        match resolve_checked(&url, &self.cfg.push).await {
            Ok(_) => {}
            Err(e @ (PushError::ForbiddenTarget(_) | PushError::InvalidUrl(_))) => {
                return Err(A2aError::invalid_params("url", e.to_string()));
            }
            // Resolution can fail transiently; delivery re-checks every address anyway.
            Err(e) => tracing::warn!(url = %cfg.url, error = %e, "webhook host not resolvable yet"),
        }
        if cfg.id.is_empty() {
            cfg.id = uuid::Uuid::new_v4().to_string();
        }
        if !self.push_configs.upsert(cfg.clone(), self.cfg.push.max_configs_per_task) {
            return Err(A2aError::invalid_params(
                "config",
                format!(
                    "a task may have at most {} push configurations",
                    self.cfg.push.max_configs_per_task
                ),
            ));
        }
        Ok(cfg)
    }

    pub(crate) async fn create_push_config(
        self: &Arc<Self>,
        call: &CallContext,
        cfg: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_push()?;
        if cfg.task_id.is_empty() {
            return Err(A2aError::invalid_params("taskId", "must not be empty"));
        }
        let rec = self
            .load_authorized(call, A2aMethod::CreateTaskPushNotificationConfig, &cfg.task_id, None)
            .await?;
        let _ = rec;
        self.register_push_config(cfg).await
    }

    pub(crate) async fn get_push_config(
        &self,
        call: &CallContext,
        req: GetTaskPushNotificationConfigRequest,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_push()?;
        self.load_authorized(call, A2aMethod::GetTaskPushNotificationConfig, &req.task_id, None)
            .await?;
        self.push_configs.get(&req.task_id, &req.id).ok_or_else(|| {
            A2aError::new(
                ErrorKind::TaskNotFound,
                format!("push configuration `{}` of task `{}` was not found", req.id, req.task_id),
            )
            .with_meta("taskId", req.task_id.clone())
            .with_meta("configId", req.id.clone())
        })
    }

    pub(crate) async fn list_push_configs(
        &self,
        call: &CallContext,
        req: ListTaskPushNotificationConfigsRequest,
    ) -> Result<ListTaskPushNotificationConfigsResponse, A2aError> {
        self.require_push()?;
        self.load_authorized(call, A2aMethod::ListTaskPushNotificationConfigs, &req.task_id, None)
            .await?;
        Ok(ListTaskPushNotificationConfigsResponse {
            configs: self.push_configs.list(&req.task_id),
            next_page_token: String::new(),
        })
    }

    pub(crate) async fn delete_push_config(
        &self,
        call: &CallContext,
        req: DeleteTaskPushNotificationConfigRequest,
    ) -> Result<(), A2aError> {
        self.require_push()?;
        self.load_authorized(call, A2aMethod::DeleteTaskPushNotificationConfig, &req.task_id, None)
            .await?;
        self.push_configs.delete(&req.task_id, &req.id);
        Ok(())
    }
}
