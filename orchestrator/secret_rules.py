"""What counts as a secret: file-name rules, ``detect-secrets`` plugins and arz's own content rules.

This module knows nothing about git: :func:`name_rule` judges a raw path, :func:`decode_blob` turns
a blob's bytes into text (UTF-8, UTF-8 with BOM, UTF-16 LE/BE with or without BOM, UTF-32 with BOM;
anything else with NUL bytes is binary), and :func:`scan_text` returns the :class:`Finding` s in it.

Content rules, in order:

* every ``detect-secrets`` plugin but ``IPPublicDetector`` (AWS, Azure, GitHub, GitLab, Slack,
  Stripe, npm, private keys, JWT, basic-auth URLs, PyPI, SendGrid, Twilio, Discord, Telegram, ...),
  the format-specific ones run over the whole text so they are cheap;
* ``KeywordDetector`` and the two high-entropy plugins (base64 above 4.5 bits/char, hex above 3.0
  and at least 32 characters, on lines that do not name a digest/sha/commit) with the
  ``detect-secrets`` heuristic filters, on text files only;
* arz's own rules (:data:`OWN_RULES`) for what ``detect-secrets`` 1.5 misses: Kaggle tokens and
  ``kaggle.json`` keys, fine-grained ``github_pat_`` tokens, bare ``npm_`` tokens and ``.npmrc``
  auth lines, unquoted INI/env assignments such as ``aws_secret_access_key = ...``, encrypted PKCS#8
  and any other ``-----BEGIN ... PRIVATE KEY`` block, Google, Hugging Face, OpenAI, Anthropic,
  PyPI, DigitalOcean, Shopify, Databricks, Grafana keys, bearer headers, tokens in URL queries,
  connection-string passwords, and a line that is nothing but a random-looking token.

Binary content (and text over the size cap) gets the format-specific rules only.

A line carrying ``pragma: allowlist secret`` (the ``detect-secrets`` spelling) is skipped, and so is
the line after one carrying ``pragma: allowlist nextline secret``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

PRAGMA_ANY = re.compile(r"pragma:[ \t]*allowlist[ _-](?:nextline[ _-])?secret")
HEX_MIN_CHARS = 32
KEYWORD_MIN_CHARS = 6
BASE64_LIMIT, HEX_LIMIT = 4.5, 3.0
_SKIPPED_PLUGINS = {"IPPublicDetector"}
_LINE_PLUGINS = {"KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString"}
_SLOW_PLUGINS = {"IbmCloudIamDetector", "CloudantDetector", "IbmCosHmacDetector",
                 "SoftlayerDetector", "ArtifactoryDetector", "MailchimpDetector"}  # fmt: skip
"""Plugins whose patterns try every position; they only see lines with an 11-character run."""
_DENSE_LINE = re.compile(r"^.*[A-Za-z0-9]{11}.*$", re.M)
_KEYWORD_LINE = re.compile(r"(?im)^.*(?:key|pass|pwd|secret|contrase).*$")
_QUOTED_LINE = re.compile(r"(?m)^.*(['\"])[A-Za-z0-9+/=_\-]{20,}\1.*$")
_DIGEST_NAME = re.compile(r"(?i)sha|digest|hash|commit|checksum|tree|etag|uuid|md5|revision|nonce")
_PLACEHOLDERS = {
    "password", "passwd", "pass", "pwd", "secret", "token", "pat", "key", "apikey", "api_key",
    "changeme", "example", "redacted", "user", "username", "xxx", "none", "null", "true", "false",
    "your_token", "yourtoken", "mytoken", "mypassword", "dummy", "fake", "placeholder", "test",
}  # fmt: skip
_PLACEHOLDER_WORDS = re.compile(
    r"^[a-z_\-]*(?:secret|token|passw|pwd|example|dummy|fake|changeme)[a-z_\-]*$"
)  # lower-case words naming what would go there: "ghp_secret", "my-token", "fake_password"
_PLACEHOLDER_SHAPE = re.compile(r"^(?:[x*.#_\-]+|[<{$%].*|.{0,3}|(?:/|~/|\.\.?/).*)$", re.I)
_ENV_NAME = re.compile(r"^[A-Z]+(?:_[A-Z0-9]+)*$")  # an environment variable's name, not its value
_REFERENCE_NAME = re.compile(
    r"(?i)[_.\-](?:file|path|env|var|url|uri|dir|name|type|mode|method|header|id|endpoint|length)$"
)

_NAMES = {
    "kaggle.json": "Kaggle API credentials", ".netrc": "login credentials (.netrc)",
    "_netrc": "login credentials (.netrc)", ".pgpass": "PostgreSQL passwords",
    ".git-credentials": "git credentials", ".pypirc": "package index credentials",
    "credentials": "cloud credentials file", "credentials.json": "cloud credentials",
    ".htpasswd": "password file", ".s3cfg": "S3 credentials", ".boto": "cloud credentials",
    ".dockercfg": "Docker registry credentials", ".envrc": "environment file with credentials",
    "secrets.toml": "secrets file", ".vault-token": "Vault token",
}  # fmt: skip
_SUFFIXES = {
    ".pem": "private key file", ".key": "private key file", ".p12": "key store",
    ".pfx": "key store", ".jks": "key store", ".keystore": "key store",
    ".ppk": "PuTTY private key", ".kdbx": "password database", ".p8": "private key file",
    ".keytab": "Kerberos keys", ".env": "environment file with credentials",
}  # fmt: skip
_SSH_KEYS = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".defaults")

_SECRET_NAME = r"[A-Za-z0-9_.\-]*(?:secret|token|passw(?:or)?d|pwd|api[_\-]?key|access[_\-]?key|private[_\-]?key|auth|credential)[A-Za-z0-9_.\-]*"  # noqa: E501
OWN_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("Kaggle API token", re.compile(r"\bKGAT_[A-Za-z0-9]{16,}")),
    ("Kaggle API key (kaggle.json)", re.compile(r"[\"']key[\"']\s*:\s*[\"']([0-9a-fA-F]{32})[\"']")),  # noqa: E501
    ("Kaggle API key", re.compile(r"(?i)\bKAGGLE_(?:KEY|API_TOKEN|API_KEY|TOKEN)\b[\"'\]]*\s*[:=]\s*[\"']?([A-Za-z0-9_\-]{16,})")),  # noqa: E501
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("npm auth line", re.compile(r"(?m)(?:^|:)_(?:authToken|auth|password)\s*=\s*[\"']?([^\s\"'$]{8,})")),  # noqa: E501
    ("private key block", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS secret access key", re.compile(r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")),  # noqa: E501
    ("AWS session token", re.compile(r"(?i)aws_?session_?token[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{100,})")),  # noqa: E501
    ("GitLab token", re.compile(r"\bgl(?:pat|dt|rt|ft|soat)-[A-Za-z0-9_\-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Stripe key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
    ("Google OAuth client secret", re.compile(r"\bGOCSPX-[0-9A-Za-z_\-]{20,}")),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("OpenAI/Anthropic key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?[A-Za-z0-9_\-]{32,}")),  # noqa: E501
    ("Slack app token or webhook", re.compile(r"\bxapp-[0-9]-[A-Za-z0-9\-]{20,}|hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{16,}")),  # noqa: E501
    ("PyPI token", re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}")),
    ("DigitalOcean token", re.compile(r"\bdo[opr]_v1_[a-f0-9]{64}")),
    ("Shopify token", re.compile(r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}")),
    ("Databricks token", re.compile(r"\bdapi[a-f0-9]{32}")),
    ("Postman or Linear key", re.compile(r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}|\blin_api_[A-Za-z0-9]{40}")),  # noqa: E501
    ("Grafana token", re.compile(r"\bgl(?:c|sa)_[A-Za-z0-9+/=_]{32,}")),
    ("PuTTY private key", re.compile(r"PuTTY-User-Key-File-\d")),
    ("authorization header", re.compile(r"(?i)authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=\-]{16,})")),  # noqa: E501
    ("token in a URL query", re.compile(r"(?i)[?&](?:access_token|api_?key|token|secret|password|client_secret|private_token)=([A-Za-z0-9._~+/%\-]{16,})")),  # noqa: E501
    ("password in a connection string", re.compile(r"(?i)(?:^|[;\s\"'])(?:password|pwd)\s*=\s*([^;\s'\"]{6,})\s*(?:;|$)")),  # noqa: E501
    ("bare high-entropy token", re.compile(r"(?m)^[ \t]*[\"']?([A-Za-z0-9+/_\-]{32,200}={0,2})[\"']?[ \t]*\r?$")),  # noqa: E501
    ("credentials assignment", re.compile(r"(?im)^[ \t]*(?:export[ \t]+)?[\"']?(" + _SECRET_NAME + r")[\"']?[ \t]*[:=][ \t]*[\"']?([^\s\"'#;,]{8,})[\"']?,?[ \t\r]*(?:[#;].*)?$")),  # noqa: E501
]  # fmt: skip
"""arz's own content rules: (rule name, pattern); the secret is the last non-empty group."""
_OWN_HINT = re.compile(
    r"(?i)kgat_|[\"']key[\"']|kaggle_|github_pat_|gh[pousr]_|npm_|_auth|_password|private key|aws|gl[a-z]+-"
    r"|xox|_live_|_test_|aiza|gocspx-|hf_|sk-|secret|token|passw|pwd|api.?key|access.?key|credential"
    r"|pypi-|xapp-|slack|do[opr]_v1_|shp|dapi|pmak-|lin_api_|glc_|glsa_|putty|auth"
)
"""One cheap pass: a text without any of these cannot match an own rule, so none is run."""
_CONFIG_FILE_RULES = {"credentials assignment"}
"""Not applied to code files: there the keyword and entropy plugins judge assignments."""
_CODE_SUFFIXES = {".py", ".pyi", ".js", ".ts", ".java", ".c", ".h", ".cpp", ".rs", ".go", ".rb",
                  ".md", ".rst", ".ipynb", ".html", ".tex"}  # fmt: skip
