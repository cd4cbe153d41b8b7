"""`import fpgac` stays light: the compiler's heavy dependencies load only when compiling."""

import subprocess
import sys

HEAVY = ("lark", "networkx", "amaranth")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_fpgac_is_light():
    mods = _loaded_after("import fpgac")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_import_fpgac_runtime_is_light():
    mods = _loaded_after("import fpgac.runtime")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert not {m for m in mods if m.startswith(("fpgac.frontend", "fpgac.ir", "fpgac.passes"))}


def test_handler_module_imports_without_compiling(tmp_path):
    (tmp_path / "h.py").write_text(
        "from fpgac import App, u8\napp = App('h')\n\n@app.post('/f')\n"
        "def f(x: u8) -> u8:\n    return x + 1\n")
    mods = _loaded_after(f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import h")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
