"""Graph's failures → `ProviderError` kinds (reference §1.10, §1.11).

Graph's error body is `{"error": {"code", "message", "innerError"}}`; we branch on the status
and the code, never on the message, except for MailboxConcurrency, which Graph only names
in the message of an `ApplicationThrottled` error.
"""

from __future__ import annotations

import requests

from mailferry import metrics
from mailferry.microsoft_identity import RECONNECT_FIX, parse_retry_after
from mailferry.provider_errors import ErrorKind, ProviderError

PROVIDER = "microsoft"

_THROTTLED = {"applicationthrottled", "mailboxconcurrency", "activitylimitreached", "servicenotavailable",
              "toomanyrequests", "throttled"}
_AUTH = {"invalidauthenticationtoken", "unauthenticated"}
_DENIED = {"erroraccessdenied", "accessdenied", "authorization_requestdenied"}
_NOT_FOUND = {"erroritemnotfound", "itemnotfound", "resourcenotfound", "errorinvaliduser", "mailboxnotenabledforrestapi"}
_CURSOR = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}

DENIED_FIX = (
    "Microsoft 365 refused access to this mailbox: the Mail.ReadWrite permission was withdrawn "
    "or an Exchange policy blocks the app. Sign in with Microsoft again from My Settings → "
    "Connections; if it keeps failing, an administrator must grant the permission."
)
# Exchange Online names its application access policies ("[RAOP]", "AppOnly AccessPolicy")
# when one keeps app-only access out of a mailbox (reference wave2 §7.7). Signing in again
# cannot help: an Exchange administrator must put the mailbox in the policy's scope. The run
# backs off and tries again (policy changes take 30–60 minutes to apply).
POLICY_FIX = (
    "An Exchange Online application access policy blocks Mailferry's app-only access to this "
    "mailbox (Graph 403 ErrorAccessDenied: \"Blocked by tenant configured AppOnly AccessPolicy "
    "settings\"). Signing in again will not help. An Exchange administrator must add the mailbox "
    "to the policy's scope group (Get-ApplicationAccessPolicy; Test-ApplicationAccessPolicy "
    "-Identity <mailbox> -AppId <Mailferry's client id>), or, with RBAC for Applications, give "
    "the app a role on it (New-ManagementRoleAssignment -App <service principal> -Role "
    "\"Application Mail.ReadWrite\" -CustomResourceScope <scope that includes the mailbox>). "
    "Changes take 30 to 60 minutes to apply; syncing resumes by itself."
)
_POLICY_MARKERS = ("[raop]", "accesspolicy", "access policy")


def error_from_response(response: requests.Response) -> ProviderError:
    """The ProviderError for a non-2xx Graph answer."""
    code, message = _code_and_message(response)
    return classify(response.status_code, code, message, response.headers.get("Retry-After"))


def classify(status: int, code: str, message: str, retry_after_header: str | None) -> ProviderError:
    """Status + Graph error code (+ Retry-After) → ProviderError; also used for `$batch` parts."""
    lowered = code.lower()
    retry_after = parse_retry_after(retry_after_header)
    text = f"Graph {status} {code}: {message}".strip()
    if status == 429 or status in (503, 504) or lowered in _THROTTLED or "mailboxconcurrency" in message.lower():
        metrics.graph_throttled(status, retry_after)  # every throttled answer, $batch parts too, passes here
        return ProviderError(ErrorKind.TEMPORARY, PROVIDER, text, code=code, status=status, retry_after=retry_after)
    if status == 401 or lowered in _AUTH:
        return ProviderError(ErrorKind.AUTH, PROVIDER, RECONNECT_FIX, code=code, status=status)
    if status == 403 and lowered in _DENIED and any(marker in message.lower() for marker in _POLICY_MARKERS):
        return ProviderError(ErrorKind.SETUP, PROVIDER, POLICY_FIX, code=code, status=status)
    if status == 403 and lowered in _DENIED:
        return ProviderError(ErrorKind.AUTH, PROVIDER, DENIED_FIX, code=code, status=status)
    if status == 410 or lowered in _CURSOR:
        return ProviderError(ErrorKind.CURSOR, PROVIDER, text, code=code, status=status)
    if status == 404 or lowered in _NOT_FOUND:
        return ProviderError(ErrorKind.NOT_FOUND, PROVIDER, text, code=code, status=status)
    if status >= 500:
        return ProviderError(ErrorKind.TEMPORARY, PROVIDER, text, code=code, status=status, retry_after=retry_after)
    return ProviderError(ErrorKind.UNKNOWN, PROVIDER, text, code=code, status=status, retry_after=retry_after)


def error_from_exception(error: requests.RequestException) -> ProviderError:
    """No answer at all (connection refused, TLS failure, timeout): try again later."""
    return ProviderError(ErrorKind.TEMPORARY, PROVIDER, f"Graph unreachable: {type(error).__name__}")


def _code_and_message(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.reason or ""
    return _code_and_message_of(body)


def _code_and_message_of(body) -> tuple[str, str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code") if isinstance(error.get("code"), str) else ""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    return code, message