_GENERIC_RULES = {
    "credentials assignment",
    "npm auth line",
    "authorization header",
    "token in a URL query",
    "password in a connection string",
    "Kaggle API key",
}
"""Own rules keyed on a name rather than a format: their value may be a placeholder."""
_NOT_IN_BINARY = _GENERIC_RULES | {"bare high-entropy token"}
"""Binary files get the format-specific rules only (their printable runs are noise otherwise)."""


@dataclass(frozen=True)
class Finding:
    """One suspected secret in a file.

    Attributes:
        rule: the rule that fired (a ``detect-secrets`` type, an arz rule, or ``file name: ...``).
        line: 1-based line number in the decoded text (0 for a name rule).
        fingerprint: 16 hex digits of sha256 of the whole line, stripped (of ``name:<path>`` for a
            name rule): what the allowlist file names. Every rule firing on one line shares it.
    """

    rule: str
    line: int
    fingerprint: str


def fingerprint(value: str) -> str:
    """The allowlist fingerprint of a line (or of ``name:<path>`` for a name rule)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@lru_cache(maxsize=1)
def rules_version() -> str:
    """12 hex digits identifying these rules and the ``detect-secrets`` version (a blob found clean
    under one version is rescanned under another)."""
    from importlib import metadata
    from pathlib import Path

    source = Path(__file__).read_bytes() + metadata.version("detect-secrets").encode()
    return hashlib.sha256(source).hexdigest()[:12]


def name_rule(path: str) -> str | None:
    """Why the raw path ``path`` names a secret file (``.env``, ``kaggle.json``, ``id_rsa``...), or
    None."""
    name = PurePosixPath(path).name.lower()
    if name in _NAMES:
        return _NAMES[name]
    if name == ".env" or (name.startswith(".env.") and not name.endswith(_ENV_TEMPLATES)):
        return "environment file with credentials"
    if name.startswith(_SSH_KEYS) and not name.endswith(".pub"):
        return "SSH private key"
    if "access_token" in name or name.startswith("client_secret"):
        return "access token file"
    if name == "config.json" and PurePosixPath(path).parent.name.lower() == ".docker":
        return "Docker registry credentials"
    return _SUFFIXES.get(PurePosixPath(name).suffix)


def decode_blob(data: bytes) -> tuple[str, bool]:
    """The text of a blob and whether it is text.

    UTF-32/UTF-16 byte-order marks, UTF-8 with BOM and BOM-less UTF-16 (recognised by its pattern
    of NUL bytes, its printable runs appended in case it is binary after all) are decoded; other
    content with NUL bytes is binary, and the text returned is then its printable ASCII and
    UTF-16 runs (8 characters or more), one per line.
    """
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):  # fmt: skip
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace"), True
    if b"\x00" not in data:
        return data.decode("utf-8", "replace"), True
    runs = _printable_runs(data)
    head = data[:4096]
    even_nul, odd_nul = head[0::2].count(0), head[1::2].count(0)
    half = max(1, len(head) // 2)
    if odd_nul > 0.3 * half and even_nul < 0.05 * half:
        return data.decode("utf-16-le", "replace") + "\n" + runs, True
    if even_nul > 0.3 * half and odd_nul < 0.05 * half:
        return data.decode("utf-16-be", "replace") + "\n" + runs, True
    return runs, False


def _printable_runs(data: bytes) -> str:
    """Printable ASCII runs of 8 characters or more, also in UTF-16 LE and BE, one per line."""
    runs = re.findall(rb"[\x20-\x7e\t]{8,}", data)
    runs += [r.replace(b"\x00", b"") for r in re.findall(rb"(?:[\x20-\x7e]\x00){8,}", data)]
    runs += [r.replace(b"\x00", b"") for r in re.findall(rb"(?:\x00[\x20-\x7e]){8,}", data)]
    return b"\n".join(runs).decode("ascii", "replace")


def scan_text(path: str, text: str, is_text: bool = True) -> list[Finding]:
    """The suspected secrets in ``text`` (the content of the file at raw path ``path``), lines
    carrying the allow pragma left out; binary content gets the format-specific rules only."""
    allowed = _pragma_lines(text)
    lines = text.split("\n")
    found: dict[tuple[str, int], Finding] = {}

    def add(rule: str, line: int, _secret: str) -> None:
        if line not in allowed and 0 < line <= len(lines):
            found.setdefault(
                (rule, line),
                Finding(rule, line if is_text else 0, fingerprint(lines[line - 1].strip())),
            )

    dense = "\n".join(_DENSE_LINE.findall(text))
    for name, plugin in _plugins().items():
        if name in _LINE_PLUGINS or (not is_text and name == "BasicAuthDetector"):
            continue
        for secret in set(plugin.analyze_string(dense if name in _SLOW_PLUGINS else text)):
            if name == "BasicAuthDetector" and _is_placeholder(secret, ""):
                continue  # https://user:TOKEN@host in documentation
            for line in _lines_of(text, secret, plugin):
                add(plugin.secret_type, line, secret)
    hinted = bool(_OWN_HINT.search(text))
    for rule, pattern in OWN_RULES:
        if not hinted and rule != "bare high-entropy token":
            continue
        if not is_text and rule in _NOT_IN_BINARY:
            continue
        if rule in _CONFIG_FILE_RULES and PurePosixPath(path).suffix.lower() in _CODE_SUFFIXES:
            continue
        for match in pattern.finditer(text):
            secret = next((g for g in reversed(match.groups()) if g), match.group(0))
            if rule == "bare high-entropy token" and not _is_bare_token(secret, text):
                continue
            if rule == "credentials assignment" and _REFERENCE_NAME.search(match.group(1)):
                continue  # token_file: ..., password_env: ..., client_id: ... name, not hold
            if rule not in _GENERIC_RULES or not _is_placeholder(secret, match.group(0)):
                add(rule, text.count("\n", 0, match.start()) + 1, secret)
    if is_text:
        for rule, number, secret in _line_plugin_hits(path, text):
            add(rule, number, secret)
    return sorted(found.values(), key=lambda f: (f.line, f.rule))


def _pragma_lines(text: str) -> set[int]:
    allowed = set()
    for match in PRAGMA_ANY.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        allowed.add(number + 1 if "nextline" in match.group(0) else number)
    return allowed


def _lines_of(text: str, secret: str, plugin: Any) -> list[int]:
    """The lines where ``plugin`` finds ``secret`` (the value may also appear elsewhere)."""
    lines, start = [], text.find(secret)
    while start >= 0 and secret:
        begin = text.rfind("\n", 0, start) + 1
        end = text.find("\n", start)
        if secret in set(plugin.analyze_string(text[begin : end if end >= 0 else len(text)])):
            lines.append(text.count("\n", 0, start) + 1)
        start = text.find(secret, end if end >= 0 else len(text))
    return lines


def _line_plugin_hits(path: str, text: str) -> list[tuple[str, int, str]]:
    """(rule, line number, secret) found by the keyword and high-entropy plugins, run only on the
    lines that name a keyword or hold a long quoted string (two whole-text passes find them)."""
    from detect_secrets.filters import heuristic

    plugins = _plugins()
    text = text.replace('\\"', '"')  # JSON-escaped quotes (notebooks): same lines, same numbers
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    wanted: dict[int, list[Any]] = {}
    for pattern, names in (
        (_KEYWORD_LINE, ("KeywordDetector",)),
        (_QUOTED_LINE, ("Base64HighEntropyString", "HexHighEntropyString")),
    ):
        for match in pattern.finditer(text):
            number = bisect.bisect_right(starts, match.start())
            wanted.setdefault(number, []).extend(plugins[n] for n in names)
    hits = []
    for number, candidates in sorted(wanted.items()):
        line = text[starts[number - 1] : starts[number] if number < len(starts) else len(text)]
        line = line.rstrip("\r\n")
        for plugin in candidates:
            for potential in plugin.analyze_line(filename=path, line=line, line_number=number):
                secret = potential.secret_value or ""
                if not _filtered(heuristic, plugin, secret, line):
                    hits.append((plugin.secret_type, number, secret))
    return hits


def _filtered(heuristic: Any, plugin: Any, secret: str, line: str) -> bool:
    """The ``detect-secrets`` heuristic filters plus arz's tuning for the noisy plugins."""
    if type(plugin).__name__ == "HexHighEntropyString" and (
        len(secret) < HEX_MIN_CHARS or _DIGEST_NAME.search(line)
    ):
        return True
    if type(plugin).__name__ == "KeywordDetector" and (
        len(secret) < KEYWORD_MIN_CHARS or _is_placeholder(secret, line) or " " in secret.strip()
    ):
        return True  # "password": "the user's password" is prose, not a password
    return (
        heuristic.is_sequential_string(secret) or heuristic.is_potential_uuid(secret)
        or heuristic.is_likely_id_string(secret, line, plugin)
        or heuristic.is_templated_secret(secret) or heuristic.is_prefixed_with_dollar_sign(secret)
        or heuristic.is_indirect_reference(line) or heuristic.is_not_alphanumeric_string(secret)
    )  # fmt: skip


