"""Where the offline models live: the demo model is product code (``helix_agents.models``), the
test models are in ``helix_agents.testing``, which a deployed Worker leaves out. Each check
runs in a fresh interpreter, so that what a module imports shows in ``sys.modules``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from helix_agents.errors import ConfigurationError
from helix_agents.models import DemoModel, infer_model
from helix_agents.models.demo import DemoModel as DemoModelItself
from helix_agents.testing import TestModel

# A Python without helix_agents.testing, as inside a deployed Worker: the package cannot be
# found (what wrangler's `[python_modules] exclude` does to the upload).
_WITHOUT_TESTING = """
import importlib.abc, sys

class _LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "helix_agents.testing" or name.startswith("helix_agents.testing."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _LeftOut())
"""


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TESTING + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_names_resolve_to_their_models() -> None:
    assert DemoModel is DemoModelItself
    assert isinstance(infer_model("demo"), DemoModel)
    assert isinstance(infer_model(" test "), TestModel)


def test_the_examples_run_on_the_demo_model_without_the_testing_package() -> None:
    out = run(
        """
        import asyncio
        from helix_agents.examples import example_registry
        from helix_agents.messages import UserMessage
        from helix_agents.models import infer_model
        from helix_agents.ports.model import ModelRequest, ModelResponse

        registry = example_registry("demo")
        model = infer_model("demo")
        assistant = registry.get("assistant")

        async def main():
            request = ModelRequest(
                system="", messages=[UserMessage(content="what is 12*7?")],
                tools=assistant.tool_definitions(),
            )
            async for event in model.stream(request):
                if isinstance(event, ModelResponse):
                    return [c.name for c in event.tool_calls]

        print(asyncio.run(main()))
        print(sorted(m for m in sys.modules if m.startswith("helix_agents.testing")))
        """
    )
    assert out.splitlines() == ["['calculate']", "[]"]


def test_the_test_model_where_it_is_left_out_is_a_configuration_error() -> None:
    out = run(
        """
        from helix_agents.errors import ConfigurationError
        from helix_agents.models import infer_model

        try:
            infer_model("test")
        except ConfigurationError as exc:
            print(exc)
        """
    )
    assert "model 'test' is the test double helix_agents.testing.TestModel" in out
    assert "set HELIX_MODEL (or the agent's model) to 'demo', 'openai:<model>'" in out


def test_another_missing_module_is_not_disguised(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the absence of helix_agents.testing itself becomes the configuration error: a
    # module that the test models import and that is missing stays the ImportError it is.
    monkeypatch.delitem(sys.modules, "helix_agents.testing.models", raising=False)
    monkeypatch.setitem(sys.modules, "helix_agents.models._assemble", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        infer_model("test")
    assert not isinstance(caught.value, ConfigurationError)
    assert caught.value.name == "helix_agents.models._assemble"
