"""axe-core in the real-Chromium tests: ``assert_accessible(page, label)`` audits the page as
it is now against WCAG 2.1 A and AA and fails with every violation, one readable line each.

axe-core is vendored under ``tests/browser/vendor/axe-core/`` (see its VERSION note): it
belongs to the tests and the app never serves it.

How it gets into a page that forbids it. The pages are served with the strict policy of
``csp_for`` (``script-src 'self'``, nothing inline), so ``page.add_script_tag(content=...)``
would be refused (and reported as a console error, failing the test), and a ``bypass_csp``
context would audit a page under a weaker policy than the real one. Instead the source is
handed to ``page.evaluate``: Playwright evaluates through the DevTools protocol
(``Runtime.evaluate``), which the page's CSP does not govern, so axe is defined in the page's
own world while the page keeps its strict policy for everything it does itself. axe-core
needs no ``eval`` of its own, so nothing it runs afterwards trips the policy either.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: WCAG 2.0 and 2.1, levels A and AA (axe's tag names).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def _axe_source() -> str:
    # Wrapped in a function so Playwright evaluates it as a script body, whatever the
    # minified file's last expression is.
    return "() => {\n" + AXE.read_text(encoding="utf-8") + "\n}"


def _load_axe(page) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())


def axe_violations(page) -> list[dict]:
    """axe's WCAG 2.1 A/AA violations on ``page`` as it is now, each with its nodes."""
    _load_axe(page)
    return page.evaluate(
        """async (tags) => {
              const result = await axe.run(document, {
                  runOnly: {type: 'tag', values: tags},
                  resultTypes: ['violations'],
              });
              return result.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                  nodes: v.nodes.map(n => ({
                      target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t),
                      summary: n.failureSummary || '',
                      html: n.html,
                  })),
              }));
           }""",
        WCAG_TAGS,
    )


#: Elements listed for each violation (the rest are counted): one rule broken in every
#: cell of a roster would otherwise bury the other rules.
NODES_SHOWN = 4


def format_violations(label: str, violations: list[dict]) -> str:
    lines = [f"{label}: {len(violations)} WCAG 2.1 A/AA violation(s)"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        more = len(v["nodes"]) - NODES_SHOWN
        for node in v["nodes"][:NODES_SHOWN]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    at {', '.join(node['target'])}: {node['html'][:160]}")
            if summary:
                lines.append(f"       {summary[:300]}")
        if more > 0:
            lines.append(f"    and {more} more element(s)")
    return "\n".join(lines)


def assert_accessible(page, context_label: str) -> None:
    """No WCAG 2.1 A/AA violation on ``page`` now; otherwise fail listing each (rule id,
    impact, the elements' selectors, what to fix), under ``context_label``."""
    violations = axe_violations(page)
    assert not violations, format_violations(context_label, violations)
