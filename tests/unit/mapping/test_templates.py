"""Tests of the template runtime: the shared render scope and the memoised sandbox."""

from __future__ import annotations

import collections
import types

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.mapping.templates import (
    CompiledTemplate,
    Sandbox,
    Scope,
    TemplateRenderError,
    make_env,
)


def compiled(env, source: str) -> CompiledTemplate:
    return CompiledTemplate("probe", "probe.yaml", 3, env.from_string(source))


def test_scope_holds_the_globals_and_values_win():
    """A Scope renders Jinja's globals, and a value of the same name shadows a global."""
    env = make_env({})
    assert compiled(env, "{{ range(3) | list }}").render(Scope.of(env, {})) == "[0, 1, 2]"
    assert compiled(env, "{{ range }}").render(Scope.of(env, {"range": "mine"})) == "mine"
    # A plain mapping is merged the same way.
    assert compiled(env, "{{ range(2) | list }} {{ x }}").render({"x": 1}) == "[0, 1] 1"


def test_a_set_in_one_template_does_not_reach_the_next():
    """Templates rendered from one Scope each get their own variables."""
    env = make_env({})
    scope = Scope.of(env, {"x": "outer"})
    assert compiled(env, "{% set x = 'inner' %}{{ x }}").render(scope) == "inner"
    assert compiled(env, "{{ x }}").render(scope) == "outer"
    assert scope["x"] == "outer"


def test_extend_copies():
    """Extending a Scope leaves the original as it was."""
    env = make_env({})
    scope = Scope.of(env, {"a": 1})
    more = scope.extend(b=2)
    assert isinstance(more, Scope) and more["b"] == 2 and "b" not in scope


def test_render_error_names_the_yaml_line():
    """A failure on the template's second line is reported at the YAML line after its first."""
    env = make_env({})
    template = compiled(env, "first\n{{ missing.attr }}")
    with pytest.raises(TemplateRenderError) as info:
        template.render(Scope.of(env, {}))
    assert info.value.line == 4
    assert str(info.value).startswith("probe.yaml:4: probe:")


PROBES = [
    ({}, "keys"),
    ({}, "clear"),
    ([], "append"),
    ([], "index"),
    (collections.deque(), "pop"),
    (set(), "add"),
    ("text", "upper"),
    ("text", "__class__"),
    (str, "mro"),
    (lambda: None, "__globals__"),
    (types.SimpleNamespace(a=1), "a"),
    (types.SimpleNamespace(a=1), "_private"),
    ((i for i in ()), "gi_frame"),
]


@pytest.mark.parametrize(("obj", "attr"), PROBES)
def test_memoised_sandbox_answers_as_jinja_does(obj, attr):
    """Asked twice, the memoised sandbox answers exactly as Jinja's immutable sandbox."""
    mine, theirs = Sandbox(), ImmutableSandboxedEnvironment()
    expected = theirs.is_safe_attribute(obj, attr, None)
    assert mine.is_safe_attribute(obj, attr, None) is expected
    assert mine.is_safe_attribute(obj, attr, None) is expected


def test_memo_stays_bounded():
    """Attribute names from data cannot grow the memo without limit."""
    sandbox = Sandbox()
    for n in range(Sandbox._MEMO_LIMIT + 100):
        sandbox.is_safe_attribute({}, f"name{n}", None)
    assert len(sandbox._safe) == Sandbox._MEMO_LIMIT
