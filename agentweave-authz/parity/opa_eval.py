#!/usr/bin/env python3
"""Evaluate AgentWeave case files with OPA's own engine (PyPI opa-golib-python-bindings).

Usage: opa_eval.py <case-dir> [--bench N]

Prints one JSON document: {"engine": "opa", "files": {<file name>: [{"name", "allow", "reason",
"fault"}]}, "bench": {"decisions": N, "seconds": S}}. The Rust side prints the same shape with
regorus (examples/parity_dump.rs); xtask authz-parity compares them.
"""
import json
import os
import sys
import time

from opa_bindings import OpaEngine, OpaError


def load_engine(case_path, case_file):
    base = os.path.dirname(case_path)
    engine = OpaEngine()
    for rel in case_file["policies"]:
        path = os.path.normpath(os.path.join(base, rel))
        with open(path, encoding="utf-8") as f:
            engine.add_policy(path, f.read())
    for rel in case_file.get("data", []):
        path = os.path.normpath(os.path.join(base, rel))
        with open(path, encoding="utf-8") as f:
            engine.add_data(json.load(f))
    entrypoint = case_file.get("entrypoint") or "data.agentweave.authz.decision"
    if not entrypoint.startswith("data."):
        raise SystemExit(f"{case_path}: entrypoint {entrypoint!r} must start with 'data.'")
    return engine, entrypoint[len("data."):]


def decide(engine, path, case_input):
    """Mirror of the Rust interpretation: {allow, reason} object or bare boolean, else fault."""
    try:
        value = engine.eval_document(path, case_input)
    except OpaError as e:
        return {"allow": False, "reason": None, "fault": f"{type(e).__name__}: {e}"}
    if isinstance(value, bool):
        return {"allow": value, "reason": None, "fault": None}
    if isinstance(value, dict) and isinstance(value.get("allow"), bool):
        reason = value.get("reason")
        if reason is not None and not isinstance(reason, str):
            return {"allow": False, "reason": None, "fault": "reason is not a string"}
        return {"allow": value["allow"], "reason": reason, "fault": None}
    return {"allow": False, "reason": None, "fault": f"malformed result {value!r}"}


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    case_dir = sys.argv[1]
    bench = int(sys.argv[3]) if len(sys.argv) >= 4 and sys.argv[2] == "--bench" else 0
    out = {"engine": "opa", "files": {}, "bench": None}
    bench_engine = None
    for name in sorted(os.listdir(case_dir)):
        if not name.endswith(".json"):
            continue
        case_path = os.path.join(case_dir, name)
        with open(case_path, encoding="utf-8") as f:
            case_file = json.load(f)
        engine, path = load_engine(case_path, case_file)
        results = []
        for case in case_file["cases"]:
            result = decide(engine, path, case["input"])
            result["name"] = case["name"]
            results.append(result)
        out["files"][name] = results
        if name == "role_matrix.json":
            bench_engine = (engine, path, [c["input"] for c in case_file["cases"]])
    if bench and bench_engine:
        engine, path, inputs = bench_engine
        start = time.perf_counter()
        for i in range(bench):
            engine.eval_document(path, inputs[i % len(inputs)])
        out["bench"] = {"decisions": bench, "seconds": time.perf_counter() - start}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
