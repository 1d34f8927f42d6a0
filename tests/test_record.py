"""``regctl.core.record.Record``, the base of every result type: construction, equality, copies."""

import pytest

from regctl.core.record import EMPTY, FrozenInstanceError, Record, draft, seal
from regctl.core.results import AliasChange, ModelVersion


class Pair(Record):
    left: int
    right: int = 0
    extra: dict = EMPTY


def test_fields_by_position_or_name_with_defaults():
    assert Pair(1).right == 0 and Pair(1, 2).right == 2 and Pair(right=3, left=1).left == 1
    assert Pair.fields() == ("left", "right", "extra") and Pair(1).extra == {}


@pytest.mark.parametrize("call", [lambda: Pair(), lambda: Pair(1, 2, 3, 4), lambda: Pair(1, left=2),
                                  lambda: Pair(1, wrong=2)])
def test_a_wrong_call_is_a_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_equality_hash_repr_and_replace():
    assert Pair(1, 2) == Pair(1, 2) != Pair(1, 3)
    assert Pair(1, 2) != (1, 2) and repr(Pair(1, 2)) == "Pair(left=1, right=2, extra=mappingproxy({}))"
    change = AliasChange("m", "champion", 1, 2, True)
    assert change.replace(new=3) == AliasChange("m", "champion", 1, 3, True) and change.new == 2
    assert hash(change) == hash(AliasChange("m", "champion", 1, 2, True))


def test_fields_cannot_change():
    version = ModelVersion("m", 1, tags={"a": "b"})
    with pytest.raises(FrozenInstanceError):
        version.version = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del version.name
    with pytest.raises(TypeError):
        version.tags["x"] = "y"  # type: ignore[index]
    assert version.replace(version=2).tags == {"a": "b"}


def test_a_drafted_record_sealed_is_one_like_any_other():
    draft_class = draft(Pair)
    assert draft(Pair) is draft_class
    made = draft_class()
    made.left, made.right, made.extra = 1, 2, EMPTY
    seal(made, "__class__", Pair)
    assert type(made) is Pair and made == Pair(1, 2)
    assert repr(made) == repr(Pair(1, 2)) and vars(made) == vars(Pair(1, 2))
    assert made.replace(right=3) == Pair(1, 3)
    with pytest.raises(FrozenInstanceError):
        made.left = 5
