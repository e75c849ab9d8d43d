"""docs/health.md has a "what to try" section for every health monitor that exists, and the
alarm lines it quotes have the shape Alarm.line() prints."""
from __future__ import annotations

import re

from ganrun.health import EVAL_MONITORS, STEP_MONITORS
from ganrun.health.alarms import CONVERGENCE, MODE_COLLAPSE, SEVERITIES
from tests.conftest import REPO

DOC = (REPO / "docs" / "health.md").read_text()
LINE = re.compile(r"^health: (%s) (%s|%s): .+ at (step|epoch) \d+ \[(\w[\w/]*=[^,\]]+(, )?)+\]$"
                  % ("|".join(s.upper() for s in SEVERITIES), CONVERGENCE, MODE_COLLAPSE))


def sections() -> dict[str, str]:
    """Each ``### `Monitor` `` section of the doc, by monitor name."""
    parts = re.split(r"^### `(\w+)`$", DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_monitor_has_a_what_to_try_section():
    names = [m.__name__ for m in (*STEP_MONITORS, *EVAL_MONITORS)]
    found = sections()
    assert [n for n in names if n not in found] == []
    assert [n for n in names if "Try:" not in found[n]] == []


def test_each_section_quotes_alarm_lines_of_its_family():
    for name, text in sections().items():
        quoted = re.findall(r"^health: .*$", text, flags=re.M)
        assert quoted, f"{name}: quote an alarm line"
        family = MODE_COLLAPSE if any(m.__name__ == name for m in EVAL_MONITORS) else CONVERGENCE
        for line in quoted:
            assert LINE.match(line), line
            assert f" {family}: " in line, line
