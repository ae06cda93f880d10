"""Validate the Bicep in ``infra/`` without the Bicep CLI (which cannot be installed here).

Three steps, each of which must pass:

1. Every ``.bicep`` file parses with pycep-parser 0.7.1 (the project venv); every module call
   passes only parameters the module declares and every parameter it requires, and reads only
   outputs it declares (what the Bicep CLI would reject); every ``.bicepparam`` file names an
   existing template (``using``) and only parameters it declares.
2. checkov (in its own venv, ``.checkov-venv``, built from ``infra/checkov-requirements.txt``
   because it pins an older pycep-parser) scans the folder with ``--framework bicep -o json``.
   checkov exits 0 on files it cannot parse, so its JSON is read instead: any entry in
   ``parsing_errors`` is a failure, and so is a report that scanned no resource at all while
   pycep-parser found some (checkov silently read nothing).
3. Every failed checkov check must be listed with a written reason in
   ``infra/checkov-suppressions.json``; an entry that matches nothing is stale and fails too.

Run: ``.venv/bin/python scripts/infra_check.py`` (exit code 0 = clean; a summary is printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import venv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
SUPPRESSIONS = INFRA / "checkov-suppressions.json"
CHECKOV_REQUIREMENTS = INFRA / "checkov-requirements.txt"
CHECKOV_VENV = ROOT / ".checkov-venv"
MIN_REASON_CHARS = 20
CHECKOV_TIMEOUT_SECONDS = 600

_USING = re.compile(r"^\s*using\s+'([^']+)'", re.MULTILINE)
_PARAM = re.compile(r"^\s*param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One reason the check fails."""

    step: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"[{self.step}] {self.file}: {self.message}"


@dataclasses.dataclass(frozen=True, slots=True)
class Suppressions:
    """Accepted checkov findings and files checkov is not asked to parse."""

    unparsable: dict[str, str]
    checks: list[dict[str, str]]

    @classmethod
    def load(cls, path: Path) -> tuple[Suppressions, list[Problem]]:
        data = json.loads(path.read_text(encoding="utf-8"))
        problems: list[Problem] = []
        unparsable: dict[str, str] = {}
        for entry in data.get("unparsable_files", []):
            unparsable[entry.get("path", "")] = entry.get("reason", "")
        checks = [dict(entry) for entry in data.get("checks", [])]
        for entry in [*data.get("unparsable_files", []), *checks]:
            label = entry.get("id") or entry.get("path") or "(entry without id/path)"
            if len(str(entry.get("reason", "")).strip()) < MIN_REASON_CHARS:
                problems.append(Problem("suppressions", path.name,
                                        f"{label}: give a written reason (at least {MIN_REASON_CHARS} characters)"))
            if not (entry.get("id") or entry.get("path")):
                problems.append(Problem("suppressions", path.name, f"{label}: needs 'id' (check) or 'path' (file)"))
        return cls(unparsable, checks), problems

    def matches(self, check_id: str, rel_file: str) -> dict[str, str] | None:
        for entry in self.checks:
            if entry.get("id") == check_id and entry.get("file", rel_file) == rel_file:
                return entry
        return None


# ------------------------------------------------------------------ step 1: pycep parse


def bicep_files(infra: Path) -> list[Path]:
    return sorted(infra.rglob("*.bicep"))


def parse_bicep(paths: Iterable[Path]) -> tuple[dict[Path, dict[str, Any]], list[Problem]]:
    """Parse each file with pycep-parser; return the parsed JSON per file and the failures."""
    from pycep import BicepParser  # the project venv has pycep-parser 0.7.1

    parser = BicepParser()
    parsed: dict[Path, dict[str, Any]] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            parsed[path] = parser.parse(file_path=path)
        except Exception as exc:  # lark raises several unrelated exception types
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(Problem("parse", str(path), first_line))
    return parsed, problems


def check_bicepparam(path: Path) -> list[Problem]:
    """A .bicepparam must point at an existing template, set only parameters it declares, and set
    every parameter it requires (secure ones may come from the command line instead)."""
    from pycep import BicepParser

    text = path.read_text(encoding="utf-8")
    using = _USING.search(text)
    if using is None:
        return [Problem("bicepparam", str(path), "no `using '<template>.bicep'` line")]
    template = (path.parent / using.group(1)).resolve()
    if not template.is_file():
        return [Problem("bicepparam", str(path), f"template {using.group(1)} does not exist")]
    try:
        declared = BicepParser().parse(file_path=template).get("parameters", {}) or {}
    except Exception as exc:  # reported by the parse step as well
        return [Problem("bicepparam", str(path), f"template {using.group(1)} does not parse: {type(exc).__name__}")]
    assigned = set(_PARAM.findall(text))
    problems = [Problem("bicepparam", str(path), f"param {name} is not declared in {using.group(1)}")
                for name in sorted(assigned - set(declared))]
    problems += [Problem("bicepparam", str(path), f"param {name} is required by {using.group(1)} but not set")
                 for name, param in sorted(declared.items())
                 if _required(param) and name not in assigned
                 and not any(d.get("type") == "secure" for d in param.get("decorators", []))]
    return problems


