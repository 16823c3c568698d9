"""The Python snippets the docs show run as shown."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snippet(path: Path, after: str) -> str:
    text = path.read_text()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


def test_readme_and_discovery_page_show_the_same_data_to_model_snippet():
    readme = _snippet(ROOT / "README.md", "From data to a model in Python")
    page = _snippet(ROOT / "docs" / "discovery.md", "## From data to a model")
    assert readme == page


def test_data_to_model_snippet_runs_and_finds_the_span(capsys):
    pytest.importorskip("torch_geometric")
    code = _snippet(ROOT / "README.md", "From data to a model in Python")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed >= 0.99  # the README says 0.9982
    J, g = scope["J"], scope["g"]
    J = J.to(g.dtype)
    assert (g.mT @ J @ g - J).abs().max() < 1e-6  # isometric elements keep J
    assert scope["model"].metric().shape == (3, 3)


def test_symmetry_page_snippet_runs():
    code = _snippet(ROOT / "docs" / "symmetry.md", "## From data to a model in one snippet")
    scope: dict = {}
    exec(compile(code, "docs/symmetry.md", "exec"), scope)
    y, x, J = scope["y"], scope["x"], scope["J"]
    norm = lambda v: ((v @ J) * v).sum(-1)
    assert (norm(y) - norm(x)).abs().max() < 1e-8 * norm(x).abs().max()


def test_metric_page_projection_snippet_prints_what_the_page_shows(capsys):
    import torch

    heading = "## Imposing a symmetry known a priori"
    page = ROOT / "docs" / "metric.md"
    code = _snippet(page, heading)
    text = page.read_text()
    start = text.index("```\n", text.index(code) + len(code) + 3) + len("```\n")
    shown = text[start : text.index("```", start)].strip()
    torch.set_printoptions(precision=4, sci_mode=False)
    try:
        exec(compile("import torch\n" + code, "docs/metric.md", "exec"), {})
    finally:
        torch.set_printoptions(profile="default")
    assert capsys.readouterr().out.strip() == shown
