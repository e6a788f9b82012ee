"""Fake secrets, generated at test time, in the formats the secret guard must stop.

Nothing here is a literal secret: every value is random and assembled from pieces when a test
runs, so this file passes the guard itself. Each case is ``(id, file name, content)``.
"""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


def rand(n: int, chars: str = ALNUM, seed: int | None = None) -> str:
    """``n`` random characters of ``chars``."""
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    return "".join(rng.choice(chars) for _ in range(n))


def b64url(data: dict) -> str:
    """URL-safe base64 of a JSON object, unpadded (a JWT segment)."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def key_block(kind: str) -> str:
    """A PEM-looking private key block of ``kind`` (``RSA``, ``OPENSSH``, ``EC``, ``PGP``...)."""
    label = f"{kind} PRIVATE KEY BLOCK" if kind == "PGP" else f"{kind} PRIVATE KEY".strip()
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(4))
    return "-----" + "BEGIN " + label + "-----\n" + body + "\n-----" + "END " + label + "-----\n"


def jwt() -> str:
    """A structurally valid JSON Web Token with a random signature."""
    head = b64url({"alg": "HS256", "typ": "JWT"})
    claims = b64url({"sub": rand(10, string.digits), "name": "Ada", "iat": 1700000000})
    return f"{head}.{claims}.{rand(43, ALNUM + '-_')}"


def cases() -> list[tuple[str, str, str]]:
    """Every format of the acceptance list: detect-secrets plugins plus arz's own rules."""
    aws_id = "AK" + "IA" + rand(16, UPPER)
    aws_secret = rand(40, ALNUM + "/+")
    gh = "gh" + "p_"
    return [
        ("aws-key-id", "deploy.sh", f"export AWS_ACCESS_KEY_ID={aws_id}\n"),
        ("aws-secret-quoted", "settings.py", f'aws_secret_key = "{aws_secret}"\n'),
        ("aws-ini-lowercase", "credentials.ini",
         f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n"),
        ("github-classic", "ci.txt", f"token {gh}{rand(36)}\n"),
        ("github-fine-grained", "ci.txt", f"GH={'github' + '_pat_'}{rand(22)}_{rand(59)}\n"),
        ("gitlab", "ci.txt", f"GITLAB={'gl' + 'pat-'}{rand(20, ALNUM + '_-')}\n"),
        ("slack", "notify.txt", f"{'xo' + 'xb-'}{rand(12, string.digits)}-{rand(12, string.digits)}"
         f"-{rand(24)}\n"),
        ("stripe", "pay.py", f"stripe.api_key = '{'sk' + '_live_'}{rand(24)}'\n"),
        ("npm-token", "publish.txt", f"NPM={'np' + 'm_'}{rand(36)}\n"),
        ("npmrc", ".npmrc", f"//registry.npmjs.org/:_authToken={rand(36, HEX + '-')}\n"),
        ("rsa-key", "keys/deploy.txt", key_block("RSA")),
        ("openssh-key", "notes.md", key_block("OPENSSH")),
        ("ec-key", "ec.txt", key_block("EC")),
        ("pgp-key", "backup.asc", key_block("PGP")),
        ("pkcs8-encrypted", "k.txt", key_block("ENCRYPTED")),
        ("jwt", "auth.txt", f"Authorization: Bearer {jwt()}\n"),
        ("basic-auth-url", "db.py", f"DB = 'postgres://admin:{rand(14)}@db.example.org:5432/x'\n"),
        ("keyword-password", "config.py", f'password = "{rand(14)}"\n'),
        ("high-entropy-base64", "blob.py", f'payload = "{rand(48, ALNUM + "+/")}"\n'),
        ("high-entropy-hex", "blob.py", f'client_value = "{rand(48, HEX)}"\n'),
        ("kaggle-json", "conf/kaggle_api.json",
         json.dumps({"username": "ada", "key": rand(32, HEX)}) + "\n"),
        ("kaggle-kgat", "run.sh", f"export KAGGLE_API_TOKEN={'KG' + 'AT_'}{rand(32, HEX)}\n"),
        ("kaggle-key-line", "env.txt", f"KAGGLE_KEY={rand(32, HEX)}\n"),
        ("plus-plus-line", "notes.txt", f"++ {gh}{rand(36)}\n"),
        ("env-style-password", "app.cfg", f"db_password={rand(10)}!{rand(4)}\n"),
    ]  # fmt: skip


NAME_CASES = ["kaggle.json", ".env", "config/.env.production", ".netrc", "données/.netrc",
              "deploy/id_rsa", "id_ed25519", "certs/server.pem", "aws/credentials",
              "my_access_token.txt", ".git-credentials", "client_secret_123.json"]  # fmt: skip
"""File names refused whatever their content."""


def more_cases() -> list[tuple[str, str, str]]:
    """Further formats, beyond the acceptance list, that the guard also stops."""
    notebook = json.dumps({"cells": [{"source": [f'api_key = "{rand(32)}"\n']}]})
    return [
        ("notebook-escaped-quotes", "analysis.ipynb", notebook + "\n"),
        ("bearer-header", "client.txt", f"curl -H 'Authorization: Bearer {rand(40)}' x\n"),
        ("query-token", "links.txt", f"https://api.example.org/v1?access_token={rand(32)}\n"),
        ("connection-string", "app.config",
         f"Server=db;Database=x;User Id=sa;Password={rand(10)};\n"),
        ("yaml-password", "deploy.yml", f"db:\n  password: {rand(12)}\n"),
        ("gcp-service-account", "sa.json", json.dumps(
            {"type": "service_account", "private_key": key_block("").replace("\n", "\\n")})),
        ("huggingface", "train.txt", f"HF={'h' + 'f_'}{rand(34)}\n"),
        ("google-api-key", "maps.txt", f"{'AI' + 'za'}{rand(35, ALNUM + '_-')}\n"),
        ("slack-webhook", "notify.txt", "https://hooks.slack.com/services/"
         f"T{rand(8, UPPER)}/B{rand(8, UPPER)}/{rand(24)}\n"),
        ("sendgrid", "mail.txt", f"{'S' + 'G.'}{rand(22, ALNUM + '_-')}.{rand(43, ALNUM + '_-')}\n"),
        ("bare-token-line", "deploy/token.txt", rand(37, seed=7) + "A1b\n"),
        ("crlf-ini", "app.ini", f"[db]\r\npassword = {rand(12)}\r\nport = 5432\r\n"),
        ("registry-auth-json", "registry.json",
         json.dumps({"auths": {"r.example.org": {"auth": rand(32)}}}, indent=2) + "\n"),
        ("kaggle-key-in-python", "setup_kaggle.py",
         f'os.environ["KAGGLE_KEY"] = "{rand(32, HEX)}"\n'),
        ("pypi-token", "release.txt", f"{'py' + 'pi-'}AgEIcHlwaS5vcmc{rand(60, ALNUM + '_-')}\n"),
    ]  # fmt: skip