_OUTPUT_REF = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)!?\.outputs\.([A-Za-z_][A-Za-z0-9_]*)")


def _unwrap(config: dict[str, Any]) -> dict[str, Any]:
    """The body of a module or resource declared with ``if (...)`` and/or ``[for ...]``."""
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def _required(param: dict[str, Any]) -> bool:
    return param.get("default") is None and not str(param.get("type", "")).endswith("?")


def check_modules(parsed: dict[Path, dict[str, Any]]) -> list[Problem]:
    """Module calls must match the module: known and required parameters, declared outputs."""
    problems: list[Problem] = []
    for path, tree in parsed.items():
        modules = tree.get("modules", {}) or {}
        for symbol, module in modules.items():
            target = (path.parent / module["detail"]["path"]).resolve()
            if target not in parsed:
                problems.append(Problem("modules", str(path), f"module {symbol}: {module['detail']['path']} "
                                        "is not a parsed .bicep file"))
                continue
            declared = parsed[target].get("parameters", {}) or {}
            passed = set((_unwrap(module["config"]).get("params") or {}).keys())
            for name in sorted(passed - set(declared)):
                problems.append(Problem("modules", str(path), f"module {symbol} passes {name}, which "
                                        f"{target.name} does not declare"))
            for name in sorted(n for n, p in declared.items() if _required(p) and n not in passed):
                problems.append(Problem("modules", str(path), f"module {symbol} does not pass {name}, "
                                        f"which {target.name} requires"))
        text = path.read_text(encoding="utf-8")
        for symbol, output in sorted(set(_OUTPUT_REF.findall(text))):
            if symbol not in modules:
                continue
            target = (path.parent / modules[symbol]["detail"]["path"]).resolve()
            if target in parsed and output not in (parsed[target].get("outputs", {}) or {}):
                problems.append(Problem("modules", str(path), f"{symbol}.outputs.{output}: {target.name} "
                                        "has no such output"))
    return problems


def resource_count(parsed: dict[str, Any]) -> int:
    return len(parsed.get("resources", {}) or {})


# ------------------------------------------------------------------ step 2: checkov


