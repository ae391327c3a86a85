"""19.1 APITester: property-based tests of every documented operation (Schemathesis), stateful chains over the
data the crew creates (`chains`), authentication and error handling; findings with curl reproductions.

A *test* is one check the way a test suite counts it: for every operation, its positive cases and
(separately) its negative cases; every step of a chain; every probe. A test passes when all its
cases pass. Generation is bounded (`max_examples`) and seeded (`seed`), so a re-run against the
same API in the same state sends the same requests and reports the same findings.

Every answer the crew receives is validated against the spec: status code, content type, body
schema, documented headers, and object keys the schema does not list (an *undocumented field*).
Methods the spec does not declare (TRACE, …) are only probed when `undeclared_methods` is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests

from venturegate.crews.stage19 import _spec
from venturegate.crews.stage19._http import Client, ProviderError
from venturegate.engine.exceptions import BadInput

MODES = ("positive", "negative")
DEFAULT_SEED = 19
"""The seed of a run when the user names none (the report states the one used)."""
UNDECLARED = ("TRACE", "CONNECT", "PROPFIND")

_KINDS = {
    "ServerError": "server_error",
    "ContentTypeServerError": "server_error",
    "UndefinedStatusCode": "status_code",
    "MissingContentType": "content_type",
    "MalformedMediaType": "content_type",
    "UndefinedContentType": "content_type",
    "JsonSchemaError": "schema",
    "MalformedJson": "schema",
    "ContentDeserializationError": "schema",
    "DiscriminatorMismatch": "schema",
    "MissingHeaders": "headers",
    "AcceptedNegativeData": "accepts_invalid",
    "RejectedPositiveData": "rejects_valid",
}


@dataclass(frozen=True)
class Finding:
    """One defect: what kind, where, how it showed, and a curl line to reproduce it."""

    kind: str
    method: str
    path: str
    title: str
    detail: str = ""
    status: int | None = None
    curl: str = ""
    source: str = "generated"
    """`generated` (a Schemathesis case), `chain` (a step on data the crew created), `probe` or `load`."""

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two findings the same defect: its kind and the operation."""
        return (self.kind, self.method.upper(), self.path)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**self.__dict__, "method": self.method.upper()}


@dataclass
class OperationResult:
    """The cases run for one operation in one generation mode."""

    method: str
    path: str
    mode: str
    cases: int = 0
    passed: int = 0
    failures: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every case passed (an operation with no case is not a test)."""
        return self.cases > 0 and self.passed == self.cases


@dataclass
class Step:
    """One step of a chain or a probe."""

    name: str
    ok: bool
    detail: str
    curl: str = ""


@dataclass
class IntegrationResult:
    """Everything 19.1 found for one integration."""

    name: str
    seed: int = DEFAULT_SEED
    operations: list[OperationResult] = field(default_factory=list)
    flow: list[Step] = field(default_factory=list)
    probes: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error_handling: dict[str, str] = field(default_factory=dict)
    handled: list[dict[str, str]] = field(default_factory=list)
    documented_operations: int = 0
    created: dict[str, list[Any]] = field(default_factory=dict)
    """Identifiers the chains created, per collection path (19.2 loads item endpoints with them)."""
    excluded: list[str] = field(default_factory=list)
    """Checks this run left out, and why."""

    def add(self, finding: Finding) -> None:
        """Keep the first finding of each defect (the same one on every seeded run)."""
        if all(f.key != finding.key for f in self.findings):
            self.findings.append(finding)

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
        """Every chain step passed (and there was a chain to run)."""
        return bool(self.flow) and all(s.ok for s in self.flow)

    def as_dict(self) -> dict[str, Any]:
        """The per-operation report (JSON-ready; holds no credential: curl lines show references)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "tests_total": len(self.tests),
            "tests_passed": sum(self.tests),
            "documented_operations": self.documented_operations,
            "covered_operations": self.covered_operations,
            "findings": [f.as_dict() for f in self.findings],
            "operations": [
                {
                    "method": o.method.upper(),
                    "path": o.path,
                    "mode": o.mode,
                    "cases": o.cases,
                    "passed": o.passed,
                    "failures": [f.as_dict() for f in o.failures],
                }
                for o in self.operations
            ],
            "data_flow": [s.__dict__ for s in self.flow],
            "probes": [s.__dict__ for s in self.probes],
            "error_handling": self.error_handling,
            "errors_handled": self.handled,
            "excluded": self.excluded,
        }


