"""Secrets at rest: provider accounts' settings and merchants' webhook secrets, encrypted with Fernet.

GATEWAY_CREDENTIALS_KEYS holds Fernet keys, comma-separated: the first encrypts, every one decrypts
(`MultiFernet`), so a key is rotated by putting the new one first and dropping the old one once
`gateway accounts rotate` (or a re-save) has re-encrypted what it protected. Without keys, nothing
secret is stored: the gateway refuses instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from gateway.domain.errors import Conflict
from gateway.plugin.settings import ConfigError, Settings

VARIABLE = "GATEWAY_CREDENTIALS_KEYS"


class Vault:
    """Encrypts and decrypts with the configured keys. Its repr shows no key."""

    def __init__(self, keys: list[str]) -> None:
        # cryptography costs a worker 6 MB of RSS (bench/imports.py): only a vault, that is only
        # GATEWAY_CREDENTIALS_KEYS, brings it in.
        from cryptography.fernet import Fernet, MultiFernet

        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError):
            # Which key, never the key: the message reaches logs.
            raise ConfigError(VARIABLE, "each key must be a Fernet key (32 url-safe base64-encoded bytes)") from None

    def __repr__(self) -> str:
        return "Vault(<keys hidden>)"

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigError(VARIABLE, "no key decrypts a stored secret (was a key dropped too soon?)") from None

    def encrypt_settings(self, values: Mapping[str, str]) -> str:
        return self.encrypt(json.dumps(dict(values), sort_keys=True))

    def decrypt_settings(self, token: str) -> dict[str, str]:
        loaded = json.loads(self.decrypt(token))
        assert isinstance(loaded, dict)
        return {str(name): str(value) for name, value in loaded.items()}


def vault(settings: Settings) -> Vault | None:
    """The vault of GATEWAY_CREDENTIALS_KEYS; None when no key is set."""
    keys = settings.names(VARIABLE)
    return Vault(keys) if keys else None


def required_vault(settings: Settings) -> Vault:
    """The vault, or Conflict: a secret is never stored unencrypted."""
    found = vault(settings)
    if found is None:
        raise Conflict(
            "credentials_keys_missing",
            f"{VARIABLE} is not set: secrets are stored encrypted only (generate a key with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`).",
        )
    return found
