"""Every user setting of the app, declared once, typed, over QSettings.

QSettings hands back whatever its storage holds: an INI file or a fresh process gives strings ("true",
"5"), a one-item list comes back as a plain string and an empty one as None. Each `Option` therefore
converts what it reads to its declared type and falls back to its default when the stored value cannot be
read as one, so a hand-edited or stale settings file never breaks the app.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from PySide6.QtCore import QByteArray, QSettings

from sr_studio.core.backends import BACKENDS
from sr_studio.core.errors import UsageError
from sr_studio.core.estimate import LARGE_OUTPUT_MP
from sr_studio.core.upscale import parse_tile

ORGANISATION = "SR Studio"
APPLICATION = "SR Studio"
RECENT_MAX = 10
SAVE_FORMATS = ("png", "jpg", "webp", "avif", "tif")
VIEW_MODES = ("split", "side_by_side")

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return int(str(value).strip()) if not isinstance(value, int) else value


def _to_str(value: Any) -> str:
    if isinstance(value, (list, tuple, QByteArray, bytes)):
        raise ValueError(f"not a string: {value!r}")
    return str(value)


def _to_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):  # QSettings returns a one-item list as its item
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    raise ValueError(f"not a list: {value!r}")


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (QByteArray, bytes, bytearray)):
        return bytes(value)
    raise ValueError(f"not bytes: {value!r}")


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: float,
    str: _to_str,
    list: _to_list,
    bytes: _to_bytes,
}


@dataclass(frozen=True)
class Option(Generic[T]):
    """One declared setting: its key, type and default, plus an optional check of allowed values.

    Used as a descriptor on `Settings`, so `settings.device` reads and `settings.device = "cpu"` writes.
    """

    key: str
    kind: type
    default: T
    check: Callable[[T], bool] | None = None

    def read(self, store: QSettings) -> T:
        """The stored value as `kind`, or the default when it is absent, unreadable or not allowed."""
        raw = store.value(self.key)
        if raw is None and self.kind is not list:
            return self._default()
        try:
            value = _CONVERTERS[self.kind](raw)
        except (TypeError, ValueError):
            return self._default()
        if self.check is not None and not self.check(value):
            return self._default()
        return value

    def write(self, store: QSettings, value: T) -> None:
        """Store `value` after checking it has the declared type and an allowed value."""
        expected = (bytes, bytearray, QByteArray) if self.kind is bytes else self.kind
        if not isinstance(value, expected) or (self.kind is int and isinstance(value, bool)):
            raise TypeError(f"setting {self.key} takes {self.kind.__name__}, not {type(value).__name__}")
        if self.check is not None and not self.check(value):
            raise ValueError(f"setting {self.key} cannot be {value!r}")
        if self.kind is bytes:
            value = QByteArray(bytes(value))  # type: ignore[assignment]
        elif self.kind is list:
            value = [str(item) for item in value]  # type: ignore[assignment]
        store.setValue(self.key, value)

    def _default(self) -> T:
        return list(self.default) if isinstance(self.default, list) else self.default  # type: ignore[return-value]

    @overload
    def __get__(self, settings: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...
    def __get__(self, settings: Settings | None, owner: type) -> Option[T] | T:
        return self if settings is None else self.read(settings.store)

    def __set__(self, settings: Settings, value: T) -> None:
        self.write(settings.store, value)


def _valid_tile(value: str) -> bool:
    """A tile core.upscale.parse_tile reads, spelled as the Tile size menu writes it: auto, none or pixels."""
    if value not in ("auto", "none") and not value.isdigit():
        return False
    try:
        return parse_tile(value) is not None or value == "none"
    except UsageError:
        return False


class Settings:
    """The app's settings. Every option is declared here, and nowhere else."""

    window_geometry = Option[bytes]("window/geometry", bytes, b"")
    window_state = Option[bytes]("window/state", bytes, b"")
    last_open_folder = Option[str]("folders/open", str, "")
    last_save_folder = Option[str]("folders/save", str, "")
    last_train_folder = Option[str]("folders/train", str, "")  # the wizard's folder of pictures
    output_format = Option[str]("output/format", str, "png", lambda v: v in SAVE_FORMATS)
    output_quality = Option[int]("output/quality", int, 95, lambda v: 1 <= v <= 100)
    model = Option[str]("upscale/model", str, "")
    scale_filter = Option[int]("upscale/scale_filter", int, 0, lambda v: v >= 0)  # 0: every scale
    device = Option[str]("upscale/device", str, "auto", bool)
    upscale_tile = Option[str]("upscale/tile", str, "auto", _valid_tile)  # "auto", "none" or pixels
    upscale_ensemble = Option[bool]("upscale/ensemble", bool, False)  # "Max quality": self-ensemble
    upscale_backend = Option[str]("upscale/backend", str, "auto", lambda v: v in BACKENDS)  # CPU runtime
    # Ask before an upscale whose output has more megapixels than this (0: never ask).
    large_job_mp = Option[float]("upscale/ask_above_mp", float, LARGE_OUTPUT_MP, lambda v: v >= 0)
    smooth_before = Option[bool]("view/smooth_before", bool, True)
    view_mode = Option[str]("view/mode", str, "split", lambda v: v in VIEW_MODES)
    _recent = Option[list]("recent/files", list, [])

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Settings:
        """Settings kept in an INI file of their own (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    @classmethod
    def options(cls) -> Iterator[Option[Any]]:
        """Every declared option."""
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Option):
                    yield value

    def reset(self) -> None:
        """Every option back to its default (by forgetting the stored values)."""
        for option in self.options():
            self.store.remove(option.key)
        self.store.sync()

    def sync(self) -> None:
        """Write pending changes to storage now (QSettings otherwise writes them later)."""
        self.store.sync()

    @property
    def recent_files(self) -> list[str]:
        """Recently opened files, most recent first; files that have since gone are left out."""
        return [path for path in self._recent if Path(path).is_file()][:RECENT_MAX]

    def add_recent_file(self, path: str | os.PathLike[str]) -> None:
        """Put `path` first in the recent list, once, keeping at most RECENT_MAX entries."""
        text = str(Path(path).absolute())
        self._recent = [text, *(entry for entry in self._recent if entry != text)][:RECENT_MAX]

    def clear_recent_files(self) -> None:
        self._recent = []
