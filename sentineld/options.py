"""Typed options: the base class every component's options derive from, and the value types
config files use (durations, secrets). Validation errors name the key path and what was expected.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

__all__ = [
    "ConfigPath",
    "Duration",
    "Options",
    "OptionsError",
    "Problem",
    "Secret",
    "config_directory",
    "convert_options",
    "did_you_mean",
    "parse_duration",
]

T = TypeVar("T")


class Options(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base class of a component's options. Subclass it and declare typed fields with defaults.

    Unknown keys are rejected with a "did you mean" hint; a field typed `Duration` accepts
    ``"15m"``; a field typed `Secret` accepts ``{ env = "NAME" }`` or ``{ file = "PATH" }``.
    """


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with a configuration: where (key path) and what was expected."""

    path: str
    message: str

    def render(self, file: str | None = None) -> str:
        where = f"{file}: " if file else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


class OptionsError(ValueError):
    """Raised with every problem found, not only the first."""

    def __init__(self, problems: list[Problem], file: str | None = None) -> None:
        self.problems = problems
        self.file = file
        super().__init__("\n".join(p.render(file) for p in problems))


# --------------------------------------------------------------------------- durations

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(float):
    """A length of time in seconds, written in config as ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"``.

    It is a float, so code computes with it directly.
    """

    def __repr__(self) -> str:
        return f"Duration({format_duration(self)!r})"

    def __str__(self) -> str:
        return format_duration(self)


def parse_duration(value: str | int | float) -> Duration:
    """Parse ``"15m"`` (or a number of seconds). Raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"15m\", got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return Duration(value)
    if not isinstance(value, str):
        kind = {dict: "a table", list: "an array"}.get(type(value), type(value).__name__)
        raise ValueError(f"expected a duration such as \"15m\", got {kind}")
    text = value.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f"expected a duration such as \"90s\", \"15m\", \"1h30m\" or \"2d\", got {value!r}"
        )
    return Duration(total)


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining, parts = int(seconds), []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if remaining >= size:
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
    return "".join(parts) or "0s"


# --------------------------------------------------------------------------- paths

#: The directory of the config file being validated: relative paths in it are relative to it.
_CONFIG_DIRECTORY: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "sentineld_config_directory", default=None
)


@contextmanager
def config_directory(directory: Path | None) -> Iterator[None]:
    """While validating a config file: resolve relative `ConfigPath`s and secret files against
    `directory` (None: leave them relative to the working directory, as for the embedded
    config)."""
    token = _CONFIG_DIRECTORY.set(directory)
    try:
        yield
    finally:
        _CONFIG_DIRECTORY.reset(token)


def _in_config_directory(value: str) -> str:
    path = Path(value).expanduser()
    directory = _CONFIG_DIRECTORY.get()
    if path.is_absolute() or directory is None:
        return str(path)
    return str(directory / path)


class ConfigPath(str):
    """A file system path written in the config: a relative one is relative to the directory of
    the config file (as `state_dir` is), whatever the daemon's working directory. ``"-"`` (standard
    input, where an option allows it) stays as it is."""

    @classmethod
    def from_config(cls, value: Any) -> ConfigPath:
        if not isinstance(value, str):
            raise ValueError(f"expected a path (a string), got {type(value).__name__}")
        return cls(value if value in ("", "-") else _in_config_directory(value))


# --------------------------------------------------------------------------- secrets


class Secret:
    """A secret read from an environment variable, a file, or a systemd credential.

    The value is never part of `repr`, `str` or an error message: call `reveal()` where the secret
    is actually used. In TOML: ``{ env = "NAME" }``, ``{ file = "/path" }`` or
    ``{ credential = "name" }`` (a file in ``$CREDENTIALS_DIRECTORY``, as ``LoadCredential=`` gives).
    """

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.origin)

    @classmethod
    def from_config(cls, value: Any) -> Secret:
        if isinstance(value, str):
            raise ValueError(
                "a secret cannot be written in the config itself; use { env = \"NAME\" }, "
                "{ file = \"/path/to/file\" } or { credential = \"name\" }"
            )
        if not isinstance(value, Mapping) or len(value) != 1:
            raise ValueError(
                "expected exactly one of { env = \"NAME\" }, { file = \"PATH\" } or "
                "{ credential = \"name\" }"
            )
        (how, where), = value.items()
        if how == "env":
            if where not in os.environ:
                raise ValueError(f"environment variable {where} is not set")
            return cls(os.environ[where], f"env:{where}")
        if how == "file":
            return cls(_read_secret_file(Path(_in_config_directory(where))), f"file:{where}")
        if how == "credential":
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ValueError(
                    f"credential {where!r} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
                )
            return cls(_read_secret_file(Path(directory) / where), f"credential:{where}")
        raise ValueError(f"unknown secret source {how!r}; expected env, file or credential")


