"""Values checked against their type annotations, and dataclasses built from nested dicts
(TOML/YAML), strictly: unknown keys and wrong types are rejected with the dotted path of the bad
field (e.g. ``agents[2].exploration_slots``). ``WorldConfig`` checks its own fields with
``check_fields``; ``experiments.config`` builds run configs from files with ``from_dict``."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from envs.errors import ConfigError

T = TypeVar("T")


RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    ("AgentDefaults", "history_length"): ("context_length", "the selector's context L (the last L clusters it "
                                          "reads); history_length now names only the observation window H "
                                          "(world.history_length)"),
    ("DataConfig", "history_length"): ("context_length", "the prompt's context L; history_length now names "
                                       "only the observation window H (world.history_length)"),
    ("RealConfig", "history_length"): ("context_length", "the context L of the evaluated selectors"),
    **{("WorldConfig", f"recsim_{name}"): (f"dynamics_params={{'{name}': ...}}", "RecSim's parameters are the recsim "
                                           "dynamics' own section, envs.recsim.RecSimParams")
       for name in ("budget", "doc_length", "step_penalty", "alpha", "interest_step")},
}
"""(class, old field) -> (new field, why): a config written before a rename gets an error that
says so, instead of a bare "unknown key"."""


RENAMED_SAVED_KEYS: dict[str, str] = {"history_length": "context_length"}
"""Old key -> new key in what earlier versions wrote to files (tables, fine-tuning data,
selector files, run folders), which still load."""


def with_current_keys(saved: dict[str, Any]) -> dict[str, Any]:
    """``saved`` (metadata read from a file) with the keys renamed since it was written, in place."""
    for old, new in RENAMED_SAVED_KEYS.items():
        if old in saved and new not in saved:
            saved[new] = saved.pop(old)
    return saved


def renamed_field_error(owner: str, key: str, where: str) -> ConfigError | None:
    """The ConfigError for a field ``key`` of class ``owner`` that was renamed, or None."""
    if (owner, key) not in RENAMED:
        return None
    new, why = RENAMED[(owner, key)]
    hint = new if "=" in new else f"{new} = ..."
    return ConfigError(f"{where}: {key!r} was renamed {new!r} ({why}); write {hint} instead")


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """An instance of dataclass ``cls`` from ``data``; fields missing from data keep their defaults."""
    where = path or "<config>"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table of fields, got {type(data).__name__} {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    for key in unknown:
        error = renamed_field_error(cls.__name__, key, where)
        if error is not None:
            raise error
    if unknown:
        bad = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(f"unknown config key {bad!r}; known keys of {where}: {sorted(fields)}")
    values = {name: convert(hints[name], value, f"{path}.{name}" if path else name) for name, value in data.items()}
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked (and lightly converted: int → float, list → tuple) against type ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}={value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{path}={value!r} is invalid; choose one of {list(get_args(tp))}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):  # type: ignore[arg-type]
            return value  # built (and checked) already
        return from_dict(tp, value, path)  # type: ignore[arg-type]
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{path} must have {len(args)} entries, got {value!r}")
            return tuple(convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
        item = args[0] if args else Any
        out = [convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a table, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}={value!r} must be a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}={value!r} must be an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}={value!r} must be true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}={value!r} must be a string")
        return value
    return value


def check_fields(obj: Any, owner: str) -> None:
    """Check every field of dataclass instance ``obj`` against its annotation (``convert``), in
    place: ConfigError naming ``owner.field``, the value and what it must be; ints given for
    floats become floats and lists for tuples become tuples (frozen dataclasses too)."""
    cls: type = type(obj)
    hints = _hints(cls)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = convert(hints[f.name], value, f"{owner}.{f.name}")
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain dicts/lists (TOML-writable: None values are dropped)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return {k: to_dict(v) for k, v in values.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items() if v is not None}
    return obj
