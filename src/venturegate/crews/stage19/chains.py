"""19.1 stateful chains: create → read → update → read → delete → read-gone on data the crew creates.

Chains follow the spec's OpenAPI `links` when a create answer declares them, and otherwise are
inferred from the paths: `{param}` of `/a/{param}` is made by `POST /a`, and its value is the
create answer's field of that name (or `id`, `<stem>_id`, …). Nested paths (`/a/{a_id}/b/{b_id}`)
create their parents first. Every answer on the way is validated like a generated case (status,
content type, schema, headers, undocumented fields), so a defect that only shows on an object that
exists — a read after create — is found on every run, whatever the server held before.
"""

from __future__ import annotations

import json
from typing import Any

from venturegate.crews.stage19 import _spec
from venturegate.crews.stage19._http import Client
from venturegate.crews.stage19.apitester import (
    Finding,
    IntegrationResult,
    Step,
    collect,
    header,
    judge,
    positive_checks,
)


def _ok(resp: Any) -> bool:
    return 200 <= int(resp.status_code) < 300


CHAIN_SEED_OFFSET = 7919
"""Chain bodies come from `seed + CHAIN_SEED_OFFSET`: other values than the generated cases sent."""
_ORDER = {"get": 0, "head": 1, "put": 2, "patch": 3, "post": 4, "delete": 9}


def _bodies(schema: Any, spec: dict[str, Any], op: _spec.Operation, seed: int) -> list[Any]:
    """Valid bodies for `op`, the same list for the same seed: its documented example, then generated ones
    (the richest first: they tell more about a round trip than a minimal one)."""
    from schemathesis import GenerationMode

    if not op.raw.get("requestBody"):
        return [None]
    out: list[Any] = []
    example = _spec.request_example(spec, op)
    if example is not None:
        out.append(example)
    cases = collect(schema[op.path][op.method.upper()], GenerationMode.POSITIVE, 24, seed)
    generated = [c.body for c in cases if isinstance(c.body, dict | list) and c.body]
    for body in sorted(generated, key=lambda b: -len(json.dumps(b, sort_keys=True, default=str))):
        if body not in out:
            out.append(body)
    return out or [cases[-1].body if cases else None]


