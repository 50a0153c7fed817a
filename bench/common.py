"""What every benchmark prints first: the conditions its figures were measured under."""

from __future__ import annotations

import os
import platform
import subprocess


def conditions() -> str:
    mariadb = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True).stdout.strip() \
        if subprocess.run(["which", "mariadbd"], capture_output=True).returncode == 0 else "/usr/sbin/mariadbd"
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
            f"Python {platform.python_version()}\nmariadb: {mariadb or 'unknown'}\n"
            f"lab time scale: {os.environ.get('RUNBOOK_LAB_TIME_SCALE', '0.01 (default)')}")
