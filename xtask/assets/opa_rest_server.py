#!/usr/bin/env python3
"""A small server speaking the part of OPA's REST API that AgentWeave's OPA client uses, decided
by OPA's own engine (PyPI opa-golib-python-bindings), for `cargo xtask integration`.

Usage: opa_rest_server.py <policy.rego>...

  POST /v1/data/<path>   {"input": {...}}  ->  {"result": <value of data.<path>>}
                         (no "result" key when the document is undefined, as OPA does)
  GET  /health           200 {}

It listens on 127.0.0.1 on a free port and prints one line, {"event": "ready", "port": N}, when
it accepts requests. Policies are read once at start.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

MAX_BODY = 1 << 20


def load(paths):
    engine = OpaEngine()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            engine.add_policy(path, f.read())
    return engine


class Handler(BaseHTTPRequestHandler):
    engine = None

    def log_message(self, fmt, *args):  # keep stderr for real errors only
        return

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {})
        else:
            self.reply(404, {"code": "not_found", "message": self.path})

    def do_POST(self):
        if not self.path.startswith("/v1/data/"):
            self.reply(404, {"code": "not_found", "message": self.path})
            return
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.reply(413, {"code": "invalid_parameter", "message": "body too large"})
            return
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            self.reply(400, {"code": "invalid_parameter", "message": str(e)})
            return
        path = self.path[len("/v1/data/"):].strip("/").replace("/", ".")
        try:
            value = self.engine.eval_document(path, request.get("input"))
        except OpaUndefinedError:
            self.reply(200, {})
            return
        except OpaError as e:
            self.reply(500, {"code": "internal_error", "message": str(e)})
            return
        self.reply(200, {"result": value})


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    Handler.engine = load(sys.argv[1:])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"event": "ready", "port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
