"""19.1 APITester: property-based tests from each integration's OpenAPI spec (Schemathesis), CRUD data flows,
authentication and error handling; a report per operation with curl reproductions, and a pytest module.

A *test* is one check the way a test suite counts it: for every operation, its positive cases and
(separately) its negative cases; every step of a data flow; every error-handling probe. A test
passes when all its cases pass. A *case* is one generated request. Generation is bounded
(`max_examples`) and derandomized, so a re-run sends the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from venturegate.crews.stage19._http import Client, ProviderError
from venturegate.crews.stage19.inputs import Integration
from venturegate.engine.errors import BadInput

MODES = ("positive", "negative")


@dataclass
class Failure:
    """One failing case: what broke and how to reproduce it."""

    title: str
    status: int | None
    curl: str
    detail: str = ""


@dataclass
class OperationResult:
    """The cases run for one operation in one generation mode."""

    method: str
    path: str
    mode: str
    cases: int = 0
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every case passed (an operation with no case is not a test)."""
        return self.cases > 0 and self.passed == self.cases


@dataclass
class Step:
    """One step of a data flow or an error-handling probe."""

    name: str
    ok: bool
    detail: str
    curl: str = ""


@dataclass
class IntegrationResult:
    """Everything 19.1 found for one integration."""

    name: str
    operations: list[OperationResult] = field(default_factory=list)
    flow: list[Step] = field(default_factory=list)
    probes: list[Step] = field(default_factory=list)
    error_handling: dict[str, str] = field(default_factory=dict)
    handled: list[dict[str, str]] = field(default_factory=list)
    documented_operations: int = 0

    @property
    def tests(self) -> list[bool]:
        """Pass/fail of every test of this integration."""
        return [o.ok for o in self.operations if o.cases] + [s.ok for s in self.flow] + [s.ok for s in self.probes]

    @property
    def covered_operations(self) -> int:
        """Documented operations with at least one case run."""
        return len({(o.method, o.path) for o in self.operations if o.cases})

    @property
    def data_flows_verified(self) -> bool:
        """Every data-flow step passed (and there was a flow to check)."""
        return bool(self.flow) and all(s.ok for s in self.flow)

    def as_dict(self) -> dict[str, Any]:
        """The per-operation report (JSON-ready; holds no credential: curl commands filter Authorization)."""
        return {
            "name": self.name,
            "tests_total": len(self.tests),
            "tests_passed": sum(self.tests),
            "documented_operations": self.documented_operations,
            "covered_operations": self.covered_operations,
            "operations": [
                {
                    "method": o.method.upper(),
                    "path": o.path,
                    "mode": o.mode,
                    "cases": o.cases,
                    "passed": o.passed,
                    "failures": [f.__dict__ for f in o.failures],
                }
                for o in self.operations
            ],
            "data_flow": [s.__dict__ for s in self.flow],
            "probes": [s.__dict__ for s in self.probes],
            "error_handling": self.error_handling,
            "errors_handled": self.handled,
        }


def _collect(operation: Any, mode: Any, max_examples: int) -> list[Any]:
    """Up to `max_examples` cases for an operation, the same ones on every run."""
    import hypothesis.errors
    from hypothesis import HealthCheck, Phase, given, settings

    cases: list[Any] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def gather(case: Any) -> None:
        cases.append(case)

    try:
        gather()
    except hypothesis.errors.Unsatisfiable:
        return []  # nothing to vary (a negative case of an operation without parameters)
    return cases


def _call(case: Any, base: str, session: requests.Session, headers: dict[str, str], timeout: float) -> Any:
    return case.call(base_url=base, session=session, headers=headers, timeout=timeout)


def _checks(mode: str) -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    if mode == "negative":
        return [not_a_server_error, negative_data_rejection]
    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def run_operations(
    client: Client, spec: dict[str, Any], result: IntegrationResult, *, max_examples: int, checkpoint: Any
) -> None:
    """Run bounded positive and negative cases of every documented operation and judge the answers."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.result import Err

    schema = schemathesis.openapi.from_dict(spec)
    base = client.integration.base_url
    operations = []
    for found in schema.get_all_operations():
        if isinstance(found, Err):
            raise BadInput(
                f"the OpenAPI document has an invalid operation: {found.err()}", where=client.integration.name
            )
        operations.append(found.ok())
    result.documented_operations = len(operations)
    for op in operations:
        for mode in MODES:
            checkpoint()
            gen = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
            res = OperationResult(op.method, op.path, mode)
            checks = _checks(mode)
            for case in _collect(op, gen, max_examples):
                headers = client.auth_headers()
                generated = [k for k in (case.headers or {}) if k.lower() in {h.lower() for h in headers}]
                if mode == "positive":  # the generated security header gives way to the real credentials
                    for name in generated:
                        del case.headers[name]
                elif generated:  # a negative case that spoils the credentials on purpose keeps its spoilt value
                    headers = {k: v for k, v in headers.items() if k.lower() not in {g.lower() for g in generated}}
                # A negative case may drop or spoil the credentials on purpose: its 401 is a rejection to judge.
                resp = client.guarded(
                    partial(_call, case, base, client.session, headers), authorized=mode == "positive"
                )
                res.cases += 1
                try:
                    case.validate_response(resp, checks=checks, headers=headers)
                except FailureGroup as group:
                    curl = case.as_curl_command(headers=client.placeholder_headers(), base_url=base)
                    for f in group.exceptions:
                        res.failures.append(Failure(f.title, resp.status_code, curl, f.message[:300]))
                    continue
                res.passed += 1
            result.operations.append(res)


def _find_crud(spec: dict[str, Any]) -> tuple[str, str, str] | None:
    """(collection path, item path, id parameter) of a resource with create, read and delete, else None."""
    paths = spec.get("paths", {})
    for path, ops in paths.items():
        if "post" not in ops:
            continue
        for sub, sub_ops in paths.items():
            rest = sub[len(path) :]
            is_item = sub.startswith(path + "/") and rest.count("/") == 1 and rest.startswith("/{") and rest[-1] == "}"
            if is_item and "get" in sub_ops and "delete" in sub_ops:
                return path, sub, rest[2:-1]
    return None


def _example_body(spec: dict[str, Any], path: str, method: str) -> Any:
    """A valid request body for an operation: the spec's example, else the first positive case Schemathesis makes."""
    import schemathesis
    from schemathesis import GenerationMode

    media = spec["paths"][path][method].get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in media:
        return media["example"]
    op = schemathesis.openapi.from_dict(spec)[path][method.upper()]
    cases = _collect(op, GenerationMode.POSITIVE, 5)
    # Prefer a case with text in it (a minimal "0" tells less about the round trip than "Item 1").
    return cases[-1].body if cases else {}