def collect(operation: Any, mode: Any, max_examples: int, seed: int) -> list[Any]:
    """Up to `max_examples` cases for an operation: the same ones for the same seed."""
    import hypothesis.errors
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    cases: list[Any] = []

    @with_seed(seed)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
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


def positive_checks() -> list[Any]:
    """What every answer to a valid request is held to."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def negative_checks() -> list[Any]:
    """What every answer to an invalid request is held to."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import negative_data_rejection

    return [not_a_server_error, negative_data_rejection]


def judge(
    spec: dict[str, Any],
    case: Any,
    resp: Any,
    checks: list[Any],
    headers: dict[str, str],
    *,
    curl: str,
    source: str,
) -> list[Finding]:
    """Every way `resp` breaks the spec (empty when it conforms), undocumented fields included."""
    from schemathesis.core.failures import Failure, FailureGroup

    method, path = case.operation.method.upper(), case.operation.path
    found: list[Finding] = []
    try:
        case.validate_response(resp, checks=checks, headers=headers)
    except FailureGroup as group:
        for f in group.exceptions:
            kind = _KINDS.get(type(f).__name__, "conformance")
            if "header" in f.title.lower():
                kind = "headers"
            found.append(Finding(kind, method, path, f.title, f.message[:300], resp.status_code, curl, source))
    except Failure as f:
        found.append(
            Finding(
                _KINDS.get(type(f).__name__, "conformance"),
                method,
                path,
                f.title,
                f.message[:300],
                resp.status_code,
                curl,
                source,
            )
        )
    op = _spec.find(spec, case.operation.method.lower(), path)
    schema = _spec.json_schema_of(spec, op, resp.status_code) if op is not None else None
    if schema is not None and "json" in (header(resp, "Content-Type") or ""):
        try:
            body = resp.json()
        except ValueError:
            body = None
        extra = sorted(set(_spec.undocumented_fields(spec, schema, body, "$")))
        if extra:
            found.append(
                Finding(
                    "undocumented_field",
                    method,
                    path,
                    "Undocumented response field",
                    f"HTTP {resp.status_code}: {', '.join(extra[:5])} not in the response schema",
                    resp.status_code,
                    curl,
                    source,
                )
            )
    return found


def header(resp: Any, name: str) -> str | None:
    """A response header from a requests or a Schemathesis response (whose values are lists)."""
    for key, value in resp.headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _request(session: requests.Session, method: str, url: str, headers: dict[str, str], timeout: float) -> Any:
    return session.request(method, url, headers=headers, timeout=timeout)


def _call(case: Any, base: str, session: requests.Session, headers: dict[str, str], timeout: float) -> Any:
    return case.call(base_url=base, session=session, headers=headers, timeout=timeout)


