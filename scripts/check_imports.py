#!/usr/bin/env python3
"""Checks that every module a Swift target imports is declared as a dependency of that target in Package.swift
(a module reached only through another target's dependencies builds today and breaks when that target changes).
Reads `swift package describe --type json`; system modules (Foundation, Glibc, Testing, ...) are ignored."""
import json
import pathlib
import re
import subprocess
import sys

SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Accelerate", "Dispatch",
          "Synchronization", "Testing", "XCTest"}
IMPORT = re.compile(r"^(?:@testable\s+|@_implementationOnly\s+|(?:public|package|internal)\s+)?import\s+(\w+)",
                    re.MULTILINE)


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    described = json.loads(subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=root,
                                          check=True, capture_output=True, text=True).stdout)
    problems = []
    for target in described["targets"]:
        declared = set(target.get("target_dependencies", [])) | set(target.get("product_dependencies", []))
        for source in target.get("sources", []):
            if not source.endswith(".swift"):
                continue
            text = (root / target["path"] / source).read_text(encoding="utf-8")
            for module in IMPORT.findall(text):
                if module not in SYSTEM and module not in declared and module != target["c99name"]:
                    problems.append(f"{target['path']}/{source}: imports {module}, "
                                    f"which target {target['name']} does not declare in Package.swift")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
