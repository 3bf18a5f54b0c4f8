"""The one shared repr gives the text attrs would have compiled for each class."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from codex_login.domain.claims import IdToken
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.tokens import TokenData


def masked(value: object) -> str:
    return f"<{type(value).__name__}>"


# One field: whether repr shows it (True, False, through `masked`), whether __init__
# sets it (a field it does not set and without a default stays unset), and whether it
# has a default.
field_shapes = st.tuples(st.sampled_from([True, False, masked]), st.booleans(), st.booleans())
values = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.lists(st.integers()))


def sample_classes(shapes: list[tuple[Any, bool, bool]]) -> tuple[type, type]:
    """The same fields twice: attrs' own repr, and FieldsRepr's."""

    def fields() -> dict[str, Any]:
        return {
            f"f{i}": attrs.field(repr=shown, init=init, default=0 if default else attrs.NOTHING)
            for i, (shown, init, default) in enumerate(shapes)
        }

    own = attrs.make_class("Sample", fields(), frozen=True, kw_only=True)
    shared = attrs.make_class(
        "Sample", fields(), bases=(FieldsRepr,), frozen=True, kw_only=True, repr=False
    )
    return own, shared


@given(shapes=st.lists(field_shapes, max_size=6), data=st.data())
def test_the_text_is_what_attrs_writes(shapes: list[tuple[Any, bool, bool]], data: Any) -> None:
    own, shared = sample_classes(shapes)
    given_values = {
        f"f{i}": data.draw(values)
        for i, (_, init, default) in enumerate(shapes)
        if init and not (default and data.draw(st.booleans()))
    }
    assert repr(shared(**given_values)) == repr(own(**given_values))


def test_an_object_that_holds_itself_is_shown_once_then_as_dots() -> None:
    def sample(**options: Any) -> Any:
        return attrs.make_class("Node", {"children": attrs.field(factory=list)}, **options)

    own, shared = sample(), sample(bases=(FieldsRepr,), repr=False)
    own_node, shared_node = own(), shared()
    own_node.children.append(own_node)
    shared_node.children.append(shared_node)
    assert repr(shared_node) == repr(own_node) == "Node(children=[...])"


def test_a_domain_value_shows_its_nested_values_and_hides_its_secrets() -> None:
    tokens = TokenData(
        id_token=IdToken(raw="header.claims.signature", email="a@example.com"),
        access_token="at-secret",
        refresh_token="rt-secret",
        account_id="acc-1",
    )
    shown = repr(tokens)
    assert shown.startswith("TokenData(id_token=IdToken(email='a@example.com', plan=None,")
    assert shown.endswith("), account_id='acc-1', provenance=None)")
    assert not [secret for secret in ("signature", "at-secret", "rt-secret") if secret in shown]
