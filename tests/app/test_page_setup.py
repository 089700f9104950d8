"""Every page routed by app.py imports pages.shared first: that import is what sends a deep link on a fresh
server through app.py's navigation (see pages/shared.py, _leave_legacy_pages_mode)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def routed_pages() -> list[Path]:
    return [ROOT / p for p in re.findall(r'st\.Page\(\s*"([^"]+)"', (ROOT / "app.py").read_text())]


def test_app_routes_every_page_file():
    pages = routed_pages()
    assert len(pages) == 7 and all(p.exists() for p in pages)


def test_every_page_imports_shared_before_anything_of_its_own():
    for path in routed_pages():
        tree = ast.parse(path.read_text())
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) for n in imports]
        assert "pages.shared" in names, f"{path.name} must import pages.shared"
        first_statement = next(n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom | ast.Expr))
        shared = imports[names.index("pages.shared")]
        assert shared.lineno < first_statement.lineno, f"{path.name}: import pages.shared before running anything"
