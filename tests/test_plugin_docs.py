"""docs/plugins.md's hook reference lists every hook of core/hookspecs.py, of the right kind."""
from __future__ import annotations

import re

from ganrun import PROJECT, hookspecs
from tests.conftest import REPO

DOC = REPO / "docs" / "plugins.md"
ROW = re.compile(r"^\| `(ganrun_\w+)` \| (\w+) \|", re.MULTILINE)


def documented() -> dict[str, str]:
    """hook -> kind, from the table under "## Hook reference"."""
    text = DOC.read_text()
    start = text.index("\n## Hook reference\n")
    end = text.find("\n## ", start + 1)
    return {hook: kind for hook, kind in ROW.findall(text[start:end if end > 0 else None])}


def specified() -> dict[str, str]:
    """hook -> kind, from the hook specs: role (``firstresult``), registration, lifecycle."""
    kinds = {}
    for name in dir(hookspecs):
        opts = getattr(getattr(hookspecs, name), f"{PROJECT}_spec", None)
        if opts is not None:
            kinds[name] = ("role" if opts.get("firstresult") else
                           "registration" if name.startswith("ganrun_register_") else "lifecycle")
    return kinds


def test_every_hook_spec_is_in_the_reference_with_its_kind():
    specs, docs = specified(), documented()
    assert len(specs) > 20  # the specs were found
    missing = sorted(set(specs) - set(docs))
    assert not missing, f"hooks missing from {DOC.name}'s hook reference: {missing}"
    stale = sorted(set(docs) - set(specs))
    assert not stale, f"{DOC.name} documents hooks that do not exist: {stale}"
    wrong = {h: (docs[h], specs[h]) for h in specs if docs[h] != specs[h]}
    assert not wrong, f"documented kind != spec's kind: {wrong}"
