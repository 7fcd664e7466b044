"""One config rule for every stage: a params.yaml section becomes a frozen dataclass, or a clear error.

Each stage's settings are a frozen dataclass in the library (``pipeline/<stage>/``) with *no defaults*:
params.yaml is the single place a default lives, so code and file cannot drift apart. ``load_section``
reads one section of a params file onto its dataclass through ``from_mapping``, which

- rejects a missing key and an unknown key with an error that names the key, its section and the file;
- builds nested dataclasses from nested mappings, and ``tuple[X, ...]`` fields from lists (of mappings,
  when ``X`` is a dataclass);
- checks scalar types (an int is accepted where a float is declared; ``None`` only where the type allows
  it), so a typo such as ``rate: fast`` fails at start-up, not an hour into a crawl.

A dataclass may validate itself further in ``__post_init__`` (raise ``ValueError``); the message is
prefixed with where the section came from.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.store import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A params section that does not fit its dataclass; the message names the key and the file."""


def _section(params_path: Path, section: str) -> Any:
    try:
        data = yaml.safe_load(params_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{params_path}: cannot read params: {exc}") from exc
    if not isinstance(data, dict) or section not in data:
        raise ConfigError(f"{params_path}: missing section '{section}'")
    return data[section]


def load_section(params_path: Path | str, section: str, cls: type[T]) -> T:
    """The ``section`` of the YAML file ``params_path`` as a ``cls`` (a frozen dataclass)."""
    params_path = Path(params_path)
    return from_mapping(cls, _section(params_path, section), f"{params_path}: {section}")


def load_keys(params_path: Path | str, section: str, cls: type[T]) -> T:
    """The keys of another stage's ``section`` that ``cls``'s fields name, as a ``cls``; the others are not read.

    For a stage that depends on a few of another stage's settings (evaluate on ``lineart.resize``): it lists
    exactly those keys in dvc.yaml, so a change to the rest does not rerun it. The keys it takes are checked
    as ``load_section`` checks a whole section (a missing one or a wrong type is a ``ConfigError``).
    """
    params_path = Path(params_path)
    data = _section(params_path, section)
    if not isinstance(data, dict):
        raise ConfigError(f"{params_path}: {section}: expected a mapping of keys, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    return from_mapping(cls, {k: data[k] for k in names if k in data}, f"{params_path}: {section}")


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """``data`` (a mapping) as a ``cls``; ``where`` (e.g. ``"params.yaml: dedup"``) prefixes errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'" + (f" (and {unknown[1:]})" if unknown[1:] else "")
                          + f"; expected {sorted(fields)}")
    missing = [name for name in fields if name not in data]
    if missing:
        raise ConfigError(f"{where}: missing key '{missing[0]}'" + (f" (and {missing[1:]})" if missing[1:] else ""))
    hints = typing.get_type_hints(cls)
    values = {name: _convert(hints[name], data[name], f"{where}.{name}") for name in fields}
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {options}")
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if item is None:
            raise TypeError(f"{where}: only tuple[X, ...] fields are supported")
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool):
        if isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
            return value
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    raise TypeError(f"{where}: unsupported field type {tp!r}")


def cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a stage's ``main``; a bad params section is one line on stderr and exit status 2, not a traceback."""
    try:
        return main(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def write_metrics(path: Path | str, metrics: dict[str, Any]) -> None:
    """A stage's metrics as sorted, indented JSON, atomically: the file ``dvc metrics show`` reads."""
    atomic_write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")


_SAMPLE = "sample"  # crawl.source of the embedded sample booru (pipeline.crawl.config.SAMPLE_SOURCE)


@dataclasses.dataclass(frozen=True)
class TruthSource:
    """Where ``truth.*`` metrics come from: ``crawl.source`` and ``samplebooru`` (measured, never decided on)."""

    source: str
    seed: int
    posts: int

    @property
    def is_sample(self) -> bool:
        return self.source == _SAMPLE


def load_truth_source(params_path: Path | str) -> TruthSource:
    """``crawl.source`` and the ``samplebooru`` section of a params file, checked like any section."""
    try:
        data = yaml.safe_load(Path(params_path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{params_path}: cannot read params: {exc}") from exc
    source = (data.get("crawl") or {}).get("source")
    return from_mapping(TruthSource, {"source": source, **(data.get("samplebooru") or {})},
                        f"{params_path}: crawl.source + samplebooru")
