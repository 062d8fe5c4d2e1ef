"""Loading a SenderConfig from the environment or a TOML file (pure: no trio).

:class:`~trio_webhook._config.SenderConfig` keeps its fields, their checks and the
table of how each is spelt (``_KINDS``); this module turns text into those values and
re-words a :class:`ConfigError` so it names the variable, or the file and table, it
came from.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from trio_webhook._errors import ConfigError

__all__ = ["Kind", "load_env", "load_toml"]

Kind = Literal["int", "opt_int", "float", "bool", "strategy", "path"]
"""How a setting is spelt in an environment variable."""

# The config is built by a function handed in, not by a class imported: _config
# imports this module.
_C = TypeVar("_C")

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_NONE: Final = frozenset({"", "none", "null"})


def load_env(
    build: Callable[..., _C],
    environ: Mapping[str, str] | None,
    *,
    prefix: str,
    kinds: Mapping[str, Kind],
) -> _C:
    """The body of :meth:`SenderConfig.from_env`; ``kinds`` spells each setting.

    ``build(**settings)`` makes the config from the settings read (the base config
    evolved); a :class:`ConfigError` it raises is re-worded to name the variable.
    """
    env = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key, kind in kinds.items():
        var = prefix + key.upper()
        if var not in env:
            continue
        names[key] = var
        changes[key] = _parse_env(var, env[var], kind)
    redis_var = prefix + "REDIS_URL"
    if "rate_limit_store" not in changes and redis_var in env:
        names["rate_limit_store"] = redis_var
        changes["rate_limit_store"] = _parse_env(redis_var, env[redis_var], "path")
    try:
        return build(**changes)
    except ConfigError as exc:
        culprit = names.get(exc.key)
        if culprit is None:
            # A clash with a value the environment did not set: say which variables
            # were read, since one of them caused it.
            where = "with " + ", ".join(names.values()) + " from the environment"
            raise ConfigError(exc.key, exc.value, exc.expected, where=where) from None
        # A Redis URL may carry a password: the check already masked it.
        shown = exc.value if exc.key == "rate_limit_store" else env[culprit]
        raise ConfigError(culprit, shown, exc.expected) from None


def load_toml(
    build: Callable[..., _C],
    path: str | os.PathLike[str],
    *,
    table: str,
    kinds: Mapping[str, Kind],
) -> _C:
    """The body of :meth:`SenderConfig.from_toml`; ``kinds`` names the known keys.

    ``build(**settings)`` makes the config from the table's settings, as for
    :func:`load_env`; its :class:`ConfigError` is re-worded to name the file and table.
    """
    p = Path(path)
    with p.open("rb") as f:
        data = tomllib.load(f)
    found, where = _find_table(data, p, table)
    _check_keys(found, kinds, where)
    values = dict(found)
    for key in ("dead_letter", "outbox"):
        target = values.get(key)
        if isinstance(target, str) and "://" in target:
            continue  # a URL (redis://...), not a path
        if isinstance(target, str) and target and not Path(target).is_absolute():
            values[key] = str(p.parent / target)
    try:
        return build(**values)
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.value, exc.expected, where=where) from None


def _find_table(data: Mapping[str, Any], p: Path, table: str) -> tuple[dict[str, Any], str]:
    """The ``[table]`` (or ``[tool.table]``) of ``data``, and how to name where it is."""
    found = _lookup(data, table.split("."))
    where = f"{p} [{table}]"
    if found is None:
        found = _lookup(data, ["tool", *table.split(".")])
        where = f"{p} [tool.{table}]"
    if found is None:
        raise ConfigError(
            "table", table, f"a [{table}] or [tool.{table}] table in {p}", where=str(p)
        )
    if not isinstance(found, dict):
        raise ConfigError(table, found, "a table", where=str(p))
    return found, where


def _check_keys(found: Mapping[str, Any], kinds: Mapping[str, Kind], where: str) -> None:
    unknown = sorted(set(found) - set(kinds))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(kinds), n=1)
            hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
        raise ConfigError(
            "unknown keys",
            ", ".join(hints),
            "only " + ", ".join(sorted(kinds)),
            where=where,
        )


def _lookup(data: Mapping[str, Any], parts: list[str]) -> Any:
    node: Any = data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parse_env(var: str, raw: str, kind: Kind) -> Any:
    text = raw.strip()
    low = text.lower()
    if kind == "bool":
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(var, raw, "a boolean: 1/0, true/false, yes/no or on/off")
    if kind == "path":
        return None if low in _NONE else text
    if kind == "strategy":
        return low  # the validator names the choices
    if kind == "opt_int" and low in _NONE:
        return None
    if kind in ("int", "opt_int"):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            none = " or none" if kind == "opt_int" else ""
            raise ConfigError(var, raw, f"an integer (as 50){none}") from None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(var, raw, "a number of seconds (as 2.5)") from None
    return value
