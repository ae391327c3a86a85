"""The stage-19 conformance checks outside a crew run: what the kept pytest module (`pytest_module`) calls, so a
provider reproduces every 19.1 finding with the same seed, the same checks and the same exclusions.

The only difference from the crew is the error policy: here a 401, 429 or 5xx is simply an answer to
judge (there is no engine to refresh credentials or back off), and calls are paced the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venturegate.crews.stage19._http import CallTimeout, Client
from venturegate.crews.stage19.apitester import Finding, run_apitester
from venturegate.crews.stage19.inputs import CredentialRef, Credentials, Integration
from venturegate.engine.secrets import SecretGrant, host_port


@dataclass
class PlainClient(Client):
    """A `Client` without an engine: every answer goes back to the tester."""

    def guarded(self, send: Callable[[float], Any], *, authorized: bool = True) -> Any:
        """Call `send(timeout)` once, paced."""
        import requests

        wait = self._last + self.pace_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        self.calls += 1
        try:
            return send(self.timeout)
        except requests.Timeout as exc:
            raise CallTimeout(f"{self.integration.name}: call timed out after {self.timeout:g}s", self.timeout) from exc


def integration_entry(integ: Integration, credentials: Credentials, pace_s: float) -> dict[str, Any]:
    """What the kept module needs to know about one integration (credential references, never values)."""
    return {
        "name": integ.name,
        "base_url": integ.base_url,
        "auth_type": integ.auth_type,
        "auth_header": integ.auth_header,
        "rate_limit_req_sec": integ.rate_limit_req_sec,
        "timeout_ms": integ.timeout_ms,
        "pace_s": pace_s,
        "credentials": {
            name: {k: v for k, v in (("env", r.env), ("secrets_file", r.secrets_file), ("key", r.key)) if v}
            for name, r in credentials.refs.items()
        },
    }


def replay(
    entry: dict[str, Any],
    spec: dict[str, Any],
    *,
    seed: int,
    max_examples: int,
    undeclared_methods: bool = False,
    base_url: str | None = None,
) -> list[Finding]:
    """Run 19.1's checks for one integration as the crew did; the findings, in the crew's order."""
    integ = Integration(
        entry["name"],
        "",
        "",
        (base_url or entry["base_url"]).rstrip("/"),
        "",
        entry["auth_type"],
        entry.get("auth_header"),
        float(entry["rate_limit_req_sec"]),
        int(entry["timeout_ms"]),
    )
    refs = {
        n: CredentialRef(n, r.get("env"), r.get("secrets_file"), r.get("key")) for n, r in entry["credentials"].items()
    }
    # The kept module runs on the provider's own machine with its own environment, outside the server: the
    # person running it grants exactly the references it names, to the one host it tests.
    grant = SecretGrant(
        env=tuple(r.env for r in refs.values() if r.env),
        files=tuple(r.secrets_file for r in refs.values() if r.secrets_file),
        hosts=(host_port(integ.base_url),),
    )
    creds = Credentials(integ.name, refs, Path.cwd(), grant, integ.base_url)
    client = PlainClient(None, integ, creds, pace_s=float(entry.get("pace_s", 0.0)))  # type: ignore[arg-type]
    try:
        result = run_apitester(
            client,
            spec,
            max_examples=max_examples,
            checkpoint=lambda: None,
            seed=seed,
            undeclared_methods=undeclared_methods,
        )
    finally:
        client.close()
    return result.findings