def ensure_checkov(venv_dir: Path = CHECKOV_VENV, requirements: Path = CHECKOV_REQUIREMENTS) -> Path:
    """Create or refresh the checkov venv when the requirements changed; return the checkov path."""
    checkov = venv_dir / "bin" / "checkov"
    stamp = venv_dir / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if checkov.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return checkov
    print(f"infra-check: installing checkov into {venv_dir} (once) ...", flush=True)
    if not (venv_dir / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(venv_dir)
    subprocess.run([str(venv_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(requirements)], check=True)
    stamp.write_text(wanted)
    return checkov


def run_checkov(checkov: Path, directory: Path, skip_paths: Sequence[str]) -> list[dict[str, Any]]:
    """Run checkov on ``directory`` offline; return its JSON reports (one per framework)."""
    command = [str(checkov), "-d", str(directory), "--framework", "bicep", "-o", "json", "--skip-download",
               "--compact"]
    for skip in skip_paths:
        command += ["--skip-path", skip]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=CHECKOV_TIMEOUT_SECONDS,
                            check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return decode_checkov_output(result.stdout)


def decode_checkov_output(stdout: str) -> list[dict[str, Any]]:
    text = stdout.strip()
    if not text:
        return []
    data = json.loads(text)
    if isinstance(data, dict) and "check_type" not in data and "passed" in data:
        # checkov prints a bare summary when it found nothing to scan
        return []
    return data if isinstance(data, list) else [data]


def _relative(file_path: str, base: Path) -> str:
    """checkov reports '/modules/x.bicep' (relative to -d) or an absolute path; normalise to 'modules/x.bicep'."""
    path = Path(file_path)
    if path.is_absolute() and path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return file_path.lstrip("/")


def evaluate_checkov(reports: list[dict[str, Any]], base: Path, expected_resources: int,
                     suppressions: Suppressions) -> tuple[list[Problem], dict[str, int]]:
    """Problems in checkov's reports: parse errors, nothing scanned, unsuppressed and stale findings."""
    problems: list[Problem] = []
    used: set[int] = set()
    counts = {"passed": 0, "failed": 0, "suppressed": 0, "parsing_errors": 0, "resources": 0}
    for report in reports:
        results = report.get("results", {})
        summary = report.get("summary", {})
        counts["resources"] += int(summary.get("resource_count", 0))
        if int(summary.get("parsing_errors", 0)) > len(results.get("parsing_errors", [])):
            problems.append(Problem("checkov", str(base), f"checkov counted {summary['parsing_errors']} parse "
                                    "error(s) without naming the files"))
        for error_file in results.get("parsing_errors", []):
            counts["parsing_errors"] += 1
            problems.append(Problem("checkov", _relative(error_file, base),
                                    "checkov could not parse this file (it would silently skip every check)"))
        counts["passed"] += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            rel = _relative(check["file_path"], base)
            entry = suppressions.matches(check["check_id"], rel)
            if entry is None:
                counts["failed"] += 1
                problems.append(Problem("checkov", rel, f"{check['check_id']} {check.get('check_name', '')} "
                                        f"({check.get('resource', '?')}): fix it or add it to "
                                        f"{SUPPRESSIONS.name} with a reason"))
            else:
                counts["suppressed"] += 1
                used.add(id(entry))
    if expected_resources and not counts["resources"]:
        problems.append(Problem("checkov", str(base), f"checkov scanned no resource although the templates "
                                f"declare {expected_resources}: it read nothing"))
    for entry in suppressions.checks:
        if id(entry) not in used:
            problems.append(Problem("suppressions", entry.get("file", "*"),
                                    f"{entry.get('id')} no longer fails: remove the stale suppression"))
    return problems, counts


# ------------------------------------------------------------------ driver


def run(infra: Path = INFRA, suppressions_path: Path = SUPPRESSIONS, *, use_checkov: bool = True,
        venv_dir: Path = CHECKOV_VENV) -> tuple[list[Problem], list[str]]:
    """Run every step; return the problems and the summary lines."""
    summary: list[str] = []
    files = bicep_files(infra)
    parsed, problems = parse_bicep(files)
    summary.append(f"pycep-parser: {len(parsed)}/{len(files)} .bicep files parse")
    module_problems = check_modules(parsed)
    problems += module_problems
    calls = sum(len(tree.get("modules", {}) or {}) for tree in parsed.values())
    summary.append(f"modules: {calls} module call(s) checked against their parameters and outputs, "
                   f"{len(module_problems)} problem(s)")
    params = sorted(infra.rglob("*.bicepparam"))
    for path in params:
        problems += check_bicepparam(path)
    summary.append(f"bicepparam: {len(params)} file(s) checked")
    if not use_checkov:
        return problems, summary
    suppressions, suppression_problems = Suppressions.load(suppressions_path)
    problems += suppression_problems
    for rel in suppressions.unparsable:
        if not (infra / rel).is_file():
            problems.append(Problem("suppressions", rel, "listed as unparsable but does not exist"))
    expected = sum(resource_count(tree) for path, tree in parsed.items()
                   if path.relative_to(infra).as_posix() not in suppressions.unparsable)
    try:
        checkov = ensure_checkov(venv_dir)
        reports = run_checkov(checkov, infra, [str(infra / rel) for rel in suppressions.unparsable])
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        problems.append(Problem("checkov", str(venv_dir), f"could not run checkov: {exc}"))
        return problems, summary
    checkov_problems, counts = evaluate_checkov(reports, infra, expected, suppressions)
    problems += checkov_problems
    summary.append(f"checkov: {counts['passed']} passed, {counts['failed']} failed, {counts['suppressed']} "
                   f"suppressed with a reason, {counts['parsing_errors']} parse errors, "
                   f"{len(suppressions.unparsable)} file(s) excluded as unparsable by checkov")
    return problems, summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--infra", type=Path, default=INFRA, help="folder with the Bicep files (default: infra/)")
    parser.add_argument("--suppressions", type=Path, default=None,
                        help="checkov suppression file (default: <infra>/checkov-suppressions.json)")
    parser.add_argument("--no-checkov", action="store_true", help="only the pycep-parser and bicepparam steps")
    args = parser.parse_args(argv)
    infra = args.infra.resolve()
    suppressions = args.suppressions or infra / SUPPRESSIONS.name
    if not suppressions.exists():
        suppressions = SUPPRESSIONS
    problems, summary = run(infra, suppressions, use_checkov=not args.no_checkov)
    for line in summary:
        print(f"infra-check: {line}")
    for problem in problems:
        print(f"infra-check: FAIL {problem}")
    print(f"infra-check: {'FAILED' if problems else 'passed'} ({len(problems)} problem(s))")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
