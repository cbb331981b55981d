"""axe-core in a real page: where it is installed, how it is injected, what counts as failing.

Why axe-core (Deque's rules, the engine behind Lighthouse's accessibility audit and
most browser extensions): it checks what a person cannot see by looking (contrast
ratios, names of controls, landmarks, ARIA misuse) the same way every time, and it is
an npm package that `scripts/test-deps` installs under tests/a11y (pinned in its
package.json), like node-smpp for the interop test.

Why `add_init_script` rather than `page.add_script_tag`: a script tag would be inline
script, which the pages' Content-Security-Policy (script-src 'self') refuses, so it
would need `bypass_csp=True`, and then a page broken by its own CSP (an inline style,
say) would look fine here. An init script goes in through the DevTools protocol, which
CSP does not govern: axe runs, and the pages run under their real policy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

A11Y = Path(__file__).resolve().parents[1] / "a11y"
AXE = A11Y / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")  # axe's two worst impacts; "minor"/"moderate" are reported


def why_no_axe() -> str | None:
    """The reason the accessibility check cannot run here, or None when it can."""
    if not AXE.is_file():
        if shutil.which("npm") is None:
            return "npm is not installed: axe-core (tests/a11y/package.json) cannot be installed"
        return ("tests/a11y/node_modules is absent: run scripts/test-deps "
                "(npm ci --prefix tests/a11y) to install axe-core")
    return None


async def add_axe(context: BrowserContext) -> None:
    """Every page this context opens gets axe-core before its own scripts."""
    await context.add_init_script(path=str(AXE))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending elements (the first few)
    summary: str  # axe's "Fix any of the following" for the first element

    def line(self) -> str:
        where = ", ".join(self.targets)
        return f"[{self.impact}] {self.rule}: {self.help} -- at {where}\n        {self.summary}"


_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    rule: v.id, impact: v.impact || "", help: v.help,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
    summary: (v.nodes[0] && v.nodes[0].failureSummary || "").replace(/\\s+/g, " "),
  }));
}"""


async def violations(page: Page) -> list[Violation]:
    """axe-core's violations on the page as it is now (every impact)."""
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return [Violation(v["rule"], v["impact"], v["help"], tuple(v["targets"]), v["summary"])
            for v in found]


def failing(found: list[Violation]) -> list[Violation]:
    return [v for v in found if v.impact in FAILING]
