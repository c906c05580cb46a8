"""Print the requirements held to their floors: `make test-lowest` installs them.

pip cannot pick the lowest allowed release, so each floor becomes its release series: `>=2.3`
turns into `==2.3.*`, the floor's own minor at its newest patch (a floor such as 2.3.0 may not
exist, or be yanked). A one-part floor is its `.0` series (`>=7` is `==7.0.*`, not all of 7.x).
Lines without a floor (the pinned check tools) are left out.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# "name[extras]>=low,<cap" -> "name[extras]==low.*"
_FLOOR = re.compile(r"^\s*([A-Za-z0-9._-]+(?:\[[^\]]*\])?)\s*>=\s*([^,;\s]+)")


def floors(text: str) -> list[str]:
    """`name==floor.*` for every requirement with a `>=` floor (comments and -r lines skipped)."""
    pins = []
    for line in text.splitlines():
        found = _FLOOR.match(line.split("#", 1)[0])
        if found:
            low = found[2] if "." in found[2] else f"{found[2]}.0"
            pins.append(f"{found[1]}=={low}.*")
    return pins


def main(paths: list[str]) -> None:
    """Print the floors of the given requirements files, one requirement a line."""
    for path in paths:
        print("\n".join(floors(Path(path).read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main(sys.argv[1:])
