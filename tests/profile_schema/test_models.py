"""The definitions profile_schema.models holds for the whole package."""

from __future__ import annotations

import ast
from pathlib import Path

import profile_schema
from profile_schema import cache, ddl, models, validation
from profile_schema.services import checks


def assigned_in(path: Path, name: str) -> bool:
    """Whether the module at PATH assigns NAME at its top level."""
    tree = ast.parse(path.read_text())
    targets = [
        target
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    ]
    return any(isinstance(target, ast.Name) and target.id == name for target in targets)


def test_the_profile_prefix_is_defined_once_in_the_models_and_imported_elsewhere() -> None:
    package = Path(profile_schema.__file__).parent
    defining = [
        str(path.relative_to(package.parent))
        for path in sorted(package.rglob("*.py"))
        if assigned_in(path, "PROFILE_PREFIX")
    ]

    assert defining == ["profile_schema/models.py"]
    assert models.PROFILE_PREFIX == "profile."
    users = [ddl, cache, validation, checks]
    assert all(module.PROFILE_PREFIX is models.PROFILE_PREFIX for module in users)
