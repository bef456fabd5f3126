"""example_from_schema against the schemas pydantic actually emits: every example must
validate with pydantic itself."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import (
    AnyUrl,
    BaseModel,
    Field,
    HttpUrl,
    TypeAdapter,
    conint,
    conlist,
    constr,
)

from helix_agents.models._schema import SchemaExampleError, example_from_schema


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 5


class Address(BaseModel):
    street: str
    city: str = Field(min_length=2, max_length=40)
    postcode: Annotated[str, Field(pattern=r"^\d{5}(-\d{4})?$")]
    country: Literal["FR", "NO", "US"] = "FR"


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=150)
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]
    address: Address
    previous: list[Address] = []
    nickname: Optional[str] = None  # noqa: UP045 - the spelling under test
    score: float = Field(gt=0, lt=1)


class Tree(BaseModel):
    """Recursive: a tree of nodes."""

    label: str
    children: list[Tree] = []
    parent: Tree | None = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=1, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pet(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]


class Scalars(BaseModel):
    when: dt.datetime
    day: dt.date
    at: dt.time
    span: dt.timedelta
    ident: uuid.UUID
    site: HttpUrl
    any_url: AnyUrl
    ip4: IPv4Address
    ip6: IPv6Address
    net: IPv4Network
    price: Decimal = Field(max_digits=6, decimal_places=2)
    data: bytes
    color: Color
    priority: Priority
    flag: bool
    anything: Any


class Constrained(BaseModel):
    code: constr(min_length=8, max_length=8, pattern=r"^[A-Z]{3}-\d{4}$")  # type: ignore[valid-type]
    even: conint(multiple_of=2, gt=10, lt=20)  # type: ignore[valid-type]
    tags: conlist(str, min_length=3, max_length=5)  # type: ignore[valid-type]
    unique: set[int] = Field(min_length=2)
    frozen: frozenset[str]
    pair: tuple[int, str]
    many: tuple[float, ...]
    weights: dict[str, float]
    ratio: float = Field(ge=0.25, le=0.75, multiple_of=0.25)
    small: int = Field(lt=0)
    exclusive: float = Field(gt=5)


class Unions(BaseModel):
    either: int | str
    maybe_list: list[int] | None
    nested: Union[Address, None] = None  # noqa: UP007 - the spelling under test
    choice: Literal[1, 2, 3]
    nullable_enum: Color | None


MODELS: list[type[BaseModel]] = [Address, Person, Tree, Pet, Scalars, Constrained, Unions]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_examples_validate_against_the_pydantic_model(model: type[BaseModel]) -> None:
    example = example_from_schema(model.model_json_schema())
    # Validate the JSON form: that is what a model sends as tool arguments.
    import json

    model.model_validate_json(json.dumps(example))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_examples_are_deterministic(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert example_from_schema(schema) == example_from_schema(schema)


def test_optional_fields_are_filled_in() -> None:
    example = example_from_schema(Person.model_json_schema())
    assert example["nickname"] is not None
    assert example["previous"], "optional lists get an item, to exercise their schema"


def test_a_recursive_model_ends() -> None:
    example = example_from_schema(Tree.model_json_schema())
    depth = 0
    node = example
    while node.get("children"):
        node = node["children"][0]
        depth += 1
    assert 1 <= depth < 20


@pytest.mark.parametrize(
    ("annotation", "check"),
    [
        (Annotated[int, Field(ge=3, le=3)], lambda v: v == 3),
        (Annotated[float, Field(gt=1, lt=2)], lambda v: 1 < v < 2),
        (Annotated[int, Field(gt=-5, lt=-3)], lambda v: v == -4),
        (Annotated[str, Field(min_length=20)], lambda v: len(v) >= 20),
        (Annotated[str, Field(max_length=3)], lambda v: len(v) <= 3),
        (Annotated[list[int], Field(min_length=4)], lambda v: len(v) >= 4),
        (Annotated[list[str], Field(max_length=0)], lambda v: v == []),
        (dict[str, list[int]], lambda v: isinstance(v, dict)),
        (Literal["only"], lambda v: v == "only"),
    ],
)
def test_constraints_on_bare_types(annotation: Any, check: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    value = example_from_schema(adapter.json_schema())
    adapter.validate_python(value)
    assert check(value)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"enum": []},
        {"$ref": "#/$defs/Missing"},
        {"$ref": "https://example.com/schema.json"},
        False,
    ],
)
def test_impossible_schemas_raise(schema: Any) -> None:
    with pytest.raises(SchemaExampleError):
        example_from_schema(schema)


def test_a_required_infinite_recursion_raises_instead_of_looping() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/Node"}},
                "required": ["next"],
            }
        },
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(SchemaExampleError, match="deeply"):
        example_from_schema(schema)
