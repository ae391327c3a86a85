"""The stage-28 rollback handlers (declared by the crew's `hooks()`): drop the indexes it built, restore the
service's previous tunables and cache configuration, and flush the cache keys the design owns.

They run inside the engine's rollback transaction, act on the outside world only (never the engine),
and raise when they cannot do their part, so the rollback escalates instead of claiming success.
"""

from __future__ import annotations

from venturegate.crews.stage28 import database
from venturegate.crews.stage28.cache import flush_keys, parse_entries, redis_client
from venturegate.crews.stage28.target import KEY_PREFIX, live, parse_tunables
from venturegate.engine.rollbacks import RollbackContext

NO_TARGET = "no live stage-28 target in this process: the configuration is restored; the next crew run re-applies it"


def _list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def undo_deployment(ctx: RollbackContext) -> str:
    """`deployment`: drop indexes the restored configuration no longer lists; write back the tunables."""
    target = live(ctx.venture)
    if target is None:
        return NO_TARGET
    done = []
    for change in ctx.changes:
        if change.key == "deployment.indexes":
            drop = sorted(set(_list(change.before)) - set(_list(change.after)))
            if drop:
                with database.connect(target.database_url) as conn:
                    for name in drop:
                        database.drop_index(conn, name)
                done.append("dropped " + ", ".join(drop))
        elif change.key == "deployment.tunables":
            after = parse_tunables(_list(change.after))
            gone = tuple(k for k in parse_tunables(_list(change.before)) if k not in after)
            target.write_config(remove=gone, **after)
            done.append(f"tunables back to {_list(change.after) or 'the service defaults'}")
    return "; ".join(done) or "no deployment change to undo"


def restore_cache(ctx: RollbackContext) -> str:
    """`cache`: write the restored cache design into the service's config."""
    target = live(ctx.venture)
    if target is None:
        return NO_TARGET
    for change in ctx.changes:
        if change.key == "cache.routes":
            routes = parse_entries(_list(change.after))
            target.write_config(cache=routes)
            return f"cache configuration restored ({len(routes)} cached route(s))"
    return "no cache design change to undo"


def flush_cache(ctx: RollbackContext) -> str:
    """`cache_data`: delete the keys under the design's namespace (never FLUSHDB: the Redis may be shared)."""
    target = live(ctx.venture)
    if target is None:
        return NO_TARGET
    if target.redis_url is None:
        return "the service has no Redis: nothing to flush"
    client = redis_client(target.redis_url)
    try:
        n = flush_keys(client, KEY_PREFIX)
    finally:
        client.close()
    return f"flushed {n} key(s) under {KEY_PREFIX}*"
