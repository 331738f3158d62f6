"""An A2A 1.0 server built with the official Python SDK (a2a-sdk 1.3.0), for our Rust client.

Usage: python sdk_server.py PORT

Serves the agent card, JSON-RPC at `/` and HTTP+JSON under `/rest`, over plain HTTP on
127.0.0.1:PORT (uvicorn). Prints one line `READY <port>` once it accepts connections.

The executor behaves by message-id prefix, like the Rust test executor:
  complete-*  completes with the status message "echo <text>"
  artifact-*  working, one artifact "out", completed
  reply-*     answers with a direct message "direct" (no task)
  input-*     input-required
  slow-*      working, then waits until canceled
"""

import asyncio
import sys

import uvicorn
from starlette.applications import Starlette

from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryPushNotificationConfigStore, InMemoryTaskStore, TaskUpdater
from a2a.types import a2a_pb2 as pb


class PrefixExecutor(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        prefix = message.message_id.split("-", 1)[0]
        if prefix == "reply":
            reply = pb.Message(
                message_id=f"reply-to-{message.message_id}",
                role=pb.ROLE_AGENT,
                context_id=context.context_id or "",
                parts=[new_text_part("direct")],
            )
            await event_queue.enqueue_event(reply)
            return
        task = context.current_task
        if task is None:
            task = new_task_from_user_message(message)
            if context.task_id:
                task.id = context.task_id
            if context.context_id:
                task.context_id = context.context_id
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        if prefix == "input":
            await updater.requires_input(updater.new_agent_message([new_text_part("more please")]))
        elif prefix == "slow":
            await updater.start_work()
            await asyncio.Event().wait()  # until the framework cancels this coroutine
        elif prefix == "artifact":
            await updater.start_work()
            await updater.add_artifact([new_text_part("out")], name="result", last_chunk=True)
            await updater.complete()
        else:
            text = "".join(p.text for p in message.parts if p.HasField("text"))
            await updater.complete(updater.new_agent_message([new_text_part(f"echo {text}")]))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel()


def card(base: str) -> pb.AgentCard:
    return pb.AgentCard(
        name="python-sdk-agent",
        description="a2a-sdk 1.3.0 server for agentweave-a2a client interop",
        version="1.0.0",
        supported_interfaces=[
            pb.AgentInterface(url=base, protocol_binding="JSONRPC", protocol_version="1.0"),
            pb.AgentInterface(
                url=f"{base}/rest", protocol_binding="HTTP+JSON", protocol_version="1.0"
            ),
        ],
        capabilities=pb.AgentCapabilities(streaming=True, push_notifications=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            pb.AgentSkill(id="echo", name="echo", description="echoes the text", tags=["test"])
        ],
    )


def main(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    agent_card = card(base)
    handler = DefaultRequestHandler(
        agent_executor=PrefixExecutor(),
        task_store=InMemoryTaskStore(),
        agent_card=agent_card,
        push_config_store=InMemoryPushNotificationConfigStore(),
    )
    routes = [
        *create_agent_card_routes(agent_card),
        *create_jsonrpc_routes(handler, rpc_url="/"),
        *create_rest_routes(handler, path_prefix="/rest"),
    ]
    app = Starlette(routes=routes)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            print(f"READY {port}", flush=True)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    Server(config).run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