def _read_secret_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------- validation


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Duration:
        return parse_duration(value)
    if kind is Secret:
        return Secret.from_config(value)
    if kind is ConfigPath:
        return ConfigPath.from_config(value)
    raise NotImplementedError(f"no decoder for {kind!r}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'window'?"`` when a close choice exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def struct_keys(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    """The config keys a Struct accepts (its encoded field names)."""
    return cls.__struct_encode_fields__


def convert_options(data: Mapping[str, Any], cls: type[T], path: str) -> T:
    """Validate `data` into `cls`, raising OptionsError whose problems carry full key paths."""
    problems: list[Problem] = []
    if isinstance(data, Mapping) and issubclass(cls, msgspec.Struct):
        allowed = struct_keys(cls)
        for key in data:
            if key not in allowed:
                problems.append(
                    Problem(_join(path, key), "unknown key" + did_you_mean(key, allowed))
                )
    if problems:
        # What the known keys get wrong too (a required key left out under a misspelt name),
        # so that one run of `check` names both.
        try:
            _converted({k: v for k, v in data.items() if k in allowed}, cls, path)
        except msgspec.ValidationError as exc:
            problems.append(_problem_from(exc, path, cls))
        except OptionsError as exc:
            problems.extend(exc.problems)
        raise OptionsError(problems)
    try:
        return _converted(data, cls, path)
    except msgspec.ValidationError as exc:
        problem = _problem_from(exc, path, cls)
        raise OptionsError([_with_table_key(problem, data, cls, path)]) from None


def _converted(data: Any, cls: type[T], path: str) -> T:
    """``msgspec.convert`` of options; what a plugin's own checks (``__post_init__``) raise
    besides the ValueError and TypeError msgspec reports becomes a problem at `path` too, not a
    traceback out of `check`."""
    try:
        return msgspec.convert(data, cls, dec_hook=_dec_hook)
    except msgspec.ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's code: any error is a refusal
        raise OptionsError(
            [Problem(path, f"{cls.__qualname__} refused these options: {type(exc).__name__}: {exc}")]
        ) from None


def _with_table_key(problem: Problem, data: Mapping[str, Any], cls: type[Any], path: str) -> Problem:
    """msgspec writes a table's key as ``[...]`` (``watch.competitors[...]``): find the key whose
    value fails alone and name it (``watch.competitors.rival``)."""
    head, found, tail = problem.path.partition("[...]")
    field = head[len(path) + 1:] if path else head
    table = data.get(field) if isinstance(data, Mapping) else None
    if not found or "." in field or not isinstance(table, Mapping):
        return problem
    for key, value in table.items():
        try:
            msgspec.convert({**data, field: {key: value}}, cls, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            if _problem_from(exc, path, cls) == problem:
                return Problem(f"{head}.{key}{tail}", problem.message)
    return problem


def _problem_from(exc: msgspec.ValidationError, path: str, cls: type[Any] | None = None) -> Problem:
    message = str(exc)
    where = ""
    if " - at `$" in message:
        message, _, where = message.partition(" - at `$")
        where = where.rstrip("`")
    where = re.sub(r"\[(\d+)\]", r"[\1]", where).lstrip(".")
    if message.startswith("Object missing required field"):
        field = message.rsplit("`", 2)[-2]
        return Problem(_join(path, where, field), "required key is missing")
    message = message.replace("`", "")
    if message.startswith("Expected"):
        message = "expected" + message[len("Expected") :]
    if message.startswith("Invalid enum value") and cls is not None:
        choices = _choices(cls, where)
        if choices:
            message += f"; one of: {', '.join(choices)}"
    return Problem(_join(path, where), message)


def _choices(cls: type[Any], key: str) -> list[str]:
    """The values a `Literal` field of `cls` (a key of its own, not a nested one) accepts."""
    import msgspec.inspect

    try:
        info = msgspec.inspect.type_info(cls)
    except (TypeError, ValueError, NameError):
        return []
    for field in getattr(info, "fields", ()):
        if field.encode_name == key:
            kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
            return [str(v) for kind in kinds if isinstance(kind, msgspec.inspect.LiteralType) for v in kind.values]
    return []


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p).replace(".[", "[")
