"""Load tests: scripts run by hand against a real server, e.g. ``python -m tests.load.sessions --sessions 20``.

Nothing here is named ``test_*``, so pytest does not collect it; tests/e2e/test_load_smoke.py runs a small one.
"""
