"""docs/index.md is the docs' entry: it names every recipe, every command and every page,
its links resolve, and README.md and docs/README.md lead to it."""
from __future__ import annotations

import re

from ganrun.cli import COMMANDS
from ganrun.recipe_reference import shipped_registry
from tests.conftest import RECIPES, REPO

DOCS = REPO / "docs"
INDEX = (DOCS / "index.md").read_text()


def test_every_recipe_is_in_the_table():
    rows = [line for line in INDEX.splitlines() if line.startswith("| `")]
    missing = [r.name for r in sorted(RECIPES.glob("*.yaml"))
               if not any(line.startswith(f"| `{r.name}`") for line in rows)]
    assert missing == []


def test_every_command_is_listed():
    commands = [*COMMANDS, *shipped_registry().commands]
    assert [c for c in commands if f"`ganrun {c}" not in INDEX] == []


def test_every_page_is_linked_and_every_link_resolves():
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md", "README.md"}
    linked = set(re.findall(r"\]\(([\w.]+\.md)(?:#[\w-]+)?\)", INDEX))
    assert pages - linked == set()
    for doc in (DOCS / "index.md", DOCS / "README.md", REPO / "README.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name}: {target}"


def test_the_readmes_lead_to_the_index():
    assert "(index.md)" in (DOCS / "README.md").read_text()
    assert "(docs/index.md)" in (REPO / "README.md").read_text()
