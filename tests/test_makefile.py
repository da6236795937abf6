"""The Makefile's .venv and `make test`'s node tools, with the real `make` and bash on throwaway
folders. The Pythons and npm here are stand-ins (small scripts that say their version and log what
they are asked), so the logic is tested in a second rather than by building real virtualenvs; the
real interpreters are CI's (3.11) and README's "Python versions"."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("bash") is None,
    reason="needs make and bash, which `make test` itself needs",
)

FAKE_PYTHON = """#!/usr/bin/env bash
# a stand-in for python{version}: says its version, makes a venv of copies of itself, logs pip
version={version}
log="{log}"
if [ "$1" = -c ]; then echo "$version"; exit 0; fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"; cp "$0" "$3/bin/python"
  printf '#!/usr/bin/env bash\\necho "pip %s $*" >> "%s"\\n' "$version" "$log" > "$3/bin/pip"
  chmod +x "$3/bin/pip"; echo "venv $version" >> "$log"; exit 0
fi
if [ "$1" = -m ] && [ "$2" = pip ]; then echo "pip $version ${{*:3}}" >> "$log"; exit 0; fi
if [ "$1" = -m ] && [ "$2" = compileall ]; then
  echo "compileall $version ${{*:3}}" >> "$log"; exit 0
fi
exit 3
"""


def fake_python(folder: Path, version: str, log: Path) -> Path:
    path = folder / f"python{version}"
    path.write_text(FAKE_PYTHON.format(version=version, log=log))
    path.chmod(0o755)
    return path


def make(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def made_with(venv: Path) -> str:
    result = subprocess.run([venv / "bin" / "python", "-c", ""], capture_output=True, text=True)
    return result.stdout.strip()


def test_a_venv_of_another_python_is_rebuilt_by_itself(tmp_path: Path) -> None:
    log = tmp_path / "log"
    py311, py312 = fake_python(tmp_path, "3.11", log), fake_python(tmp_path, "3.12", log)
    venv = tmp_path / "venv"
    target = venv / ".installed-run"

    first = make(f"VENV={venv}", f"PYTHON={py311}", target)
    assert first.returncode == 0, first.stderr
    assert made_with(venv) == "3.11" and (venv / ".python-3.11").is_file() and target.is_file()
    assert log.read_text().count("venv 3.11") == 1
    # the bot's own modules compiled after the install (a serve would otherwise compile them
    # on every start where PYTHONDONTWRITEBYTECODE is set)
    installed = log.read_text().splitlines()
    assert installed[-1] == "compileall 3.11 -q adapters bot dialogs policy scheduler"
    assert installed[-2].startswith("pip 3.11 install")

    again = make(f"VENV={venv}", f"PYTHON={py311}", target)
    assert again.returncode == 0 and "rebuilding" not in again.stderr
    assert log.read_text().count("venv") == 1  # the same Python: nothing made again

    # `make run PYTHON=python3.12` on a 3.11 .venv: rebuilt, and installed again
    switched = make(f"VENV={venv}", f"PYTHON={py312}", target)
    assert switched.returncode == 0, switched.stderr
    assert "was made with Python 3.11; rebuilding it with" in switched.stderr
    assert made_with(venv) == "3.12"
    assert (venv / ".python-3.12").is_file() and not (venv / ".python-3.11").exists()
    assert "pip 3.12 install --quiet -e .[capture]" in log.read_text()

    # and back, without `make clean`
    back = make(f"VENV={venv}", f"PYTHON={py311}", target)
    assert back.returncode == 0 and made_with(venv) == "3.11"


def test_a_venv_left_by_a_failed_install_is_rebuilt(tmp_path: Path) -> None:
    """The issue's case: a 3.12 .venv whose install failed (no stamps) under a 3.11 `make`."""
    log = tmp_path / "log"
    py311, py312 = fake_python(tmp_path, "3.11", log), fake_python(tmp_path, "3.12", log)
    venv = tmp_path / "venv"
    subprocess.run([py312, "-m", "venv", venv], check=True)
    result = make(f"VENV={venv}", f"PYTHON={py311}", venv / ".installed-test")
    assert result.returncode == 0, result.stderr
    assert "was made with Python 3.12" in result.stderr
    assert made_with(venv) == "3.11"


