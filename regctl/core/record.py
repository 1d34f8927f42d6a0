"""``Record``: an immutable value with named fields, declared like a frozen dataclass.

A subclass lists its fields as annotations, in order, with defaults as class attributes::

    class Rename(Record):
        old: str
        new: str = ""

It gets a constructor taking the fields by position or name, equality, hashing, a
``repr``, ``replace(**changes)`` and ``fields()``; setting or deleting an attribute
raises ``FrozenInstanceError``. ``__post_init__`` runs after the fields are set.

Unlike ``dataclasses``, nothing is generated when a class is defined: a command
that loads every result type pays no start-up time for those it never makes, and
making one (a listing makes thousands) costs one dict copy and update.
"""

from types import MappingProxyType
from typing import Mapping

EMPTY: Mapping = MappingProxyType({})  # the default of a mapping field: shared, read-only


class FrozenInstanceError(AttributeError):
    """An attempt to change a field of a record."""


class Record:
    _fields: tuple = ()
    _names: frozenset = frozenset()
    _defaults: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = [name for name in cls.__dict__.get("__annotations__", {}) if name not in cls._fields]
        cls._fields = cls._fields + tuple(own)
        cls._names = frozenset(cls._fields)
        cls._defaults = {name: getattr(cls, name) for name in cls._fields if hasattr(cls, name)}

    def __init__(self, *args, **kwargs):
        cls = type(self)
        values = self.__dict__
        values.update(cls._defaults)
        if args:
            if len(args) > len(cls._fields):
                raise TypeError(f"{cls.__name__}() takes {len(cls._fields)} arguments, {len(args)} given")
            positional = dict(zip(cls._fields, args))
            if kwargs and not positional.keys().isdisjoint(kwargs):
                raise TypeError(f"{cls.__name__}() got multiple values for {sorted(positional.keys() & kwargs)}")
            values.update(positional)
        if kwargs:
            if not cls._names.issuperset(kwargs):
                raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(set(kwargs) - cls._names)}")
            values.update(kwargs)
        if len(values) != len(cls._fields):
            raise TypeError(f"{cls.__name__}() is missing {[n for n in cls._fields if n not in values]}")
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    @classmethod
    def fields(cls) -> tuple:
        """The field names, in order."""
        return cls._fields

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        return type(self)(**{**{name: self.__dict__[name] for name in self._fields}, **changes})

    def _values(self) -> tuple:
        return tuple(self.__dict__[name] for name in self._fields)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self):
        inner = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}: {type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}: {type(self).__name__} is immutable")
