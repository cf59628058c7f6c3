"""Start the local services that `make run` needs besides the web server."""

import subprocess


def start_local_services(env: dict) -> list[subprocess.Popen]:
    """Returns the started processes. (The ProConnect test provider, mail catcher and scheduler join here.)"""
    return []
