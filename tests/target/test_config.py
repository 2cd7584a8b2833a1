from __future__ import annotations

import dataclasses

import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.target.config import (
    DEFAULT_MOCK_PROJECT,
    DEFAULT_MOCK_TOKEN,
    ClientCredentials,
    TargetConfig,
    TargetConfigError,
    resolve_target,
)

TOKEN = "tok-RECOGNISABLE-7f3a9c1e5b"
CLIENT_SECRET = "secret-RECOGNISABLE-2d8e6b4a"
IDP_ENV = {
    "IDP_CLIENT_ID": "app-id",
    "IDP_CLIENT_SECRET": CLIENT_SECRET,
    "IDP_TOKEN_URL": "https://login.example/tenant/oauth2/v2.0/token",
}


def test_no_base_url_means_the_embedded_mock() -> None:
    config = resolve_target(env={})
    assert config == TargetConfig(
        kind="mock", base_url=None, project=DEFAULT_MOCK_PROJECT, token=DEFAULT_MOCK_TOKEN
    )
    assert config.api_root.endswith(f"/api/v1/projects/{DEFAULT_MOCK_PROJECT}")


def test_mock_ignores_live_credentials_in_the_environment() -> None:
    config = resolve_target(env={"CDF_TOKEN": TOKEN, "CDF_PROJECT": "prod", **IDP_ENV})
    assert (config.kind, config.project, config.token) == (
        "mock",
        "wfcontracts",
        DEFAULT_MOCK_TOKEN,
    )


def test_mock_takes_project_and_token_flags() -> None:
    config = resolve_target(project="p1", token="t-local", env={})
    assert (config.kind, config.project, config.token) == ("mock", "p1", "t-local")


def test_base_url_flag_with_token_flag_is_live() -> None:
    config = resolve_target(base_url="https://cdf.example/", project="p", token=TOKEN, env={})
    assert config.kind == "live"
    assert config.api_root == "https://cdf.example/api/v1/projects/p"
    assert config.token == TOKEN and config.client_credentials is None


def test_flags_win_over_the_environment() -> None:
    env = {"CDF_URL": "https://env.example", "CDF_PROJECT": "envp", "CDF_TOKEN": "env-token"}
    config = resolve_target(base_url="https://flag.example", project="flagp", token=TOKEN, env=env)
    assert (config.base_url, config.project, config.token) == (
        "https://flag.example",
        "flagp",
        TOKEN,
    )


def test_environment_alone_describes_a_live_target() -> None:
    env = {"CDF_URL": "http://127.0.0.1:8000", "CDF_PROJECT": "p", "CDF_TOKEN": TOKEN}
    config = resolve_target(env=env)
    assert config.api_root == "http://127.0.0.1:8000/api/v1/projects/p"


def test_cluster_expands_to_the_cognite_url() -> None:
    config = resolve_target(
        env={"CDF_CLUSTER": "westeurope-1", "CDF_PROJECT": "p", "CDF_TOKEN": TOKEN}
    )
    assert config.base_url == "https://westeurope-1.cognitedata.com"


def test_cdf_url_wins_over_cluster() -> None:
    env = {"CDF_URL": "https://a.example", "CDF_CLUSTER": "b", "CDF_PROJECT": "p", "CDF_TOKEN": "t"}
    assert resolve_target(env=env).base_url == "https://a.example"


def test_client_credentials_from_the_environment() -> None:
    env = {**IDP_ENV, "CDF_URL": "https://cdf.example", "CDF_PROJECT": "p", "IDP_SCOPES": "a, b c"}
    config = resolve_target(env=env)
    assert config.token is None
    assert config.client_credentials == ClientCredentials(
        client_id="app-id",
        client_secret=CLIENT_SECRET,
        token_url=IDP_ENV["IDP_TOKEN_URL"],
        scopes=("a", "b", "c"),
    )


def test_scopes_default_to_the_cdf_default_scope() -> None:
    env = {**IDP_ENV, "CDF_URL": "https://cdf.example", "CDF_PROJECT": "p"}
    credentials = resolve_target(env=env).client_credentials
    assert credentials is not None
    assert credentials.scopes == ("https://cdf.example/.default",)


