"""Read one pip-audit run (JSON report, stderr, exit status) and say what it means for the build.

Exit status: 0 when nothing unlisted was found or the vulnerability service could not be
reached (it prints "audit skipped: service unreachable" then), 1 on a vulnerability that
scripts/audit-ignore.txt does not list with a reason, 2 when pip-audit failed otherwise.

Usage: audit_verdict.py TARGET REPORT_JSON STDERR_FILE EXIT_STATUS IGNORE_FILE
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What pip-audit prints when it cannot reach PyPI's JSON API or OSV (offline CI, a mirror
# that serves only the package index).
UNREACHABLE = re.compile(
    r"ConnectionError|NameResolutionError|Max retries exceeded|timed out|ConnectTimeout|"
    r"ReadTimeout|Network is unreachable|Connection refused|ServiceError|SSLError|ProxyError"
)
IGNORE_LINE = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]*)\s+#\s*(?P<reason>\S.*)$")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]


def read_ignores(path: Path) -> dict[str, str]:
    """``ID  # reason`` per line; blank lines and ``#`` comments skipped; a missing reason is
    an error (an ignore must say why)."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = IGNORE_LINE.match(line)
        if match is None:
            sys.exit(f"{path}:{number}: expected 'ID  # reason', got {raw!r}")
        ignores[match["id"].upper()] = match["reason"].strip()
    return ignores


def findings(report: dict[str, Any]) -> tuple[list[Finding], int, list[str]]:
    """The vulnerabilities, how many dependencies were looked up, the skip reasons."""
    found: list[Finding] = []
    audited, skipped = 0, []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped.append(str(dep["skip_reason"]))
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            found.append(
                Finding(
                    dep["name"],
                    dep.get("version", "?"),
                    vuln["id"],
                    tuple(vuln.get("aliases", [])),
                    tuple(vuln.get("fix_versions", [])),
                )
            )
    return found, audited, skipped


def verdict(
    target: str, report_file: Path, stderr: str, status: int, ignores: dict[str, str]
) -> int:
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict):
        unreachable = UNREACHABLE.search(stderr)
        if unreachable is not None:
            print(f"audit skipped: service unreachable ({target}: {unreachable.group(0)})")
            return 0
        print(f"audit failed to run ({target}, exit {status}):\n{stderr.strip()[-2000:]}")
        return 2
    found, audited, skipped = findings(report)
    if audited == 0 and skipped:
        # e.g. a mirror that serves project pages but not /pypi/<name>/<version>/json
        print(f"audit skipped: service unreachable ({target}: no dependency could be looked up;")
        print(f"  first reason: {skipped[0]})")
        return 0
    print(f"{target}: {audited} dependencies audited, {len(skipped)} not auditable")
    for reason in skipped:
        print(f"  not audited: {reason}")
    failing = []
    for f in found:
        listed = next((i for i in (f.id, *f.aliases) if i.upper() in ignores), None)
        fixed = ", ".join(f.fixed_in) or "no fix released"
        line = f"{f.package} {f.version}  {f.id} ({', '.join(f.aliases) or '-'})  fixed in: {fixed}"
        if listed is not None:
            print(f"  ignored: {line}  # {ignores[listed.upper()]}")
        else:
            print(f"  VULNERABLE: {line}")
            failing.append(f)
    if failing:
        print(f"{target}: {len(failing)} known vulnerabilities not in scripts/audit-ignore.txt")
        return 1
    print(f"{target}: no known vulnerabilities" + (" (besides the ignored)" if found else ""))
    return 0


def main() -> int:
    target, report, stderr_file, status, ignore_file = sys.argv[1:6]
    stderr = Path(stderr_file).read_text(encoding="utf-8", errors="replace")
    ignores = read_ignores(Path(ignore_file))
    return verdict(target, Path(report), stderr, int(status), ignores)


if __name__ == "__main__":
    sys.exit(main())
