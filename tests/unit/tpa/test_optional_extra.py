"""Without the 3pa extra (python-ldap, scim2) the connector still starts; 3PA says what to do."""

from __future__ import annotations

import subprocess
import sys

BLOCK = (
    "import sys\n"
    "for m in ('ldap', 'scim2_client', 'scim2_models', 'scim2_server'):\n"
    "    sys.modules[m] = None\n"
)


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60
    )


def test_the_app_starts_without_the_extra(tmp_path):
    """create_app and the worker's 3PA hook import nothing of python-ldap or scim2."""
    proc = run(
        "from connector.app import create_app\n"
        "from connector.demo import demo_config\n"
        f"app = create_app(demo_config('http://127.0.0.1:1', 'http://127.0.0.1:2', "
        f"r'{tmp_path / 's.db'}'))\n"
        "from connector.tpa.worker import start\n"
        "print(start(app.extensions['connector'], None)())\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None"


def test_the_3pa_demo_names_the_set_up_step_without_the_extra():
    """connector demo --3pa without python-ldap: a clear message, exit 1, no traceback."""
    proc = run("from connector.cli import main\nmain(['demo', '--3pa'])\n")
    assert proc.returncode == 1
    assert "pip install -e '.[3pa]'" in proc.stderr and "libldap2-dev" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_3pa_demo_names_the_readme_step_without_slapd(monkeypatch):
    """Where slapd is not installed the demo stops with the README's set-up step, not a trace."""
    import pytest

    from connector.demo.tpa import running_tpa_stack
    from connector.errors import ConnectorError
    from connector.sim import slapd

    monkeypatch.setattr(slapd, "find_slapd", lambda: None)
    with pytest.raises(ConnectorError, match="apt-get install slapd") as info, running_tpa_stack():
        pass
    assert "README" in str(info.value)