def test_tenant_id_gives_the_entra_token_url() -> None:
    env = {"IDP_CLIENT_ID": "a", "IDP_CLIENT_SECRET": CLIENT_SECRET, "IDP_TENANT_ID": "t-1"}
    config = resolve_target(base_url="https://cdf.example", project="p", env=env)
    assert config.client_credentials is not None
    assert config.client_credentials.token_url == (
        "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    )


def test_a_token_wins_over_client_credentials() -> None:
    env = {**IDP_ENV, "CDF_TOKEN": TOKEN}
    config = resolve_target(base_url="https://cdf.example", project="p", env=env)
    assert config.token == TOKEN and config.client_credentials is None


def test_replay_needs_neither_network_nor_credentials() -> None:
    config = resolve_target(replay=True, env={})
    assert (config.kind, config.base_url, config.project) == ("replay", None, DEFAULT_MOCK_PROJECT)
    recorded = resolve_target(replay=True, base_url="https://cdf.example", project="p", env={})
    assert recorded.api_root == "https://cdf.example/api/v1/projects/p"


def test_repr_never_shows_secrets() -> None:
    live = resolve_target(base_url="https://cdf.example", project="p", token=TOKEN, env={})
    oauth = resolve_target(base_url="https://cdf.example", project="p", env=IDP_ENV)
    assert TOKEN not in repr(live)
    assert CLIENT_SECRET not in repr(oauth)
    assert "app-id" in repr(oauth)


def test_secrets_lists_the_values_to_mask() -> None:
    oauth = resolve_target(base_url="https://cdf.example", project="p", env=IDP_ENV)
    assert oauth.secrets == (CLIENT_SECRET,)


def test_config_is_frozen() -> None:
    config = resolve_target(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.project = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"base_url": "https://cdf.example", "token": TOKEN}, {},
         "no project for the live target https://cdf.example: pass --project or set CDF_PROJECT"),
        ({"base_url": "https://cdf.example", "project": "p"}, {},
         "no credentials for the live target https://cdf.example: pass --token, set CDF_TOKEN, "
         "or set IDP_CLIENT_ID, IDP_CLIENT_SECRET and IDP_TOKEN_URL"),
        ({"base_url": "cdf.example", "project": "p", "token": TOKEN}, {},
         "--base-url must be an http(s) URL with a host, e.g. https://westeurope-1.cognitedata.com"
         " (got 'cdf.example')"),
        ({"project": "p", "token": TOKEN}, {"CDF_URL": "https://"},
         "CDF_URL must be an http(s) URL with a host, e.g. https://westeurope-1.cognitedata.com"
         " (got 'https://')"),
        ({}, {"CDF_CLUSTER": "west europe"},
         "CDF_CLUSTER 'west europe' is not a cluster name (e.g. 'westeurope-1')"),
        ({"base_url": "https://cdf.example", "project": "p"},
         {"IDP_CLIENT_ID": "a", "IDP_CLIENT_SECRET": CLIENT_SECRET},
         "incomplete client credentials: IDP_TOKEN_URL not set (client credentials need "
         "IDP_CLIENT_ID, IDP_CLIENT_SECRET and IDP_TOKEN_URL)"),
        ({"base_url": "https://cdf.example", "project": "p/x", "token": TOKEN}, {},
         "--project 'p/x' is not a valid CDF project name"),
    ],
)  # fmt: skip
def test_errors_are_one_line_without_secrets(
    kwargs: dict[str, str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(TargetConfigError) as caught:
        resolve_target(**kwargs, env=env)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert isinstance(caught.value, WfcontractsError)
    assert TOKEN not in message and CLIENT_SECRET not in message


def test_a_secret_pasted_as_base_url_is_not_echoed_whole() -> None:
    pasted = "x" * 30 + CLIENT_SECRET
    with pytest.raises(TargetConfigError) as caught:
        resolve_target(base_url=pasted, project="p", token=TOKEN, env={})
    assert CLIENT_SECRET not in str(caught.value)


def test_credentials_in_the_base_url_are_refused() -> None:
    with pytest.raises(TargetConfigError, match="must not contain credentials") as caught:
        resolve_target(base_url=f"https://u:{CLIENT_SECRET}@cdf.example", project="p", env={})
    assert CLIENT_SECRET not in str(caught.value)


# -- a base URL pasted as the API root ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://westeurope-1.cognitedata.com/api/v1/projects/ref",
        "https://westeurope-1.cognitedata.com/api/v1/projects/ref/",
        "https://westeurope-1.cognitedata.com/api/v1/projects/ref//",
    ],
)
def test_the_project_is_taken_from_an_api_root_url(url: str) -> None:
    config = resolve_target(base_url=url, token=TOKEN, env={})
    assert config == resolve_target(
        base_url="https://westeurope-1.cognitedata.com", project="ref", token=TOKEN, env={}
    )
    assert config.base_url == "https://westeurope-1.cognitedata.com"
    assert config.api_root == "https://westeurope-1.cognitedata.com/api/v1/projects/ref"