def _pointer(doc: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def _from_links(
    spec: dict[str, Any], producer: _spec.Operation, answer: Any, target: _spec.Operation, param: str
) -> Any:
    """The value an OpenAPI link of the create answer gives `param` of `target`, if it declares one."""
    responses = producer.raw.get("responses") or {}
    answer_def = _spec.resolve(spec, responses.get(str(answer.status_code)) or responses.get("default") or {})
    for link in (answer_def.get("links") or {}).values():
        link = _spec.resolve(spec, link)
        ref = link.get("operationId") or ""
        if ref != target.raw.get("operationId") and not str(link.get("operationRef", "")).endswith(
            target.path.replace("/", "~1") + "/" + target.method
        ):
            continue
        expr = (link.get("parameters") or {}).get(param) or (link.get("parameters") or {}).get(f"path.{param}")
        if isinstance(expr, str) and expr.startswith("$response.body#"):
            try:
                return _pointer(answer.json(), expr[len("$response.body#") :])
            except ValueError:
                return None
        if isinstance(expr, str) and expr.startswith("$response.header."):
            return header(answer, expr[len("$response.header.") :])
    return None


class _Chain:
    def __init__(self, client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
        import schemathesis

        self.client, self.spec, self.result = client, spec, result
        self.schema = schemathesis.openapi.from_dict(spec)
        self.base = client.integration.base_url
        self.bodies: dict[str, list[Any]] = {}
        self.record = True
        self.used: dict[str, int] = {}

    def send(self, op: _spec.Operation, params: dict[str, Any], body: Any, name: str) -> tuple[Any, list[Finding]]:
        """Call `op` with these path parameters and body and judge the answer like a generated case."""
        api_op = self.schema[op.path][op.method.upper()]
        kwargs: dict[str, Any] = {"path_parameters": dict(params)}
        if body is not None:
            kwargs["body"] = body
            kwargs["media_type"] = "application/json"
        case = api_op.Case(**kwargs)
        headers = self.client.auth_headers()
        resp: Any = self.client.guarded(
            lambda t: case.call(base_url=self.base, session=self.client.session, headers=headers, timeout=t)
        )
        curl = case.as_curl_command(headers=self.client.placeholder_headers(), base_url=self.base)
        found = judge(self.spec, case, resp, positive_checks(), headers, curl=curl, source="chain")
        for f in found:
            self.result.add(f)
        return resp, found

    def step(self, name: str, ok: bool, detail: str, curl: str = "") -> None:
        if self.record:
            self.result.flow.append(Step(name, ok, detail, curl))

    def flow_finding(self, op: _spec.Operation, title: str, detail: str, status: int) -> None:
        self.result.add(Finding("data_flow", op.method.upper(), op.path, title, detail, status, "", "chain"))

    def create(self, path: str, target: _spec.Operation) -> tuple[dict[str, Any], Any] | None:
        """Create every parent of `path`'s parameters; returns the parameters and the last created body."""
        made = _spec.chain_params(self.spec, path)
        if made is None:
            return None
        params: dict[str, Any] = {}
        body: Any = None
        for param, producer in made:
            given = {p: params[p] for p in producer.params}
            # Bodies from another seed than the generated cases' (which may have created those values already).
            candidates = self.bodies.setdefault(
                producer.path, _bodies(self.schema, self.spec, producer, self.result.seed + CHAIN_SEED_OFFSET)
            )
            while True:
                # Each create takes the next unused body: the crew makes its own, distinct data.
                index = self.used.get(producer.path, 0)
                self.used[producer.path] = index + 1
                body = candidates[index % len(candidates)]
                resp, found = self.send(producer, given, body, f"create {producer.label}")
                if resp.status_code not in (409, 422) or index + 1 >= len(candidates):
                    break  # a conflict (the value exists already) is not a defect: try the next body
            ident = _from_links(self.spec, producer, resp, target, param) if _ok(resp) else None
            if ident is None and _ok(resp):
                try:
                    ident = _spec.id_from(resp.json(), param)
                except ValueError:
                    ident = None
            if resp.status_code in (409, 422) and not found:
                # Every body conflicted with data that exists: no fresh data to chain on, which is not a defect.
                self.result.excluded.append(f"{path}: no chain, every create body conflicted (HTTP {resp.status_code})")
                return None
            ok = _ok(resp) and ident is not None and not found
            missing = "" if ident is not None else f"; no {param} in the answer"
            self.step(f"create {producer.label}", ok, f"HTTP {resp.status_code}{missing}")
            if not _ok(resp) or ident is None:
                if not found:
                    self.flow_finding(
                        producer,
                        "Create failed in a chain",
                        f"HTTP {resp.status_code} for a schema-valid body; no {param} to go on with",
                        resp.status_code,
                    )
                return None
            params[param] = ident
            self.result.created.setdefault(producer.path, []).append(ident)
        return params, body

    def read_back(self, op: _spec.Operation, params: dict[str, Any], written: Any, what: str) -> None:
        resp, found = self.send(op, params, None, f"read after {what} {op.label}")
        same = resp.status_code == 200
        differ: list[str] = []
        if same and isinstance(written, dict):
            try:
                got = resp.json()
            except ValueError:
                got = None
            if isinstance(got, dict):
                differ = [k for k, v in written.items() if not isinstance(v, dict | list) and k in got and got[k] != v]
        ok = same and not differ and not found
        self.step(
            f"read after {what} {op.label}",
            ok,
            f"HTTP {resp.status_code}" + (f"; fields differ: {', '.join(differ)}" if differ else ""),
        )
        if differ:
            self.flow_finding(
                op,
                f"Read after {what} does not return what was written",
                f"fields {', '.join(differ)} differ",
                resp.status_code,
            )

    def run_path(self, path: str, ops: list[_spec.Operation]) -> None:
        first = ops[0]
        got = self.create(path, first)
        if got is None:
            return
        params, created_body = got
        item = path.endswith("}")
        get = next((o for o in ops if o.method == "get"), None)
        writes = [o for o in ops if o.method in ("put", "patch")] if item else []
        for op in ops:
            if op.method not in ("get", "head") or (item and op is get):
                continue
            resp, found = self.send(op, params, None, op.label)
            self.step(f"{op.label}", _ok(resp) and not found, f"HTTP {resp.status_code}")
        if not item:
            return
        if get is not None:
            self.read_back(get, params, created_body, "create")
        for op in writes:
            options = [b for b in _bodies(self.schema, self.spec, op, self.result.seed + 1) if b != created_body]
            body = options[0] if options else created_body
            resp, found = self.send(op, params, body, f"update {op.label}")
            self.step(f"update {op.label}", _ok(resp) and not found, f"HTTP {resp.status_code}")
            if get is not None and _ok(resp):
                self.read_back(get, params, body, "update")
        delete = next((o for o in ops if o.method == "delete"), None)
        if delete is not None:
            resp, found = self.send(delete, params, None, f"delete {delete.label}")
            ok = _ok(resp) and not found
            detail = f"HTTP {resp.status_code}"
            if get is not None and _ok(resp):
                after, _ = self.send(get, params, None, f"read after delete {get.label}")
                gone = after.status_code in (404, 410)
                ok = ok and gone
                detail += f", then GET {after.status_code}"
                if not gone:
                    self.flow_finding(
                        delete,
                        "Deleted resource is still readable",
                        f"GET after DELETE answered {after.status_code}",
                        after.status_code,
                    )
            self.step(f"delete {delete.label}", ok, detail)


def run_chains(client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
    """One chain per path with path parameters whose values the crew can create."""
    paths: dict[str, list[_spec.Operation]] = {}
    for op in _spec.operations(spec):
        if op.params and not (op.method == "post" and not op.path.endswith("}")):
            paths.setdefault(op.path, []).append(op)
        elif op.params and op.method == "post":
            paths.setdefault(op.path, [])  # a nested create: proven as the parent step of deeper paths
    chain = _Chain(client, spec, result)
    for path, ops in paths.items():
        if not ops:
            continue
        if _spec.chain_params(spec, path) is None:
            result.excluded.append(f"{path}: no documented create operation for its parameters, no chain")
            continue
        chain.run_path(path, sorted(ops, key=lambda o: _ORDER.get(o.method, 5)))
    if not paths:
        result.excluded.append("no path parameters in the spec: no chains")


def fixtures(
    client: Client, spec: dict[str, Any], result: IntegrationResult
) -> tuple[dict[str, dict[str, Any] | None], dict[str, Any]]:
    """Data the crew creates for load on item endpoints: path → path parameters (None when it cannot), and
    path → a valid body for POST/PUT/PATCH there (the next unused one, for opted-in unsafe load)."""
    chain = _Chain(client, spec, result)
    chain.record = False
    chain.used = {k: len(v) for k, v in result.created.items()}  # past the bodies 19.1 created already
    params: dict[str, dict[str, Any] | None] = {}
    bodies: dict[str, Any] = {}
    for op in _spec.operations(spec):
        if op.params and op.path not in params:
            got = chain.create(op.path, op) if _spec.chain_params(spec, op.path) is not None else None
            params[op.path] = got[0] if got else None
            if got is not None and op.path.endswith("}"):
                bodies.setdefault(op.path, got[1])
        if op.method == "post" and op.path not in bodies:
            options = chain.bodies.get(op.path) or _bodies(chain.schema, spec, op, result.seed)
            bodies[op.path] = options[-1]
    return params, bodies
