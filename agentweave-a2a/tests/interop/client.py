"""Drives an agentweave-a2a server with the official A2A Python SDK (a2a-sdk 1.3.0).

Usage: python client.py BASE_URL BINDING   (BINDING is JSONRPC or HTTP+JSON)

Sends (blocking), streams, gets, lists and cancels; asserts every result and prints one JSON
summary line. Exits non-zero on the first failed expectation.
"""

import asyncio
import json
import sys
import uuid

from a2a.client import ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as pb


def msg(prefix: str, text: str = "hi", task_id: str = "") -> pb.SendMessageRequest:
    m = pb.Message(message_id=f"{prefix}-{uuid.uuid4()}", role=pb.ROLE_USER, parts=[pb.Part(text=text)])
    if task_id:
        m.task_id = task_id
    return pb.SendMessageRequest(message=m)


def expect(cond: bool, what: str) -> None:
    if not cond:
        print(json.dumps({"ok": False, "failed": what}))
        sys.exit(1)


async def collect(client, request):
    return [ev async for ev in client.send_message(request)]


async def main(base: str, binding: str) -> None:
    summary = {"binding": binding}
    blocking = await ClientFactory(
        ClientConfig(streaming=False, supported_protocol_bindings=[binding])
    ).create_from_url(base)
    streaming = await ClientFactory(
        ClientConfig(streaming=True, supported_protocol_bindings=[binding])
    ).create_from_url(base)
    card = blocking._card  # the resolved card, checked for our SPIFFE extension
    uris = [e.uri for e in card.capabilities.extensions]
    expect("https://agentweave.dev/ext/spiffe-id/v1" in uris, f"spiffe extension in card: {uris}")

    # Send (blocking): completed task with the echo in its status message.
    events = await collect(blocking, msg("complete", "hello interop"))
    expect(len(events) == 1 and events[0].HasField("task"), f"send returns a task: {events}")
    task = events[0].task
    expect(task.status.state == pb.TASK_STATE_COMPLETED, f"send completes: {task.status.state}")
    expect(task.status.message.parts[0].text == "echo hello interop", "echo text")
    summary["send"] = pb.TaskState.Name(task.status.state)

    # Get.
    got = await blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=1))
    expect(got.id == task.id and got.status.state == pb.TASK_STATE_COMPLETED, "get returns the task")
    expect(len(got.history) <= 1, f"historyLength honoured: {len(got.history)}")
    summary["get"] = pb.TaskState.Name(got.status.state)

    # Stream: task, working, artifact, completed.
    events = await collect(streaming, msg("artifact"))
    kinds = [ev.WhichOneof("payload") for ev in events]
    expect(kinds[0] == "task", f"stream starts with a task: {kinds}")
    expect("artifact_update" in kinds, f"stream carries the artifact: {kinds}")
    last = events[-1]
    final = last.status_update.status.state if last.HasField("status_update") else last.task.status.state
    expect(final == pb.TASK_STATE_COMPLETED, f"stream ends completed: {kinds}")
    summary["stream"] = kinds

    # Direct message reply.
    events = await collect(blocking, msg("reply"))
    expect(events[0].HasField("message") and events[0].message.parts[0].text == "direct", "message reply")

    # Cancel an input-required task; then cancelling again is refused.
    events = await collect(blocking, msg("input"))
    pending = events[0].task
    expect(pending.status.state == pb.TASK_STATE_INPUT_REQUIRED, "input-required task")
    canceled = await blocking.cancel_task(pb.CancelTaskRequest(id=pending.id))
    expect(canceled.status.state == pb.TASK_STATE_CANCELED, f"cancel: {canceled.status.state}")
    summary["cancel"] = pb.TaskState.Name(canceled.status.state)
    try:
        await blocking.cancel_task(pb.CancelTaskRequest(id=pending.id))
        expect(False, "second cancel must fail")
    except Exception as e:  # the SDK maps -32002 / HTTP 409 to its TaskNotCancelableError
        summary["second_cancel_error"] = type(e).__name__

    # Unknown task.
    try:
        await blocking.get_task(pb.GetTaskRequest(id="no-such-task"))
        expect(False, "unknown task must fail")
    except Exception as e:
        summary["unknown_task_error"] = type(e).__name__

    listed = await blocking.list_tasks(pb.ListTasksRequest(page_size=100))
    expect(len(listed.tasks) >= 3, f"list sees our tasks: {len(listed.tasks)}")
    summary["listed"] = len(listed.tasks)

    await blocking.close()
    await streaming.close()
    summary["ok"] = True
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
