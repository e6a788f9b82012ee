"""Remote URLs without credentials: the one place that strips ``user:token@`` before a URL travels.

Every URL that arz writes somewhere (kernel script and its config, registry row, session summary,
log line, error message, doctor report) passes through :func:`strip_credentials` (for a URL that is
*used*, e.g. the one a kernel clones) or :func:`redact_url` / :func:`redact_text` (for a URL that is
*shown*: the userinfo becomes ``***`` so the reader sees that credentials were there). Query
parameters that name a token, key, secret or password lose their value the same way.

An SSH user name (``ssh://git@host/...``, ``git@host:path``) is not a credential and is kept.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

REDACTED = "***"
_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}
_SECRET_QUERY = re.compile(r"(?i)^(?:.*token.*|.*secret.*|.*passw.*|.*key|sig|signature|auth.*)$")
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s'\"<>`]+")
CREDENTIALS_FIX = (
    "remove the credentials from the remote URL (git remote set-url origin "
    "https://<host>/<owner>/<repo>.git) and let git keep them in a credential helper "
    "(git config --global credential.helper store, or your OS keychain); a Kaggle kernel clones "
    "anonymously, so the repository must be public"
)


def _split(url: str) -> SplitResult | None:
    """``urlsplit`` of a scheme URL, or None for a path, an scp-like SSH address or garbage."""
    if "://" not in url:
        return None
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _has_secret_userinfo(parts: SplitResult) -> bool:
    if "@" not in parts.netloc:
        return False
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return parts.scheme.lower() not in _SSH_SCHEMES or ":" in userinfo


def _clean_query(query: str, mark: str) -> str:
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        pairs.append(f"{name}={mark}" if sep and value and _SECRET_QUERY.match(name) else pair)
    return "&".join(pairs)


def _rewrite(url: str, userinfo_mark: str | None, query_mark: str) -> str:
    parts = _split(url)
    if parts is None:
        return url
    netloc = parts.netloc
    if _has_secret_userinfo(parts):
        host = netloc.rsplit("@", 1)[1]
        netloc = host if userinfo_mark is None else f"{userinfo_mark}@{host}"
    query = _clean_query(parts.query, query_mark)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def has_credentials(url: str) -> bool:
    """Whether ``url`` embeds credentials: ``user[:password]@`` on a non-SSH URL (a token is often
    passed as the user name), a password on an SSH URL, or a token-like query parameter."""
    parts = _split(url)
    if parts is None:
        return False
    return _has_secret_userinfo(parts) or _clean_query(parts.query, REDACTED) != parts.query


def strip_credentials(url: str) -> str:
    """``url`` with its userinfo removed and secret query values blanked, for a URL that is used
    (the one a kernel clones): ``https://me:TOKEN@host/r.git`` -> ``https://host/r.git``."""
    return _rewrite(url, None, "")


def redact_url(url: str) -> str:
    """``url`` for display: userinfo and secret query values replaced by ``***``
    (``https://me:TOKEN@host/r.git`` -> ``https://***@host/r.git``)."""
    return _rewrite(url, REDACTED, REDACTED)


def redact_text(text: str) -> str:
    """``text`` (an error message, git's stderr, a log line) with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def remote_credentials_check(url: str | None) -> tuple[bool, str, str]:
    """Whether a Kaggle kernel could clone ``url`` without the credentials embedded in it.

    Returns:
        ``(ok, message, fix)``: ``ok`` is False when the URL embeds credentials (arz never sends
        them to a kernel, and the remote probably only works with them); ``message`` names the
        URL redacted; ``fix`` says what to do ("" when ok).
    """
    if not url or not has_credentials(url):
        return True, f"{redact_url(url or '')} embeds no credentials", ""
    return (
        False,
        f"the git remote {redact_url(url)} embeds credentials in its URL; arz never sends them "
        "to a kernel, so the kernel could not clone a repository that needs them",
        CREDENTIALS_FIX,
    )
