"""Configuration loading: validation, interpolation, error messages and the settings docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import config as cfg
from connector.cli import main
from connector.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "connector.example.yaml"
ENV = {
    "SERVICENOW_PASSWORD": "pw",
    "BOMGAR_CLIENT_ID": "id",
    "BOMGAR_CLIENT_SECRET": "secret",
    "WEBHOOK_TOKEN": "tok",
    "CONNECTOR_API_TOKEN": "api",
}

MINIMAL = """
servicenow:
  instance_url: https://acme.service-now.com
  username: svc
  password: ${SN_PW}
bomgar:
  appliance_url: https://support.example.com
  client_id: id
  client_secret: ${BG_SECRET:-fallback}
webhook:
  token: t
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "connector.yaml"
    path.write_text(text)
    return path


def problems(exc: ConfigError) -> list[str]:
    return [str(p) for p in exc.problems]


def test_example_config_is_valid_with_its_environment():
    """The shipped example validates once its environment variables are set."""
    config = cfg.load(EXAMPLE, env=ENV)
    assert config.servicenow.password == "pw"
    assert config.api.tokens == ("api",)
    assert config.webhook.allowed_networks == ("127.0.0.0/8", "::1/128")


def test_interpolation_and_defaults(tmp_path):
    """${VAR} comes from the environment, ${VAR:-x} falls back, missing keys take defaults."""
    config = cfg.load(write(tmp_path, MINIMAL), env={"SN_PW": "pw"})
    assert config.servicenow.password == "pw"
    assert config.bomgar.client_secret == "fallback"
    assert config.poller.interval_seconds == 300.0
    assert config.servicenow.verify_tls is True


def test_import_threads_follow_the_instance_slots(tmp_path):
    """worker.threads 0 sizes the import threads to the ServiceNow slots plus spares."""
    path = write(tmp_path, MINIMAL)
    assert cfg.load(path, env={"SN_PW": "pw"}).import_threads() == 8 + 4
    text = MINIMAL + "worker:\n  threads: 0\n"
    text = text.replace("password: ${SN_PW}", "password: ${SN_PW}\n  max_concurrent: 3")
    assert cfg.load(write(tmp_path, text), env={"SN_PW": "pw"}).import_threads() == 3 + 4
    text = MINIMAL + "worker:\n  threads: 5\n"
    assert cfg.load(write(tmp_path, text), env={"SN_PW": "pw"}).import_threads() == 5
    with pytest.raises(ConfigError) as info:
        cfg.load(write(tmp_path, MINIMAL + "worker:\n  threads: -1\n"), env={"SN_PW": "pw"})
    assert any("worker.threads" in p for p in problems(info.value))


def test_missing_environment_variable_names_key_and_variable(tmp_path):
    """An unset ${VAR} is an error naming the file, the key and the variable."""
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as info:
        cfg.load(path, env={})
    text = problems(info.value)
    assert text[0] == (
        f"{path}: servicenow.password: expected environment variable SN_PW to be set,"
        " found it unset"
    )


def test_every_problem_is_reported_with_path_expected_and_found(tmp_path):
    """Wrong types, unknown keys and missing values are listed together, each fully named."""
    path = write(
        tmp_path,
        MINIMAL.replace("https://support.example.com", "ftp://nope")
        + "poller:\n  interval_seconds: often\n  intervall: 3\nworker:\n  batch_size: 0\n",
    )
    with pytest.raises(ConfigError) as info:
        cfg.load(path, env={"SN_PW": "x"})
    text = "\n".join(problems(info.value))
    assert f"{path}: bomgar.appliance_url: expected an http(s) URL" in text
    assert "found str 'ftp://nope'" in text
    assert "poller.interval_seconds: expected a number (float), found str 'often'" in text
    assert "poller.intervall: expected one of poller.enabled" in text
    assert "worker.batch_size: expected a number of at least 1, found int 0" in text


def test_required_keys_and_credentials(tmp_path):
    """Missing required keys and missing ServiceNow credentials are errors."""
    with pytest.raises(ConfigError) as info:
        cfg.validate({"servicenow": {"instance_url": "https://x.service-now.com"}}, file="f.yaml")
    text = "\n".join(problems(info.value))
    for key in (
        "bomgar.appliance_url",
        "bomgar.client_id",
        "bomgar.client_secret",
        "webhook.token",
    ):
        assert f"f.yaml: {key}: expected a value (required), found nothing" in text
    assert "servicenow.username: expected servicenow.username and servicenow.password" in text


def test_verify_tls_takes_bool_or_ca_file(tmp_path):
    """verify_tls accepts true, false or an existing CA file, and nothing else."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    base = cfg.load(write(tmp_path, MINIMAL), env={"SN_PW": "x"})
    assert base.bomgar.verify_tls is True
    for value, expected in ((False, False), ("false", False), (str(ca), str(ca))):
        config = cfg.validate({}, overrides={**base.as_values(), "servicenow.verify_tls": value})
        assert config.servicenow.verify_tls == expected
    with pytest.raises(ConfigError, match="existing CA bundle"):
        cfg.validate(
            {}, overrides={**base.as_values(), "servicenow.verify_tls": "/nonexistent/ca.pem"}
        )


def test_yaml_syntax_error_names_the_line(tmp_path):
    """Broken YAML is reported with its line number."""
    path = write(tmp_path, "servicenow:\n  instance_url: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert info.value.problems[0].line is not None
    assert str(path) in str(info.value)


def test_every_setting_is_documented():
    """docs/configuration.md and the example config mention every setting."""
    docs = (ROOT / "docs" / "configuration.md").read_text()
    assert cfg.settings_markdown() in docs, "regenerate the table from connector.config"
    example = EXAMPLE.read_text()
    for setting in cfg.SETTINGS:
        leaf = setting.path.split(".")[-1]
        assert f"{leaf}:" in example, setting.path


def test_redacted_hides_secrets(tmp_path):
    """Secrets never appear in the redacted view used for display."""
    config = cfg.load(EXAMPLE, env=ENV)
    shown = config.redacted()
    assert shown["servicenow.password"] == "***"
    assert shown["bomgar.client_secret"] == "***"
    assert shown["api.tokens"] == ["***"]
    assert "secret" not in str(shown.values())


def test_check_config_command_exit_codes(tmp_path, monkeypatch, capsys):
    """check-config exits 0 on a good file and 2 with the problems on a bad one."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as ok:
        main(["check-config", "--config", str(EXAMPLE)])
    assert ok.value.code == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, "servicenow: {instance_url: nope}\n")
    with pytest.raises(SystemExit) as fail:
        main(["check-config", "--config", str(bad)])
    assert fail.value.code == 2
    assert "servicenow.instance_url: expected an http(s) URL" in capsys.readouterr().err


