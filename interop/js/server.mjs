// The official A2A JS SDK (@a2a-js/sdk, A2A 1.0) as a SERVER that AgentWeave calls over mTLS
// with SPIFFE certificates.
//
// Usage:
//   node server.mjs --port 0 --cert svid.pem --key svid.key --ca bundle.pem
//                   --id spiffe://td/agent/js-peer --allow spiffe://td/agent/caller [--allow ...]
//
// TLS: Node's https server with `requestCert` and `rejectUnauthorized`, so a caller without a
// certificate chaining to the bundle never completes the handshake. Every A2A request must
// come from a caller whose SVID names one of the `--allow` IDs; others get HTTP 403 with a
// JSON-RPC error -32031 (AgentWeave's PermissionDenied code) before the SDK sees the request.
// The agent card (with AgentWeave's SPIFFE ID extension naming `--id`) is served to any caller
// that proved an SVID, as discovery.
//
// The executor answers every message with a completed task: one artifact `result` and a
// status message, both carrying the same data part
//   {"agent": <--id>, "caller": <caller SPIFFE ID>, "capability": <metadata
//    "agentweave/capability" or null>, "echo": <first data part, else the text>}
// which is the reply shape AgentWeave's SecureAgent::call reads (a data part in the status
// message of a completed task).
//
// The card is served through the SDK's `agentCardHandler`, with one bridge: that handler sends
// `JSON.stringify` of the SDK's in-memory card, whose oneof fields use ts-proto's
// `{"$case", "value"}` shape (`securitySchemes.mtls = {"scheme": {"$case": "mtlsSecurityScheme",
// …}}`) instead of the ProtoJSON mapping A2A 1.0 specifies (`{"mtlsSecurityScheme": {…}}`),
// which the SDK's own JSON-RPC `GetExtendedAgentCard` does use (`AgentCard.toJSON`). So the
// provider given to the handler returns `AgentCard.toJSON(card)`. `--card sdk-default` serves
// the SDK's own encoding instead, so the tests can show that difference (seen in 1.3.0).
//
// Prints {"event":"ready","port":N} on stdout once listening.

import https from 'node:https';
import express from 'express';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express';
import { AgentCard, Role, TaskState } from '@a2a-js/sdk';
import { parseArgs, pem, required, spiffeIdOf } from './spiffe_tls.mjs';

const SPIFFE_ID_EXTENSION = 'https://agentweave.dev/ext/spiffe-id/v1';
const CAPABILITY_KEY = 'agentweave/capability';
const PERMISSION_DENIED = -32031;

const args = required(parseArgs(process.argv.slice(2)), ['port', 'cert', 'key', 'ca', 'id', 'allow']);
const allowed = new Set([].concat(args.allow));
const cardEncoding = args.card ?? 'protojson';
if (!['protojson', 'sdk-default'].includes(cardEncoding)) throw new Error(`--card must be protojson or sdk-default, not ${cardEncoding}`);

/** The caller, as the verified client certificate names it. */
class SpiffeUser {
  constructor(spiffeId) {
    this.spiffeId = spiffeId;
  }
  get isAuthenticated() {
    return true;
  }
  get userName() {
    return this.spiffeId;
  }
}

const dataPart = (value) => ({ content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: 'application/json' });

/** Echoes what it was sent, with the caller it saw; see the header comment for the shape. */
class EchoExecutor {
  async execute(ctx, bus) {
    const message = ctx.userMessage;
    const data = message.parts.find((p) => p.content?.$case === 'data')?.content.value;
    const text = message.parts.find((p) => p.content?.$case === 'text')?.content.value;
    const reply = {
      agent: args.id,
      caller: ctx.context.user?.userName ?? null,
      capability: message.metadata?.[CAPABILITY_KEY] ?? null,
      echo: data ?? text ?? null,
    };
    const ids = { taskId: ctx.taskId, contextId: ctx.contextId };
    bus.publish(AgentEvent.task({
      id: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
      artifacts: [],
      history: [message],
      metadata: undefined,
    }));
    bus.publish(AgentEvent.artifactUpdate({
      ...ids,
      artifact: { artifactId: 'result', name: 'result', description: '', parts: [dataPart(reply)], metadata: undefined, extensions: [] },
      append: false,
      lastChunk: true,
      metadata: undefined,
    }));
    bus.publish(AgentEvent.statusUpdate({
      ...ids,
      status: {
        state: TaskState.TASK_STATE_COMPLETED,
        message: {
          messageId: `${ctx.taskId}-reply`,
          ...ids,
          role: Role.ROLE_AGENT,
          parts: [dataPart(reply)],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        },
        timestamp: new Date().toISOString(),
      },
      metadata: undefined,
    }));
    bus.finished();
  }

  async cancelTask(taskId, bus) {
    bus.publish(AgentEvent.statusUpdate({
      taskId,
      contextId: '',
      status: { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp: new Date().toISOString() },
      metadata: undefined,
    }));
    bus.finished();
  }
}

function agentCard(port) {
  return {
    name: 'js-sdk-agent',
    description: 'The A2A JS SDK serving over mTLS with a SPIFFE identity (AgentWeave interop)',
    supportedInterfaces: [{ url: `https://127.0.0.1:${port}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }],
    provider: undefined,
    version: '1.0.0',
    capabilities: {
      streaming: false,
      pushNotifications: false,
      extensions: [{
        uri: SPIFFE_ID_EXTENSION,
        description: 'The SPIFFE ID this agent proves in the mTLS handshake',
        required: false,
        params: { spiffeId: args.id },
      }],
      extendedAgentCard: false,
    },
    securitySchemes: {
      mtls: { scheme: { $case: 'mtlsSecurityScheme', value: { description: 'Mutual TLS with X.509-SVIDs (SPIFFE)' } } },
    },
    securityRequirements: [{ schemes: { mtls: { list: [] } } }],
    defaultInputModes: ['application/json', 'text/plain'],
    defaultOutputModes: ['application/json'],
    skills: [{
      id: 'echo',
      name: 'echo',
      description: 'Echoes the payload with the caller it saw',
      tags: ['interop'],
      examples: [],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
    }],
    signatures: [],
  };
}

/** Refuses A2A requests from callers outside `--allow`; records the caller for the SDK. */
function requireAllowedCaller(req, res, next) {
  const caller = req.socket.authorized ? spiffeIdOf(req.socket.getPeerCertificate()) : null;
  if (caller !== null && allowed.has(caller)) {
    req.spiffeId = caller;
    next();
    return;
  }
  res.status(403).json({
    jsonrpc: '2.0',
    id: null,
    error: { code: PERMISSION_DENIED, message: `caller ${caller ?? '(no SPIFFE ID)'} is not allowed to call ${args.id}` },
  });
}

const server = https.createServer({
  key: pem(args.key),
  cert: pem(args.cert),
  ca: pem(args.ca),
  requestCert: true,
  rejectUnauthorized: true,
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  const card = agentCard(port);
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new EchoExecutor());
  const app = express();
  const provider = cardEncoding === 'protojson' ? async () => AgentCard.toJSON(card) : handler;
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: provider }));
  app.use(requireAllowedCaller);
  app.use(jsonRpcHandler({ requestHandler: handler, userBuilder: async (req) => new SpiffeUser(req.spiffeId) }));
  server.on('request', app);
  console.log(JSON.stringify({ event: 'ready', port }));
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
