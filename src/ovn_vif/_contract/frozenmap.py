"""An immutable, hashable ``str -> str`` mapping for values that cross the
provider boundary."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, TypeVar, overload

_T = TypeVar("_T")


class FrozenMap(Mapping[str, str]):
    """A read-only copy of a ``str -> str`` mapping.

    Built once from any mapping (or iterable of pairs); it cannot be changed
    afterwards, compares equal to a ``dict`` with the same items and is
    hashable, so it can live in frozen attrs classes.

    >>> m = FrozenMap({"vif-plug-type": "dummy"})
    >>> m["vif-plug-type"]
    'dummy'
    >>> m == {"vif-plug-type": "dummy"}
    True
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[str, str] | Any = ()) -> None:
        data = dict(items)
        for key, value in data.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"FrozenMap holds str -> str only, got {key!r}: {value!r}")
        self._data: dict[str, str] = data
        self._hash: int | None = None

    @classmethod
    def _of(cls, data: dict[str, str]) -> FrozenMap:
        """A FrozenMap that takes *data* as it is, unchecked and uncopied:
        for the engine's copies of map columns whose schema says
        ``string -> string`` and whose values its parsers checked, and which
        nothing else holds."""
        made = cls.__new__(cls)
        made._data = data
        made._hash = None
        return made

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # The dict's own methods: Mapping's would run in Python, and the engine
    # reads options and external ids many times per port.

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, /, default: str | _T) -> str | _T: ...

    def get(self, key: str, /, default: object = None) -> object:
        return self._data.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._data.keys()

    def items(self) -> ItemsView[str, str]:
        return self._data.items()

    def values(self) -> ValuesView[str]:
        return self._data.values()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if type(other) is dict:
            return self._data == other
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def to_dict(self) -> dict[str, str]:
        """Return a new, mutable ``dict`` with the same items."""
        return dict(self._data)


#: Shared by :func:`freeze` for every empty mapping (most ``options``).
_EMPTY = FrozenMap()


def freeze(value: Mapping[str, str] | None) -> FrozenMap:
    """Converter for attrs fields: ``None`` and mappings become a FrozenMap."""
    if isinstance(value, FrozenMap):
        return value
    if not value:
        return _EMPTY
    return FrozenMap(value)
