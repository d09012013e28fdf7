"""The app's Jinja environment: Flask's, with templates whose globals are a plain dict."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from flask.templating import Environment as FlaskEnvironment


class Environment(FlaskEnvironment):
    """Flask's environment, but a template's globals are a dict made when it is loaded (the
    environment's globals overlaid with the template's own), not Jinja's ChainMap of the two.

    The ChainMap only keeps later changes to the environment's globals visible to templates
    already loaded, which Jinja's documentation says not to make ("avoid modifying any
    globals after a template is loaded", ``Environment.make_globals``); ours are all set
    while the app is built. Every render paid for it in Python calls: copying it into the
    render's context, listing its keys, and comparing them with the imported template's for
    each ``{% from … import … %}`` — ~170 of a roster tap's ~6,000 calls."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}
