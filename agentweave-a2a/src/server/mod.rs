//! The A2A server: a transport-agnostic axum service over an [`AgentExecutor`].

mod authz;
mod body;
mod core;
mod dispatch;
mod executor;
mod http;
mod identity;
pub mod lifecycle;
pub mod push;
mod pushcfg;
mod rest;
mod send;
mod store;
mod tasks;

pub use authz::{Authorizer, AuthzDecision, AuthzFault, AuthzRequest, OwnerOnly};
pub use executor::{AgentExecutor, EventSink, ExecutorError, RequestContext, SinkClosed};
pub use http::{A2aServer, A2aServerBuilder, BuildError, DEFAULT_BLOCKING_TIMEOUT};
pub use identity::CallerIdentity;
pub use push::PushPolicy;
pub use store::{
    DEFAULT_MAX_TASKS, DEFAULT_TASK_TTL, InMemoryTaskStore, StoreError, TaskQuery, TaskRecord,
    TaskStore,
};
pub use tasks::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
