"""Typed configuration: dataclass defaults in each project's `config.py`, overridden from the command line.

    $ python -m projects.credit_risk.train --set model.kind=boosting --set seed=7

`--set section.key=value` converts `value` to the field's declared type and rejects
unknown keys with the list of valid ones, so a typo never silently trains the wrong model.
`--config file.json` starts from a saved config instead of the defaults: a run's `config.json`,
or the `best_config.json` that `make tune` writes. Keys it leaves out keep their defaults.

Rules that involve more than one value's type (a range, two keys that must agree) live in the
dataclasses themselves, in a `validate(self)` method that raises ConfigError. `validate` runs them
once, after every override is applied, wherever a config is built: train, tune, evaluate and serve
all refuse the same bad config with the same message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A `--set` override or a saved config that does not fit the project's dataclasses."""


def from_file(config_cls: type[C], path: Path) -> C:
    """A config from a JSON file of sections and keys, as `to_dict` writes it; missing keys keep their defaults.
    Not validated yet: the command line's overrides come after it (see `mlstarter.scripts.load_config`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--config {path}: cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"--config {path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a JSON object of sections and keys, got {type(data).__name__}")
    try:
        return _from_dict(config_cls, data)
    except ConfigError as error:
        raise ConfigError(f"--config {path}: {error}") from None


def apply_overrides(config: C, overrides: list[str]) -> C:
    """Return a copy of `config` with each `section.key=value` override applied, then validated."""
    return validate(with_overrides(config, overrides))


def validate(config: C) -> C:
    """Run every `validate()` rule of the config's dataclasses, innermost sections first; return the config."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            validate(value)
    if hasattr(config, "validate"):
        config.validate()
    return config


def with_overrides(config: C, overrides: list[str]) -> C:
    """`config` with each override applied and type-checked, but not yet validated as a whole."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} has no '='. Write it as section.key=value, e.g. --set seed=7")
        key = key.strip()
        keys = valid_keys(config)
        if key not in keys:
            inside = [k for k in keys if k.startswith(key + ".")]
            if inside:
                raise ConfigError(f"{key!r} is a section; set one of its keys: {', '.join(inside)}")
            raise ConfigError(f"Unknown config key {key!r}. Valid keys: {', '.join(keys)}")
        config = _set(config, key.split("."), value.strip(), key)
    return config


def valid_keys(config: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config, e.g. ['seed', 'model.kind', ...]."""
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += valid_keys(value, f"{prefix}{field.name}.")
        else:
            keys.append(prefix + field.name)
    return keys


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain JSON-ready data."""
    return dataclasses.asdict(config)


def from_dict(config_cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config saved with `to_dict`, checking every value's type again."""
    return validate(_from_dict(config_cls, data))


def overrides_of(data: dict[str, Any]) -> list[str]:
    """A saved config's values as `section.key=value` overrides."""
    return [f"{key}={_to_text(value)}" for key, value in _flatten(data)]


def _from_dict(config_cls: type[C], data: dict[str, Any]) -> C:
    return with_overrides(config_cls(), overrides_of(data))


def _set(config: Any, path: list[str], text: str, full_key: str) -> Any:
    """Replace one (already validated) dotted key, converting `text` to its declared type."""
    name = path[0]
    if len(path) > 1:
        return dataclasses.replace(config, **{name: _set(getattr(config, name), path[1:], text, full_key)})
    hint = typing.get_type_hints(type(config))[name]
    return dataclasses.replace(config, **{name: _convert(text, hint, full_key)})


def _convert(text: str, hint: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null", "") and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return _convert(text, options[0], key) if len(options) == 1 else text
    if origin is Literal:
        choices = [str(a) for a in args]
        if text not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {text!r}")
        return args[choices.index(text)]
    if origin is tuple:
        item_type = args[0]
        parts = [p.strip() for p in text.strip("()[] ").split(",") if p.strip()]
        return tuple(_convert(p, item_type, key) for p in parts)
    if hint is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key} must be true or false; got {text!r}")
    if hint in (int, float):
        try:
            value = hint(text)
        except ValueError:
            raise ConfigError(f"{key} must be {'an integer' if hint is int else 'a number'}; got {text!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number; got {text!r}")
        return value
    if hint is str:
        return text
    raise ConfigError(f"{key} has type {hint!r}, which --set cannot parse")


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in data.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((prefix + key, value))
    return items


def _to_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
