// The official A2A JS SDK (@a2a-js/sdk, A2A 1.0) as a CLIENT of an AgentWeave agent over mTLS
// with SPIFFE certificates.
//
// Usage:
//   node client.mjs --url https://127.0.0.1:PORT --cert svid.pem --key svid.key --ca bundle.pem
//                   --server-id spiffe://td/agent/x --capability NAME --payload JSON
//                   --denied-capability NAME --impostor-id spiffe://td/agent/y
//
// It fetches the agent card and sends a message through the SDK's ClientFactory (JSON-RPC),
// over an undici dispatcher that presents our X.509-SVID and pins the server's SPIFFE ID, reads
// the task back, invokes a capability the policy should refuse, and then makes two attempts
// that must be refused: one without a client certificate, one pinning another server ID.
// Prints one JSON summary line; the Rust test asserts on it. Exits 1 (with a JSON line naming
// the step) only when a step that should work throws.

import { randomUUID } from 'node:crypto';
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { Role, TaskState } from '@a2a-js/sdk';
import { describe, mtlsFetch, parseArgs, pem, pinSpiffeId, required } from './spiffe_tls.mjs';

const SPIFFE_ID_EXTENSION = 'https://agentweave.dev/ext/spiffe-id/v1';
const CAPABILITY_KEY = 'agentweave/capability';

const args = required(parseArgs(process.argv.slice(2)), [
  'url', 'cert', 'key', 'ca', 'server-id', 'capability', 'payload', 'denied-capability', 'impostor-id',
]);

/** An SDK client factory whose card resolver and JSON-RPC transport both use `fetchImpl`. */
function factory(fetchImpl) {
  // Only JSON-RPC (what AgentWeave serves), and no transport that could fall back to the
  // global fetch without our TLS settings.
  return new ClientFactory({
    transports: [new JsonRpcTransportFactory({ fetchImpl })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  });
}

function userMessage(capability, payload) {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'data', value: payload }, metadata: undefined, filename: '', mediaType: 'application/json' }],
    metadata: { [CAPABILITY_KEY]: capability },
    extensions: [],
    referenceTaskIds: [],
  };
}

function sendRequest(capability, payload) {
  return { tenant: '', message: userMessage(capability, payload), configuration: undefined, metadata: undefined };
}

const firstData = (message) => message?.parts?.find((p) => p.content?.$case === 'data')?.content.value;

/** Runs `fn`, which must succeed; on failure prints the step's error line and exits 1. */
async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    console.log(JSON.stringify({ ok: false, step: name, error: describe(err) }));
    process.exit(1);
  }
}

/** Runs `fn`, which must fail; returns whether it did and how. */
async function mustFail(fn) {
  try {
    const value = await fn();
    return { refused: false, value };
  } catch (err) {
    return { refused: true, error: describe(err) };
  }
}

const ca = pem(args.ca);
const withSvid = mtlsFetch({ ca, cert: pem(args.cert), key: pem(args.key), checkServerIdentity: pinSpiffeId(args['server-id']) });
const summary = { ok: true, sdk: '@a2a-js/sdk' };

const client = await step('discover', () => factory(withSvid.fetchImpl).createFromUrl(args.url));
const card = await step('card', () => client.getAgentCard());
const claimed = card.capabilities?.extensions?.find((e) => e.uri === SPIFFE_ID_EXTENSION)?.params?.spiffeId ?? null;
summary.card = { name: card.name, spiffeId: claimed, protocolVersion: client.protocolVersion };

const payload = JSON.parse(args.payload);
const result = await step('send', () => client.sendMessage(sendRequest(args.capability, payload)));
if (!('status' in result)) {
  console.log(JSON.stringify({ ok: false, step: 'send', error: 'expected a task, got a message', result }));
  process.exit(1);
}
summary.send = {
  taskId: result.id,
  state: TaskState[result.status.state],
  output: firstData(result.status.message) ?? null,
};

const got = await step('get', () => client.getTask({ tenant: '', id: result.id, historyLength: undefined }));
summary.get = { taskId: got.id, state: TaskState[got.status.state] };

const denied = await mustFail(() => client.sendMessage(sendRequest(args['denied-capability'], payload)));
summary.denied = denied.refused ? { refused: true, error: denied.error } : { refused: false };

// Pinning another SPIFFE ID: the SDK client must not get as far as the card.
const pinnedElsewhere = mtlsFetch({ ca, cert: pem(args.cert), key: pem(args.key), checkServerIdentity: pinSpiffeId(args['impostor-id']) });
const impostor = await mustFail(() => factory(pinnedElsewhere.fetchImpl).createFromUrl(args.url));
summary.wrongServerId = impostor.refused ? { refused: true, error: impostor.error } : { refused: false };

// No client certificate: the server must refuse the connection (TLS 1.3 reports it after the
// client's Finished, so the failure surfaces on the first request).
const anonymous = mtlsFetch({ ca, checkServerIdentity: pinSpiffeId(args['server-id']) });
const noCert = await mustFail(async () => {
  const response = await anonymous.fetchImpl(new URL('/.well-known/agent-card.json', args.url));
  return response.status;
});
summary.noClientCert = noCert.refused ? { refused: true, error: noCert.error } : { refused: false, status: noCert.value };

await Promise.all([withSvid.close(), anonymous.close(), pinnedElsewhere.close()]);
console.log(JSON.stringify(summary));
