"""Build objects from config groups, turning bad values into one-line errors that name the key."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig

from nlpops.errors import UserError

_SIMPLE = (bool, int, float, str, type(None))


def check_config(cfg: DictConfig, *keys: str) -> None:
    """Check the plain values of the ``_target_`` configs under ``keys`` against their targets' type hints.

    Run before any work: a value of the wrong type (``trainer.max_epochs=abc``) would otherwise fail deep
    inside a library, minutes later, far from the key that caused it. Groups of targets (callbacks,
    loggers) are checked entry by entry.
    """
    for key in keys:
        node = cfg.get(key)
        if not isinstance(node, DictConfig):
            continue
        if "_target_" in node:
            _check_types(node, key)
        else:
            for name, entry in node.items():
                if isinstance(entry, DictConfig) and "_target_" in entry:
                    _check_types(entry, f"{key}.{name}")


def build(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate ``cfg[key]``; a failure becomes a ``UserError`` naming the key."""
    try:
        return instantiate(cfg[key], **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise UserError(f"cannot build '{key}' from the config: {err.__cause__ or err}".splitlines()[0]) from err


def build_all(group: DictConfig | None) -> list[Any]:
    """Build every entry of a group that maps names to ``_target_`` configs (callbacks, loggers)."""
    if not group:
        return []
    return [
        build(group, name) for name, entry in group.items() if isinstance(entry, DictConfig) and "_target_" in entry
    ]


def check_arguments(values: Mapping[str, Any], target: Callable[..., Any], key: str = "") -> None:
    """Raise ``UserError`` for a plain value in ``values`` whose type ``target``'s signature does not accept.

    For config keys passed to a function by hand rather than through ``_target_``; ``key`` prefixes the names.
    """
    hints = _parameter_hints(target)
    for name, value in values.items():
        if name.startswith("_") or name not in hints or isinstance(value, DictConfig | ListConfig):
            continue
        accepted = _simple_types(hints[name])
        if accepted and not _accepts(accepted, value):
            names = " or ".join(t.__name__ if t is not type(None) else "null" for t in accepted)
            raise UserError(f"{key + '.' if key else ''}{name} must be {names}, got {value!r}")


def _check_types(node: DictConfig, key: str) -> None:
    """Raise ``UserError`` for a plain value whose type the target's signature does not accept."""
    try:
        target = get_object(node["_target_"])
    except Exception:  # an unknown target fails when it is built, with its own message
        return
    check_arguments(node, target, key)


def _parameter_hints(obj: Callable[..., Any]) -> dict[str, Any]:
    """Type hints of a callable's parameters; for a class, of every ``__init__`` along its MRO (for **kwargs)."""
    try:
        if not inspect.isclass(obj):
            return typing.get_type_hints(obj)
        hints: dict[str, Any] = {}
        for cls in reversed(obj.__mro__):
            if "__init__" in vars(cls) and cls is not object:
                hints.update(typing.get_type_hints(cls.__init__))
        return hints
    except Exception:  # unresolvable hints (forward refs to optional packages): nothing to check against
        return {}


def _simple_types(hint: Any) -> tuple[type, ...]:
    """The plain types a hint allows, or () when it allows anything else too (then we do not judge)."""
    if hint in _SIMPLE:
        return (hint,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [_simple_types(arg) for arg in typing.get_args(hint)]
        if all(members):
            return tuple(t for member in members for t in member)
    if typing.get_origin(hint) is typing.Literal:
        return tuple({type(arg) for arg in typing.get_args(hint)})
    return ()


def _accepts(accepted: tuple[type, ...], value: Any) -> bool:
    if isinstance(value, bool):
        return bool in accepted
    if isinstance(value, int) and float in accepted:
        return True
    return isinstance(value, accepted)
