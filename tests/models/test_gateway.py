"""Cloudflare AI Gateway: the URL and headers an OpenAI-compatible model sends through it
(over real HTTP, to the local OpenAI-compatible server laid out as a gateway), the Workers
AI binding's ``gateway`` option, and where the configuration comes from."""

from __future__ import annotations

import pytest

from helix_agents.errors import ConfigurationError
from helix_agents.models import infer_model
from helix_agents.models.gateway import AIGateway, gateway_for, split_model_params
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.models.workers_ai import WorkersAIModel
from helix_agents.testing.workers_ai import AIReply, FakeAIBinding
from tests.models.helpers import ask, collect
from tests.support.openai_server import OpenAIServer, reply_text

pytestmark = pytest.mark.model_requests


def server_root(server: OpenAIServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_an_openai_model_through_the_gateway_from_its_string(
    openai_server: OpenAIServer,
) -> None:
    openai_server.script(reply_text("via the gateway"))
    env = {
        "CF_AI_GATEWAY_URL": server_root(openai_server),
        "CF_AIG_TOKEN": "aig-secret",
        "OPENAI_API_KEY": "test-key",
    }
    model = infer_model("openai:test-model?gateway=acct123/my-gw&cache_ttl=60", env=env)
    assert isinstance(model, OpenAIChatModel)
    assert model.name == "openai:test-model"
    assert model.base_url == f"{server_root(openai_server)}/acct123/my-gw/openai"
    _, response = await collect(model, ask())
    assert response.text == "via the gateway"
    [sent] = openai_server.requests
    assert sent.path == "/acct123/my-gw/openai/chat/completions"
    assert sent.headers["cf-aig-authorization"] == "Bearer aig-secret"
    assert sent.headers["cf-aig-cache-ttl"] == "60"
    assert sent.headers["authorization"] == "Bearer test-key"  # the provider's own key
    assert sent.body["model"] == "test-model"


async def test_the_env_puts_every_model_behind_the_gateway(openai_server: OpenAIServer) -> None:
    env = {
        "CF_AI_GATEWAY": "my-gw",
        "CF_ACCOUNT_ID": "acct9",
        "CF_AI_GATEWAY_URL": server_root(openai_server),
    }
    model = infer_model("openai:gpt-4o-mini?provider=groq", env=env)
    assert isinstance(model, OpenAIChatModel)
    assert model.url == f"{server_root(openai_server)}/acct9/my-gw/groq/chat/completions"
    # A model string may keep itself off the env's gateway.
    plain = infer_model("openai:gpt-4o-mini?gateway=none", env={**env, "OPENAI_API_KEY": "k"})
    assert isinstance(plain, OpenAIChatModel)
    assert plain.base_url == "https://api.openai.com/v1"


async def test_workers_ai_through_the_bindings_gateway_option() -> None:
    binding = FakeAIBinding(AIReply(text="hi"), AIReply(text="again"))
    model = infer_model(
        "workers-ai:@cf/meta/llama-3.1-8b-instruct?gateway=my-gw&skip_cache=true",
        ai_binding=binding,
        env={},
    )
    assert isinstance(model, WorkersAIModel)
    assert model.name == "workers-ai:@cf/meta/llama-3.1-8b-instruct"
    _, response = await collect(model, ask())
    assert response.text == "hi"
    [call] = binding.calls
    assert call.model == "@cf/meta/llama-3.1-8b-instruct"
    assert call.options == {"gateway": {"id": "my-gw", "skipCache": True}}
    # From the env alone (no account id needed for the binding).
    from_env = infer_model("workers-ai:@cf/x", ai_binding=binding, env={"CF_AI_GATEWAY": "gw2"})
    assert isinstance(from_env, WorkersAIModel)
    assert from_env.options == {"gateway": {"id": "gw2"}}


def test_configuration_rules() -> None:
    assert gateway_for({}, {}) is None
    assert split_model_params("gpt-4o?gateway=a/b") == ("gpt-4o", {"gateway": "a/b"})
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        split_model_params("gpt-4o?gatway=a")
    with pytest.raises(ConfigurationError, match="account id"):
        AIGateway("gw").provider_url()
    with pytest.raises(ConfigurationError):
        gateway_for({"gateway": "a/b/c"}, {})
    with pytest.raises(ConfigurationError):
        gateway_for({"gateway": "gw", "cache_ttl": "soon"}, {})
    gw = gateway_for({"gateway": "acct/gw"}, {})
    assert gw is not None
    assert gw.provider_url() == "https://gateway.ai.cloudflare.com/v1/acct/gw/openai"
    assert gw.headers() == {}


def test_the_workers_env_configures_the_gateway() -> None:
    from helix_agents.hosts.cloudflare.models import model_resolver
    from helix_agents.testing.cloudflare.platform import FakeEnv

    ai = FakeAIBinding()
    env = FakeEnv(
        AI=ai,
        CF_AI_GATEWAY="acct7/prod-gw",
        CF_AIG_TOKEN="tok",
        OPENAI_API_KEY="sk",
    )
    resolve = model_resolver(env)
    openai = resolve("openai:gpt-4o-mini")
    assert isinstance(openai, OpenAIChatModel)
    assert (
        openai.url == "https://gateway.ai.cloudflare.com/v1/acct7/prod-gw/openai/chat/completions"
    )
    assert openai._request_headers()["cf-aig-authorization"] == "Bearer tok"
    assert openai._request_headers()["authorization"] == "Bearer sk"
    workers = resolve("workers-ai:@cf/meta/llama-3.1-8b-instruct")
    assert isinstance(workers, WorkersAIModel)
    assert workers.options == {"gateway": {"id": "prod-gw"}}
