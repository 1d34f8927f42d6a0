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
making one costs one dict copy and update.

A listing makes thousands from values it already holds in their final form (rows of
a database); ``draft(cls)`` lets it skip the constructor's checks::

    Draft = draft(Rename)
    record = Draft()
    record.old, record.new = row             # every field, in order, values final
    seal(record, "__class__", Rename)        # now a Rename like any other, frozen
"""

from types import MappingProxyType
from typing import Mapping

EMPTY: Mapping = MappingProxyType({})  # the default of a mapping field: shared, read-only


class FrozenInstanceError(AttributeError):
    """An attempt to change a field of a record."""


seal = object.__setattr__  # seal(draft, "__class__", cls): the draft becomes a frozen ``cls``
_DRAFTS: dict = {}


def draft(cls: type) -> type:
    """A mutable class with the layout of the record class ``cls``, to make many records fast.

    Assign every field of ``cls.fields()`` to an instance with plain assignments, always in
    field order, then ``seal(instance, "__class__", cls)``: it is then a ``cls`` with the same
    ``__dict__`` the constructor gives. Nothing is checked and ``__post_init__`` does not run:
    the values must already be what the constructor makes of them (mappings read-only
    views, sequences tuples). Assigning in one order lets Python keep the values without a
    dict per draft until ``seal``.
    """
    found = _DRAFTS.get(cls)
    if found is None:
        found = _DRAFTS[cls] = type(cls.__name__ + "Draft", (), {"__module__": cls.__module__})
    return found


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