def check_data_flow(client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
    """Create → read → update → read → delete → read-gone on the first CRUD resource of the spec."""
    found = _find_crud(spec)
    if found is None:
        result.flow.append(Step("find a CRUD resource", False, "the spec documents no create/read/delete resource"))
        return
    coll, item, param = found
    base = client.integration.base_url
    s = client.session

    def call(method: str, url: str, body: Any = None) -> requests.Response:
        headers = client.auth_headers()
        resp: requests.Response = client.guarded(
            lambda t: s.request(method, url, json=body, headers=headers, timeout=t)
        )
        return resp

    body = _example_body(spec, coll, "post")
    created = call("POST", base + coll, body)
    ok = created.status_code in (200, 201)
    new = created.json() if ok else {}
    ident = new.get(param) or new.get("id")
    result.flow.append(Step(f"create POST {coll}", ok and ident is not None, f"HTTP {created.status_code}"))
    if not ok or ident is None:
        return
    url = base + item.replace("{" + param + "}", str(ident))
    read = call("GET", url)
    same = read.status_code == 200 and all(read.json().get(k) == v for k, v in body.items())
    result.flow.append(
        Step(
            f"read GET {item}",
            same,
            f"HTTP {read.status_code}; fields {'match' if same else 'differ: ' + read.text[:200]}",
        )
    )
    if "put" in spec["paths"][item] or "patch" in spec["paths"][item]:
        method = "PUT" if "put" in spec["paths"][item] else "PATCH"
        changed = dict(body)
        for k, v in changed.items():
            if isinstance(v, str):
                changed[k] = (v + "x")[:40]
            elif isinstance(v, int | float) and not isinstance(v, bool):
                changed[k] = v + 1
        upd = call(method, url, changed)
        again = call("GET", url)
        kept = upd.status_code == 200 and again.status_code == 200
        kept = kept and all(again.json().get(k) == v for k, v in changed.items())
        result.flow.append(
            Step(f"update {method} {item}", kept, f"HTTP {upd.status_code}, read back {again.status_code}")
        )
    gone = call("DELETE", url)
    after = call("GET", url)
    deleted = gone.status_code in (200, 202, 204) and after.status_code == 404
    result.flow.append(Step(f"delete DELETE {item}", deleted, f"HTTP {gone.status_code}, then GET {after.status_code}"))


def probe_errors(client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
    """Authentication must be enforced (401 without credentials); note how 429s and timeouts were handled."""
    integ: Integration = client.integration
    target = _protected_get(spec)
    if integ.auth_type == "none" or target is None:
        result.error_handling["unauthorized_401"] = "skipped"
    else:
        resp = client.guarded(lambda t: client.session.get(integ.base_url + target, timeout=t), authorized=False)
        ok = resp.status_code in (401, 403)
        result.probes.append(Step(f"no credentials GET {target}", ok, f"HTTP {resp.status_code} (expected 401)"))
        refreshed = any(h["rule"] == "E19-AUTH" and h["status"] == "resolved" for h in result.handled)
        failed = any(h["rule"] == "E19-AUTH" and h["status"] != "resolved" for h in result.handled)
        result.error_handling["unauthorized_401"] = "fail" if not ok or failed else "pass"
        if refreshed:
            result.probes.append(Step("expired credentials refreshed and retried", True, "E19-AUTH resolved"))
    for key, rule in (("rate_limited_429", "E19-RATE-LIMIT"), ("timeout", "E19-TIMEOUT")):
        seen = [h for h in result.handled if h["rule"] == rule]
        result.error_handling[key] = (
            "skipped" if not seen else "pass" if all(h["status"] == "resolved" for h in seen) else "fail"
        )


def _protected_get(spec: dict[str, Any]) -> str | None:
    """A GET path without path parameters that needs authentication."""
    top = spec.get("security")
    for path, ops in spec.get("paths", {}).items():
        get = ops.get("get")
        if get is None or "{" in path:
            continue
        if get.get("security", top):
            return str(path)
    return None


def run_apitester(client: Client, spec: dict[str, Any], *, max_examples: int, checkpoint: Any) -> IntegrationResult:
    """19.1 for one integration: operations, data flow, error handling."""
    result = IntegrationResult(client.integration.name)
    try:
        run_operations(client, spec, result, max_examples=max_examples, checkpoint=checkpoint)
        checkpoint()
        check_data_flow(client, spec, result)
    finally:
        result.handled = [h.__dict__ for h in client.handled]
    probe_errors(client, spec, result)
    return result


__all__ = ["IntegrationResult", "ProviderError", "run_apitester"]
