// One GET of the agent card over TLS, with or without a client certificate, pinning the
// server's SPIFFE ID. The Rust tests use it to show a server refuses a caller without an SVID
// (and, with one, that the same URL answers, so the refusal is not an unrelated failure).
//
// Usage: node probe.mjs --url https://127.0.0.1:PORT --ca bundle.pem --server-id spiffe://…
//                       [--cert svid.pem --key svid.key]
// Prints {"refused":false,"status":N} or {"refused":true,"error":[…cause chain…]}.

import { describe, mtlsFetch, parseArgs, pem, pinSpiffeId, required } from './spiffe_tls.mjs';

const args = required(parseArgs(process.argv.slice(2)), ['url', 'ca', 'server-id']);
const tls = { ca: pem(args.ca), checkServerIdentity: pinSpiffeId(args['server-id']) };
if (args.cert !== undefined || args.key !== undefined) {
  required(args, ['cert', 'key']);
  Object.assign(tls, { cert: pem(args.cert), key: pem(args.key) });
}
const { fetchImpl, close } = mtlsFetch(tls);
try {
  const response = await fetchImpl(new URL('/.well-known/agent-card.json', args.url));
  await response.arrayBuffer();
  console.log(JSON.stringify({ refused: false, status: response.status }));
} catch (err) {
  console.log(JSON.stringify({ refused: true, error: describe(err) }));
} finally {
  await close();
}
