"""docs/health.md has a "what to try" section for every health monitor that exists, and the
alarm lines it quotes have the shape Alarm.line() prints."""
from __future__ import annotations

import re

from ganrun.health import BUILTIN_MONITORS
from ganrun.health.alarms import CATEGORIES, SEVERITIES
from tests.conftest import REPO

DOC = (REPO / "docs" / "health.md").read_text()
LINE = re.compile(r"^health: (%s) (%s): .+ at (step|epoch) \d+ \[(\w[\w/]*=[^,\]]+(, )?)+\]$"
                  % ("|".join(s.upper() for s in SEVERITIES), "|".join(CATEGORIES)))
CATEGORY = {m.__name__: m.category for m in BUILTIN_MONITORS}


def sections() -> dict[str, str]:
    """Each ``### `Monitor` `` section of the doc, by monitor name."""
    parts = re.split(r"^### `(\w+)`$", DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_monitor_has_a_what_to_try_section():
    names = list(CATEGORY)
    found = sections()
    assert [n for n in names if n not in found] == []
    assert [n for n in names if "Try:" not in found[n]] == []


def test_each_section_quotes_alarm_lines_of_its_family():
    for name, text in sections().items():
        quoted = re.findall(r"^health: .*$", text, flags=re.M)
        assert quoted, f"{name}: quote an alarm line"
        for line in quoted:
            assert LINE.match(line), line
            assert f" {CATEGORY[name]}: " in line, line