def test_every_setting_is_a_field_of_the_typed_config():
    """SETTINGS and the typed sections name the same paths (entries' too): none left unread."""
    from connector.config.sections import field_paths
    from connector.config.settings import every_path

    assert sorted(field_paths()) == sorted(every_path())
    assert "bomgar.appliances[].poller.interval_seconds" in field_paths()


APPLIANCES = """
servicenow:
  instance_url: https://acme.service-now.com
  username: svc
  password: pw
bomgar:
  timeout_seconds: 30
  appliances:
    - id: prod-appliance
      appliance_url: https://support.example.com
      client_id: prod-client
      client_secret: ${PROD_SECRET}
      webhook_token: ${PROD_TOKEN}
      poller: {interval_seconds: 60}
    - id: test-appliance
      appliance_url: https://test-support.example.com
      client_id: test-client
      client_secret: test-secret
      timeout_seconds: 10
webhook:
  token: shared-token
"""


def test_a_list_of_appliances_each_with_its_own_keys_and_inherited_defaults(tmp_path):
    """bomgar.appliances entries carry their own id, URL, secrets and poller; the rest inherits."""
    config = cfg.load(write(tmp_path, APPLIANCES), env={"PROD_SECRET": "s1", "PROD_TOKEN": "t1"})
    prod, test = config.appliances
    assert (prod.id, prod.client_secret, prod.webhook_token) == ("prod-appliance", "s1", "t1")
    assert (test.id, test.webhook_token) == ("test-appliance", "shared-token")
    assert (prod.timeout_seconds, test.timeout_seconds) == (30.0, 10.0)
    assert (prod.poller.interval_seconds, test.poller.interval_seconds) == (60.0, 300.0)
    assert config.appliance("test-appliance") is test and config.appliance("") is prod
    assert cfg.validate({}, overrides=config.as_values()) == config
    shown = config.redacted()["bomgar.appliances"]
    assert shown[0]["client_secret"] == "***" and shown[0]["webhook_token"] == "***"
    assert "s1" not in str(shown) and "t1" not in str(shown)


def test_the_single_appliance_keys_are_a_list_of_one(tmp_path):
    """Without bomgar.appliances the bomgar.* keys and webhook.token describe one appliance."""
    config = cfg.load(write(tmp_path, MINIMAL), env={"SN_PW": "pw"})
    (only,) = config.appliances
    assert (only.id, only.webhook_token) == ("", "t")
    assert only.appliance_url == "https://support.example.com"
    assert only.poller == config.poller


def test_appliance_entries_are_checked_each_by_its_index(tmp_path):
    """Each entry's problems name the entry: unknown keys, missing values, ids, tokens, mixing."""
    text = (
        APPLIANCES.replace("id: test-appliance", "id: prod-appliance")
        .replace("      client_id: test-client\n", "      colour: blue\n")
        .replace("  timeout_seconds: 30\n", "  timeout_seconds: 30\n  client_id: stray\n")
    )
    with pytest.raises(ConfigError) as info:
        cfg.load(write(tmp_path, text.replace("  token: shared-token\n", "")), env={})
    text = "\n".join(problems(info.value))
    assert "bomgar.appliances[1].colour: expected one of id, appliance_url" in text
    assert "bomgar.appliances[1].client_id: expected a value (required), found nothing" in text
    assert "bomgar.appliances[1].id: expected 1-64 characters" in text  # a duplicate
    assert "bomgar.appliances[1].webhook_token: expected a value (here or in webhook.token)" in text
    assert "bomgar.client_id: expected nothing while bomgar.appliances lists" in text
    assert "bomgar.appliances[0].client_secret: expected environment variable PROD_SECRET" in text


def test_store_url_and_node_name_are_checked(tmp_path):
    """store.url takes postgresql://, sqlite:/// or a path; node names carry no colon."""
    path = write(tmp_path, MINIMAL + "store:\n  url: mysql://x/y\nworker:\n  node_name: a:b\n")
    with pytest.raises(ConfigError) as info:
        cfg.load(path, env={"SN_PW": "x"})
    text = "\n".join(problems(info.value))
    assert "store.url: expected postgresql://…, sqlite:///PATH or a path" in text
    assert "worker.node_name: expected a name without ':'" in text
    url = "postgresql://connector:${PG_PW}@db.example.com/connector"
    config = cfg.load(
        write(tmp_path, MINIMAL + f"store:\n  url: {url}\n"), env={"SN_PW": "x", "PG_PW": "pg"}
    )
    assert config.store.location() == "postgresql://connector:pg@db.example.com/connector"
