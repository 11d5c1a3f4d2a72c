import subprocess
import sys


def test_cli_prints_version_without_traceback():
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == "0.1.0"


def test_unknown_command_is_one_usage_error():
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "no-such-command"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
