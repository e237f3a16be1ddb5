"""Building blocks of params.yaml's schema: strict scalar types, section classes, and
pydantic's validation errors turned into one line that names the key path.

Scalars are strict (a string is never read as a number, a float never as an integer,
a bool never as either); containers are lax (a YAML list fills a tuple, a mapping fills
a section class). Every section class forbids unknown keys.
"""

from collections.abc import Callable
from fractions import Fraction as _Fraction
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as _pydantic_dataclass

from stitchkit.common.errors import UserError

Int = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

T = TypeVar("T")


def parse_fraction(value: Any) -> float:
    """A number, or a fraction string such as "8/255", as a float."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a fraction like 8/255, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(_Fraction(str(value).replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"expected a number or a fraction like 8/255, got {value!r}") from None


# epsilons and step sizes may be written as fractions in params.yaml ("8/255")
Fraction = Annotated[float, BeforeValidator(parse_fraction)]


def section(cls: type[T]) -> type[T]:
    """A frozen dataclass validated by pydantic: strict scalars, no unknown keys."""
    return _pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))(cls)


@cache
def _adapter(kind) -> TypeAdapter:
    return TypeAdapter(kind)


def validated(kind: type[T], value: Any, where: str | Callable[[tuple], str]) -> T:
    """``value`` validated as ``kind`` (a section class or a type); a problem is a
    UserError whose message starts with the key path below ``where`` (or below
    ``where(key path)``, for values merged from several places)."""
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as exc:
        raise UserError(describe(exc, value, where)) from None


def _key_path(value: Any, loc: tuple) -> tuple:
    """The parts of pydantic's error location that are keys or indices of ``value``
    (the others name the member of a union that was tried)."""
    path, node = [], value
    for part in loc:
        is_key = isinstance(node, dict) and part in node
        is_index = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if is_key or is_index:
            path.append(part)
            node = node[part]
    return tuple(path)


def describe(exc: ValidationError, value: Any, where: str | Callable[[tuple], str]) -> str:
    """The first error of ``exc`` (validating ``value``) as `path: what is wrong, got x`."""
    error = exc.errors(include_url=False)[0]
    kind, message, loc = error["type"], error["msg"], error["loc"]
    unknown = kind in ("unexpected_keyword_argument", "extra_forbidden")
    missing = kind in ("missing", "missing_argument")
    if loc and (unknown or missing):  # the last part is a key absent from (or new to) value
        loc = (*_key_path(value, loc[:-1]), loc[-1])
    else:
        loc = _key_path(value, loc)
    prefix = where(loc) if callable(where) else where
    path = ".".join([prefix, *(str(part) for part in loc)]).strip(".")
    if unknown:
        return f"{path}: unknown key; remove it or check its spelling"
    if missing:
        return f"{path}: required key is missing"
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    shown = error.get("input")
    if kind == "value_error" or isinstance(shown, dict) and not error["loc"]:
        return f"{path}: {message}"
    return f"{path}: {message}, got {shown!r}"
