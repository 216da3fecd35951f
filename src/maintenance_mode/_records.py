"""Small value classes written out by hand, for the classes every worker creates at import.

A ``@dataclass`` builds its methods with ``exec()`` when the class is created: about
0.4 ms each, paid by every worker at start-up. These bases give the same equality,
hash, repr and copying (over ``__match_args__``: the constructor's arguments, in order)
for classes that write their ``__slots__`` and ``__init__`` themselves; instances behave
as the dataclasses did.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, NoReturn


class Record:
    """Equal when of the same class with equal fields; unhashable (it may change)."""

    __slots__ = ()
    #: The fields, in constructor order: compared, hashed and shown.
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[type[Record], tuple[Any, ...]]:
        """Copied and pickled by calling the class again (its fields are its arguments)."""
        return type(self), self._fields()


class FrozenRecord(Record):
    """A :class:`Record` that cannot change once made (``__init__`` sets its fields with
    ``object.__setattr__``, as a frozen dataclass does), hashed by its fields."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._fields())
