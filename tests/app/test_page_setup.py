"""Every page routed by app.py calls pages.shared.url_notice, which first sends a run that Streamlit's legacy pages/
mode started (a deep link on a fresh server) through app.py's navigation (pages/shared.py, leave_legacy_pages_mode;
tests/e2e/test_cold_start.py opens one link in several sessions at once)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def routed_pages() -> list[Path]:
    return [ROOT / p for p in re.findall(r'st\.Page\(\s*"([^"]+)"', (ROOT / "app.py").read_text())]


def test_app_routes_every_page_file():
    pages = routed_pages()
    assert len(pages) == 7 and all(p.exists() for p in pages)


def test_every_page_calls_url_notice():
    for path in routed_pages():
        calls = [n.func.id for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert "url_notice" in calls, f"{path.name} must call url_notice before its widgets"


def test_url_notice_leaves_the_legacy_mode_first():
    tree = ast.parse((ROOT / "pages" / "shared.py").read_text())
    notice = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "url_notice")
    first = notice.body[1]  # after the docstring
    assert isinstance(first, ast.Expr) and ast.unparse(first) == "leave_legacy_pages_mode()"


def test_importing_shared_runs_nothing():
    """A page module raising (st.rerun) while it is imported is what left other sessions a half-imported module."""
    tree = ast.parse((ROOT / "pages" / "shared.py").read_text())
    assert not [ast.unparse(n) for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
