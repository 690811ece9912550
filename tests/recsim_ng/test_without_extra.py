"""What users see about the extra: ``import envs`` never needs it, and a missing package of it
gives an error that names the pip command. Run with or without the extra installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from envs.errors import MissingExtraError
from envs.recsim_ng import compat

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.no_extra_needed


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_importing_envs_and_the_subpackage_loads_no_tensorflow() -> None:
    out = _python(
        "import sys, envs, envs.recsim_ng\n"
        "heavy = sorted(m for m in ('tensorflow', 'recsim_ng', 'edward2', 'gym') if m in sys.modules)\n"
        "print(heavy)"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def first_missing(hidden: str) -> str:
    """The distribution check_installed must name once ``hidden`` is hidden: the first package
    of the extra, in its order, that is hidden or not installed on this machine."""
    for module, distribution in compat.REQUIRED_MODULES:
        if module == hidden or importlib.util.find_spec(module) is None:
            return distribution
    raise AssertionError(f"{hidden!r} is not a module of the extra")


@pytest.mark.parametrize("hidden", ["recsim_ng", "tensorflow"])
def test_missing_package_error_names_the_extra(hidden: str) -> None:
    # A None entry in sys.modules is how Python spells "not installed" to the import system.
    out = _python(
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "from envs.errors import MissingExtraError\n"
        "try:\n"
        "    from envs.recsim_ng import RecSimNGVectorEnv\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'noveltygym[recsim-ng]'" in out.stdout
    assert repr(first_missing(hidden)) in out.stdout


def test_check_installed_raises_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "edward2", None)
    with pytest.raises(MissingExtraError) as info:
        compat.check_installed()
    assert info.value.extra == "recsim-ng"
    assert info.value.package == first_missing("edward2")