def test_a_venv_of_the_right_python_is_kept(tmp_path: Path) -> None:
    """A .venv made before the Makefile recorded versions is stamped, not thrown away."""
    log = tmp_path / "log"
    py311 = fake_python(tmp_path, "3.11", log)
    venv = tmp_path / "venv"
    subprocess.run([py311, "-m", "venv", venv], check=True)
    (venv / "kept").write_text("")
    result = make(f"VENV={venv}", f"PYTHON={py311}", venv / ".python-3.11")
    assert result.returncode == 0, result.stderr
    assert (venv / "kept").exists() and "rebuilding" not in result.stderr


def test_a_python_that_does_not_run_is_named(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = make(f"VENV={venv}", f"PYTHON={tmp_path / 'python3.99'}", venv / ".installed-run")
    assert result.returncode != 0
    assert "does not run as Python; set PYTHON to python3.11, 3.12 or 3.13" in result.stderr
    assert not venv.exists()


# ---- make test's node tools ----------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """package.json, package-lock.json and the script, as a fresh clone has them."""
    folder = tmp_path / "clone"
    (folder / "tools").mkdir(parents=True)
    for name in ("package.json", "package-lock.json", "tools/node-tools.sh"):
        shutil.copy2(ROOT / name, folder / name)
    return folder


def node_tools(checkout: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "bash", checkout / "tools" / "node-tools.sh"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
    )


def fake_node_and_npm(folder: Path, log: Path) -> Path:
    """npm that logs and, for `ci`, writes node_modules/.package-lock.json as npm does."""
    folder.mkdir()
    (folder / "node").write_text("#!/usr/bin/env bash\necho v20.0.0\n")
    (folder / "npm").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "npm $*" >> "{log}"\n'
        'if [ "$1" = ci ]; then mkdir -p node_modules; cp package-lock.json'
        " node_modules/.package-lock.json; fi\n"
    )
    for name in ("node", "npm"):
        (folder / name).chmod(0o755)
    return folder


def test_make_test_installs_the_node_tools_first() -> None:
    result = make("-n", "test")
    lines = result.stdout.splitlines()
    script = next(i for i, line in enumerate(lines) if "tools/node-tools.sh" in line)
    pytest_line = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert script < pytest_line


def test_node_tools_run_npm_ci_when_missing_or_stale(checkout: Path, tmp_path: Path) -> None:
    log = tmp_path / "npm.log"
    tools = fake_node_and_npm(tmp_path / "bin", log)

    fresh = node_tools(checkout, tools)  # a fresh clone: no node_modules
    assert fresh.returncode == 0, fresh.stderr
    assert log.read_text().splitlines() == ["npm ci --no-audit --no-fund --loglevel=error"]

    assert node_tools(checkout, tools).returncode == 0  # up to date: not again
    assert len(log.read_text().splitlines()) == 1

    installed = (checkout / "node_modules" / ".package-lock.json").stat().st_mtime
    os.utime(checkout / "package.json", (installed + 10, installed + 10))  # a new dependency
    assert node_tools(checkout, tools).returncode == 0
    assert len(log.read_text().splitlines()) == 2


def test_node_tools_without_node_say_what_will_skip(checkout: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"  # a PATH with the script's own needs and no node or npm
    bare.mkdir()
    for command in ("dirname",):
        found = shutil.which(command)
        assert found is not None
        (bare / command).symlink_to(found)
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, checkout / "tools" / "node-tools.sh"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": str(bare)},
    )
    assert result.returncode == 0, result.stderr
    assert "node or npm is not installed" in result.stderr
    assert not (checkout / "node_modules").exists()
