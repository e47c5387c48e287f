"""The layering contract (cryptoviz/testing/layers.py): it holds for the package, and it fails on an
upward import, a service importing another and an import cycle, shown once on purpose."""

from __future__ import annotations

from cryptoviz.testing import layers


def test_the_package_keeps_its_layers_and_has_no_import_cycle():
    assert layers.violations(layers.import_graph()) == []


def test_an_upward_import_a_service_importing_another_and_a_cycle_each_fail(tmp_path):
    pkg = tmp_path / "cryptoviz"
    files = {
        "__init__.py": "",
        "names.py": "",
        "models/__init__.py": "HORIZONS = {}\n",
        # pure code importing a service: upward
        "models/engine.py": "from cryptoviz.scraper import loop\nfrom . import HORIZONS\n",
        "scraper/__init__.py": "",
        "scraper/loop.py": "def f():\n    from cryptoviz.ml import processor  # inside a function: counts\n",
        "ml/__init__.py": "",
        "ml/processor.py": "from cryptoviz import names\nfrom cryptoviz.ml import store\n",
        "ml/store.py": "from ..ml.processor import anything\n",  # relative, and a cycle with processor
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    graph = layers.import_graph(pkg)
    assert graph["cryptoviz.models.engine"] == {"cryptoviz.scraper.loop", "cryptoviz.models"}
    assert graph["cryptoviz.ml.store"] == {"cryptoviz.ml.processor"}
    found = layers.violations(graph)
    assert found == [
        "cryptoviz.models.engine (pure) imports cryptoviz.scraper.loop (services): an upward import",
        "cryptoviz.scraper.loop imports cryptoviz.ml.processor: a service imports another",
        "import cycle: cryptoviz.ml.processor -> cryptoviz.ml.store",
    ]


def test_a_module_in_no_layer_is_named():
    graph = {"cryptoviz.newthing": set(), "cryptoviz.names": set()}
    assert layers.violations(graph) == [
        "cryptoviz.newthing: in no layer (add it to cryptoviz/testing/layers.py)"
    ]
