// SPIFFE over Node's TLS, and small CLI helpers, shared by client.mjs, server.mjs and probe.mjs.
//
// An X.509-SVID names its workload in exactly one URI SAN (`spiffe://trust-domain/path`) and
// carries no DNS name, so hostname verification does not apply: a client pins the server's
// SPIFFE ID instead, and a server reads the caller's ID from the verified client certificate.
// Chain verification stays Node's own (against the trust bundle given as `ca`).

import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

/** Reads a PEM file given by path (certificate chain, key or trust bundle). */
export function pem(path) {
  return readFileSync(path);
}

/**
 * The SPIFFE ID of a peer certificate as Node reports it (`getPeerCertificate()` or the
 * `checkServerIdentity` argument), or `null` unless the certificate has exactly one URI SAN
 * and that URI is a spiffe:// ID. Mirrors the X.509-SVID rule the Rust side enforces.
 */
export function spiffeIdOf(cert) {
  const san = cert?.subjectaltname;
  if (typeof san !== 'string') return null;
  // Node joins SAN entries with ", " and prefixes URIs with "URI:".
  const uris = san
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  if (uris.length !== 1 || !uris[0].startsWith('spiffe://')) return null;
  return uris[0];
}

/**
 * A `checkServerIdentity` that accepts the server only if its certificate proves `expected`.
 * Node calls it after the chain verified against `ca`; returning an Error aborts the
 * handshake, so no request byte reaches a server with another identity.
 */
export function pinSpiffeId(expected) {
  return (_host, cert) => {
    const actual = spiffeIdOf(cert);
    if (actual === expected) return undefined;
    const err = new Error(`server SPIFFE ID ${actual ?? '(none)'} is not the expected ${expected}`);
    err.code = 'ERR_SPIFFE_ID_MISMATCH';
    return err;
  };
}

/** A fetch over its own undici Agent, so that every request uses these TLS settings only. */
export function mtlsFetch(tls) {
  const dispatcher = new Agent({ connect: { ...tls, timeout: 10_000 } });
  const fetchImpl = (url, init) => undiciFetch(url, { ...init, dispatcher });
  return { fetchImpl, close: () => dispatcher.close() };
}

/** The codes and messages along an error's `cause` chain (undici nests the TLS error). */
export function describe(err) {
  const chain = [];
  for (let e = err; e && chain.length < 5; e = e.cause) {
    // `envelopeCode`: the JSON-RPC error code of the SDK's JsonRpcTransportError.
    chain.push({ name: e.name, code: e.code ?? null, rpcCode: e.envelopeCode ?? null, message: String(e.message ?? e) });
  }
  return chain;
}

/** `--name value` pairs from argv; a flag given twice keeps every value (in order). */
export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name?.startsWith('--') || value === undefined) {
      throw new Error(`expected --name value pairs, got ${JSON.stringify(argv.slice(i))}`);
    }
    const key = name.slice(2);
    out[key] = key in out ? [].concat(out[key], value) : value;
  }
  return out;
}

/** The named options, refusing to run when one is missing. */
export function required(args, names) {
  const missing = names.filter((n) => args[n] === undefined);
  if (missing.length > 0) throw new Error(`missing options: ${missing.map((n) => `--${n}`).join(' ')}`);
  return args;
}
