"""Commands for a venture's persistent local production (the stage-30 `local` driver): status, stop, rollback."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.engine import BadInput

deploy_app = typer.Typer(
    help="A venture's local production, as the stage-30 crew left it running.", no_args_is_help=True
)
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _status(venture: str) -> tuple[int, dict[str, Any]]:
    from venturegate.crews.stage30.haproxy import DriverError, LocalDriver
    from venturegate.crews.stage30.live import Deployment, default_workspace, production_dir, running

    vid = STATE.engine().venture(venture).id
    folder = production_dir(default_workspace(), vid)
    dep = Deployment.load(folder)
    info: dict[str, Any] = {"venture_id": vid, "folder": str(folder), "running": False,
                            "deployment": None if dep is None else dep.__dict__ | {"database_url": None}}  # fmt: skip
    if running(folder):
        try:
            driver = LocalDriver.attach(folder)
        except DriverError as exc:
            info["error"] = str(exc)
        else:
            try:
                info |= driver.status()
            finally:
                driver.detach()
    return vid, info


@deploy_app.command("status")
@handled
def status(venture: VENTURE, as_json: JSON = False) -> None:
    """Show where production answers, which version serves (blue) or is being deployed (green), with pids."""
    _, info = _status(venture)
    if as_json:
        emit_json(info)
        return
    if not info["running"]:
        out.print(f"no production is running for this venture ({info.get('error') or info['folder']})")
        raise typer.Exit(3)
    out.print(f"production: {info['url']} (haproxy pid {info['haproxy_pid']})")
    for role, r in info["roles"].items():
        out.print(f"  {role}: {r['version']} at {r['address']} pid {r['pid']} weight {r['weight']} "
                  f"haproxy {r['haproxy_status']}")  # fmt: skip
    front = info.get("frontend") or {}
    out.print(f"  front end: {front.get('requests')} requests, {front.get('responses_5xx')} answered 5xx")
    dep = info.get("deployment") or {}
    if dep:
        out.print(f"  deployment: {dep.get('state')} (release {dep.get('release')})")


@deploy_app.command("stop")
@handled
def stop(venture: VENTURE, as_json: JSON = False) -> None:
    """Stop the venture's production: HAProxy and every version (nothing is left running)."""
    from venturegate.crews.stage30.haproxy import DriverError, LocalDriver
    from venturegate.crews.stage30.live import default_workspace, production_dir

    folder = production_dir(default_workspace(), STATE.engine().venture(venture).id)
    try:
        driver = LocalDriver.attach(folder)
    except DriverError as exc:
        raise BadInput(str(exc), where="VENTURE", hint="`venturegate deploy status VENTURE` shows it") from None
    pids = driver.pids()
    driver.close()
    if as_json:
        emit_json({"stopped": pids})
    else:
        out.print(f"production stopped (pids {', '.join(map(str, pids))})")


@deploy_app.command("rollback")
@handled
def rollback(
    venture: VENTURE,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    as_json: JSON = False,
) -> None:
    """All traffic back to blue now, through an audited engine rollback (cause traffic_only)."""
    record = STATE.engine().rollback(
        venture, cause="traffic_only", actor=STATE.who("change_config"), reason=reason, keys=[]
    )
    if as_json:
        emit_json(record.as_dict())
        return
    out.print(f"rollback #{record.id}: {record.outcome}")
    for h in record.handlers:
        out.print(f"  {h.scope}: {h.detail}")
    if record.outcome != "completed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(deploy_app, name="deploy")