def test_a_loopback_api_root_behaves_exactly_like_base_url_and_project() -> None:
    pasted = resolve_target(
        base_url="http://127.0.0.1:8123/api/v1/projects/ref", token=TOKEN, env={}
    )
    split = resolve_target(base_url="http://127.0.0.1:8123", project="ref", token=TOKEN, env={})
    assert pasted == split
    with_flag = resolve_target(
        base_url="http://127.0.0.1:8123/api/v1/projects/ref/", project="ref", token=TOKEN, env={}
    )
    assert with_flag == split


def test_the_cluster_url_with_or_without_a_slash_is_unchanged() -> None:
    for url in ("https://westeurope-1.cognitedata.com", "https://westeurope-1.cognitedata.com/"):
        config = resolve_target(base_url=url, project="p", token=TOKEN, env={})
        assert config.base_url == "https://westeurope-1.cognitedata.com"


def test_a_proxy_prefix_before_the_api_root_is_kept() -> None:
    config = resolve_target(
        base_url="https://proxy.example/cdf/api/v1/projects/ref", token=TOKEN, env={}
    )
    assert (config.base_url, config.project) == ("https://proxy.example/cdf", "ref")


def test_cdf_url_may_name_the_project_too() -> None:
    env = {"CDF_URL": "https://c.cognitedata.com/api/v1/projects/ref", "CDF_TOKEN": TOKEN}
    config = resolve_target(env=env)
    assert (config.base_url, config.project) == ("https://c.cognitedata.com", "ref")
    agreeing = resolve_target(env={**env, "CDF_PROJECT": "ref"})
    assert agreeing == config


def test_the_base_url_flag_wins_over_cdf_project() -> None:
    config = resolve_target(
        base_url="https://c.cognitedata.com/api/v1/projects/ref",
        token=TOKEN,
        env={"CDF_PROJECT": "other"},
    )
    assert config.project == "ref"


def test_client_credential_scopes_use_the_stripped_url() -> None:
    config = resolve_target(base_url="https://c.cognitedata.com/api/v1/projects/ref", env=IDP_ENV)
    assert config.client_credentials is not None
    assert config.client_credentials.scopes == ("https://c.cognitedata.com/.default",)


def test_replay_takes_the_project_from_the_url_as_well() -> None:
    config = resolve_target(
        replay=True, base_url="https://c.cognitedata.com/api/v1/projects/ref", env={}
    )
    assert (config.kind, config.base_url, config.project) == (
        "replay",
        "https://c.cognitedata.com",
        "ref",
    )


@pytest.mark.parametrize(
    ("kwargs", "env", "message"),
    [
        ({"base_url": "https://c.cognitedata.com/api/v1/projects/ref", "project": "prod"}, {},
         "--base-url names project 'ref' but --project is 'prod': drop one of them or make "
         "them agree"),
        ({}, {"CDF_URL": "https://c.cognitedata.com/api/v1/projects/ref", "CDF_PROJECT": "prod"},
         "CDF_URL names project 'ref' but CDF_PROJECT is 'prod': unset one of them or make "
         "them agree"),
        ({"project": "prod"}, {"CDF_URL": "https://c.cognitedata.com/api/v1/projects/ref"},
         "CDF_URL names project 'ref' but --project is 'prod': drop one of them or make "
         "them agree"),
        ({"base_url": "https://c.cognitedata.com/api/v1/projects/"}, {},
         "--base-url ends in /api/v1/projects without a project: add it, or pass --project"),
        ({"base_url": "https://c.cognitedata.com/api/v1/projects/ref/workflows"}, {},
         "--base-url must be https://<cluster>.cognitedata.com, optionally followed by "
         "/api/v1/projects/<project> (got a URL with the path '/api/v1/projects/ref/workflows')"),
        ({"base_url": "https://c.cognitedata.com/api/v1"}, {},
         "--base-url must be https://<cluster>.cognitedata.com, optionally followed by "
         "/api/v1/projects/<project> (got a URL with the path '/api/v1')"),
        ({"base_url": "https://c.cognitedata.com/api/v1/projects/ref?x=1"}, {},
         "--base-url must be https://<cluster>.cognitedata.com, optionally followed by "
         "/api/v1/projects/<project>, without a query or fragment"),
        ({"base_url": "https://c.cognitedata.com/api/v1/projects/a%20b"}, {},
         "the project in --base-url 'a b' is not a valid CDF project name"),
    ],
)  # fmt: skip
def test_api_root_urls_that_cannot_be_used_are_one_line_hints(
    kwargs: dict[str, str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(TargetConfigError) as caught:
        resolve_target(**kwargs, token=TOKEN, env=env)  # type: ignore[arg-type]
    assert str(caught.value) == message
