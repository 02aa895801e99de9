"""The import rules of ``scripts/check_imports.py`` hold for the package, and the check
finds a broken rule and a cycle when there is one (so it can fail)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    script = ROOT / "scripts" / "check_imports.py"
    spec = importlib.util.spec_from_file_location("check_imports", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module
    spec.loader.exec_module(module)
    return module


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "adapter"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in {p.parent for p in package.rglob("*.py")} | {package}:
        (folder / "__init__.py").touch()
    return package


def test_the_adapter_package_keeps_every_import_rule() -> None:
    assert _checker().problems(ROOT / "adapter") == []


def test_a_lower_part_importing_the_service_is_named_with_file_and_line(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "service/handlers.py": "X = 1\n",
            "transport/amqp.py": '"""doc"""\n\nfrom adapter.service.handlers import X\n',
        },
    )
    found = _checker().problems(package)
    assert found == [
        f"{package / 'transport/amqp.py'}:3: transport may not import service "
        "(adapter.service.handlers)"
    ]


def test_a_cycle_hidden_under_type_checking_is_still_a_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "service/a.py": "from adapter.service import b\n",
            "service/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from adapter.service.a import thing\n"
            ),
        },
    )
    found = _checker().problems(package)
    assert found == ["import cycle: adapter.service.a <-> adapter.service.b"]


def test_a_part_without_a_rule_is_reported(tmp_path: Path) -> None:
    package = _package(tmp_path, {"newpart/thing.py": "Y = 2\n"})
    found = _checker().problems(package)
    assert any("part 'newpart' has no rule" in line for line in found)
