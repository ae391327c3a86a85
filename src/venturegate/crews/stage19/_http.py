"""One HTTP client per integration whose failures go through the engine's error policy (`handle_error`).

A 401 with credentials, a 429, a 502/503/504, a refused connection or a timeout is raised as an
exception the stage's taxonomy classifies (E19-AUTH, E19-RATE-LIMIT, E19-PROVIDER-DOWN,
E19-TIMEOUT), and `handle_error` decides: refresh the credentials and retry, back off and retry,
retry with a longer timeout, send the venture back, or escalate. Any other answer — a 500 on some
input included — is the provider's behaviour under test and is returned to the tester to judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from venturegate.crews.stage19.inputs import Credentials, Integration

if TYPE_CHECKING:
    from venturegate.crews.base import CrewContext

RETRYABLE = (401, 429, 502, 503, 504)


class ProviderError(Exception):
    """The provider answered with a status the error policy handles (401, 429, 502–504)."""

    def __init__(self, status: int, message: str, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


class CallTimeout(TimeoutError):
    """A call ran out of time; `.timeout` is the limit (seconds) that ran out."""

    def __init__(self, message: str, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class Interrupted(Exception):
    """The error policy ended the run: the venture was sent back or an escalation was opened."""

    def __init__(self, message: str, status: str, rule: str) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule


@dataclass
class HandledError:
    """An error the policy handled during the run (for the report)."""

    rule: str
    status: str
    message: str
    resolution: str


@dataclass
class Client:
    """Calls one integration with its credentials; failures the policy owns go through `handle_error`."""

    ctx: CrewContext
    integration: Integration
    credentials: Credentials
    session: requests.Session = field(default_factory=requests.Session)
    handled: list[HandledError] = field(default_factory=list)
    calls: int = 0
    pace_s: float = 0.0
    """Least time between two calls (keeps the tests under the provider's declared rate limit)."""
    _last: float = 0.0

    @property
    def timeout(self) -> float:
        """The integration's client timeout, in seconds."""
        return self.integration.timeout_ms / 1000

    def auth_headers(self) -> dict[str, str]:
        """The authentication header of the integration (read from the referenced secret; never logged)."""
        i = self.integration
        secret = self.credentials.first() if i.auth_type != "none" else None
        if secret is None:
            return {}
        if i.auth_type in ("bearer", "oauth2"):
            return {i.auth_header or "Authorization": f"Bearer {secret.reveal()}"}
        if i.auth_type == "api_key":
            return {i.auth_header or "X-API-Key": secret.reveal()}
        if i.auth_type == "basic":
            import base64

            user = self.credentials.get("username").reveal()
            token = base64.b64encode(f"{user}:{secret.reveal()}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    def placeholder_headers(self) -> dict[str, str]:
        """The authentication header with the secret's reference in place of its value (for curl lines)."""
        refs = self.credentials.refs
        ref = next(iter(refs.values()), None)
        if ref is None or self.integration.auth_type == "none":
            return {}
        shown = f"${ref.env}" if ref.env else f"<{ref.key} from {ref.secrets_file}>"
        prefix = "Bearer " if self.integration.auth_type in ("bearer", "oauth2") else ""
        default = "X-API-Key" if self.integration.auth_type == "api_key" else "Authorization"
        return {self.integration.auth_header or default: prefix + shown}

    def guarded(self, send: Callable[[float], requests.Response | Any], *, authorized: bool = True) -> Any:
        """Run `send(timeout)`; on a failure the policy owns, let `handle_error` recover or raise `Interrupted`."""

        def attempt(timeout: float | None = None) -> Any:
            t = self.timeout if timeout is None else timeout
            self.calls += 1
            wait = self._last + self.pace_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            try:
                resp = send(t)
            except requests.Timeout as exc:
                raise CallTimeout(f"{self.integration.name}: call timed out after {t:g}s", t) from exc
            except requests.ConnectionError as exc:
                raise ConnectionRefusedError(f"{self.integration.name}: connection refused ({exc})") from exc
            status = int(getattr(resp, "status_code", 0))
            if status in RETRYABLE and (status != 401 or authorized):
                raise ProviderError(status, _reason(resp), getattr(resp, "headers", {}).get("Retry-After"))
            return resp

        try:
            return attempt()
        except (ProviderError, CallTimeout, ConnectionRefusedError) as exc:
            engine = self.ctx.engine
            got = engine.handle_error(
                self.ctx.venture, self.ctx.stage, exc, attempt, actor=self.ctx.actor, timeout=self.timeout
            )
            rec = got.record
            self.handled.append(HandledError(rec.rule_id, rec.status, rec.message, rec.resolution))
            if got.resolved:
                return got.result
            raise Interrupted(f"{rec.rule_id}: {rec.resolution}", rec.status, rec.rule_id) from exc

    def close(self) -> None:
        """Release the connection pool."""
        self.session.close()


def _reason(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:200]
    return str(getattr(resp, "reason", "") or "")
