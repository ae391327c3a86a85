"""Dashboard login, logout, sessions and CSRF: a cookie that names a server-side session, forms that carry a secret."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import CHAIR
from tests.web.conftest import Browser, csrf_of, login
from venturegate.engine import Engine
from venturegate.web.sessions import COOKIE


def test_pages_need_a_login(anonymous: TestClient) -> None:
    page = anonymous.get("/ventures/acme?x=1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/ventures/acme%3Fx%3D1"
    fragment = anonymous.get("/fragments/portfolio", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")


def test_login_sets_an_httponly_session_cookie_not_the_token(anonymous: TestClient, tokens: dict[str, str]) -> None:
    form = anonymous.get("/login")
    assert 'name="csrf"' in form.text and form.headers["X-Frame-Options"] == "DENY"
    answer = anonymous.post(
        "/login",
        data={"token": tokens["lead"], "csrf": csrf_of(form.text), "next": "/stages/1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/stages/1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert tokens["lead"] not in cookie
    home = anonymous.get("/")
    assert home.status_code == 200 and "lead-1" in home.text and "Logged in as lead-1 (lead)." in home.text


def test_login_with_a_bad_token_is_refused(anonymous: TestClient) -> None:
    form = anonymous.get("/login")
    answer = anonymous.post("/login", data={"token": "vg_nope", "csrf": csrf_of(form.text)})
    assert answer.status_code == 401 and "unknown or revoked" in answer.text
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_login_without_the_csrf_value_is_403(anonymous: TestClient, tokens: dict[str, str]) -> None:
    anonymous.get("/login")
    missing = anonymous.post("/login", data={"token": tokens["chairman"]})
    wrong = anonymous.post("/login", data={"token": tokens["chairman"], "csrf": "forged"})
    assert missing.status_code == wrong.status_code == 403
    assert "CSRF" in wrong.text
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(anonymous: TestClient, tokens: dict[str, str]) -> None:
    form = anonymous.get("/login?next=//evil.example/")
    answer = anonymous.post(
        "/login",
        data={"token": tokens["viewer"], "csrf": csrf_of(form.text), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_login_replaces_the_session_id(anonymous: TestClient, tokens: dict[str, str]) -> None:
    anonymous.get("/login")
    before = anonymous.cookies[COOKIE]
    login(anonymous, tokens["viewer"])
    assert anonymous.cookies[COOKIE] != before


def test_logout_needs_csrf_and_ends_the_session(browser: Browser) -> None:
    client = browser("lead")
    home = client.get("/")
    refused = client.post("/logout", data={})
    assert refused.status_code == 403 and client.get("/", follow_redirects=False).status_code == 200
    out = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_revoked_token_ends_its_session(browser: Browser, engine: Engine) -> None:
    client = browser("exec")
    assert client.get("/", follow_redirects=False).status_code == 200
    engine.revoke_token("exec-1", actor=CHAIR)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_demo_token_logs_in_as_chairman(engine: Engine, anonymous: TestClient) -> None:
    from venturegate.web.demo_serve import demo_token

    name, secret = demo_token(engine)
    token = engine.authenticate(secret)
    assert token is not None and token.name == name and token.role == "chairman"
    login(anonymous, secret)
    assert '<b class="role">chairman</b>' in anonymous.get("/").text
