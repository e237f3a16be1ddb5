"""The public API: every exported name resolves from the package, and importing the
package alone stays cheap (no torch) for the pipeline's stage processes."""

import inspect
import subprocess
import sys

import pytest

import stitchkit


def test_every_exported_name_resolves_to_its_module_object():
    import stitchkit.stitching.trainer

    for name in stitchkit.__all__:
        assert getattr(stitchkit, name) is not None, name
    assert stitchkit.stitch is stitchkit.stitching.trainer.stitch
    assert set(stitchkit.__all__) <= set(dir(stitchkit))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="stitchh"):
        stitchkit.stitchh  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, stitchkit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _public_callables():
    """Every exported function, and every public method of an exported class."""
    for name in stitchkit.__all__:
        value = getattr(stitchkit, name)
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value):
            for attr, member in vars(value).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    yield f"{name}.{attr}", member


def test_every_public_function_has_type_hints():
    missing = []
    for name, function in _public_callables():
        signature = inspect.signature(function)
        unannotated = [
            p.name
            for p in signature.parameters.values()
            if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
        ]
        if unannotated or signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{name}({', '.join(unannotated)})")
    assert not missing, f"public functions without type hints: {missing}"
