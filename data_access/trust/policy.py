"""Account settings and the password policy, each configurable, with a 等保 mode.

Every setting comes from an environment variable (table in README, 「账号与会话」). ``BANGFU_DENGBAO=1``
(等保三级, GB/T 22239-2019 §8.1.4.1/§8.1.4.2 身份鉴别) turns the strict ones on: passwords of at least
10 characters from 3 of the 4 classes (lower case, upper case, digits, others), changed every 90
days, none of the last 5 reused, a password set by an admin changed at the first sign-in, and a
TOTP second factor for admin and desk. In 等保 mode a value given by its variable may be stricter
than the mode's, never weaker (the mode is the floor).

Settings are read on every call (no restart needed in tests; cheap).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

ENV_DENGBAO = "BANGFU_DENGBAO"
ENV = {
    "min_length": "BANGFU_PASSWORD_MIN_LENGTH",
    "classes": "BANGFU_PASSWORD_CLASSES",
    "max_age_days": "BANGFU_PASSWORD_MAX_AGE_DAYS",
    "history": "BANGFU_PASSWORD_HISTORY",
    "change_initial": "BANGFU_PASSWORD_CHANGE_INITIAL",
    "idle_minutes": "BANGFU_SESSION_IDLE_MINUTES",
    "lifetime_hours": "BANGFU_SESSION_LIFETIME_HOURS",
    "totp_roles": "BANGFU_TOTP_ROLES",
    "setup_token_minutes": "BANGFU_SETUP_TOKEN_MINUTES",
}

CLASS_NAMES = ("小写字母", "大写字母", "数字", "其他符号")


@dataclass(frozen=True)
class AccountSettings:
    """The account controls in force. 0 means "off" for ``classes``, ``max_age_days`` and ``history``."""

    dengbao: bool = False
    min_length: int = 8
    classes: int = 0
    max_age_days: int = 0
    history: int = 3
    change_initial: bool = False
    idle_minutes: float = 30.0
    lifetime_hours: float = 8.0
    totp_roles: frozenset[str] = frozenset()
    setup_token_minutes: float = 60.0


DEFAULTS = AccountSettings()
DENGBAO = AccountSettings(
    dengbao=True,
    min_length=10,
    classes=3,
    max_age_days=90,
    history=5,
    change_initial=True,
    idle_minutes=30.0,
    lifetime_hours=8.0,
    totp_roles=frozenset({"admin", "desk"}),
    setup_token_minutes=60.0,
)


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _read(name: str, kind):
    raw = os.environ.get(ENV[name], "").strip()
    if not raw:
        return None
    if kind is bool:
        return _flag(raw)
    if kind is frozenset:
        return frozenset(r.strip() for r in raw.split(",") if r.strip() and r.strip().lower() != "none")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"环境变量 {ENV[name]} 的值无效：{raw}") from exc


def account_settings() -> AccountSettings:
    """The settings from the environment; in 等保 mode no value is weaker than the mode's."""
    dengbao = _flag(os.environ.get(ENV_DENGBAO, ""))
    base = DENGBAO if dengbao else DEFAULTS
    given = {
        "min_length": _read("min_length", int),
        "classes": _read("classes", int),
        "max_age_days": _read("max_age_days", int),
        "history": _read("history", int),
        "change_initial": _read("change_initial", bool),
        "idle_minutes": _read("idle_minutes", float),
        "lifetime_hours": _read("lifetime_hours", float),
        "totp_roles": _read("totp_roles", frozenset),
        "setup_token_minutes": _read("setup_token_minutes", float),
    }
    values = {k: (v if v is not None else getattr(base, k)) for k, v in given.items()}
    values["classes"] = min(max(values["classes"], 0), 4)
    values["min_length"] = max(values["min_length"], 1)
    if dengbao:
        # The mode is the floor: stricter given values stand, weaker ones do not.
        values["min_length"] = max(values["min_length"], DENGBAO.min_length)
        values["classes"] = max(values["classes"], DENGBAO.classes)
        age = values["max_age_days"]
        values["max_age_days"] = DENGBAO.max_age_days if age <= 0 else min(age, DENGBAO.max_age_days)
        values["history"] = max(values["history"], DENGBAO.history)
        values["change_initial"] = True
        values["idle_minutes"] = min(values["idle_minutes"], DENGBAO.idle_minutes) or DENGBAO.idle_minutes
        values["lifetime_hours"] = min(values["lifetime_hours"], DENGBAO.lifetime_hours) or DENGBAO.lifetime_hours
        values["totp_roles"] = values["totp_roles"] | DENGBAO.totp_roles
    return AccountSettings(dengbao=dengbao, **values)


def password_classes(password: str) -> int:
    """How many of the four classes (lower, upper, digit, other) the password uses."""
    return sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))


def password_problems(password: str, username: str | None = None, settings: AccountSettings | None = None) -> list[str]:
    """What is wrong with ``password`` under the policy (Chinese, empty when it is acceptable)."""
    s = settings or account_settings()
    problems = []
    if len(password) < s.min_length:
        problems.append(f"密码至少 {s.min_length} 位")
    if s.classes and password_classes(password) < s.classes:
        problems.append(f"密码须包含{'、'.join(CLASS_NAMES)}中的至少 {s.classes} 类")
    if s.dengbao and username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("密码不能包含用户名")
    return problems


def check_password(password: str, username: str | None = None, settings: AccountSettings | None = None) -> None:
    """Raise ValueError (a Chinese message) when ``password`` breaks the policy."""
    problems = password_problems(password, username, settings)
    if problems:
        raise ValueError("；".join(problems))


def policy_in_words(settings: AccountSettings | None = None) -> str:
    """The password policy as the forms state it."""
    s = settings or account_settings()
    parts = [f"至少 {s.min_length} 位"]
    if s.classes:
        parts.append(f"包含大写字母、小写字母、数字、其他符号中的至少 {s.classes} 类")
    if s.history:
        parts.append(f"不能与最近 {s.history} 次使用过的密码相同")
    if s.max_age_days:
        parts.append(f"每 {s.max_age_days} 天须更换")
    return "密码要求：" + "，".join(parts) + "。"
