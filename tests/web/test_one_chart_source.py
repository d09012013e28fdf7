"""Issue 11: one chart-options source. Every rate chart (dashboard, class analytics, a
student's history) is drawn by static/js/rate_chart.js from its canvas's data; no other script
builds a chart or repeats its options."""

from __future__ import annotations

import re
from pathlib import Path

import attendance_app

ROOT = Path(attendance_app.__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def test_only_rate_chart_js_builds_charts():
    builders = [p.name for p in SCRIPTS if re.search(r"new\s+Chart\s*\(", p.read_text())]
    assert builders == ["rate_chart.js"]


def test_every_chart_page_uses_the_one_script_and_no_page_has_its_own_options():
    for template in TEMPLATES:
        text = template.read_text()
        if "<canvas" in text:
            assert "data-rate-chart" in text, template
        if "data-rate-chart" in text:
            page = template.parent / template.name.lstrip("_")
            assert "js/rate_chart.js" in text or "js/rate_chart.js" in page.read_text(), template
        assert "aspectRatio" not in text and "scales" not in text, template