def run_operations(
    client: Client, spec: dict[str, Any], result: IntegrationResult, *, max_examples: int, checkpoint: Any
) -> None:
    """Run bounded, seeded positive and negative cases of every documented operation and judge the answers."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Err

    schema = schemathesis.openapi.from_dict(spec)
    base = client.integration.base_url
    ops = []
    for found in schema.get_all_operations():
        if isinstance(found, Err):
            raise BadInput(
                f"the OpenAPI document has an invalid operation: {found.err()}", where=client.integration.name
            )
        ops.append(found.ok())
    result.documented_operations = len(ops)
    for op in ops:
        for mode in MODES:
            checkpoint()
            gen = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
            res = OperationResult(op.method, op.path, mode)
            checks = positive_checks() if mode == "positive" else negative_checks()
            for case in collect(op, gen, max_examples, result.seed):
                headers = client.auth_headers()
                generated = [k for k in (case.headers or {}) if k.lower() in {h.lower() for h in headers}]
                if mode == "positive":  # the generated security header gives way to the real credentials
                    for name in generated:
                        del case.headers[name]
                elif generated:  # a negative case that spoils the credentials on purpose keeps its spoilt value
                    headers = {k: v for k, v in headers.items() if k.lower() not in {g.lower() for g in generated}}
                resp = client.guarded(
                    partial(_call, case, base, client.session, headers), authorized=mode == "positive"
                )
                res.cases += 1
                curl = case.as_curl_command(headers=client.placeholder_headers(), base_url=base)
                failed = judge(spec, case, resp, checks, headers, curl=curl, source="generated")
                if failed:
                    res.failures += failed
                    for f in failed:
                        result.add(f)
                    continue
                res.passed += 1
            result.operations.append(res)


def probe_undeclared_methods(client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
    """Opt-in: methods the spec does not declare must be refused (405/501), not served."""
    base = client.integration.base_url
    for path in spec.get("paths") or {}:
        if "{" in path:
            continue
        for method in UNDECLARED:
            send = partial(_request, client.session, method, base + path, client.auth_headers())
            resp = client.guarded(send)
            ok = resp.status_code in (400, 403, 404, 405, 501)
            result.probes.append(Step(f"undeclared {method} {path}", ok, f"HTTP {resp.status_code}"))
            if not ok:
                result.add(
                    Finding(
                        "undeclared_method",
                        method,
                        path,
                        "Undeclared method served",
                        f"HTTP {resp.status_code} (expected 405 or 501)",
                        resp.status_code,
                        f"curl -X {method} '{base}{path}'",
                        "probe",
                    )
                )


def probe_errors(client: Client, spec: dict[str, Any], result: IntegrationResult) -> None:
    """Authentication must be enforced (401 without credentials); note how 429s and timeouts were handled."""
    integ = client.integration
    target = protected_get(spec)
    if integ.auth_type == "none" or target is None:
        result.error_handling["unauthorized_401"] = "skipped"
    else:
        resp = client.guarded(lambda t: client.session.get(integ.base_url + target, timeout=t), authorized=False)
        ok = resp.status_code in (401, 403)
        result.probes.append(Step(f"no credentials GET {target}", ok, f"HTTP {resp.status_code} (expected 401)"))
        if not ok:
            result.add(
                Finding(
                    "auth_not_enforced",
                    "GET",
                    target,
                    "Authentication not enforced",
                    f"HTTP {resp.status_code} without credentials",
                    resp.status_code,
                    f"curl -X GET '{integ.base_url}{target}'",
                    "probe",
                )
            )
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


def protected_get(spec: dict[str, Any]) -> str | None:
    """A GET path without path parameters that needs authentication."""
    for op in _spec.operations(spec):
        if op.method == "get" and not op.params and _spec.needs_auth(spec, op):
            return op.path
    return None


def run_apitester(
    client: Client,
    spec: dict[str, Any],
    *,
    max_examples: int,
    checkpoint: Any,
    seed: int = DEFAULT_SEED,
    undeclared_methods: bool = False,
) -> IntegrationResult:
    """19.1 for one integration: generated cases, chains on created data, probes."""
    from venturegate.crews.stage19.chains import run_chains

    result = IntegrationResult(client.integration.name, seed=seed)
    if not undeclared_methods:
        result.excluded.append("undeclared methods (TRACE, …) not probed: option undeclared_methods=true")
    try:
        run_operations(client, spec, result, max_examples=max_examples, checkpoint=checkpoint)
        checkpoint()
        run_chains(client, spec, result)
        if undeclared_methods:
            probe_undeclared_methods(client, spec, result)
    finally:
        result.handled = [h.__dict__ for h in client.handled]
    probe_errors(client, spec, result)
    return result


__all__ = ["Finding", "IntegrationResult", "ProviderError", "run_apitester"]