def _is_bare_token(value: str, text: str) -> bool:
    """A line that is only a random-looking token (upper, lower and digits, entropy above
    min(4.5, log2(length) - 1.1) bits/char), in
    a file that is not a certificate or other PEM/base64 armour."""
    if "-----BEGIN" in text or not (
        any(c.isupper() for c in value) and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    ):  # fmt: skip
        return False
    counts = [value.count(c) for c in set(value)]
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    # A string of n characters holds at most log2(n) bits/char: a fixed 4.5 missed ~45 % of random
    # 32-character tokens (median 4.56) and ~2.5 % of 40-character ones, so the bar is
    # log2(n) - 1.1 (below the 0.1 % quantile of random alphanumerics at every length), capped at 4.5.
    return entropy > min(BASE64_LIMIT, math.log2(len(value)) - 1.1)


def _is_placeholder(secret: str, context: str) -> bool:
    """A value that only stands for a secret (``<token>``, ``${TOKEN}``, ``changeme``, ``xxxx``)."""
    value = secret.strip().strip("\"'")
    return (value.lower() in _PLACEHOLDERS or bool(_PLACEHOLDER_SHAPE.match(value))
            or bool(_ENV_NAME.match(value))
            or bool(_PLACEHOLDER_WORDS.match(value))
            or "os.environ" in value or value.startswith(("getenv", "env.", "process.env")))  # fmt: skip


@lru_cache(maxsize=1)
def _plugins() -> dict[str, Any]:
    """One instance of every ``detect-secrets`` plugin arz uses, by class name."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = {}
    for cls in get_mapping_from_secret_type_to_class().values():
        name = cls.__name__
        if name in _SKIPPED_PLUGINS:
            continue
        if name == "Base64HighEntropyString":
            plugins[name] = cls(limit=BASE64_LIMIT)
        elif name == "HexHighEntropyString":
            plugins[name] = cls(limit=HEX_LIMIT)
        else:
            plugins[name] = cls()
    return plugins
