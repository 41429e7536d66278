"""How a declared configuration key reads, checks and explains its values.

A key is a pydantic field (train/config.py declares them with `key()`): its type, default,
bounds and help. From that one declaration this module parses values typed on a command line,
checks them, says in words what the key accepts, and turns pydantic's report on a bad value
into one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import types
import typing
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

# inf and nan are no one's learning rate; a key not declared is refused
STRICT = ConfigDict(allow_inf_nan=False, extra="forbid")


def key(default: Any, help: str, *, only: str | None = None, values: str | None = None,
        **bounds: Any) -> Any:
    """One key's declaration: its default, its help (with units), bounds (gt/ge/lt/le, pattern),
    `only` = "schedule=a|b" when just those choices read it, and `values` where the type
    cannot say in words what it accepts."""
    extra = {name: v for name, v in (("only", only), ("values", values)) if v is not None}
    if isinstance(default, list | dict):
        return Field(default_factory=lambda: copy.deepcopy(default), description=help,
                     json_schema_extra=extra or None, **bounds)
    return Field(default, description=help, json_schema_extra=extra or None, **bounds)


def extra(info: FieldInfo, what: str) -> Any:
    """A declaration's `only` or `values` (None when it has none)."""
    return (info.json_schema_extra or {}).get(what)


def default(info: FieldInfo) -> Any:
    return info.get_default(call_default_factory=True)


def check(name: str, info: FieldInfo, value: Any) -> Any:
    """value (parsed first if typed on a command line: "0.1", "true", "null", "[32000,
    48000]", "32000,48000", "5e-4") checked against the key's declaration; ValueError: one
    line."""
    value = parse(value, info.annotation)
    if value is not None and isinstance(value, bool) != (kind(info.annotation) is bool):
        raise ValueError(type_error(name, info, value))  # pydantic would take 1 for true
    try:
        return _adapter(info).validate_python(value)
    except ValidationError as e:
        raise ValueError(explain(e, {name: info}, name, value)) from None


@functools.cache
def _adapter(info: FieldInfo) -> TypeAdapter:
    """A validator of one key's values (its type and bounds)."""
    typed = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(typed, config=STRICT)


def parse(value: Any, annotation: Any) -> Any:
    """value as the annotation's type wants it, where it is text or a YAML 1.1 number string."""
    want = kind(annotation)
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if want is str:  # a path or name that YAML would read as a number or mapping
            return parsed if parsed is None else value
        if want is list and isinstance(parsed, str) and "," in parsed:
            parsed = [yaml.safe_load(part) for part in parsed.split(",") if part.strip()]
        if want is list and parsed is not None and not isinstance(parsed, list):
            parsed = [parsed]
        value = parsed
    if want is list and isinstance(value, list):  # a recipe's [3.2e4, 4.8e4]: YAML 1.1 strings
        if kind(_item(annotation)) in (int, float):
            return [_number(v) for v in value]
        return value
    return _number(value) if want in (int, float) else value


def _number(value: Any) -> Any:
    """A string in a usual number notation as its number: YAML 1.1 (PyYAML) reads 5e-4,
    1e9 and 1E-5 as strings, since its floats need a dot and a signed exponent."""
    if isinstance(value, str) and any(c.isdigit() for c in value):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        if math.isfinite(number):
            return number
    return value


def _strip_none(t: Any) -> Any:
    """t without its `| None` (the first other member)."""
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        return next(a for a in typing.get_args(t) if a is not type(None))
    return t


def kind(t: Any) -> type:
    """The Python type of a key's values: str for string choices, list for any list, ..."""
    t = _strip_none(t)
    if typing.get_origin(t) is Literal:
        return type(typing.get_args(t)[0])
    return typing.get_origin(t) or t


def _item(annotation: Any) -> Any:
    return typing.get_args(_strip_none(annotation))[0]


def _choices(t: Any) -> tuple | None:
    t = _strip_none(t)
    return typing.get_args(t) if typing.get_origin(t) is Literal else None


def choices(info: FieldInfo) -> tuple | None:
    """A choice key's values (null aside); None for other keys."""
    return _choices(info.annotation)


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
          dict: "a mapping"}
_PLURAL = {int: "integers", float: "numbers", str: "strings"}


def bounds(info: FieldInfo) -> str:
    """'> 0', '>= 0', 'in [0, 1)': the key's declared range ('' when it has none)."""
    b = {a: getattr(m, a) for m in info.metadata for a in ("gt", "ge", "lt", "le")
         if hasattr(m, a)}
    if len(b) == 2:
        (low, lv), (high, hv) = sorted(b.items(), key=lambda kv: kv[0][0] == "l")
        return f"in {'(' if low == 'gt' else '['}{lv:g}, {hv:g}{')' if high == 'lt' else ']'}"
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    return " ".join(f"{signs[a]} {v:g}" for a, v in b.items())


def allowed(info: FieldInfo) -> str:
    """What a key accepts, in words: 'a number > 0', 'step | cosine', 'an integer or null'."""
    base = _strip_none(info.annotation)
    if extra(info, "values"):
        text = extra(info, "values")
    elif _choices(base):
        text = " | ".join(str(c) for c in _choices(base))
    elif typing.get_origin(base) is list:
        item = typing.get_args(base)[0]
        text = ("a list of " + (" | ".join(_choices(item)) if _choices(item)
                                else _PLURAL.get(kind(item), "values")))
    else:
        text = " ".join(filter(None, (_NAMES.get(kind(base), str(base)), bounds(info))))
    return text + (" or null" if type(None) in typing.get_args(info.annotation) else "")


def unknown(name: str, names: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown key {name!r}{hint} (all keys: `resnetlab train --list-keys`)"


def type_error(name: str, info: FieldInfo, value: Any) -> str:
    if _choices(info.annotation) or extra(info, "values"):
        return f"{name}={value!r} is not one of {allowed(info)}"
    return f"{name} takes {allowed(info)}, got {value!r} (e.g. {name}={_example(info)})"


def _example(info: FieldInfo) -> str:
    if default(info) in (None, [], {}):
        examples = {int: "10", float: "0.5", bool: "true", list: "[1,2]", dict: "{a: 1}"}
        return examples.get(kind(info.annotation), "...")
    text = yaml.safe_dump(default(info), default_flow_style=True)
    return text.strip().removesuffix("...").strip()


def explain(error: ValidationError, fields: dict[str, FieldInfo], name: str | None = None,
            value: Any = None) -> str:
    """pydantic's report as one line naming the key, the value and what is allowed (name and
    value: the key and the whole value when one key's value was checked alone)."""
    e = error.errors(include_url=False)[0]
    whole = name is not None
    loc = (name, *e["loc"]) if whole else e["loc"]
    if not loc:  # a rule between keys
        return str(e["ctx"]["error"]) if e["type"] == "value_error" else e["msg"]
    name, info = loc[0], fields.get(loc[0])
    if info is None:
        return unknown(name, fields)
    value = value if whole else e["input"]
    if e["type"] == "literal_error" and len(loc) > 1:
        choices = " | ".join(_choices(_item(info.annotation)))
        return f"{name} item {e['input']!r} is not one of {choices}"
    if e["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        if len(loc) > 1:  # a list item's own bound, e.g. list[PositiveInt]
            return f"{name} item {e['input']!r} must be {e['msg'].removeprefix('Input should be ')}"
        return f"{name} must be {bounds(info)}, got {value!r}"
    return type_error(name, info, value)
