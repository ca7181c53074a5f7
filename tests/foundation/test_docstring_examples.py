"""Every ``Example:`` in the package's docstrings runs, so examples cannot drift from the code.

The modules are found by walking the installed package, and each one is its own test case.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import featurestore


def _modules() -> list[str]:
    names = [featurestore.__name__]
    for info in pkgutil.walk_packages(featurestore.__path__, prefix="featurestore."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {module_name}"
