import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook._url import parse_webhook_url, redact
from trio_webhook.errors import InvalidWebhookURL

TOKEN = "s3cr3t-T0ken_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        (f"https://discord.com/api/webhooks/123/{TOKEN}", "https://discord.com"),
        (f"https://discordapp.com/api/webhooks/123/{TOKEN}", "https://discordapp.com"),
        (f"https://ptb.discord.com/api/v9/webhooks/123/{TOKEN}", "https://ptb.discord.com"),
        (f"https://canary.discord.com/api/v6/webhooks/123/{TOKEN}/", "https://canary.discord.com"),
        (f"http://127.0.0.1:8443/api/v10/webhooks/123/{TOKEN}", "http://127.0.0.1:8443"),
        (f"http://[::1]:80/api/webhooks/123/{TOKEN}", "http://[::1]:80"),
        (
            f"https://proxy.example/discord/api/webhooks/123/{TOKEN}",
            "https://proxy.example/discord",
        ),
    ],
)
def test_accepted_forms_always_go_to_v10(url: str, base: str) -> None:
    parsed = parse_webhook_url(url)
    assert parsed.base == base
    assert parsed.api_base == base + "/api/v10"
    assert parsed.webhook_id == "123"
    assert parsed.token == TOKEN
    assert parsed.path("/messages/9") == f"/webhooks/123/{TOKEN}/messages/9"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (f"ftp://discord.com/api/webhooks/123/{TOKEN}", "https"),
        (f"http://discord.com/api/webhooks/123/{TOKEN}", "loopback"),
        (f"https://discord.com/api/webhooks/abc/{TOKEN}", "snowflake"),
        (f"https://discord.com/api/webhooks/123/{TOKEN}/extra", "path"),
        (f"https://discord.com/webhooks/123/{TOKEN}", "path"),
        (f"https://user:pw@discord.com/api/webhooks/123/{TOKEN}", "user name"),
        (f"https://discord.com/api/webhooks/123/{TOKEN}%0A", "token"),
        ("https:///api/webhooks/123/x", "host"),
    ],
)
def test_malformed_urls_say_what_is_wrong_without_the_token(url: str, fragment: str) -> None:
    with pytest.raises(InvalidWebhookURL, match=fragment) as info:
        parse_webhook_url(url)
    assert TOKEN not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_repr_and_str_never_show_the_token() -> None:
    parsed = parse_webhook_url(f"https://discord.com/api/webhooks/123/{TOKEN}")
    assert TOKEN not in repr(parsed)
    assert TOKEN not in str(parsed)
    assert str(parsed) == "https://discord.com/api/v10/webhooks/123/***"
    assert parsed.route("POST") == "POST /webhooks/123/***"


@given(
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="/?#\"'<> \t\n\r"), min_size=1)
)
def test_redact_removes_any_token(token: str) -> None:
    text = f"POST https://discord.com/api/v10/webhooks/42/{token}?wait=true failed"
    assert token not in redact(text).split("/webhooks/42/", 1)[1].split("?")[0].replace("***", "")
    assert "/webhooks/42/***" in redact(text)
