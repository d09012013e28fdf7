"""The templates' ``{% autoescape false %}`` blocks (the roster tile's hot path writes typed
values there without autoescape's per-value cost) print only values that cannot carry a
person's text: ids, enum values, numbers. A new expression in such a block fails here until
it is escaped with ``|e`` or shown to be typed and added to ``TYPED`` below."""

from __future__ import annotations

from pathlib import Path

from jinja2 import nodes

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

#: What an unescaped block may print, as the dotted names its expressions use: each is an id,
#: an enum, a number or a fixed word (the tile's macro sets ``sid``, ``status``, ``excused``).
TYPED = {
    "sid",
    "status",
    "excused",
    "record",  # only tested for presence: ``record.version if record else 0``
    "record.version",
    "st",  # an AttendanceStatus (the mini-history's dots), through ``status_word``
    "st.value",
    "rate",  # ``stats.attendance_rate|rate``: digits
    "stats.total_enrolled",
    "stats.present",
    "stats.absent",
    "stats.late",
    "stats.not_marked",
}
#: Filters that make any value safe (escape it).
ESCAPING = {"e", "escape"}


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        parent = _dotted(node.node)
        return f"{parent}.{node.attr}" if parent else None
    return None


def _names_printed(expr: nodes.Node) -> set[str]:
    """The dotted names an output expression prints, save those under an escaping filter."""
    if isinstance(expr, nodes.Filter) and expr.name in ESCAPING:
        return set()
    dotted = _dotted(expr)
    if dotted is not None:
        return {dotted}
    names: set[str] = set()
    for child in expr.iter_child_nodes():
        names |= _names_printed(child)
    return names


def _unescaped_outputs(template: nodes.Template):
    for block in template.find_all(nodes.ScopedEvalContextModifier):
        if any(
            kw.key == "autoescape" and isinstance(kw.value, nodes.Const) and not kw.value.value
            for kw in block.options
        ):
            for output in block.find_all(nodes.Output):
                for expr in output.nodes:
                    if not isinstance(expr, nodes.TemplateData):
                        yield expr


def test_unescaped_blocks_print_only_typed_values(app):
    found = 0
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        if "autoescape false" not in source:
            continue
        tree = app.jinja_env.parse(source, path.name)
        for expr in _unescaped_outputs(tree):
            found += 1
            untyped = _names_printed(expr) - TYPED
            assert not untyped, (
                f"{path.relative_to(TEMPLATES)}:{expr.lineno} prints {sorted(untyped)} without "
                "escaping: write it outside the autoescape-false block, or with |e"
            )
    assert found, "no unescaped block found: this test no longer guards anything"


def test_a_persons_text_in_an_unescaped_block_is_caught(app):
    """The check itself: a name printed inside such a block is reported, ``|e`` clears it."""
    tree = app.jinja_env.parse(
        "{% autoescape false %}{{ sid }}{{ user.first_name }}{{ row.notes|e }}{% endautoescape %}"
    )
    printed = set().union(*(_names_printed(e) for e in _unescaped_outputs(tree)))
    assert printed - TYPED == {"user.first_name"}
